"""The bilstm-crf backend on CPU: a tiny model on a few sentences (skipped without torch)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the bilstm-crf backend needs torch (crftag[neural])")

from crftag import Tagger, train  # noqa: E402
from crftag.errors import CrftagError  # noqa: E402
from crftag.evaluation.scores import evaluate  # noqa: E402

TINY = {"word_dim": 16, "char_dim": 8, "char_filters": 8, "hidden": 16, "feature_buckets": 4096,
        "feature_dim": 8, "dropout": 0.1, "word_dropout": 0.0, "lr": 0.02, "batch_size": 4,
        "device": "cpu"}


@pytest.fixture(scope="module")
def tiny_bilstm(tiny):
    return train(tiny, dev=tiny, backend="bilstm-crf", features="surface", max_epochs=40, patience=40,
                 seed=3, **TINY)


def test_learns_its_training_sentences(tiny, tiny_bilstm):
    pred = tiny_bilstm.tag_tokens_batch([s.tokens for s in tiny])
    assert evaluate([s.tags for s in tiny], pred).overall["f1"] > 80
    info = tiny_bilstm.meta["fit_info"]
    assert info["device"] == "cpu" and info["epochs"] == 40
    assert info["history"][info["best_epoch"] - 1]["dev_f1"] == max(h["dev_f1"] for h in info["history"])


def test_entities_have_confidences_and_offsets(tiny_bilstm):
    text = "Obama visits Paris with @UN tomorrow"
    for ent in tiny_bilstm.tag(text):
        assert text[ent.start:ent.end] == ent.text and 0.0 <= ent.score <= 1.0


def test_without_hand_crafted_features(tiny):
    t = train(tiny, backend="bilstm-crf", features="surface", max_epochs=1, **{**TINY, "use_features": False})
    assert "bl_feature_bag__weight" not in t.model.to_arrays()
    assert len(t.tag_tokens(["Obama", "in", "Paris"])) == 3


def test_word_vectors_initialise_embeddings(tiny, tmp_path):
    vec = tmp_path / "vectors.txt"
    vec.write_text("2 16\nparis " + " ".join(["0.5"] * 16) + "\nzzz " + " ".join(["1"] * 16) + "\n")
    t = train(tiny, backend="bilstm-crf", features="surface", max_epochs=1, embeddings=str(vec), **TINY)
    assert t.meta["fit_info"]["pretrained_words"] == 1
    bad = tmp_path / "bad.txt"
    bad.write_text("paris 0.1 0.2\nlondon 0.1\n")
    with pytest.raises(CrftagError, match=r"bad.txt:2: vector has 1 numbers, earlier lines 2"):
        train(tiny, backend="bilstm-crf", features="surface", max_epochs=1, embeddings=str(bad), **TINY)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error when no GPU is present")
def test_cuda_without_a_gpu_is_a_clear_error(tiny):
    with pytest.raises(CrftagError, match="cuda was asked for but torch sees no CUDA GPU"):
        train(tiny, backend="bilstm-crf", features="surface", max_epochs=1, **{**TINY, "device": "cuda"})


def test_weights_that_do_not_fit_the_network_are_refused_unallocated(tiny_bilstm, tmp_path):
    """The network is sized from the stored weights: a file claiming a hidden size of 20,000 (an
    LSTM of over 6 GB) is compared with a build on torch's meta device and refused in one line,
    before anything is allocated; so is a weight one row short."""
    import json
    import time

    import modelfuzz

    from crftag.errors import ModelError

    path = tmp_path / "bl.crftag"
    tiny_bilstm.save(path)
    members = modelfuzz.read_members(path)
    meta = json.loads(members["meta.json"])
    arrays = {n[len("arrays/"):-len(".npy")]: b for n, b in members.items() if n.startswith("arrays/")}
    hh = modelfuzz.from_npy(arrays["bl_lstm__weight_hh_l0"])
    ih = modelfuzz.from_npy(arrays["bl_lstm__weight_ih_l0"])
    noise = np.random.default_rng(0).normal(size=(hh.shape[0], 20_000)).astype(hh.dtype)  # no zip bomb
    for name, bad in (("bl_lstm__weight_hh_l0", noise),
                      ("bl_lstm__weight_ih_l0", ih[:-1].copy())):
        hostile = tmp_path / "hostile.crftag"
        modelfuzz.write_model(hostile, json.loads(json.dumps(meta)), {**arrays, name: modelfuzz.to_npy(bad)})
        t0 = time.perf_counter()
        with pytest.raises(ModelError, match="do not fit the network") as info:
            Tagger.load(hostile)
        assert "\n" not in str(info.value) and time.perf_counter() - t0 < 30
