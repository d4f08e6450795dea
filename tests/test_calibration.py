"""Calibrated entity confidences: the measure, the fit, the stored map, and every place that
gives confidences out (Tagger, bulk engine, command line, server batches, thresholds per type)."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import numpy as np
import pytest

from crftag import Tagger, train
from crftag.calibration import (
    MIN_ENTITIES,
    Calibration,
    CalibrationError,
    calibration_report,
    entity_outcomes,
    expected_calibration_error,
    fit,
    parse_thresholds,
    reliability,
    threshold_for,
)
from crftag.errors import CrftagError, ModelError
from crftag.types import Entity

PLATT = Calibration("platt", 0.6, -0.4)


def test_reliability_and_ece_by_hand():
    # bin 0.9-1.0: 10 entities at 0.95, 8 right; bin 0.5-0.6: 4 at 0.5, 1 right; 1.0 is in the last bin
    scores = [0.95] * 10 + [0.5] * 4 + [1.0]
    correct = [True] * 8 + [False] * 2 + [True] + [False] * 3 + [True]
    rows = reliability(scores, correct)
    assert [r["entities"] for r in rows] == [0, 0, 0, 0, 0, 4, 0, 0, 0, 11]
    top = rows[9]
    assert top["confidence"] == pytest.approx((9.5 + 1.0) / 11) and top["accuracy"] == pytest.approx(9 / 11)
    assert rows[5]["gap"] == pytest.approx(0.25 - 0.5)
    want = (4 * 0.25 + 11 * abs(9 / 11 - 10.5 / 11)) / 15
    assert expected_calibration_error(scores, correct) == pytest.approx(want)
    assert expected_calibration_error([], []) == 0.0


def test_entity_outcomes_count_exact_span_and_type():
    gold = [["B-person", "I-person", "O", "B-geo-loc"]]
    found = [[Entity("a b", "person", 0, 3, 0, 2, 0.9), Entity("c", "person", 4, 5, 3, 4, 0.8),
              Entity("a", "person", 0, 1, 0, 1, None)]]
    assert entity_outcomes(gold, found) == ([0.9, 0.8], [True, False])


def _overconfident(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    raw = rng.uniform(0.3, 1.0, n)
    return raw, rng.uniform(size=n) < raw ** 3  # right less often than the scores say


def test_fit_repairs_overconfidence_on_fresh_data():
    raw, right = _overconfident(3000, 0)
    cal = fit(raw, right)
    assert cal.method in ("platt", "isotonic") and cal.fit_info["entities"] == 3000
    assert cal.fit_info["cv_ece"][cal.method] < cal.fit_info["cv_ece"]["none"] / 3
    fresh, fresh_right = _overconfident(3000, 1)
    assert expected_calibration_error(cal.apply(fresh), fresh_right) < 0.03 \
        < expected_calibration_error(fresh, fresh_right)
    grid = np.linspace(0, 1, 101)
    assert np.all(np.diff(cal.apply(grid)) >= 0)  # monotone: the ranking of entities is kept
    assert fit(raw, right) == cal  # deterministic


def test_fit_keeps_calibrated_scores_and_needs_enough_entities():
    rng = np.random.default_rng(2)
    raw = rng.uniform(0, 1, 4000)
    cal = fit(raw, rng.uniform(size=4000) < raw, methods=("none", "platt"))
    assert cal.fit_info["cv_ece"]["none"] < 0.03
    few = fit([0.9] * (MIN_ENTITIES - 1), [True] * (MIN_ENTITIES - 1))
    assert few.method == "none" and "fewer than" in few.fit_info["why"]
    with pytest.raises(ValueError, match="calibration methods"):
        fit(raw, raw > 0.5, methods=("beta",))


@pytest.mark.parametrize("meta", [
    "platt", {"method": "temperature"}, {"method": "platt", "a": 0, "b": 0},
    {"method": "platt", "a": float("nan"), "b": 0}, {"method": "platt", "a": True, "b": 0},
    {"method": "platt", "a": 1}, {"method": "isotonic", "x": [0.1, 0.1], "y": [0.2, 0.3]},
    {"method": "isotonic", "x": [0.1, 0.2], "y": [0.3, 0.2]}, {"method": "isotonic", "x": [0.1], "y": []},
    {"method": "isotonic", "x": [0.1, 2], "y": [0.1, 0.2]}, {"method": "isotonic", "x": "ab", "y": "ab"},
    {"method": "isotonic", "x": list(np.linspace(0, 1, 1001)), "y": [0.5] * 1001},
    {"method": "none", "fit": []},
])
def test_malformed_calibrations_are_refused(meta, tiny_crf, tmp_path):
    with pytest.raises(CalibrationError):
        Calibration.from_meta(meta)
    from crftag.io.modelfile import load_model, save_model

    good = tmp_path / "good.crftag"
    tiny_crf.save(good)
    stored, arrays = load_model(good)
    stored["calibration"] = meta
    bad = tmp_path / "bad.crftag"
    save_model(bad, stored, arrays)
    with pytest.raises(ModelError, match="invalid model: 'calibration"):
        Tagger.load(bad)


@pytest.mark.parametrize("cal", [PLATT, Calibration("isotonic", x=(0.2, 0.5, 0.9), y=(0.1, 0.3, 0.8)),
                                 Calibration()])
def test_round_trip_through_a_model_file(cal, tiny_crf, tmp_path):
    tagger = Tagger(tiny_crf.model, tiny_crf.feature_set, tiny_crf.backend,
                    {**tiny_crf.meta, "calibration": cal.to_meta()}, tiny_crf.lexicon)
    tagger.save(tmp_path / "m.crftag")
    loaded = Tagger.load(tmp_path / "m.crftag")
    assert loaded.calibration == cal
    grid = np.linspace(0, 1, 11)
    assert loaded.calibration.apply(grid).tolist() == cal.apply(grid).tolist()


@pytest.fixture
def calibrated(tiny_crf) -> Tagger:
    """The tiny model with a Platt map that lowers every confidence."""
    return Tagger(tiny_crf.model, tiny_crf.feature_set, tiny_crf.backend,
                  {**tiny_crf.meta, "calibration": PLATT.to_meta()}, tiny_crf.lexicon)


TEXTS = ["Barack Obama visited Paris today", "Taylor Swift in New York with the Lakers",
         "@mike loves London and Apple"]


def test_tagger_gives_calibrated_confidences(tiny_crf, calibrated):
    for text in TEXTS:
        raw, cal = tiny_crf.tag(text), calibrated.tag(text)
        assert [(e.text, e.type) for e in raw] == [(e.text, e.type) for e in cal]
        assert [e.score for e in cal] == pytest.approx([PLATT(e.score) for e in raw], abs=1e-12)
    batch = calibrated.tag_batch(TEXTS)
    assert [[e.score for e in ents] for ents in batch] == \
        [[e.score for e in calibrated.tag(t)] for t in TEXTS]


def test_thresholds_per_type(calibrated):
    text = TEXTS[1]
    ents = calibrated.tag(text)
    types = sorted({e.type for e in ents})
    assert len(types) >= 2, ents
    only = types[0]
    kept = calibrated.tag(text, {only: 1.0, "*": 0.0})
    assert [e.type for e in kept] == [e.type for e in ents if e.type != only]
    assert calibrated.tag(text, {only: 0.0}) == ents  # unnamed types: no threshold
    assert threshold_for({"person": 0.9, "*": 0.2}, "geo-loc") == 0.2
    assert threshold_for(0.5, "x") == 0.5 and threshold_for(None, "x") is None


@pytest.mark.parametrize("text, want", [
    ("0.8", 0.8), ("person=0.9", {"person": 0.9}), ("0.5, person=0.9,geo-loc=0", {"*": 0.5, "person": 0.9,
                                                                                    "geo-loc": 0.0}),
    ("1", 1.0)])
def test_parse_thresholds(text, want):
    assert parse_thresholds(text) == want


@pytest.mark.parametrize("text", ["80", "person=1.5", "person=x", "nan", "person=0.5,person=0.6", "inf", ""])
def test_parse_thresholds_refuses(text):
    with pytest.raises(ValueError):
        parse_thresholds(text)


def test_bulk_engine_and_server_batches_agree_with_the_tagger(calibrated, tmp_path):
    from crftag.integrations.batches import Item, tag_items
    from crftag.io.bulk import tag_file
    from crftag.io.writers import WRITERS
    from crftag.limits import MAX_LINE_BYTES, MAX_TOKENS
    from crftag.progress import TagProgress

    src = tmp_path / "in.txt"
    src.write_text("\n".join(TEXTS * 3) + "\n", encoding="utf-8")
    scores = sorted(e.score for t in TEXTS for e in calibrated.tag(t))
    thresholds = {"person": scores[len(scores) // 2], "*": scores[0]}
    for output_format in ("text", "conll"):
        bulk = io.StringIO()
        with TagProgress(None, enabled=False) as progress:
            tag_file(calibrated, src, "text", output_format, thresholds, "utf-8", 1, bulk,
                     {"max_line_bytes": MAX_LINE_BYTES, "max_tokens": MAX_TOKENS}, progress)
        plain = io.StringIO()
        from crftag.io.readers import read

        for tagged in calibrated.tag_sentences(read(src, "text", labelled=False), thresholds):
            WRITERS[output_format](plain, tagged)
        assert bulk.getvalue() == plain.getvalue()
    served = tag_items(calibrated, [Item(t, None, None, thresholds) for t in TEXTS])
    direct = [calibrated.tag(t, thresholds) for t in TEXTS]
    assert [[(e["text"], e["score"]) for e in r["entities"]] for r in served] == \
        [[(e.text, e.score) for e in ents] for ents in direct]


def test_train_fits_a_map_on_held_out_predictions(tiny):
    many = [*tiny] * 6  # enough entities for a map (72 sentences)
    tagger = train(many, features="surface", max_iterations=20, calibrate_on="jackknife")
    fit_info = tagger.meta["calibration"]["fit"]
    assert fit_info["data"] == "training data, jackknife of 3 folds" and fit_info["entities"] >= MIN_ENTITIES
    assert tagger.calibration.method == fit_info["chosen"] == tagger.meta["calibration"]["method"]
    again = train(many, features="surface", max_iterations=20, calibrate_on="jackknife")
    assert again.meta["calibration"] == tagger.meta["calibration"]  # same data, same seed: same map
    on_dev = train(many, dev=many, features="surface", max_iterations=20)
    assert on_dev.meta["calibration"]["fit"]["data"] == "dev"
    none = train(tiny, features="surface", max_iterations=20, calibration="none")
    assert "calibration" not in none.meta and none.calibration == Calibration()
    with pytest.raises(CrftagError, match="needs a dev set"):
        train(tiny, features="surface", max_iterations=5, calibrate_on="dev")
    with pytest.raises(CrftagError, match="calibration must be"):
        train(tiny, features="surface", max_iterations=5, calibration="beta")


def test_eval_calibration_report_and_plot(calibrated, tiny_path, tmp_path):
    pytest.importorskip("matplotlib")
    model = tmp_path / "m.crftag"
    calibrated.save(model)
    r = subprocess.run([sys.executable, "-m", "crftag", "eval", "-m", str(model), str(tiny_path),
                        "--calibration", "--plots", str(tmp_path / "plots")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "expected calibration error" in r.stdout and "map: platt" in r.stdout
    assert (tmp_path / "plots" / "reliability.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    r = subprocess.run([sys.executable, "-m", "crftag", "eval", "-m", str(model), str(tiny_path),
                        "--calibration", "--report-format", "json"], capture_output=True, text=True,
                       timeout=300)
    report = json.loads(r.stdout)["calibration"]
    from crftag.io.readers import read_conll

    gold = list(read_conll(tiny_path))
    raw = Tagger.load(model)
    raw.calibration = Calibration()
    want = calibration_report([s.tags for s in gold], [t.entities for t in raw.tag_sentences(gold)], PLATT)
    assert report == json.loads(json.dumps(want))
    assert report["ece"] != report["ece_raw"]
