"""Progress bars on long work, drawn on stderr, silent when not on a terminal."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

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
