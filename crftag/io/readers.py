"""Readers: files in, :class:`Sentence` objects out, one at a time.

Formats:

* ``conll``: one token per line, token first and tag last, separated by a tab
  or spaces (middle columns ignored), a blank line between sentences. CRLF line
  ends, runs of blank lines, a line holding only a tab (WNUT17), ``-DOCSTART-``
  lines and a last sentence without a final blank line are all accepted, and so is a
  line ``IMGID:<id>`` without a tab (Twitter-2015/2017 start each tweet with the id of its
  image: a sentence boundary, not a token). With a
  tab, a token may hold spaces and its surrounding spaces are dropped; a blank
  token tagged ``O`` is skipped (the Broad Twitter Corpus has a few), a blank
  token tagged as an entity is an error.
* ``csv``: the Kaggle/GMB ``ner_dataset.csv`` layout (``Sentence #,Word,POS,Tag``,
  the sentence id only on a sentence's first row); or, unlabelled, any table with a
  column of texts (``text_col``, default ``text``): one tweet per row, tokenised, the other
  columns kept (like JSONL's other fields) and an ``id`` column passed through.
* ``jsonl``: one JSON object per line, ``{"text": ...}`` or ``{"tokens": [...]}``,
  optionally with ``"tags"`` and ``"id"``; other fields are kept and written back out.
  Read strictly: NaN, Infinity and numbers out of range are errors; tokens may not be
  blank or hold a tab or line break (CoNLL output could not carry them).
* ``text``: one tweet per line, tokenised by :func:`crftag.text.tokenize.tokenize`.

A line ends at ``\n``, ``\r\n`` or a bare ``\r`` (universal newlines), in every format.
Every problem is reported as a :class:`~crftag.errors.DataError` naming the file
and line. Readers stream: a large file is never read whole, and with ``max_line_bytes``
no line is read past that limit (``crftag tag`` sets it, and ``max_tokens``).
"""

from __future__ import annotations

import codecs
import csv
import json
import math
import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from crftag.bio import is_valid_tag
from crftag.errors import DataError
from crftag.io.formats import INPUT_FORMATS
from crftag.limits import MAX_LINE_BYTES, MAX_TOKENS
from crftag.text.tokenize import tokenize
from crftag.types import Sentence

FORMATS = INPUT_FORMATS
_EXTENSIONS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl",
               ".txt": "text", ".conll": "conll", ".bio": "conll", ".tsv": "conll"}


def guess_format(path: str | os.PathLike[str], default: str) -> str:
    """The format implied by a file's extension, else ``default``."""
    return _EXTENSIONS.get(Path(os.fspath(path)).suffix.lower(), default)


_EOL = re.compile(rb"\r\n|\r|\n")
_CHUNK = 1 << 16


def line_ends(raw: bytes) -> int:
    """How many line ends ``raw`` holds (``\r\n``, ``\n`` or a bare ``\r``)."""
    return raw.count(b"\n") + raw.count(b"\r") - raw.count(b"\r\n")


def too_long(path: str, lineno: int, limit: int) -> DataError:
    return DataError(path, lineno, f"line longer than {limit:,} bytes (raise the limit with "
                                   "--max-line-bytes)")


def read_chunk(read: Callable[[int], bytes], size: int, path: str, lineno: int | None) -> bytes:
    """``read(size)``, a failing read (EIO, a closed descriptor) a :class:`DataError` naming the
    input: an input error, never blamed on the output being written meanwhile."""
    try:
        return read(size)
    except OSError as exc:
        raise DataError(path, lineno, f"cannot read: {exc.strerror or exc}") from None


def too_many_tokens(path: str, lineno: int | None, n: int, limit: int) -> DataError:
    return DataError(path, lineno, f"sentence of {n:,} tokens, more than {limit:,} (raise the limit "
                                   "with --max-tokens)")


def _raw_lines(fh, name: str, max_line_bytes: int | None) -> Iterator[tuple[bytes, int]]:
    """Lines of a binary stream without their line ends, and how many bytes each took. A line
    ends at ``\r\n``, ``\n`` or a bare ``\r`` (universal newlines); a line over
    ``max_line_bytes`` is an error before more of it is read. Reads what a pipe has (``read1``),
    so standard input streams line by line."""
    read = getattr(fh, "read1", fh.read)
    buf, pos, eof, lineno = b"", 0, False, 1
    while True:
        m = _EOL.search(buf, pos)
        if m and (eof or m.end() < len(buf) or m.group() != b"\r"):  # a final \r may be half of \r\n
            if max_line_bytes is not None and m.start() - pos > max_line_bytes:
                raise too_long(name, lineno, max_line_bytes)
            yield buf[pos:m.start()], m.end() - pos
            pos = m.end()
            lineno += 1
            continue
        if max_line_bytes is not None and len(buf) - pos > max_line_bytes:
            raise too_long(name, lineno, max_line_bytes)
        if eof:
            if pos < len(buf):
                yield buf[pos:], len(buf) - pos
            return
        chunk = read_chunk(read, _CHUNK, name, lineno)
        eof = not chunk
        buf, pos = buf[pos:] + chunk, 0


def _lines(path: str | os.PathLike[str], encoding: str = "utf-8", max_line_bytes: int | None = None,
           on_bytes: Callable[[int], None] | None = None) -> Iterator[tuple[int, str]]:
    """Numbered, decoded lines without their line ends; ``-`` is standard input.

    Decoding is done per line so that invalid input (UTF-8 unless ``encoding``
    says otherwise) is reported with its line and byte offset, not a traceback.
    Lines are read one at a time: standard input streams. ``on_bytes`` hears how many bytes
    each line took (progress).
    """
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise DataError(path, None, f"unknown encoding {encoding!r}") from None
    name = os.fspath(path)
    try:
        fh = sys.stdin.buffer if name == "-" else open(name, "rb")  # noqa: SIM115
    except OSError as exc:
        raise DataError(name, None, f"cannot open: {exc.strerror}") from None
    offset = 0
    try:
        for lineno, (raw, size) in enumerate(_raw_lines(fh, name, max_line_bytes), 1):
            try:
                line = raw.decode(encoding)
            except UnicodeDecodeError as exc:
                what = "UTF-8" if codecs.lookup(encoding).name == "utf-8" else encoding
                raise DataError(name, lineno, f"invalid {what} at byte offset {offset + exc.start} "
                                              "(for another encoding, pass --encoding)") from None
            offset += size
            if lineno == 1 and line.startswith("\ufeff"):
                line = line[1:]
            if on_bytes is not None:
                on_bytes(size)
            yield lineno, line
    except IsADirectoryError:
        raise DataError(name, None, "is a directory") from None
    finally:
        if fh is not sys.stdin.buffer:
            fh.close()


def _check_tag(path: str, lineno: int, tag: str) -> str:
    if not is_valid_tag(tag):
        raise DataError(path, lineno, f"tag {tag!r} is not in the BIO scheme (O, B-TYPE, I-TYPE)")
    return tag


def read_conll(path: str | os.PathLike[str], labelled: bool = True, encoding: str = "utf-8",
               **limits: Any) -> Iterator[Sentence]:
    """Sentences of a CoNLL file; ``labelled=False`` reads only the token column.

    ``limits`` (every reader takes them): ``max_line_bytes``, ``max_tokens`` (a longer line or
    sentence is a :class:`DataError` naming it, raised before more of it is read) and
    ``on_bytes`` (hears the bytes of each line read)."""
    name = os.fspath(path)
    max_tokens = limits.pop("max_tokens", None)
    tokens: list[str] = []
    tags: list[str] = []
    start = 0
    for lineno, line in _lines(name, encoding, **limits):
        token, tag = conll_fields(line)
        if (token is None and tag is None) or token == "-DOCSTART-" or _image_id(line):  # a sentence ends
            if tokens:
                yield Sentence(tokens, tags if labelled else None, line=start)
                tokens, tags = [], []
            continue
        if token is None:  # a blank token: debris (the Broad Twitter Corpus has a few)
            if tag != "O" and labelled:
                raise DataError(name, lineno, f"blank token tagged {tag!r}: an entity needs a token")
            continue
        if not tokens:
            start = lineno
        elif max_tokens is not None and len(tokens) >= max_tokens:
            raise too_many_tokens(name, start, len(tokens) + 1, max_tokens)
        if labelled:
            if tag is None:
                raise DataError(name, lineno, f"expected 'token<TAB>tag', found {line.strip()!r} with no tag")
            tags.append(_check_tag(name, lineno, tag))
        tokens.append(token)
    if tokens:
        yield Sentence(tokens, tags if labelled else None, line=start)


def _image_id(line: str) -> bool:
    """A Twitter-2015/2017 ``IMGID:<id>`` line: the image a tweet came with, not a token."""
    return line.startswith("IMGID:") and "\t" not in line and len(line.split()) == 1


def conll_fields(line: str) -> tuple[str | None, str | None]:
    """The token and tag of a CoNLL line (either None when absent).

    With a tab, the token is the first tab-separated field and the tag the last non-blank
    one, both stripped: a token may hold spaces (``u R``); a blank first field is a blank
    token. Without a tab, fields are separated by whitespace. ``-DOCSTART-`` lines come back
    as a token of that name with no tag; callers treat them as sentence ends.
    """
    if "\t" in line:
        parts = [f.strip() for f in line.split("\t")]
        rest = [f for f in parts[1:] if f]
        return parts[0] or None, rest[-1] if rest else None
    fields = line.split()
    if not fields:
        return None, None
    return fields[0], fields[-1] if len(fields) > 1 else None


def read_csv(path: str | os.PathLike[str], labelled: bool = True, encoding: str = "utf-8",
             text_col: str | None = None, **limits: Any) -> Iterator[Sentence]:
    """Sentences of a Kaggle/GMB ``ner_dataset.csv`` (``Sentence #,Word,POS,Tag``), or, for
    tagging, the texts of a column (``text_col``, default ``text``; given, it is used even where
    the GMB columns are there too), one per row."""
    name = os.fspath(path)
    max_tokens = limits.pop("max_tokens", None)
    lines = _lines(name, encoding, **limits)
    rows = csv.reader(line for _, line in lines)
    try:
        header = next(rows)
    except StopIteration:
        return
    except csv.Error as exc:
        raise DataError(name, 1, f"bad CSV: {exc}") from None
    cols = {h.strip().lower(): i for i, h in enumerate(header)}
    need = ["sentence #", "word"] + (["tag"] if labelled else [])
    missing = [c for c in need if c not in cols]
    if not labelled and (text_col is not None or missing):
        column = text_col or "text"
        if column not in header and column.lower() not in cols:
            layout = "" if text_col else ", nor the GMB layout 'Sentence #,Word,POS,Tag'"
            raise DataError(name, 1, f"CSV header has no column {column!r} of texts (--text-col)"
                            f"{layout}; its columns: {', '.join(header)}")
        yield from _text_rows(name, header, rows, header.index(column) if column in header
                              else cols[column.lower()], max_tokens)
        return
    if missing:
        raise DataError(name, 1, f"CSV header lacks column(s) {', '.join(missing)} "
                        "(expected 'Sentence #,Word,POS,Tag'; to tag a column of texts, "
                        "--text-col NAME)")
    i_sent, i_word, i_tag = cols["sentence #"], cols["word"], cols.get("tag")
    current: Sentence | None = None
    for lineno, row in _csv_rows(name, header, rows):
        sid = row[i_sent].strip()
        if sid:
            if current is not None and current.tokens:
                yield current
            current = Sentence([], [] if labelled else None, id=sid, line=lineno)
        elif current is None:
            raise DataError(name, lineno, "first row has no sentence id in 'Sentence #'")
        if max_tokens is not None and len(current.tokens) >= max_tokens:
            raise too_many_tokens(name, current.line, len(current.tokens) + 1, max_tokens)
        current.tokens.append(_check_token(name, lineno, row[i_word]))
        if labelled:
            current.tags.append(_check_tag(name, lineno, row[i_tag].strip()))
    if current is not None and current.tokens:
        yield current


def _csv_rows(name: str, header: list[str], rows: Any) -> Iterator[tuple[int, list[str]]]:
    """The non-empty rows after the header, with their line numbers; a row of another width, or
    a CSV error, is a :class:`DataError` naming the line."""
    while True:
        try:
            row = next(rows)
        except StopIteration:
            return
        except csv.Error as exc:
            raise DataError(name, rows.line_num, f"bad CSV: {exc}") from None
        if not row:
            continue
        if len(row) != len(header):
            raise DataError(name, rows.line_num, f"expected {len(header)} columns, found {len(row)}")
        yield rows.line_num, row


def _text_rows(name: str, header: list[str], rows: Any, column: int,
               max_tokens: int | None) -> Iterator[Sentence]:
    """One sentence per CSV row: the text in ``column`` tokenised, every column kept in
    :attr:`Sentence.extra` (JSONL output writes them back), an ``id`` column as the id."""
    id_col = header.index("id") if "id" in header else None
    for lineno, row in _csv_rows(name, header, rows):
        text = row[column]
        toks, spans = tokenize(text)
        if max_tokens is not None and len(toks) > max_tokens:
            raise too_many_tokens(name, lineno, len(toks), max_tokens)
        extra = dict(zip(header, row, strict=True))
        yield Sentence(toks, text=text, spans=spans, id=None if id_col is None else row[id_col],
                       line=lineno, extra=extra)


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:40]} is out of range")
    return value


def _no_constant(text: str) -> float:
    raise ValueError(f"{text} is not JSON")


def unwritable_token(token: str) -> bool:
    """A token that is blank, or holds a tab or a line break: CoNLL output cannot carry it."""
    return not token.strip() or "\t" in token or "\n" in token or "\r" in token


def _check_token(path: str, lineno: int, token: Any) -> str:
    if not isinstance(token, str) or unwritable_token(token):
        raise DataError(path, lineno, f"token {str(token)[:40]!r} is blank or holds a tab or line break")
    return token


def parse_json_line(path: str, lineno: int, line: str) -> Any:
    """One JSONL line, strictly: invalid JSON, nesting deeper than Python's json allows, an
    integer of more digits than Python converts, NaN, Infinity or a number out of float range
    (``1e400``) are each a :class:`DataError` naming the line."""
    try:
        return json.loads(line, parse_float=_finite, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise DataError(path, lineno, f"invalid JSON: {exc.msg} (column {exc.colno})") from None
    except RecursionError:
        raise DataError(path, lineno, "invalid JSON: nested too deeply") from None
    except ValueError as exc:  # huge integers, NaN, Infinity, 1e400
        raise DataError(path, lineno, f"invalid JSON: {str(exc).splitlines()[0][:120]}") from None


def read_jsonl(path: str | os.PathLike[str], labelled: bool = False, encoding: str = "utf-8",
               **limits: Any) -> Iterator[Sentence]:
    """Sentences of a JSONL file: ``{"text": ...}`` or ``{"tokens": [...]}`` per line. Every other
    field (``id`` and any unknown one) is kept in :attr:`Sentence.extra` and written back out."""
    name = os.fspath(path)
    max_tokens = limits.pop("max_tokens", None)
    for lineno, line in _lines(name, encoding, **limits):
        if not line.strip():
            continue
        obj = parse_json_line(name, lineno, line)
        if not isinstance(obj, dict):
            raise DataError(name, lineno, "expected a JSON object with 'text' or 'tokens'")
        sid = obj.get("id")  # passed through to the output unchanged
        extra = obj  # every field, in its place; the writer replaces text, tokens, tags, entities
        if "tokens" in obj:
            toks = obj["tokens"]
            if not isinstance(toks, list) or not all(isinstance(t, str) and t for t in toks):
                raise DataError(name, lineno, "'tokens' must be a list of non-empty strings")
            for t in toks:
                _check_token(name, lineno, t)
            sent = Sentence(list(toks), id=sid, line=lineno, extra=extra)
        elif "text" in obj:
            if not isinstance(obj["text"], str):
                raise DataError(name, lineno, "'text' must be a string")
            toks, spans = tokenize(obj["text"])
            sent = Sentence(toks, text=obj["text"], spans=spans, id=sid, line=lineno, extra=extra)
        else:
            raise DataError(name, lineno, "expected a JSON object with 'text' or 'tokens'")
        if max_tokens is not None and len(sent.tokens) > max_tokens:
            raise too_many_tokens(name, lineno, len(sent.tokens), max_tokens)
        if labelled:
            tags = obj.get("tags")
            if not isinstance(tags, list) or len(tags) != len(sent.tokens):
                raise DataError(name, lineno, "'tags' must be a list with one tag per token")
            sent.tags = [_check_tag(name, lineno, str(t)) for t in tags]
        yield sent


def read_text(path: str | os.PathLike[str], labelled: bool = False, encoding: str = "utf-8",
              **limits: Any) -> Iterator[Sentence]:
    """One tweet per line, tokenised; an empty line is an empty sentence (kept for alignment)."""
    if labelled:
        raise DataError(os.fspath(path), None, "plain text has no tags; use CoNLL, CSV or JSONL")
    max_tokens = limits.pop("max_tokens", None)
    for lineno, line in _lines(path, encoding, **limits):
        toks, spans = tokenize(line)
        if max_tokens is not None and len(toks) > max_tokens:
            raise too_many_tokens(os.fspath(path), lineno, len(toks), max_tokens)
        yield Sentence(toks, text=line, spans=spans, line=lineno)


def looks_like_conll(lines: list[str]) -> bool:
    """Whether the first lines of a file read as text are ``token<TAB>BIO-tag`` lines (at least
    two non-blank ones, every one of them tagged): CoNLL, about to be tagged line by line."""
    seen = 0
    for line in lines:
        if not line.strip() or line.startswith("-DOCSTART-") or _image_id(line):
            continue
        token, tag = conll_fields(line)
        if "\t" not in line or token is None or tag is None or not is_valid_tag(tag):
            return False
        seen += 1
    return seen >= 2


def sniff_conll(path: str | os.PathLike[str], encoding: str = "utf-8", size: int = 1 << 16) -> int | None:
    """The line where a file that is to be read as text starts to look like CoNLL (see
    :func:`looks_like_conll`), or None. Standard input is peeked at, not consumed."""
    name = os.fspath(path)
    try:
        if name == "-":
            peek = getattr(sys.stdin.buffer, "peek", None)
            head = peek(size)[:size] if peek is not None and not sys.stdin.isatty() else b""
        else:
            with open(name, "rb") as fh:
                head = fh.read(size)
    except OSError:
        return None  # the reader reports it
    text = head.decode(encoding, "replace")
    lines = text.splitlines()
    if len(head) >= size:
        lines = lines[:-1]  # the last one may be cut
    lines = lines[:20]
    if not looks_like_conll(lines):
        return None
    return next(i for i, line in enumerate(lines, 1) if line.strip())


_READERS = {"conll": read_conll, "csv": read_csv, "jsonl": read_jsonl, "text": read_text}


def read(path: str | os.PathLike[str], fmt: str | None = None, labelled: bool = True,
         default: str = "conll", encoding: str = "utf-8", **limits: Any) -> Iterator[Sentence]:
    """Read sentences from ``path`` in ``fmt`` (guessed from the extension when None);
    ``limits``: ``max_line_bytes``, ``max_tokens``, ``on_bytes`` (see :func:`read_conll`)."""
    fmt = fmt or guess_format(path, default)
    if fmt not in _READERS:
        raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
    return _READERS[fmt](path, labelled=labelled, encoding=encoding, **limits)


def read_labelled(paths: Iterable[str | os.PathLike[str]], fmt: str | None = None,
                  encoding: str = "utf-8", max_tokens: int | None = None) -> list[Sentence]:
    """All labelled sentences of several files, concatenated; an empty result is an error. A
    sentence of more than ``max_tokens`` tokens is an error naming its line, raised as it is read."""
    sentences: list[Sentence] = []
    for p in paths:
        n = len(sentences)
        sentences.extend(s for s in read(p, fmt, labelled=True, encoding=encoding, max_tokens=max_tokens)
                         if s.tokens)
        if len(sentences) == n:
            raise DataError(p, None, "no sentences found")
    return sentences


def sentences_from_texts(texts: Iterable[str]) -> Iterator[Sentence]:
    """Tokenise in-memory texts (the Python API's path into the pipeline)."""
    for text in texts:
        toks, spans = tokenize(text)
        yield Sentence(toks, text=text, spans=spans)


__all__ = ["FORMATS", "MAX_LINE_BYTES", "MAX_TOKENS", "guess_format", "looks_like_conll", "read",
           "read_conll", "read_csv", "read_jsonl", "read_labelled", "read_text", "sentences_from_texts",
           "sniff_conll"]

