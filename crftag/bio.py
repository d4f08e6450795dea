"""BIO tag handling: validation, chunking exactly as conlleval does, constraints.

conlleval's chunk rules are the reference for what an "entity" is everywhere in
crftag (evaluation, ``Tagger.tag``, writers), so a span the tagger reports is a
span the evaluation counts. In particular an ``I-X`` that follows ``O`` or a
different type starts a new chunk, as conlleval does.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

OUTSIDE = "O"
_TAG_RE = re.compile(r"^(?:O|[BI]-\S+)$")


def is_valid_tag(tag: str) -> bool:
    """True for ``O``, ``B-TYPE`` and ``I-TYPE``."""
    return _TAG_RE.match(tag) is not None


def split_tag(tag: str) -> tuple[str, str]:
    """``'B-person'`` -> ``('B', 'person')``; ``'O'`` -> ``('O', '')`` (conlleval's split)."""
    prefix, sep, kind = tag.partition("-")
    return (prefix, kind) if sep else (tag, "")


def strip_type(tag: str) -> str:
    """``'B-person'`` -> ``'B'``: the segmentation-only ("no types") view of a tag."""
    return split_tag(tag)[0]


# Tag pairs (previous, current) at which the CoNLL-2000 conlleval script
# (version 2004-01-26) sees a chunk end or start. Besides BIO it knows E and the
# one-token chunks "[" and "]"; "." is neutral.
_END_PAIRS = frozenset({("B", "B"), ("B", OUTSIDE), ("I", "B"), ("I", OUTSIDE),
                        ("E", "E"), ("E", "I"), ("E", OUTSIDE)})
_START_PAIRS = frozenset({("B", "B"), ("I", "B"), (OUTSIDE, "B"), (OUTSIDE, "I"),
                          ("E", "E"), ("E", "I"), (OUTSIDE, "E")})


def chunk_end(prev_tag: str, tag: str, prev_type: str, type_: str) -> bool:
    """conlleval's endOfChunk: did a chunk end between the previous and this token?"""
    return ((prev_tag, tag) in _END_PAIRS
            or (prev_tag not in (OUTSIDE, ".") and prev_type != type_)
            or prev_tag in ("]", "["))


def chunk_start(prev_tag: str, tag: str, prev_type: str, type_: str) -> bool:
    """conlleval's startOfChunk: did a chunk start at this token?"""
    return ((prev_tag, tag) in _START_PAIRS
            or (tag not in (OUTSIDE, ".") and prev_type != type_)
            or tag in ("[", "]"))


def chunks(tags: Sequence[str]) -> list[tuple[str, int, int]]:
    """Entity chunks ``(type, token_start, token_end)`` (end exclusive) of one sentence."""
    result: list[tuple[str, int, int]] = []
    prev_tag, prev_type = OUTSIDE, ""
    start = -1
    for i, full in enumerate(tags):
        tag, type_ = split_tag(full)
        if start >= 0 and chunk_end(prev_tag, tag, prev_type, type_):
            result.append((prev_type, start, i))
            start = -1
        if chunk_start(prev_tag, tag, prev_type, type_):
            start = i
        prev_tag, prev_type = tag, type_
    if start >= 0:
        result.append((prev_type, start, len(tags)))
    return result


def allowed_transitions(labels: Sequence[str]) -> np.ndarray:
    """Boolean matrix ``[from, to]``: may ``to`` follow ``from`` in valid BIO?

    ``I-X`` may only follow ``B-X`` or ``I-X``; everything else is free.
    """
    n = len(labels)
    allowed = np.ones((n, n), dtype=bool)
    for j, to in enumerate(labels):
        prefix, kind = split_tag(to)
        if prefix == "I":
            for i, frm in enumerate(labels):
                allowed[i, j] = split_tag(frm)[1] == kind and split_tag(frm)[0] in ("B", "I")
    return allowed


def allowed_starts(labels: Sequence[str]) -> np.ndarray:
    """Boolean vector: may a sentence start with this label? (not with ``I-``)."""
    return np.array([split_tag(t)[0] != "I" for t in labels], dtype=bool)


def to_bioes(tags: Sequence[str]) -> list[str]:
    """BIO tags as BIOES: the last token of a chunk ``E-``, a one-token chunk ``S-``.

    Chunks are conlleval's (:func:`chunks`), so an ``I-X`` after ``O`` starts one.
    """
    out = [OUTSIDE] * len(tags)
    for kind, start, end in chunks(tags):
        if end - start == 1:
            out[start] = f"S-{kind}"
            continue
        out[start] = f"B-{kind}"
        out[start + 1:end - 1] = [f"I-{kind}"] * (end - start - 2)
        out[end - 1] = f"E-{kind}"
    return out


def from_bioes(tags: Sequence[str]) -> list[str]:
    """BIOES tags as BIO (``S-`` -> ``B-``, ``E-`` -> ``I-``), tag by tag."""
    return [f"{'B' if p == 'S' else 'I' if p == 'E' else p}-{k}" if k else p
            for p, k in map(split_tag, tags)]
