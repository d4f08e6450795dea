"""Featurisation: tokens in, integer feature keys out, in compiled code.

Each call takes the batch's distinct token types, computes their atoms in one
compiled pass (:mod:`crftag.features.atomize`) and hashes them to 64-bit ids, salted per
window offset. A second compiled pass (numba, GIL released) builds every token's
features: the keys of the tokens in its window, BOS/EOS markers, gazetteer
matches (longest match per list, B/I position) and conjunctions such as word
bigrams. The result is a :class:`Featurized` batch: one flat array of uint64
keys with per-token and per-sentence offsets, which feeds every backend.

:class:`ReferenceFeaturizer` computes the same features the straightforward
way, as readable strings with the same keys; it is the baseline of the
featurisation benchmark and the oracle of the equivalence test.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numba import njit

from crftag.bundles import bundle
from crftag.features.atomize import TokenTypes, atomize, build_tables
from crftag.features.featureset import FeatureSet
from crftag.features.hashing import (
    MASK64,
    bucket_offsets,
    find_key,
    offset_salt,
    py_feature_key,
    py_fnv1a,
    py_splitmix64,
    splitmix64,
)
from crftag.features.kinds import KINDS, make_atom_fn
from crftag.features.lexicon import FNV_OFFSET, MAX_GAZ_TOKENS, Lexicon, gazetteer_token, py_sequence_hash
from crftag.text.chartable import code_point_table, code_points

BOS, EOS = "BOS", "EOS"
#: What a gazetteer match marks on its tokens, by encoding (see :func:`gaz_marks`).
GAZ_CHANNELS = {"bi": ("B", "I"), "bilou": ("B", "I", "L", "U")}


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


Window = bundle(
    "Window",
    """Where each group's atoms apply: the window ``offsets``, which group sees which offset
    (``group_mask[g, k]``), each offset's salt, the BOS/EOS keys beyond the tweet, the gazetteer
    group and its atoms (per list and channel: B and I, or B, I, L and U: see
    :func:`gaz_marks`), and the conjunctions (group, two offsets, salt).""",
    offsets=(np.int64, 1), group_mask=(np.bool_, 2), salts=(np.uint64, 1), boundaries=(np.bool_, 0),
    bos=(np.uint64, 1), eos=(np.uint64, 1), gaz_group=(np.int64, 0), gaz_atoms=(np.uint64, 2),
    conj_group=(np.int64, 1), conj_offsets=(np.int64, 2), conj_salts=(np.uint64, 1),
    bos_atom=(np.uint64, 0), eos_atom=(np.uint64, 0))

GazetteerIndex = bundle(
    "GazetteerIndex",
    """Sorted entry hashes (bucketed, see :func:`crftag.features.hashing.bucket_offsets`), their list masks,
    and a blocked Bloom filter of the hashes (one 64-byte block per key, 4 bits set in it): most
    n-grams a scan tries are in no list, and the filter, small enough to stay in the core's cache,
    rejects nearly all of them without touching the 20 MB of keys and masks.""",
    keys=(np.uint64, 1), buckets=(np.int64, 1), shift=(np.int64, 0), masks=(np.uint64, 1),
    bloom=(np.uint64, 1))

TypeAtoms = bundle(
    "TypeAtoms",
    """Token types as the featuriser sees them: atoms ``hash[ptr[i]:ptr[i+1]]`` of type ``i``
    (group ``group[...]``, constant-atom ``id[...]`` or -1), its conjunction atoms ``conj[i]``
    and gazetteer-token hash ``gaz[i]``.""",
    hash=(np.uint64, 1), group=(np.int64, 1), id=(np.int64, 1), ptr=(np.int64, 1),
    conj=(np.uint64, 2), gaz=(np.uint64, 1))


def build_window(fs: FeatureSet, lexicon: Lexicon) -> Window:
    groups = list(fs.groups.items())
    offsets = sorted({o for _, p in groups for o in p["window"]})
    gaz_group = next((g for g, (_, p) in enumerate(groups) if p["kind"] == "gazetteer"), -1)
    names = lexicon.gazetteer.names if lexicon.gazetteer is not None and gaz_group >= 0 else []
    gaz_name = groups[gaz_group][0] if gaz_group >= 0 else ""
    channels = GAZ_CHANNELS[groups[gaz_group][1]["encoding"]] if gaz_group >= 0 else GAZ_CHANNELS["bi"]
    index = {name: g for g, (name, _) in enumerate(groups)}
    return Window(
        offsets=offsets,
        group_mask=np.array([[o in p["window"] for o in offsets] for _, p in groups],
                            dtype=np.bool_).reshape(len(groups), len(offsets)),
        salts=[offset_salt(o) for o in offsets], boundaries=fs.boundaries,
        bos=[py_feature_key(BOS, o) for o in offsets], eos=[py_feature_key(EOS, o) for o in offsets],
        gaz_group=gaz_group if names else -1,
        gaz_atoms=np.array([[py_fnv1a(f"{gaz_name}|{ln}:{ch}") for ch in channels] for ln in names],
                           dtype=np.uint64).reshape(-1, len(channels)),
        conj_group=[index[c["group"]] for c in fs.conjunctions],
        conj_offsets=np.array([c["offsets"] for c in fs.conjunctions], dtype=np.int64).reshape(-1, 2),
        conj_salts=[conj_salt(c["group"], *c["offsets"]) for c in fs.conjunctions],
        bos_atom=py_fnv1a(BOS), eos_atom=py_fnv1a(EOS))


def gazetteer_index(lexicon: Lexicon) -> GazetteerIndex:
    gaz = lexicon.gazetteer
    keys = gaz.keys if gaz is not None else np.zeros(0, np.uint64)
    masks = gaz.masks if gaz is not None else np.zeros(0, np.uint64)
    buckets, shift = bucket_offsets(keys)
    # about 8 bits per key: 1 MB for the 1.2M hashes of the WNUT16 and Wikidata lists
    n_blocks = 1 << max(0, int(np.ceil(np.log2(max(len(keys), 1) / 64))))
    return GazetteerIndex(keys, buckets, shift, masks, _bloom(keys, n_blocks))


_BLOCK_SHIFT = np.uint64(40)
_NINE = np.uint64(511)
_U1 = np.uint64(1)


@njit(nogil=True, cache=True)
def _bloom(keys, n_blocks):
    bloom = np.zeros(n_blocks * 8, dtype=np.uint64)
    for key in keys:
        base = np.int64((key >> _BLOCK_SHIFT) & np.uint64(n_blocks - 1)) * 8
        for r in range(4):
            bit = np.int64((key >> np.uint64(9 * r)) & _NINE)
            bloom[base + (bit >> 6)] |= _U1 << np.uint64(bit & 63)
    return bloom


@njit(nogil=True, cache=True, inline="always")
def maybe_in(gaz, key):
    """False when ``key`` is surely not a gazetteer hash (the Bloom filter has no false
    negatives)."""
    base = np.int64((key >> _BLOCK_SHIFT) & np.uint64(len(gaz.bloom) // 8 - 1)) * 8
    for r in range(4):
        bit = np.int64((key >> np.uint64(9 * r)) & _NINE)
        if not (gaz.bloom[base + (bit >> 6)] >> np.uint64(bit & 63)) & _U1:
            return False
    return True


@njit(nogil=True, cache=True)
def gaz_unigrams(tok_gaz, gaz):
    """Per token type: the index of its one-token entry hash in the gazetteer, or -1."""
    out = np.full(len(tok_gaz), -1, dtype=np.int64)
    if len(gaz.keys):
        for ty in range(len(tok_gaz)):
            if tok_gaz[ty] != 0:
                out[ty] = find_key(gaz.keys, gaz.buckets, gaz.shift,
                                   splitmix64(np.uint64(FNV_OFFSET) ^ tok_gaz[ty]))
    return out


class Featurizer:
    """The compiled featuriser: stateless, so any number of threads may share one.

    Each call computes the atoms of the batch's distinct token types in one compiled
    pass (:mod:`crftag.features.atomize`), salts them per window offset, then builds every
    token's features (window copies, gazetteer matches, conjunctions) in another. A set's
    stack groups are not its business (:mod:`crftag.stacking` makes them).
    """

    def __init__(self, feature_set: FeatureSet, lexicon: Lexicon | None = None):
        feature_set = feature_set.featurized()
        self.feature_set = feature_set
        self.lexicon = lexicon or Lexicon()
        self.tables = build_tables(feature_set, self.lexicon)
        self.window = build_window(feature_set, self.lexicon)
        self.gazetteer = gazetteer_index(self.lexicon)
        self.chars = code_point_table()

    def atoms(self, types: Sequence[str]) -> TypeAtoms:
        """The atoms of distinct token types."""
        cps, ptr = code_points(types)
        low, low_ptr = code_points([t.lower() for t in types])
        self.chars.ensure(cps)
        chars = self.chars.ensure(low)
        return TypeAtoms(*atomize(TokenTypes(cps, ptr, low, low_ptr), self.tables, chars,
                                  self.window.conj_group))

    def featurize_batch(self, sentences: Sequence[Sequence[str]]) -> Featurized:
        """Features of many sentences in one compiled pass."""
        ids, types, sent_ptr = type_ids(sentences)
        atoms = self.atoms(types)
        key_ptr, type_keys = _salted_keys(atoms, self.window)
        token_ptr, keys = _compose(ids, sent_ptr, key_ptr, type_keys, atoms, self.window,
                                   self.gazetteer)
        return Featurized(keys, token_ptr, sent_ptr, sentences)


def type_ids(sentences: Sequence[Sequence[str]]) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Every token's index into the batch's distinct types, the types, and sentence offsets."""
    sent_ptr = np.zeros(len(sentences) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, sentences), dtype=np.int64, count=len(sentences)), out=sent_ptr[1:])
    index: dict[str, int] = {}
    setdefault = index.setdefault
    ids = [setdefault(t, len(index)) for t in itertools.chain.from_iterable(sentences)]
    return np.array(ids, dtype=np.int64), list(index), sent_ptr


# Gazetteer list masks are uint64 bit sets. The index of a set bit, by de Bruijn
# multiplication: visiting only the set bits of a mask costs one step per list
# matched, not one per list.
_DE_BRUIJN = np.uint64(0x022FDD63CC95386D)
_BIT_INDEX = np.zeros(64, dtype=np.int64)
_BIT_INDEX[[((1 << i) * 0x022FDD63CC95386D & MASK64) >> 58 for i in range(64)]] = np.arange(64)
_U58 = np.uint64(58)


@njit(nogil=True, cache=True)
def lowest_bit(m: np.uint64) -> tuple[np.uint64, int]:
    """The lowest set bit of a non-zero mask, and its index."""
    low = m & (~m + _U1)
    return low, _BIT_INDEX[(low * _DE_BRUIJN) >> _U58]


@njit(nogil=True, cache=True)
def _salted_keys(atoms, window):
    """Per type and window offset (slot ``type * n_offsets + k``): the keys of the atoms its
    groups contribute there, ``keys[key_ptr[slot]:key_ptr[slot + 1]]``."""
    n_types, n_off = len(atoms.ptr) - 1, len(window.offsets)
    key_ptr = np.zeros(n_types * n_off + 1, dtype=np.int64)
    keys = np.empty(len(atoms.hash) * n_off, dtype=np.uint64)
    n = 0
    for ty in range(n_types):
        for k in range(n_off):
            for x in range(atoms.ptr[ty], atoms.ptr[ty + 1]):
                if window.group_mask[atoms.group[x], k]:
                    keys[n] = splitmix64(atoms.hash[x] ^ window.salts[k])
                    n += 1
            key_ptr[ty * n_off + k + 1] = n
    return key_ptr, keys[:n]


@njit(nogil=True, cache=True)
def gaz_marks(tok_gaz, unigram, type_ids, a, b, gaz, best, next_free, marks, bilou):
    """Greedy leftmost-longest gazetteer matches, per list, in tokens [a, b): ``marks[c, t - a]``
    is the bit set of the lists whose match gives token t channel c. B/I: 0 on the first token,
    1 on the others; B/I/L/U (``bilou``): 0 first, 1 inside, 2 last, 3 a one-token match.
    ``unigram[type]`` is :func:`gaz_unigrams`' answer for a type.

    The gazetteer also holds every proper prefix of an entry (mask 0), so the
    scan from a position stops as soon as no entry can continue.
    """
    next_free[:] = 0
    marks[:, :b - a] = 0
    for i in range(a, b):
        found = unigram[type_ids[i]]
        if found < 0:
            continue
        h = splitmix64(np.uint64(FNV_OFFSET) ^ tok_gaz[type_ids[i]])
        union = np.uint64(0)
        for length in range(1, MAX_GAZ_TOKENS + 1):
            if length > 1:
                j = i + length - 1
                if j >= b or tok_gaz[type_ids[j]] == 0:
                    break
                h = splitmix64(h ^ tok_gaz[type_ids[j]])
                if not maybe_in(gaz, h):
                    break
                found = find_key(gaz.keys, gaz.buckets, gaz.shift, h)
                if found < 0:
                    break
            m = gaz.masks[found]
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
                end = i + best[lst]
                if bilou and end - i == 1:
                    marks[3, i - a] |= low
                else:
                    marks[0, i - a] |= low
                    for j in range(i + 1, end):
                        marks[2 if bilou and j == end - 1 else 1, j - a] |= low
                next_free[lst] = end


@njit(nogil=True, cache=True, inline="always")
def conj_key(window, conj, type_ids, c, t, a, b):
    """The key of conjunction ``c`` at token ``t`` of the sentence [a, b)."""
    j1, j2 = t + window.conj_offsets[c, 0], t + window.conj_offsets[c, 1]
    h1 = window.bos_atom if j1 < a else window.eos_atom if j1 >= b else conj[type_ids[j1], c]
    h2 = window.bos_atom if j2 < a else window.eos_atom if j2 >= b else conj[type_ids[j2], c]
    return splitmix64(splitmix64(h1 ^ window.conj_salts[c]) ^ h2)


@njit(nogil=True, cache=True)
def _compose(type_ids, sent_ptr, key_ptr, type_keys, atoms, window, gaz):
    n_tok, n_off, n_conj = len(type_ids), len(window.offsets), len(window.conj_group)
    longest = 0
    for s in range(len(sent_ptr) - 1):
        longest = max(longest, sent_ptr[s + 1] - sent_ptr[s])
    marks = np.zeros((4, longest), dtype=np.uint64)
    n_channels = window.gaz_atoms.shape[1]
    best = np.zeros(64, dtype=np.int64)
    next_free = np.zeros(64, dtype=np.int64)
    with_gaz = window.gaz_group >= 0 and len(gaz.keys) > 0
    unigram = gaz_unigrams(atoms.gaz, gaz)
    # pass 1 counts each token's features, pass 2 writes them
    token_ptr = np.zeros(n_tok + 1, dtype=np.int64)
    for fill in range(2):
        keys = np.empty(token_ptr[n_tok] if fill else 0, dtype=np.uint64)
        for s in range(len(sent_ptr) - 1):
            a, b = sent_ptr[s], sent_ptr[s + 1]
            if with_gaz:
                gaz_marks(atoms.gaz, unigram, type_ids, a, b, gaz, best, next_free, marks, n_channels == 4)
            for t in range(a, b):
                pos = token_ptr[t]
                for k in range(n_off):
                    j = t + window.offsets[k]
                    if j < a or j >= b:
                        if window.boundaries:
                            if fill:
                                keys[pos] = window.bos[k] if j < a else window.eos[k]
                            pos += 1
                        continue
                    slot = type_ids[j] * n_off + k
                    lo, hi = key_ptr[slot], key_ptr[slot + 1]
                    if fill:
                        keys[pos:pos + hi - lo] = type_keys[lo:hi]
                    pos += hi - lo
                    if with_gaz and window.group_mask[window.gaz_group, k]:
                        for channel in range(n_channels):
                            m = marks[channel, j - a]
                            while m:
                                low, lst = lowest_bit(m)
                                m ^= low
                                if fill:
                                    keys[pos] = splitmix64(window.gaz_atoms[lst, channel] ^ window.salts[k])
                                pos += 1
                for c in range(n_conj):
                    if fill:
                        keys[pos] = conj_key(window, atoms.conj, type_ids, c, t, a, b)
                    pos += 1
                if not fill:
                    token_ptr[t + 1] = pos
    return token_ptr, keys


class ReferenceFeaturizer:
    """The same features, computed the plain way: readable strings plus their keys."""

    def __init__(self, feature_set: FeatureSet, lexicon: Lexicon | None = None):
        lex = lexicon or Lexicon()
        feature_set = feature_set.featurized()
        self.feature_set = feature_set
        self.groups = list(feature_set.groups.items())
        self.offsets = sorted({o for _, p in self.groups for o in p["window"]})
        self.atom_fns = [(name, make_atom_fn(p["kind"], p, lex.clusters.get(name)))
                         for name, p in self.groups if KINDS[p["kind"]].token_level]
        self.gaz_name = next((name for name, p in self.groups if p["kind"] == "gazetteer"), None)
        self.gaz_encoding = feature_set.groups[self.gaz_name]["encoding"] if self.gaz_name else "bi"
        self.gaz = dict(zip(lex.gazetteer.keys.tolist(), lex.gazetteer.masks.tolist(), strict=True)) \
            if lex.gazetteer is not None else {}
        self.gaz_names = lex.gazetteer.names if lex.gazetteer is not None else []

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
        bilou = self.gaz_encoding == "bilou"
        for i in range(len(tokens)):
            for li, length in sorted(longest[i].items()):
                if i >= next_free[li]:
                    name = self.gaz_names[li]
                    if bilou and length == 1:
                        marks[i].append(f"{name}:U")
                    else:
                        marks[i].append(f"{name}:B")
                        for j in range(i + 1, i + length):
                            marks[j].append(f"{name}:{'L' if bilou and j == i + length - 1 else 'I'}")
                    next_free[li] = i + length
        return marks

    def featurize(self, tokens: Sequence[str], with_keys: bool = True) -> list[dict[str, int]]:
        """Per token, ``{readable feature: key}`` (key 1 for all when ``with_keys`` is False,
        which is the plain dict featuriser a sklearn-crfsuite user writes)."""
        key = py_feature_key if with_keys else _one
        atoms = [{name: [f"{name}|{a}" for a in fn(t)] for name, fn in self.atom_fns} for t in tokens]
        gaz_name = self.gaz_name if self.gaz_names else None
        gaz = self._gaz_marks(tokens) if gaz_name else [[] for _ in tokens]
        n = len(tokens)
        out = []
        for i in range(n):
            feats: dict[str, int] = {}
            for o in self.offsets:
                j = i + o
                if not 0 <= j < n:
                    if self.feature_set.boundaries:
                        marker = BOS if j < 0 else EOS
                        feats[f"{marker}@{o}"] = key(marker, o)
                    continue
                for name, params in self.groups:
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
