"""Atoms of new token types, in compiled code: the twin of :mod:`crftag.features.atoms`.

:mod:`crftag.features.atoms` defines each group's atoms with Python string methods and
regular expressions. Here the same atoms are computed for a whole batch of new
token types in one compiled pass over their code points, straight to their
64-bit hashes (FNV-1a of ``"group|atom"`` in UTF-8), without building a string.
Python's character classes come from :mod:`crftag.text.chartable`; lowercasing is
``str.lower`` itself (the caller passes the lowered code points), so special
cases such as a final sigma stay exactly Python's. The equivalence tests compare
every atom with :mod:`crftag.features.atoms` on real and adversarial tokens.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from crftag.bundles import bundle
from crftag.features.hashing import FNV_OFFSET, FNV_PRIME, splitmix64
from crftag.features.lexicon import ClusterTable
from crftag.text.chartable import (
    DECIMAL,
    DIGIT,
    GAZ_PUNCT,
    LOWER,
    PUNCT,
    SPACE,
    TITLE,
    UPPER,
    WORD,
    flags_of,
    fold_of,
)

# the compiled twin of every kind of crftag.features.kinds (tests check both lists agree)
BIAS, WORDS, LOWERED, PREFIX, SUFFIX, CASING, SHAPE, CHARS, TWITTER, BROWN, CLARK, GAZETTEER = range(12)
KIND_CODES = {"bias": BIAS, "word": WORDS, "lower": LOWERED, "prefix": PREFIX, "suffix": SUFFIX,
              "casing": CASING, "shape": SHAPE, "chars": CHARS, "twitter": TWITTER, "brown": BROWN,
              "clark": CLARK, "table": CLARK, "gazetteer": GAZETTEER}  # a table reads like Clark clusters

# constant atoms of each kind, by position in these lists (their hashes fill FeatureTables.const)
CONST_ATOMS = {
    "bias": ["1"],
    "casing": ["title", "upper", "lower", "mixedcase", "initcap"],
    "chars": ["alldigit", "hasdigit", "allpunct", "haspunct", "hyphen",
              "len=0", "len=1", "len=2", "len=3", "len=4-7", "len=8+"],
    "twitter": ["<USR>", "<HASHTAG>", "<URL>", "<RT>", "<EMOTICON>"],
    "brown": ["none"],
    "clark": ["none"],
    "table": ["none"],
}
N_CONST = max(len(v) for v in CONST_ATOMS.values())
# second hash state per kind: the text between "group|" and a variable part
SECOND_STATE = {"shape": "s=", "twitter": "body="}
# twitterner placeholder words, looked up like any word (see crftag.features.lexicon.cluster_keys)
PLACEHOLDERS = ["__isMention__", "__isURL__", "__isMoney__", "__isNumber__", "__repeatedPunctuation__",
                "__isHashtag__"]
MENTION, URL, MONEY, NUMBER, REPEATED, HASHTAG = range(6)
SCHEMES = {"lower": 0, "twitterner": 1}

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

#: Cluster rows are packed into 24 bits beside each word.
MAX_CLUSTERS = 1 << 24
_ROW_BITS = np.uint64(24)
_ROW_MASK = np.uint64(MAX_CLUSTERS - 1)

TokenTypes = bundle(
    "TokenTypes",
    """New token types: code points ``cps[ptr[i]:ptr[i+1]]`` and of their ``str.lower()``
    ``low[low_ptr[i]:low_ptr[i+1]]``.""",
    cps=(np.uint32, 1), ptr=(np.int64, 1), low=(np.uint32, 1), low_ptr=(np.int64, 1))

_U0 = np.uint64(0)


@njit(nogil=True, cache=True, inline="always")
def _byte(h, b):
    return (h ^ np.uint64(b)) * np.uint64(FNV_PRIME)


@njit(nogil=True, cache=True, inline="always")
def fnv_cp(h, c):
    """Continue an FNV-1a hash with the UTF-8 bytes of code point ``c`` (surrogates as 3 bytes,
    like Python's ``surrogatepass``)."""
    c = np.int64(c)
    if c < 0x80:
        return _byte(h, c)
    if c < 0x800:
        return _byte(_byte(h, 0xC0 | (c >> 6)), 0x80 | (c & 0x3F))
    if c < 0x10000:
        return _byte(_byte(_byte(h, 0xE0 | (c >> 12)), 0x80 | ((c >> 6) & 0x3F)), 0x80 | (c & 0x3F))
    h = _byte(_byte(h, 0xF0 | (c >> 18)), 0x80 | ((c >> 12) & 0x3F))
    return _byte(_byte(h, 0x80 | ((c >> 6) & 0x3F)), 0x80 | (c & 0x3F))


@njit(nogil=True, cache=True)
def fnv_span(h, buf, a, b):
    # a kernel of its own, not inlined by numba: with a dozen inlined hash steps at each of its
    # calls, the featuriser took 4 s longer to compile, and unseen-text tagging was no faster
    for i in range(a, b):
        h = fnv_cp(h, buf[i])
    return h


@njit(nogil=True, cache=True)
def utf8_equals(buf, a, b, blob, s, e):
    """Whether code points ``buf[a:b]`` encode to exactly the bytes ``blob[s:e]``."""
    p = s
    for i in range(a, b):
        c = np.int64(buf[i])
        if c < 0x80:
            n = 1
        elif c < 0x800:
            n = 2
        elif c < 0x10000:
            n = 3
        else:
            n = 4
        if p + n > e:
            return False
        if n == 1:
            if blob[p] != c:
                return False
        else:
            lead = (0, 0, 0xC0, 0xE0, 0xF0)[n]
            if blob[p] != (lead | (c >> (6 * (n - 1)))):
                return False
            for k in range(1, n):
                if blob[p + k] != (0x80 | ((c >> (6 * (n - 1 - k))) & 0x3F)):
                    return False
        p += n
    return p == e


@njit(nogil=True, cache=True, inline="always")
def _at_end(buf, i, b):
    """``re``'s ``$``: the end of the string, or just before a final newline."""
    return i == b or (i == b - 1 and buf[i] == 10)


@njit(nogil=True, cache=True)
def _folds(chars, buf, i, b, letters):
    """Whether ``buf[i:]`` starts with ``letters`` (ASCII lowercase) under ``re.IGNORECASE``."""
    if i + len(letters) > b:
        return False
    for k in range(len(letters)):
        if fold_of(chars, buf[i + k]) != letters[k]:
            return False
    return True


_HTTP = np.frombuffer(b"http", np.uint8)
_WWW = np.frombuffer(b"www", np.uint8)
_TLDS = (np.frombuffer(b"com", np.uint8), np.frombuffer(b"org", np.uint8),
         np.frombuffer(b"net", np.uint8), np.frombuffer(b"ly", np.uint8), np.frombuffer(b"co", np.uint8))
_NUMBER_SUFFIXES = (np.frombuffer(b"st", np.uint8), np.frombuffer(b"nd", np.uint8),
                    np.frombuffer(b"rd", np.uint8), np.frombuffer(b"th", np.uint8))
_S = np.frombuffer(b"s", np.uint8)


@njit(nogil=True, cache=True)
def url_start(chars, buf, a, b):
    """``^(?:https?://|www\\.)`` with ``re.I``."""
    if _folds(chars, buf, a, b, _HTTP):
        i = a + 4
        if i < b and fold_of(chars, buf[i]) == 115:  # s
            i += 1
        return i + 3 <= b and buf[i] == 58 and buf[i + 1] == 47 and buf[i + 2] == 47
    return _folds(chars, buf, a, b, _WWW) and a + 3 < b and buf[a + 3] == 46


@njit(nogil=True, cache=True)
def is_url(chars, buf, a, b):
    """``crftag.features.atoms._URL_RE.search``: a URL start, or ``.com`` (org, net, ly, co) before ``/`` or
    the end."""
    if url_start(chars, buf, a, b):
        return True
    for p in range(a, b):
        if buf[p] == 46:
            for tld in _TLDS:
                e = p + 1 + len(tld)
                if _folds(chars, buf, p + 1, b, tld) and (_at_end(buf, e, b) or (e < b and buf[e] == 47)):
                    return True
    return False


@njit(nogil=True, cache=True, inline="always")
def _in(c, members):
    for m in members:
        if c == m:
            return True
    return False


_EYES = np.frombuffer(b":;=8xX", np.uint8).astype(np.int64)
_NOSE = np.frombuffer(b"-o*'^", np.uint8).astype(np.int64)
_MOUTH = np.frombuffer(b")](" + b"[dDpPoO/\\|@3*}{$", np.uint8).astype(np.int64)
_MOUTH_FIRST = np.frombuffer(b")](" + b"[dDpP/\\|", np.uint8).astype(np.int64)
_EYES_LAST = np.frombuffer(b":;=8", np.uint8).astype(np.int64)


@njit(nogil=True, cache=True)
def _all_in(buf, a, b, members):
    for i in range(a, b):
        if not _in(np.int64(buf[i]), members):
            return False
    return True


@njit(nogil=True, cache=True)
def _all_eq(buf, a, b, c):
    for i in range(a, b):
        if buf[i] != c:
            return False
    return True


@njit(nogil=True, cache=True)
def is_emoticon(buf, a, b):
    """``crftag.features.atoms._EMOTICON_RE.match``: the whole token (a final newline aside) is one of
    ``<3+``, ``</3+``, eyes-nose?-mouth+, mouth+-nose?-eyes, ``^_*^``, ``-_+-``."""
    m = b - 1 if b > a and buf[b - 1] == 10 else b
    n = m - a
    if n < 2:
        return False
    c0 = np.int64(buf[a])
    if c0 == 60:  # <
        if _all_eq(buf, a + 1, m, 51):
            return True
        if buf[a + 1] == 47 and n >= 3 and _all_eq(buf, a + 2, m, 51):
            return True
    if _in(c0, _EYES):
        if _all_in(buf, a + 1, m, _MOUTH):
            return True
        if n >= 3 and _in(np.int64(buf[a + 1]), _NOSE) and _all_in(buf, a + 2, m, _MOUTH):
            return True
    if _in(np.int64(buf[m - 1]), _EYES_LAST):
        if _all_in(buf, a, m - 1, _MOUTH_FIRST):
            return True
        if n >= 3 and _in(np.int64(buf[m - 2]), _NOSE) and _all_in(buf, a, m - 2, _MOUTH_FIRST):
            return True
    if n >= 2 and c0 == 94 and buf[m - 1] == 94 and _all_eq(buf, a + 1, m - 1, 95):
        return True
    return n >= 3 and c0 == 45 and buf[m - 1] == 45 and _all_eq(buf, a + 1, m - 1, 95)


@njit(nogil=True, cache=True)
def is_number(chars, buf, a, b):
    """``crftag.features.lexicon._NUMBER_RE.match`` (``re.I``):
    ``^[+-]?\\d+(?:[.,:/]\\d+)*(?:st|nd|rd|th|s)?$``."""
    i = a
    if i < b and (buf[i] == 43 or buf[i] == 45):
        i += 1
    if i >= b or not flags_of(chars, buf[i]) & DECIMAL:
        return False
    while i < b and flags_of(chars, buf[i]) & DECIMAL:
        i += 1
    while i + 1 < b and _in(np.int64(buf[i]), _SEPARATORS) and flags_of(chars, buf[i + 1]) & DECIMAL:
        i += 1
        while i < b and flags_of(chars, buf[i]) & DECIMAL:
            i += 1
    if _at_end(buf, i, b):
        return True
    for suffix in _NUMBER_SUFFIXES:
        if _folds(chars, buf, i, b, suffix) and _at_end(buf, i + 2, b):
            return True
    return _folds(chars, buf, i, b, _S) and _at_end(buf, i + 1, b)


_SEPARATORS = np.frombuffer(b".,:/", np.uint8).astype(np.int64)
_MONEY = np.array([36, 163, 8364], dtype=np.int64)  # $ £ €


@njit(nogil=True, cache=True)
def is_repeated_punctuation(chars, buf, a, b):
    """``crftag.features.lexicon._REPEATED_PUNCT_RE.match`` on lowercased text: ``^([^\\w\\s])\\1+$``."""
    if b - a < 2 or flags_of(chars, buf[a]) & (WORD | SPACE):
        return False
    i = a + 1
    while i < b and buf[i] == buf[a]:
        i += 1
    return i >= a + 2 and _at_end(buf, i, b)


@njit(nogil=True, cache=True)
def _find_word(tables, salt, buf, a, b):
    """Row of the word ``buf[a:b]`` in the word table ``salt``, or -1."""
    key = splitmix64(fnv_span(np.uint64(FNV_OFFSET), buf, a, b) ^ salt)
    words = tables.words
    bucket = key >> np.uint64(tables.word_shift)
    for i in range(tables.word_buckets[bucket], tables.word_buckets[bucket + 1]):
        k = words[i, 0]
        if k > key:
            return -1
        if k == key:
            start, end = np.int64(words[i, 1] >> _ROW_BITS), np.int64(words[i + 1, 1] >> _ROW_BITS)
            if utf8_equals(buf, a, b, tables.word_blob, start, end):
                return np.int64(words[i, 1] & _ROW_MASK)
    return -1


@njit(nogil=True, cache=True)
def _cluster_row(tables, chars, g, low, a, b):
    """The cluster row of a lowercased token, by its group's lookup scheme
    (:func:`crftag.features.lexicon.cluster_keys`), or -1."""
    salt = tables.table[g]
    hashtag = b - a > 1 and low[a] == 35
    if tables.scheme[g] == 1:  # twitterner: placeholders first
        if b - a > 1 and low[a] == 64:
            return tables.placeholder[g, MENTION]
        if url_start(chars, low, a, b):
            return tables.placeholder[g, URL]
        if b - a > 1 and _in(np.int64(low[a]), _MONEY) and flags_of(chars, low[a + 1]) & DECIMAL:
            return tables.placeholder[g, MONEY]
        if is_number(chars, low, a, b):
            return tables.placeholder[g, NUMBER]
        if is_repeated_punctuation(chars, low, a, b):
            return tables.placeholder[g, REPEATED]
        if hashtag:
            row = _find_word(tables, salt, low, a + 1, b)
            return row if row >= 0 else tables.placeholder[g, HASHTAG]
        return _find_word(tables, salt, low, a, b)
    row = _find_word(tables, salt, low, a, b)
    if row < 0 and hashtag:
        row = _find_word(tables, salt, low, a + 1, b)
    return row


@njit(nogil=True, cache=True, inline="always")
def _emit(out, n, h, g, atom_id):
    """Append one atom (hash, group, constant-atom id or -1) at ``n``; returns the next slot."""
    out[0][n] = h
    out[1][n] = g
    out[2][n] = atom_id
    return n + 1


@njit(nogil=True, cache=True, inline="always")
def _emit_const(out, n, tables, g, c):
    return _emit(out, n, tables.const[g, c], g, tables.const_id[g, c])


@njit(nogil=True, cache=True)
def _case_stats(chars, cps, a, b):
    """``str.istitle``, ``isupper``, ``islower`` of ``cps[a:b]`` as CPython computes them, whether an
    upper-case character follows the first, and the counts of lower-case, digit and punctuation
    characters."""
    n_upper = n_lower = n_digit = n_punct = 0
    title = True
    cased = previous_cased = has_title = upper_tail = False
    for i in range(a, b):
        f = flags_of(chars, cps[i])
        if f & (UPPER | TITLE):
            title = title and not previous_cased
            previous_cased = cased = True
        elif f & LOWER:
            title = title and previous_cased
            previous_cased = cased = True
        else:
            previous_cased = False
        has_title = has_title or f & TITLE != 0
        if f & UPPER:
            n_upper += 1
            upper_tail = upper_tail or i > a
        n_lower += f & LOWER != 0
        n_digit += f & DIGIT != 0
        n_punct += f & PUNCT != 0
    is_upper = n_upper > 0 and n_lower == 0 and not has_title
    is_lower = n_lower > 0 and n_upper == 0 and not has_title
    return title and cased, is_upper, is_lower, upper_tail, n_lower, n_digit, n_punct


@njit(nogil=True, cache=True)
def atomize(types, tables, chars, conj_group):
    """Atoms of every token type: ``(atom_hash, atom_group, atom_id, atom_ptr, conj, gaz_hash)``.

    Type ``i`` has atoms ``atom_ptr[i]:atom_ptr[i+1]`` in group order, each group's atoms in
    the order :mod:`crftag.features.atoms` lists them. ``atom_id`` numbers the constant atoms (casing
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
        length = b - a
        is_title, is_upper, is_lower, upper_tail, n_lower, n_digit, n_punct = _case_stats(chars, cps, a, b)
        for g in range(len(tables.kind)):
            kind = tables.kind[g]
            h0 = tables.state[g, 0]
            if kind == BIAS:
                n = _emit_const(out, n, tables, g, 0)
            elif kind == WORDS:
                n = _emit(out, n, fnv_span(h0, cps, a, b), g, -1)
            elif kind == LOWERED:
                n = _emit(out, n, fnv_span(h0, low, la, lb), g, -1)
            elif kind == PREFIX or kind == SUFFIX:
                for k in range(tables.len_ptr[g], tables.len_ptr[g + 1]):
                    width = tables.lens[k]
                    if length >= width:
                        s, e = (la, la + width) if kind == PREFIX else (lb - width, lb)
                        n = _emit(out, n, fnv_span(tables.len_state[k], low, s, e), g, -1)
            elif kind == CASING:
                flags = (is_title, is_upper, is_lower, upper_tail and n_lower > 0,
                         length > 0 and flags_of(chars, cps[a]) & UPPER != 0)
                for c in range(5):
                    if flags[c]:
                        n = _emit_const(out, n, tables, g, c)
            elif kind == SHAPE:
                h = h0
                hs = tables.state[g, 1]
                previous = -1
                for i in range(a, b):
                    c = np.int64(cps[i])
                    f = flags_of(chars, c)
                    s = 88 if f & UPPER else 120 if f & LOWER else 100 if f & DIGIT else c  # X x d
                    if i - a < 12:
                        h = fnv_cp(h, s)
                    if s != previous or s == 10:  # re's "(.)\1+" does not match a newline
                        hs = fnv_cp(hs, s)
                    previous = s
                n = _emit(out, n, h, g, -1)
                n = _emit(out, n, hs, g, -1)
            elif kind == CHARS:
                codes = (0 if length > 0 and n_digit == length else 1 if n_digit > 0 else -1,
                         2 if n_punct == length else 3 if n_punct > 0 else -1,
                         4 if _has_inner_hyphen(cps, a, b) else -1,
                         5 + length if length < 4 else 9 if length < 8 else 10)
                for c in codes:
                    if c >= 0:
                        n = _emit_const(out, n, tables, g, c)
            elif kind == TWITTER:
                if length > 1 and cps[a] == 64:
                    n = _emit_const(out, n, tables, g, 0)
                elif length > 1 and cps[a] == 35:
                    n = _emit_const(out, n, tables, g, 1)
                    n = _emit(out, n, fnv_span(tables.state[g, 1], low, la + 1, lb), g, -1)
                else:
                    code = -1
                    if is_url(chars, cps, a, b):
                        code = 2
                    elif length == 2 and ((cps[a] == 82 and cps[a + 1] == 84)
                                          or (cps[a] == 114 and cps[a + 1] == 116)):
                        code = 3
                    elif is_emoticon(cps, a, b):
                        code = 4
                    if code >= 0:
                        n = _emit_const(out, n, tables, g, code)
            elif kind == BROWN or kind == CLARK:
                row = _cluster_row(tables, chars, g, low, la, lb)
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


@njit(nogil=True, cache=True, inline="always")
def _has_inner_hyphen(buf, a, b):
    for i in range(a + 1, b - 1):
        if buf[i] == 45:
            return True
    return False


def _splitmix64_np(x: np.ndarray) -> np.ndarray:
    """:func:`crftag.features.hashing.splitmix64` over a uint64 array (numpy wraps like the kernel)."""
    with np.errstate(over="ignore"):
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


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
        kind = params["kind"]
        state[g, 0] = py_fnv1a(f"{name}|")
        if kind in SECOND_STATE:
            state[g, 1] = py_fnv1a(f"{name}|{SECOND_STATE[kind]}")
        for c, atom in enumerate(CONST_ATOMS.get(kind, [])):
            const[g, c] = py_fnv1a(f"{name}|{atom}")
            const_id[g, c] = ids.setdefault((g, int(const[g, c])), len(ids))
        if kind in ("prefix", "suffix"):
            for n in params["lengths"]:
                lens.append(n)
                len_state.append(py_fnv1a(f"{name}|{n}="))
        len_ptr.append(len(lens))
        if kind in ("brown", "clark", "table"):
            table = lexicon.clusters.get(name) or ClusterTable.from_dict({})
            scheme[g] = SCHEMES[params["normalize"]]
            salt[g] = py_splitmix64(py_fnv1a(f"cluster-table:{name}"))
            names = table.cluster_names()
            if kind == "brown":
                prefixes = sorted(params["prefixes"])
                atoms = [[f"p{n}={path[:n]}" for n in prefixes] for path in names]
            else:
                atoms = [[cluster] for cluster in names]
            width[g] = len(prefixes) if kind == "brown" else 1
            atom_base[g] = len(cl_atoms)
            for h in hash_strings([f"{name}|{a}" for row in atoms for a in row]).tolist():
                cl_atoms.append(h)
                cl_id.append(ids.setdefault((g, h), len(ids)))
            word_tables.append((table, salt[g]))
            if scheme[g] == SCHEMES["twitterner"]:
                for word, row in _lookup_all(table, PLACEHOLDERS).items():
                    placeholder[g, PLACEHOLDERS.index(word)] = row
        max_atoms += {"bias": 1, "word": 1, "lower": 1, "prefix": len(params.get("lengths", [])),
                      "suffix": len(params.get("lengths", [])), "casing": 5, "shape": 2, "chars": 4,
                      "twitter": 2, "brown": max(int(width[g]), 1), "clark": 1, "table": 1,
                      "gazetteer": 0}[kind]
    words, buckets, shift, blob = _word_table(word_tables)
    return FeatureTables(
        kind=[KIND_CODES[p["kind"]] for _, p in groups], state=state, const=const, len_ptr=len_ptr,
        lens=lens, len_state=np.array(len_state, dtype=np.uint64), scheme=scheme, table=salt,
        width=width, atom_base=atom_base, placeholder=placeholder,
        cl_atoms=np.array(cl_atoms, dtype=np.uint64), words=words, word_buckets=buckets,
        word_shift=shift, word_blob=blob, max_atoms=max_atoms, const_id=const_id,
        cl_id=np.array(cl_id, dtype=np.int64), id_group=[g for g, _ in ids],
        id_hash=np.array([h for _, h in ids], dtype=np.uint64))


def _word_table(tables: list[tuple[ClusterTable, np.uint64]]) -> tuple:
    """The words of several cluster tables, each hashed with its table's salt, as
    ``(words, buckets, shift, blob)`` (see :class:`FeatureTables`)."""
    from crftag.features.hashing import bucket_offsets, fnv1a_batch

    keys = np.concatenate([_splitmix64_np(fnv1a_batch(t.words, t.word_ptr) ^ salt) for t, salt in tables]
                          or [np.zeros(0, np.uint64)])
    rows = np.concatenate([t.index.astype(np.int64) for t, _ in tables] or [np.zeros(0, np.int64)])
    blob = np.concatenate([t.words for t, _ in tables] or [np.zeros(0, np.uint8)])
    sizes = np.concatenate([np.diff(t.word_ptr) for t, _ in tables] or [np.zeros(0, np.int64)])
    if len(rows) and rows.max() >= MAX_CLUSTERS:
        raise ValueError(f"a cluster table may hold at most {MAX_CLUSTERS} clusters")
    starts = np.concatenate([[0], np.cumsum(sizes)])[:-1].astype(np.int64)
    order = np.argsort(keys, kind="stable")
    keys, rows, starts, sizes = keys[order], rows[order], starts[order], sizes[order]
    # the bytes of every word in key order: word i's are word_ptr[i]:word_ptr[i+1]
    word_ptr = np.zeros(len(keys) + 1, dtype=np.int64)
    np.cumsum(sizes, out=word_ptr[1:])
    gather = np.repeat(starts - word_ptr[:-1], sizes) + np.arange(word_ptr[-1])
    words = np.zeros((len(keys) + 1, 2), dtype=np.uint64)
    words[:-1, 0] = keys
    words[:, 1] = word_ptr.astype(np.uint64) << _ROW_BITS
    words[:-1, 1] |= rows.astype(np.uint64)
    buckets, shift = bucket_offsets(keys)
    return words, buckets, shift, blob[gather]


def _lookup_all(table: ClusterTable, words: list[str]) -> dict[str, int]:
    """Rows of the given words in a cluster table (absent words are left out)."""
    found = {}
    for word in words:
        name = table.get(word)
        if name is not None:
            found[word] = table.cluster_names().index(name)
    return found
