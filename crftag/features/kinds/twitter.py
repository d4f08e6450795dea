"""The ``twitter`` kind: @mention, #hashtag (and its body), URL, RT and emoticon cues. Its
declaration, its Python atoms (regular expressions) and its compiled atoms (their matchers)."""

from __future__ import annotations

import re

import numpy as np
from numba import njit

from crftag.features.kinds.base import Kind, at_end, folds, is_in
from crftag.text.chartable import fold_of

TWITTER = 8  # the compiled atomiser's branch

# ---- Python atoms: the definition ----

_URL_RE = re.compile(r"^(?:https?://|www\.)|\.(?:com|org|net|ly|co)(?:/|$)", re.I)
_EMOTICON_RE = re.compile(r"^(?:<3+|</3+|[:;=8xX][-o*'^]?[)\](\[dDpPoO/\\|@3*}{$]+|"
                          r"[)\](\[dDpP/\\|]+[-o*'^]?[:;=8]|\^_*\^|-_+-)$")


def _twitter(token: str) -> list[str]:
    if token.startswith("@") and len(token) > 1:
        return ["<USR>"]
    if token.startswith("#") and len(token) > 1:
        return ["<HASHTAG>", f"body={token[1:].lower()}"]
    if _URL_RE.search(token):
        return ["<URL>"]
    if token in ("RT", "rt"):
        return ["<RT>"]
    if _EMOTICON_RE.match(token):
        return ["<EMOTICON>"]
    return []


# ---- compiled atoms: the twin ----

_HTTP = np.frombuffer(b"http", np.uint8)
_WWW = np.frombuffer(b"www", np.uint8)
_TLDS = (np.frombuffer(b"com", np.uint8), np.frombuffer(b"org", np.uint8),
         np.frombuffer(b"net", np.uint8), np.frombuffer(b"ly", np.uint8), np.frombuffer(b"co", np.uint8))


@njit(nogil=True, cache=True)
def url_start(chars, buf, a, b):
    """``^(?:https?://|www\\.)`` with ``re.I``."""
    if folds(chars, buf, a, b, _HTTP):
        i = a + 4
        if i < b and fold_of(chars, buf[i]) == 115:  # s
            i += 1
        return i + 3 <= b and buf[i] == 58 and buf[i + 1] == 47 and buf[i + 2] == 47
    return folds(chars, buf, a, b, _WWW) and a + 3 < b and buf[a + 3] == 46


@njit(nogil=True, cache=True)
def is_url(chars, buf, a, b):
    """``_URL_RE.search``: a URL start, or ``.com`` (org, net, ly, co) before ``/`` or the end."""
    if url_start(chars, buf, a, b):
        return True
    for p in range(a, b):
        if buf[p] == 46:
            for tld in _TLDS:
                e = p + 1 + len(tld)
                if folds(chars, buf, p + 1, b, tld) and (at_end(buf, e, b) or (e < b and buf[e] == 47)):
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
        if not is_in(np.int64(buf[i]), members):
            return False
    return True


_THREE, _UNDERSCORE = np.int64(51), np.int64(95)  # int64s, not literals: one variant of _all_eq


@njit(nogil=True, cache=True)
def _all_eq(buf, a, b, c):
    for i in range(a, b):
        if buf[i] != c:
            return False
    return True


@njit(nogil=True, cache=True)
def is_emoticon(buf, a, b):
    """``_EMOTICON_RE.match``: the whole token (a final newline aside) is one of ``<3+``, ``</3+``,
    eyes-nose?-mouth+, mouth+-nose?-eyes, ``^_*^``, ``-_+-``."""
    m = b - 1 if b > a and buf[b - 1] == 10 else b
    n = m - a
    if n < 2:
        return False
    c0 = np.int64(buf[a])
    if c0 == 60:  # <
        if _all_eq(buf, a + 1, m, _THREE):
            return True
        if buf[a + 1] == 47 and n >= 3 and _all_eq(buf, a + 2, m, _THREE):
            return True
    if is_in(c0, _EYES):
        if _all_in(buf, a + 1, m, _MOUTH):
            return True
        if n >= 3 and is_in(np.int64(buf[a + 1]), _NOSE) and _all_in(buf, a + 2, m, _MOUTH):
            return True
    if is_in(np.int64(buf[m - 1]), _EYES_LAST):
        if _all_in(buf, a, m - 1, _MOUTH_FIRST):
            return True
        if n >= 3 and is_in(np.int64(buf[m - 2]), _NOSE) and _all_in(buf, a, m - 2, _MOUTH_FIRST):
            return True
    if n >= 2 and c0 == 94 and buf[m - 1] == 94 and _all_eq(buf, a + 1, m - 1, _UNDERSCORE):
        return True
    return n >= 3 and c0 == 45 and buf[m - 1] == 45 and _all_eq(buf, a + 1, m - 1, _UNDERSCORE)


@njit(nogil=True, cache=True)
def twitter_cue(chars, cps, a, b):
    """The token's cue, by position in ``const_atoms`` (<USR>, <HASHTAG>, <URL>, <RT>,
    <EMOTICON>), or -1; a hashtag's lowercased body is its second atom."""
    length = b - a
    if length > 1 and cps[a] == 64:
        return 0
    if length > 1 and cps[a] == 35:
        return 1
    if is_url(chars, cps, a, b):
        return 2
    if length == 2 and ((cps[a] == 82 and cps[a + 1] == 84) or (cps[a] == 114 and cps[a + 1] == 116)):
        return 3
    if is_emoticon(cps, a, b):
        return 4
    return -1


KINDS = (
    Kind("twitter", "@mention, #hashtag (and its body), URL, RT and emoticon cues", code=TWITTER,
         atoms=lambda params, table: _twitter,
         const_atoms=("<USR>", "<HASHTAG>", "<URL>", "<RT>", "<EMOTICON>"), second_state="body=",
         max_atoms=lambda p: 2),
)
