"""Evaluation: entity-level scores exactly as conlleval computes them, and more.

``conlleval_counts`` is a line-for-line port of the counting loop of the
CoNLL-2000 ``conlleval`` Perl script (version 2004-01-26: chunk starts/ends,
the in-correct state, sentence boundaries), and the percentages are computed
with the same arithmetic (a type with no guessed chunks has precision 0, as in
the script), so the printed figures match the script's to the last digit.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from crftag.bio import OUTSIDE, chunk_end, chunk_start, split_tag, strip_type


@dataclass
class ChunkCounts:
    """conlleval's counters: per type, chunks in gold, guessed, and correct."""

    gold: Counter = field(default_factory=Counter)
    guessed: Counter = field(default_factory=Counter)
    correct: Counter = field(default_factory=Counter)
    tokens: int = 0
    correct_tags: int = 0

    def types(self) -> list[str]:
        return sorted(set(self.gold) | set(self.guessed) | set(self.correct))


def conlleval_counts(gold: Iterable[Sequence[str]], pred: Iterable[Sequence[str]]) -> ChunkCounts:
    """Count chunks over sentence pairs the way conlleval does."""
    c = ChunkCounts()
    for g_sent, p_sent in zip(gold, pred, strict=True):
        if len(g_sent) != len(p_sent):
            raise ValueError(f"sentence length mismatch: {len(g_sent)} gold vs {len(p_sent)} predicted")
        in_correct = False
        last_c, last_ct, last_g, last_gt = OUTSIDE, "", OUTSIDE, ""
        # A sentence boundary is an extra "O O" step that is not counted as a token.
        for i in range(len(g_sent) + 1):
            boundary = i == len(g_sent)
            if boundary:
                cor, cor_t, gue, gue_t = OUTSIDE, "", OUTSIDE, ""
            else:
                cor, cor_t = split_tag(g_sent[i])
                gue, gue_t = split_tag(p_sent[i])
            end_c = chunk_end(last_c, cor, last_ct, cor_t)
            end_g = chunk_end(last_g, gue, last_gt, gue_t)
            start_c = chunk_start(last_c, cor, last_ct, cor_t)
            start_g = chunk_start(last_g, gue, last_gt, gue_t)
            if in_correct:
                if end_c and end_g and last_gt == last_ct:
                    in_correct = False
                    c.correct[last_ct] += 1
                elif end_c != end_g or gue_t != cor_t:
                    in_correct = False
            if start_c and start_g and gue_t == cor_t:
                in_correct = True
            if start_c:
                c.gold[cor_t] += 1
            if start_g:
                c.guessed[gue_t] += 1
            if not boundary:
                if cor == gue and cor_t == gue_t:
                    c.correct_tags += 1
                c.tokens += 1
            last_c, last_ct, last_g, last_gt = cor, cor_t, gue, gue_t
        if in_correct:  # cannot happen after the boundary step; kept for parity with the script
            c.correct[last_ct] += 1
    return c


def prf(correct: int, guessed: int, gold: int) -> dict:
    """Precision, recall and F1 in percent, with conlleval's arithmetic."""
    precision = 100 * correct / guessed if guessed > 0 else 0.0
    recall = 100 * correct / gold if gold > 0 else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return {"precision": precision, "recall": recall, "f1": f1,
            "gold": gold, "guessed": guessed, "correct": correct}


def token_macro_non_o(gold: Iterable[Sequence[str]], pred: Iterable[Sequence[str]]) -> dict:
    """Token-level macro P/R/F1 (percent) over the non-O labels in gold or prediction.

    This is the notebook baseline's metric (scikit-learn's macro average with
    ``zero_division=0``); it is reported for comparison, not as the score that counts.
    """
    tp, n_gold, n_pred = Counter(), Counter(), Counter()
    for g_sent, p_sent in zip(gold, pred, strict=True):
        for g, p in zip(g_sent, p_sent, strict=True):
            n_gold[g] += 1
            n_pred[p] += 1
            if g == p:
                tp[g] += 1
    labels = sorted((set(n_gold) | set(n_pred)) - {OUTSIDE})
    if not labels:
        return {"precision": 0.0, "recall": 0.0, "f1": 0.0, "labels": 0}
    ps, rs, fs = [], [], []
    for lab in labels:
        p = tp[lab] / n_pred[lab] if n_pred[lab] else 0.0
        r = tp[lab] / n_gold[lab] if n_gold[lab] else 0.0
        ps.append(p)
        rs.append(r)
        fs.append(2 * p * r / (p + r) if p + r else 0.0)
    n = len(labels)
    return {"precision": 100 * sum(ps) / n, "recall": 100 * sum(rs) / n,
            "f1": 100 * sum(fs) / n, "labels": n}


@dataclass
class Report:
    """Everything ``crftag eval`` reports about one set of predictions."""

    counts: ChunkCounts
    notypes: ChunkCounts
    macro_non_o: dict

    @property
    def overall(self) -> dict:
        c = self.counts
        return prf(sum(c.correct.values()), sum(c.guessed.values()), sum(c.gold.values()))

    @property
    def per_type(self) -> dict[str, dict]:
        c = self.counts
        return {t: prf(c.correct[t], c.guessed[t], c.gold[t]) for t in c.types()}

    @property
    def token_accuracy(self) -> float:
        c = self.counts
        return 100 * c.correct_tags / c.tokens if c.tokens else 0.0

    @property
    def notypes_overall(self) -> dict:
        c = self.notypes
        return prf(sum(c.correct.values()), sum(c.guessed.values()), sum(c.gold.values()))

    def to_dict(self) -> dict:
        return {
            "overall": self.overall,
            "per_type": self.per_type,
            "token_accuracy": self.token_accuracy,
            "macro_non_o_f1": self.macro_non_o["f1"],
            "macro_non_o": self.macro_non_o,
            "notypes": self.notypes_overall,
            "tokens": self.counts.tokens,
        }



def evaluate(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> Report:
    """Score predicted tag sequences against gold ones (same sentences, same lengths)."""
    gold, pred = list(gold), list(pred)
    if len(gold) != len(pred):
        raise ValueError(f"{len(gold)} gold sentences but {len(pred)} predicted")
    strip = [[strip_type(t) for t in s] for s in gold], [[strip_type(t) for t in s] for s in pred]
    return Report(
        counts=conlleval_counts(gold, pred),
        notypes=conlleval_counts(*strip),
        macro_non_o=token_macro_non_o(gold, pred),
    )
