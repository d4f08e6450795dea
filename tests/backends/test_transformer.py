"""The transformer backend on CPU: a tiny randomly initialised BERT built here (no downloads)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch", reason="the transformer backend needs torch (crftag[transformer])")
pytest.importorskip("transformers", reason="the transformer backend needs transformers")

from crftag import train
from crftag.backends import list_backends
from crftag.errors import CrftagError
from crftag.evaluation.scores import evaluate

PARAMS = {"lr": 5e-3, "head_lr": 5e-3, "batch_size": 4, "device": "cpu", "dropout": 0.0}


@pytest.fixture(scope="module")
def tiny_transformer(tiny, tiny_bert_folder):
    return train(tiny, dev=tiny, backend="transformer", features="surface", encoder=str(tiny_bert_folder),
                 max_epochs=25, patience=25, seed=1, **PARAMS)


def test_listed_as_a_backend():
    info = {b.name: b for b in list_backends()}["transformer"]
    assert info.available and info.target == "crftag.backends.transformer:TransformerBackend"


def test_learns_its_training_sentences(tiny, tiny_transformer):
    pred = tiny_transformer.tag_tokens_batch([s.tokens for s in tiny])
    assert evaluate([s.tags for s in tiny], pred).overall["f1"] > 80
    info = tiny_transformer.meta["fit_info"]
    assert info["device"] == "cpu" and info["epochs"] == 25 and info["encoder_parameters"] > 0


def test_subword_alignment_labels_every_word(tiny_transformer):
    words = ["Supercalifragilistic", "visits", "Zzyzx", "", "@someone", "New", "York"]
    assert len(tiny_transformer.tag_tokens(words)) == len(words)
    text = "Obama visits Paris with @UN tomorrow"
    for e in tiny_transformer.tag(text):
        assert text[e.start:e.end] == e.text and 0.0 <= e.score <= 1.0


def test_without_crf_and_same_seed_same_model(tiny, tiny_bert_folder):
    def weights(seed):
        t = train(tiny, backend="transformer", features="surface", encoder=str(tiny_bert_folder), crf=False,
                  max_epochs=2, seed=seed, **PARAMS)
        return t.model.to_arrays()

    first, again = weights(4), weights(4)
    assert all(np.array_equal(first[k], again[k]) for k in first)


def test_encoder_must_be_a_local_folder(tiny, tmp_path):
    with pytest.raises(CrftagError, match="is not a directory"):
        train(tiny, backend="transformer", features="surface", encoder=str(tmp_path / "nope"),
              max_epochs=1, device="cpu")
