"""A model's first passes: their linear-chain models, stored in the model file and packed for the
tagging pass.

Each stack group of a feature set has one :class:`FirstPass`: the group's parameters, a
:class:`~crftag.linear.model.LinearChainModel` over the same features as the model, and a record
of the data it was trained on. A model file keeps each first pass's arrays under
``stk<i>_`` (validated like the model's own: :func:`crftag.modelcheck.check_stack`) and its
labels and record in ``meta["stack"]``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from crftag.features.featurize import Featurized
from crftag.features.hashing import bucket_offsets
from crftag.linear.model import LinearChainModel, Weights, to_csr, weight_row
from crftag.modelcheck import stack_prefix
from crftag.stacking.features import key_tables, stack_keys, with_keys
from crftag.stacking.kernel import Stacks, path_and_marginals

Outputs = tuple[np.ndarray, np.ndarray]  # one sentence's label ids and marginal buckets


@dataclass
class FirstPass:
    """One stack group's first pass: the tagger whose outputs on a sentence become its features."""

    group: str
    params: dict  # the stack group's parameters (window, bins, corpora, scheme, folds)
    model: LinearChainModel
    record: dict = field(default_factory=dict)  # what it was trained on

    def outputs(self, X: Featurized) -> list[Outputs]:
        """Per sentence of a featurised batch: the label ids and marginal buckets of this first pass
        (the plain path, for training; the tagging pass computes the same in compiled code)."""
        m, chain = self.model, self.model.chain
        edges = np.asarray(self.params["bins"], dtype=np.float64)
        out = []
        for i in range(len(X)):
            em = m.emissions(X.keys, X.tokens(i))
            path = np.zeros(len(em), dtype=np.int64)
            probs = np.zeros(len(em))
            path_and_marginals(em, chain.transitions, chain.start, chain.exp_transitions, chain.dominance,
                               path, probs, len(edges) > 0)
            out.append((path, np.searchsorted(edges, probs, side="right").astype(np.int64)))
        return out


class Stack:
    """The first passes of one model, in the order of its feature set's stack groups."""

    def __init__(self, passes: Sequence[FirstPass]):
        self.passes = list(passes)

    def __len__(self) -> int:
        return len(self.passes)

    def outputs(self, X: Featurized) -> list[list[Outputs]]:
        """Per sentence, per first pass: (label ids, buckets)."""
        per_pass = [p.outputs(X) for p in self.passes]
        return [list(o) for o in zip(*per_pass, strict=True)] if per_pass else [[] for _ in range(len(X))]

    def add_features(self, X: Featurized, outputs: Sequence[Sequence[Outputs]]) -> Featurized:
        """``X`` with the stack keys that ``outputs`` (per sentence, per first pass) make."""
        for i, fp in enumerate(self.passes):
            labels = np.concatenate([o[i][0] for o in outputs] or [np.zeros(0, np.int64)])
            bins = np.concatenate([o[i][1] for o in outputs] or [np.zeros(0, np.int64)])
            offsets = fp.params["window"]
            n_edges = len(fp.params["bins"])
            table = key_tables(fp.group, fp.model.labels, offsets, n_edges)
            extra, ptr = stack_keys(table, offsets, n_edges, X.sent_ptr, labels, bins)
            X = with_keys(X, extra, ptr)
        return X

    def featurize(self, X: Featurized) -> Featurized:
        """``X`` with the features of the first passes' own outputs on it (new text, dev data)."""
        return self.add_features(X, self.outputs(X))

    # -- storage -------------------------------------------------------------------------------
    def meta(self) -> dict:
        return {"passes": [{"group": p.group, "labels": list(p.model.labels), "record": p.record}
                           for p in self.passes]}

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {stack_prefix(i) + name: arr for i, p in enumerate(self.passes)
                for name, arr in p.model.to_arrays().items()}

    @classmethod
    def from_arrays(cls, groups: Mapping[str, dict], meta: Mapping[str, Any],
                    arrays: Mapping[str, np.ndarray]) -> Stack:
        """The stack of a validated model file (``groups``: its feature set's stack groups)."""
        passes = []
        for i, (entry, (name, params)) in enumerate(zip(meta.get("passes", []), groups.items(), strict=True)):
            p = stack_prefix(i)
            own = {k[len(p):]: v for k, v in arrays.items() if k.startswith(p)}
            passes.append(FirstPass(name, params, LinearChainModel.from_arrays(entry["labels"], own),
                                    entry.get("record", {})))
        return cls(passes)

    # -- the tagging pass ---------------------------------------------------------------------
    def wide(self, model: LinearChainModel) -> tuple[WideModel, Stacks | None]:
        """The model's and the first passes' weights side by side (one cached row per token type
        serves them all), and the packed first passes (None without)."""
        if not self.passes:
            return WideModel.of([model], model), None
        wide = WideModel.of([model, *(p.model for p in self.passes)], model)
        n_main = len(model.labels)
        cols, lab_ptr, sq_ptr = [], [0], [0]
        col = n_main
        for p in self.passes:
            cols.append(col)
            col += len(p.model.labels)
            lab_ptr.append(lab_ptr[-1] + len(p.model.labels))
            sq_ptr.append(sq_ptr[-1] + len(p.model.labels) ** 2)
        n_off = max(len(p.params["window"]) for p in self.passes)
        n_lab = max(len(p.model.labels) for p in self.passes)
        n_edges = max(len(p.params["bins"]) for p in self.passes)
        offsets = np.zeros((len(self.passes), n_off), dtype=np.int64)
        edges = np.zeros((len(self.passes), n_edges))
        rows = np.zeros((len(self.passes), n_off, n_lab, n_edges + 2, n_main))
        for s, p in enumerate(self.passes):
            window, bins = p.params["window"], p.params["bins"]
            offsets[s, :len(window)] = window
            edges[s, :len(bins)] = bins
            keys = key_tables(p.group, p.model.labels, window, len(bins))
            for idx in np.ndindex(*keys.shape):
                rows[s][idx] = model.feature_row(int(keys[idx]))
        chains = [p.model.chain for p in self.passes]
        stacks = Stacks(cols, [len(p.model.labels) for p in self.passes], lab_ptr,
                        np.concatenate([c.start for c in chains]), sq_ptr,
                        np.concatenate([c.transitions.ravel() for c in chains]),
                        np.concatenate([c.exp_transitions.ravel() for c in chains]),
                        np.concatenate([c.dominance.ravel() for c in chains]), offsets,
                        [len(p.params["window"]) for p in self.passes], edges,
                        [len(p.params["bins"]) for p in self.passes], rows, n_main)
        return wide, stacks


class WideModel:
    """Several linear models' emission weights side by side (the first model's labels first), with
    the first model's chain: what the type-score cache sums per token type."""

    def __init__(self, labels: list[str], weights: Weights, chain):
        self.labels = labels
        self.weights = weights
        self.chain = chain

    @classmethod
    def of(cls, models: Sequence[LinearChainModel], main: LinearChainModel) -> WideModel:
        if len(models) == 1:
            return cls(list(main.labels), main.weights, main.chain)
        keys = np.unique(np.concatenate([m.feature_keys for m in models]))
        rows, cols, vals, labels, bias = [], [], [], [], []
        for m in models:
            at = np.searchsorted(keys, m.feature_keys)
            rows.append(np.repeat(at, np.diff(m.row_ptr)))
            cols.append(m.cols.astype(np.int64) + len(labels))
            vals.append(m.vals)
            labels += m.labels
            bias.append(m.bias)
        row_ptr, col, val = to_csr(np.concatenate(rows), np.concatenate(cols), np.concatenate(vals),
                                   len(keys))
        weights = Weights(keys, *bucket_offsets(keys), row_ptr, col, val, np.concatenate(bias))
        return cls(labels, weights, main.chain)

    def feature_row(self, key: int | np.uint64) -> np.ndarray:
        """The wide weight row of a feature key (zeros where no model has a weight)."""
        return weight_row(self.weights, len(self.labels), key)

