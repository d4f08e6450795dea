"""The writers on hand-made tagged sentences: exact bytes of each format."""

from __future__ import annotations

import io
import json

import pytest

from crftag.io.formats import OUTPUT_FORMATS
from crftag.io.writers import WRITERS, jsonl_object, write_conll, write_jsonl, write_text
from crftag.types import Entity, Sentence, Tagged


def _tagged(text: str | None = "Obama in New York", score: float | None = 0.9, **extra) -> Tagged:
    tokens = ["Obama", "in", "New", "York"]
    sent = Sentence(tokens, text=text, spans=[(0, 5), (6, 8), (9, 12), (13, 17)] if text else None, **extra)
    ents = [Entity("Obama", "person", 0, 5, 0, 1, score), Entity("New York", "geo-loc", 9, 17, 2, 4, 0.5)]
    return Tagged(sent, ["B-person", "O", "B-geo-loc", "I-geo-loc"], ents)


def _write(writer, tagged) -> str:
    out = io.StringIO()
    writer(out, tagged)
    return out.getvalue()


def test_every_output_format_has_a_writer():
    assert set(WRITERS) == set(OUTPUT_FORMATS)


def test_conll():
    assert _write(write_conll, _tagged()) == "Obama\tB-person\nin\tO\nNew\tB-geo-loc\nYork\tI-geo-loc\n\n"
    assert _write(write_conll, Tagged(Sentence([]), [], [])) == "\n"  # a blank line keeps its place


def test_text_brackets_entities_in_the_original_text():
    assert _write(write_text, _tagged()) == "[Obama|person] in [New York|geo-loc]\n"
    assert _write(write_text, _tagged(text=None)) == "[Obama|person] in [New York|geo-loc]\n"  # joined


def test_jsonl_keeps_id_and_unknown_fields_in_order():
    line = _write(write_jsonl, _tagged(id=7, extra={"lang": "en"}))
    obj = json.loads(line)
    assert list(obj) == ["lang", "id", "text", "tokens", "tags", "entities"]
    assert obj["id"] == 7 and obj["lang"] == "en"
    assert obj["entities"][1] == {"text": "New York", "type": "geo-loc", "start": 9, "end": 17,
                                  "token_start": 2, "token_end": 4, "score": 0.5}


@pytest.mark.parametrize("score", [float("nan"), float("inf"), None])
def test_a_score_that_is_not_a_finite_number_is_null(score):
    assert jsonl_object(_tagged(score=score))["entities"][0]["score"] is None
    json.loads(_write(write_jsonl, _tagged(score=score)))  # valid JSON either way


def test_lone_surrogates_never_reach_the_output_unescaped():
    sent = Sentence(["Paris", "\ud800"], text="Paris \ud800", spans=[(0, 5), (6, 7)])
    tagged = Tagged(sent, ["B-geo-loc", "O"], [Entity("Paris", "geo-loc", 0, 5, 0, 1, 1.0)])
    for writer in (write_conll, write_text, write_jsonl):
        _write(writer, tagged).encode("utf-8")  # encodable: no lone surrogate left
    assert "\\ud800" in _write(write_jsonl, tagged)  # escaped, so it round-trips
    assert json.loads(_write(write_jsonl, tagged))["text"] == "Paris \ud800"
    assert _write(write_text, tagged) == "[Paris|geo-loc] \ufffd\n"  # one character for one
