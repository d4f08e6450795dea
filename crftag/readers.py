"""Readers: files in, :class:`Sentence` objects out, one at a time.

Formats:

* ``conll``: one token per line, token first and tag last, separated by a tab
  or spaces (middle columns ignored), a blank line between sentences. CRLF line
  ends, runs of blank lines, a line holding only a tab (WNUT17), ``-DOCSTART-``
  lines and a last sentence without a final blank line are all accepted. With a
  tab, a token may hold spaces and its surrounding spaces are dropped; a blank
  token tagged ``O`` is skipped (the Broad Twitter Corpus has a few), a blank
  token tagged as an entity is an error.
* ``csv``: the Kaggle/GMB ``ner_dataset.csv`` layout (``Sentence #,Word,POS,Tag``,
  the sentence id only on a sentence's first row).
* ``jsonl``: one JSON object per line, ``{"text": ...}`` or ``{"tokens": [...]}``,
  optionally with ``"tags"`` and ``"id"``.
* ``text``: one tweet per line, tokenised by :func:`crftag.tokenize.tokenize`.

Every problem is reported as a :class:`~crftag.errors.DataError` naming the file
and line. Readers stream: a large file is never read whole.
"""

from __future__ import annotations

import codecs
import csv
import json
import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

from crftag.bio import is_valid_tag
from crftag.errors import DataError
from crftag.sentence import Sentence
from crftag.tokenize import tokenize

FORMATS = ("conll", "csv", "jsonl", "text")
_EXTENSIONS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl",
               ".txt": "text", ".conll": "conll", ".bio": "conll", ".tsv": "conll"}


def guess_format(path: str | os.PathLike[str], default: str) -> str:
    """The format implied by a file's extension, else ``default``."""
    return _EXTENSIONS.get(Path(os.fspath(path)).suffix.lower(), default)


def _lines(path: str | os.PathLike[str], encoding: str = "utf-8") -> Iterator[tuple[int, str]]:
    """Numbered, decoded lines without their line ends; ``-`` is standard input.

    Decoding is done per line so that invalid input (UTF-8 unless ``encoding``
    says otherwise) is reported with its line and byte offset, not a traceback.
    Lines are read one at a time: standard input streams.
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
        for lineno, raw in enumerate(fh, 1):
            try:
                line = raw.decode(encoding)
            except UnicodeDecodeError as exc:
                what = "UTF-8" if codecs.lookup(encoding).name == "utf-8" else encoding
                raise DataError(name, lineno, f"invalid {what} at byte offset {offset + exc.start} "
                                              "(for another encoding, pass --encoding)") from None
            offset += len(raw)
            if lineno == 1 and line.startswith("\ufeff"):
                line = line[1:]
            yield lineno, line.rstrip("\r\n")
    finally:
        if fh is not sys.stdin.buffer:
            fh.close()


def _check_tag(path: str, lineno: int, tag: str) -> str:
    if not is_valid_tag(tag):
        raise DataError(path, lineno, f"tag {tag!r} is not in the BIO scheme (O, B-TYPE, I-TYPE)")
    return tag


def read_conll(path: str | os.PathLike[str], labelled: bool = True,
               encoding: str = "utf-8") -> Iterator[Sentence]:
    """Sentences of a CoNLL file; ``labelled=False`` reads only the token column."""
    name = os.fspath(path)
    tokens: list[str] = []
    tags: list[str] = []
    start = 0
    for lineno, line in _lines(name, encoding):
        token, tag = conll_fields(line)
        if (token is None and tag is None) or token == "-DOCSTART-":  # a sentence ends
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
        if labelled:
            if tag is None:
                raise DataError(name, lineno, f"expected 'token<TAB>tag', found {line.strip()!r} with no tag")
            tags.append(_check_tag(name, lineno, tag))
        tokens.append(token)
    if tokens:
        yield Sentence(tokens, tags if labelled else None, line=start)


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


def read_gmb_csv(path: str | os.PathLike[str], labelled: bool = True,
                 encoding: str = "utf-8") -> Iterator[Sentence]:
    """Sentences of a Kaggle/GMB ``ner_dataset.csv`` (``Sentence #,Word,POS,Tag``)."""
    name = os.fspath(path)
    lines = _lines(name, encoding)
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
    if missing:
        raise DataError(name, 1, f"CSV header lacks column(s) {', '.join(missing)} "
                        "(expected 'Sentence #,Word,POS,Tag')")
    i_sent, i_word, i_tag = cols["sentence #"], cols["word"], cols.get("tag")
    current: Sentence | None = None
    lineno = 1
    while True:
        try:
            row = next(rows)
        except StopIteration:
            break
        except csv.Error as exc:
            raise DataError(name, rows.line_num, f"bad CSV: {exc}") from None
        lineno = rows.line_num
        if not row:
            continue
        if len(row) != len(header):
            raise DataError(name, lineno, f"expected {len(header)} columns, found {len(row)}")
        sid = row[i_sent].strip()
        if sid:
            if current is not None and current.tokens:
                yield current
            current = Sentence([], [] if labelled else None, id=sid, line=lineno)
        elif current is None:
            raise DataError(name, lineno, "first row has no sentence id in 'Sentence #'")
        current.tokens.append(row[i_word])
        if labelled:
            current.tags.append(_check_tag(name, lineno, row[i_tag].strip()))
    if current is not None and current.tokens:
        yield current


def read_jsonl(path: str | os.PathLike[str], labelled: bool = False,
               encoding: str = "utf-8") -> Iterator[Sentence]:
    """Sentences of a JSONL file: ``{"text": ...}`` or ``{"tokens": [...]}`` per line."""
    name = os.fspath(path)
    for lineno, line in _lines(name, encoding):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(name, lineno, f"invalid JSON: {exc.msg} (column {exc.colno})") from None
        if not isinstance(obj, dict):
            raise DataError(name, lineno, "expected a JSON object with 'text' or 'tokens'")
        sid = obj.get("id")  # passed through to the output unchanged
        if "tokens" in obj:
            toks = obj["tokens"]
            if not isinstance(toks, list) or not all(isinstance(t, str) and t for t in toks):
                raise DataError(name, lineno, "'tokens' must be a list of non-empty strings")
            sent = Sentence(list(toks), id=sid, line=lineno)
        elif "text" in obj:
            if not isinstance(obj["text"], str):
                raise DataError(name, lineno, "'text' must be a string")
            toks, spans = tokenize(obj["text"])
            sent = Sentence(toks, text=obj["text"], spans=spans, id=sid, line=lineno)
        else:
            raise DataError(name, lineno, "expected a JSON object with 'text' or 'tokens'")
        if labelled:
            tags = obj.get("tags")
            if not isinstance(tags, list) or len(tags) != len(sent.tokens):
                raise DataError(name, lineno, "'tags' must be a list with one tag per token")
            sent.tags = [_check_tag(name, lineno, str(t)) for t in tags]
        yield sent


def read_text(path: str | os.PathLike[str], labelled: bool = False,
              encoding: str = "utf-8") -> Iterator[Sentence]:
    """One tweet per line, tokenised; an empty line is an empty sentence (kept for alignment)."""
    if labelled:
        raise DataError(os.fspath(path), None, "plain text has no tags; use CoNLL, CSV or JSONL")
    for lineno, line in _lines(path, encoding):
        toks, spans = tokenize(line)
        yield Sentence(toks, text=line, spans=spans, line=lineno)


_READERS = {"conll": read_conll, "csv": read_gmb_csv, "jsonl": read_jsonl, "text": read_text}


def read(path: str | os.PathLike[str], fmt: str | None = None, labelled: bool = True,
         default: str = "conll", encoding: str = "utf-8") -> Iterator[Sentence]:
    """Read sentences from ``path`` in ``fmt`` (guessed from the extension when None)."""
    fmt = fmt or guess_format(path, default)
    if fmt not in _READERS:
        raise ValueError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
    return _READERS[fmt](path, labelled=labelled, encoding=encoding)


def read_labelled(paths: Iterable[str | os.PathLike[str]], fmt: str | None = None,
                  encoding: str = "utf-8") -> list[Sentence]:
    """All labelled sentences of several files, concatenated; an empty result is an error."""
    sentences: list[Sentence] = []
    for p in paths:
        n = len(sentences)
        sentences.extend(s for s in read(p, fmt, labelled=True, encoding=encoding) if s.tokens)
        if len(sentences) == n:
            raise DataError(p, None, "no sentences found")
    return sentences


def sentences_from_texts(texts: Iterable[str]) -> Iterator[Sentence]:
    """Tokenise in-memory texts (the Python API's path into the pipeline)."""
    for text in texts:
        toks, spans = tokenize(text)
        yield Sentence(toks, text=text, spans=spans)


__all__ = ["FORMATS", "guess_format", "read", "read_conll", "read_gmb_csv", "read_jsonl",
           "read_labelled", "read_text", "sentences_from_texts"]

