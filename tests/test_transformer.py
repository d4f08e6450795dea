"""The transformer backend on CPU: a tiny randomly initialised BERT built here (no downloads)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch", reason="the transformer backend needs torch (crftag[transformer])")
pytest.importorskip("transformers", reason="the transformer backend needs transformers")

from crftag import Tagger, train
from crftag.backends import list_backends
from crftag.errors import CrftagError
from crftag.evaluation.scores import evaluate
from crftag.io.modelfile import load_model


@pytest.fixture(scope="module")
def tiny_bert(tiny, tmp_path_factory):
    """A 1-layer BERT with a WordPiece vocabulary of the fixture's words, saved as a model folder."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    folder = tmp_path_factory.mktemp("tiny-bert")
    words = sorted({w.lower() for s in tiny for w in s.tokens})
    chars = sorted({c for w in words for c in w})
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words, *chars, *(f"##{c}" for c in chars)]
    (folder / "vocab.txt").write_text("\n".join(dict.fromkeys(vocab)) + "\n")
    BertTokenizerFast(str(folder / "vocab.txt"), do_lower_case=True).save_pretrained(folder)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(dict.fromkeys(vocab)), hidden_size=32, num_hidden_layers=1,
                        num_attention_heads=2, intermediate_size=64, max_position_embeddings=64)
    BertModel(config).save_pretrained(folder)
    return folder


PARAMS = {"lr": 5e-3, "head_lr": 5e-3, "batch_size": 4, "device": "cpu", "dropout": 0.0}


@pytest.fixture(scope="module")
def tiny_transformer(tiny, tiny_bert):
    return train(tiny, dev=tiny, backend="transformer", features="surface", encoder=str(tiny_bert),
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


def test_saved_as_arrays_and_reloads_without_the_folder(tiny, tiny_transformer, tmp_path):
    path = tmp_path / "tf.crftag"
    tiny_transformer.save(path)
    meta, arrays = load_model(path)
    assert meta["backend"] == "transformer" and "tf_meta" in arrays
    loaded = Tagger.load(path)  # rebuilt from the arrays: config, tokenizer and weights
    tokens = [s.tokens for s in tiny]
    assert loaded.tag_tokens_batch(tokens) == tiny_transformer.tag_tokens_batch(tokens)


def test_without_crf_and_same_seed_same_model(tiny, tiny_bert):
    def weights(seed):
        t = train(tiny, backend="transformer", features="surface", encoder=str(tiny_bert), crf=False,
                  max_epochs=2, seed=seed, **PARAMS)
        return t.model.to_arrays()

    first, again = weights(4), weights(4)
    assert all(np.array_equal(first[k], again[k]) for k in first)


def test_encoder_must_be_a_local_folder(tiny, tmp_path):
    with pytest.raises(CrftagError, match="is not a directory"):
        train(tiny, backend="transformer", features="surface", encoder=str(tmp_path / "nope"),
              max_epochs=1, device="cpu")
