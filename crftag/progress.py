"""Progress bars on long work, drawn on stderr, silent when not on a terminal."""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import click


def interactive() -> bool:
    """True when both stdout and stderr are terminals (bars would be seen, not logged)."""
    return sys.stdout.isatty() and sys.stderr.isatty()


class _Silent:
    def update(self, n: int) -> None:
        pass


@contextlib.contextmanager
def progress_bar(length: int | None, label: str, enabled: bool | TrainingBar = True) -> Iterator:
    """A click progress bar on stderr when ``enabled`` and interactive, else a no-op. A
    :class:`TrainingBar` passed as ``enabled`` is used itself (its work phase begins now)."""
    if isinstance(enabled, TrainingBar):
        enabled.begin(length, label)
        yield enabled
        return
    if not (enabled and interactive()):
        yield _Silent()
        return
    with click.progressbar(length=length, label=label, file=sys.stderr,
                           show_pos=True, show_eta=True) as bar:
        yield bar


class TagProgress:
    """``crftag tag``'s report on a terminal (standard error): a bar of the input files' bytes
    while tagging, then one summary line. Silent when standard error is not a terminal."""

    def __init__(self, total_bytes: int | None, enabled: bool = True):
        self.enabled = enabled and sys.stderr.isatty()
        self.total = total_bytes
        self.bytes = self.sentences = 0
        self._bar: Any = None
        self._t0 = time.perf_counter()

    def __enter__(self) -> TagProgress:
        if self.enabled and self.total:
            self._bar = click.progressbar(length=self.total, label="tagging", file=sys.stderr,
                                          show_eta=True, show_percent=True)
            self._bar.__enter__()
        return self

    def advance(self, n: int) -> None:
        """``n`` more bytes of input read."""
        self.bytes += n
        if self._bar is not None:
            self._bar.update(n)

    def __exit__(self, kind: Any, value: Any, tb: Any) -> None:
        if self._bar is not None:
            self._bar.__exit__(kind, value, tb)
        if self.enabled and kind is None:
            seconds = time.perf_counter() - self._t0
            mb = self.bytes / 1e6
            click.echo(f"crftag: tagged {self.sentences:,} sentences ({mb:,.1f} MB) in {seconds:.1f} s"
                       f" ({mb / max(seconds, 1e-9):,.2f} MB/s)", err=True)


class TrainingBar:
    """``crftag train``'s bar, on standard error from the start of the command: while the data,
    resources and features are prepared it shows the time spent; when the backend starts its
    iterations (epochs, grid cells) it counts them, with an ETA from their own pace only (the
    preparation does not inflate it). Passed to :func:`crftag.train` as ``progress``; a
    backend's :func:`progress_bar` picks it up. Silent when standard error is not a terminal."""

    def __init__(self, label: str = "training"):
        self.enabled = sys.stderr.isatty()
        self.label = label
        self.length: int | None = None
        self.done = 0
        self._t0 = self._work_t0 = time.monotonic()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def __bool__(self) -> bool:
        return True  # progress is wanted (a backend checks `if progress`)

    def __enter__(self) -> TrainingBar:
        if self.enabled:
            self._thread = threading.Thread(target=self._tick, daemon=True)
            self._thread.start()
        return self

    def begin(self, length: int | None, label: str) -> None:
        with self._lock:
            self.length, self.label, self.done = length, label, 0
            self._work_t0 = time.monotonic()
        self._draw()

    def update(self, n: int) -> None:
        with self._lock:
            self.done += n
        self._draw()

    def line(self) -> str:
        elapsed = time.monotonic() - self._t0
        if self.length is None:
            return f"{self.label}: preparing data and features... {elapsed:5.0f}s"
        width = 30
        frac = min(self.done / self.length, 1.0) if self.length else 1.0
        bar = "#" * int(frac * width) + "-" * (width - int(frac * width))
        pace = (time.monotonic() - self._work_t0) / self.done if self.done else None
        eta = f"  eta {pace * (self.length - self.done):4.0f}s" if pace is not None else ""
        return f"{self.label}  [{bar}]  {self.done}/{self.length}{eta}  ({elapsed:.0f}s in all)"

    def _draw(self) -> None:
        if self.enabled:
            sys.stderr.write("\r\x1b[K" + self.line())
            sys.stderr.flush()

    def _tick(self) -> None:
        while not self._stop.wait(0.5):
            self._draw()

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._draw()
            sys.stderr.write("\n")
            sys.stderr.flush()
