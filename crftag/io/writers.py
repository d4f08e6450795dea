"""Writers: tagged sentences out, as CoNLL, JSONL or inline-annotated text.

* ``conll``: ``token<TAB>tag`` per line, one blank line after each sentence
  (empty sentences are skipped: CoNLL cannot represent them).
* ``jsonl``: one object per sentence with ``text``, ``tokens``, ``tags`` and
  ``entities`` (type, token span, character offsets, text, confidence ``score``);
  ``id`` and any other field the input line had, as it had them.
* ``text``: the input line with entities bracketed, ``[New York|geo-loc]``;
  one output line per input line.

Output is always valid UTF-8: a lone surrogate (JSON input may hold ``"\\ud800"``) is
written as the escape ``\\ud800`` in JSONL and as U+FFFD in CoNLL and text, one character
for one, so offsets stay right. A confidence that is not a finite number is written as
``null``, so JSONL output is always valid JSON.
"""

from __future__ import annotations

import json
import math
import re
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from crftag.types import Tagged

_SURROGATE = re.compile("[\ud800-\udfff]")


def _utf8(text: str) -> str:
    """``text`` with lone surrogates replaced by U+FFFD (writable as UTF-8)."""
    return _SURROGATE.sub("\ufffd", text) if _SURROGATE.search(text) else text


def write_conll(out: TextIO, tagged: Tagged) -> None:
    """``token<TAB>tag`` lines and a blank line; an empty sentence is the blank line alone (the
    output keeps one block per input line or record)."""
    tokens = tagged.sentence.tokens
    out.write(_utf8("".join(f"{tok}\t{tag}\n" for tok, tag in zip(tokens, tagged.tags, strict=True))))
    out.write("\n")


def jsonl_object(tagged: Tagged) -> dict:
    """The JSON object of one tagged sentence: a JSONL output line, and `crftag serve`'s answer."""
    sentence = tagged.sentence
    obj = dict(sentence.extra)
    if sentence.id is not None:
        obj["id"] = sentence.id
    obj["text"] = sentence.with_text().text
    obj["tokens"] = sentence.tokens
    obj["tags"] = tagged.tags
    entities = [e.to_dict() for e in tagged.entities]
    for e in entities:
        if e["score"] is not None and not math.isfinite(e["score"]):
            e["score"] = None
    obj["entities"] = entities
    return obj


def write_jsonl(out: TextIO, tagged: Tagged) -> None:
    line = json.dumps(jsonl_object(tagged), ensure_ascii=False)
    if _SURROGATE.search(line):  # escaped, the line is valid JSON and valid UTF-8
        line = json.dumps(jsonl_object(tagged), ensure_ascii=True)
    out.write(line + "\n")


def write_text(out: TextIO, tagged: Tagged) -> None:
    text = tagged.sentence.with_text().text
    pieces, pos = [], 0
    for e in tagged.entities:
        pieces.append(text[pos:e.start])
        pieces.append(f"[{e.text}|{e.type}]")
        pos = e.end
    pieces.append(text[pos:])
    out.write(_utf8("".join(pieces).replace("\n", " ")) + "\n")


WRITERS = {"conll": write_conll, "jsonl": write_jsonl, "text": write_text}
