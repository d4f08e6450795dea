"""Character classes of every code point, as arrays that compiled code reads.

Python's own string methods define crftag's character classes: ``str.isupper``
for casing features, ``re``'s ``\\w``/``\\d``/``\\s`` for the tokeniser,
``unicodedata.category`` for punctuation. Compiled code cannot call them, so
this module tabulates them. A full table (1.1M code points) takes Python about
0.7 s to build, so it is built lazily in pages of 256 code points, each the
first time a text needs it (about 0.2 ms a page): a process that only sees
ASCII builds one page.

Pages are only ever added. A :class:`CharTable` snapshot (index, flags, fold) is
immutable, so kernels in other threads keep reading the one they were given.
"""

from __future__ import annotations

import itertools
import re
import threading
import unicodedata

import numpy as np
from numba import njit

from crftag.bundles import bundle

PAGE_BITS = 8
PAGE = 1 << PAGE_BITS
N_PAGES = 0x110000 >> PAGE_BITS

# flag bits: each is one of Python's predicates, exactly
UPPER = 1  # str.isupper() of the character
LOWER = 2  # str.islower()
TITLE = 4  # category Lt (str.istitle() is TITLE or UPPER)
DIGIT = 8  # str.isdigit()
DECIMAL = 16  # str.isdecimal(): re's \d
WORD = 32  # str.isalnum() or "_": re's \w
SPACE = 64  # str.isspace(): re's \s
PUNCT = 128  # category P* or S*
GAZ_PUNCT = 256  # category P* in the Basic Multilingual Plane (deleted by gazetteer matching)

CharTable = bundle(
    "CharTable",
    """Per code point ``c``: ``flags[index[c >> 8] * 256 + (c & 255)]``; an index of -1 is a page
    not built yet. ``fold`` is the ASCII letter a character matches under ``re.IGNORECASE`` (the
    letter itself, lowercased; also ``K`` for the Kelvin sign, ``s`` for the long s...), else 0.""",
    index=(np.int32, 1), flags=(np.uint16, 1), fold=(np.uint8, 1))

_LETTER_RE = re.compile("(?i)[a-z]")
_ASCII_LETTERS = [(ch, re.compile(f"(?i){ch}")) for ch in "abcdefghijklmnopqrstuvwxyz"]
_PREDICATES = ((UPPER, str.isupper), (LOWER, str.islower), (DIGIT, str.isdigit),
               (DECIMAL, str.isdecimal), (SPACE, str.isspace))


def _page(p: int) -> tuple[np.ndarray, np.ndarray]:
    """Flags and folds of the code points of page ``p``."""
    chars = [chr(c) for c in range(p << PAGE_BITS, (p + 1) << PAGE_BITS)]
    flags = np.zeros(PAGE, dtype=np.uint16)
    for bit, pred in _PREDICATES:
        flags[np.fromiter(map(pred, chars), dtype=bool, count=PAGE)] |= bit
    word = np.fromiter((c.isalnum() or c == "_" for c in chars), dtype=bool, count=PAGE)
    flags[word] |= WORD
    for i, cat in enumerate(map(unicodedata.category, chars)):
        if cat == "Lt":
            flags[i] |= TITLE
        elif cat[0] == "S" or (cat[0] == "P" and p >= 0x10000 >> PAGE_BITS):
            flags[i] |= PUNCT
        elif cat[0] == "P":
            flags[i] |= PUNCT | GAZ_PUNCT
    fold = np.zeros(PAGE, dtype=np.uint8)
    for i, ch in enumerate(chars):
        if _LETTER_RE.fullmatch(ch):
            fold[i] = next(ord(letter) for letter, pat in _ASCII_LETTERS if pat.fullmatch(ch))
    return flags, fold


class CodePointTable:
    """The lazily built table; :meth:`ensure` adds the pages some code points need."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self.snapshot = CharTable(np.full(N_PAGES, -1, dtype=np.int32), np.zeros(0, np.uint16),
                                  np.zeros(0, np.uint8))
        self.ensure(np.arange(128, dtype=np.uint32))  # ASCII, needed by nearly every text

    def ensure(self, codepoints: np.ndarray) -> CharTable:
        """A snapshot that covers every code point in ``codepoints`` (uint32)."""
        snap = self.snapshot
        if first_missing(codepoints, snap.index) < 0:
            return snap
        with self._lock:
            while (p := first_missing(codepoints, self.snapshot.index)) >= 0:
                self.add(p)
            return self.snapshot

    def add(self, p: int) -> None:
        """Build page ``p`` (a kernel that checks its pages itself asks for them this way)."""
        with self._lock:
            if self.snapshot.index[p] < 0:
                self._add(p)

    def _add(self, p: int) -> None:
        old = self.snapshot
        flags, fold = _page(p)
        index = old.index.copy()
        index[p] = len(old.flags) // PAGE
        # a new snapshot: kernels holding the old one keep valid arrays
        self.snapshot = CharTable(index, np.concatenate([old.flags, flags]),
                                  np.concatenate([old.fold, fold]))


@njit(nogil=True, cache=True)
def first_missing(codepoints, index):
    """The first page ``codepoints`` need that ``index`` lacks, or -1."""
    for c in codepoints:
        p = np.int64(c) >> PAGE_BITS
        if p >= len(index):
            return -1  # not a code point (cannot come from a Python str)
        if index[p] < 0:
            return p
    return -1


@njit(nogil=True, cache=True, inline="always")
def flags_of(table, c):
    """The flag bits of code point ``c`` (its page must have been ensured)."""
    c = np.int64(c)
    return table.flags[table.index[c >> PAGE_BITS] * PAGE + (c & (PAGE - 1))]


@njit(nogil=True, cache=True, inline="always")
def fold_of(table, c):
    c = np.int64(c)
    return table.fold[table.index[c >> PAGE_BITS] * PAGE + (c & (PAGE - 1))]


_TABLE: CodePointTable | None = None
_TABLE_LOCK = threading.Lock()


def code_point_table() -> CodePointTable:
    """The process-wide table (built on first use)."""
    global _TABLE
    if _TABLE is None:
        with _TABLE_LOCK:
            if _TABLE is None:
                _TABLE = CodePointTable()
    return _TABLE


def code_points(strings: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """The code points of many strings in one uint32 buffer, and each string's offsets.

    The buffer is writable, like the arrays kernels make themselves: numba compiles a kernel once
    per argument type, and a read-only array is another type (a second compilation of the same
    kernel, seconds each on a fresh install)."""
    ptr = np.array([0, *itertools.accumulate(map(len, strings))], dtype=np.int64)
    buf = np.frombuffer(bytearray("".join(strings).encode("utf-32-le", "surrogatepass")), dtype=np.uint32)
    return buf, ptr
