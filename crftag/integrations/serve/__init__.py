"""``crftag serve``: the tagger as an HTTP service for triage pipelines.

An ASGI application (Starlette, served by uvicorn; ``pip install 'crftag[serve]'``).
``import crftag`` never imports this package, and this package imports Starlette and
prometheus-client only when an application is built.

* ``POST /v1/tag``: ``{"text": ...}``, ``{"texts": [...]}`` or ``{"tokens": [[...], ...]}``,
  optional ``min_confidence``. Each input is answered with the object ``crftag tag
  --output-format jsonl`` writes for it (:func:`crftag.io.writers.jsonl_object`).
* ``GET /healthz`` (alive), ``GET /readyz`` (model loaded), ``GET /v1/model`` (``crftag info
  --json``), ``GET /metrics`` (Prometheus text format), ``POST /admin/reload``.

Concurrent requests are micro-batched (:class:`MicroBatcher`): their texts go to the tagger
in one compiled call of up to ``max_batch`` texts, waiting at most ``max_wait_ms`` after the
oldest arrived. Every refusal is a 4xx with a one-line JSON body ``{"error": ..., "kind": ...}``.

One concern per module, in the order a request meets them: :mod:`.config` (options, limits,
the refusal), :mod:`.connections` (what one connection may hold and for how long, and how it
ends on shutdown), :mod:`.requests` (parsing a body), :mod:`.batcher` (micro-batching),
:mod:`.service` (the model, reloads, metrics, logs) and :mod:`.app` (routes, and what
``crftag serve`` starts).
"""

from crftag.integrations.serve.app import (
    Stopped,
    app_from_env,
    check_address,
    create_app,
    encode,
    fit_open_files,
    is_loopback,
    run_server,
)
from crftag.integrations.serve.batcher import MicroBatcher, Overloaded, ShuttingDown
from crftag.integrations.serve.config import (
    BODY_TIMEOUT_S,
    CONFIG_ENV,
    GRACEFUL_TIMEOUT_S,
    HEADER_TIMEOUT_S,
    KEEP_ALIVE_S,
    MAX_BATCH,
    MAX_BODY_BYTES,
    MAX_CONNECTIONS,
    MAX_HEADER_BYTES,
    MAX_QUEUE_TEXTS,
    MAX_TEXT_CHARS,
    MAX_TEXTS,
    MAX_WAIT_MS,
    MODEL_HEADER,
    RequestError,
    ServeConfig,
)
from crftag.integrations.serve.requests import parse_body
from crftag.integrations.serve.service import LoadedModel, Service, load_model

__all__ = ["BODY_TIMEOUT_S", "CONFIG_ENV", "GRACEFUL_TIMEOUT_S", "HEADER_TIMEOUT_S", "KEEP_ALIVE_S",
           "MAX_BATCH", "MAX_BODY_BYTES", "MAX_CONNECTIONS", "MAX_HEADER_BYTES", "MAX_QUEUE_TEXTS",
           "MAX_TEXTS", "MAX_TEXT_CHARS", "MAX_WAIT_MS", "MODEL_HEADER", "LoadedModel", "MicroBatcher",
           "Overloaded", "RequestError", "ServeConfig", "Service", "ShuttingDown", "Stopped", "app_from_env",
           "check_address", "create_app", "encode", "fit_open_files", "is_loopback", "load_model",
           "parse_body", "run_server"]
