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

import numpy as np
from numba import njit

from crftag.decode import viterbi


def pack_strings(strings: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Strings as one UTF-8 byte array plus offsets (storable without pickle)."""
    encoded = [s.encode("utf-8", "surrogatepass") for s in strings]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(b) for b in encoded], out=offsets[1:])
    return np.frombuffer(b"".join(encoded), dtype=np.uint8).copy(), offsets


def unpack_strings(blob: np.ndarray, offsets: np.ndarray) -> list[str]:
    data = blob.tobytes()
    bounds = offsets.tolist()
    return [data[bounds[i]:bounds[i + 1]].decode("utf-8", "surrogatepass")
            for i in range(len(bounds) - 1)]


@njit(nogil=True, cache=True)
def emission_scores(keys, token_ptr, feature_keys, row_ptr, cols, vals, bias):
    """Scores (tokens x labels): bias plus the weight rows of each token's known keys."""
    n_tok = len(token_ptr) - 1
    out = np.empty((n_tok, len(bias)))
    n_feat = len(feature_keys)
    for t in range(n_tok):
        out[t] = bias
        for x in range(token_ptr[t], token_ptr[t + 1]):
            k = keys[x]
            i = np.searchsorted(feature_keys, k)
            if i < n_feat and feature_keys[i] == k:
                for y in range(row_ptr[i], row_ptr[i + 1]):
                    out[t, cols[y]] += vals[y]
    return out


def to_csr(rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, n_rows: int):
    """Coordinates (sorted by row, then column) to CSR arrays."""
    order = np.lexsort((cols, rows))
    rows, cols, vals = rows[order], cols[order], vals[order]
    row_ptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n_rows), out=row_ptr[1:])
    return row_ptr, cols.astype(np.int32), vals.astype(np.float64)


class LinearChainModel:
    """Linear emission scores plus first-order transitions, decoded by Viterbi."""

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
        if (len(self.row_ptr) != len(self.feature_keys) + 1 or len(self.cols) != len(self.vals)
                or self.row_ptr[-1] != len(self.vals) or transitions.shape != (n_labels, n_labels)
                or (len(self.cols) and (self.cols.min() < 0 or self.cols.max() >= n_labels))
                or np.any(np.diff(self.row_ptr) < 0)):
            raise ValueError("model arrays do not match the label and feature counts")
        if len(self.feature_keys) > 1 and not np.all(self.feature_keys[1:] > self.feature_keys[:-1]):
            raise ValueError("feature keys must be sorted and unique")

    @classmethod
    def from_dense(cls, labels: Sequence[str], feature_keys: np.ndarray, weights: np.ndarray,
                   transitions: np.ndarray, **kwargs) -> LinearChainModel:
        """Build from a dense (features x labels) weight matrix, keeping its non-zeros."""
        order = np.argsort(feature_keys, kind="stable")
        rows, cols = np.nonzero(weights[order])
        row_ptr, cols, vals = to_csr(rows, cols, weights[order][rows, cols], len(feature_keys))
        return cls(labels, feature_keys[order], row_ptr, cols, vals, transitions, **kwargs)

    def emissions(self, keys: np.ndarray, token_ptr: np.ndarray) -> np.ndarray:
        return emission_scores(keys, token_ptr, self.feature_keys, self.row_ptr, self.cols,
                               self.vals, self.bias)

    def predict(self, keys: np.ndarray, token_ptr: np.ndarray) -> list[str]:
        """Labels of one sentence whose token t has keys[token_ptr[t]:token_ptr[t+1]]."""
        if len(token_ptr) <= 1:
            return []
        path = viterbi(self.emissions(keys, token_ptr), self.transitions, self.start)
        labels = self.labels
        return [labels[i] for i in path]

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
