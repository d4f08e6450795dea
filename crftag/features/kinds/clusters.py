"""Word-table kinds: ``brown`` (Brown-cluster bit-string prefixes), ``clark`` (Clark clusters),
``table`` (any word<TAB>label table). Their declarations, their Python atoms (with the lookup
scheme, :func:`cluster_keys`) and their compiled atoms (the word table and its lookup)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import numpy as np
from numba import njit

from crftag.features.hashing import FNV_OFFSET, fnv_span, splitmix64
from crftag.features.kinds.base import AtomFn, AtomMaker, Kind, Option, at_end, folds, is_in
from crftag.features.kinds.twitter import url_start
from crftag.text.chartable import DECIMAL, SPACE, WORD, flags_of

if TYPE_CHECKING:  # the tables come built: this module only reads them
    from crftag.features.lexicon import ClusterTable

BROWN, CLARK = 9, 10  # the compiled atomiser's branches (a table reads like Clark clusters)

# ---- Python atoms: the definition ----

_NUMBER_RE = re.compile(r"^[+-]?\d+(?:[.,:/]\d+)*(?:st|nd|rd|th|s)?$", re.I)
_MONEY_RE = re.compile(r"^[$£€]\d")
_URL_RE = re.compile(r"^(?:https?://|www\.)", re.I)
_REPEATED_PUNCT_RE = re.compile(r"^([^\w\s])\1+$")


def cluster_keys(token: str, scheme: str) -> list[str]:
    """Lookup keys for a token, most specific first (a hashtag also tries its body).

    ``lower`` lowercases (the ARK 6M-tweet clusters); ``twitterner`` also maps
    mentions, URLs, hashtags, numbers, money and punctuation runs to the
    placeholder words the TwitterNER clusters were induced with.
    """
    low = token.lower()
    if scheme == "twitterner":
        if low.startswith("@") and len(low) > 1:
            return ["__isMention__"]
        if _URL_RE.match(low):
            return ["__isURL__"]
        if _MONEY_RE.match(low):
            return ["__isMoney__"]
        if _NUMBER_RE.match(low):
            return ["__isNumber__"]
        if _REPEATED_PUNCT_RE.match(low):
            return ["__repeatedPunctuation__"]
        if low.startswith("#") and len(low) > 1:
            return [low[1:], "__isHashtag__"]
        return [low]
    if low.startswith("#") and len(low) > 1:
        return [low, low[1:]]
    return [low]


def _cluster_atoms(kind: str, params: dict) -> Callable[[str], list[str]]:
    """A cluster's atoms: its bit-string prefixes (``brown``), or its name (``clark``, ``table``)."""
    if kind == "brown":
        prefixes = sorted(params["prefixes"])
        return lambda path: [f"p{n}={path[:n]}" for n in prefixes]
    return lambda cluster: [cluster]


def _lookup(kind: str) -> AtomMaker:
    """The Python atoms of a word-table kind: the first of the token's keys the table holds."""
    def make(params: dict, table: Mapping[str, str] | None) -> AtomFn:
        table, scheme, of_cluster = table or {}, params["normalize"], _cluster_atoms(kind, params)

        def atoms(token: str) -> list[str]:
            for key in cluster_keys(token, scheme):
                cluster = table.get(key)
                if cluster is not None:
                    return of_cluster(cluster)
            return ["none"]

        return atoms

    return make


def row_atoms(kind: str, params: dict, names: list[str]) -> list[list[str]]:
    """The atoms of each cluster row of a group's table (what the compiled atomiser emits for a row)."""
    of_cluster = _cluster_atoms(kind, params)
    return [of_cluster(name) for name in names]


# ---- compiled atoms: the twin ----

# twitterner placeholder words, looked up like any word (see cluster_keys)
PLACEHOLDERS = ["__isMention__", "__isURL__", "__isMoney__", "__isNumber__", "__repeatedPunctuation__",
                "__isHashtag__"]
MENTION, URL, MONEY, NUMBER, REPEATED, HASHTAG = range(6)
SCHEMES = {"lower": 0, "twitterner": 1}

#: Cluster rows are packed into 24 bits beside each word.
MAX_CLUSTERS = 1 << 24
_ROW_BITS = np.uint64(24)
_ROW_MASK = np.uint64(MAX_CLUSTERS - 1)

_NUMBER_SUFFIXES = (np.frombuffer(b"st", np.uint8), np.frombuffer(b"nd", np.uint8),
                    np.frombuffer(b"rd", np.uint8), np.frombuffer(b"th", np.uint8))
_S = np.frombuffer(b"s", np.uint8)
_SEPARATORS = np.frombuffer(b".,:/", np.uint8).astype(np.int64)
_MONEY = np.array([36, 163, 8364], dtype=np.int64)  # $ £ €


@njit(nogil=True, cache=True)
def is_number(chars, buf, a, b):
    """``_NUMBER_RE.match`` (``re.I``): ``^[+-]?\\d+(?:[.,:/]\\d+)*(?:st|nd|rd|th|s)?$``."""
    i = a
    if i < b and (buf[i] == 43 or buf[i] == 45):
        i += 1
    if i >= b or not flags_of(chars, buf[i]) & DECIMAL:
        return False
    while i < b and flags_of(chars, buf[i]) & DECIMAL:
        i += 1
    while i + 1 < b and is_in(np.int64(buf[i]), _SEPARATORS) and flags_of(chars, buf[i + 1]) & DECIMAL:
        i += 1
        while i < b and flags_of(chars, buf[i]) & DECIMAL:
            i += 1
    if at_end(buf, i, b):
        return True
    for suffix in _NUMBER_SUFFIXES:
        if folds(chars, buf, i, b, suffix) and at_end(buf, i + 2, b):
            return True
    return folds(chars, buf, i, b, _S) and at_end(buf, i + 1, b)


@njit(nogil=True, cache=True)
def is_repeated_punctuation(chars, buf, a, b):
    """``_REPEATED_PUNCT_RE.match`` on lowercased text: ``^([^\\w\\s])\\1+$``."""
    if b - a < 2 or flags_of(chars, buf[a]) & (WORD | SPACE):
        return False
    i = a + 1
    while i < b and buf[i] == buf[a]:
        i += 1
    return i >= a + 2 and at_end(buf, i, b)


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
def cluster_row(tables, chars, g, low, a, b):
    """The cluster row of a lowercased token, by its group's lookup scheme (:func:`cluster_keys`),
    or -1."""
    salt = tables.table[g]
    hashtag = b - a > 1 and low[a] == 35
    if tables.scheme[g] == 1:  # twitterner: placeholders first
        if b - a > 1 and low[a] == 64:
            return tables.placeholder[g, MENTION]
        if url_start(chars, low, a, b):
            return tables.placeholder[g, URL]
        if b - a > 1 and is_in(np.int64(low[a]), _MONEY) and flags_of(chars, low[a + 1]) & DECIMAL:
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


# ---- the word table the compiled lookup reads ----

def _splitmix64_np(x: np.ndarray) -> np.ndarray:
    """:func:`crftag.features.hashing.splitmix64` over a uint64 array (numpy wraps like the kernel)."""
    with np.errstate(over="ignore"):
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def word_table(tables: list[tuple[ClusterTable, np.uint64]]) -> tuple:
    """The words of several cluster tables, each hashed with its table's salt, as
    ``(words, buckets, shift, blob)`` (see :class:`crftag.features.atomize.FeatureTables`)."""
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


def placeholder_rows(table: ClusterTable) -> dict[int, int]:
    """Rows of the twitterner placeholder words in a cluster table, by placeholder (absent ones
    left out)."""
    found = {}
    for i, word in enumerate(PLACEHOLDERS):
        name = table.get(word)
        if name is not None:
            found[i] = table.cluster_names().index(name)
    return found


# ---- the declarations ----

_NORMALIZE = ("lower", "twitterner")

KINDS = (
    Kind("brown", "prefixes of the token's Brown-cluster bit string",
         {"resource": Option("string", "a Brown paths file (registry name or path)"),
          "prefixes": Option("ints", "bit-string prefix lengths", [4, 8, 12, 16]),
          "normalize": Option("string", "how a token is looked up", "lower", _NORMALIZE)},
         resource="clusters", code=BROWN, atoms=_lookup("brown"), const_atoms=("none",),
         max_atoms=lambda p: max(len(p.get("prefixes", [])), 1)),
    Kind("clark", "the token's Clark cluster",
         {"resource": Option("string", "a Clark clusters file (registry name or path)"),
          "normalize": Option("string", "how a token is looked up", "twitterner", _NORMALIZE)},
         resource="clusters", code=CLARK, atoms=_lookup("clark"), const_atoms=("none",),
         max_atoms=lambda p: 1),
    Kind("table", "the token's label in a word table (word<TAB>label lines: wordfreq bands, MiniLM clusters)",
         {"resource": Option("string", "a word table (registry name or path)"),
          "normalize": Option("string", "how a token is looked up", "lower", _NORMALIZE)},
         resource="clusters", code=CLARK, atoms=_lookup("table"), const_atoms=("none",),
         max_atoms=lambda p: 1),
)
