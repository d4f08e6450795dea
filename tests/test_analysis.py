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
from crftag.evaluation.report import stats_text as render_text
from crftag.evaluation.scores import evaluate
from crftag.evaluation.stats import corpus_stats
from crftag.resources.split import stratified_split
from crftag.types import Sentence

CORPUS = [Sentence(["Obama", "in", "Paris"], ["B-person", "O", "B-geo-loc"]),
          Sentence(["New", "York", "rocks"], ["B-geo-loc", "I-geo-loc", "O"]),
          Sentence(["ok"], ["O"])]


def test_corpus_stats_by_hand():
    st = corpus_stats(CORPUS, reference=[Sentence(["Obama", "was", "here"], ["B-person", "O", "O"])],
                      bin_width=2)
    counts = (st["sentences"], st["tokens"], st["sentences_with_entities"], st["entities_total"])
    assert counts == (3, 7, 2, 3)
    assert st["entities"] == {"geo-loc": 2, "person": 1}
    assert st["labels"] == {"O": 3, "B-geo-loc": 2, "B-person": 1, "I-geo-loc": 1}
    assert st["length"] == {"min": 1, "max": 3, "mean": 7 / 3, "median": 3}
    assert st["length_histogram"] == [{"from": 1, "to": 2, "sentences": 1},
                                      {"from": 3, "to": 4, "sentences": 2}]
    tr = st["transitions"]
    assert tr["from"] == ["<s>", "O", "B-geo-loc", "I-geo-loc", "B-person"]
    assert tr["to"] == ["O", "B-geo-loc", "I-geo-loc", "B-person", "</s>"]
    expected = {("<s>", "B-person"): 1, ("<s>", "B-geo-loc"): 1, ("<s>", "O"): 1, ("B-person", "O"): 1,
                ("O", "B-geo-loc"): 1, ("B-geo-loc", "</s>"): 1, ("B-geo-loc", "I-geo-loc"): 1,
                ("I-geo-loc", "O"): 1, ("O", "</s>"): 2}
    got = {(a, b): k for a, row in zip(tr["from"], tr["counts"], strict=True)
           for b, k in zip(tr["to"], row, strict=True) if k}
    assert got == expected
    # 6 of 7 tokens and 6 of 7 distinct words are not in the reference ("Obama" is)
    assert st["oov"] == {"token_rate": 100 * 6 / 7, "type_rate": 100 * 6 / 7, "reference_vocabulary": 3}
    text = render_text(st)
    assert "sentences: 3  tokens: 7" in text and "geo-loc" in text


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


def test_stratified_split():
    with_ent = [Sentence([f"e{i}"], ["B-person"]) for i in range(10)]
    without = [Sentence([f"o{i}"], ["O"]) for i in range(10)]
    sents = [s for pair in zip(with_ent, without, strict=True) for s in pair]
    train, dev = stratified_split(sents, 0.2, seed=4)
    assert len(dev) == 4 and sum(s.tags == ["B-person"] for s in dev) == 2
    assert {id(s) for s in train} | {id(s) for s in dev} == {id(s) for s in sents}
    assert not {id(s) for s in train} & {id(s) for s in dev}
    assert [sents.index(s) for s in train] == sorted(sents.index(s) for s in train)  # order kept
    assert stratified_split(sents, 0.2, seed=4) == (train, dev)


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


def test_search_and_stability_commands(tiny_path, tmp_path, capsys):
    common = [str(tiny_path), "--dev", str(tiny_path), "--features", "surface"]
    main(["search", *common, "--backend", "sgd", "--grid", "alpha=0.001,0.01", "--grid",
          "class_weight=balanced,none", "-j", "2", "-o", str(tmp_path / "best.crftag"),
          "--json", str(tmp_path / "s.json")])
    out = capsys.readouterr().out
    assert out.count("| surface |") == 4 and (tmp_path / "best.crftag").exists()
    ranked = json.loads((tmp_path / "s.json").read_text())["results"]
    assert [r["dev_f1"] for r in ranked] == sorted((r["dev_f1"] for r in ranked), reverse=True)
    main(["search", *common, "--backend", "sgd", "--grid", "alpha=0.001,0.01", "--grid",
          "class_weight=balanced,none", "--json", str(tmp_path / "s1.json")])  # one worker: same table
    capsys.readouterr()
    def without_time(rows):
        return [{k: v for k, v in r.items() if k != "train_s"} for r in rows]

    assert without_time(json.loads((tmp_path / "s1.json").read_text())["results"]) == without_time(ranked)
    with pytest.raises(SystemExit) as exc:  # any spread is above a negative threshold
        main(["stability", *common, "--backend", "sgd", "-p", "alpha=0.001", "--runs", "2",
              "--threshold", "-1"])
    assert exc.value.code == 1 and "UNSTABLE" in capsys.readouterr().out


@pytest.mark.parametrize("binary", [False, True])
def test_sgd_token_probabilities_equal_predict_proba(tiny, monkeypatch, binary):
    import scipy.sparse as sp
    import sklearn.linear_model

    from crftag import train
    from crftag.evaluation.analysis import token_probabilities

    made = []

    class Recording(sklearn.linear_model.SGDClassifier):
        def fit(self, *args, **kwargs):
            made.append(self)
            return super().fit(*args, **kwargs)

    monkeypatch.setattr(sklearn.linear_model, "SGDClassifier", Recording)
    data = [Sentence(s.tokens, ["B-person" if t.startswith("B") else "O" for t in s.tags]) for s in tiny] \
        if binary else tiny
    tagger = train(data, backend="sgd", features="surface", empty_fraction=1, alpha=1e-3)  # all rows
    X = tagger.featurizer.featurize_batch([s.tokens for s in data])
    keys, columns = np.unique(X.keys, return_inverse=True)
    matrix = sp.csr_matrix((np.ones(len(columns)), columns.ravel(), X.token_ptr),
                           shape=(len(X.token_ptr) - 1, len(keys)))
    expected = made[-1].predict_proba(matrix)  # columns in clf.classes_ order = sorted label ids
    got = np.vstack(token_probabilities(tagger, [s.tokens for s in data]))
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)
