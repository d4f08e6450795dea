"""The ASGI application: routes, refusals, access log; and what `crftag serve` starts it from."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hmac
import ipaddress
import json
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from crftag.errors import CrftagError
from crftag.integrations.serve.batcher import Overloaded, ShuttingDown
from crftag.integrations.serve.config import (
    MODEL_HEADER,
    RETRY_AFTER_S,
    RequestError,
    ServeConfig,
    log_event,
)
from crftag.integrations.serve.requests import check_content_type, parse_body
from crftag.integrations.serve.service import LoadedModel, Service, one_line


def encode(obj: Any) -> bytes:
    """JSON as ``crftag tag --output-format jsonl`` writes a line; a text holding lone surrogates
    (which JSON can carry, but UTF-8 cannot) falls back to \\u escapes."""
    text = json.dumps(obj, ensure_ascii=False)
    try:
        return (text + "\n").encode("utf-8")
    except UnicodeEncodeError:
        return (json.dumps(obj) + "\n").encode("ascii")


def is_loopback(host: str | None) -> bool:
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def create_app(config: ServeConfig, model: LoadedModel | None = None) -> Any:
    """The Starlette application. ``model`` is loaded from ``config.model`` at startup if not given."""
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.requests import ClientDisconnect, Request
    from starlette.responses import Response
    from starlette.routing import Route

    service = Service(config, model)

    def answer(status: int, obj: Any) -> Response:
        return Response(encode(obj), status, media_type="application/json")

    def refuse(err: RequestError) -> Response:
        response = answer(err.status, {"error": err.message, "kind": err.kind})
        if err.status == 503:
            response.headers["Retry-After"] = str(RETRY_AFTER_S)
        return response

    async def read_body(request: Request) -> bytes:
        cap = config.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > cap:
            raise RequestError(413, "body_too_large", f"request body of {int(declared)} bytes; "
                               f"the limit is {cap} (--max-body-bytes)")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > cap:
                raise RequestError(413, "body_too_large",
                                   f"request body over {cap} bytes; the limit is {cap} (--max-body-bytes)")
            chunks.append(chunk)
        return b"".join(chunks)

    async def tag(request: Request) -> Response:
        if service.model is None:
            raise RequestError(503, "not_ready", service.model_status()["reason"])
        check_content_type(request.headers.get("content-type"))
        parsed = parse_body(await read_body(request), config)
        model = service.model  # one model answers the whole request, and the answer says which
        try:
            results = await service.batcher.submit(parsed.items, model)
        except Overloaded:
            raise RequestError(503, "overloaded", f"more than {config.max_queue} texts waiting "
                               "(--max-queue); retry later") from None
        except ShuttingDown:
            raise RequestError(503, "shutting_down", "the server is shutting down") from None
        request.state.texts = len(parsed.items)
        service.observe_entities(results)
        response = answer(200, results[0] if parsed.single else {"results": results})
        response.headers[MODEL_HEADER] = model.sha256
        return response

    async def healthz(request: Request) -> Response:
        return answer(200, {"alive": True})

    async def readyz(request: Request) -> Response:
        status = service.model_status()
        return answer(200 if status["ready"] and service.batcher.running else 503, status)

    async def model_info(request: Request) -> Response:
        if service.model is None:
            raise RequestError(503, "not_ready", "no model loaded yet")
        return answer(200, service.model.tagger.info())

    async def metrics(request: Request) -> Response:
        return Response(generate_latest(service.registry), 200, media_type=CONTENT_TYPE_LATEST)

    async def reload(request: Request) -> Response:
        if config.admin_token:
            given = request.headers.get("authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {config.admin_token}".encode()):
                raise RequestError(401, "unauthorized", "admin endpoints need 'Authorization: Bearer TOKEN' "
                                   "(--admin-token)")
        elif not is_loopback(request.client.host if request.client else None):
            raise RequestError(403, "forbidden", "without --admin-token, admin endpoints answer loopback "
                               "clients only")
        if service.model is None:
            raise RequestError(503, "not_ready", service.model_status()["reason"])
        if config.workers > 1:  # the main process restarts the workers, each loading the file
            os.kill(os.getppid(), signal.SIGHUP)
            return answer(202, {"reloading": True, "how": "SIGHUP to the main process: a rolling restart "
                                "of the workers; a worker whose model fails to load is not brought in"})
        ok, detail = await service.reload()
        return answer(200 if ok else 422, detail)

    routes = {"/v1/tag": (tag, ["POST"]), "/healthz": (healthz, ["GET"]), "/readyz": (readyz, ["GET"]),
              "/v1/model": (model_info, ["GET"]), "/metrics": (metrics, ["GET"]),
              "/admin/reload": (reload, ["POST"])}

    def instrumented(path: str, endpoint: Callable) -> Callable:
        async def run(request: Request) -> Response:
            t0 = time.perf_counter()
            kind = None
            try:
                response = await endpoint(request)
            except RequestError as err:
                kind, response = err.kind, refuse(err)
            except ClientDisconnect:
                kind, response = "client_disconnected", answer(400, {"error": "client disconnected",
                                                                     "kind": "client_disconnected"})
            except asyncio.CancelledError:  # uvicorn's graceful timeout ran out on this request
                kind = "shutting_down"
                err = RequestError(503, kind, "the server stopped before this request was complete "
                                   "(--graceful-timeout)")
                log_event("request cut short", {"client": _client(request), "method": request.method,
                                                "path": request.url.path, "error": err.message})
                response = refuse(err)
            except Exception as exc:  # a bug: still one line of JSON, and the server goes on
                kind = "internal"
                response = answer(500, {"error": one_line(f"internal error: {type(exc).__name__}: {exc}"),
                                        "kind": kind})
            _account(request, path, response.status_code, kind, time.perf_counter() - t0)
            return response
        return run

    def _account(request: Any, path: str, status: int, kind: str | None, seconds: float) -> None:
        service.m_requests.labels(path, str(status)).inc()
        service.m_latency.labels(path).observe(seconds)
        if kind is not None:
            service.m_errors.labels(kind).inc()
        if config.access_log:
            _log_access({"time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + "Z",
                         "client": _client(request),
                         "method": request.method, "path": request.url.path, "status": status,
                         "ms": round(seconds * 1000, 3), "texts": getattr(request.state, "texts", None),
                         "error": kind})

    async def http_error(request: Request, exc: HTTPException) -> Response:
        kind = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        path = request.url.path if request.url.path in routes else "other"
        _account(request, path, exc.status_code, kind, 0.0)
        return answer(exc.status_code, {"error": one_line(f"{request.method} {request.url.path}: "
                                                           f"{exc.detail}"), "kind": kind})

    @contextlib.asynccontextmanager
    async def lifespan(app: Any):
        await service.start()
        try:
            yield
        finally:
            await service.stop()

    app = Starlette(routes=[Route(p, instrumented(p, fn), methods=m) for p, (fn, m) in routes.items()],
                    exception_handlers={HTTPException: http_error}, lifespan=lifespan)
    app.state.service = service
    return app


def _client(request: Any) -> str | None:
    client = request.client
    return f"{client.host}:{client.port}" if client else None


def _log_access(record: dict) -> None:
    sys.stderr.write(json.dumps(record) + "\n")


def app_from_env() -> Any:
    """The application of one ``--workers N`` worker (uvicorn's factory; config from the environment)."""
    return create_app(ServeConfig.from_env())


def check_address(host: str, port: int) -> None:
    """Fail early, in one line, when the address is taken (uvicorn would log and exit 1)."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise CrftagError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    family, kind, proto, _, addr = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(addr)
        except OSError as exc:
            raise CrftagError(f"cannot listen on {host}:{port}: {exc.strerror}") from None


def fit_open_files(max_connections: int) -> int:
    """``--max-connections``, lowered to what the process's open-file limit leaves room for (64
    files kept for the model, logs and the interpreter), saying so in one line."""
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    except (ImportError, OSError, ValueError):
        return max_connections
    room = soft - 64 if soft != resource.RLIM_INFINITY else max_connections
    if max_connections > room:
        print(f"crftag serve: --max-connections {max_connections} lowered to {max(room, 1)}: the open-file "
              f"limit is {soft} (ulimit -n)", file=sys.stderr, flush=True)
        return max(room, 1)
    return max_connections


@dataclass
class Stopped:
    """How a server run ended: the signal that stopped it, and why its first model failed to load."""

    signal: int | None = None
    error: str | None = None


def run_server(target: Any, config: ServeConfig, host: str, port: int, log_level: str,
               graceful_timeout: float) -> Stopped:
    """Run uvicorn until a signal stops it: one process (``target`` an application) or
    ``config.workers`` processes (``target`` the import string of :func:`app_from_env`), each
    connection on :class:`~crftag.integrations.serve.connections.LimitedHttpProtocol`."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from crftag.integrations.serve.connections import LimitedHttpProtocol

    stopped = Stopped()
    server_config = uvicorn.Config(
        target, factory=config.workers > 1, host=host, port=port, workers=config.workers,
        log_level=log_level, access_log=False, timeout_graceful_shutdown=graceful_timeout,
        timeout_keep_alive=config.keep_alive_s, lifespan="on",
        http=functools.partial(LimitedHttpProtocol, limits=config))  # type: ignore[arg-type]

    def note(signum: int, frame: object) -> None:
        stopped.signal = stopped.signal or signum

    class Supervisor(Multiprocess):
        """uvicorn's supervisor of --workers N, noting which signal stopped it."""

        def handle_int(self) -> None:
            note(signal.SIGINT, None)
            super().handle_int()

        def handle_term(self) -> None:
            note(signal.SIGTERM, None)
            super().handle_term()

    previous = {sig: signal.signal(sig, note) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        if config.workers == 1:
            uvicorn.Server(server_config).run()  # it re-raises what stopped it: noted above
        else:
            Supervisor(server_config, sockets=[server_config.bind_socket()]).run()
    except KeyboardInterrupt:
        stopped.signal = stopped.signal or signal.SIGINT
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    stopped.error = getattr(target, "state", None) and target.state.service.failed
    return stopped
