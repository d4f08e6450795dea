"""The ``spacy`` backend: spaCy's own NER trained and run through spaCy's API, as a bench peer."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

pytest.importorskip("spacy")

from crftag import Tagger, train
from crftag.backends import get_backend
from crftag.backends.spacy_ner import WEIGHTS, SpacyNERBackend, _strict_iob
from crftag.errors import ModelError
from crftag.io.modelfile import load_model, save_model
from crftag.io.writers import jsonl_object
from crftag.types import Sentence


@pytest.fixture(scope="module")
def spacy_tagger(tiny):
    return train(tiny, backend="spacy", features="surface", max_epochs=25)


def test_registered_as_an_entry_point():
    assert get_backend("spacy") is SpacyNERBackend  # its conformance: tests/backends/test_conformance.py


def test_learns_round_trips_and_gives_no_confidence(spacy_tagger, tiny, tmp_path):
    tokens = [s.tokens for s in tiny]
    tags = spacy_tagger.tag_tokens_batch(tokens)
    right = sum(a == b for s, t in zip(tiny, tags, strict=True) for a, b in zip(s.tags, t, strict=True))
    assert right / sum(len(s) for s in tiny) > 0.85  # it fits most of its training tokens
    path = tmp_path / "spacy.crftag"
    spacy_tagger.save(path)
    loaded = Tagger.load(path)
    assert loaded.backend == "spacy" and loaded.tag_tokens_batch(tokens) == tags
    found = loaded.tag("Barack Obama visited Paris today")
    assert found and all(e.score is None for e in found)  # spaCy's NER has no probabilities
    assert loaded.tag("Barack Obama visited Paris today", min_confidence=0.99) == found
    tagged = loaded.analyse(Sentence(["Barack", "Obama", "visited", "Paris"]))
    assert json.loads(json.dumps(jsonl_object(tagged)))["entities"][0]["score"] is None


def test_a_model_file_with_other_bytes_is_refused(spacy_tagger, tmp_path):
    path = tmp_path / "spacy.crftag"
    spacy_tagger.save(path)
    meta, arrays = load_model(path)
    for bad in (np.frombuffer(b"\x93not msgpack at all" * 50, dtype=np.uint8).copy(),
                np.zeros(0, dtype=np.uint8), arrays[WEIGHTS].astype(np.int16)):
        target = tmp_path / "bad.crftag"
        save_model(target, meta, {**arrays, WEIGHTS: bad})
        with pytest.raises(ModelError) as exc:
            Tagger.load(target)
        assert "\n" not in str(exc.value) and WEIGHTS in str(exc.value)
    assert zipfile.is_zipfile(path)


def test_strict_iob_opens_every_chunk_with_b():
    assert _strict_iob(["I-person", "I-person", "O", "I-geo-loc", "B-geo-loc", "I-other"]) == \
        ["B-person", "I-person", "O", "B-geo-loc", "B-geo-loc", "B-other"]
