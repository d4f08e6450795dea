"""Corpus statistics: what a labelled file holds, before anything is trained on it."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence

import numpy as np

from crftag.bio import chunks
from crftag.types import Sentence

START, END = "<s>", "</s>"


def length_histogram(lengths: Sequence[int], width: int = 5) -> list[dict]:
    """Sentence lengths in bins [lo, hi] of ``width`` tokens, from 1 to the longest."""
    if not lengths:
        return []
    top = max(lengths)
    bins = []
    for lo in range(1, top + 1, width):
        hi = lo + width - 1
        bins.append({"from": lo, "to": hi, "sentences": sum(lo <= n <= hi for n in lengths)})
    empty = sum(n == 0 for n in lengths)
    return ([{"from": 0, "to": 0, "sentences": empty}] if empty else []) + bins


def transitions(sentences: Sequence[Sentence]) -> tuple[list[str], list[str], np.ndarray]:
    """Tag-bigram counts within sentences, with ``<s>`` and ``</s>`` at the ends:
    (rows, columns, matrix[from, to]); rows add <s>, columns add </s>."""
    pairs = Counter((a, b) for s in sentences if s.tags
                    for a, b in zip([START, *s.tags], [*s.tags, END], strict=True))
    labels = sorted({t for s in sentences for t in s.tags}, key=lambda t: (t != "O", t[2:], t))
    rows, cols = [START, *labels], [*labels, END]
    matrix = np.zeros((len(rows), len(cols)), dtype=np.int64)
    for (a, b), k in pairs.items():
        matrix[rows.index(a), cols.index(b)] = k
    return rows, cols, matrix


def oov_rate(sentences: Sequence[Sentence], reference: Sequence[Sentence]) -> dict:
    """Share of tokens (and of distinct words) not seen in ``reference`` (case-sensitive)."""
    vocab = {t for s in reference for t in s.tokens}
    tokens = [t for s in sentences for t in s.tokens]
    types = set(tokens)
    return {"token_rate": 100 * sum(t not in vocab for t in tokens) / len(tokens) if tokens else 0.0,
            "type_rate": 100 * len(types - vocab) / len(types) if types else 0.0,
            "reference_vocabulary": len(vocab)}


def corpus_stats(sentences: Sequence[Sentence], reference: Sequence[Sentence] | None = None,
                 bin_width: int = 5) -> dict:
    """Counts, label and entity distributions, sentence lengths, tag transitions, OOV rate."""
    lengths = [len(s) for s in sentences]
    tags = Counter(t for s in sentences for t in s.tags)
    entities = Counter(t for s in sentences for t, _, _ in chunks(s.tags))
    rows, cols, matrix = transitions(sentences)
    out: dict = {
        "sentences": len(sentences), "tokens": sum(lengths),
        "sentences_with_entities": sum(bool(chunks(s.tags)) for s in sentences),
        "labels": dict(sorted(tags.items(), key=lambda kv: (-kv[1], kv[0]))),
        "entities": dict(sorted(entities.items(), key=lambda kv: (-kv[1], kv[0]))),
        "entities_total": sum(entities.values()),
        "length": {"min": min(lengths, default=0), "max": max(lengths, default=0),
                   "mean": statistics.fmean(lengths) if lengths else 0.0,
                   "median": statistics.median(lengths) if lengths else 0},
        "length_histogram": length_histogram(lengths, bin_width),
        "transitions": {"from": rows, "to": cols, "counts": matrix.tolist()},
    }
    if reference is not None:
        out["oov"] = oov_rate(sentences, reference)
    return out


