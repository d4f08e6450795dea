"""Kinds read off the token's own characters: bias, word, lower, prefix, suffix, casing, shape,
chars. Each: its declaration, its Python atoms, its compiled atoms."""

from __future__ import annotations

import re
import unicodedata

import numpy as np
from numba import njit

from crftag.features.hashing import fnv_cp
from crftag.features.kinds.base import Kind, Option
from crftag.text.chartable import DIGIT, LOWER, PUNCT, TITLE, UPPER, flags_of

# codes of the compiled atomiser's branches (unique across the package: tested)
BIAS, WORDS, LOWERED, PREFIX, SUFFIX, CASING, SHAPE, CHARS = range(8)


# ---- Python atoms: the definition ----

def _is_punct(ch: str) -> bool:
    return unicodedata.category(ch)[0] in "PS"


def shape(token: str) -> str:
    """``Paris2`` -> ``Xxxxxd``."""
    out = []
    for ch in token:
        if ch.isupper():
            out.append("X")
        elif ch.islower():
            out.append("x")
        elif ch.isdigit():
            out.append("d")
        else:
            out.append(ch)
    return "".join(out)


def _collapse(s: str) -> str:
    return re.sub(r"(.)\1+", r"\1", s)


def _casing(token: str) -> list[str]:
    atoms = []
    if token.istitle():
        atoms.append("title")
    if token.isupper():
        atoms.append("upper")
    if token.islower():
        atoms.append("lower")
    if any(c.isupper() for c in token[1:]) and any(c.islower() for c in token):
        atoms.append("mixedcase")
    if token[:1].isupper():
        atoms.append("initcap")
    return atoms


def _chars(token: str) -> list[str]:
    atoms = []
    if token.isdigit():
        atoms.append("alldigit")
    elif any(c.isdigit() for c in token):
        atoms.append("hasdigit")
    if all(_is_punct(c) for c in token):
        atoms.append("allpunct")
    elif any(_is_punct(c) for c in token):
        atoms.append("haspunct")
    if "-" in token[1:-1]:
        atoms.append("hyphen")
    n = len(token)
    atoms.append(f"len={n if n < 4 else '4-7' if n < 8 else '8+'}")
    return atoms


def _prefixes(params, table):
    lengths = params["lengths"]
    return lambda t: [f"{n}={t.lower()[:n]}" for n in lengths if len(t) >= n]


def _suffixes(params, table):
    lengths = params["lengths"]
    return lambda t: [f"{n}={t.lower()[-n:]}" for n in lengths if len(t) >= n]


# ---- compiled atoms: the twin ----

@njit(nogil=True, cache=True)
def case_stats(chars, cps, a, b):
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


@njit(nogil=True, cache=True, inline="always")
def affix_span(la, lb, width, suffix):
    """Where a prefix (or suffix) of ``width`` code points of the lowercased token lies."""
    return (lb - width, lb) if suffix else (la, la + width)


@njit(nogil=True, cache=True, inline="always")
def casing_flags(chars, cps, a, b, stats):
    """Which constant atoms (title, upper, lower, mixedcase, initcap) the token has, as bits."""
    is_title, is_upper, is_lower, upper_tail, n_lower, _, _ = stats
    return (is_title | is_upper << 1 | is_lower << 2 | (upper_tail and n_lower > 0) << 3
            | (b > a and flags_of(chars, cps[a]) & UPPER != 0) << 4)


@njit(nogil=True, cache=True, inline="always")
def shape_hashes(h, hs, chars, cps, a, b):
    """The shape (first 12 characters) and the collapsed shape, hashed on from ``h`` and ``hs``."""
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
    return h, hs


@njit(nogil=True, cache=True, inline="always")
def _has_inner_hyphen(buf, a, b):
    for i in range(a + 1, b - 1):
        if buf[i] == 45:
            return True
    return False


@njit(nogil=True, cache=True, inline="always")
def chars_codes(cps, a, b, stats):
    """The token's constant atoms (digits, punctuation, inner hyphen, length band), by position in
    ``const_atoms`` (-1: none)."""
    length = b - a
    n_digit, n_punct = stats[5], stats[6]
    return (0 if length > 0 and n_digit == length else 1 if n_digit > 0 else -1,
            2 if n_punct == length else 3 if n_punct > 0 else -1,
            4 if _has_inner_hyphen(cps, a, b) else -1,
            5 + length if length < 4 else 9 if length < 8 else 10)


# ---- the declarations ----

def _lengths(params: dict) -> int:
    return len(params.get("lengths", []))


KINDS = (
    Kind("bias", "a constant, so every label gets a per-label bias", code=BIAS,
         atoms=lambda params, table: lambda t: ["1"], const_atoms=("1",), max_atoms=lambda p: 1),
    Kind("word", "the token as written", code=WORDS, atoms=lambda params, table: lambda t: [t],
         max_atoms=lambda p: 1),
    Kind("lower", "the token lowercased", code=LOWERED, atoms=lambda params, table: lambda t: [t.lower()],
         max_atoms=lambda p: 1),
    Kind("prefix", "its first n characters, lowercased",
         {"lengths": Option("ints", "prefix lengths", [3])}, code=PREFIX, atoms=_prefixes,
         max_atoms=_lengths),
    Kind("suffix", "its last n characters, lowercased",
         {"lengths": Option("ints", "suffix lengths", [3])}, code=SUFFIX, atoms=_suffixes,
         max_atoms=_lengths),
    Kind("casing", "title / upper / lower / mixed case / initial capital flags", code=CASING,
         atoms=lambda params, table: _casing,
         const_atoms=("title", "upper", "lower", "mixedcase", "initcap"), max_atoms=lambda p: 5),
    Kind("shape", "Xxxx-style shape (first 12 characters) and its collapsed form Xx", code=SHAPE,
         atoms=lambda params, table: lambda t: [shape(t)[:12], "s=" + _collapse(shape(t))],
         second_state="s=", max_atoms=lambda p: 2),
    Kind("chars", "all digits / has digit, all punctuation / has punctuation, inner hyphen, length band",
         code=CHARS, atoms=lambda params, table: _chars,
         const_atoms=("alldigit", "hasdigit", "allpunct", "haspunct", "hyphen",
                      "len=0", "len=1", "len=2", "len=3", "len=4-7", "len=8+"),
         max_atoms=lambda p: 4),
)
