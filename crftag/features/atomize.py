"""Atoms of new token types, in compiled code: the twin of each kind's Python atoms.

Each kind of :mod:`crftag.features.kinds` defines its atoms with Python string methods and
regular expressions, and beside them the kernels that compute the same atoms. Here those
kernels run for a whole batch of new token types in one compiled pass over their code
points, straight to their 64-bit hashes (FNV-1a of ``"group|atom"`` in UTF-8), without building
a string. Python's character classes come from :mod:`crftag.text.chartable`; lowercasing is
``str.lower`` itself (the caller passes the lowered code points), so special cases such as a
final sigma stay exactly Python's. The equivalence tests compare every atom with the Python
definition on real and adversarial tokens.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from crftag.bundles import bundle
from crftag.features.hashing import FNV_OFFSET, fnv_cp, fnv_span
from crftag.features.kinds import KINDS
from crftag.features.kinds.clusters import (
    BROWN,
    CLARK,
    PLACEHOLDERS,
    SCHEMES,
    cluster_row,
    placeholder_rows,
    row_atoms,
    word_table,
)
from crftag.features.kinds.text import (
    BIAS,
    CASING,
    CHARS,
    LOWERED,
    PREFIX,
    SHAPE,
    SUFFIX,
    WORDS,
    affix_span,
    case_stats,
    casing_flags,
    chars_codes,
    shape_hashes,
)
from crftag.features.kinds.twitter import TWITTER, twitter_cue
from crftag.features.lexicon import ClusterTable
from crftag.text.chartable import GAZ_PUNCT, flags_of

#: the compiled atomiser's branch of each kind the featuriser makes (tests check every such kind has one)
KIND_CODES = {name: k.code for name, k in KINDS.items() if k.stage == "featurize"}
N_CONST = max(len(k.const_atoms) for k in KINDS.values())

FeatureTables = bundle(
    "FeatureTables",
    """What the atomizer needs of a feature set and its lexicon, as arrays.

    Per group ``g``: its kind; ``state[g]`` = FNV state after ``"name|"`` and after the second
    fixed part (``"name|s="``, ``"name|body="``); ``const[g]`` = hashes of the constant atoms;
    prefix/suffix lengths ``lens[len_ptr[g]:len_ptr[g+1]]`` with the states after ``"name|n="``.
    Cluster groups: ``scheme[g]``, ``table[g]`` (salt of their word table), ``width[g]`` atoms
    per cluster row at ``cl_atoms[atom_base[g] + row * width[g]:]``, placeholder rows. Words of
    every table: ``words[i] = (salted hash, start << 24 | cluster row)`` sorted by hash
    (bucketed), a word's UTF-8 bytes being ``word_blob[start_i:start_{i+1}]`` (one last entry
    marks the end): key, row and bytes of a candidate cost two cache misses, not five.
    Constant atoms (``const``, ``cl_atoms``) are numbered by ``const_id``/``cl_id`` (one id per
    distinct atom of a group; ``id_group``/``id_hash`` describe id ``i``), so that a model can
    keep their summed weights per id (:class:`crftag.engine.typecache.TypeScoreCache`).""",
    kind=(np.int64, 1), state=(np.uint64, 2), const=(np.uint64, 2), len_ptr=(np.int64, 1),
    lens=(np.int64, 1), len_state=(np.uint64, 1), scheme=(np.int64, 1), table=(np.uint64, 1),
    width=(np.int64, 1), atom_base=(np.int64, 1), placeholder=(np.int64, 2), cl_atoms=(np.uint64, 1),
    words=(np.uint64, 2), word_buckets=(np.int64, 1), word_shift=(np.int64, 0),
    word_blob=(np.uint8, 1), max_atoms=(np.int64, 0), const_id=(np.int64, 2), cl_id=(np.int64, 1),
    id_group=(np.int64, 1), id_hash=(np.uint64, 1))

TokenTypes = bundle(
    "TokenTypes",
    """New token types: code points ``cps[ptr[i]:ptr[i+1]]`` and of their ``str.lower()``
    ``low[low_ptr[i]:low_ptr[i+1]]``.""",
    cps=(np.uint32, 1), ptr=(np.int64, 1), low=(np.uint32, 1), low_ptr=(np.int64, 1))

_U0 = np.uint64(0)


@njit(nogil=True, cache=True, inline="always")
def _emit(out, n, h, g, atom_id):
    """Append one atom (hash, group, constant-atom id or -1) at ``n``; returns the next slot."""
    out[0][n] = h
    out[1][n] = g
    out[2][n] = atom_id
    return n + 1


@njit(nogil=True, cache=True, inline="always")
def _emit_const(out, n, tables, g, c):
    """Append the group's constant atom ``c`` (see :attr:`crftag.features.kinds.base.Kind.const_atoms`)."""
    return _emit(out, n, tables.const[g, c], g, tables.const_id[g, c])


@njit(nogil=True, cache=True)
def atomize(types, tables, chars, conj_group):
    """Atoms of every token type: ``(atom_hash, atom_group, atom_id, atom_ptr, conj, gaz_hash)``.

    Type ``i`` has atoms ``atom_ptr[i]:atom_ptr[i+1]`` in group order, each group's atoms in
    the order the kinds' Python atoms list them. ``atom_id`` numbers the constant atoms (casing
    flags, cluster prefixes...: see :attr:`FeatureTables.const_id`), -1 for the others.
    ``conj[i, c]`` is the first atom of group ``conj_group[c]`` (what conjunction ``c`` pairs).
    ``gaz_hash[i]`` is the hash of the type's gazetteer form (lowercased, punctuation removed;
    0 when that is empty).
    """
    n_types = len(types.ptr) - 1
    size = n_types * tables.max_atoms
    out = (np.empty(size, dtype=np.uint64), np.empty(size, dtype=np.int64),
           np.empty(size, dtype=np.int64))
    atom_ptr = np.zeros(n_types + 1, dtype=np.int64)
    gaz_hash = np.zeros(n_types, dtype=np.uint64)
    cps, low = types.cps, types.low
    n = 0
    for ty in range(n_types):
        a, b = types.ptr[ty], types.ptr[ty + 1]
        la, lb = types.low_ptr[ty], types.low_ptr[ty + 1]
        stats = case_stats(chars, cps, a, b)
        for g in range(len(tables.kind)):  # one branch per kind: its module computes, this emits
            kind = tables.kind[g]
            if kind == BIAS:
                n = _emit_const(out, n, tables, g, 0)
            elif kind == WORDS:
                n = _emit(out, n, fnv_span(tables.state[g, 0], cps, a, b), g, -1)
            elif kind == LOWERED:
                n = _emit(out, n, fnv_span(tables.state[g, 0], low, la, lb), g, -1)
            elif kind == PREFIX or kind == SUFFIX:
                for k in range(tables.len_ptr[g], tables.len_ptr[g + 1]):
                    width = tables.lens[k]
                    if b - a >= width:  # lengths the token itself reaches, as Python's len(token)
                        s, e = affix_span(la, lb, width, kind == SUFFIX)
                        n = _emit(out, n, fnv_span(tables.len_state[k], low, s, e), g, -1)
            elif kind == CASING:
                flags = casing_flags(chars, cps, a, b, stats)
                for c in range(5):
                    if flags >> c & 1:
                        n = _emit_const(out, n, tables, g, c)
            elif kind == SHAPE:
                h, hs = shape_hashes(tables.state[g, 0], tables.state[g, 1], chars, cps, a, b)
                n = _emit(out, n, h, g, -1)
                n = _emit(out, n, hs, g, -1)
            elif kind == CHARS:
                for c in chars_codes(cps, a, b, stats):
                    if c >= 0:
                        n = _emit_const(out, n, tables, g, c)
            elif kind == TWITTER:
                cue = twitter_cue(chars, cps, a, b)
                if cue >= 0:
                    n = _emit_const(out, n, tables, g, cue)
                if cue == 1:  # a hashtag's body
                    n = _emit(out, n, fnv_span(tables.state[g, 1], low, la + 1, lb), g, -1)
            elif kind == BROWN or kind == CLARK:
                row = cluster_row(tables, chars, g, low, la, lb)
                if row < 0:
                    n = _emit_const(out, n, tables, g, 0)
                else:
                    base = tables.atom_base[g] + row * tables.width[g]
                    for k in range(base, base + tables.width[g]):
                        n = _emit(out, n, tables.cl_atoms[k], g, tables.cl_id[k])
        atom_ptr[ty + 1] = n
        h = np.uint64(FNV_OFFSET)
        kept = 0
        for i in range(la, lb):
            if not flags_of(chars, low[i]) & GAZ_PUNCT:
                h = fnv_cp(h, low[i])
                kept += 1
        gaz_hash[ty] = h if kept else _U0
    atom_hash, atom_group = out[0][:n], out[1][:n]
    return atom_hash, atom_group, out[2][:n], atom_ptr, _conj_atoms(atom_hash, atom_group, atom_ptr,
                                                                     conj_group), gaz_hash


@njit(nogil=True, cache=True)
def _conj_atoms(atom_hash, atom_group, atom_ptr, conj_group):
    """Per type and conjunction: the first atom of the conjunction's group (0 if none)."""
    n_types = len(atom_ptr) - 1
    conj = np.zeros((n_types, len(conj_group)), dtype=np.uint64)
    for ty in range(n_types):
        for c in range(len(conj_group)):
            for x in range(atom_ptr[ty], atom_ptr[ty + 1]):
                if atom_group[x] == conj_group[c]:
                    conj[ty, c] = atom_hash[x]
                    break
    return conj


def build_tables(feature_set, lexicon) -> FeatureTables:
    """The :class:`FeatureTables` of a feature set and the lexicon it was built with."""
    from crftag.features.hashing import hash_strings, py_fnv1a, py_splitmix64

    groups = list(feature_set.groups.items())
    n_groups = len(groups)
    state = np.zeros((n_groups, 2), dtype=np.uint64)
    const = np.zeros((n_groups, N_CONST), dtype=np.uint64)
    const_id = np.full((n_groups, N_CONST), -1, dtype=np.int64)
    scheme = np.zeros(n_groups, dtype=np.int64)
    salt = np.zeros(n_groups, dtype=np.uint64)
    width = np.zeros(n_groups, dtype=np.int64)
    atom_base = np.zeros(n_groups, dtype=np.int64)
    placeholder = np.full((n_groups, len(PLACEHOLDERS)), -1, dtype=np.int64)
    len_ptr, lens, len_state, cl_atoms, cl_id = [0], [], [], [], []
    ids: dict[tuple[int, int], int] = {}  # (group, atom hash) -> constant-atom id
    word_tables = []
    max_atoms = 0
    for g, (name, params) in enumerate(groups):
        kind = KINDS[params["kind"]]
        state[g, 0] = py_fnv1a(f"{name}|")
        if kind.second_state:
            state[g, 1] = py_fnv1a(f"{name}|{kind.second_state}")
        for c, atom in enumerate(kind.const_atoms):
            const[g, c] = py_fnv1a(f"{name}|{atom}")
            const_id[g, c] = ids.setdefault((g, int(const[g, c])), len(ids))
        if "lengths" in kind.options:  # affixes
            for n in params["lengths"]:
                lens.append(n)
                len_state.append(py_fnv1a(f"{name}|{n}="))
        len_ptr.append(len(lens))
        if kind.resource == "clusters":
            table = lexicon.clusters.get(name) or ClusterTable.from_dict({})
            scheme[g] = SCHEMES[params["normalize"]]
            salt[g] = py_splitmix64(py_fnv1a(f"cluster-table:{name}"))
            atoms = row_atoms(kind.name, params, table.cluster_names())
            width[g] = len(params["prefixes"]) if kind.name == "brown" else 1
            atom_base[g] = len(cl_atoms)
            for h in hash_strings([f"{name}|{a}" for row in atoms for a in row]).tolist():
                cl_atoms.append(h)
                cl_id.append(ids.setdefault((g, h), len(ids)))
            word_tables.append((table, salt[g]))
            if scheme[g] == SCHEMES["twitterner"]:
                for i, row in placeholder_rows(table).items():
                    placeholder[g, i] = row
        max_atoms += kind.max_atoms(params)
    words, buckets, shift, blob = word_table(word_tables)
    return FeatureTables(
        kind=[KINDS[p["kind"]].code for _, p in groups], state=state, const=const, len_ptr=len_ptr,
        lens=lens, len_state=np.array(len_state, dtype=np.uint64), scheme=scheme, table=salt,
        width=width, atom_base=atom_base, placeholder=placeholder,
        cl_atoms=np.array(cl_atoms, dtype=np.uint64), words=words, word_buckets=buckets,
        word_shift=shift, word_blob=blob, max_atoms=max_atoms, const_id=const_id,
        cl_id=np.array(cl_id, dtype=np.int64), id_group=[g for g, _ in ids],
        id_hash=np.array([h for _, h in ids], dtype=np.uint64))
