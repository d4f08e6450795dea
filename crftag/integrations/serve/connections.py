"""What one HTTP connection may hold, and for how long; and how it ends when the server stops.

uvicorn's httptools protocol gives an idle keep-alive timeout and nothing else against a slow
or idle client: httptools has no limit on a header's size (an endless header line grows in
memory for as long as the client sends it, starving every other client of the event loop),
and a connection that sends nothing, or part of a request, is held forever (1,100 of them
exhaust the common limit of 1,024 open files). :class:`LimitedHttpProtocol` fills those gaps,
each limit a ``crftag serve`` option (:class:`~crftag.integrations.serve.config.ServeConfig`):

* ``--max-header-bytes``: request line and headers over it get 431, and the connection closes;
* ``--header-timeout``: headers not complete that long after the connection opened, or after a
  request's first byte, get 408 (a connection that sent nothing is closed without a word);
* ``--body-timeout``: a body not complete that long after its headers gets 408;
* ``--keep-alive-timeout``: uvicorn's own idle timeout between requests;
* ``--max-connections``: a connection over the cap closes the one idle the longest (no request
  under way), or, when every one is busy, is closed itself.

Each limit that fires logs one JSON line and counts in ``crftag_connections_closed_total``.

Ending cleanly (SIGTERM, or a worker replaced by a rolling restart): requests already read are
answered with ``Connection: close``; a connection between requests is given ``DRAIN_S`` for a
request already on its way, answered the same way, before it closes. A malformed request after
pipelined ones is refused (400) only once those are answered.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from crftag.integrations.serve.config import ServeConfig, log_event

DRAIN_S = 1.0  # on shutdown, how long a connection between requests waits for one on its way
LINGER_S = 2.0  # after a refusal, how long what the client still sends is read and dropped

REASONS = ("header_too_large", "header_timeout", "body_timeout", "idle_connection", "connection_cap",
           "evicted_idle", "invalid_http")
closed: Counter[str] = Counter()  # this process's connections closed by a limit, by reason
open_connections: set[LimitedHttpProtocol] = set()


class _HeaderTooLarge(Exception):
    """Raised from a parser callback to stop parsing a head that is over the limit."""


class LimitedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the limits above; uvicorn builds one per connection
    (``http=functools.partial(LimitedHttpProtocol, limits=config)``)."""

    def __init__(self, config: Any, server_state: Any, app_state: dict, _loop: Any = None, *,
                 limits: ServeConfig) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.limits = limits
        self._head_bytes = 0  # bytes received since the current head began (an upper bound)
        self._in_head = False  # a request's first byte came, its headers are not complete
        self._in_body = False  # headers complete, body not yet
        self._received = False
        self._idle_since = time.monotonic()
        self._head_timer: Any = None
        self._body_timer: Any = None
        self._drain_timer: Any = None
        self._draining = False
        self._owed: tuple[int, str, str] | None = None  # a refusal waiting for pipelined answers
        self._lingering = False  # refused: input is dropped until the connection closes

    # -- the connection ------------------------------------------------------------------------
    def connection_made(self, transport: Any) -> None:  # type: ignore[override]
        super().connection_made(transport)
        open_connections.add(self)
        self._head_timer = self.loop.call_later(self.limits.header_timeout_s, self._header_timeout)
        if len(self.connections) > self.limits.max_connections:
            idle = [c for c in self.connections if c is not self and isinstance(c, LimitedHttpProtocol)
                    and c._idle() and not c.transport.is_closing()]
            if idle:
                min(idle, key=lambda c: c._idle_since)._close("evicted_idle", "closed to make room for a new "
                                                               "connection (--max-connections)")
            else:
                self._close("connection_cap", f"{self.limits.max_connections} connections open, all "
                            "busy (--max-connections)")

    def connection_lost(self, exc: Exception | None) -> None:
        open_connections.discard(self)
        self._stop_timers()
        super().connection_lost(exc)

    def _stop_timers(self) -> None:
        self._head_timer = _cancel(self._head_timer)
        self._body_timer = _cancel(self._body_timer)
        self._drain_timer = _cancel(self._drain_timer)

    def data_received(self, data: bytes) -> None:
        if self._owed is not None or self._lingering:
            return  # refused (or about to be, once the answers before it are out): not parsed
        self._received = True
        if not self._in_body:
            self._head_bytes += len(data)
        super().data_received(data)
        if (self._in_head and self._head_bytes > self.limits.max_header_bytes
                and not self.transport.is_closing() and self._owed is None):
            self._refuse(431, "header_too_large", f"request headers over {self.limits.max_header_bytes} "
                         "bytes (--max-header-bytes)")

    def _idle(self) -> bool:
        """Between requests: nothing read that is not answered."""
        return not self._in_head and not self._busy()

    def _busy(self) -> bool:
        """A request read and not yet answered, or pipelined ones waiting."""
        return (self.cycle is not None and not self.cycle.response_complete) or bool(self.pipeline)

    # -- the parser's callbacks ----------------------------------------------------------------
    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.limits.header_timeout_s, self._header_timeout)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._head_timer = _cancel(self._head_timer)
        size = len(self.url) + sum(len(n) + len(v) + 4 for n, v in self.headers) + 16
        if size > self.limits.max_header_bytes:
            self._owed = (431, "header_too_large", f"request headers of about {size} bytes; the limit "
                          f"is {self.limits.max_header_bytes} (--max-header-bytes)")
            raise _HeaderTooLarge  # stops the parser; uvicorn then calls send_400_response
        self._head_bytes = 0
        super().on_headers_complete()
        self._in_body = True
        if self._draining and self.cycle is not None:
            self.cycle.keep_alive = False  # the last request this connection gets answered
        self._body_timer = self.loop.call_later(self.limits.body_timeout_s, self._body_timeout)

    def on_message_complete(self) -> None:
        self._in_body = False
        self._body_timer = _cancel(self._body_timer)
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._idle_since = time.monotonic()
        if self.transport.is_closing() or self._busy():
            return
        if self._owed is not None:  # the pipelined requests before it are answered: now the refusal
            self._unset_keepalive_if_required()
            self._write_refusal(*self._owed)
        elif self._draining:
            self.transport.close()

    # -- limits --------------------------------------------------------------------------------
    def _header_timeout(self) -> None:
        self._head_timer = None
        if self.transport.is_closing():
            return
        if self._busy():  # a request is being answered; reading waits for it, so does this
            self._head_timer = self.loop.call_later(self.limits.header_timeout_s, self._header_timeout)
        elif not self._received:
            self._close("idle_connection", f"nothing received in {self.limits.header_timeout_s:g} s "
                        "(--header-timeout)")
        elif self._in_head:
            self._refuse(408, "header_timeout", f"request headers not complete after "
                         f"{self.limits.header_timeout_s:g} s (--header-timeout)")

    def _body_timeout(self) -> None:
        self._body_timer = None
        cycle = self.cycle
        if (self.transport.is_closing() or self._lingering or cycle is None or cycle.response_started
                or not self._in_body):
            return
        message = f"request body not complete after {self.limits.body_timeout_s:g} s (--body-timeout)"
        _log_closed("body_timeout", self.client, message)
        cycle.disconnected = True  # the application's receive() answers http.disconnect
        cycle.message_event.set()
        self._write_refusal(408, "body_timeout", message)

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to a request httptools cannot parse (or one a callback stopped)."""
        owed, self._owed = self._owed, None
        self._refuse(*(owed or (400, "invalid_http", "malformed HTTP request")))

    def _refuse(self, status: int, reason: str, message: str) -> None:
        """Answer ``status`` with one line of JSON and close; after the requests already read."""
        if self._lingering:
            return  # already refused: one answer, one log line
        _log_closed(reason, self.client, message)
        if self._busy():
            self._owed = (status, reason, message)
            self.flow.pause_reading()
            return
        self._write_refusal(status, reason, message)

    def _write_refusal(self, status: int, reason: str, message: str) -> None:
        self._owed = None
        self._stop_timers()
        body = (json.dumps({"error": message, "kind": reason}) + "\n").encode()
        self.transport.write(b"".join([STATUS_LINE[status], b"content-type: application/json\r\n",
                                       b"content-length: %d\r\nconnection: close\r\n\r\n" % len(body), body]))
        # A close with unread input resets the connection, and a client still sending (an endless
        # header) would lose the answer: end the writing side, drop what comes in, close later.
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self._lingering = True
        self.flow.resume_reading()
        self.loop.call_later(LINGER_S, self.transport.close)

    def _close(self, reason: str, message: str) -> None:
        _log_closed(reason, self.client, message)
        self.transport.close()

    # -- stopping ------------------------------------------------------------------------------
    def shutdown(self) -> None:
        """uvicorn stops accepting and calls this on every connection: finish what was read,
        with ``Connection: close``; between requests, wait ``DRAIN_S`` for one on its way."""
        self._draining = True
        if self.cycle is not None and not self.cycle.response_complete:
            last = self.pipeline[0][0] if self.pipeline else self.cycle
            last.keep_alive = False
        elif not self._in_head and not self.pipeline:
            self._unset_keepalive_if_required()
            self._drain_timer = self.loop.call_later(DRAIN_S, self._drained)

    def _drained(self) -> None:
        self._drain_timer = None
        if self._idle() and not self.transport.is_closing():
            self.transport.close()


def _cancel(timer: Any) -> None:
    """Cancel a timer that may not be set; None, to put where it was kept."""
    if timer is not None:
        timer.cancel()


def _log_closed(reason: str, client: tuple | None, message: str) -> None:
    closed[reason] += 1
    where = f"{client[0]}:{client[1]}" if client else None
    log_event("connection closed", {"reason": reason, "client": where, "detail": message})


class ConnectionMetrics:
    """A Prometheus collector: connections open, and closed by a limit, in this process."""

    def collect(self) -> Any:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        yield GaugeMetricFamily("crftag_connections_open", "HTTP connections open.", len(open_connections))
        family = CounterMetricFamily("crftag_connections_closed", "Connections closed by a limit "
                                     "(header size or time, body time, idle, the cap), by reason.",
                                     labels=["reason"])
        for reason in REASONS:
            family.add_metric([reason], closed[reason])
        yield family
