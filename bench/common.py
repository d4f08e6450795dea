"""Helpers the benchmark scripts share (imported as ``common``: each script runs from bench/)."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence


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


def novel_tweets(templates: list[list[str]], n: int, seed: int, share: float = 1 / 3,
                 ) -> Iterator[list[str]]:
    """``n`` tweets built from real ones, with about ``share`` of their tokens replaced by strings
    never seen before: new @users, #hashtags, URLs, numbers and misspelt words."""
    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyz"
    for i in range(n):
        toks = list(templates[i % len(templates)])
        for j, tok in enumerate(toks):
            if rng.random() < share:
                kind = rng.randrange(5)
                word = "".join(rng.choice(letters) for _ in range(rng.randint(3, 9)))
                toks[j] = (f"@{word}{i}", f"#{word.title()}{i}", f"http://t.co/{word}{i}", f"{i}{j}",
                           f"{tok[:3]}{word}{i}")[kind]
        yield toks


def novel_texts(templates: list[list[str]], n: int, seed: int) -> Iterator[str]:
    """A stream of mostly novel tweets, as the soak sends them: :func:`novel_tweets` (a third of
    the tokens never seen before) plus one more never-seen token each."""
    for i, toks in enumerate(novel_tweets(templates, n, seed)):
        yield " ".join(toks) + f" w{i}"
