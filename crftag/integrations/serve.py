"""``crftag serve``: the tagger as an HTTP service for triage pipelines.

An ASGI application (Starlette, served by uvicorn; ``pip install 'crftag[serve]'``).
``import crftag`` never imports this module, and this module imports Starlette and
prometheus-client only when an application is built.

* ``POST /v1/tag``: ``{"text": ...}``, ``{"texts": [...]}`` or ``{"tokens": [[...], ...]}``,
  optional ``min_confidence``. Each input is answered with the object ``crftag tag
  --output-format jsonl`` writes for it (:func:`crftag.io.writers.jsonl_object`).
* ``GET /healthz`` (alive), ``GET /readyz`` (model loaded), ``GET /v1/model`` (``crftag info
  --json``), ``GET /metrics`` (Prometheus text format), ``POST /admin/reload``.

Concurrent requests are micro-batched (:class:`MicroBatcher`): their texts go to the tagger
in one compiled call of up to ``max_batch`` texts, waiting at most ``max_wait_ms`` after the
oldest arrived. Every refusal is a 4xx with a one-line JSON body ``{"error": ..., "kind": ...}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import hashlib
import hmac
import ipaddress
import json
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from crftag.calibration import Thresholds, check_threshold
from crftag.errors import CrftagError, ModelError
from crftag.integrations.batches import Item, tag_items
from crftag.io.readers import unwritable_token

if TYPE_CHECKING:
    from crftag.tagger import Tagger

MODEL_HEADER = "X-Crftag-Model-Sha256"  # on every /v1/tag answer: the model that tagged all of it

# -- limits: each is an option of `crftag serve` (documented in its --help and the README) -----
MAX_BODY_BYTES = 1 << 20  # request body, bytes
MAX_TEXTS = 1000  # texts (or token lists) in one request
MAX_TEXT_CHARS = 10_000  # characters in one text (a token list: its tokens joined by spaces)
MAX_QUEUE_TEXTS = 10_000  # texts waiting for the tagger; past it requests get 503 (overloaded)
MAX_BATCH = 256  # texts in one compiled call
MAX_WAIT_MS = 2.0  # how long the oldest waiting text may wait for others to join its batch
GRACEFUL_TIMEOUT_S = 30.0  # on SIGTERM, how long in-flight requests may take to be answered

CONFIG_ENV = "CRFTAG_SERVE_CONFIG"  # how `--workers N` hands the configuration to each worker
_FIELDS = ("text", "texts", "tokens")
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


# -- parsing a request ----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ParsedRequest:
    items: list[Item]
    single: bool  # {"text": ...}: answered with one object, not {"results": [...]}


def check_content_type(content_type: str | None) -> None:
    """JSON in UTF-8 only: anything else is refused before the body is read."""
    mime, _, params = (content_type or "").partition(";")
    if mime.strip().lower() != "application/json":
        got = f"got {content_type!r}" if content_type else "none given"
        raise RequestError(415, "unsupported_media_type", f"Content-Type must be application/json ({got})")
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset" and value.strip().strip('"').lower() not in ("utf-8", "utf8"):
            raise RequestError(415, "unsupported_media_type",
                               f"only UTF-8 bodies are accepted (charset {value.strip()!r})")


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def parse_body(body: bytes, config: ServeConfig) -> ParsedRequest:
    """Validate a /v1/tag body against the limits; every problem is a :class:`RequestError`."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RequestError(400, "invalid_utf8",
                           f"request body is not UTF-8 (invalid byte at offset {exc.start})") from None
    try:
        obj = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise RequestError(400, "invalid_json",
                           f"invalid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    except RecursionError:
        raise RequestError(400, "invalid_json", "invalid JSON: nested too deeply") from None
    except ValueError as exc:  # NaN/Infinity, integers past Python's digit limit
        raise RequestError(400, "invalid_json", f"invalid JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise _invalid("the body must be a JSON object with 'text', 'texts' or 'tokens'")
    unknown = sorted(set(obj) - {*_FIELDS, "id", "min_confidence"})
    if unknown:
        raise _invalid(f"unknown field {unknown[0]!r} (fields: text, texts, tokens, id, min_confidence)")
    given = [k for k in _FIELDS if k in obj]
    if len(given) != 1:
        raise _invalid("give exactly one of 'text', 'texts' or 'tokens'")
    field = given[0]
    if "id" in obj and field != "text":
        raise _invalid("'id' goes with 'text'; in 'texts' and 'tokens' give each item its own id")
    mc = _min_confidence(obj.get("min_confidence"))
    if field == "text":
        return ParsedRequest([_text_item(obj["text"], _id(obj.get("id"), "id"), mc, "text", config)], True)
    values = obj[field]
    if not isinstance(values, list):
        raise _invalid(f"'{field}' must be a list")
    if len(values) > config.max_texts:
        raise RequestError(413, "too_many_texts", f"{len(values)} items in '{field}'; the limit is "
                           f"{config.max_texts} per request (--max-texts)")
    make = _text_value if field == "texts" else _tokens_value
    return ParsedRequest([make(v, f"{field}[{i}]", mc, config) for i, v in enumerate(values)], False)


def _invalid(message: str) -> RequestError:
    return RequestError(422, "invalid_request", message)


MAX_THRESHOLD_TYPES = 100  # entity types one request's min_confidence object may name


def _min_confidence(value: Any) -> Thresholds:
    """A number from 0 to 1, or an object of them per entity type (``"*"``: the other types)."""
    if value is None:
        return None
    if isinstance(value, dict):
        if len(value) > MAX_THRESHOLD_TYPES or not all(isinstance(k, str) for k in value):
            raise _invalid(f"'min_confidence' may name at most {MAX_THRESHOLD_TYPES} entity types")
        try:
            return {k: check_threshold(v, f"'min_confidence.{k}'") for k, v in value.items()}
        except (TypeError, ValueError) as exc:
            raise _invalid(str(exc)) from None
    try:
        return check_threshold(value, "'min_confidence'")
    except (TypeError, ValueError):
        raise _invalid("'min_confidence' must be a number from 0 to 1, or an object of them per "
                       "entity type") from None


def _id(value: Any, where: str) -> str | int | None:
    if value is None or isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise _invalid(f"'{where}' must be a string or an integer")


def _check_length(chars: int, where: str, config: ServeConfig) -> None:
    if chars > config.max_text_chars:
        raise RequestError(413, "text_too_long", f"{where}: {chars} characters; the limit is "
                           f"{config.max_text_chars} (--max-text-chars)")


def _text_item(value: Any, sid: str | int | None, mc: Thresholds, where: str,
               config: ServeConfig) -> Item:
    if not isinstance(value, str):
        raise _invalid(f"'{where}' must be a string")
    _check_length(len(value), where, config)
    return Item(value, None, sid, mc)


def _text_value(value: Any, where: str, mc: Thresholds, config: ServeConfig) -> Item:
    if isinstance(value, dict):  # {"id": ..., "text": ...}, a JSONL input line
        if set(value) - {"id", "text"} or "text" not in value:
            raise _invalid(f"'{where}' must be a string or an object with 'text' and optional 'id'")
        return _text_item(value["text"], _id(value.get("id"), f"{where}.id"), mc, f"{where}.text", config)
    return _text_item(value, None, mc, where, config)


def _tokens_value(value: Any, where: str, mc: Thresholds, config: ServeConfig) -> Item:
    sid = None
    if isinstance(value, dict):  # {"id": ..., "tokens": [...]}
        if set(value) - {"id", "tokens"} or "tokens" not in value:
            raise _invalid(f"'{where}' must be a list of tokens or an object with 'tokens' and optional 'id'")
        sid = _id(value.get("id"), f"{where}.id")
        value, where = value["tokens"], f"{where}.tokens"
    if not isinstance(value, list) or not all(isinstance(t, str) and t for t in value):
        raise _invalid(f"'{where}' must be a list of non-empty strings")
    bad = next((j for j, t in enumerate(value) if unwritable_token(t)), None)
    if bad is not None:  # the rule of `crftag tag --input-format jsonl`: one for both
        raise _invalid(f"'{where}[{bad}]' is blank or holds a tab or line break")
    _check_length(sum(map(len, value)) + max(len(value) - 1, 0), where, config)
    return Item(None, value, sid, mc)


# -- tagging ----------------------------------------------------------------------------------------
class Overloaded(Exception):
    """More texts waiting than ``max_queue``."""


class ShuttingDown(Exception):
    """The batcher stopped before the request was answered."""


@dataclass(eq=False)
class _Job:
    items: list
    future: asyncio.Future
    arrived: float
    results: list
    key: Any = None  # what tags it (the service's model when it arrived): a batch holds one key
    taken: int = 0  # items handed to a batch
    done: int = 0  # items answered


class MicroBatcher:
    """Joins the items of concurrent requests into batches for one compiled call each.

    A batch starts when ``max_batch`` items wait, when as many requests wait as the last batch
    served, or ``max_wait_s`` after the oldest waiting item arrived, whichever comes first; a
    request larger than ``max_batch`` spans several batches. So a request arriving while the
    last batch served a lone request is tagged at once (waiting could only add latency), and
    clients that came together are not kept waiting once they are all back. Batches run one
    at a time on a tagging thread (the tagger's kernels release the GIL) while the event loop
    goes on reading requests, which then form the next batch. Each request gets exactly its
    own results, in its order; if a batch fails, its requests are retried one by one, so a
    failure stays with its request. Each request comes with a key (the model that was serving
    when it arrived) and ``tag(items, key)`` tags a batch: a batch holds one key only, so every
    item of a request is tagged by the same model, even when a reload lands between its batches.
    """

    def __init__(self, tag: Callable[[list, Any], list], max_batch: int = MAX_BATCH,
                 max_wait_s: float = MAX_WAIT_MS / 1000, max_queue: int = MAX_QUEUE_TEXTS,
                 on_batch: Callable[[int, float], None] | None = None):
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self.tag = tag
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self.max_queue = max_queue
        self.on_batch = on_batch
        self._jobs: deque[_Job] = deque()
        self._waiting = 0  # items not yet in a batch
        self._last_requests = 0  # requests the last batch served: how many the next one waits for
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task | None = None
        self._executor: ThreadPoolExecutor | None = None

    @property
    def waiting(self) -> int:
        return self._waiting

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        self._wake = asyncio.Event()
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="crftag-tag")
        self._task = asyncio.get_running_loop().create_task(self._run(), name="crftag-batcher")

    async def stop(self) -> None:
        """Stop after the running batch; requests still waiting get :class:`ShuttingDown`."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for job in self._jobs:
            if not job.future.done():
                job.future.set_exception(ShuttingDown())
        self._jobs.clear()
        if self._executor is not None:
            self._executor.shutdown(wait=True)

    async def submit(self, items: list, key: Any = None) -> list:
        """The results of ``items``, in order, once their batches (all with ``key``) have run."""
        if not items:
            return []
        if not self.running:
            raise ShuttingDown()
        if self._waiting + len(items) > self.max_queue:
            raise Overloaded()
        loop = asyncio.get_running_loop()
        job = _Job(items, loop.create_future(), loop.time(), [None] * len(items), key)
        self._jobs.append(job)
        self._waiting += len(items)
        self._wake.set()
        return await job.future

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self._jobs:
                self._wake.clear()
                await self._wake.wait()
                continue
            deadline = self._jobs[0].arrived + self.max_wait_s
            while (self._waiting < self.max_batch and len(self._jobs) < self._last_requests
                   and loop.time() < deadline):
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), deadline - loop.time())
            batch = self._take()
            self._last_requests = len(batch)
            if batch:
                await self._run_batch(batch)

    def _take(self) -> list[tuple[_Job, int, int]]:
        """Slices ``(job, start, stop)`` of waiting jobs, oldest first, up to ``max_batch`` items,
        all with the oldest job's key."""
        batch, size = [], 0
        while self._jobs and size < self.max_batch:
            job = self._jobs[0]
            if job.future.done():  # cancelled by its client: drop what it still had waiting
                self._waiting -= len(job.items) - job.taken
                self._jobs.popleft()
                continue
            if batch and job.key is not batch[0][0].key:  # another model: the next batch
                break
            n = min(len(job.items) - job.taken, self.max_batch - size)
            batch.append((job, job.taken, job.taken + n))
            job.taken += n
            size += n
            self._waiting -= n
            if job.taken == len(job.items):
                self._jobs.popleft()
        return batch

    async def _run_batch(self, batch: list[tuple[_Job, int, int]]) -> None:
        items = [it for job, a, b in batch for it in job.items[a:b]]
        key = batch[0][0].key
        t0 = time.perf_counter()
        try:
            results = await self._call(items, key)
            if len(results) != len(items):
                raise RuntimeError(f"the tagger answered {len(results)} of {len(items)} items")
        except Exception:
            for job, a, b in batch:  # one by one: a failure stays with its own request
                try:
                    part = await self._call(job.items[a:b], key)
                except Exception as exc:
                    if not job.future.done():
                        job.future.set_exception(exc)
                else:
                    self._deliver(job, a, b, part)
            return
        finally:
            if self.on_batch is not None:
                self.on_batch(len(items), time.perf_counter() - t0)
        pos = 0
        for job, a, b in batch:
            self._deliver(job, a, b, results[pos:pos + b - a])
            pos += b - a

    async def _call(self, items: list, key: Any) -> list:
        return await asyncio.get_running_loop().run_in_executor(self._executor, self.tag, items, key)

    @staticmethod
    def _deliver(job: _Job, a: int, b: int, part: list) -> None:
        job.results[a:b] = part
        job.done += b - a
        if job.done == len(job.items) and not job.future.done():
            job.future.set_result(job.results)


# -- the service --------------------------------------------------------------------------------------
@dataclass
class LoadedModel:
    tagger: Tagger
    path: str
    sha256: str
    loaded_at: float


def load_model(path: str, sha256: str | None = None) -> LoadedModel:
    """Load and warm up a model (numba's kernels loaded, caches primed) before it serves; with
    ``sha256``, a file with another digest is refused unread."""
    from crftag.integrations.warmup import warm_up
    from crftag.io.modelfile import open_model_file
    from crftag.resources.models import resolve
    from crftag.tagger import Tagger

    path = os.fspath(resolve(path))  # a named model's name: its cached file (its digest is served)

    def digest_of_file() -> str:
        with open_model_file(path) as fh:  # a FIFO or a device is refused, never waited on
            return hashlib.file_digest(fh, "sha256").hexdigest()

    try:
        digest = digest_of_file()  # before loading: the file may be replaced (atomically) meanwhile
    except ModelError:
        digest = None
    tagger = Tagger.load(path, sha256=sha256)  # a missing, bad or other file: ModelError, one line
    if digest is None:
        digest = digest_of_file()
    warm_up(tagger, ("api", "server"), processes=1)  # nothing compiles on a request's time
    return LoadedModel(tagger, path, digest, time.time())


class Service:
    """One serving process: the model (swapped atomically on reload), the batcher, the metrics."""

    def __init__(self, config: ServeConfig, model: LoadedModel | None = None):
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector

        self.config = config
        self.model = model
        self.started_at = time.time()
        self.failed: str | None = None  # why the first model did not load (the server then stops)
        self._loading: asyncio.Task | None = None
        self._reload_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task] = set()  # reloads started by SIGHUP, referenced until done
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.m_requests = Counter("crftag_requests", "HTTP requests answered, by route and status.",
                                  ["route", "status"], registry=r)
        self.m_errors = Counter("crftag_request_errors", "Requests refused or failed, by kind.",
                                ["kind"], registry=r)
        self.m_latency = Histogram("crftag_request_duration_seconds",
                                   "Time from a request's arrival to its answer, by route.", ["route"],
                                   buckets=(.0002, .0005, .001, .002, .005, .01, .02, .05, .1, .2, .5, 1, 5),
                                   registry=r)
        self.m_texts = Counter("crftag_texts_tagged", "Texts and token lists tagged.", registry=r)
        self.m_batch = Histogram("crftag_batch_size", "Items per compiled tagging call.",
                                 buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024), registry=r)
        self.m_batch_seconds = Histogram("crftag_batch_duration_seconds", "Time of one tagging call.",
                                         buckets=(.0001, .0005, .001, .002, .005, .01, .02, .05, .1, .5),
                                         registry=r)
        self.m_waiting = Gauge("crftag_queue_texts", "Texts waiting for a batch.", registry=r)
        self.m_reloads = Counter("crftag_model_reloads", "Model reloads, by result.", ["result"], registry=r)
        self.m_loaded = Gauge("crftag_model_loaded_timestamp_seconds", "When the serving model was loaded.",
                              registry=r)
        self.m_model = Gauge("crftag_model_info", "The serving model (value 1): its file, sha256, name "
                             "and version if named, and its training data (source=sha256, ...).",
                             ["path", "sha256", "named_model", "training_data"], registry=r)
        self.m_entities = Counter("crftag_entities", "Entities given out (after thresholds), by type.",
                                  ["type"], registry=r)
        self.m_confidence = Histogram("crftag_entity_confidence", "Confidence of the entities given out "
                                      "(calibrated where the model has a calibration).",
                                      buckets=(.1, .2, .3, .4, .5, .6, .7, .8, .9, .95, .99, 1.0), registry=r)
        ProcessCollector(registry=r)  # process_resident_memory_bytes, process_cpu_seconds_total, ...
        self._model_labels: tuple[str, ...] | None = None
        self.m_requests.labels("/v1/tag", "200")  # the series exist (at 0) from the start
        self.m_errors.labels("invalid_request")
        for result in ("ok", "failed"):
            self.m_reloads.labels(result)
        self.m_waiting.set_function(lambda: self.batcher.waiting)
        self.batcher = MicroBatcher(self._tag, config.max_batch, config.max_wait_ms / 1000,
                                    config.max_queue, self._observe_batch)

    @staticmethod
    def _tag(items: list, model: LoadedModel) -> list[dict]:
        return tag_items(model.tagger, items)  # the request's model: the one serving when it came

    def _observe_batch(self, n: int, seconds: float) -> None:
        self.m_batch.observe(n)
        self.m_batch_seconds.observe(seconds)
        self.m_texts.inc(n)

    async def start(self) -> None:
        """Start serving at once: with no model yet, load it on a thread of its own meanwhile
        (one process; with ``--workers N`` each worker loads before it serves).

        The port is open and ``/healthz`` answers from the first second; ``/readyz`` and
        ``/v1/tag`` answer 503 (with the reason, and ``Retry-After``) until the model is loaded
        and its kernels compiled, which on an empty numba cache takes a minute or more. A daemon
        thread, not the executor: a SIGTERM during that minute does not wait for the compiler."""
        if self.model is not None:
            self._serve(self.model)
            return
        loop = asyncio.get_running_loop()
        if self.config.workers > 1:
            # uvicorn brings a worker into service (at start, and in a SIGHUP's rolling restart)
            # when its start-up ends: only a worker whose model loaded may end it, so that a bad
            # file on reload leaves the old workers serving
            self._serve(await loop.run_in_executor(None, self._load))
            return
        done: asyncio.Future = loop.create_future()

        def load() -> None:
            try:
                result: Any = self._load()
            except Exception as exc:  # reported on the loop, which decides what to do
                result = exc
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nothing to tell
                loop.call_soon_threadsafe(lambda: done.done() or done.set_result(result))

        threading.Thread(target=load, name="crftag-load", daemon=True).start()
        self._loading = loop.create_task(self._finish_loading(done), name="crftag-load")

    async def _finish_loading(self, done: asyncio.Future) -> None:
        result = await done
        if isinstance(result, Exception):
            self.failed = _one_line(str(result) if isinstance(result, CrftagError)
                                    else f"{type(result).__name__}: {result}")
            _log("model failed to load; stopping", {"error": self.failed, "model": self.config.model})
            os.kill(os.getpid(), signal.SIGTERM)  # uvicorn's own shutdown; the command exits 1
            return
        self._serve(result)
        _log("ready", {"model": result.path, "sha256": result.sha256,
                       "seconds": round(time.time() - self.started_at, 1)})

    def _show_model(self, model: LoadedModel) -> None:
        """The model-info series of the serving model (the previous model's is removed)."""
        meta = model.tagger.meta
        named = meta.get("named_model") or {}
        training = meta.get("training") or {}
        data = ",".join(f"{r.get('source')}={r.get('sha256')}" for r in
                        [*training.get("train", []), *training.get("dev", [])] if isinstance(r, dict))
        labels = (model.path, model.sha256, f"{named['name']} v{named['version']}" if named else "", data)
        if self._model_labels is not None and self._model_labels != labels:
            self.m_model.remove(*self._model_labels)
        self.m_model.labels(*labels).set(1)
        self._model_labels = labels
        self.m_loaded.set(model.loaded_at)

    def observe_entities(self, results: list[dict]) -> None:
        for result in results:
            for e in result.get("entities", ()):
                self.m_entities.labels(e["type"]).inc()
                if e.get("score") is not None:
                    self.m_confidence.observe(e["score"])

    def _load(self) -> LoadedModel:
        """The configured model file, checked against the pinned sha256 when one is given."""
        return load_model(self.config.model, self.config.model_sha256)

    def _serve(self, model: LoadedModel) -> None:
        self.model = model
        self._show_model(model)
        gc.freeze()  # the model's objects out of the collector's way: no full collection walks them
        self.batcher.start()
        with contextlib.suppress(ValueError, RuntimeError, NotImplementedError, AttributeError):
            # SIGHUP reloads (only where this loop owns the main thread; with --workers N the
            # main process turns SIGHUP into a rolling restart of the workers instead)
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self._on_sighup)

    async def stop(self) -> None:
        if self._loading is not None and not self._loading.done():
            self._loading.cancel()
        with contextlib.suppress(ValueError, RuntimeError, NotImplementedError, AttributeError):
            asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
        await self.batcher.stop()

    def _on_sighup(self) -> None:
        task = asyncio.get_running_loop().create_task(self.reload("SIGHUP"))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def reload(self, how: str = "/admin/reload") -> tuple[bool, dict]:
        """Load the model file again and swap it in; a file that fails to load leaves the old one."""
        ok, detail = await self._reload()
        _log(f"model reloaded ({how})" if ok else f"reload failed ({how}), old model kept", detail)
        return ok, detail

    async def _reload(self) -> tuple[bool, dict]:
        from crftag.errors import CrftagError

        async with self._reload_lock:
            loop = asyncio.get_running_loop()
            try:
                new = await loop.run_in_executor(None, self._load)
            except (CrftagError, OSError) as exc:
                self.m_reloads.labels("failed").inc()
                return False, {"error": _one_line(exc), "kind": "reload_failed", **self.model_status()}
            except Exception as exc:  # anything else while loading: keep serving the old model
                self.m_reloads.labels("failed").inc()
                return False, {"error": _one_line(f"{type(exc).__name__}: {exc}"), "kind": "reload_failed",
                               **self.model_status()}
            self.model = new  # one reference: batches already running finish on the old model
            gc.unfreeze()  # let the collector free what only the old model still held, then
            gc.collect()  # freeze the new one out of its way
            gc.freeze()
            self._show_model(new)
            self.m_reloads.labels("ok").inc()
            return True, {"reloaded": True, **self.model_status()}

    def model_status(self) -> dict:
        m = self.model
        if m is None:
            reason = (f"the model failed to load: {self.failed}" if self.failed else
                      "loading the model and compiling its kernels (crftag warmup at build time "
                      "makes this seconds)")
            return {"ready": False, "reason": reason, "model": self.config.model,
                    "waited_s": round(time.time() - self.started_at, 1)}
        return {"ready": True, "model": m.path, "sha256": m.sha256,
                "loaded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(m.loaded_at))}


def _one_line(exc: object) -> str:
    return " ".join(str(exc).split())


def _log(message: str, detail: dict) -> None:
    print(json.dumps({"event": message, **detail}), file=sys.stderr, flush=True)


def encode(obj: Any) -> bytes:
    """JSON as ``crftag tag --output-format jsonl`` writes a line; a text holding lone surrogates
    (which JSON can carry, but UTF-8 cannot) falls back to \\u escapes."""
    text = json.dumps(obj, ensure_ascii=False)
    try:
        return (text + "\n").encode("utf-8")
    except UnicodeEncodeError:
        return (json.dumps(obj) + "\n").encode("ascii")


def _is_loopback(host: str | None) -> bool:
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
        elif not _is_loopback(request.client.host if request.client else None):
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
            except Exception as exc:  # a bug: still one line of JSON, and the server goes on
                kind = "internal"
                response = answer(500, {"error": _one_line(f"internal error: {type(exc).__name__}: {exc}"),
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
            client = request.client
            _log_access({"time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + "Z",
                         "client": f"{client.host}:{client.port}" if client else None,
                         "method": request.method, "path": request.url.path, "status": status,
                         "ms": round(seconds * 1000, 3), "texts": getattr(request.state, "texts", None),
                         "error": kind})

    async def http_error(request: Request, exc: HTTPException) -> Response:
        kind = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        path = request.url.path if request.url.path in routes else "other"
        _account(request, path, exc.status_code, kind, 0.0)
        return answer(exc.status_code, {"error": _one_line(f"{request.method} {request.url.path}: "
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
