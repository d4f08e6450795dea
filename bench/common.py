"""Helpers the benchmark scripts share (imported as ``common``: each script runs from bench/)."""

from __future__ import annotations

from collections.abc import Sequence


def rss_mb(pid: int | str = "self") -> float:
    """A process's resident memory now, in MB (VmRSS); this process's by default."""
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def first_tokens(sentences: Sequence[Sequence[str]], n_tokens: int) -> tuple[list, int]:
    """The leading sentences holding at least ``n_tokens`` tokens (all of them if fewer), and
    how many tokens they hold."""
    sample, count = [], 0
    for s in sentences:
        if count >= n_tokens:
            break
        sample.append(s)
        count += len(s)
    return sample, count
