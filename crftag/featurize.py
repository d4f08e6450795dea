"""Featurisation: tokens in, integer feature keys out, in compiled code.

For each distinct token the featuriser computes its atoms once (Python string
work, cached) and hashes them to 64-bit ids. A compiled kernel (numba, GIL
released) then builds every token's features for a whole batch: the atoms of
the tokens in its window, each salted with its offset; BOS/EOS markers;
gazetteer matches (longest match per list, B/I position) and conjunctions such
as word bigrams. The result is a :class:`Featurized` batch: one flat array of
uint64 keys with per-token and per-sentence offsets, which feeds every backend.

:class:`ReferenceFeaturizer` computes the same features the straightforward
way, as readable strings with the same keys; it is the baseline of the
featurisation benchmark and the oracle of the equivalence test.
"""

from __future__ import annotations

import functools
import itertools
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numba import njit

from crftag.atoms import TOKEN_KINDS, make_atom_fn
from crftag.featureset import FeatureSet
from crftag.hashing import (
    MASK64,
    bucket_offsets,
    find_key,
    hash_strings,
    offset_salt,
    py_feature_key,
    py_fnv1a,
    py_splitmix64,
    splitmix64,
)
from crftag.lexicon import FNV_OFFSET, MAX_GAZ_TOKENS, Lexicon, gazetteer_token, py_sequence_hash

BOS, EOS = "BOS", "EOS"


@dataclass
class Featurized:
    """Features of a batch of sentences: keys of token t are keys[token_ptr[t]:token_ptr[t+1]]."""

    keys: np.ndarray  # uint64
    token_ptr: np.ndarray  # int64, n_tokens + 1
    sent_ptr: np.ndarray  # int64, n_sentences + 1 (token indices)
    sentences: Sequence[Sequence[str]] = ()  # the token strings, for backends that read words

    def __len__(self) -> int:
        return len(self.sent_ptr) - 1

    def tokens(self, i: int) -> np.ndarray:
        """The token_ptr slice of sentence ``i`` (absolute offsets into ``keys``)."""
        return self.token_ptr[self.sent_ptr[i]:self.sent_ptr[i + 1] + 1]

    def strings(self) -> list[list[list[str]]]:
        """Keys as hex attribute names, per sentence and token (what CRFsuite trains on)."""
        hexed = [format(k, "x") for k in self.keys.tolist()]
        ptr = self.token_ptr.tolist()
        out = []
        for s in range(len(self)):
            a, b = int(self.sent_ptr[s]), int(self.sent_ptr[s + 1])
            out.append([hexed[ptr[t]:ptr[t + 1]] for t in range(a, b)])
        return out


def conj_salt(group: str, o1: int, o2: int) -> int:
    return py_splitmix64(py_fnv1a(f"conj:{group}:{o1}:{o2}"))


class _Spec:
    """The feature set compiled to arrays the kernel reads."""

    def __init__(self, fs: FeatureSet, lexicon: Lexicon):
        self.groups = list(fs.groups.items())
        offsets = sorted({o for _, p in self.groups for o in p["window"]})
        self.offsets = np.array(offsets, dtype=np.int64)
        self.group_mask = np.array([[o in p["window"] for o in offsets] for _, p in self.groups],
                                   dtype=np.bool_).reshape(len(self.groups), len(offsets))
        self.salts = np.array([offset_salt(o) for o in offsets], dtype=np.uint64)
        self.boundaries = fs.boundaries
        self.bos = np.array([py_feature_key(BOS, o) for o in offsets], dtype=np.uint64)
        self.eos = np.array([py_feature_key(EOS, o) for o in offsets], dtype=np.uint64)
        self.atom_fns = []  # (group index, name, fn) for token-level groups
        self.gaz_group = -1
        gaz = lexicon.gazetteer
        self.gaz_keys = np.zeros(0, np.uint64)
        self.gaz_masks = np.zeros(0, np.uint64)
        self.gaz_atoms = np.zeros((0, 2), np.uint64)
        for gi, (name, params) in enumerate(self.groups):
            kind = params["kind"]
            if kind in TOKEN_KINDS:
                self.atom_fns.append((gi, name, make_atom_fn(kind, params, lexicon.clusters.get(name))))
            elif gaz is not None:
                self.gaz_group = gi
                self.gaz_keys, self.gaz_masks = gaz.keys, gaz.masks
                self.gaz_atoms = np.array([[py_fnv1a(f"{name}|{ln}:B"), py_fnv1a(f"{name}|{ln}:I")]
                                           for ln in gaz.names], dtype=np.uint64).reshape(-1, 2)
        index = {name: gi for gi, (name, _) in enumerate(self.groups)}
        self.conj_group = np.array([index[c["group"]] for c in fs.conjunctions], dtype=np.int64)
        self.conj_offsets = np.array([c["offsets"] for c in fs.conjunctions],
                                     dtype=np.int64).reshape(-1, 2)
        self.conj_salts = np.array([conj_salt(c["group"], *c["offsets"]) for c in fs.conjunctions],
                                   dtype=np.uint64)
        self.bos_atom = np.uint64(py_fnv1a(BOS))
        self.eos_atom = np.uint64(py_fnv1a(EOS))


class _Growable:
    """A numpy array with amortised appends."""

    def __init__(self, dtype, initial: np.ndarray | None = None):
        self.data = np.zeros(1024, dtype=dtype) if initial is None else initial
        self.size = 0 if initial is None else len(initial)

    def extend(self, values: np.ndarray) -> None:
        need = self.size + len(values)
        if need > len(self.data):
            grown = np.zeros(max(need, 2 * len(self.data)), dtype=self.data.dtype)
            grown[:self.size] = self.data[:self.size]
            self.data = grown
        self.data[self.size:need] = values
        self.size = need

    @property
    def view(self) -> np.ndarray:
        return self.data[:self.size]


class Featurizer:
    """The compiled featuriser. Thread-safe; its token cache is bounded by ``max_types``.

    For each distinct token it keeps the salted feature keys the token
    contributes at each window offset, so building a sentence's features is a
    series of array copies plus the gazetteer scan and conjunctions.
    """

    def __init__(self, feature_set: FeatureSet, lexicon: Lexicon | None = None,
                 max_types: int = 50_000):
        self.feature_set = feature_set
        self.lexicon = lexicon or Lexicon()
        self.spec = _Spec(feature_set, self.lexicon)
        self.gaz_buckets, self.gaz_shift = bucket_offsets(self.spec.gaz_keys)
        self.max_types = max_types
        self._lock = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        self.generation = getattr(self, "generation", -1) + 1  # tells caches built on type ids
        self._types: dict[str, int] = {}
        self._key_ptr = _Growable(np.int64, np.zeros(1, np.int64))  # per (type, offset)
        self._keys = _Growable(np.uint64)
        self._conj = _Growable(np.uint64)  # per (type, conjunction): the group's first atom
        self._tok_gaz = _Growable(np.uint64)

    def _register(self, new_tokens: list[str]) -> None:
        """Compute the atoms of tokens not seen before, hash and salt them, and store the keys."""
        sp = self.spec
        strings: list[str] = []
        groups: list[int] = []
        counts = np.empty(len(new_tokens), dtype=np.int64)
        for i, tok in enumerate(new_tokens):
            n = 0
            for gi, name, fn in sp.atom_fns:
                atoms = fn(tok)
                strings.extend(f"{name}|{a}" for a in atoms)
                groups.extend([gi] * len(atoms))
                n += len(atoms)
            counts[i] = n
        atom_ptr = np.zeros(len(new_tokens) + 1, dtype=np.int64)
        np.cumsum(counts, out=atom_ptr[1:])
        keys, per_offset, conj = _salted_keys(hash_strings(strings), np.array(groups, dtype=np.int64),
                                              atom_ptr, sp.group_mask, sp.salts, sp.conj_group)
        self._keys.extend(keys)
        self._key_ptr.extend(self._key_ptr.view[-1] + np.cumsum(per_offset))
        self._conj.extend(conj)
        if sp.gaz_group >= 0:
            norm = [gazetteer_token(t) for t in new_tokens]
            hashes = hash_strings(norm)
            hashes[[i for i, s in enumerate(norm) if not s]] = 0  # empty: can't be in an entry
            self._tok_gaz.extend(hashes)
        else:
            self._tok_gaz.extend(np.zeros(len(new_tokens), np.uint64))
        for tok in new_tokens:
            self._types[tok] = len(self._types)

    def type_ids(self, flat: list[str]) -> tuple[np.ndarray, tuple]:
        """Type ids of tokens (registering new ones) and a consistent snapshot of the
        per-type arrays: (key_ptr, type_keys, conj atoms, gazetteer hashes, generation)."""
        with self._lock:  # registration mutates the cache; kernels run outside the lock
            if len(self._types) + len(flat) > self.max_types:
                self._reset()  # bounded memory for long-running services
            get = self._types.get
            ids = [get(t, -1) for t in flat]
            if -1 in ids:
                self._register(list(dict.fromkeys(t for t, i in zip(flat, ids, strict=True) if i < 0)))
                types = self._types
                ids = [types[t] for t in flat]
            # Views of the arrays as they are now: later growth reallocates or writes past
            # their ends, never into them.
            snapshot = (self._key_ptr.view, self._keys.view, self._conj.view, self._tok_gaz.view,
                        self.generation)
            return np.array(ids, dtype=np.int64), snapshot

    def batch_type_ids(self, sentences: Sequence[Sequence[str]]) -> tuple[np.ndarray, np.ndarray, tuple]:
        """:meth:`type_ids` of all tokens of a batch, plus sentence offsets into them."""
        sent_ptr = np.zeros(len(sentences) + 1, dtype=np.int64)
        np.cumsum([len(s) for s in sentences], out=sent_ptr[1:])
        ids, snapshot = self.type_ids(list(itertools.chain.from_iterable(sentences)))
        return ids, sent_ptr, snapshot

    def featurize_batch(self, sentences: Sequence[Sequence[str]]) -> Featurized:
        """Features of many sentences in one compiled pass."""
        ids, sent_ptr, (key_ptr, type_keys, conj, tok_gaz, _) = self.batch_type_ids(sentences)
        sp = self.spec
        token_ptr, keys = _compose(
            ids, sent_ptr, key_ptr, type_keys, sp.offsets, sp.boundaries, sp.bos, sp.eos, tok_gaz,
            sp.gaz_group, sp.group_mask, sp.gaz_keys, self.gaz_buckets, self.gaz_shift, sp.gaz_masks,
            sp.gaz_atoms, sp.salts, conj, sp.conj_offsets, sp.conj_salts, sp.bos_atom, sp.eos_atom)
        return Featurized(keys, token_ptr, sent_ptr, sentences)

    def featurize(self, tokens: Sequence[str]) -> Featurized:
        return self.featurize_batch([tokens])


# Gazetteer list masks are uint64 bit sets. The index of a set bit, by de Bruijn
# multiplication: visiting only the set bits of a mask costs one step per list
# matched, not one per list.
_DE_BRUIJN = np.uint64(0x022FDD63CC95386D)
_BIT_INDEX = np.zeros(64, dtype=np.int64)
_BIT_INDEX[[((1 << i) * 0x022FDD63CC95386D & MASK64) >> 58 for i in range(64)]] = np.arange(64)
_U58, _U1 = np.uint64(58), np.uint64(1)


@njit(nogil=True, cache=True)
def lowest_bit(m: np.uint64) -> tuple[np.uint64, int]:
    """The lowest set bit of a non-zero mask, and its index."""
    low = m & (~m + _U1)
    return low, _BIT_INDEX[(low * _DE_BRUIJN) >> _U58]


@njit(nogil=True, cache=True)
def _salted_keys(atom_hash, atom_group, atom_ptr, group_mask, salts, conj_group):
    """Per token type: the keys of its atoms at each window offset, and its conjunction atoms."""
    n_types, n_off = len(atom_ptr) - 1, group_mask.shape[1]
    per_offset = np.zeros(n_types * n_off, dtype=np.int64)
    keys = np.empty(len(atom_hash) * n_off, dtype=np.uint64)
    conj = np.zeros(n_types * len(conj_group), dtype=np.uint64)
    n = 0
    for ty in range(n_types):
        for k in range(n_off):
            for x in range(atom_ptr[ty], atom_ptr[ty + 1]):
                if group_mask[atom_group[x], k]:
                    keys[n] = splitmix64(atom_hash[x] ^ salts[k])
                    n += 1
                    per_offset[ty * n_off + k] += 1
        for c in range(len(conj_group)):
            for x in range(atom_ptr[ty], atom_ptr[ty + 1]):
                if atom_group[x] == conj_group[c]:
                    conj[ty * len(conj_group) + c] = atom_hash[x]
                    break
    return keys[:n], per_offset, conj


@njit(nogil=True, cache=True)
def _gaz_marks(tok_gaz, type_ids, a, b, gaz_keys, gaz_buckets, gaz_shift, gaz_masks, best,
               next_free, b_mask, i_mask):
    """Greedy leftmost-longest gazetteer matches, per list, in tokens [a, b).

    The gazetteer also holds every proper prefix of an entry (mask 0), so the
    scan from a position stops as soon as no entry can continue.
    """
    next_free[:] = 0
    for i in range(a, b):
        h = np.uint64(FNV_OFFSET)
        union = np.uint64(0)
        for length in range(1, MAX_GAZ_TOKENS + 1):
            j = i + length - 1
            if j >= b or tok_gaz[type_ids[j]] == 0:
                break
            h = splitmix64(h ^ tok_gaz[type_ids[j]])
            found = find_key(gaz_keys, gaz_buckets, gaz_shift, h)
            if found < 0:
                break
            m = gaz_masks[found]
            if m:
                if union == 0:
                    best[:] = 0
                union |= m
                while m:
                    low, lst = lowest_bit(m)
                    best[lst] = length
                    m ^= low
        while union:
            low, lst = lowest_bit(union)
            union ^= low
            if i >= next_free[lst]:
                b_mask[i] |= low
                for j in range(i + 1, i + best[lst]):
                    i_mask[j] |= low
                next_free[lst] = i + best[lst]


@njit(nogil=True, cache=True)
def _compose(type_ids, sent_ptr, key_ptr, type_keys, offsets, boundaries, bos, eos, tok_gaz,
             gaz_group, group_mask, gaz_keys, gaz_buckets, gaz_shift, gaz_masks, gaz_atoms, salts,
             conj_atoms, conj_offsets, conj_salts, bos_atom, eos_atom):
    n_tok, n_off, n_conj = len(type_ids), len(offsets), len(conj_offsets)
    b_mask = np.zeros(n_tok, dtype=np.uint64)
    i_mask = np.zeros(n_tok, dtype=np.uint64)
    if gaz_group >= 0 and len(gaz_keys) > 0:
        best = np.zeros(64, dtype=np.int64)
        next_free = np.zeros(64, dtype=np.int64)
        for s in range(len(sent_ptr) - 1):
            _gaz_marks(tok_gaz, type_ids, sent_ptr[s], sent_ptr[s + 1], gaz_keys, gaz_buckets,
                       gaz_shift, gaz_masks, best, next_free, b_mask, i_mask)
    # pass 1 counts each token's features, pass 2 writes them
    token_ptr = np.zeros(n_tok + 1, dtype=np.int64)
    for fill in range(2):
        keys = np.empty(token_ptr[n_tok] if fill else 0, dtype=np.uint64)
        for s in range(len(sent_ptr) - 1):
            a, b = sent_ptr[s], sent_ptr[s + 1]
            for t in range(a, b):
                pos = token_ptr[t]
                for k in range(n_off):
                    j = t + offsets[k]
                    if j < a or j >= b:
                        if boundaries:
                            if fill:
                                keys[pos] = bos[k] if j < a else eos[k]
                            pos += 1
                        continue
                    slot = type_ids[j] * n_off + k
                    lo, hi = key_ptr[slot], key_ptr[slot + 1]
                    if fill:
                        keys[pos:pos + hi - lo] = type_keys[lo:hi]
                    pos += hi - lo
                    if gaz_group >= 0 and group_mask[gaz_group, k]:
                        for which in range(2):
                            m = b_mask[j] if which == 0 else i_mask[j]
                            while m:
                                low, lst = lowest_bit(m)
                                m ^= low
                                if fill:
                                    keys[pos] = splitmix64(gaz_atoms[lst, which] ^ salts[k])
                                pos += 1
                for c in range(n_conj):
                    if fill:
                        j1, j2 = t + conj_offsets[c, 0], t + conj_offsets[c, 1]
                        h1 = bos_atom if j1 < a else eos_atom if j1 >= b else \
                            conj_atoms[type_ids[j1] * n_conj + c]
                        h2 = bos_atom if j2 < a else eos_atom if j2 >= b else \
                            conj_atoms[type_ids[j2] * n_conj + c]
                        keys[pos] = splitmix64(splitmix64(h1 ^ conj_salts[c]) ^ h2)
                    pos += 1
                if not fill:
                    token_ptr[t + 1] = pos
    return token_ptr, keys


class ReferenceFeaturizer:
    """The same features, computed the plain way: readable strings plus their keys."""

    def __init__(self, feature_set: FeatureSet, lexicon: Lexicon | None = None):
        self.spec = _Spec(feature_set, lexicon or Lexicon())
        lex = lexicon or Lexicon()
        self.gaz = dict(zip(lex.gazetteer.keys.tolist(), lex.gazetteer.masks.tolist(), strict=True)) \
            if lex.gazetteer is not None else {}
        self.gaz_names = lex.gazetteer.names if lex.gazetteer is not None else []
        self.feature_set = feature_set

    def _gaz_marks(self, tokens: Sequence[str]) -> list[list[str]]:
        """Greedy leftmost-longest matches per list; one lookup per n-gram serves all lists."""
        norm = [gazetteer_token(t) for t in tokens]
        longest = [dict() for _ in tokens]  # position -> {list index: longest match length}
        for i in range(len(tokens)):
            for length in range(1, MAX_GAZ_TOKENS + 1):
                piece = norm[i:i + length]
                if len(piece) < length or not all(piece):
                    break
                mask = self.gaz.get(_sequence_hash(tuple(piece)), 0)
                for li in range(len(self.gaz_names)):
                    if mask >> li & 1:
                        longest[i][li] = length
        marks: list[list[str]] = [[] for _ in tokens]
        next_free = [0] * len(self.gaz_names)
        for i in range(len(tokens)):
            for li, length in sorted(longest[i].items()):
                if i >= next_free[li]:
                    marks[i].append(f"{self.gaz_names[li]}:B")
                    for j in range(i + 1, i + length):
                        marks[j].append(f"{self.gaz_names[li]}:I")
                    next_free[li] = i + length
        return marks

    def featurize(self, tokens: Sequence[str], with_keys: bool = True) -> list[dict[str, int]]:
        """Per token, ``{readable feature: key}`` (key 1 for all when ``with_keys`` is False,
        which is the plain dict featuriser a sklearn-crfsuite user writes)."""
        key = py_feature_key if with_keys else _one
        sp = self.spec
        atoms = [{name: [f"{name}|{a}" for a in fn(t)] for _, name, fn in sp.atom_fns} for t in tokens]
        gaz_name = sp.groups[sp.gaz_group][0] if sp.gaz_group >= 0 else None
        gaz = self._gaz_marks(tokens) if gaz_name else [[] for _ in tokens]
        n = len(tokens)
        out = []
        for i in range(n):
            feats: dict[str, int] = {}
            for o in sp.offsets.tolist():
                j = i + o
                if not 0 <= j < n:
                    if sp.boundaries:
                        marker = BOS if j < 0 else EOS
                        feats[f"{marker}@{o}"] = key(marker, o)
                    continue
                for name, params in sp.groups:
                    if o not in params["window"]:
                        continue
                    strings = [f"{name}|{m}" for m in gaz[j]] if name == gaz_name else atoms[j][name]
                    for a in strings:
                        feats[f"{a}@{o}"] = key(a, o)
            for c in self.feature_set.conjunctions:
                g, (o1, o2) = c["group"], c["offsets"]
                parts = []
                for j in (i + o1, i + o2):
                    parts.append(BOS if j < 0 else EOS if j >= n else atoms[j][g][0])
                feats[f"{parts[0]}@{o1}&{parts[1]}@{o2}"] = py_splitmix64(
                    py_splitmix64(py_fnv1a(parts[0]) ^ conj_salt(g, o1, o2)) ^ py_fnv1a(parts[1])
                ) if with_keys else 1
            out.append(feats)
        return out


def _one(atom: str, offset: int) -> int:
    return 1


@functools.lru_cache(maxsize=1 << 16)
def _sequence_hash(tokens: tuple[str, ...]) -> int:
    return py_sequence_hash(list(tokens))
