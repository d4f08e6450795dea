"""The tagging fast path: per-token-type cached scores instead of per-feature lookups.

A token's window features at offset k depend only on the token at that offset,
so for a given model their summed weight rows are a fixed vector per (token
type, offset). :class:`TypeScoreCache` computes those vectors once per distinct
token, straight from its atoms (:mod:`crftag.atomize`), and the kernels here
build a sentence's emission scores from K cached vectors per token, plus
lookups only for the position-dependent features (gazetteer matches,
conjunctions). Then Viterbi, conlleval chunks and their probabilities, for a
whole batch in one compiled call.

The cache never stalls: it keeps two generations of bounded size. New types go
into the young one; a type found only in the old one is copied into the young
one (no recomputation); when the young generation is full it becomes the old
one and the previous old one is dropped. Arrays handed to a kernel are never
written again where that kernel reads, so threads share one cache safely.

Sums are grouped per offset here, so the last bits of a score can differ from
the feature-by-feature sum of :meth:`LinearChainModel.decode` (the path whose
labels equal crfsuite's exactly); tests check both paths give the same labels.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np
from numba import njit, types
from numba.experimental import structref

from crftag.atomize import TokenTypes, atomize
from crftag.bundles import bundle
from crftag.chartable import code_points, first_missing
from crftag.decode import find_chunks, score_chunks, viterbi_into
from crftag.featurize import Featurizer, TypeAtoms, conj_key, gaz_marks, gaz_unigrams, lowest_bit
from crftag.hashing import py_splitmix64, splitmix64
from crftag.model import LinearChainModel, add_key

#: Token types kept per cache generation (two generations are kept).
DEFAULT_CACHE_TYPES = 32_768

CachedTypes = bundle(
    "CachedTypes",
    """One cache generation: per slot, the summed weight rows of the type's atoms at each window
    offset (``scores[slot, k]``), its conjunction atoms, its gazetteer-token hash and where that
    token alone is in the gazetteer (``gaz_first``, -1 if not: a scan starts there).""",
    scores=(np.float64, 3), conj=(np.uint64, 2), gaz=(np.uint64, 1), gaz_first=(np.int64, 1))

EdgeScores = bundle(
    "EdgeScores",
    """Weight rows gathered once per model into small tables: per window offset, those of the
    BOS/EOS markers and of each gazetteer feature (``gaz[k, B or I, list]``), and per constant
    atom (casing flags, cluster prefixes...; see :attr:`crftag.atomize.FeatureTables.const_id`)
    those of its key at each offset (``atoms[id, k]``, zeros where its group does not look).""",
    bos=(np.float64, 2), eos=(np.float64, 2), gaz=(np.float64, 4), atoms=(np.float64, 3))


@structref.register
class ModelTablesType(types.StructRef):
    def preprocess_fields(self, fields):
        return tuple((name, types.unliteral(typ)) for name, typ in fields)


class ModelTables(structref.StructRefProxy):
    """Everything a tagging kernel reads of one model, by name: the featuriser's ``tables``,
    ``window`` and gazetteer (``gaz``), the model's ``edges``, ``weights`` and ``chain``.

    The fields are the named tuples of arrays the kernels use; holding them in one numba
    StructRef means a call passes one pointer instead of unboxing some 40 arrays (about 11 us
    a call, more than tagging a tweet costs)."""


structref.define_proxy(ModelTables, ModelTablesType, ["tables", "window", "gaz", "edges", "weights", "chain"])


@njit(cache=True)
def model_tables(tables, window, gaz, edges, weights, chain):
    return ModelTables(tables, window, gaz, edges, weights, chain)


@njit(nogil=True, cache=True)
def fill_types(atoms, window, gaz, weights, edges, slots, cached):
    """Write the scores, conjunction atoms and gazetteer hash of each type ``i`` of ``atoms``
    into ``cached`` at ``slots[i]``.

    A constant atom's rows come from ``edges.atoms`` (one small table that stays in cache), the
    others' from the model; either way the same values are added in the same order."""
    n_off = len(window.offsets)
    for ty in range(len(slots)):
        slot = slots[ty]
        out = cached.scores[slot]
        out[:] = 0.0
        for k in range(n_off):
            for x in range(atoms.ptr[ty], atoms.ptr[ty + 1]):
                if window.group_mask[atoms.group[x], k]:
                    atom = atoms.id[x]
                    if atom >= 0:
                        for y in range(out.shape[1]):
                            out[k, y] += edges.atoms[atom, k, y]
                    else:
                        add_key(out, k, weights, splitmix64(atoms.hash[x] ^ window.salts[k]))
        cached.conj[slot] = atoms.conj[ty]
        cached.gaz[slot] = atoms.gaz[ty]
    first = gaz_unigrams(atoms.gaz, gaz)
    for ty in range(len(slots)):
        cached.gaz_first[slots[ty]] = first[ty]


@njit(nogil=True, cache=True)
def score_types(buffers, chars, m, slots, cached):
    """Atoms (:func:`crftag.atomize.atomize`) and cached scores of new token types, in one call.

    Returns -1, or a code-point page the types need that ``chars`` lacks (build it and call
    again): checking here saves the two calls a separate check would cost."""
    p = first_missing(buffers.cps, chars.index)
    if p < 0:
        p = first_missing(buffers.low, chars.index)
    if p >= 0:
        return p
    window = m.window
    atom_hash, atom_group, atom_id, atom_ptr, conj, gaz_hash = atomize(buffers, m.tables, chars,
                                                                       window.conj_group)
    fill_types(TypeAtoms(atom_hash, atom_group, atom_id, atom_ptr, conj, gaz_hash), window, m.gaz,
               m.weights, m.edges, slots, cached)
    return -1


@njit(nogil=True, cache=True)
def _atom_rows(tables, window, weights):
    """``EdgeScores.atoms``: each constant atom's weight rows at the offsets its group sees."""
    out = np.zeros((len(tables.id_hash), len(window.offsets), len(weights.bias)))
    for i in range(len(tables.id_hash)):
        for k in range(len(window.offsets)):
            if window.group_mask[tables.id_group[i], k]:
                add_key(out[i], k, weights, splitmix64(tables.id_hash[i] ^ window.salts[k]))
    return out


@njit(nogil=True, cache=True, inline="always")
def _emissions(ids, a, b, cached, window, gaz, edges, weights, out, work):
    """Emission scores of the sentence ``ids[a:b]`` into ``out[:b - a]``.

    Index loops, not row views: a view costs a reference count in the innermost loop."""
    n_off, n_lab = len(window.offsets), len(weights.bias)
    b_mask, i_mask, best, next_free = work.b_mask, work.i_mask, work.best, work.next_free
    with_gaz = window.gaz_group >= 0 and len(gaz.keys) > 0
    if with_gaz:
        gaz_marks(cached.gaz, cached.gaz_first, ids, a, b, gaz, best, next_free, b_mask, i_mask)
    scores = cached.scores
    for t in range(a, b):
        row = t - a
        for y in range(n_lab):
            out[row, y] = weights.bias[y]
        for k in range(n_off):
            j = t + window.offsets[k]
            if j < a or j >= b:
                if window.boundaries:
                    edge = edges.bos if j < a else edges.eos
                    for y in range(n_lab):
                        out[row, y] += edge[k, y]
                continue
            ty = ids[j]
            for y in range(n_lab):
                out[row, y] += scores[ty, k, y]
            if with_gaz and window.group_mask[window.gaz_group, k] and (b_mask[j - a] | i_mask[j - a]):
                for which in range(2):
                    m = b_mask[j - a] if which == 0 else i_mask[j - a]
                    while m:
                        low, lst = lowest_bit(m)
                        m ^= low
                        for y in range(n_lab):
                            out[row, y] += edges.gaz[k, which, lst, y]
        for c in range(len(window.conj_group)):
            add_key(out, row, weights, conj_key(window, cached.conj, ids, c, t, a, b))


Workspace = bundle(
    "Workspace",
    """Scratch arrays of a batch kernel, allocated once for its longest sentence: emission scores,
    Viterbi back-pointers and scores, gazetteer marks and scan state.""",
    emissions=(np.float64, 2), back=(np.int64, 2), score=(np.float64, 1), best_score=(np.float64, 1),
    b_mask=(np.uint64, 1), i_mask=(np.uint64, 1), best=(np.int64, 1), next_free=(np.int64, 1))


@njit(nogil=True, cache=True)
def _workspace(sent_ptr, n_lab):
    longest = 1
    for s in range(len(sent_ptr) - 1):
        longest = max(longest, sent_ptr[s + 1] - sent_ptr[s])
    return Workspace(np.empty((longest, n_lab)), np.empty((longest, n_lab), dtype=np.int64),
                     np.empty(n_lab), np.empty(n_lab), np.zeros(longest, dtype=np.uint64),
                     np.zeros(longest, dtype=np.uint64), np.zeros(64, dtype=np.int64),
                     np.zeros(64, dtype=np.int64))


@njit(nogil=True, cache=True)
def label_batch(ids, sent_ptr, cached, m):
    """Viterbi labels of every sentence of a batch (the throughput path: no confidences)."""
    window, gaz, edges, weights, chain = m.window, m.gaz, m.edges, m.weights, m.chain
    out = np.zeros(len(ids), dtype=np.int64)
    w = _workspace(sent_ptr, len(weights.bias))
    for s in range(len(sent_ptr) - 1):
        a, b = sent_ptr[s], sent_ptr[s + 1]
        if b > a:
            _emissions(ids, a, b, cached, window, gaz, edges, weights, w.emissions, w)
            viterbi_into(w.emissions, chain.transitions, chain.start, b - a, out[a:b], w.back, w.score,
                         w.best_score)
    return out


@njit(nogil=True, cache=True)
def analyse_batch(ids, sent_ptr, cached, m, with_scores):
    """Every sentence of a batch in one call: emissions, Viterbi, chunks and (``with_scores``)
    their probabilities (else NaN).

    Returns the label path of all tokens, the chunks' starts and ends (relative to
    their sentence) and probabilities, and chunk_ptr: sentence s owns chunks
    [chunk_ptr[s], chunk_ptr[s + 1]).
    """
    window, gaz, edges, weights, chain = m.window, m.gaz, m.edges, m.weights, m.chain
    n_sent = len(sent_ptr) - 1
    paths = np.zeros(len(ids), dtype=np.int64)
    starts = np.empty(len(ids), dtype=np.int64)
    ends = np.empty(len(ids), dtype=np.int64)
    probs = np.empty(len(ids))
    chunk_ptr = np.zeros(n_sent + 1, dtype=np.int64)
    w = _workspace(sent_ptr, len(weights.bias))
    emissions = w.emissions
    n = 0
    for s in range(n_sent):
        a, b = sent_ptr[s], sent_ptr[s + 1]
        if b > a:
            _emissions(ids, a, b, cached, window, gaz, edges, weights, emissions, w)
            path = paths[a:b]
            viterbi_into(emissions, chain.transitions, chain.start, b - a, path, w.back, w.score,
                         w.best_score)
            if with_scores:
                n += score_chunks(emissions, chain, path, b - a, starts[n:], ends[n:], probs[n:])
            else:
                k = find_chunks(path, b - a, chain, starts[n:], ends[n:])
                probs[n:n + k] = np.nan
                n += k
        chunk_ptr[s + 1] = n
    return paths, starts[:n], ends[:n], probs[:n], chunk_ptr


class _Generation:
    """One generation of the cache: a slot per type, arrays of fixed capacity."""

    def __init__(self, capacity: int, n_off: int, n_lab: int, n_conj: int):
        self.slots: dict[str, int] = {}
        # np.zeros maps memory lazily: a generation costs what its filled slots use
        self.arrays = CachedTypes(np.zeros((capacity, n_off, n_lab)),
                                  np.zeros((capacity, n_conj), dtype=np.uint64),
                                  np.zeros(capacity, dtype=np.uint64), np.zeros(capacity, dtype=np.int64))

    @property
    def free(self) -> int:
        return len(self.arrays.gaz) - len(self.slots)


class TypeScoreCache:
    """Per-type scores of one (featuriser, linear model) pair, in two bounded generations of
    ``capacity`` types each."""

    def __init__(self, featurizer: Featurizer, model: LinearChainModel,
                 capacity: int = DEFAULT_CACHE_TYPES):
        if capacity < 1:
            raise ValueError("the type cache needs a capacity of at least one type")
        self.featurizer = featurizer
        self.model = model
        self.capacity = capacity
        window = featurizer.window
        self._shape = (len(window.offsets), len(model.labels), len(window.conj_group))
        self.edges = _edge_scores(featurizer, model)
        self.tables = model_tables(featurizer.tables, featurizer.window, featurizer.gazetteer, self.edges,
                                   model.weights, model.chain)
        self._lock = threading.Lock()
        self._young = _Generation(capacity, *self._shape)
        self._old = _Generation(0, *self._shape)
        self.generations = 0  # how many times the young generation filled up

    def lookup(self, tokens: Sequence[str]) -> tuple[np.ndarray, CachedTypes]:
        """Slot ids of ``tokens`` and the generation that holds them all (new types scored)."""
        with self._lock:
            young = self._young
            get = young.slots.get
            ids = [get(t, -1) for t in tokens]
            if -1 in ids:
                missing = list(dict.fromkeys(t for t, i in zip(tokens, ids, strict=True) if i < 0))
                if len(missing) > young.free:
                    distinct = list(dict.fromkeys(tokens))
                    if len(distinct) > self.capacity:  # more types than a generation holds
                        return self._uncached(tokens, distinct)
                    self._old, self._young = young, _Generation(self.capacity, *self._shape)
                    self.generations += 1
                    young, missing = self._young, distinct
                self._add(young, missing)
                get = young.slots.get
                ids = [get(t) for t in tokens]
            return np.array(ids, dtype=np.int64), young.arrays

    def _add(self, young: _Generation, types: list[str]) -> None:
        """Put ``types`` in the young generation: copied from the old one, or scored."""
        old_get = self._old.slots.get
        first = len(young.slots)
        kept = [(t, old_get(t, -1)) for t in types]
        promoted = [(t, i) for t, i in kept if i >= 0]
        new = [t for t, i in kept if i < 0]
        if promoted:
            src = np.array([i for _, i in promoted], dtype=np.int64)
            dst = np.arange(first, first + len(promoted))
            for mine, theirs in zip(young.arrays, self._old.arrays, strict=True):
                mine[dst] = theirs[src]
            young.slots.update((t, first + k) for k, (t, _) in enumerate(promoted))
        if new:
            start = len(young.slots)
            self._score(new, np.arange(start, start + len(new)), young.arrays)
            young.slots.update((t, start + k) for k, t in enumerate(new))

    def _score(self, types: list[str], slots: np.ndarray, into: CachedTypes) -> None:
        f = self.featurizer
        cps, ptr = code_points(types)
        low, low_ptr = code_points([t.lower() for t in types])
        buffers = TokenTypes(cps, ptr, low, low_ptr)
        while (page := score_types(buffers, f.chars.snapshot, self.tables, slots, into)) >= 0:
            f.chars.add(page)

    def _uncached(self, tokens: Sequence[str], distinct: list[str]) -> tuple[np.ndarray, CachedTypes]:
        """A one-off generation for a batch with more types than the cache holds."""
        gen = _Generation(len(distinct), *self._shape)
        self._score(distinct, np.arange(len(distinct)), gen.arrays)
        index = {t: i for i, t in enumerate(distinct)}
        return np.array([index[t] for t in tokens], dtype=np.int64), gen.arrays

    def analyse(self, tokens: Sequence[str], sent_ptr: np.ndarray, with_scores: bool = True,
                ) -> list[tuple | None]:
        """Per sentence of a batch (its tokens flattened, ``sent_ptr`` the sentence offsets),
        what :meth:`LinearChainModel.tag_and_score` returns (label path, chunk starts and ends,
        chunk probabilities, NaN unless ``with_scores``); None for an empty one."""
        ids, cached = self.lookup(tokens)
        paths, starts, ends, probs, chunk_ptr = analyse_batch(ids, sent_ptr, cached, self.tables,
                                                              with_scores)
        out: list[tuple | None] = []
        bounds, chunks = sent_ptr.tolist(), chunk_ptr.tolist()
        for s in range(len(bounds) - 1):
            a, b, c, d = bounds[s], bounds[s + 1], chunks[s], chunks[s + 1]
            out.append((paths[a:b], starts[c:d], ends[c:d], probs[c:d]) if b > a else None)
        return out

    def labels(self, tokens: Sequence[str], sent_ptr: np.ndarray) -> np.ndarray:
        """Label ids of every token of a batch (no confidences): the throughput path."""
        ids, cached = self.lookup(tokens)
        return label_batch(ids, sent_ptr, cached, self.tables)


def _edge_scores(featurizer: Featurizer, model: LinearChainModel) -> EdgeScores:
    window = featurizer.window
    n_off, n_lab = len(window.offsets), len(model.labels)
    row = model.feature_row
    gaz = np.array([[[row(py_splitmix64(int(atom) ^ int(window.salts[k])))
                      for atom in window.gaz_atoms[:, which]] for which in range(2)]
                    for k in range(n_off)]).reshape(n_off, 2, -1, n_lab)
    return EdgeScores(np.array([row(int(key)) for key in window.bos]).reshape(n_off, n_lab),
                      np.array([row(int(key)) for key in window.eos]).reshape(n_off, n_lab), gaz,
                      _atom_rows(featurizer.tables, window, model.weights))

