"""The spaCy component ``crftag_ner`` on a blank English pipeline (no downloaded spaCy model)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

spacy = pytest.importorskip("spacy")

from crftag import Entity, Tagger  # noqa: E402
from crftag.integrations.spacy_component import MODEL_FILE  # noqa: E402
from crftag.io.readers import read_conll  # noqa: E402
from crftag.types import Sentence  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
RAW = ["I'm at Starbucks(NYC) with Obama/Clinton", "Go #Lakers!! @TaylorSwift13's show in L.A. tonight",
       "Barack Obama visited Paris today http://t.co/x :)", "", "   ",
       "\U0001f600 Obama \u200d in London\u2028"]


@pytest.fixture(scope="module")
def model_file(tmp_path_factory, tiny_crf) -> Path:
    path = tmp_path_factory.mktemp("spacy") / "tiny.crftag"
    tiny_crf.save(path)
    return path


@pytest.fixture(scope="module")
def tagger(model_file) -> Tagger:
    return Tagger.load(model_file)


def pipeline(model: Path, **config) -> spacy.language.Language:
    nlp = spacy.blank("en")
    nlp.add_pipe("crftag_ner", config={"model": str(model), **config})
    return nlp


def aligned(doc, entities: list[Entity]) -> list[tuple]:
    """The spans the component should set, computed independently: each entity widened to the
    spaCy tokens it overlaps; of spans that overlap, the more confident one."""
    spans = []
    for e in entities:
        toks = [t for t in doc if t.idx < e.end and t.idx + len(t) > e.start]
        spans.append((toks[0].i, toks[-1].i + 1, e.type, e.score))
    kept: list[tuple] = []
    for span in sorted(spans, key=lambda s: -s[3]):
        if all(span[1] <= k[0] or span[0] >= k[1] for k in kept):
            kept.append(span)
    return sorted(kept)


def ents(doc) -> list[tuple]:
    return [(e.start, e.end, e.label_, e._.crftag_score) for e in doc.ents]


@pytest.mark.data
def test_entities_equal_tagger_tag_on_wnut16_dev(model_file, tagger, wnut16_dev):
    texts = [" ".join(s.tokens) for s in read_conll(wnut16_dev)] + RAW
    nlp = pipeline(model_file)
    docs = list(nlp.pipe(texts, batch_size=64))
    total = exact = 0
    for text, doc in zip(texts, docs, strict=True):
        want = tagger.tag(text)
        assert doc.text == text
        assert doc._.crftag_entities == [e.to_dict() for e in want]
        assert ents(doc) == aligned(doc, want)
        for e in want:  # where the boundaries fall between spaCy tokens, the span is crftag's exactly
            span = doc.char_span(e.start, e.end)
            if span is not None:
                exact += 1
                assert (span.start_char, span.end_char, e.type) in {(s.start_char, s.end_char, s.label_)
                                                                   for s in doc.ents}
        total += len(want)
    assert total > 1000 and exact > 0.95 * total
    assert [ents(nlp(t)) for t in texts[:50]] == [ents(d) for d in docs[:50]]  # nlp(text) = nlp.pipe


def test_a_boundary_inside_a_spacy_token_expands_contracts_or_drops(model_file):
    """spaCy keeps "Starbucks(NYC" as one token, crftag sees Starbucks ( NYC: two entities in one
    spaCy token. expand: the more confident of the two covers the token; contract and strict:
    neither is in doc.ents. doc._.crftag_entities keeps both in every mode."""
    text = "I'm at Starbucks(NYC) with Obama"
    found = [Entity("Starbucks", "facility", 7, 16, 3, 4, 0.7), Entity("NYC", "geo-loc", 17, 20, 5, 6, 0.9),
             Entity("Obama", "person", 27, 32, 8, 9, 0.8)]
    for mode, want in [("expand", [("Starbucks(NYC", "geo-loc", 0.9), ("Obama", "person", 0.8)]),
                       ("contract", [("Obama", "person", 0.8)]), ("strict", [("Obama", "person", 0.8)])]:
        nlp = spacy.blank("en")
        component = nlp.add_pipe("crftag_ner", config={"model": str(model_file), "alignment": mode})
        doc = component.set_entities(nlp.make_doc(text), found)
        assert [t.text for t in doc][2:4] == ["at", "Starbucks(NYC"]
        assert [(e.text, e.label_, e._.crftag_score) for e in doc.ents] == want, mode
        assert doc._.crftag_entities == [e.to_dict() for e in found]
    # a boundary inside a token that holds nothing else: expand widens it to the whole token
    nlp = spacy.blank("en")
    component = nlp.add_pipe("crftag_ner", config={"model": str(model_file)})
    alone = Entity("Starbucks", "facility", 0, 9, 0, 1, 0.7)
    doc = component.set_entities(nlp.make_doc("Starbucks(NYC"), [alone])
    assert [(e.text, e.start_char, e.end_char) for e in doc.ents] == [("Starbucks(NYC", 0, 13)]


def test_min_confidence_and_config_errors(model_file, tagger):
    text = "Barack Obama visited Paris today with Taylor Swift"
    scores = sorted(e.score for e in tagger.tag(text))
    assert len(scores) >= 2
    doc = pipeline(model_file, min_confidence=scores[-1])(text)
    assert [e._.crftag_score for e in doc.ents] == [e.score for e in tagger.tag(text, scores[-1])]
    per_type = {scores and tagger.tag(text)[0].type: 1.0, "*": 0.0}  # the first entity's type dropped
    doc = pipeline(model_file, min_confidence=per_type)(text)
    assert [e.text for e in doc.ents] == [e.text for e in tagger.tag(text, per_type)]
    assert len(doc.ents) < len(tagger.tag(text))
    for bad in (2, -1, float("nan"), {"person": 1.5}):
        with pytest.raises(ValueError, match="min_confidence"):
            pipeline(model_file, min_confidence=bad)
    with pytest.raises(ValueError, match="alignment must be one of expand, contract, strict"):
        pipeline(model_file, alignment="nearest")


def test_add_pipe_fails_on_a_missing_or_bad_model(model_file, tmp_path):
    """The error comes at add_pipe, not on the first document (both used to succeed)."""
    with pytest.raises(ValueError, match=r"crftag_ner needs a model: add_pipe"):
        spacy.blank("en").add_pipe("crftag_ner")
    with pytest.raises(ValueError, match=r"crftag_ner: .*missing\.crftag"):
        spacy.blank("en").add_pipe("crftag_ner", config={"model": str(tmp_path / "missing.crftag")})
    bad = tmp_path / "bad.crftag"
    bad.write_bytes(b"not a model")
    with pytest.raises(ValueError, match=r"crftag_ner: .*bad\.crftag"):
        spacy.blank("en").add_pipe("crftag_ner", config={"model": str(bad)})
    nlp = pipeline(model_file)
    assert nlp.get_pipe("crftag_ner")._tagger is not None  # loaded by add_pipe


def test_nlp_evaluate_scores_entities(model_file, tagger, tiny):
    """nlp.evaluate reports entity P/R/F through the component's score (spaCy's score_spans): the
    exact-span, exact-type micro scores of crftag's entities against the gold ones."""
    from spacy.tokens import Doc
    from spacy.training import Example

    from crftag.bio import chunks
    from crftag.evaluation.scores import prf

    nlp = pipeline(model_file)
    examples, gold_spans, found = [], set(), set()
    for k, sent in enumerate(tiny):
        doc = Doc(nlp.vocab, words=list(sent.tokens))
        spans = Sentence(list(sent.tokens)).with_text().spans
        gold = [(spans[i][0], spans[j - 1][1], t) for t, i, j in chunks(sent.tags)]
        if k % 2 and gold:  # a gold type changed: the model is then wrong there
            gold[0] = (*gold[0][:2], "other")
        examples.append(Example.from_dict(doc, {"entities": gold}))
        gold_spans |= {(k, *g) for g in gold}
        found |= {(k, e.start, e.end, e.type) for e in tagger.tag(doc.text)}
    scores = nlp.evaluate(examples)
    want = prf(len(gold_spans & found), len(found), len(gold_spans))
    assert 0 < want["f1"] < 100  # the tiny model gets some right, not all
    assert scores["ents_f"] == pytest.approx(want["f1"] / 100)
    assert scores["ents_p"] == pytest.approx(want["precision"] / 100)
    assert scores["ents_r"] == pytest.approx(want["recall"] / 100)
    assert set(scores["ents_per_type"]) <= {t for *_, t in gold_spans | found}


def test_pipeline_saved_to_disk_carries_its_model(model_file, tagger, tmp_path):
    """nlp.to_disk copies the model file into the pipeline; spacy.load works with the original gone."""
    own = tmp_path / "own.crftag"
    own.write_bytes(model_file.read_bytes())
    nlp = pipeline(own, min_confidence=0.3)
    before = [ents(d) for d in nlp.pipe(RAW)]
    nlp.to_disk(tmp_path / "pipe")
    own.unlink()
    assert (tmp_path / "pipe" / "crftag_ner" / MODEL_FILE).read_bytes() == model_file.read_bytes()
    loaded = spacy.load(tmp_path / "pipe")
    assert loaded.pipe_names == ["crftag_ner"]
    assert loaded.get_pipe("crftag_ner").min_confidence == 0.3
    assert [ents(d) for d in loaded.pipe(RAW)] == before
    loaded.to_disk(tmp_path / "pipe")  # saved over itself
    assert [ents(d) for d in spacy.load(tmp_path / "pipe").pipe(RAW)] == before
    again = spacy.blank("en").from_config(loaded.config)  # the config's model path is gone
    again.from_bytes(loaded.to_bytes())
    assert [ents(d) for d in again.pipe(RAW)] == before
    again.to_disk(tmp_path / "from-bytes")
    assert (tmp_path / "from-bytes" / "crftag_ner" / MODEL_FILE).read_bytes() == model_file.read_bytes()


def test_factory_is_found_through_its_entry_point(model_file, tmp_path):
    """spaCy finds crftag_ner through the `spacy_factories` entry point that pyproject.toml
    declares, without anyone importing crftag first."""
    eps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]["spacy_factories"]
    assert eps == {"crftag_ner": "crftag.integrations.spacy_component:make_crftag_ner"}
    info = tmp_path / "crftag_spacy_probe-0.dist-info"  # the entry point, installed as pip would
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: crftag-spacy-probe\nVersion: 0\n")
    lines = "".join(f"{k} = {v}\n" for k, v in eps.items())
    (info / "entry_points.txt").write_text(f"[spacy_factories]\n{lines}")
    code = ("import sys, json, spacy\n"
            "before = sorted(m for m in sys.modules if m.startswith('crftag'))\n"
            "nlp = spacy.blank('en')\n"
            f"nlp.add_pipe('crftag_ner', config={{'model': {str(model_file)!r}}})\n"
            "doc = nlp('Barack Obama visited Paris today')\n"
            "print(json.dumps([before, [(e.text, e.label_) for e in doc.ents]]))\n")
    env_path = f"{tmp_path}:{ROOT}"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                       env={**os.environ, "PYTHONPATH": env_path})
    assert r.returncode == 0, r.stderr
    before, found = json.loads(r.stdout)
    assert before == [] and ["Paris", "geo-loc"] in found


def test_readme_example_runs(model_file, monkeypatch, capsys):
    """The README's spaCy example, run on the test model (its printed output is the default model's)."""
    text = (ROOT / "README.md").read_text()
    code = text.split("<!-- spacy-example -->", 1)[1].split("```python", 1)[1].split("```", 1)[0]
    assert 'config={"model": "models/wnut16-crf.crftag"}' in code
    exec(compile(code.replace("models/wnut16-crf.crftag", str(model_file)), "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert re.search(r"^\('.+', '[a-z-]+', \d+, \d+, 0\.\d+\)$", out, re.M)
