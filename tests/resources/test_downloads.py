"""Registry downloads against hostile servers (a raw socket server on 127.0.0.1, a free port):
a trickle is cut off at the deadline, an endless response at the expected size, truncated and
garbled responses are retried and then reported in one line; bad cache locations are one line."""

from __future__ import annotations

import hashlib
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from crftag.errors import CrftagError, ResourceError
from crftag.resources.registry import Registry, Resource

PAYLOAD = b"token\tO\nParis\tB-geo-loc\n\n" * 40
DIGEST = hashlib.sha256(PAYLOAD).hexdigest()


class RawServer:
    """Answers every connection with ``respond(conn)``; counts the requests."""

    def __init__(self, respond: Callable[[socket.socket], None]):
        self.respond = respond
        self.requests = 0
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/file"

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.requests += 1
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        try:
            conn.recv(65536)
            self.respond(conn)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self.stop.set()
        self.sock.close()


@pytest.fixture
def serve() -> Iterator[Callable]:
    servers = []

    def start(respond):
        servers.append(RawServer(respond))
        return servers[-1]

    yield start
    for s in servers:
        s.close()


def _registry(tmp_path: Path, url: str, size: int | None = len(PAYLOAD)) -> Registry:
    res = Resource(name="t:file", kind="dataset", path="datasets/t/file", url=url, sha256=DIGEST, size=size)
    return Registry({"t:file": res}, cache=tmp_path / "cache", mirror=tmp_path / "no-mirror")


def _header(length: int | None = None) -> bytes:
    extra = f"Content-Length: {length}\r\n" if length is not None else ""
    return f"HTTP/1.1 200 OK\r\n{extra}Connection: close\r\n\r\n".encode()


def _fetch(reg: Registry, **kw) -> None:
    import crftag.resources.registry as resources

    res = reg.get("t:file")
    resources.download(res.url, reg.cache / res.path, res.sha256, size=res.size, **kw)


def _nothing_saved(tmp_path: Path) -> None:
    folder = tmp_path / "cache/datasets/t"
    assert not folder.exists() or list(folder.iterdir()) == []


def test_a_good_server_still_works(tmp_path, serve):
    server = serve(lambda c: c.sendall(_header(len(PAYLOAD)) + PAYLOAD))
    reg = _registry(tmp_path, server.url)
    assert reg.fetch("t:file").read_bytes() == PAYLOAD


def test_a_trickle_is_cut_off_at_the_deadline(tmp_path, serve):
    def trickle(conn):
        conn.sendall(_header(len(PAYLOAD)))
        for b in PAYLOAD:
            conn.sendall(bytes([b]))
            time.sleep(0.2)

    server = serve(trickle)
    t0 = time.monotonic()
    with pytest.raises(ResourceError, match="longer than its deadline"):
        _fetch(_registry(tmp_path, server.url), deadline=2.0, backoff=0.1)
    assert time.monotonic() - t0 < 6
    _nothing_saved(tmp_path)


def test_an_endless_response_stops_at_the_expected_size(tmp_path, serve):
    def endless(conn):
        conn.sendall(_header())
        while True:
            conn.sendall(b"x" * 65536)

    server = serve(endless)
    with pytest.raises(ResourceError, match=f"more than the expected {len(PAYLOAD):,} bytes"):
        _fetch(_registry(tmp_path, server.url), deadline=30)
    _nothing_saved(tmp_path)


def test_a_declared_length_over_the_expected_size_is_refused_unread(tmp_path, serve):
    server = serve(lambda c: c.sendall(_header(10**12) + b"x" * 1000))
    with pytest.raises(ResourceError, match="offers 1,000,000,000,000 bytes, more than"):
        _registry(tmp_path, server.url).fetch("t:file")


@pytest.mark.parametrize(("name", "respond", "why"), [
    ("truncated", lambda c: c.sendall(_header(len(PAYLOAD)) + PAYLOAD[:100]), "ended early"),
    ("bad status line", lambda c: c.sendall(b"HTTZ/9 OK\r\n\r\n" + PAYLOAD), "BadStatusLine"),
    ("too-long line", lambda c: c.sendall(b"HTTP/1.1 200 OK\r\nX: " + b"a" * 200_000 + b"\r\n\r\n"),
     "LineTooLong"),
    ("silent close", lambda c: None, "RemoteDisconnected"),
    ("server error", lambda c: c.sendall(b"HTTP/1.1 503 Busy\r\nContent-Length: 0\r\n\r\n"), "HTTP 503"),
])
def test_broken_responses_are_retried_then_one_line(tmp_path, serve, name, respond, why):
    server = serve(respond)
    t0 = time.monotonic()
    with pytest.raises(ResourceError, match=f"download failed after 3 attempts: .*{why}") as info:
        _fetch(_registry(tmp_path, server.url), attempts=3, backoff=0.05, deadline=30)
    assert server.requests == 3 and "\n" not in str(info.value)
    assert time.monotonic() - t0 < 10
    _nothing_saved(tmp_path)


def test_a_retry_that_succeeds(tmp_path, serve):
    answers = iter([lambda c: c.sendall(_header(len(PAYLOAD)) + PAYLOAD[:10]),
                    lambda c: c.sendall(_header(len(PAYLOAD)) + PAYLOAD)])
    server = serve(lambda c: next(answers)(c))
    _fetch(_registry(tmp_path, server.url), backoff=0.05)
    assert (tmp_path / "cache/datasets/t/file").read_bytes() == PAYLOAD and server.requests == 2


def test_not_found_is_not_retried(tmp_path, serve):
    server = serve(lambda c: c.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"))
    with pytest.raises(ResourceError, match="download failed: HTTP 404"):
        _fetch(_registry(tmp_path, server.url), backoff=0.05)
    assert server.requests == 1


@pytest.mark.parametrize("where", ["cache is a file", "target is a directory", "parent is a file"])
def test_bad_cache_locations_are_one_line(tmp_path, serve, where):
    server = serve(lambda c: c.sendall(_header(len(PAYLOAD)) + PAYLOAD))
    reg = _registry(tmp_path, server.url)
    if where == "cache is a file":
        (tmp_path / "cache").write_text("x")
    elif where == "target is a directory":
        (tmp_path / "cache/datasets/t/file").mkdir(parents=True)
    else:
        (tmp_path / "cache/datasets").mkdir(parents=True)
        (tmp_path / "cache/datasets/t").write_text("x")
    with pytest.raises(CrftagError) as info:
        reg.fetch("t:file")
    assert "\n" not in str(info.value) and str(tmp_path / "cache") in str(info.value)


def test_fetch_cli_with_a_bad_home_is_one_line(tmp_path):
    home = tmp_path / "home"
    home.write_text("not a folder")
    r = subprocess.run([sys.executable, "-m", "crftag", "fetch", "wnut16:dev"], capture_output=True,
                       text=True, timeout=120, env={"CRFTAG_HOME": str(home), "PATH": "/usr/bin:/bin",
                                                    "CRFTAG_MIRROR": str(tmp_path / "no-mirror"),
                                                    "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
                                                    "http_proxy": "http://127.0.0.1:9",
                                                    "https_proxy": "http://127.0.0.1:9"})
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr.startswith(f"crftag: {home}/datasets/wnut16/dev: cannot write: Not a directory"), r.stderr


def test_the_deadline_covers_trickled_headers(tmp_path, serve):
    """Issue 25 item 11: with a 3 s deadline, a server trickling one header line (a byte every
    0.2 s resets any read timeout) was still being read at 40 s. Now the deadline cuts the
    connection wherever urllib waits: the status line, the headers or the body."""
    def trickled_headers(conn):
        conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
        for _ in range(600):
            conn.sendall(b"a")
            time.sleep(0.2)

    def trickled_status(conn):
        for b in b"HTTP/1.1 200 OK\r\n" * 50:
            conn.sendall(bytes([b]))
            time.sleep(0.2)

    for respond in (trickled_headers, trickled_status):
        server = serve(respond)
        t0 = time.monotonic()
        with pytest.raises(ResourceError, match="longer than its deadline"):
            _fetch(_registry(tmp_path, server.url), deadline=2.0, timeout=1.0, backoff=0.1)
        assert time.monotonic() - t0 < 5
        _nothing_saved(tmp_path)
