"""What a first pass's outputs say about a token, as feature keys.

For a stack group ``g`` with window offsets ``O`` and marginal bucket edges ``E``: token ``t``
sees, for each offset ``o`` in ``O`` whose token ``t + o`` is inside the sentence, the atoms
``g|LABEL`` and (with edges) ``g|LABEL|bB``, where LABEL is the first pass's label of token
``t + o`` and B the number of edges at most its marginal. Keys are made like every other
feature's (:func:`crftag.features.hashing.py_feature_key`), so training adds them to a
:class:`~crftag.features.featurize.Featurized` batch and the tagging pass adds their weight
rows (:mod:`crftag.stacking.kernel`): both read this module's definition.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numba import njit

from crftag.features.featurize import Featurized
from crftag.features.hashing import py_feature_key


def atom(group: str, label: str, bin_: int | None = None) -> str:
    return f"{group}|{label}" if bin_ is None else f"{group}|{label}|b{bin_}"


def key_tables(group: str, labels: Sequence[str], offsets: Sequence[int], n_edges: int) -> np.ndarray:
    """``keys[k, label, 0]``: the key of ``group|LABEL`` at offset ``offsets[k]``;
    ``keys[k, label, 1 + b]``: that of ``group|LABEL|bB`` (only with edges)."""
    width = 1 + (n_edges + 1 if n_edges else 0)
    keys = np.zeros((len(offsets), len(labels), width), dtype=np.uint64)
    for k, o in enumerate(offsets):
        for i, label in enumerate(labels):
            keys[k, i, 0] = py_feature_key(atom(group, label), o)
            for b in range(width - 1):
                keys[k, i, 1 + b] = py_feature_key(atom(group, label, b), o)
    return keys


def stack_keys(keys: np.ndarray, offsets: Sequence[int], n_edges: int, sent_ptr: np.ndarray,
               labels: np.ndarray, bins: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each token's stack keys from one first pass's ``labels`` and ``bins`` (flat over the batch,
    sentences at ``sent_ptr``): ``(keys, token_ptr)``."""
    return _stack_keys(keys, np.asarray(offsets, dtype=np.int64), n_edges > 0, sent_ptr, labels, bins)


@njit(cache=True)
def _stack_keys(table, offsets, with_bins, sent_ptr, labels, bins):
    n_tok = len(labels)
    per = len(offsets) * (2 if with_bins else 1)
    out = np.empty(n_tok * per, dtype=np.uint64)
    ptr = np.zeros(n_tok + 1, dtype=np.int64)
    n = 0
    for s in range(len(sent_ptr) - 1):
        a, b = sent_ptr[s], sent_ptr[s + 1]
        for t in range(a, b):
            for k in range(len(offsets)):
                j = t + offsets[k]
                if a <= j < b:
                    out[n] = table[k, labels[j], 0]
                    n += 1
                    if with_bins:
                        out[n] = table[k, labels[j], 1 + bins[j]]
                        n += 1
            ptr[t + 1] = n
    return out[:n], ptr


@njit(cache=True)
def _merge(keys, token_ptr, extra, extra_ptr):
    n_tok = len(token_ptr) - 1
    out = np.empty(len(keys) + len(extra), dtype=np.uint64)
    ptr = np.zeros(n_tok + 1, dtype=np.int64)
    n = 0
    for t in range(n_tok):
        for x in range(token_ptr[t], token_ptr[t + 1]):
            out[n] = keys[x]
            n += 1
        for x in range(extra_ptr[t], extra_ptr[t + 1]):
            out[n] = extra[x]
            n += 1
        ptr[t + 1] = n
    return out, ptr


def with_keys(X: Featurized, extra: np.ndarray, extra_ptr: np.ndarray) -> Featurized:
    """``X`` with each token's ``extra[extra_ptr[t]:extra_ptr[t + 1]]`` keys added after its own."""
    keys, ptr = _merge(X.keys, X.token_ptr, extra, extra_ptr)
    return Featurized(keys, ptr, X.sent_ptr, X.sentences)
