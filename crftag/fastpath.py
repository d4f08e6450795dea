"""The tagging fast path: per-token-type cached scores instead of per-feature lookups.

A token's window features at offset k depend only on the token at that offset,
so for a given model their summed weight rows are a fixed vector per (token
type, offset). :class:`TypeScores` computes that vector once per distinct token
(when the featuriser first sees it) and the kernel here builds a sentence's
emission scores from K cached vectors per token, plus lookups only for the
position-dependent features (gazetteer matches, conjunctions). Then Viterbi,
conlleval chunks and their probabilities, all in one compiled call.

Sums are grouped per offset here, so the last bits of a score can differ from
the feature-by-feature sum of :meth:`LinearChainModel.decode` (the path whose
labels equal crfsuite's exactly); tests check both paths give the same labels.
"""

from __future__ import annotations

import threading

import numpy as np
from numba import njit

from crftag.decode import decode_and_score, viterbi
from crftag.featurize import Featurizer, _gaz_marks, lowest_bit
from crftag.hashing import find_key, py_splitmix64, splitmix64
from crftag.model import LinearChainModel


@njit(nogil=True, cache=True)
def _type_scores(key_ptr, type_keys, first, stop, n_off, feature_keys, buckets, shift, weights):
    """Summed weight rows of the keys of types [first, stop) at each offset."""
    n_lab = weights.shape[1]
    out = np.zeros((stop - first, n_off, n_lab))
    for ty in range(first, stop):
        for k in range(n_off):
            slot = ty * n_off + k
            for x in range(key_ptr[slot], key_ptr[slot + 1]):
                i = find_key(feature_keys, buckets, shift, type_keys[x])
                if i >= 0:
                    for y in range(n_lab):
                        out[ty - first, k, y] += weights[i, y]
    return out


@njit(nogil=True, cache=True)
def _add_key(out, t, key, feature_keys, buckets, shift, weights):
    i = find_key(feature_keys, buckets, shift, key)
    if i >= 0:
        for y in range(weights.shape[1]):
            out[t, y] += weights[i, y]


@njit(nogil=True, cache=True)
def _emissions(ids, a, b, scores, bos_scores, eos_scores, offsets, boundaries, tok_gaz, gaz_group,
               group_mask, gaz_keys, gaz_buckets, gaz_shift, gaz_masks, gaz_weights, conj,
               conj_offsets, conj_salts, bos_atom, eos_atom, feature_keys, buckets, shift, weights,
               bias):
    n_tok, n_off, n_lab, n_conj = b - a, len(offsets), len(bias), len(conj_offsets)
    out = np.empty((n_tok, n_lab))
    # gazetteer marks of this sentence only, indexed from its first token
    b_mask = np.zeros(n_tok, dtype=np.uint64)
    i_mask = np.zeros(n_tok, dtype=np.uint64)
    if gaz_group >= 0 and len(gaz_keys) > 0:
        _gaz_marks(tok_gaz, ids[a:b], 0, n_tok, gaz_keys, gaz_buckets, gaz_shift, gaz_masks,
                   np.zeros(64, dtype=np.int64), np.zeros(64, dtype=np.int64), b_mask, i_mask)
    for t in range(a, b):
        row = t - a
        for y in range(n_lab):
            out[row, y] = bias[y]
        for k in range(n_off):
            j = t + offsets[k]
            if j < a or j >= b:
                if boundaries:
                    edge = bos_scores if j < a else eos_scores
                    for y in range(n_lab):
                        out[row, y] += edge[k, y]
                continue
            ty = ids[j]
            for y in range(n_lab):
                out[row, y] += scores[ty, k, y]
            if gaz_group >= 0 and group_mask[gaz_group, k] and (b_mask[j - a] | i_mask[j - a]):
                for which in range(2):
                    m = b_mask[j - a] if which == 0 else i_mask[j - a]
                    while m:
                        low, lst = lowest_bit(m)
                        m ^= low
                        for y in range(n_lab):
                            out[row, y] += gaz_weights[k, which, lst, y]
        for c in range(n_conj):
            j1, j2 = t + conj_offsets[c, 0], t + conj_offsets[c, 1]
            h1 = bos_atom if j1 < a else eos_atom if j1 >= b else conj[ids[j1] * n_conj + c]
            h2 = bos_atom if j2 < a else eos_atom if j2 >= b else conj[ids[j2] * n_conj + c]
            _add_key(out, row, splitmix64(splitmix64(h1 ^ conj_salts[c]) ^ h2), feature_keys,
                     buckets, shift, weights)
    return out


@njit(nogil=True, cache=True)
def _labels(ids, sent_ptr, scores, bos_scores, eos_scores, offsets, boundaries, tok_gaz, gaz_group,
            group_mask, gaz_keys, gaz_buckets, gaz_shift, gaz_masks, gaz_weights, conj,
            conj_offsets, conj_salts, bos_atom, eos_atom, feature_keys, buckets, shift, weights,
            bias, transitions, start):
    """Viterbi labels of every sentence of a batch."""
    out = np.zeros(len(ids), dtype=np.int64)
    for s in range(len(sent_ptr) - 1):
        a, b = sent_ptr[s], sent_ptr[s + 1]
        if b > a:
            emissions = _emissions(ids, a, b, scores, bos_scores, eos_scores, offsets, boundaries,
                                   tok_gaz, gaz_group, group_mask, gaz_keys, gaz_buckets, gaz_shift,
                                   gaz_masks, gaz_weights, conj, conj_offsets, conj_salts,
                                   bos_atom, eos_atom, feature_keys, buckets, shift, weights, bias)
            out[a:b] = viterbi(emissions, transitions, start)
    return out


@njit(nogil=True, cache=True)
def _analyse(ids, sent_ptr, scores, bos_scores, eos_scores, offsets, boundaries, tok_gaz, gaz_group,
             group_mask, gaz_keys, gaz_buckets, gaz_shift, gaz_masks, gaz_weights, conj, conj_offsets,
             conj_salts, bos_atom, eos_atom, feature_keys, buckets, shift, weights, bias,
             transitions, start, exp_transitions, prefix, kind):
    """Every sentence of a batch in one call: emissions, Viterbi, chunks and their probabilities.

    Returns the label path of all tokens, the chunks' starts and ends (relative to
    their sentence) and probabilities, and chunk_ptr: sentence s owns chunks
    [chunk_ptr[s], chunk_ptr[s + 1]).
    """
    n_sent = len(sent_ptr) - 1
    paths = np.zeros(len(ids), dtype=np.int64)
    starts = np.empty(len(ids), dtype=np.int64)
    ends = np.empty(len(ids), dtype=np.int64)
    probs = np.empty(len(ids))
    chunk_ptr = np.zeros(n_sent + 1, dtype=np.int64)
    n = 0
    for s in range(n_sent):
        a, b = sent_ptr[s], sent_ptr[s + 1]
        if b > a:
            emissions = _emissions(ids, a, b, scores, bos_scores, eos_scores, offsets, boundaries,
                                   tok_gaz, gaz_group, group_mask, gaz_keys, gaz_buckets, gaz_shift,
                                   gaz_masks, gaz_weights, conj, conj_offsets, conj_salts, bos_atom,
                                   eos_atom, feature_keys, buckets, shift, weights, bias)
            path, st, en, pr = decode_and_score(emissions, transitions, start, exp_transitions,
                                                prefix, kind)
            paths[a:b] = path
            k = len(st)
            starts[n:n + k] = st
            ends[n:n + k] = en
            probs[n:n + k] = pr
            n += k
        chunk_ptr[s + 1] = n
    return paths, starts[:n], ends[:n], probs[:n], chunk_ptr


class TypeScores:
    """Per-type score cache of one (featuriser, model) pair, kept in step with the
    featuriser's type ids (rebuilt when the featuriser resets its cache)."""

    def __init__(self, featurizer: Featurizer, model: LinearChainModel):
        self.featurizer = featurizer
        self.model = model
        self._lock = threading.Lock()
        sp = featurizer.spec
        n_off, n_lab = len(sp.offsets), len(model.labels)
        self.bos, self.eos = (np.array([self._row(key) for key in edge]).reshape(n_off, n_lab)
                              for edge in (sp.bos, sp.eos))
        # weights of each gazetteer feature (offset, B/I, list), gathered into one small
        # table that stays in cache: no hashing and no scattered weight rows per token
        self.gaz_weights = np.array([[[self._row(py_splitmix64(int(atom) ^ int(sp.salts[k])))
                                       for atom in sp.gaz_atoms[:, which]] for which in range(2)]
                                     for k in range(n_off)]).reshape(n_off, 2, -1, n_lab)
        self._scores = np.zeros((1024, n_off, n_lab))
        self._n = 0
        self._generation = -1

    def _row(self, key: int) -> np.ndarray:
        """The weight row of one feature key (zeros when the model has none)."""
        i = self.model.feature_index(key)
        return self.model._dense[i] if i >= 0 else np.zeros(len(self.model.labels))

    def scores(self, snapshot: tuple) -> np.ndarray:
        """The cache covering every type id of a featuriser snapshot (computing new ones)."""
        key_ptr, type_keys, _, _, generation = snapshot
        n_types = (len(key_ptr) - 1) // len(self.featurizer.spec.offsets)
        with self._lock:
            if generation != self._generation:  # ids were renumbered: start a new array, so
                self._scores = np.zeros_like(self._scores)  # callers holding the old one stay right
                self._n, self._generation = 0, generation
            if n_types > self._n:
                m = self.model
                fresh = _type_scores(key_ptr, type_keys, self._n, n_types, self._scores.shape[1],
                                     m.feature_keys, m._buckets, m._shift, m._dense)
                if n_types > len(self._scores):
                    grown = np.zeros((max(n_types, 2 * len(self._scores)), *self._scores.shape[1:]))
                    grown[:self._n] = self._scores[:self._n]
                    self._scores = grown
                self._scores[self._n:n_types] = fresh
                self._n = n_types
            return self._scores

    def _kernel_args(self, scores: np.ndarray, snapshot: tuple) -> tuple:
        """The arrays :func:`_emissions` reads after the token range, in its order."""
        _, _, conj, tok_gaz, _ = snapshot
        sp, m, f = self.featurizer.spec, self.model, self.featurizer
        return (scores, self.bos, self.eos, sp.offsets, sp.boundaries, tok_gaz, sp.gaz_group,
                sp.group_mask, sp.gaz_keys, f.gaz_buckets, f.gaz_shift, sp.gaz_masks, self.gaz_weights,
                conj, sp.conj_offsets, sp.conj_salts, sp.bos_atom, sp.eos_atom,
                m.feature_keys, m._buckets, m._shift, m._dense, m.bias)

    def analyse(self, ids: np.ndarray, sent_ptr: np.ndarray, snapshot: tuple) -> list[tuple | None]:
        """Per sentence of a batch, what :meth:`LinearChainModel.tag_and_score` returns
        (label path, chunk starts and ends, chunk probabilities); None for an empty one."""
        m = self.model
        paths, starts, ends, probs, chunk_ptr = _analyse(
            ids, sent_ptr, *self._kernel_args(self.scores(snapshot), snapshot), m.transitions,
            m._start, m._exp_transitions, m._prefix, m._kind)
        out: list[tuple | None] = []
        for s in range(len(sent_ptr) - 1):
            a, b, c, d = sent_ptr[s], sent_ptr[s + 1], chunk_ptr[s], chunk_ptr[s + 1]
            out.append((paths[a:b], starts[c:d], ends[c:d], probs[c:d]) if b > a else None)
        return out

    def labels(self, ids: np.ndarray, sent_ptr: np.ndarray, snapshot: tuple) -> np.ndarray:
        """Label ids of every token of a batch (no confidences): the throughput path."""
        args = self._kernel_args(self.scores(snapshot), snapshot)
        return _labels(ids, sent_ptr, *args, self.model.transitions, self.model._start)
