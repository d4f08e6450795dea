"""The server's configuration and limits (each a `crftag serve` option), the one-line
refusal every bad request gets, and the one JSON line every server event logs."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from dataclasses import dataclass

MODEL_HEADER = "X-Crftag-Model-Sha256"  # on every /v1/tag answer: the model that tagged all of it

# -- limits: each is an option of `crftag serve` (documented in its --help and the README) -----
MAX_BODY_BYTES = 1 << 20  # request body, bytes
MAX_TEXTS = 1000  # texts (or token lists) in one request
MAX_TEXT_CHARS = 10_000  # characters in one text (a token list: its tokens joined by spaces)
MAX_QUEUE_TEXTS = 10_000  # texts waiting for the tagger; past it requests get 503 (overloaded)
MAX_BATCH = 256  # texts in one compiled call
MAX_WAIT_MS = 2.0  # how long the oldest waiting text may wait for others to join its batch
GRACEFUL_TIMEOUT_S = 30.0  # on SIGTERM, how long in-flight requests may take to be answered
MAX_HEADER_BYTES = 16_384  # request line and headers (h11's default; httptools has none)
HEADER_TIMEOUT_S = 10.0  # from a connection's start, or a request's first byte, to its last header
BODY_TIMEOUT_S = 30.0  # from a request's last header to its body's last byte
KEEP_ALIVE_S = 5.0  # idle time between requests on one connection (uvicorn's timeout_keep_alive)
MAX_CONNECTIONS = 1000  # open connections (lowered to what the open-file limit allows)

CONFIG_ENV = "CRFTAG_SERVE_CONFIG"  # how `--workers N` hands the configuration to each worker
RETRY_AFTER_S = 1  # what a 503 (not ready, overloaded, shutting down) tells a client to wait


@dataclass(frozen=True)
class ServeConfig:
    """Everything a serving process needs; every field is a `crftag serve` option."""

    model: str
    max_batch: int = MAX_BATCH
    max_wait_ms: float = MAX_WAIT_MS
    max_body_bytes: int = MAX_BODY_BYTES
    max_texts: int = MAX_TEXTS
    max_text_chars: int = MAX_TEXT_CHARS
    max_queue: int = MAX_QUEUE_TEXTS
    access_log: bool = False
    admin_token: str | None = None
    workers: int = 1
    model_sha256: str | None = None  # the model file's pinned digest, on the first load and every reload
    max_header_bytes: int = MAX_HEADER_BYTES
    header_timeout_s: float = HEADER_TIMEOUT_S
    body_timeout_s: float = BODY_TIMEOUT_S
    keep_alive_s: float = KEEP_ALIVE_S
    max_connections: int = MAX_CONNECTIONS

    def to_env(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_env(cls) -> ServeConfig:
        return cls(**json.loads(os.environ[CONFIG_ENV]))


class RequestError(Exception):
    """A request refused: an HTTP status, a stable kind for metrics and clients, one line."""

    def __init__(self, status: int, kind: str, message: str):
        super().__init__(message)
        self.status = status
        self.kind = kind
        self.message = message


def log_event(message: str, detail: dict) -> None:
    """One JSON line on stderr: ``{"event": message, **detail}``."""
    print(json.dumps({"event": message, **detail}), file=sys.stderr, flush=True)
