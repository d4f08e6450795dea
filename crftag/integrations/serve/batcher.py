"""Micro-batching: the texts of concurrent requests joined into one compiled call."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from crftag.integrations.serve.config import MAX_BATCH, MAX_QUEUE_TEXTS, MAX_WAIT_MS


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
