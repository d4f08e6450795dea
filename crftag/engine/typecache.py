"""The tagging fast path: per-token-type cached scores instead of per-feature lookups.

A token's window features at offset k depend only on the token at that offset,
so for a given model their summed weight rows are a fixed vector per (token
type, offset). :class:`TypeScoreCache` computes those vectors once per distinct
token, straight from its atoms (:mod:`crftag.features.atomize`), and the kernels here
build a sentence's emission scores from K cached vectors per token, plus
lookups only for the position-dependent features (gazetteer matches,
conjunctions). Then Viterbi, conlleval chunks and their probabilities, for a
whole batch in one compiled call. A model with first passes (:mod:`crftag.stacking`)
caches wide rows, its own labels and then each first pass's: the first passes are
decoded from their columns and their features added to the model's before its Viterbi.

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
from dataclasses import dataclass

import numpy as np
from numba import njit, types
from numba.experimental import structref

from crftag.bundles import bundle
from crftag.features.atomize import TokenTypes, atomize
from crftag.features.featurize import Featurizer, TypeAtoms, conj_key, gaz_marks, gaz_unigrams, lowest_bit
from crftag.features.hashing import py_splitmix64, splitmix64
from crftag.linear.decode import find_chunks, score_chunks, viterbi_into
from crftag.linear.model import LinearChainModel, add_key, add_row
from crftag.stacking.kernel import stack_into
from crftag.stacking.model import Stack, WideModel
from crftag.text.chartable import code_points, first_missing

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
    BOS/EOS markers and of each gazetteer feature (``gaz[k, channel, list]``), and per constant
    atom (casing flags, cluster prefixes...; see :attr:`crftag.features.atomize.FeatureTables.const_id`)
    those of its key at each offset (``atoms[id, k]``, zeros where its group does not look).""",
    bos=(np.float64, 2), eos=(np.float64, 2), gaz=(np.float64, 4), atoms=(np.float64, 3))


@structref.register
class ModelTablesType(types.StructRef):
    def preprocess_fields(self, fields):
        return tuple((name, types.unliteral(typ)) for name, typ in fields)


class ModelTables(structref.StructRefProxy):
    """Everything a tagging kernel reads of one model, by name: the featuriser's ``tables``,
    ``window`` and gazetteer (``gaz``), the model's ``edges``, ``weights`` and ``chain`` (with
    first passes, ``weights`` and ``edges`` are wide, the model's labels first).

    The fields are the named tuples of arrays the kernels use; holding them in one numba
    StructRef means a call passes one pointer instead of unboxing some 40 arrays (about 11 us
    a call, more than tagging a tweet costs)."""


structref.define_proxy(ModelTables, ModelTablesType,
                       ["tables", "window", "gaz", "edges", "weights", "chain"])


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
                        add_row(out, k, edges.atoms[atom], k)
                    else:
                        add_key(out, k, weights, splitmix64(atoms.hash[x] ^ window.salts[k]))
        # element by element: an array-to-array assignment compiles numba's shape-mismatch
        # message, string formatting included (30 kernels, about 2 s of a fresh install)
        for c in range(atoms.conj.shape[1]):
            cached.conj[slot, c] = atoms.conj[ty, c]
        cached.gaz[slot] = atoms.gaz[ty]
    first = gaz_unigrams(atoms.gaz, gaz)
    for ty in range(len(slots)):
        cached.gaz_first[slots[ty]] = first[ty]


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
    """Emission scores of the sentence ``ids[a:b]`` into ``out[:b - a]``."""
    n_off, n_lab = len(window.offsets), len(weights.bias)
    marks, n_channels = work.marks, window.gaz_atoms.shape[1]
    with_gaz = window.gaz_group >= 0 and len(gaz.keys) > 0
    if with_gaz:
        gaz_marks(cached.gaz, cached.gaz_first, ids, a, b, gaz, work.best, work.next_free, marks,
                  n_channels == 4)
    scores = cached.scores
    for t in range(a, b):
        row = t - a
        for y in range(n_lab):
            out[row, y] = weights.bias[y]
        for k in range(n_off):
            j = t + window.offsets[k]
            if j < a or j >= b:
                if window.boundaries:
                    add_row(out, row, edges.bos if j < a else edges.eos, k)
                continue
            add_row(out, row, scores[ids[j]], k)
            if with_gaz and window.group_mask[window.gaz_group, k]:
                for channel in range(n_channels):
                    m = marks[channel, j - a]
                    while m:
                        low, lst = lowest_bit(m)
                        m ^= low
                        add_row(out, row, edges.gaz[k, channel], lst)
        for c in range(len(window.conj_group)):
            add_key(out, row, weights, conj_key(window, cached.conj, ids, c, t, a, b))


Workspace = bundle(
    "Workspace",
    """Scratch arrays of a batch kernel, allocated once for its longest sentence: emission scores,
    Viterbi back-pointers and scores, gazetteer marks and scan state; with first passes, the wide
    scores and a first pass's labels and marginals (empty without).""",
    emissions=(np.float64, 2), back=(np.int64, 2), score=(np.float64, 1), best_score=(np.float64, 1),
    marks=(np.uint64, 2), best=(np.int64, 1), next_free=(np.int64, 1), wide=(np.float64, 2),
    path=(np.int64, 1), probs=(np.float64, 1))


@njit(nogil=True, cache=True)
def _workspace(sent_ptr, n_lab, n_wide, stacked):
    longest = 1
    for s in range(len(sent_ptr) - 1):
        longest = max(longest, sent_ptr[s + 1] - sent_ptr[s])
    n_stack = longest if stacked else 0
    return Workspace(np.empty((longest, n_lab)), np.empty((longest, n_lab), dtype=np.int64),
                     np.empty(n_lab), np.empty(n_lab), np.zeros((4, longest), dtype=np.uint64),
                     np.zeros(64, dtype=np.int64), np.zeros(64, dtype=np.int64),
                     np.empty((n_stack, n_wide if stacked else 0)), np.empty(n_stack, dtype=np.int64),
                     np.empty(n_stack))


# what tag_batch computes
LABELS, CHUNKS, SCORED_CHUNKS = 0, 1, 2


@njit(nogil=True, cache=True)
def tag_batch(ids, sent_ptr, cached, m, stacks, fresh, fresh_slots, chars, mode):
    """Tag a batch in one call: score the new types ``fresh`` into their reserved
    ``fresh_slots`` of ``cached``, then per sentence emissions (through the first passes
    ``stacks``, :mod:`crftag.stacking.kernel`, unless None), Viterbi and, by ``mode``, conlleval
    chunks (``CHUNKS``) and their probabilities (``SCORED_CHUNKS``).

    ``stacks`` is an argument of its own, not a field of ``m``: numba drops the branch on
    ``stacks is not None`` when it is None, so a model without first passes never compiles
    them (about 5 s of a fresh install's first call).

    Returns ``(status, ints, probs)``. ``status`` is -1, or a code-point page the new types
    need that ``chars`` lacks (nothing was done: build it and call again). ``ints`` holds the
    label ids of all tokens, then (chunks) ``chunk_ptr`` (sentence s owns chunks
    ``chunk_ptr[s]:chunk_ptr[s + 1]``), the chunks' starts and their ends (relative to their
    sentence); ``probs`` the chunks' probabilities (NaN unless scored). Two arrays, not five:
    handing each array back to Python costs almost a microsecond.
    """
    p = first_missing(fresh.cps, chars.index)
    if p < 0:
        p = first_missing(fresh.low, chars.index)
    if p >= 0:
        return p, np.zeros(0, dtype=np.int64), np.zeros(0)
    window, gaz, edges, weights, chain = m.window, m.gaz, m.edges, m.weights, m.chain
    if len(fresh_slots):
        atom_hash, atom_group, atom_id, atom_ptr, conj, gaz_hash = atomize(fresh, m.tables, chars,
                                                                           window.conj_group)
        fill_types(TypeAtoms(atom_hash, atom_group, atom_id, atom_ptr, conj, gaz_hash), window, gaz,
                   weights, edges, fresh_slots, cached)
    n_tok, n_sent = len(ids), len(sent_ptr) - 1
    ints = np.empty(n_tok + (n_sent + 1 + 2 * n_tok if mode != LABELS else 0), dtype=np.int64)
    labels = ints[:n_tok]
    chunk_ptr = ints[n_tok:n_tok + n_sent + 1]
    starts = np.empty(n_tok, dtype=np.int64)
    ends = np.empty(n_tok, dtype=np.int64)
    probs = np.full(n_tok if mode != LABELS else 0, np.nan)
    w = _workspace(sent_ptr, len(chain.start), len(weights.bias), stacks is not None)
    n = 0
    for s in range(n_sent):
        a, b = sent_ptr[s], sent_ptr[s + 1]
        if b > a:
            if stacks is not None:  # the wide scores, then the model's own plus its first passes' features
                _emissions(ids, a, b, cached, window, gaz, edges, weights, w.wide, w)
                stack_into(w.wide, b - a, stacks, w.emissions, w.path, w.probs)
            else:
                _emissions(ids, a, b, cached, window, gaz, edges, weights, w.emissions, w)
            path = labels[a:b]
            viterbi_into(w.emissions, chain.transitions, chain.start, chain.dominance, b - a, path, w.back,
                         w.score, w.best_score)
            if mode == SCORED_CHUNKS:
                n += score_chunks(w.emissions, chain, path, b - a, starts[n:], ends[n:], probs[n:])
            elif mode == CHUNKS:
                n += find_chunks(path, b - a, chain, starts[n:], ends[n:])
        if mode != LABELS:
            chunk_ptr[s + 1] = n
    if mode == LABELS:
        return -1, ints, probs
    chunk_ptr[0] = 0
    at = n_tok + n_sent + 1
    for c in range(n):  # no array-to-array assignment (see fill_types)
        ints[at + c] = starts[c]
        ints[at + n + c] = ends[c]
    return -1, ints[:n_tok + n_sent + 1 + 2 * n], probs[:n]


class _Generation:
    """One generation of the cache: a slot per type, arrays of fixed capacity.

    A slot is reserved under the cache's lock, filled by the kernel of the call that reserved it
    (outside the lock), and only then published in ``slots``: a type another thread can find is
    always complete, and no two calls ever write the same slot. ``users`` counts the calls whose
    kernels may still read the arrays: a retired generation's arrays are reused for the next
    young one only when none does (freeing 27 MB and faulting it in again would stall a call
    for milliseconds)."""

    def __init__(self, capacity: int, n_off: int, n_lab: int, n_conj: int):
        self.slots: dict[str, int] = {}
        self.used = 0  # slots reserved (published or not)
        self.users = 0
        # np.zeros maps memory lazily: a generation costs what its filled slots use
        self.arrays = CachedTypes(np.zeros((capacity, n_off, n_lab)),
                                  np.zeros((capacity, n_conj), dtype=np.uint64),
                                  np.zeros(capacity, dtype=np.uint64), np.zeros(capacity, dtype=np.int64))

    def reuse(self, trash: list[dict]) -> _Generation:
        """Empty, with the same arrays (every slot is written whole before it is read). The old
        index goes to ``trash``: freeing 32,768 strings at once would stall one call for a
        millisecond or two, so the cache frees them a few hundred per call."""
        trash.append(self.slots)
        self.slots, self.used = {}, 0
        return self

    @property
    def free(self) -> int:
        return len(self.arrays.gaz) - self.used

    def reserve(self, n: int) -> np.ndarray:
        slots = np.arange(self.used, self.used + n, dtype=np.int64)
        self.used += n
        return slots


@dataclass
class _Lookup:
    """A batch's slots (``ids``) in ``generation``, with the types the batch's own kernel call
    must score first (``fresh``, into ``fresh_slots``)."""

    ids: np.ndarray
    generation: _Generation
    fresh: list[str]
    fresh_slots: np.ndarray
    shared: bool = True  # False: a one-off generation for a batch the cache cannot hold


_NONE = np.zeros(0, dtype=np.int64)


class TypeScoreCache:
    """Per-type scores of one (featuriser, linear model) pair, in two bounded generations of
    ``capacity`` types each."""

    def __init__(self, featurizer: Featurizer, model: LinearChainModel,
                 capacity: int = DEFAULT_CACHE_TYPES, stack: Stack | None = None):
        if capacity < 1:
            raise ValueError("the type cache needs a capacity of at least one type")
        self.featurizer = featurizer
        self.model = model
        self.capacity = capacity
        window = featurizer.window
        # with first passes, a type's row holds the model's labels and then each first pass's
        wide, stacks = (stack or Stack([])).wide(model)
        self._shape = (len(window.offsets), len(wide.labels), len(window.conj_group))
        self.edges = _edge_scores(featurizer, wide)
        self.tables = model_tables(featurizer.tables, featurizer.window, featurizer.gazetteer, self.edges,
                                   wide.weights, model.chain)
        self.stacks = stacks
        self._lock = threading.Lock()
        self._young = _Generation(capacity, *self._shape)
        self._old = _Generation(0, *self._shape)
        self._trash: list[dict] = []
        self.generations = 0  # how many times the young generation filled up

    def _lookup(self, tokens: Sequence[str]) -> _Lookup:
        with self._lock:
            if self._trash:
                _free_some(self._trash)
            young = self._young
            get = young.slots.get
            ids = np.array([get(t, -1) for t in tokens], dtype=np.int64)
            holes = np.flatnonzero(ids < 0)  # the work below is per new token, not per token
            if not len(holes):
                young.users += 1
                return _Lookup(ids, young, [], _NONE)
            missing = list(dict.fromkeys([tokens[i] for i in holes.tolist()]))
            if len(missing) > young.free:
                distinct = list(dict.fromkeys(tokens))
                if len(distinct) > self.capacity:  # more types than a generation holds
                    gen = _Generation(len(distinct), *self._shape)
                    index = {t: i for i, t in enumerate(distinct)}
                    return _Lookup(np.array([index[t] for t in tokens], dtype=np.int64), gen, distinct,
                                   gen.reserve(len(distinct)), shared=False)
                retired = self._old
                if retired.users == 0 and len(retired.arrays.gaz) == self.capacity:
                    self._old, self._young = young, retired.reuse(self._trash)
                else:
                    self._old, self._young = young, _Generation(self.capacity, *self._shape)
                self.generations += 1
                young, missing, holes = self._young, distinct, np.arange(len(tokens))
            # types of the old generation are copied over, the others are left to the caller
            old_get = self._old.slots.get
            promoted = [(t, i) for t in missing if (i := old_get(t, -1)) >= 0]
            added: dict[str, int] = {}
            if promoted:
                dst = young.reserve(len(promoted))
                src = np.array([i for _, i in promoted], dtype=np.int64)
                for mine, theirs in zip(young.arrays, self._old.arrays, strict=True):
                    mine[dst] = theirs[src]
                added = dict(zip([t for t, _ in promoted], dst.tolist(), strict=True))
                young.slots.update(added)
            fresh = [t for t in missing if t not in added]
            fresh_slots = young.reserve(len(fresh))
            added.update(zip(fresh, fresh_slots.tolist(), strict=True))
            ids[holes] = [added[tokens[i]] for i in holes.tolist()]
            young.users += 1
            return _Lookup(ids, young, fresh, fresh_slots)

    def _tag(self, tokens: Sequence[str], sent_ptr: np.ndarray, mode: int,
             type_ids: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        look = self._lookup(tokens)
        if type_ids is not None:  # tokens are the batch's distinct types
            look.ids = look.ids[type_ids]
        chars = self.featurizer.chars
        done = False
        try:
            if look.fresh:
                cps, ptr = code_points(look.fresh)
                low, low_ptr = code_points([t.lower() for t in look.fresh])
                fresh = TokenTypes(cps, ptr, low, low_ptr)
            else:
                fresh = _NO_TYPES
            while True:
                status, ints, probs = tag_batch(look.ids, sent_ptr, look.generation.arrays, self.tables,
                                                self.stacks, fresh, look.fresh_slots, chars.snapshot,
                                                mode)
                if status < 0:
                    break
                chars.add(status)
            done = True
        finally:
            if look.shared:
                with self._lock:
                    look.generation.users -= 1
                    if done:  # the new types are complete now: others may use them
                        for t, slot in zip(look.fresh, look.fresh_slots.tolist(), strict=True):
                            look.generation.slots.setdefault(t, slot)
        return ints, probs

    def analyse(self, tokens: Sequence[str], sent_ptr: np.ndarray, with_scores: bool = True,
                type_ids: np.ndarray | None = None) -> list[tuple | None]:
        """Per sentence of a batch (its tokens flattened, ``sent_ptr`` the sentence offsets),
        what :meth:`LinearChainModel.tag_and_score` returns (label path, chunk starts and ends,
        chunk probabilities, NaN unless ``with_scores``); None for an empty one.

        With ``type_ids``, ``tokens`` are the batch's distinct types and token ``t`` is
        ``tokens[type_ids[t]]`` (a bulk reader dedupes in compiled code: fewer strings)."""
        ints, probs = self._tag(tokens, sent_ptr, SCORED_CHUNKS if with_scores else CHUNKS, type_ids)
        n_tok = len(tokens) if type_ids is None else len(type_ids)
        n_sent, n_chunks = len(sent_ptr) - 1, len(probs)
        labels = ints[:n_tok]
        starts = ints[n_tok + n_sent + 1:n_tok + n_sent + 1 + n_chunks]
        ends = ints[n_tok + n_sent + 1 + n_chunks:]
        bounds, chunks = sent_ptr.tolist(), ints[n_tok:n_tok + n_sent + 1].tolist()
        out: list[tuple | None] = []
        for s in range(n_sent):
            a, b, c, d = bounds[s], bounds[s + 1], chunks[s], chunks[s + 1]
            out.append((labels[a:b], starts[c:d], ends[c:d], probs[c:d]) if b > a else None)
        return out

    def labels(self, tokens: Sequence[str], sent_ptr: np.ndarray,
               type_ids: np.ndarray | None = None) -> np.ndarray:
        """Label ids of every token of a batch (no confidences): the throughput path
        (``type_ids``: as in :meth:`analyse`)."""
        return self._tag(tokens, sent_ptr, LABELS, type_ids)[0]


def _free_some(trash: list[dict], n: int = 512) -> None:
    """Drop up to ``n`` entries of retired indexes."""
    index = trash[-1]
    for _ in range(min(n, len(index))):
        index.popitem()
    if not index:
        trash.pop()


_NO_TYPES = TokenTypes(np.zeros(0, np.uint32), np.zeros(1, np.int64), np.zeros(0, np.uint32),
                       np.zeros(1, np.int64))


def _edge_scores(featurizer: Featurizer, model: LinearChainModel | WideModel) -> EdgeScores:
    window = featurizer.window
    n_off, n_lab = len(window.offsets), len(model.labels)
    row = model.feature_row
    n_channels = window.gaz_atoms.shape[1]
    gaz = np.array([[[row(py_splitmix64(int(atom) ^ int(window.salts[k])))
                      for atom in window.gaz_atoms[:, channel]] for channel in range(n_channels)]
                    for k in range(n_off)]).reshape(n_off, n_channels, -1, n_lab)
    return EdgeScores(np.array([row(int(key)) for key in window.bos]).reshape(n_off, n_lab),
                      np.array([row(int(key)) for key in window.eos]).reshape(n_off, n_lab), gaz,
                      _atom_rows(featurizer.tables, window, model.weights))

