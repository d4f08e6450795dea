"""Compile every kernel a model's tagging paths use, before the first request needs them.

numba compiles a kernel on its first call and keeps the machine code in its cache
(:mod:`crftag.jitcache` says where); a process that finds it there loads it in milliseconds.
On a fresh install (an image build, a new CI runner, a laptop after ``pip install``) the
cache is empty, and the first tweet would wait for the compiler. :func:`warm_up` makes the
calls that compile everything a model needs: the Python API, the bulk engine of ``crftag
tag`` and the server's batches, for ASCII and non-ASCII text, with and without confidences.
``crftag warmup -m MODEL`` runs it; run it once where the cache is built (an image's build
step, after ``pip install``), and every later process starts warm.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crftag.tagger import Tagger

# ASCII and non-ASCII text take different paths (one byte a character, or UTF-32 and the code
# point table); between them they reach every token class of the tokeniser
TEXTS = ("Warm-up: @crftag tags #tweets like this one in New York http://t.co/x :) 12,000 U.S. don't",
         "Zürich, 東京 & São Paulo \U0001f600 #café @ünï :-)")
PARTS = ("api", "bulk", "server")  # what callers warm: the server skips the bulk engine


def tokenizer() -> None:
    """The tokeniser's kernels (the largest, about a quarter of the compile time), for a process
    of their own: :func:`warm_up` compiles them beside the rest on a machine with several cores."""
    from crftag.text.tokenize import tokenize, tokenize_batch

    for text in TEXTS:
        tokenize(text)
    tokenize_batch(list(TEXTS))


def _api(tagger: Tagger) -> None:
    from crftag.types import Sentence

    # token lists first: their kernels compile while another process compiles the tokeniser's
    tagger.tag_tokens_batch([["Barack", "Obama"], ["Zoë", "à", "Paris"]])  # labels only
    list(tagger.tag_sentences([Sentence(text.split()) for text in TEXTS], 0.5))
    _join_aside()
    for text in (*TEXTS, "a lone surrogate \ud800"):
        tagger.tag(text)  # the one-sentence latency path, with confidences
        tagger.tag(text, min_confidence=0.5)
    tagger.tag_batch(TEXTS)
    tagger.tag_batch(TEXTS, min_confidence=0.5)


def _bulk(tagger: Tagger) -> None:
    """``crftag tag`` on text and CoNLL files into text and CoNLL, as its bulk engine runs it."""
    from crftag.io.bulk import tag_file
    from crftag.limits import MAX_LINE_BYTES, MAX_TOKENS
    from crftag.progress import TagProgress

    if tagger.type_cache is None:  # a model the bulk engine does not run (a neural backend)
        return
    limits = {"max_line_bytes": MAX_LINE_BYTES, "max_tokens": MAX_TOKENS}
    with tempfile.TemporaryDirectory(prefix="crftag-warmup-") as tmp:
        text = Path(tmp, "tweets.txt")
        text.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
        conll = Path(tmp, "tweets.conll")
        conll.write_text("".join("".join(f"{t}\n" for t in s.split()) + "\n" for s in TEXTS),
                         encoding="utf-8")
        for src, fmt in ((text, "text"), (conll, "conll")):
            for output_format in ("conll", "text"):
                for min_confidence in (None, 0.5):
                    with TagProgress(None, enabled=False) as progress:
                        tag_file(tagger, src, fmt, output_format, min_confidence, "utf-8", 1,
                                 io.StringIO(), limits, progress)


def _server(tagger: Tagger) -> None:
    """A batch as the server's micro-batcher makes one: texts and token lists, thresholds."""
    from crftag.integrations.batches import Item, tag_items

    tag_items(tagger, [*(Item(t, None, None, None) for t in TEXTS), Item(None, ["warm", "up"], 1, 0.5)])


_STEPS: dict[str, Callable[[Tagger], None]] = {"api": _api, "bulk": _bulk, "server": _server}
_ASIDE: list[subprocess.Popen] = []


def _join_aside() -> None:
    """Wait for the tokeniser's process, if one runs (whatever it did not finish, this one
    compiles: the cache is only ever a shortcut)."""
    while _ASIDE:
        proc = _ASIDE.pop()
        try:
            proc.wait(timeout=600)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def warm_up(tagger: Tagger, parts: tuple[str, ...] = PARTS, processes: int | None = None) -> dict[str, float]:
    """Run the calls of each part (``api``, ``bulk``, ``server``); the seconds each took.

    With ``processes`` > 1 (default: when the machine has several cores), the tokeniser is
    compiled in a second process meanwhile; each process saves what it compiled in numba's
    cache, and the other finds it there."""
    unknown = set(parts) - set(_STEPS)
    if unknown:
        raise ValueError(f"unknown warm-up part(s): {', '.join(sorted(unknown))}")
    if (processes or os.cpu_count() or 1) > 1:
        code = "from crftag.integrations.warmup import tokenizer; tokenizer()"
        _ASIDE.append(subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.DEVNULL,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    seconds = {}
    try:
        for part in parts:
            t0 = time.perf_counter()
            _STEPS[part](tagger)
            seconds[part] = time.perf_counter() - t0
    finally:
        _join_aside()
    return seconds
