"""Writers: tagged sentences out, as CoNLL, JSONL or inline-annotated text.

* ``conll``: ``token<TAB>tag`` per line, one blank line after each sentence
  (empty sentences are skipped: CoNLL cannot represent them).
* ``jsonl``: one object per sentence with ``tokens``, ``tags`` and ``entities``
  (type, token span, character offsets, text); ``text`` and ``id`` when known.
* ``text``: the input line with entities bracketed, ``[New York|geo-loc]``;
  one output line per input line.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TextIO

from crftag.sentence import Sentence
from crftag.tagger import entities

FORMATS = ("conll", "jsonl", "text")


def write_conll(out: TextIO, sentence: Sentence, tags: Sequence[str]) -> None:
    if not sentence.tokens:
        return
    out.write("".join(f"{tok}\t{tag}\n" for tok, tag in zip(sentence.tokens, tags, strict=True)))
    out.write("\n")


def write_jsonl(out: TextIO, sentence: Sentence, tags: Sequence[str]) -> None:
    ents = entities(sentence, tags)
    obj = {}
    if sentence.id is not None:
        obj["id"] = sentence.id
    obj["text"] = sentence.text
    obj["tokens"] = sentence.tokens
    obj["tags"] = list(tags)
    obj["entities"] = [e.to_dict() for e in ents]
    out.write(json.dumps(obj, ensure_ascii=False) + "\n")


def write_text(out: TextIO, sentence: Sentence, tags: Sequence[str]) -> None:
    text = sentence.with_text().text
    pieces, pos = [], 0
    for e in entities(sentence, tags):
        pieces.append(text[pos:e.start])
        pieces.append(f"[{e.text}|{e.type}]")
        pos = e.end
    pieces.append(text[pos:])
    out.write("".join(pieces).replace("\n", " ") + "\n")


WRITERS = {"conll": write_conll, "jsonl": write_jsonl, "text": write_text}
