"""Tweet-aware tokenisation with character offsets.

Keeps what Twitter NLP tokenisers (twokenize, the WNUT data) keep whole:
URLs, e-mail addresses, @mentions, #hashtags, emoticons, HTML entities,
numbers with separators, abbreviations such as ``U.S.``, words with internal
apostrophes (``don't``, ``I'm``) and hyphens, and runs of repeated punctuation.
Every non-space character ends up in exactly one token, so tokenisation never
fails and offsets always slice the input.

:data:`TOKEN_RE` and :func:`tokenize_regex` are the definition. :func:`tokenize`
and :func:`tokenize_batch` give exactly the same tokens from compiled code, in time
linear in the text, where the regex is quadratic on some inputs (it rescans long
runs at every start position: ``".-" * k``, ``"a+" * k``). Each alternative's end
is worked out as ``re``'s backtracking finds it (the matchers' comments say why);
the runs that every start position asks about are tabulated once per text.
"""

from __future__ import annotations

import re
import threading

import numpy as np
from numba import njit

from crftag.text.chartable import DECIMAL, PAGE_BITS, SPACE, WORD, code_point_table, code_points, flags_of

_URL = r"""(?:https?://|www\.)[^\s<>"]+[^\s<>".,;:!?)\]}'"]|(?:https?://|www\.)[^\s<>"]+"""
_DOMAIN = r"(?:[A-Za-z0-9-]+\.)+(?:com|org|net|edu|gov|co|io|ly|me|tv|uk|de|fr|us|info|biz)\b(?:/[^\s]*)?"
_EMAIL = r"[\w.+-]+@[\w-]+\.[\w.-]+\w"
_MENTION = r"@\w+"
_HASHTAG = r"#\w+"
_ENTITY = r"&(?:amp|lt|gt|quot|apos|#\d+);"
_EYES = r"[:;=8xX]"
_NOSE = r"[-o*'^]?"
_MOUTH = r"[)\](\[dDpPoO/\\|@3*}{$]"
_EMOTICON = (
    rf"(?:<3+|</3+|\^_*\^|-_+-|[oO]_[oO]|T_T|;_;|>?{_EYES}{_NOSE}{_MOUTH}+|"
    rf"{_MOUTH}{_NOSE}{_EYES}(?![\w]))"
)
_NUMBER = r"[$£€]?\d+(?:[.,:/]\d+)*(?:%|st|nd|rd|th|am|pm|k|s)?(?!\w)"
_ABBREV = r"(?:[A-Za-z]\.){2,}"
_WORD = "\\w+(?:['\u2019\\-]\\w+)*"
_PUNCT = r"\.{2,}|…+|[!?]+|-{2,}|->|<-|=>|\*\w+\*|\S"

TOKEN_RE = re.compile(
    "|".join(
        f"(?:{p})"
        for p in (
            _URL,
            _EMAIL,
            _DOMAIN,
            _MENTION,
            _HASHTAG,
            _ENTITY,
            _EMOTICON,
            _NUMBER,
            _ABBREV,
            _WORD,
            _PUNCT,
        )
    ),
    re.UNICODE,
)


def tokenize_regex(text: str) -> tuple[list[str], list[tuple[int, int]]]:
    """The definition: every match of :data:`TOKEN_RE`, left to right."""
    tokens: list[str] = []
    spans: list[tuple[int, int]] = []
    for m in TOKEN_RE.finditer(text):
        tokens.append(m.group())
        spans.append(m.span())
    return tokens, spans


# --- the compiled tokenizer ---------------------------------------------------------------------

# Bits of the kernel's per-character class array: re's \w, \d, \s, and the pattern's own classes
_W, _D, _S = 1, 2, 4  # \w, \d, \s
_U = 8  # [^\s<>"]: URL body
_UE = 16  # [^\s<>".,;:!?)\]}'"]: a URL's last character
_MU, _MH, _MT = 32, 64, 128  # [\w.+-], [\w-], [\w.-]: e-mail user, host, tail
_LB = 256  # [A-Za-z0-9-]: a domain label
_EYE_CH, _NOSE_CH, _MOUTH_CH = 512, 1024, 2048  # emoticon parts
_SEP, _LETTER = 4096, 8192  # [.,:/] in numbers, [A-Za-z]
_DERIVED = ((_U, '[^\\s<>"]'), (_UE, "[^\\s<>\".,;:!?)\\]}'\"]"), (_MU, r"[\w.+-]"), (_MH, r"[\w-]"),
            (_MT, r"[\w.-]"), (_LB, "[A-Za-z0-9-]"), (_EYE_CH, _EYES), (_NOSE_CH, _NOSE[:-1]),
            (_MOUTH_CH, _MOUTH), (_SEP, "[.,:/]"), (_LETTER, "[A-Za-z]"))


def _ascii_classes() -> np.ndarray:
    """The class bits of every ASCII character, from Python's predicates and the pattern's own classes."""
    bits = np.zeros(128, dtype=np.int32)
    for c in range(128):
        ch = chr(c)
        bits[c] = ((_W if ch.isalnum() or ch == "_" else 0) | (_D if ch.isdecimal() else 0)
                   | (_S if ch.isspace() else 0)
                   | sum(bit for bit, cls in _DERIVED if re.fullmatch(cls, ch)))
    return bits


_ASCII = _ascii_classes()

# The run table: per position i (n is the text's length), what every token start may ask of it
R_MU = 0  # end of the [\w.+-] run from i (i if none)
R_LB = 1  # end of the [A-Za-z0-9-] run from i
R_DOMAIN = 2  # after a ".": the deepest node of the label chain from i where a TLD and \b match, or -1
R_MAIL = 3  # at an "@": the end of [\w-]+\.[\w.-]+\w after it, or -1
N_ROWS = 4

_TLDS = ("com", "org", "net", "edu", "gov", "co", "io", "ly", "me", "tv", "uk", "de", "fr", "us", "info",
         "biz")
_TLD_CPS = np.array([[ord(ch) for ch in t.ljust(4, "\0")] for t in _TLDS], dtype=np.int64)
_TLD_LEN = np.array([len(t) for t in _TLDS], dtype=np.int64)
_NUM_SUFFIXES = ("%", "st", "nd", "rd", "th", "am", "pm", "k", "s")
_SUF_CPS = np.array([[ord(ch) for ch in t.ljust(2, "\0")] for t in _NUM_SUFFIXES], dtype=np.int64)
_SUF_LEN = np.array([len(t) for t in _NUM_SUFFIXES], dtype=np.int64)
_ENTITIES = ("amp;", "lt;", "gt;", "quot;", "apos;")
_ENT_CPS = np.array([[ord(ch) for ch in t.ljust(5, "\0")] for t in _ENTITIES], dtype=np.int64)
_ENT_LEN = np.array([len(t) for t in _ENTITIES], dtype=np.int64)

_POUND, _EURO, _ELLIPSIS, _RSQUO = ord("£"), ord("€"), ord("…"), ord("\u2019")

# The scanner allocates nothing, so it is compiled without numba's reference counting, which would
# otherwise count every array argument in and out at every call (about 40 ns a call). The small
# helpers are inlined by numba (a call costs about 8 ns: several a token, more than all the
# matching). The matchers of each token class are kernels of their own, left to LLVM's inliner:
# inlined by numba, every copy of the helpers inside them was typed again, and the scanner took
# 21 s to compile, against 11-15 s this way; tokens/s stayed within the noise (best of 15
# alternating rounds on three dev sets: 0.97-1.11x).
_helper = njit(nogil=True, cache=True, _nrt=False, inline="always")
_scanner = _matcher = njit(nogil=True, cache=True, _nrt=False)


@_helper
def _is(s, n, i, ch):
    return i < n and s[i] == ch


@_helper
def _has(cls, i, bit):
    return cls[i] & bit != 0  # cls[n] is 0: the end of the text is in no class


@_helper
def _run_end(cls, i, bit):
    """End of the run of class ``bit`` from ``i``."""
    while cls[i] & bit:
        i += 1
    return i


@_helper
def _same_end(s, n, i):
    """End of the run of copies of ``s[i]`` from ``i``."""
    c = s[i]
    while i < n and s[i] == c:
        i += 1
    return i


@_helper
def _literal(s, n, i, chars, length):
    """Whether ``s[i:i + length]`` is ``chars[:length]``."""
    if i + length > n:
        return False
    for j in range(length):
        if s[i + j] != chars[j]:
            return False
    return True


@_helper
def _tld(s, n, cls, x):
    r"""Length of the first TLD of the pattern's list at ``x`` followed by ``\b``, or 0 (a TLD ends in
    a letter, so ``\b`` after it means no ``\w`` follows)."""
    for t in range(len(_TLD_LEN)):
        length = _TLD_LEN[t]
        if _literal(s, n, x, _TLD_CPS[t], length) and cls[x + length] & _W == 0:
            return length
    return 0


@_helper
def _mail_tail(s, n, cls, q):
    # [\w-]+\.[\w.-]+\w from q: "." ends the [\w-] run; [\w.-]+\w gives back characters until a \w
    # follows at least one, so it ends after the last \w of the [\w.-] run past its first character
    e = _run_end(cls, q, _MH)
    if e == q or not _is(s, n, e, 46):
        return -1
    r = e + 1
    k = _run_end(cls, r, _MT) - 1
    while k > r and cls[k] & _W == 0:
        k -= 1
    return k + 1 if k > r else -1


@_matcher
def _classify(s, n, table, cls):
    """Class bits of each character (an ASCII one's are constants; the table is read for the rest)."""
    for i in range(n):
        c = s[i]
        if c < 128:
            cls[i] = _ASCII[c]
            continue
        f = flags_of(table, c)
        k = _U | _UE  # no non-ASCII character is in <>" or .,;:!?)]}'"
        if f & WORD:
            k |= _W | _MU | _MH | _MT
        if f & DECIMAL:
            k |= _D
        if f & SPACE:
            k = _S
        cls[i] = k
    cls[n] = 0


@_matcher
def _tabulate(s, n, cls, run):
    """Fill the run table right to left, each entry from entries further right.

    The e-mail and domain patterns scan long runs at every start position; from this table each is
    decided in O(1). What follows an "@" is scanned once per "@" (those scans stop at the next "@")."""
    mu = lb = n  # the runs from i + 1
    run[n, R_MU] = run[n, R_LB] = n
    run[n, R_DOMAIN] = -1
    for i in range(n - 1, -1, -1):
        k = cls[i]
        mu = mu if k & _MU else i
        lb = lb if k & _LB else i
        run[i, R_MU] = mu
        run[i, R_LB] = lb
        if i > 0 and s[i - 1] == 46:
            # a node of a label chain, (?:[A-Za-z0-9-]+\.)+ having ended here: the next node is past
            # the label run and its ".", if any; re tries the deepest node first
            deeper = run[lb + 1, R_DOMAIN] if lb > i and _is(s, n, lb, 46) else -1
            run[i, R_DOMAIN] = deeper if deeper >= 0 else i if _tld(s, n, cls, i) else -1
        if s[i] == 64:
            run[i, R_MAIL] = _mail_tail(s, n, cls, i + 1)


@_matcher
def _url(s, n, cls, p):
    # (?:https?://|www\.)[^\s<>"]+[^\s<>".,;:!?)\]}'"] | the same prefix [^\s<>"]+ : the greedy run
    # gives back characters until a _UE follows at least one, so the first branch ends after the run's
    # last _UE past its first character; without one the second branch takes the whole run. The
    # characters after that _UE cannot start a URL: no URL scan reads a character twice.
    if _is(s, n, p, 104) and _is(s, n, p + 1, 116) and _is(s, n, p + 2, 116) and _is(s, n, p + 3, 112):
        q = p + 5 if _is(s, n, p + 4, 115) else p + 4
        if not (_is(s, n, q, 58) and _is(s, n, q + 1, 47) and _is(s, n, q + 2, 47)):
            return -1  # without the "s", ":" would have to be where the "s" is
        q += 3
    elif _is(s, n, p, 119) and _is(s, n, p + 1, 119) and _is(s, n, p + 2, 119) and _is(s, n, p + 3, 46):
        q = p + 4
    else:
        return -1
    e = _run_end(cls, q, _U)
    if e == q:
        return -1
    k = e - 1
    while k > q and cls[k] & _UE == 0:
        k -= 1
    return k + 1 if k > q else e


@_matcher
def _email(s, n, run, p):
    # [\w.+-]+@ ... : "@" is outside [\w.+-], so the run is maximal and must be followed by the "@"
    e = run[p, R_MU]
    return run[e, R_MAIL] if e > p and _is(s, n, e, 64) else -1


@_matcher
def _domain(s, n, cls, run, p):
    # (?:[A-Za-z0-9-]+\.)+ TLD \b (?:/\S*)? : each iteration is forced (a label holds no "."), so the
    # iterations end at a chain of nodes, tried deepest first, each with the TLDs in order
    e = run[p, R_LB]
    if e == p or not _is(s, n, e, 46):
        return -1
    x = run[e + 1, R_DOMAIN]
    if x < 0:
        return -1
    end = x + _tld(s, n, cls, x)
    if _is(s, n, end, 47):
        end += 1
        while end < n and cls[end] & _S == 0:
            end += 1
    return end


@_matcher
def _entity(s, n, cls, p):
    # &(?:amp|lt|gt|quot|apos|#\d+); ("&" seen)
    for t in range(len(_ENT_LEN)):
        if _literal(s, n, p + 1, _ENT_CPS[t], _ENT_LEN[t]):
            return p + 1 + _ENT_LEN[t]
    if _is(s, n, p + 1, 35):
        e = _run_end(cls, p + 2, _D)
        if e > p + 2 and _is(s, n, e, 59):
            return e + 1
    return -1


@_matcher
def _emoticon(s, n, cls, p):
    c = s[p]
    if c == 60:  # <3+ | </3+
        if _is(s, n, p + 1, 51):
            return _same_end(s, n, p + 1)
        if _is(s, n, p + 1, 47) and _is(s, n, p + 2, 51):
            return _same_end(s, n, p + 2)
    elif c == 94:  # \^_*\^
        e = _same_end(s, n, p + 1) if _is(s, n, p + 1, 95) else p + 1
        if _is(s, n, e, 94):
            return e + 1
    elif c == 45:  # -_+-
        if _is(s, n, p + 1, 95):
            e = _same_end(s, n, p + 1)
            if _is(s, n, e, 45):
                return e + 1
    elif c == 111 or c == 79:  # [oO]_[oO]
        if _is(s, n, p + 1, 95) and (_is(s, n, p + 2, 111) or _is(s, n, p + 2, 79)):
            return p + 3
    elif c == 84:  # T_T
        if _is(s, n, p + 1, 95) and _is(s, n, p + 2, 84):
            return p + 3
    elif c == 59 and _is(s, n, p + 1, 95) and _is(s, n, p + 2, 59):  # ;_;
        return p + 3
    # >?EYES NOSE? MOUTH+ : ">" is no eye, so >? is forced; "o" and "*" are nose and mouth: with a
    # nose the mouths must start after it, else the nose character itself is the first mouth
    i = p + 1 if c == 62 else p
    if _has(cls, i, _EYE_CH):
        if _has(cls, i + 1, _NOSE_CH) and _has(cls, i + 2, _MOUTH_CH):
            return _run_end(cls, i + 2, _MOUTH_CH)
        if _has(cls, i + 1, _MOUTH_CH):
            return _run_end(cls, i + 1, _MOUTH_CH)
    # MOUTH NOSE? EYES (?!\w) : no nose is an eye, so NOSE? is forced
    if _has(cls, p, _MOUTH_CH):
        i = p + 2 if _has(cls, p + 1, _NOSE_CH) else p + 1
        if _has(cls, i, _EYE_CH) and cls[i + 1] & _W == 0:
            return i + 1
    return -1


@_matcher
def _number(s, n, cls, p):
    # [$£€]?\d+(?:[.,:/]\d+)*(?:%|st|nd|rd|th|am|pm|k|s)?(?!\w) : giving back digits leaves a digit
    # (\w) next, which no separator, suffix or (?!\w) accepts, so every \d+ is maximal. If neither a
    # suffix nor (?!\w) fits after all the groups, one group fewer ends before a separator, where
    # (?!\w) holds: the number ends at the last separator (and fails if there was no group). A failed
    # number is a word's digits, and only a number can start inside its last group, with no group.
    c = s[p]
    q = p + 1 if c == 36 or c == _POUND or c == _EURO else p
    if cls[q] & _D == 0:
        return -1
    y = _run_end(cls, q, _D)
    last_sep = -1
    while _has(cls, y, _SEP) and cls[y + 1] & _D:
        last_sep = y
        y = _run_end(cls, y + 1, _D)
    for t in range(len(_SUF_LEN)):
        length = _SUF_LEN[t]
        if _literal(s, n, y, _SUF_CPS[t], length) and cls[y + length] & _W == 0:
            return y + length
    return y if cls[y] & _W == 0 else last_sep


@_matcher
def _punct(s, n, cls, p):
    # \.{2,}|…+|[!?]+|-{2,}|->|<-|=>|\*\w+\*|\S (s[p] is not a space)
    c = s[p]
    if c == 46 or c == 45:
        e = _same_end(s, n, p)
        if e >= p + 2:
            return e
        if c == 45 and _is(s, n, p + 1, 62):
            return p + 2
    elif c == _ELLIPSIS:
        return _same_end(s, n, p)
    elif c == 33 or c == 63:
        e = p + 1
        while _is(s, n, e, 33) or _is(s, n, e, 63):
            e += 1
        return e
    elif (c == 60 and _is(s, n, p + 1, 45)) or (c == 61 and _is(s, n, p + 1, 62)):
        return p + 2
    elif c == 42:
        e = _run_end(cls, p + 1, _W)
        if e > p + 1 and _is(s, n, e, 42):
            return e + 1
    return p + 1


@_helper
def _match(s, n, cls, run, p):
    """End of TOKEN_RE's match at ``p`` (a non-space: some alternative always matches).

    Scans not read from the run table read only characters the token keeps, or characters after a
    marker of their own ("@", "&#", "*", "^", "-"), so no character is read more than a few times."""
    c = s[p]
    e = _url(s, n, cls, p) if c == 104 or c == 119 else -1
    if e < 0:
        e = _email(s, n, run, p)
    if e < 0:
        e = _domain(s, n, cls, run, p)
    if e < 0 and (c == 64 or c == 35):  # @\w+ | #\w+
        e = _run_end(cls, p + 1, _W)
        e = e if e > p + 1 else -1
    if e < 0 and c == 38:
        e = _entity(s, n, cls, p)
    if e < 0:
        e = _emoticon(s, n, cls, p)
    if e < 0:
        e = _number(s, n, cls, p)
    if e < 0 and cls[p] & _LETTER and _is(s, n, p + 1, 46):  # (?:[A-Za-z]\.){2,}
        i = p + 2
        while _has(cls, i, _LETTER) and _is(s, n, i + 1, 46):
            i += 2
        e = i if i >= p + 4 else -1
    if e < 0 and cls[p] & _W:  # \w+(?:['\u2019\-]\w+)*
        e = _run_end(cls, p, _W)
        while (_is(s, n, e, 39) or _is(s, n, e, _RSQUO) or _is(s, n, e, 45)) and cls[e + 1] & _W:
            e = _run_end(cls, e + 1, _W)
    if e < 0:
        e = _punct(s, n, cls, p)
    return e


@_scanner
def _scan(s, table, cls, run, spans, k):
    """Append the spans of the tokens of ``s`` (one text) to ``spans`` (start, end, start, ...) from
    token ``k``; the new number of tokens."""
    n = len(s)
    _classify(s, n, table, cls)
    _tabulate(s, n, cls, run)
    p = np.int64(0)  # not a literal 0: numba would compile a variant of every matcher for it
    while p < n:
        if cls[p] & _S:
            p += 1
            continue
        e = _match(s, n, cls, run, p)
        spans[2 * k] = p
        spans[2 * k + 1] = e
        k += 1
        p = e
    return k


@njit(nogil=True, cache=True)
def _tokenize_text(data, wide, table, spans):
    """Fill ``spans`` with the tokens of one text, given as ASCII bytes or (``wide``) UTF-32-LE
    bytes; their number, or -1 when ``table`` lacks a page the text needs."""
    if not wide:
        n = len(data)
        s = np.empty(n, np.uint32)
        for i in range(n):
            s[i] = data[i]
    else:
        n = len(data) // 4
        s = np.empty(n, np.uint32)
        for i in range(n):
            c = np.uint32(data[4 * i]) | np.uint32(data[4 * i + 1]) << 8 | np.uint32(data[4 * i + 2]) << 16 \
                | np.uint32(data[4 * i + 3]) << 24
            if table.index[c >> PAGE_BITS] < 0:
                return -1
            s[i] = c
    return _scan(s, table, np.empty(n + 1, np.int32), np.empty((n + 1, N_ROWS), np.int32), spans,
                 np.int64(0))  # not a literal 0: numba would compile a variant for it


@njit(nogil=True, cache=True)
def tokenize_segments(cps, ptr, table):
    """The token spans of each text ``cps[ptr[t]:ptr[t + 1]]`` (relative to its start), and where
    each text's tokens start: ``(start, end, start, end, ...)``, ``tok_ptr``."""
    longest = 0
    for t in range(len(ptr) - 1):
        longest = max(longest, ptr[t + 1] - ptr[t])
    cls = np.empty(longest + 1, np.int32)
    run = np.empty((longest + 1, N_ROWS), np.int32)
    spans = np.empty(2 * len(cps), dtype=np.int64)
    tok_ptr = np.zeros(len(ptr), dtype=np.int64)
    k = np.int64(0)  # not a literal 0: numba would compile a variant of _scan for it
    for t in range(len(ptr) - 1):
        k = _scan(cps[ptr[t]:ptr[t + 1]], table, cls, run, spans, k)
        tok_ptr[t + 1] = k
    return spans[:2 * k], tok_ptr


_LOCAL = threading.local()


def _span_buffer(size: int) -> np.ndarray:
    """This thread's buffer for the kernel's output: allocating one costs more than tokenising a tweet."""
    buf = getattr(_LOCAL, "spans", None)
    if buf is None or len(buf) < size:
        buf = np.empty(max(size, 1024), dtype=np.int64)
        if size <= 1 << 16:  # keep it, unless the text is huge
            _LOCAL.spans = buf
    return buf


def tokenize(text: str) -> tuple[list[str], list[tuple[int, int]]]:
    """Split ``text`` into tokens and their ``(start, end)`` character spans (as :func:`tokenize_regex`)."""
    # bytes go to the kernel as they are (np.frombuffer would cost as much as the tokenising); ASCII
    # text as one byte a character. One scanner serves both (and tokenize_batch): each compiled
    # variant of it costs a fresh install about 10 s
    if text.isascii():
        data, wide = text.encode("ascii"), False
    else:
        data, wide = text.encode("utf-32-le", "surrogatepass"), True
    buf = _span_buffer(2 * len(text))
    k = _tokenize_text(data, wide, code_point_table().snapshot, buf)
    if k < 0:
        # a writable copy (a page was missing: rare): a read-only array is another variant of ensure's kernel
        table = code_point_table().ensure(np.frombuffer(bytearray(data), dtype=np.uint32))
        k = _tokenize_text(data, wide, table, buf)
    pairs = iter(buf[:2 * k].tolist())
    spans = list(zip(pairs, pairs, strict=True))
    return [text[a:b] for a, b in spans], spans


def tokenize_batch(texts: list[str]) -> list[tuple[list[str], list[tuple[int, int]]]]:
    """:func:`tokenize` of each text, in one compiled call (for bulk tagging)."""
    cps, ptr = code_points(texts)
    flat, tok_ptr = tokenize_segments(cps, ptr, code_point_table().ensure(cps))
    pairs = iter(flat.tolist())
    all_spans = list(zip(pairs, pairs, strict=True))
    bounds = tok_ptr.tolist()
    out = []
    for i, text in enumerate(texts):
        spans = all_spans[bounds[i]:bounds[i + 1]]
        out.append(([text[a:b] for a, b in spans], spans))
    return out
