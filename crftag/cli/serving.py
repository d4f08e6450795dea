"""``crftag serve``: the tagger over HTTP (:mod:`crftag.integrations.serve`)."""

from __future__ import annotations

import os
import signal
from typing import Any

import click

from crftag.cli.options import model_option
from crftag.errors import CrftagError
from crftag.jitcache import lean_numba


@click.command()
@model_option
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0 for every interface).")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535),
              help="TCP port to listen on (0: one the system picks).")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1),
              help="Processes, each with its own copy of the model (uvicorn workers).")
@click.option("--max-batch", default=256, show_default=True, type=click.IntRange(min=1),
              help="Most texts tagged in one compiled call; 1 turns micro-batching off.")
@click.option("--max-wait-ms", default=2.0, show_default=True, type=click.FloatRange(min=0),
              help="Longest a batch waits for more requests; it waits only for as many as the last "
                   "batch served, so a lone request is tagged at once.")
@click.option("--max-body-bytes", default=1 << 20, show_default=True, type=click.IntRange(min=1),
              help="Limit: request body size (413 body_too_large).")
@click.option("--max-texts", default=1000, show_default=True, type=click.IntRange(min=1),
              help="Limit: texts or token lists per request (413 too_many_texts).")
@click.option("--max-text-chars", default=10_000, show_default=True, type=click.IntRange(min=1),
              help="Limit: characters per text; a token list counts its tokens joined by spaces "
                   "(413 text_too_long).")
@click.option("--max-queue", default=10_000, show_default=True, type=click.IntRange(min=1),
              help="Limit: texts waiting for the tagger before requests are refused (503 overloaded).")
@click.option("--graceful-timeout", default=30.0, show_default=True, type=click.FloatRange(min=0),
              help="On SIGTERM, seconds in-flight requests get to be answered.")
@click.option("--max-header-bytes", default=16_384, show_default=True, type=click.IntRange(min=256),
              help="Limit: request line and headers (431 header_too_large, connection closed).")
@click.option("--header-timeout", default=10.0, show_default=True, type=click.FloatRange(min=0.1),
              help="Limit: seconds from a connection's start, or a request's first byte, to its "
                   "last header (408 header_timeout; a connection that sent nothing is closed).")
@click.option("--body-timeout", default=30.0, show_default=True, type=click.FloatRange(min=0.1),
              help="Limit: seconds from a request's last header to its body's last byte "
                   "(408 body_timeout).")
@click.option("--keep-alive-timeout", default=5.0, show_default=True, type=click.FloatRange(min=0.1),
              help="Limit: seconds a connection may stay idle between requests.")
@click.option("--max-connections", default=1000, show_default=True, type=click.IntRange(min=1),
              help="Limit: open connections (lowered to fit the open-file limit); a new one over "
                   "it closes the one idle the longest, or itself when all are busy.")
@click.option("--access-log", is_flag=True, help="One JSON line per request on stderr.")
@click.option("--admin-token", envvar="CRFTAG_ADMIN_TOKEN", metavar="TOKEN",
              help="Bearer token for POST /admin/reload (or $CRFTAG_ADMIN_TOKEN); without one, "
                   "admin endpoints answer loopback clients only.")
@click.option("--model-sha256", metavar="HEX", default=None,
              help="Refuse the model unless its file has this sha256, at start and on every reload "
                   "(pin a trusted file; a new model needs a new pin, so a restart).")
@click.option("--log-level", type=click.Choice(["critical", "error", "warning", "info", "debug"]),
              default="info", show_default=True, help="uvicorn's log level.")
def serve(model_path: str, host: str, port: int, workers: int, max_batch: int, max_wait_ms: float,
          max_body_bytes: int, max_texts: int, max_text_chars: int, max_queue: int,
          graceful_timeout: float, max_header_bytes: int, header_timeout: float, body_timeout: float,
          keep_alive_timeout: float, max_connections: int, access_log: bool, admin_token: str | None,
          model_sha256: str | None, log_level: str) -> None:
    """Serve the tagger over HTTP (pip install 'crftag[serve]'): Starlette on uvicorn.

    \b
    POST /v1/tag      {"text": "..."} | {"texts": [...]} | {"tokens": [[...], ...]},
                      optional "min_confidence"; answers as `crftag tag --output-format jsonl`
    GET  /healthz     alive (from the first second)
    GET  /readyz      model loaded and compiled (503 with the reason until then)
    GET  /v1/model    crftag info --json          GET /metrics  Prometheus text format
    POST /admin/reload  reload the model file (also SIGHUP); a bad file keeps the old model

    Concurrent requests are micro-batched into one compiled call. Bad input gets a 4xx
    with one line of JSON, {"error": ..., "kind": ...}; a slow or idle client is cut off
    by the header, body and idle limits (one JSON log line each) and delays no one else.
    SIGTERM stops accepting, answers the requests in flight with `Connection: close`, and
    exits 0; a worker replaced by SIGHUP (--workers N) ends the same way.

    \b
    Examples:
      crftag serve -m wnut16.crftag
      crftag serve -m wnut16.crftag --host 0.0.0.0 --port 9000 --workers 2 --access-log
      curl -s localhost:8080/v1/tag -H 'Content-Type: application/json' -d '{"text": "Obama in Paris"}'
    """
    try:
        import httptools  # noqa: F401
        import prometheus_client  # noqa: F401
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401

        from crftag.integrations import serve as serving
    except ImportError as exc:
        raise CrftagError(f"serve needs the serve extra: pip install 'crftag[serve]' "
                          f"(missing {exc.name})") from None
    if max_queue < max_texts:
        raise CrftagError(f"--max-queue ({max_queue}) must hold at least one full request "
                          f"(--max-texts {max_texts})")
    lean_numba()
    config = serving.ServeConfig(model_path, max_batch, max_wait_ms, max_body_bytes, max_texts,
                                 max_text_chars, max_queue, access_log, admin_token, workers,
                                 model_sha256, max_header_bytes, header_timeout, body_timeout,
                                 keep_alive_timeout, serving.fit_open_files(max_connections))
    serving.check_address(host, port)
    from crftag.io.modelfile import load_model

    load_model(model_path, model_sha256)  # a missing, broken or other file: one line, before the port opens
    # the port opens at once; the model loads and its kernels compile behind /readyz
    if workers == 1:
        target: Any = serving.create_app(config)
    else:  # each worker loads the model itself
        os.environ[serving.CONFIG_ENV] = config.to_env()
        target = "crftag.integrations.serve:app_from_env"
    stopped = serving.run_server(target, config, host, port, log_level, graceful_timeout)
    if stopped.error:
        raise CrftagError(f"serve: {model_path}: {stopped.error}")
    how = f" on {signal.Signals(stopped.signal).name}" if stopped.signal else ""
    click.echo(f"crftag serve: stopped{how}", err=True)
