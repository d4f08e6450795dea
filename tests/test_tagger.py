"""The Python API: Tagger.tag / tag_tokens / tag_batch, offsets, determinism."""

import pytest

from crftag import Entity, Tagger, train
from crftag.types import Sentence


def test_tag_returns_entities_with_offsets(tiny_crf):
    text = "Barack Obama visited Paris today http://t.co/x"
    ents = tiny_crf.tag(text)
    assert ents, "the fixture model should find an entity here"
    for e in ents:
        assert isinstance(e, Entity)
        assert text[e.start:e.end] == e.text
        assert 0.0 < e.score <= 1.0
    assert ("Paris", "geo-loc") in {(e.text, e.type) for e in ents}


def test_tag_on_odd_strings(tiny_crf):
    for text in ["", "   ", "\x00", "🙂" * 50, "a\u200db  \t c", "Ω" * 10000]:
        for e in tiny_crf.tag(text):
            assert text[e.start:e.end] == e.text


def test_tag_tokens_and_batch_agree(tiny_crf, tiny):
    texts = [" ".join(s.tokens) for s in tiny]
    batch = tiny_crf.tag_batch(texts)
    assert batch == [tiny_crf.tag(t) for t in texts]
    assert tiny_crf.tag_tokens([]) == []
    assert len(tiny_crf.tag_tokens(["a", "b"])) == 2


def test_training_is_deterministic(tiny, tmp_path):
    a = train(tiny, features="surface", c1=0.0, c2=0.01, max_iterations=30)
    b = train(tiny, features="surface", c1=0.0, c2=0.01, max_iterations=30)
    a.save(tmp_path / "a")
    b.save(tmp_path / "b")
    assert (tmp_path / "a").read_bytes() == (tmp_path / "b").read_bytes()


def test_info_records_provenance(tiny_path, tmp_path):
    tagger = train(tiny_path, dev=tiny_path, features="surface", max_iterations=20)
    tagger.save(tmp_path / "m")
    info = Tagger.load(tmp_path / "m").info()
    assert info["backend"] == "crf" and info["feature_set"] == "surface"
    assert len(info["training"]["train"][0]["sha256"]) == 64
    assert info["dev_scores"]["overall"]["f1"] > 50
    assert "O" in info["labels"]


def test_min_confidence_filters_entities(tiny_crf):
    text = "Barack Obama visited Paris today http://t.co/x"
    everything = tiny_crf.tag(text)
    threshold = min(e.score for e in everything) + 1e-9
    kept = tiny_crf.tag(text, min_confidence=threshold)
    assert kept == [e for e in everything if e.score >= threshold]
    assert len(kept) == len(everything) - 1
    assert tiny_crf.tag(text, min_confidence=0.0) == everything


def test_threads_give_the_same_results(tiny_crf, tiny):
    """One Tagger shared by 8 threads returns exactly what it returns serially."""
    from concurrent.futures import ThreadPoolExecutor

    texts = [" ".join(s.tokens) for s in tiny] * 40 + ["Obama in Chicago", "new phone from Samsung"] * 40
    serial = [tiny_crf.tag(t) for t in texts]
    fresh = Tagger(tiny_crf.model, tiny_crf.feature_set, tiny_crf.backend, tiny_crf.meta)  # cold cache
    with ThreadPoolExecutor(max_workers=8) as pool:
        parallel = list(pool.map(fresh.tag, texts))
    assert parallel == serial


def test_fast_path_equals_feature_key_path(tiny_crf, tiny):
    """The per-type cached scores give the labels and confidences of the feature-by-feature path."""
    sents = [s.tokens for s in tiny] + [["Obama", "and", "Taylor", "Swift", "in", "New", "York"], ["x"]]
    feats = tiny_crf.featurizer.featurize_batch(sents)
    via_keys = [tiny_crf.model.tag_and_score(feats.keys, feats.tokens(i)) for i in range(len(sents))]
    assert tiny_crf.tag_tokens_batch(sents) == [[tiny_crf.labels[y] for y in p] for p, *_ in via_keys]
    for sent, (path, starts, ends, scores) in zip(sents, via_keys, strict=True):
        tagged = tiny_crf.analyse(Sentence(sent))
        assert tagged.tags == [tiny_crf.labels[y] for y in path]
        assert [(e.token_start, e.token_end) for e in tagged.entities] == list(zip(starts, ends, strict=True))
        assert [e.score for e in tagged.entities] == pytest.approx(scores.tolist(), abs=1e-12)


def test_entity_to_dict_has_every_field():
    from dataclasses import asdict

    from crftag.types import Entity

    e = Entity(text="Paris", type="geo-loc", start=3, end=8, token_start=1, token_end=2, score=0.5)
    assert e.to_dict() == asdict(e)


def test_the_boundary_refuses_wrong_types_in_one_sentence(tiny_crf):
    """A str where a list is expected would be tagged one character at a time; None, bytes or a
    number where a text is expected failed deep inside with AttributeError."""
    cases = [
        (lambda: tiny_crf.tag_tokens("I love London"), "tokens must be a sequence of token strings, not str"),
        (lambda: tiny_crf.tag_tokens(["I", 5]), r"tokens\[1\] must be a str token, not int"),
        (lambda: tiny_crf.tag_tokens_batch("I love"), "sentences must be a list of token lists, not str"),
        (lambda: tiny_crf.tag_tokens_batch([["a"], "bc"]), r"sentences\[1\] must be a sequence"),
        (lambda: tiny_crf.tag_batch("Tim Cook in London"), r"texts must be a list of str \(one per text\)"),
        (lambda: tiny_crf.tag_batch(["a", 5]), r"texts\[1\] must be a str, not int"),
        (lambda: tiny_crf.tag(None), "text must be a str, not NoneType"),
        (lambda: tiny_crf.tag(b"Tim Cook"), "text must be a str, not bytes"),
        (lambda: Tagger.load(b"/some/model.crftag"), "path must be a str or os.PathLike"),
        (lambda: tiny_crf.tag("x", min_confidence="0.8"), "min_confidence must be a number .* not str"),
        (lambda: tiny_crf.tag("x", min_confidence={1: 0.5}), "maps entity types"),
    ]
    for call, message in cases:
        with pytest.raises(TypeError, match=message):
            call()
    import numpy as np

    tokens = ["Barack", "Obama", "in", "Paris"]  # any sequence of str is a sentence: arrays too
    assert tiny_crf.tag_tokens(np.array(tokens)) == tiny_crf.tag_tokens(tuple(tokens)) == \
        tiny_crf.tag_tokens(tokens)


@pytest.mark.parametrize("bad", [80, -0.1, 1.5, float("nan"), float("inf"), {"person": 2}, {"*": -1}])
def test_one_threshold_rule_everywhere(tiny_crf, bad):
    """0 <= x <= 1 and finite: Tagger.tag, tag_batch, tag_sentences and analyse refuse what the CLI
    and the server refuse (80 gave [] and nan dropped every entity)."""
    for call in (lambda: tiny_crf.tag("Tim Cook", bad), lambda: tiny_crf.tag_batch(["Tim"], bad),
                 lambda: tiny_crf.tag_sentences([Sentence(["Tim"])], bad),
                 lambda: tiny_crf.analyse(Sentence(["Tim"]), bad)):
        with pytest.raises(ValueError, match="must be a number from 0 to 1"):
            call()
    assert tiny_crf.tag("Tim Cook", 0) == tiny_crf.tag("Tim Cook")  # the edges are thresholds too
    assert tiny_crf.tag("Tim Cook", {"*": 1.0, "person": 0}) is not None
