"""Tagging files in bulk: the engine behind ``crftag tag`` for text and CoNLL.

A file is read in blocks of whole lines. A block is parsed in one pass (the
tokenizer over its lines, or the CoNLL token column in compiled code), it is
tagged in compiled calls of 256 sentences whose distinct tokens are found in
compiled code (strings are made and looked up once per type, not per token),
without entity confidences unless ``min_confidence`` needs them, and CoNLL or bracketed-text
output is assembled in compiled code as one string per block. With ``workers > 1`` blocks are tagged in forked
processes and written in input order, so the output is the same bytes with any
number of workers, and the same bytes as :mod:`crftag.io.writers` writes for the
same tagged sentences.
"""

from __future__ import annotations

import codecs
import itertools
import multiprocessing
import os
import sys
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TextIO

import numpy as np
from numba import njit

from crftag.calibration import Thresholds, threshold_for
from crftag.errors import DataError
from crftag.io.readers import line_ends, read_chunk, too_long, too_many_tokens
from crftag.text.chartable import SPACE, code_point_table, code_points, flags_of
from crftag.text.tokenize import tokenize_segments

if TYPE_CHECKING:
    from crftag.tagger import Tagger

#: Bytes read per block (whole lines; a CoNLL sentence longer than a block grows it).
BLOCK_BYTES = 1 << 20
#: Sentences tagged per compiled call.
BATCH_SENTENCES = 256
_TAB, _NL, _CR = 9, 10, 13
_DOCSTART = np.array([ord(c) for c in "-DOCSTART-"], dtype=np.uint32)
_IMGID = np.array([ord(c) for c in "IMGID:"], dtype=np.uint32)


@dataclass(frozen=True)
class Job:
    """What blocks are tagged for: the formats and the options that change the output, the
    source's name (for errors) and the most tokens a sentence may have."""

    input_format: str  # "text" or "conll"
    output_format: str  # "conll" or "text"
    min_confidence: Thresholds = None  # a number, or per type (crftag.calibration.parse_thresholds)
    source: str = "-"
    max_tokens: int | None = None


# -- reading --------------------------------------------------------------------------------

def read_blocks(path: str, stream: BinaryIO, encoding: str, block_bytes: int = BLOCK_BYTES,
                max_line_bytes: int | None = None, on_bytes: Callable[[int], None] | None = None,
                ) -> Iterator[str]:
    """Decoded blocks of whole lines (a last line without a line end included), every line end
    (``\r\n``, ``\n``, a bare ``\r``) turned into ``\n``. Decoding errors name the line and
    byte offset, as :func:`crftag.io.readers.read` does; a line over ``max_line_bytes`` is an error
    naming it, raised before more of it is read. ``on_bytes`` hears each block's size."""
    try:
        codec = codecs.lookup(encoding)
    except LookupError:
        raise DataError(path, None, f"unknown encoding {encoding!r}") from None
    read = getattr(stream, "read1", stream.read)  # a pipe answers with what it has
    pending, offset, lineno = b"", 0, 1
    while True:
        chunk = read_chunk(read, block_bytes, path, lineno)
        data = pending + chunk
        if chunk:  # cut after the last line end (a final \r may be half of a \r\n)
            end = len(data) - 1 if data.endswith(b"\r") else len(data)
            cut = max(data.rfind(b"\n", 0, end), data.rfind(b"\r", 0, end)) + 1
        else:
            cut = len(data)
        raw, pending = data[:cut], data[cut:]
        if max_line_bytes is not None:
            _check_lines(path, raw, pending, lineno, max_line_bytes)
        if not raw:
            if not chunk:
                return
            continue
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError as exc:
            what = "UTF-8" if codec.name == "utf-8" else encoding
            line_start = max(raw.rfind(b"\n", 0, exc.start), raw.rfind(b"\r", 0, exc.start)) + 1
            raise DataError(path, lineno + line_ends(raw[:line_start]),
                            f"invalid {what} at byte offset {offset + exc.start} "
                            "(for another encoding, pass --encoding)") from None
        if offset == 0 and text.startswith("\ufeff"):
            text = text[1:]
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        offset += len(raw)
        lineno += line_ends(raw)
        if on_bytes is not None:
            on_bytes(len(raw))
        yield text


def _check_lines(path: str, raw: bytes, pending: bytes, lineno: int, limit: int) -> None:
    """No line of ``raw`` (whole lines from line ``lineno``), nor the unfinished line ``pending``
    after them, is longer than ``limit`` bytes."""
    if len(raw) > limit:
        codes = np.frombuffer(raw, dtype=np.uint8)
        ends = np.flatnonzero((codes == _NL) | (codes == _CR))
        lengths = np.diff(np.concatenate([[-1], ends])) - 1
        over = np.flatnonzero(lengths > limit)
        if len(over):
            start = int(ends[over[0] - 1]) + 1 if over[0] else 0
            raise too_long(path, lineno + line_ends(raw[:start]), limit)
    if len(pending) > limit:
        raise too_long(path, lineno + line_ends(raw), limit)


@njit(nogil=True, cache=True)
def parse_conll(cps, chars):
    """The token column of CoNLL lines: ``(starts, ends, sent_ptr, consumed)``.

    A line's token is its first field, as :func:`crftag.io.readers.conll_fields` finds it:
    with a tab, the first tab-separated field, stripped; without, the first
    whitespace-separated word. A blank line, ``-DOCSTART-`` or an ``IMGID:<id>`` line (see
    :func:`crftag.io.readers.read_conll`) ends a sentence; a blank
    token followed by a tag is skipped. A sentence still open at the end of ``cps`` is not
    returned: ``consumed`` is where its first line starts (the caller keeps the rest for the
    next block).
    """
    n = len(cps)
    starts = np.empty(n // 2 + 1, dtype=np.int64)
    ends = np.empty(n // 2 + 1, dtype=np.int64)
    sent_ptr = np.zeros(n // 2 + 2, dtype=np.int64)
    n_tok = n_sent = 0
    consumed = open_from = 0
    ls = 0
    while ls < n:
        le = ls
        while le < n and cps[le] != _NL:
            le += 1
        nxt = min(le + 1, n)
        while le > ls and cps[le - 1] == _CR:  # rstrip("\r\n")
            le -= 1
        ts, te, debris = _first_field(cps, ls, le, chars)
        if debris:
            pass
        elif te == ts or _is_docstart(cps, ts, te) or _is_image_id(cps, ls, le, ts, te, chars):
            if n_tok > sent_ptr[n_sent]:
                n_sent += 1
                sent_ptr[n_sent] = n_tok
            consumed = open_from = nxt
        else:
            if n_tok == sent_ptr[n_sent]:
                open_from = ls
            starts[n_tok] = ts
            ends[n_tok] = te
            n_tok += 1
        ls = nxt
    if n_tok > sent_ptr[n_sent]:  # still open
        consumed = open_from
        n_tok = sent_ptr[n_sent]
    return starts[:n_tok], ends[:n_tok], sent_ptr[:n_sent + 1], consumed


@njit(nogil=True, cache=True)
def _first_field(cps, ls, le, chars):
    """The token of a line as :func:`crftag.io.readers.conll_fields` finds it: ``(start, end,
    skip)``; an empty span with ``skip`` False ends a sentence, with ``skip`` True it is a blank
    token (debris) to pass over."""
    tab = ls
    while tab < le and cps[tab] != _TAB:
        tab += 1
    if tab == le:  # no tab: the first whitespace-separated word
        a = ls
        while a < le and flags_of(chars, cps[a]) & SPACE:
            a += 1
        b = a
        while b < le and not flags_of(chars, cps[b]) & SPACE:
            b += 1
        return a, b, False
    a, b = ls, tab
    while a < b and flags_of(chars, cps[a]) & SPACE:
        a += 1
    while b > a and flags_of(chars, cps[b - 1]) & SPACE:
        b -= 1
    if b > a:
        return a, b, False
    for i in range(tab + 1, le):  # a blank token: debris if a tag follows, else a blank line
        if cps[i] != _TAB and not flags_of(chars, cps[i]) & SPACE:
            return a, a, True
    return a, a, False


@njit(nogil=True, cache=True)
def _is_docstart(cps, a, b):
    if b - a != len(_DOCSTART):
        return False
    for i in range(b - a):
        if cps[a + i] != _DOCSTART[i]:
            return False
    return True


@njit(nogil=True, cache=True)
def _is_image_id(cps, ls, le, a, b, chars):
    """Whether the line ``cps[ls:le]`` is ``IMGID:<id>`` alone with no tab (its first field
    ``a:b``): :func:`crftag.io.readers._image_id`."""
    if a != ls or b - a < len(_IMGID):
        return False
    for i in range(len(_IMGID)):
        if cps[a + i] != _IMGID[i]:
            return False
    for i in range(b, le):
        if cps[i] == _TAB or not flags_of(chars, cps[i]) & SPACE:
            return False
    return True


# -- formatting -------------------------------------------------------------------------------

@njit(nogil=True, cache=True)
def format_conll(cps, starts, ends, sent_ptr, labels, names, name_ptr):
    """``token<TAB>label`` lines and a blank line after each sentence, as code points; an empty
    sentence (a blank line of text input) is that blank line alone, so the output keeps one
    block per input line. ``names[name_ptr[i]:name_ptr[i + 1]]`` is label ``i``."""
    size = len(sent_ptr) - 1
    for t in range(len(starts)):
        size += ends[t] - starts[t] + 2 + name_ptr[labels[t] + 1] - name_ptr[labels[t]]
    out = np.empty(size, dtype=np.uint32)
    p = 0
    for s in range(len(sent_ptr) - 1):
        for t in range(sent_ptr[s], sent_ptr[s + 1]):
            p = _copy(out, p, cps, starts[t], ends[t], False)
            out[p] = _TAB
            p = _copy(out, p + 1, names, name_ptr[labels[t]], name_ptr[labels[t] + 1], False)
            out[p] = _NL
            p += 1
        out[p] = _NL
        p += 1
    return out


@njit(nogil=True, cache=True)
def format_text(cps, line_start, line_end, starts, ends, sent_ptr, ent_start, ent_end, ent_type,
                ent_ptr, names, name_ptr):
    """Each line ``cps[line_start[s]:line_end[s]]`` with its entities bracketed,
    ``[New York|geo-loc]``, newlines shown as spaces, one output line per line. Entity ``e``
    of line ``s`` (``ent_ptr[s] <= e < ent_ptr[s + 1]``) covers its tokens
    ``ent_start[e]:ent_end[e]`` (token spans ``starts``/``ends`` in ``cps``)."""
    n_lines = len(line_start)
    size = n_lines
    for s in range(n_lines):
        size += line_end[s] - line_start[s]
    for e in range(len(ent_start)):
        size += 3 + name_ptr[ent_type[e] + 1] - name_ptr[ent_type[e]]
    out = np.empty(size, dtype=np.uint32)
    p = 0
    for s in range(n_lines):
        pos = line_start[s]
        for e in range(ent_ptr[s], ent_ptr[s + 1]):
            a = starts[sent_ptr[s] + ent_start[e]]
            b = ends[sent_ptr[s] + ent_end[e] - 1]
            p = _copy(out, p, cps, pos, a, True)
            out[p] = 91  # [
            p = _copy(out, p + 1, cps, a, b, True)
            out[p] = 124  # |
            p = _copy(out, p + 1, names, name_ptr[ent_type[e]], name_ptr[ent_type[e] + 1], False)
            out[p] = 93  # ]
            p += 1
            pos = b
        p = _copy(out, p, cps, pos, line_end[s], True)
        out[p] = _NL
        p += 1
    return out


@njit(nogil=True, cache=True, inline="always")
def _copy(out, p, src, a, b, newline_as_space):
    for i in range(a, b):
        out[p] = 32 if newline_as_space and src[i] == _NL else src[i]
        p += 1
    return p


# -- one block ------------------------------------------------------------------------------

class BlockTagger:
    """Parses, tags and formats blocks for one tagger and one :class:`Job`."""

    def __init__(self, tagger: Tagger, job: Job):
        if job.input_format not in ("text", "conll") or job.output_format not in ("text", "conll"):
            raise ValueError("bulk tagging reads text or CoNLL and writes text or CoNLL")
        self.tagger, self.job = tagger, job
        self.chars = code_point_table()
        names = list(tagger.labels)
        if "O" not in names:  # what dropped entities become
            names.append("O")
        self.outside = names.index("O")
        types = sorted({t for t in tagger._types if t})
        self.names = names + types
        self.name_cps, self.name_ptr = code_points(self.names)
        self.label_type = np.array([len(names) + types.index(t) if t else -1 for t in tagger._types],
                                   dtype=np.int64)

    def __call__(self, text: str, first_line: int = 1) -> tuple[str, str]:
        """The output for the complete sentences of ``text`` (whose first line is line
        ``first_line`` of the source), and the rest of ``text`` (the lines of a CoNLL sentence
        not finished yet). A sentence of more than ``job.max_tokens`` tokens is an error."""
        if self.job.input_format == "conll":
            cps, _ = code_points([text])
            starts, ends, sent_ptr, consumed = parse_conll(cps, self.chars.ensure(cps))
            line_start = line_end = None
        else:
            text = text.removesuffix("\n")
            cps, _ = code_points([text])
            starts, ends, sent_ptr, line_start, line_end = _tokenize_lines(cps, self.chars.ensure(cps))
            consumed = len(text) + 1
        if self.job.max_tokens is not None and len(sent_ptr) > 1:
            self._check_tokens(text, starts, sent_ptr, first_line)
        labels, ent_start, ent_end, ent_ptr = self._tag(text, cps, starts, ends, sent_ptr)
        if self.job.output_format == "conll":
            out = format_conll(cps, starts, ends, sent_ptr, labels, self.name_cps, self.name_ptr)
        else:
            if line_start is None:  # CoNLL in, text out: a line is the tokens joined by spaces
                tokens = [text[a:b] for a, b in zip(starts.tolist(), ends.tolist(), strict=True)]
                cps, starts, ends, line_start, line_end = _joined(tokens, sent_ptr)
            first = np.repeat(sent_ptr[:-1], np.diff(ent_ptr)) + ent_start
            out = format_text(cps, line_start, line_end, starts, ends, sent_ptr, ent_start, ent_end,
                              self.label_type[labels[first]], ent_ptr, self.name_cps, self.name_ptr)
        return out.tobytes().decode("utf-32-le", "surrogatepass"), text[consumed:]

    def _check_tokens(self, text: str, starts: np.ndarray, sent_ptr: np.ndarray, first_line: int) -> None:
        sizes = np.diff(sent_ptr)
        over = np.flatnonzero(sizes > self.job.max_tokens)
        if len(over):
            s = int(over[0])
            line = first_line + (s if self.job.input_format == "text"
                                 else text.count("\n", 0, int(starts[sent_ptr[s]])))
            raise too_many_tokens(self.job.source, line, int(sizes[s]), self.job.max_tokens)

    def check_rest(self, rest: str, line: int) -> None:
        """An unfinished CoNLL sentence (starting at ``line``) already over the token limit is an
        error now, before more of it is read."""
        if self.job.max_tokens is not None and rest.count("\n") > self.job.max_tokens:
            raise too_many_tokens(self.job.source, line, rest.count("\n"), self.job.max_tokens)

    def _tag(self, text: str, cps: np.ndarray, starts: np.ndarray, ends: np.ndarray,
             sent_ptr: np.ndarray) -> tuple[np.ndarray, ...]:
        """Label ids of every token ``text[starts[t]:ends[t]]``, and the entity chunks of each
        sentence (those above ``min_confidence``; their token spans and per-sentence offsets).

        Batches of ``BATCH_SENTENCES`` sentences: the new types a call scores are still in the
        core's cache when its sentences read them."""
        fast, job = self.tagger.type_cache, self.job
        calibrate, entity_types = self.tagger.calibration.apply, self.tagger.entity_types
        labels = np.empty(len(starts), dtype=np.int64)
        chunks: list[tuple[int, int]] = []
        ent_ptr = [0]
        for first in range(0, len(sent_ptr) - 1, BATCH_SENTENCES):
            ptr = sent_ptr[first:first + BATCH_SENTENCES + 1]
            lo, hi = int(ptr[0]), int(ptr[-1])
            type_ids, firsts = intern(cps, starts[lo:hi], ends[lo:hi])
            types = [text[a:b] for a, b in zip(starts[lo:hi][firsts].tolist(), ends[lo:hi][firsts].tolist(),
                                                strict=True)]
            if job.output_format == "conll" and job.min_confidence is None:
                labels[lo:hi] = fast.labels(types, ptr - lo, type_ids)
                continue
            decoded = fast.analyse(types, ptr - lo, job.min_confidence is not None, type_ids)
            for s, d in zip(ptr[:-1].tolist(), decoded, strict=True):
                if d is not None:
                    path, c_starts, c_ends, probs = d
                    labels[s:s + len(path)] = path
                    probs = calibrate(probs) if len(probs) else probs  # as Tagger gives them out
                    for i, j, p in zip(c_starts.tolist(), c_ends.tolist(), probs.tolist(), strict=True):
                        floor = threshold_for(job.min_confidence, entity_types[path[i]])
                        if floor is None or p >= floor:
                            chunks.append((i, j))
                        else:  # a dropped entity leaves no tags behind
                            labels[s + i:s + j] = self.outside
                ent_ptr.append(len(chunks))
        spans = np.array(chunks, dtype=np.int64).reshape(-1, 2)
        return labels, spans[:, 0].copy(), spans[:, 1].copy(), np.array(ent_ptr, dtype=np.int64)


_NONE = np.zeros(0, dtype=np.int64)


@njit(nogil=True, cache=True)
def intern(cps, starts, ends):
    """Distinct tokens of a block: each token's type index, and each type's first token.

    An open-addressing table over the tokens' code points (hashed, then compared), so
    that strings are made, and looked up in the type cache, once per type, not per token."""
    n = len(starts)
    size = 1
    while size < 2 * n:
        size *= 2
    table = np.full(size, -1, dtype=np.int64)  # token index of the type held there
    type_ids = np.empty(n, dtype=np.int64)
    first = np.empty(n, dtype=np.int64)
    n_types = 0
    for t in range(n):
        a, b = starts[t], ends[t]
        h = np.uint64(14695981039346656037)
        for i in range(a, b):
            h = (h ^ np.uint64(cps[i])) * np.uint64(1099511628211)
        slot = np.int64(h & np.uint64(size - 1))
        while True:
            other = table[slot]
            if other < 0:
                table[slot] = t
                first[n_types] = t
                type_ids[t] = n_types
                n_types += 1
                break
            oa, ob = starts[other], ends[other]
            if ob - oa == b - a:
                same = True
                for i in range(b - a):
                    if cps[a + i] != cps[oa + i]:
                        same = False
                        break
                if same:
                    type_ids[t] = type_ids[other]
                    break
            slot = (slot + 1) & (size - 1)
    return type_ids, first[:n_types]


def _tokenize_lines(cps: np.ndarray, chars) -> tuple[np.ndarray, ...]:
    """Token spans of every line of a block (one sentence per line, empty lines too), in one
    compiled call, and each line's start and end (its trailing carriage returns left out)."""
    line_start, line_end = _lines(cps)
    seg = np.append(line_start, len(cps))  # a line with its line end: no token spans a line end
    flat, tok_ptr = tokenize_segments(cps, seg, chars)
    offset = np.repeat(line_start, np.diff(tok_ptr))
    return flat[0::2] + offset, flat[1::2] + offset, tok_ptr, line_start, line_end


@njit(nogil=True, cache=True)
def _lines(cps):
    """Where each line starts and where its text ends (before its line end, ``rstrip("\r")``)."""
    n_lines = 1
    for c in cps:
        n_lines += c == _NL
    starts = np.empty(n_lines, dtype=np.int64)
    ends = np.empty(n_lines, dtype=np.int64)
    k = 0
    starts[0] = 0
    for i in range(len(cps) + 1):
        if i == len(cps) or cps[i] == _NL:
            e = i
            while e > starts[k] and cps[e - 1] == _CR:
                e -= 1
            ends[k] = e
            k += 1
            if k < n_lines:
                starts[k] = i + 1
    return starts, ends


def _joined(tokens: list[str], sent_ptr: np.ndarray) -> tuple[np.ndarray, ...]:
    """Each sentence's tokens joined by single spaces, one line per sentence (what
    :meth:`crftag.types.Sentence.with_text` gives), as code points and spans."""
    bounds = sent_ptr.tolist()
    lines = [" ".join(tokens[a:b]) for a, b in itertools.pairwise(bounds)]
    lengths = np.fromiter(map(len, tokens), dtype=np.int64, count=len(tokens))
    line_len = np.fromiter(map(len, lines), dtype=np.int64, count=len(lines))
    line_start = np.zeros(len(lines), dtype=np.int64)
    line_start[1:] = np.cumsum(line_len + 1)[:-1]
    # a token starts after the ones before it in its line, each followed by one space
    within = np.cumsum(lengths + 1) - (lengths + 1)
    first = np.repeat(sent_ptr[:-1], np.diff(sent_ptr))
    starts = np.repeat(line_start, np.diff(sent_ptr)) + within - (within[first] if len(first) else 0)
    cps, _ = code_points(["\n".join(lines)])
    return cps, starts, starts + lengths, line_start, line_start + line_len


# -- a whole stream ---------------------------------------------------------------------------

_WORKER: BlockTagger | None = None


def _work(text: str, first_line: int) -> tuple[str, str]:
    assert _WORKER is not None
    return _WORKER(text, first_line)


def tag_stream(blocks: Iterator[str], tag_block: BlockTagger, write: Callable[[str], None],
               workers: int = 1) -> None:
    """Tag every block and ``write`` the outputs in input order, with ``workers`` processes
    (forked, so they share the loaded model) when more than one block comes. Line numbers
    (for errors) are counted from the blocks' line ends."""
    rest = ""
    line = 1  # where the next block starts
    blocks = iter(blocks)
    first = next(blocks, None)
    if first is None:
        return
    second = next(blocks, None) if workers > 1 else None
    if second is None:  # one block (or one worker): in this process
        for text in _chain(first, blocks):
            start = line - rest.count("\n")
            out, rest = tag_block(rest + text, start)
            line += text.count("\n")
            tag_block.check_rest(rest, line - rest.count("\n"))
            write(out)
        _finish(tag_block, rest, write, line - rest.count("\n"))
        return
    global _WORKER
    _WORKER = tag_block
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        pending: deque[Future] = deque()
        for text in _chain(first, _chain(second, blocks)):
            # a CoNLL sentence may run over a block boundary: cut each block after its last
            # complete sentence here, so that workers get whole sentences
            start = line - rest.count("\n")
            whole, rest = _split_complete(tag_block, rest + text)
            line += text.count("\n")
            tag_block.check_rest(rest, line - rest.count("\n"))
            pending.append(pool.submit(_work, whole, start))
            while len(pending) > 2 * workers:
                write(pending.popleft().result()[0])
        while pending:
            write(pending.popleft().result()[0])
    _WORKER = None
    _finish(tag_block, rest, write, line - rest.count("\n"))


def _chain(first: str, rest: Iterator[str]) -> Iterator[str]:
    yield first
    yield from rest


def _split_complete(tag_block: BlockTagger, text: str) -> tuple[str, str]:
    if tag_block.job.input_format != "conll":
        return text, ""
    cps, _ = code_points([text])
    consumed = parse_conll(cps, tag_block.chars.ensure(cps))[3]
    return text[:consumed], text[consumed:]


def _finish(tag_block: BlockTagger, rest: str, write: Callable[[str], None], line: int) -> None:
    """The last CoNLL sentence, when the file does not end with a blank line."""
    if rest.strip():
        write(tag_block(rest + "\n\n", line)[0])


def tag_file(tagger: Any, src: Path, fmt: str, output_format: str, min_confidence: Thresholds,
              encoding: str, workers: int, out: TextIO, limits: dict, progress: Any) -> None:
    """``crftag tag`` on one text or CoNLL file (``-`` for standard input) into text or CoNLL:
    blocks parsed, tagged and formatted in bulk, ``workers`` processes, output through ``out``."""
    name = os.fspath(src)
    try:
        stream = sys.stdin.buffer if name == "-" else open(name, "rb")  # noqa: SIM115
    except OSError as exc:
        raise DataError(name, None, f"cannot open: {exc.strerror}") from None
    conll = output_format == "conll"

    def write(text: str) -> None:
        out.write(text)
        out.flush()
        # a sentence is a line of text output; in CoNLL, its token lines (one tab each) and a blank line
        progress.sentences += text.count("\n") - (text.count("\t") if conll else 0)

    try:
        tag_block = BlockTagger(tagger, Job(fmt, output_format, min_confidence, name, limits["max_tokens"]))
        tag_stream(read_blocks(name, stream, encoding, max_line_bytes=limits["max_line_bytes"],
                               on_bytes=progress.advance), tag_block, write, workers)
    except IsADirectoryError:
        raise DataError(name, None, "is a directory") from None
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
