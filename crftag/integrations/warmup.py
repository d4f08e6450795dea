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

import numpy as np

if TYPE_CHECKING:
    from crftag.tagger import Tagger

# ASCII and non-ASCII text take different paths (one byte a character, or UTF-32 and the code
# point table); between them they reach every token class of the tokeniser
TEXTS = ("Warm-up: @crftag tags #tweets like this one in New York http://t.co/x :) 12,000 U.S. don't",
         "Zürich, 東京 & São Paulo \U0001f600 #café @ünï :-)")
PARTS = ("api", "bulk", "server")  # what callers warm: the server skips the bulk engine


def tagging_pass() -> None:
    """The tagging pass (``tag_batch`` and every kernel under it: half the compile time), for a
    process of its own: :func:`warm_up` compiles it there while its own process loads the model
    and compiles the rest. numba types a kernel by its arguments' dtypes and shapes, never their
    values, so a model with no weights over the surface features compiles the very
    specialisation that every model without first passes uses."""
    from crftag.engine.typecache import TypeScoreCache
    from crftag.features.featureset import load_feature_set
    from crftag.features.featurize import Featurizer
    from crftag.linear.model import LinearChainModel

    model = LinearChainModel(["O", "B-x", "I-x"], np.zeros(0, np.uint64), np.zeros(1, np.int64),
                             np.zeros(0, np.int32), np.zeros(0), np.zeros((3, 3)))
    cache = TypeScoreCache(Featurizer(load_feature_set("surface")), model)
    tokens, sent_ptr = ["Zoë", "in", "Paris", "today"], np.array([0, 3, 4], dtype=np.int64)
    cache.labels(tokens, sent_ptr)
    cache.analyse(tokens, sent_ptr)


def model_free() -> None:
    """The decoder's kernels, the tokeniser's and the bulk engine's reading and writing: none
    depends on the model, so this process compiles them while the other compiles the tagging
    pass (the decoder first: that pass reaches it after the featuriser, and finds it cached)."""
    from crftag.linear.decode import decode_and_score, make_chain
    from crftag.text.tokenize import tokenize, tokenize_batch

    decode_and_score(np.zeros((2, 3)), make_chain(["O", "B-x", "I-x"], np.zeros((3, 3)), np.zeros(3)))
    for text in TEXTS:
        tokenize(text)
    tokenize_batch(list(TEXTS))
    _bulk_io()


def _bulk_io() -> None:
    """The bulk engine's reading, tokenising and writing, for text and CoNLL in and out."""
    from crftag.io.bulk import BlockTagger, Job, intern, read_blocks, tag_stream
    from crftag.limits import MAX_LINE_BYTES, MAX_TOKENS
    from crftag.text.chartable import code_point_table, code_points

    class NothingFound(BlockTagger):
        """A block tagger that tags every token O: its kernels without a model's."""

        def __init__(self, job: Job):  # no super().__init__: it reads a tagger's labels
            self.job, self.chars, self.outside = job, code_point_table(), 0
            self.names = ["O"]
            self.name_cps, self.name_ptr = code_points(self.names)
            self.label_type = np.full(1, -1, dtype=np.int64)

        def _tag(self, text, cps, starts, ends, sent_ptr):
            intern(cps, starts, ends)
            none = np.zeros(0, dtype=np.int64)
            return np.zeros(len(starts), dtype=np.int64), none, none.copy(), np.zeros(len(sent_ptr), np.int64)

    with tempfile.TemporaryDirectory(prefix="crftag-warmup-") as tmp:
        for src, fmt in _bulk_inputs(Path(tmp)):
            for output_format in ("conll", "text"):
                with open(src, "rb") as stream:
                    tag_stream(read_blocks(str(src), stream, "utf-8", max_line_bytes=MAX_LINE_BYTES),
                               NothingFound(Job(fmt, output_format, None, str(src), MAX_TOKENS)),
                               io.StringIO().write)


def _bulk_inputs(folder: Path) -> list[tuple[Path, str]]:
    """The warm-up texts as a text file and as a CoNLL file in ``folder``."""
    text = folder / "tweets.txt"
    text.write_text("\n".join(TEXTS) + "\n", encoding="utf-8")
    conll = folder / "tweets.conll"
    conll.write_text("".join("".join(f"{t}\n" for t in s.split()) + "\n" for s in TEXTS), encoding="utf-8")
    return [(text, "text"), (conll, "conll")]


def _api(tagger: Tagger) -> None:
    from crftag.types import Sentence

    tagger.tag_tokens_batch([["Barack", "Obama"], ["Zoë", "à", "Paris"]])  # labels only
    list(tagger.tag_sentences([Sentence(text.split()) for text in TEXTS], 0.5))
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
        for src, fmt in _bulk_inputs(Path(tmp)):
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


def start_aside(processes: int | None = None) -> None:
    """Start compiling :func:`tagging_pass` in a second process, when there are several cores
    (``processes``: default, the machine's) and it is not running yet. Each process saves what it
    compiles in numba's cache, and the other finds it there. Start it before loading the model:
    the synthetic model it compiles with needs nothing of the real one."""
    if _ASIDE or (processes or os.cpu_count() or 1) < 2:
        return
    code = f"from crftag.integrations.warmup import _aside_main; _aside_main({os.getpid()})"
    _ASIDE.append(subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))


def _aside_main(parent: int) -> None:
    """The second process: compile :func:`tagging_pass`, and end with the process that started
    it, however that one ends (killed, ``os._exit``, a server stopped by its orchestrator): on
    Linux the kernel kills it then (``PR_SET_PDEATHSIG``); elsewhere it ends on its own once
    compiled."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        ctypes.CDLL(None, use_errno=True).prctl(1, ctypes.c_ulong(signal.SIGKILL))  # 1: PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the parent ended before the line above took effect
            return
    from crftag.jitcache import lean_numba

    lean_numba()  # this process is crftag's: numba starts without the scipy it would import (0.3-0.4 s)
    tagging_pass()


def stop_aside() -> None:
    """End the second process now (the warm-up failed: what it compiled stays in the cache)."""
    while _ASIDE:
        proc = _ASIDE.pop()
        proc.kill()
        proc.wait()


def _join_aside() -> None:
    """Wait for the second process, if one runs (whatever it did not finish, this one
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

    With ``processes`` > 1 (default: when the machine has several cores), a second process
    compiles the tagging pass (:func:`start_aside`) while this one compiles the decoder, the
    tokeniser and the bulk engine's input and output (:func:`model_free`: step ``shared``); the
    parts then find their kernels in the cache (a model with first passes compiles its own pass
    here)."""
    unknown = set(parts) - set(_STEPS)
    if unknown:
        raise ValueError(f"unknown warm-up part(s): {', '.join(sorted(unknown))}")
    start_aside(processes)
    seconds = {}
    try:
        if _ASIDE:
            t0 = time.perf_counter()
            model_free()
            _join_aside()
            seconds["shared"] = time.perf_counter() - t0
        for part in parts:
            t0 = time.perf_counter()
            _STEPS[part](tagger)
            seconds[part] = time.perf_counter() - t0
    except BaseException:
        stop_aside()
        raise
    return seconds
