"""Statistics and error analysis on hand-made corpora whose numbers are counted by hand."""

from __future__ import annotations

import json

import numpy as np
import pytest

from crftag.cli.app import main
from crftag.evaluation.analysis import (
    bootstrap_f1,
    frequent_errors,
    label_confusion,
    paired_bootstrap,
    sentence_counts,
    token_auc,
    type_confusion,
)
from crftag.evaluation.scores import evaluate
from crftag.types import Sentence

CORPUS = [Sentence(["Obama", "in", "Paris"], ["B-person", "O", "B-geo-loc"]),
          Sentence(["New", "York", "rocks"], ["B-geo-loc", "I-geo-loc", "O"]),
          Sentence(["ok"], ["O"])]




def test_type_and_label_confusion_by_hand():
    gold = [s.tags for s in CORPUS]
    pred = [["B-geo-loc", "O", "O"], ["B-geo-loc", "I-geo-loc", "B-other"], ["O"]]
    rows, cols, m = type_confusion(gold, pred)
    cell = {(r, c): int(m[i, j]) for i, r in enumerate(rows) for j, c in enumerate(cols) if m[i, j]}
    assert cell == {("person", "geo-loc"): 1, ("geo-loc", "(missed)"): 1, ("geo-loc", "geo-loc"): 1,
                    ("(spurious)", "other"): 1}
    labels, lm = label_confusion(gold, pred)
    lcell = {(labels[i], labels[j]): int(lm[i, j]) for i, j in zip(*np.nonzero(lm), strict=True)}
    assert lcell == {("B-person", "B-geo-loc"): 1, ("O", "O"): 2, ("B-geo-loc", "O"): 1,
                     ("B-geo-loc", "B-geo-loc"): 1, ("I-geo-loc", "I-geo-loc"): 1, ("O", "B-other"): 1}


def test_frequent_errors_with_context():
    tokens = [s.tokens for s in CORPUS] * 2
    gold = [s.tags for s in CORPUS] * 2
    pred = [["B-person", "O", "O"], ["B-geo-loc", "I-geo-loc", "B-other"], ["O"]] * 2
    err = frequent_errors(tokens, gold, pred, top=5, window=1)
    assert err["false_negatives"] == [
        {"text": "Paris", "type": "geo-loc", "count": 2, "context": "in [Paris]"}]
    assert err["false_positives"] == [
        {"text": "rocks", "type": "other", "count": 2, "context": "York [rocks]"}]


def _random_corpus(seed, n=40):
    rng = np.random.default_rng(seed)
    labels = ["O", "O", "O", "B-a", "I-a", "B-b", "I-b"]
    gold, pred = [], []
    for _ in range(n):
        k = int(rng.integers(1, 10))
        gold.append([labels[i] for i in rng.integers(0, len(labels), k)])
        pred.append([labels[i] for i in rng.integers(0, len(labels), k)])
    return gold, pred


@pytest.mark.parametrize("seed", range(5))
def test_sentence_counts_add_up_to_conlleval(seed):
    gold, pred = _random_corpus(seed)
    total = sentence_counts(gold, pred).sum(axis=0)
    o = evaluate(gold, pred).overall
    assert tuple(total) == (o["correct"], o["guessed"], o["gold"])


def test_bootstrap_interval():
    gold, pred = _random_corpus(1, n=200)
    b = bootstrap_f1(gold, pred, n=500, seed=3)
    assert b["f1"] == pytest.approx(evaluate(gold, pred).overall["f1"])
    assert b["low"] < b["f1"] < b["high"]
    assert bootstrap_f1(gold, pred, n=500, seed=3) == b  # same seed, same interval
    perfect = bootstrap_f1(gold, gold, n=50)
    assert (perfect["low"], perfect["high"]) == (100.0, 100.0)


def test_paired_bootstrap():
    gold, pred = _random_corpus(2, n=100)
    strong = paired_bootstrap(gold, gold, pred, n=200, seed=0)  # perfect vs random
    assert strong["f1_a"] == 100.0 and strong["p_value"] == pytest.approx(1 / 201)
    same = paired_bootstrap(gold, pred, pred, n=200, seed=0)
    assert same["delta"] == 0.0 and same["p_value"] == 1.0


def test_token_auc_matches_sklearn():
    from sklearn.metrics import average_precision_score, roc_auc_score

    rng = np.random.default_rng(0)
    labels = ["O", "B-a", "I-a"]
    gold = [[labels[i] for i in rng.integers(0, 3, 8)] for _ in range(20)]
    probs = [rng.dirichlet(np.ones(3), size=len(s)) for s in gold]
    got = token_auc(gold, probs, labels)
    y = np.array([labels.index(t) for s in gold for t in s])
    p = np.vstack(probs)
    assert got["roc_auc_macro"] == pytest.approx(np.mean([roc_auc_score(y == k, p[:, k]) for k in range(3)]))
    assert got["pr_auc_macro"] == pytest.approx(
        np.mean([average_precision_score(y == k, p[:, k]) for k in range(3)]))
    perfect = [np.eye(3)[[labels.index(t) for t in s]] for s in gold]
    assert token_auc(gold, perfect, labels)["roc_auc_macro"] == 1.0




def test_stats_and_eval_commands(tiny_path, tiny_crf, tmp_path, capsys):
    main(["stats", str(tiny_path), "--against", str(tiny_path), "--format", "json",
          "--plots", str(tmp_path / "s")])
    st = json.loads(capsys.readouterr().out)
    assert st["oov"]["token_rate"] == 0.0 and st["sentences"] == 12
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == [
        "entities.png", "labels.png", "lengths.png", "transitions.png"]
    model = tmp_path / "m.crftag"
    tiny_crf.save(model)
    main(["eval", "-m", str(model), str(tiny_path), "--format", "json", "--confusion", "--errors", "3",
          "--bootstrap", "100", "--compare", str(model), "--auc", "--plots", str(tmp_path / "e")])
    rep = json.loads(capsys.readouterr().out)
    assert rep["bootstrap"]["resamples"] == 100 and rep["paired_bootstrap"]["p_value"] == 1.0
    assert rep["token_scores"] == "CRF marginals" and 0.5 < rep["token_auc"]["roc_auc_macro"] <= 1.0
    assert rep["type_confusion"]["rows"][-1] == "(spurious)" and "false_positives" in rep["errors"]
    assert sorted(p.name for p in (tmp_path / "e").iterdir()) == [
        "label_confusion.png", "per_type_prf.png", "type_confusion.png"]




