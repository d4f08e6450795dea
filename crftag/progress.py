"""Progress bars on long work, drawn on stderr, silent when not on a terminal."""

from __future__ import annotations

import contextlib
import sys
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
def progress_bar(length: int | None, label: str, enabled: bool = True) -> Iterator:
    """A click progress bar on stderr when ``enabled`` and interactive, else a no-op."""
    if not (enabled and interactive()):
        yield _Silent()
        return
    with click.progressbar(length=length, label=label, file=sys.stderr,
                           show_pos=True, show_eta=True) as bar:
        yield bar


def status(message: str) -> None:
    """One line on standard error saying what a long command is doing, on a terminal only (a
    bar follows when the work can be counted)."""
    if sys.stderr.isatty():
        click.echo(f"crftag: {message}", err=True)


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
