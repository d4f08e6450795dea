"""Stacking: first passes trained on other corpora, their outputs as features."""

from __future__ import annotations

import json
import re
import zipfile

import numpy as np
import pytest
from conftest import FIXTURES

from crftag import Tagger, train
from crftag.errors import CrftagError, DataError, ModelError
from crftag.features.featureset import FeatureSet, load_feature_set
from crftag.features.featurize import Featurizer
from crftag.features.lexicon import build_lexicon
from crftag.io.readers import read_conll
from crftag.stacking.firstpass import fit_stack, fold_of, read_pool, relabel, text_key, train_first_pass
from crftag.stacking.model import FirstPass
from crftag.types import Sentence

POOL = FIXTURES / "stack_pool.conll"


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    """First passes are cached under $CRFTAG_HOME: each test gets its own."""
    monkeypatch.setenv("CRFTAG_HOME", str(tmp_path / "home"))


def stacked(folds: int = 0, scheme: str = "types", bins: list | None = None) -> FeatureSet:
    data = load_feature_set("surface").to_dict()
    data["groups"]["first"] = {"kind": "stack", "corpora": [str(POOL)], "scheme": scheme, "folds": folds,
                               "window": [-1, 0, 1], **({"bins": bins} if bins is not None else {})}
    return FeatureSet.from_dict(data, "stacked")


def test_text_key_sees_through_tokenisation():
    assert text_key(["Can't", "wait", "!"]) == text_key(["Ca", "n't", "wait!"]) == "cantwait"
    assert text_key(["RT", "@bob"]) != text_key(["RT", "@bobby"])


def test_target_sentences_are_left_out_of_the_pool(tiny):
    """The pool's copy of a tiny sentence (tokenised differently) is left out; the rest is kept."""
    pool, record = read_pool(stacked().stacks()["first"], {text_key(s.tokens) for s in tiny})
    assert record["left_out"] == 1 and record["sentences"] == len(pool) == 6
    assert not any("Obama" in s.tokens for s in pool)
    assert record["sources"][0]["sha256"] and record["sources"][0]["sentences"] == 7


def test_notypes_scheme_keeps_bare_bio():
    sents = relabel(list(read_conll(POOL)), "notypes")
    assert {t for s in sents for t in s.tags} == {"B", "I", "O"}


def test_jackknifed_training_features_equal_k_fold_predictions(tiny):
    """With folds K, each training sentence's first-pass outputs come from a first pass trained on
    the pool and the other folds of the training data: exactly what training one by hand gives;
    and not what the full first pass (the one kept for tagging) says on every sentence."""
    fs = stacked(folds=2, scheme="notypes")
    lexicon = build_lexicon(fs)
    featurizer = Featurizer(fs, lexicon)
    stack, outputs = fit_stack(fs, lexicon, tiny, seed=3)
    assert len(outputs) == len(tiny) and all(len(o) == 1 for o in outputs)
    params = fs.stacks()["first"]
    pool, _ = read_pool(params, {text_key(s.tokens) for s in tiny})
    target = relabel(tiny, "notypes")
    assign = fold_of(len(tiny), 2, 3)
    assert set(assign.tolist()) == {0, 1}
    for k in range(2):
        by_hand, _ = train_first_pass([*pool, *(s for s, a in zip(target, assign, strict=True) if a != k)],
                                      featurizer, lexicon, seed=3)
        held = [i for i, a in enumerate(assign.tolist()) if a == k]
        expected = FirstPass("first", params, by_hand).outputs(featurizer.featurize_batch(
            [tiny[i].tokens for i in held]))
        for i, (labels, bins) in zip(held, expected, strict=True):
            assert np.array_equal(outputs[i][0][0], labels) and np.array_equal(outputs[i][0][1], bins)
    full = stack.passes[0].outputs(featurizer.featurize_batch([s.tokens for s in tiny]))
    assert any(not np.array_equal(o[0][1], f[1]) or not np.array_equal(o[0][0], f[0])
               for o, f in zip(outputs, full, strict=True))
    record = stack.passes[0].record
    assert record["folds"] == 2 and record["target_sentences"] == len(tiny) and record["left_out"] == 1


def test_without_folds_training_features_are_the_first_pass_outputs(tiny):
    fs = stacked()
    lexicon = build_lexicon(fs)
    stack, outputs = fit_stack(fs, lexicon, tiny)
    full = stack.passes[0].outputs(Featurizer(fs, lexicon).featurize_batch([s.tokens for s in tiny]))
    for o, f in zip(outputs, full, strict=True):
        assert np.array_equal(o[0][0], f[0]) and np.array_equal(o[0][1], f[1])
    assert set(stack.passes[0].model.labels) == {"B-LOC", "B-ORG", "B-OTHER", "B-PER", "I-LOC", "I-OTHER",
                                                 "I-PER", "O"}


def test_first_passes_are_cached(tiny, monkeypatch):
    """The same definition and data train once; a damaged cache entry is trained again."""
    fs = stacked()
    lexicon = build_lexicon(fs)
    first, _ = fit_stack(fs, lexicon, tiny)
    import crftag.backends as backends

    def refuse(name):
        raise AssertionError("trained again")

    with monkeypatch.context() as m:
        m.setattr(backends, "get_backend", refuse)
        again, _ = fit_stack(fs, lexicon, tiny)
    assert np.array_equal(again.passes[0].model.vals, first.passes[0].model.vals)
    from crftag.resources.registry import cache_dir

    (cached,) = (cache_dir() / "stack").glob("*.crftag")
    cached.write_bytes(b"not a zip")
    third, _ = fit_stack(fs, lexicon, tiny)
    assert np.array_equal(third.passes[0].model.vals, first.passes[0].model.vals)


@pytest.fixture(scope="module")
def stacked_tagger(tiny, tmp_path_factory):
    import os

    home = tmp_path_factory.mktemp("home")
    old = os.environ.get("CRFTAG_HOME")
    os.environ["CRFTAG_HOME"] = str(home)
    try:
        tagger = train(tiny, features=stacked(bins=[0.5, 0.9]), max_iterations=40)
    finally:
        if old is None:
            del os.environ["CRFTAG_HOME"]
        else:
            os.environ["CRFTAG_HOME"] = old
    path = tmp_path_factory.mktemp("model") / "stacked.crftag"
    tagger.save(path)
    return tagger, path


TEXTS = ["Barack Obama visited Paris today", "Tim Cook runs Apple in London", "",
         "Watching the Lakers at Staples Center #nba", "nothing", "New York New York", "@mike in Berlin"]


def test_compiled_pass_equals_the_plain_path(stacked_tagger):
    """The tagging pass (wide cached rows, first passes decoded in compiled code) gives the labels
    of the plain path (feature keys with the first passes' features added, then Viterbi)."""
    tagger, _ = stacked_tagger
    sents = [t.split() for t in TEXTS] + [s.tokens for s in read_conll(POOL)]
    plain = tagger.model.predict_batch(tagger.featurize(sents))
    assert tagger.tag_tokens_batch(sents) == plain
    assert any(label != "O" for labels in plain for label in labels)


def test_a_tweet_gets_the_same_answer_in_any_batch(stacked_tagger):
    """Batch independence: alone, in a batch, in another order, after other tweets were cached."""
    _, path = stacked_tagger
    alone = {t: Tagger.load(path).tag(t) for t in TEXTS}
    shared = Tagger.load(path)
    batch = shared.tag_batch(TEXTS + TEXTS[::-1])
    assert batch[:len(TEXTS)] == [alone[t] for t in TEXTS]
    assert batch[len(TEXTS):] == [alone[t] for t in TEXTS[::-1]]
    assert [shared.tag(t) for t in TEXTS] == [alone[t] for t in TEXTS]


def test_round_trip_keeps_the_first_passes(stacked_tagger):
    tagger, path = stacked_tagger
    loaded = Tagger.load(path)
    sents = [t.split() for t in TEXTS]
    assert loaded.tag_tokens_batch(sents) == tagger.tag_tokens_batch(sents)
    passes = loaded.info()["stack"]["passes"]
    assert [p["group"] for p in passes] == ["first"] and passes[0]["record"]["left_out"] == 1
    assert np.array_equal(loaded.stack.passes[0].model.vals, tagger.stack.passes[0].model.vals)


def _rewrite(path, out, meta_fn=None, arrays_fn=None):
    """A copy of a model file with its meta.json or arrays edited (checksums made to match)."""
    from crftag.io.modelfile import load_model, save_model

    meta, arrays = load_model(path)
    meta.pop("checksums", None)
    if meta_fn:
        meta_fn(meta)
    if arrays_fn:
        arrays_fn(arrays)
    save_model(out, meta, arrays)
    return out


@pytest.mark.parametrize(("edit", "message"), [
    (dict(meta_fn=lambda m: m.pop("stack")), "'stack.passes' must be a list"),
    (dict(meta_fn=lambda m: m["stack"]["passes"].append(m["stack"]["passes"][0])), "has 2 entries for 1"),
    (dict(meta_fn=lambda m: m["stack"]["passes"][0].update(group="other")), "not the first pass of group"),
    (dict(meta_fn=lambda m: m["stack"]["passes"][0].update(labels=["O", "X-Y"])), "is not a BIO tag"),
    (dict(arrays_fn=lambda a: a.update(stk0_cols=a["stk0_cols"] + 100)), "array 'stk0_cols' holds label"),
    (dict(arrays_fn=lambda a: a.pop("stk0_transitions")), "array 'stk0_transitions' is missing"),
    (dict(arrays_fn=lambda a: a.update(stk0_vals=a["stk0_vals"] * np.inf)), "stk0_vals"),
    (dict(arrays_fn=lambda a: a.update(stk1_bias=a["stk0_bias"])), "unexpected array 'stk1_bias'"),
    (dict(meta_fn=lambda m: m["feature_set"]["groups"]["first"].update(window=[-9, 0])), "beyond +-8"),
    (dict(meta_fn=lambda m: m["feature_set"]["groups"].pop("first")), "has no stack groups"),
])
def test_hostile_first_passes_are_refused(stacked_tagger, tmp_path, edit, message):
    _, path = stacked_tagger
    bad = _rewrite(path, tmp_path / "bad.crftag", **edit)
    with pytest.raises(ModelError, match="invalid model: .*" + re.escape(message)):
        Tagger.load(bad)


def test_stored_meta_is_valid_json(stacked_tagger):
    _, path = stacked_tagger
    with zipfile.ZipFile(path) as zf:
        meta = json.loads(zf.read("meta.json"))
    assert meta["stack"]["passes"][0]["labels"]


@pytest.mark.parametrize(("group", "message"), [
    ({"kind": "stack"}, "needs 'corpora'"),
    ({"kind": "stack", "corpora": ["x"], "bins": [0.9, 0.5]}, "increasing numbers between 0 and 1"),
    ({"kind": "stack", "corpora": ["x"], "bins": [1.5]}, "increasing numbers between 0 and 1"),
    ({"kind": "stack", "corpora": ["x"], "folds": -1}, "an integer from 0"),
    ({"kind": "stack", "corpora": ["x"], "scheme": "coarse"}, "must be one of types, notypes"),
])
def test_stack_groups_are_validated(group, message):
    data = load_feature_set("minimal").to_dict()
    data["groups"]["first"] = group
    with pytest.raises(DataError, match=message):
        FeatureSet.from_dict(data, "bad.toml")


def test_a_set_of_stack_groups_alone_or_paired_is_refused():
    only = {"groups": {"first": {"kind": "stack", "corpora": ["x"]}}}
    with pytest.raises(DataError, match="a group the featuriser makes"):
        FeatureSet.from_dict(only, "only.toml")
    paired = {"groups": {"lower": {}, "first": {"kind": "stack", "corpora": ["x"]}},
              "conjunctions": [{"group": "first", "offsets": [-1, 0]}]}
    with pytest.raises(DataError, match="a stack group has no atoms to pair"):
        FeatureSet.from_dict(paired, "paired.toml")


def test_one_fold_is_refused(tiny):
    with pytest.raises(CrftagError, match="folds is 1"):
        train(tiny, features=stacked(folds=1), max_iterations=5)


def test_a_group_of_the_targets_own_corpus_says_nothing(tiny, tmp_path):
    """When every sentence of a group's corpora is the target's, its first pass tags everything O:
    the same feature set still trains (a stack group of BTC when training on BTC)."""
    own = tmp_path / "own.conll"
    own.write_text("\n\n".join("\n".join(f"{t}\t{g}" for t, g in zip(s.tokens, s.tags, strict=True))
                               for s in tiny) + "\n")
    data = stacked().to_dict()
    data["groups"]["first"]["corpora"] = [str(own)]
    tagger = train([Sentence(s.tokens, s.tags) for s in tiny], features=FeatureSet.from_dict(data, "x"),
                   max_iterations=5)
    first = tagger.stack.passes[0]
    assert first.model.labels == ["O"] and first.record["left_out"] == len(tiny)
    assert first.record["sentences"] == 0 and first.record["digest"] == "empty"
    sents = [t.split() for t in TEXTS]
    assert tagger.tag_tokens_batch(sents) == tagger.model.predict_batch(tagger.featurize(sents))


def test_stack_groups_need_a_linear_backend(tiny):
    pytest.importorskip("torch")
    with pytest.raises(CrftagError, match="need a linear backend"):
        train(tiny, backend="bilstm-crf", features=stacked(), max_epochs=1)


def test_info_says_what_each_first_pass_learnt_from(stacked_tagger):
    from crftag.evaluation.report import model_info_text

    _, path = stacked_tagger
    text = model_info_text(Tagger.load(path).info())
    line = next(x for x in text.splitlines() if x.startswith("stack: "))
    assert line == (f"stack: first: a first pass on {POOL} (6 sentences, 1 of the training data's left out; "
                    "8 labels)")


def test_sgd_models_stack_too(tiny):
    tagger = train(tiny, backend="sgd", features=stacked())
    sents = [t.split() for t in TEXTS]
    assert len(tagger.stack) == 1
    assert tagger.tag_tokens_batch(sents) == tagger.model.predict_batch(tagger.featurize(sents))


def test_a_cache_that_cannot_be_written_is_skipped(tiny, tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("CRFTAG_HOME", str(blocker))  # $CRFTAG_HOME/stack cannot be made
    fs = stacked()
    stack, outputs = fit_stack(fs, build_lexicon(fs), tiny)
    assert len(stack) == 1 and len(outputs) == len(tiny)


def test_labels_only_groups_tag_as_the_plain_path(tiny):
    """``bins = []`` (the shipped twitter-stacked): the first passes' labels alone, no marginals."""
    tagger = train(tiny, features=stacked(bins=[]), max_iterations=40)
    sents = [t.split() for t in TEXTS] + [s.tokens for s in read_conll(POOL)]
    assert tagger.tag_tokens_batch(sents) == tagger.model.predict_batch(tagger.featurize(sents))
    keys = tagger.featurize([["Tim", "Cook"]]).keys
    assert len(keys) == len(tagger.featurizer.featurize_batch([["Tim", "Cook"]]).keys) + 4  # 2 offsets each
