"""Corpus statistics on a hand-made corpus whose numbers are counted by hand."""

from __future__ import annotations

from crftag.evaluation.report import stats_text as render_text
from crftag.evaluation.stats import corpus_stats
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
