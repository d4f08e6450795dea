"""One serving process's state: the model (loaded, warmed, reloaded all-or-nothing), the batcher,
the metrics, and the log lines."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import os
import signal
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from crftag.errors import CrftagError, ModelError
from crftag.integrations.batches import tag_items
from crftag.integrations.serve.batcher import MicroBatcher
from crftag.integrations.serve.config import ServeConfig, log_event
from crftag.integrations.serve.connections import ConnectionMetrics

STARTUP_FAILURE = 3  # uvicorn's exit status for a worker that could not start (uvicorn.config)

if TYPE_CHECKING:
    from crftag.tagger import Tagger

# -- the service --------------------------------------------------------------------------------------
@dataclass
class LoadedModel:
    tagger: Tagger
    path: str
    sha256: str
    loaded_at: float


def load_model(path: str, sha256: str | None = None, processes: int | None = 1) -> LoadedModel:
    """Load and warm up a model (numba's kernels loaded, caches primed) before it serves; with
    ``sha256``, a file with another digest is refused unread. ``processes`` > 1 (None: when the
    machine has several cores) compiles the tagging pass in a second process, started before the
    model loads (:func:`crftag.integrations.warmup.start_aside`)."""
    from crftag.integrations.warmup import start_aside, stop_aside, warm_up
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
    start_aside(processes)  # compiles while the model loads; ends with this process
    try:
        tagger = Tagger.load(path, sha256=sha256)  # a missing, bad or other file: ModelError, one line
        if digest is None:
            digest = digest_of_file()
    except BaseException:
        stop_aside()
        raise
    warm_up(tagger, ("api", "server"), processes=processes)  # nothing compiles on a request's time
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
        r.register(ConnectionMetrics())  # connections open, and closed by a limit
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
            # file on reload leaves the old workers serving. One that fails says why in one line
            # and exits with uvicorn's start-up failure status (raising would log a traceback).
            try:
                self._serve(await loop.run_in_executor(None, self._load))
            except Exception as exc:
                log_event("model failed to load; this worker is not started",
                          {"error": why(exc), "model": self.config.model, "pid": os.getpid()})
                os._exit(STARTUP_FAILURE)
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
            self.failed = why(result)
            log_event("model failed to load; stopping", {"error": self.failed, "model": self.config.model})
            os.kill(os.getpid(), signal.SIGTERM)  # uvicorn's own shutdown; the command exits 1
            return
        self._serve(result)
        log_event("ready", {"model": result.path, "sha256": result.sha256,
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
        """The configured model file, checked against the pinned sha256 when one is given. The
        first load of a single-process server compiles in two processes (an empty cache costs
        it most); a reload, or each of ``--workers N``, in its own."""
        first = self.model is None and self.config.workers == 1
        return load_model(self.config.model, self.config.model_sha256, processes=None if first else 1)

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
        log_event(f"model reloaded ({how})" if ok else f"reload failed ({how}), old model kept", detail)
        return ok, detail

    async def _reload(self) -> tuple[bool, dict]:
        from crftag.errors import CrftagError

        async with self._reload_lock:
            loop = asyncio.get_running_loop()
            try:
                new = await loop.run_in_executor(None, self._load)
            except (CrftagError, OSError) as exc:
                self.m_reloads.labels("failed").inc()
                return False, {"error": one_line(exc), "kind": "reload_failed", **self.model_status()}
            except Exception as exc:  # anything else while loading: keep serving the old model
                self.m_reloads.labels("failed").inc()
                return False, {"error": one_line(f"{type(exc).__name__}: {exc}"), "kind": "reload_failed",
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


def one_line(exc: object) -> str:
    return " ".join(str(exc).split())


def why(exc: BaseException) -> str:
    """One line for a failed load: crftag's own message, else the exception's type and text."""
    return one_line(exc if isinstance(exc, CrftagError) else f"{type(exc).__name__}: {exc}")
