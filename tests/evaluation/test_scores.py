"""Entity-level scores must equal conlleval's: hand-made cases and a reference port."""

import random

import pytest
from conlleval import evaluate as reference_evaluate
from seqeval.metrics import f1_score, precision_score, recall_score
from sklearn.metrics import precision_recall_fscore_support

from crftag.evaluation.report import conlleval_text
from crftag.evaluation.scores import evaluate


def _reference(gold, pred):
    lines = []
    for g_sent, p_sent in zip(gold, pred, strict=True):
        lines += [f"w {g} {p}" for g, p in zip(g_sent, p_sent, strict=True)] + [""]
    return reference_evaluate(lines)


def test_hand_made_cases():
    gold = [["B-per", "I-per", "O"], ["O", "B-loc"], ["B-org", "I-org", "I-org"]]
    # sentence 1: I- without B- after O forms a chunk of the same extent -> correct
    # sentence 2: entity at sentence end -> correct
    # sentence 3: type change inside the span -> two wrong chunks
    pred = [["I-per", "I-per", "O"], ["O", "B-loc"], ["B-org", "I-loc", "I-loc"]]
    r = evaluate(gold, pred)
    o = r.overall
    assert (o["gold"], o["guessed"], o["correct"]) == (3, 4, 2)
    assert o["precision"] == 50.0
    assert o["recall"] == pytest.approx(200 / 3)
    assert r.per_type["loc"]["guessed"] == 2 and r.per_type["loc"]["correct"] == 1
    assert r.per_type["org"]["correct"] == 0
    # token accuracy counts full-tag equality: 5 of 8 (I-per vs B-per and two I-loc differ)
    assert r.token_accuracy == pytest.approx(100 * 5 / 8)


def test_no_predictions_and_empty():
    r = evaluate([["B-a", "O"]], [["O", "O"]])
    assert r.overall == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "gold": 1, "guessed": 0, "correct": 0}
    assert evaluate([], []).overall["f1"] == 0.0


def test_conlleval_text_format():
    r = evaluate([["B-per", "I-per", "O", "B-loc"]], [["B-per", "I-per", "O", "O"]])
    assert conlleval_text(r) == (
        "processed 4 tokens with 2 phrases; found: 1 phrases; correct: 1.\n"
        "accuracy:  75.00%; precision: 100.00%; recall:  50.00%; FB1:  66.67\n"
        "              loc: precision:   0.00%; recall:   0.00%; FB1:   0.00  0\n"
        "              per: precision: 100.00%; recall: 100.00%; FB1: 100.00  1\n"
    )


def _random_corpus(rng, n_sent, labels):
    return [[rng.choice(labels) for _ in range(rng.randint(1, 12))] for _ in range(n_sent)]


@pytest.mark.parametrize("seed", range(20))
def test_matches_reference_on_random_tags(seed):
    """Arbitrary (even invalid-BIO) sequences: counts and scores equal conlleval's and seqeval's."""
    rng = random.Random(seed)
    labels = ["O", "O", "O", "B-a", "I-a", "B-b", "I-b", "B-c-d", "I-c-d"]
    gold = _random_corpus(rng, 30, labels)
    pred = [[rng.choice(labels) if rng.random() < 0.4 else t for t in s] for s in gold]
    mine = evaluate(gold, pred)
    ref = _reference(gold, pred)
    stats = ref["overall"]["chunks"]["stats"]
    o = mine.overall
    assert (o["gold"], o["guessed"], o["correct"]) == (stats["gold"], stats["pred"], stats["correct"])
    for kind, s in mine.per_type.items():
        rs = ref["slots"]["chunks"][kind]["stats"]
        assert (s["gold"], s["guessed"], s["correct"]) == (rs["gold"], rs["pred"], rs["correct"])
    tags = ref["overall"]["tags"]["stats"]
    assert mine.token_accuracy == 100 * tags["correct"] / tags["gold"]
    assert o["precision"] == pytest.approx(100 * precision_score(gold, pred), abs=1e-12)
    assert o["recall"] == pytest.approx(100 * recall_score(gold, pred), abs=1e-12)
    assert o["f1"] == pytest.approx(100 * f1_score(gold, pred), abs=1e-9)


def test_macro_non_o_matches_sklearn():
    rng = random.Random(7)
    labels = ["O", "O", "B-a", "I-a", "B-b"]
    gold = _random_corpus(rng, 40, labels)
    pred = [[rng.choice(labels) if rng.random() < 0.5 else t for t in s] for s in gold]
    flat_g = [t for s in gold for t in s]
    flat_p = [t for s in pred for t in s]
    targets = sorted((set(flat_g) | set(flat_p)) - {"O"})
    p, r, f, _ = precision_recall_fscore_support(flat_g, flat_p, labels=targets, average="macro",
                                                 zero_division=0)
    m = evaluate(gold, pred).macro_non_o
    assert (m["precision"], m["recall"], m["f1"]) == pytest.approx((100 * p, 100 * r, 100 * f))


def test_notypes_ignores_types():
    r = evaluate([["B-per", "I-per"]], [["B-loc", "I-loc"]])
    assert r.overall["correct"] == 0
    assert r.notypes_overall["correct"] == 1 and r.notypes_overall["f1"] == 100.0


def test_json_keys():
    d = evaluate([["B-a"]], [["B-a"]]).to_dict()
    assert {"overall", "per_type", "token_accuracy", "macro_non_o_f1", "notypes"} <= set(d)
    assert set(d["overall"]) >= {"precision", "recall", "f1"}
