"""Writers: tagged sentences out, as CoNLL, JSONL or inline-annotated text.

* ``conll``: ``token<TAB>tag`` per line, one blank line after each sentence
  (empty sentences are skipped: CoNLL cannot represent them).
* ``jsonl``: one object per sentence with ``text``, ``tokens``, ``tags`` and
  ``entities`` (type, token span, character offsets, text, confidence ``score``);
  ``id`` when the input had one.
* ``text``: the input line with entities bracketed, ``[New York|geo-loc]``;
  one output line per input line.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from crftag.tagger import Tagged

FORMATS = ("conll", "jsonl", "text")


def write_conll(out: TextIO, tagged: Tagged) -> None:
    tokens = tagged.sentence.tokens
    if not tokens:
        return
    out.write("".join(f"{tok}\t{tag}\n" for tok, tag in zip(tokens, tagged.tags, strict=True)))
    out.write("\n")


def jsonl_object(tagged: Tagged) -> dict:
    """The JSON object of one tagged sentence: a JSONL output line, and `crftag serve`'s answer."""
    sentence = tagged.sentence
    obj = {}
    if sentence.id is not None:
        obj["id"] = sentence.id
    obj["text"] = sentence.with_text().text
    obj["tokens"] = sentence.tokens
    obj["tags"] = tagged.tags
    obj["entities"] = [e.to_dict() for e in tagged.entities]
    return obj


def write_jsonl(out: TextIO, tagged: Tagged) -> None:
    out.write(json.dumps(jsonl_object(tagged), ensure_ascii=False) + "\n")


def write_text(out: TextIO, tagged: Tagged) -> None:
    text = tagged.sentence.with_text().text
    pieces, pos = [], 0
    for e in tagged.entities:
        pieces.append(text[pos:e.start])
        pieces.append(f"[{e.text}|{e.type}]")
        pos = e.end
    pieces.append(text[pos:])
    out.write("".join(pieces).replace("\n", " ") + "\n")


WRITERS = {"conll": write_conll, "jsonl": write_jsonl, "text": write_text}
