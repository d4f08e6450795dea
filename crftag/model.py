"""The runtime model shared by the linear backends (CRF and SGD).

Both backends end up as the same arrays: a weight per (feature, label), a
per-label bias, and label-to-label transition scores. Tagging is then
featurise -> sum the weight rows of the token's features -> Viterbi, with no
call into the training library. For SGD the transitions are 0 where BIO allows
a move and ``-inf`` where it does not (constrained decoding), so its output is
always valid BIO.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from crftag.decode import viterbi
from crftag.featurize import Features


def pack_strings(strings: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Strings as one UTF-8 byte array plus offsets (storable without pickle)."""
    encoded = [s.encode("utf-8") for s in strings]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(b) for b in encoded], out=offsets[1:])
    return np.frombuffer(b"".join(encoded), dtype=np.uint8).copy(), offsets


def unpack_strings(blob: np.ndarray, offsets: np.ndarray) -> list[str]:
    data = blob.tobytes()
    return [data[offsets[i]:offsets[i + 1]].decode("utf-8") for i in range(len(offsets) - 1)]


class LinearChainModel:
    """Linear emission scores plus first-order transitions, decoded by Viterbi."""

    def __init__(self, labels: Sequence[str], attributes: Sequence[str],
                 weights: np.ndarray, transitions: np.ndarray,
                 bias: np.ndarray | None = None, start: np.ndarray | None = None):
        self.labels = list(labels)
        self.attributes = list(attributes)
        n_labels = len(self.labels)
        if weights.shape != (len(self.attributes), n_labels) or transitions.shape != (n_labels, n_labels):
            raise ValueError("model arrays do not match the label and attribute counts")
        self.weights = weights
        self.transitions = transitions
        self.bias = np.zeros(n_labels) if bias is None else bias
        self.start = start
        self._index = {a: i for i, a in enumerate(self.attributes)}

    def emissions(self, features: Features) -> np.ndarray:
        """Per-token label scores: the sum of the weight rows of known features."""
        index = self._index
        scores = np.empty((len(features), len(self.labels)))
        for t, feats in enumerate(features):
            ids = [i for f in feats if (i := index.get(f)) is not None]
            scores[t] = self.weights[ids].sum(axis=0) + self.bias
        return scores

    def predict(self, features: Features) -> list[str]:
        path = viterbi(self.emissions(features), self.transitions, self.start)
        return [self.labels[i] for i in path]

    # -- storage: arrays only, sparse weights as coordinates -----------------
    def to_arrays(self) -> dict[str, np.ndarray]:
        rows, cols = np.nonzero(self.weights)
        blob, offsets = pack_strings(self.attributes)
        arrays = {
            "attr_blob": blob, "attr_offsets": offsets,
            "weight_rows": rows.astype(np.int32), "weight_cols": cols.astype(np.int16),
            "weight_values": self.weights[rows, cols],
            "transitions": self.transitions, "bias": self.bias,
        }
        if self.start is not None:
            arrays["start"] = self.start
        return arrays

    @classmethod
    def from_arrays(cls, labels: Sequence[str], arrays: dict[str, np.ndarray]) -> LinearChainModel:
        attributes = unpack_strings(arrays["attr_blob"], arrays["attr_offsets"])
        weights = np.zeros((len(attributes), len(labels)))
        weights[arrays["weight_rows"], arrays["weight_cols"]] = arrays["weight_values"]
        return cls(labels, attributes, weights, arrays["transitions"],
                   bias=arrays["bias"], start=arrays.get("start"))
