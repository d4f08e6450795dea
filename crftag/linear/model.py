"""The runtime model shared by the linear backends (CRF and SGD).

Both backends end up as the same arrays: sorted 64-bit feature keys, a sparse
weight row per key (CSR: only the labels a feature has a weight for), a
per-label bias, and label-to-label transition scores.
Tagging is featurise -> sum the weight rows of each token's keys (compiled) ->
Viterbi, with no call into the training library. For SGD the transitions are 0
where BIO allows a move and ``-inf`` where it does not (constrained decoding),
so its output is always valid BIO.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

import numpy as np
from numba import njit

from crftag.bundles import bundle
from crftag.features.hashing import bucket_offsets, find_key
from crftag.linear.decode import decode_and_score, forward_backward, make_chain, viterbi

if TYPE_CHECKING:
    from crftag.features.featurize import Featurized


Weights = bundle(
    "Weights",
    """A linear model's emission weights: sorted feature keys (bucketed, see
    :func:`crftag.features.hashing.bucket_offsets`), each key's sparse weight row (CSR: the labels it has
    a weight for), and a bias per label.""",
    keys=(np.uint64, 1), buckets=(np.int64, 1), shift=(np.int64, 0), row_ptr=(np.int64, 1),
    cols=(np.int32, 1), vals=(np.float64, 1), bias=(np.float64, 1))


@njit(nogil=True, cache=True, inline="always")
def add_row(out, t, rows, i):
    """``out[t] += rows[i]``: the one place a dense row (cached per-type scores, edge and
    constant-atom tables) is added to a token's scores."""
    for y in range(rows.shape[1]):
        out[t, y] += rows[i, y]


@njit(nogil=True, cache=True, inline="always")
def add_key(out, t, weights, key):
    """Add the weight row of feature ``key`` (if the model has one) to token ``t``'s scores.

    Rows are sparse: a model's non-zeros (about 40K for the default WNUT16 model, 0.5 MB)
    stay in the core's cache where dense rows (3.2 MB) do not, and skipping the zeros
    leaves every sum bit-identical."""
    i = find_key(weights.keys, weights.buckets, weights.shift, key)
    if i >= 0:
        for e in range(weights.row_ptr[i], weights.row_ptr[i + 1]):
            out[t, weights.cols[e]] += weights.vals[e]


@njit(nogil=True, cache=True)
def emission_scores(keys, token_ptr, weights):
    """Scores (tokens x labels): bias plus the weight rows of each token's known keys."""
    n_tok = len(token_ptr) - 1
    out = np.empty((n_tok, len(weights.bias)))
    for t in range(n_tok):
        out[t] = weights.bias
        for x in range(token_ptr[t], token_ptr[t + 1]):
            add_key(out, t, weights, keys[x])
    return out


def weight_row(weights: Weights, n_labels: int, key: int | np.uint64) -> np.ndarray:
    """The dense weight row of a feature key in ``weights`` (zeros where it has none)."""
    row = np.zeros(n_labels)
    i = int(np.searchsorted(weights.keys, np.uint64(key)))
    if i < len(weights.keys) and weights.keys[i] == np.uint64(key):
        a, b = weights.row_ptr[i], weights.row_ptr[i + 1]
        row[weights.cols[a:b]] = weights.vals[a:b]
    return row


def to_csr(rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, n_rows: int):
    """Coordinates (sorted by row, then column) to CSR arrays."""
    order = np.lexsort((cols, rows))
    rows, cols, vals = rows[order], cols[order], vals[order]
    row_ptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n_rows), out=row_ptr[1:])
    return row_ptr, cols.astype(np.int32), vals.astype(np.float64)


class LinearChainModel:
    """Linear emission scores plus first-order transitions, decoded by Viterbi."""

    #: what :meth:`token_probabilities` gives (reports say which kind of scores they rank)
    token_scores: ClassVar[str] = "CRF marginals"

    def __init__(self, labels: Sequence[str], feature_keys: np.ndarray, row_ptr: np.ndarray,
                 cols: np.ndarray, vals: np.ndarray, transitions: np.ndarray,
                 bias: np.ndarray | None = None, start: np.ndarray | None = None):
        self.labels = list(labels)
        n_labels = len(self.labels)
        self.feature_keys = np.ascontiguousarray(feature_keys, dtype=np.uint64)
        self.row_ptr = np.ascontiguousarray(row_ptr, dtype=np.int64)
        self.cols = np.ascontiguousarray(cols, dtype=np.int32)
        self.vals = np.ascontiguousarray(vals, dtype=np.float64)
        self.transitions = np.ascontiguousarray(transitions, dtype=np.float64)
        self.bias = np.zeros(n_labels) if bias is None else np.asarray(bias, dtype=np.float64)
        self.start = start
        # validate what a model file supplies before deriving anything from it
        if (len(self.row_ptr) != len(self.feature_keys) + 1 or len(self.cols) != len(self.vals)
                or self.row_ptr[-1] != len(self.vals) or transitions.shape != (n_labels, n_labels)
                or self.bias.shape != (n_labels,)
                or (start is not None and np.shape(start) != (n_labels,))
                or (len(self.cols) and (self.cols.min() < 0 or self.cols.max() >= n_labels))
                or np.any(np.diff(self.row_ptr) < 0)):
            raise ValueError("model arrays do not match the label and feature counts")
        if len(self.feature_keys) > 1 and not np.all(self.feature_keys[1:] > self.feature_keys[:-1]):
            raise ValueError("feature keys must be sorted and unique")
        start_scores = np.zeros(n_labels) if start is None else np.asarray(start, dtype=np.float64)
        self.chain = make_chain(self.labels, self.transitions, start_scores)
        self.weights = Weights(self.feature_keys, *bucket_offsets(self.feature_keys), self.row_ptr,
                               self.cols, self.vals, self.bias)

    @classmethod
    def from_dense(cls, labels: Sequence[str], feature_keys: np.ndarray, weights: np.ndarray,
                   transitions: np.ndarray, **kwargs) -> LinearChainModel:
        """Build from a dense (features x labels) weight matrix, keeping its non-zeros."""
        order = np.argsort(feature_keys, kind="stable")
        rows, cols = np.nonzero(weights[order])
        row_ptr, cols, vals = to_csr(rows, cols, weights[order][rows, cols], len(feature_keys))
        return cls(labels, feature_keys[order], row_ptr, cols, vals, transitions, **kwargs)

    def feature_row(self, key: int | np.uint64) -> np.ndarray:
        """The dense weight row of a feature key (zeros when the model has no weight for it)."""
        return weight_row(self.weights, len(self.labels), key)

    def emissions(self, keys: np.ndarray, token_ptr: np.ndarray) -> np.ndarray:
        return emission_scores(keys, token_ptr, self.weights)

    def decode(self, keys: np.ndarray, token_ptr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Label ids of one sentence (token t has keys[token_ptr[t]:token_ptr[t+1]]) and its
        emission scores."""
        emissions = self.emissions(keys, token_ptr)
        return viterbi(emissions, self.chain.transitions, self.chain.start), emissions

    def tag_and_score(self, keys: np.ndarray, token_ptr: np.ndarray) -> tuple:
        """(label ids, chunk starts, chunk ends, chunk probabilities) of one sentence."""
        return self.decode_emissions(self.emissions(keys, token_ptr))

    def decode_emissions(self, emissions: np.ndarray) -> tuple:
        """What :meth:`tag_and_score` returns, from a sentence's emission scores."""
        return decode_and_score(emissions, self.chain)

    def predict(self, keys: np.ndarray, token_ptr: np.ndarray) -> list[str]:
        """Labels of one sentence."""
        if len(token_ptr) <= 1:
            return []
        labels = self.labels
        return [labels[i] for i in self.decode(keys, token_ptr)[0].tolist()]

    def predict_batch(self, X: Featurized) -> list[list[str]]:
        """Labels of every sentence of a featurised batch."""
        return [self.predict(X.keys, X.tokens(i)) for i in range(len(X))]

    def analyse_batch(self, X: Featurized) -> list[tuple | None]:
        """:meth:`tag_and_score` of every non-empty sentence of a batch (empty ones: None)."""
        return [self.tag_and_score(X.keys, X.tokens(i)) if len(X.tokens(i)) > 1 else None
                for i in range(len(X))]

    def marginals(self, emissions: np.ndarray) -> np.ndarray:
        """P(label | sentence) per token (tokens x labels)."""
        alpha, beta, _ = forward_backward(emissions, self.chain.exp_transitions, self.chain.start)
        return alpha * beta

    def token_probabilities(self, X: Featurized) -> list[np.ndarray]:
        """Per sentence, a probability per label for each token (tokens x labels): the CRF's
        marginals. Used for token-level ROC/PR-AUC."""
        return [self.marginals(self.emissions(X.keys, X.tokens(i))) if len(X.tokens(i)) > 1
                else np.zeros((0, len(self.labels))) for i in range(len(X))]

    # -- storage: arrays only ---------------------------------------------------
    def to_arrays(self) -> dict[str, np.ndarray]:
        arrays = {"feature_keys": self.feature_keys, "row_ptr": self.row_ptr, "cols": self.cols,
                  "vals": self.vals, "transitions": self.transitions, "bias": self.bias}
        if self.start is not None:
            arrays["start"] = self.start
        return arrays

    @classmethod
    def from_arrays(cls, labels: Sequence[str], arrays: dict[str, np.ndarray]) -> LinearChainModel:
        return cls(labels, arrays["feature_keys"], arrays["row_ptr"], arrays["cols"], arrays["vals"],
                   arrays["transitions"], bias=arrays["bias"], start=arrays.get("start"))


def average(models: Sequence[LinearChainModel]) -> LinearChainModel:
    """One linear model whose weights are the mean of several (a feature a model lacks counts as
    zero there): bagging that tags as fast as one model. Labels are matched by name."""
    if not all(isinstance(m, LinearChainModel) for m in models):
        from crftag.errors import CrftagError

        raise CrftagError("only linear models (crf, sgd) can be averaged into one")
    labels = models[0].labels
    if any(sorted(m.labels) != sorted(labels) for m in models):
        raise ValueError("averaged models must have the same labels")
    keys = np.unique(np.concatenate([m.feature_keys for m in models]))
    n_lab = len(labels)
    weights = np.zeros((len(keys), n_lab))
    transitions = np.zeros((n_lab, n_lab))
    bias = np.zeros(n_lab)
    start = np.zeros(n_lab)
    for m in models:
        order = np.array([m.labels.index(lab) for lab in labels])  # our label i is its order[i]
        rows = np.searchsorted(keys, m.feature_keys)
        dense = np.zeros((len(m.feature_keys), n_lab))
        dense[np.repeat(np.arange(len(m.feature_keys)), np.diff(m.row_ptr)), m.cols] = m.vals
        weights[rows] += dense[:, order]
        transitions += m.transitions[np.ix_(order, order)]
        bias += m.bias[order]
        start += m.chain.start[order]
    k = len(models)
    has_start = any(m.start is not None for m in models)
    return type(models[0]).from_dense(labels, keys, weights / k, transitions / k, bias=bias / k,
                                       start=start / k if has_start else None)
