"""Error analysis of predictions against gold: confusions, frequent errors,
bootstrap confidence intervals, a paired significance test, token-level AUC.

Entity counts are conlleval's (:func:`crftag.evaluation.scores.conlleval_counts`), per
sentence, so resampled scores are the scores conlleval would print for the
resampled corpus.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from crftag.bio import chunks, split_tag
from crftag.evaluation.scores import conlleval_counts

if TYPE_CHECKING:
    from crftag.types import Sentence

MISSED, SPURIOUS = "(missed)", "(spurious)"


def sentence_counts(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> np.ndarray:
    """(sentences x 3) conlleval counts per sentence: correct, guessed, gold chunks."""
    out = np.zeros((len(gold), 3), dtype=np.int64)
    for i, (g, p) in enumerate(zip(gold, pred, strict=True)):
        c = conlleval_counts([g], [p])
        out[i] = sum(c.correct.values()), sum(c.guessed.values()), sum(c.gold.values())
    return out


def f1_of(counts: np.ndarray) -> np.ndarray:
    """Entity F1 in percent from summed (..., 3) counts, with conlleval's arithmetic."""
    correct, guessed, gold = (counts[..., k].astype(float) for k in range(3))
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(guessed > 0, 100 * correct / guessed, 0.0)
        r = np.where(gold > 0, 100 * correct / gold, 0.0)
        return np.where(p + r > 0, 2 * p * r / (p + r), 0.0)


def _resampled_sums(per_sentence: list[np.ndarray], n: int, seed: int) -> list[np.ndarray]:
    """Sums of each count table over ``n`` bootstrap resamples of sentences (the same for all)."""
    rng = np.random.default_rng(seed)
    n_sent = len(per_sentence[0])
    sums = [np.zeros((n, 3), dtype=np.int64) for _ in per_sentence]
    for a in range(0, n, 100):  # in blocks, so memory stays small on big corpora
        idx = rng.integers(0, n_sent, size=(min(100, n - a), n_sent))
        for table, out in zip(per_sentence, sums, strict=True):
            out[a:a + len(idx)] = table[idx].sum(axis=1)
    return sums


def bootstrap_f1(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]], n: int = 1000,
                 seed: int = 0, level: float = 0.95) -> dict:
    """Percentile bootstrap interval for entity F1, resampling sentences with replacement."""
    counts = sentence_counts(gold, pred)
    (sums,) = _resampled_sums([counts], n, seed)
    f1s = f1_of(sums)
    tail = 100 * (1 - level) / 2
    return {"f1": float(f1_of(counts.sum(axis=0))), "low": float(np.percentile(f1s, tail)),
            "high": float(np.percentile(f1s, 100 - tail)), "level": level, "resamples": n, "seed": seed}


def paired_bootstrap(gold: Sequence[Sequence[str]], pred_a: Sequence[Sequence[str]],
                     pred_b: Sequence[Sequence[str]], n: int = 1000, seed: int = 0) -> dict:
    """Paired bootstrap test (Koehn 2004; Berg-Kirkpatrick et al. 2012) of F1(A) - F1(B).

    Both systems are scored on the same resampled sentences. ``p_value`` is the
    share of resamples in which the system that is better on the full data is
    not better, (k + 1) / (n + 1): small means the difference is unlikely to
    be an accident of which sentences were sampled.
    """
    ca, cb = sentence_counts(gold, pred_a), sentence_counts(gold, pred_b)
    sa, sb = _resampled_sums([ca, cb], n, seed)
    f1_a, f1_b = float(f1_of(ca.sum(axis=0))), float(f1_of(cb.sum(axis=0)))
    delta = f1_of(sa) - f1_of(sb)
    not_better = int(np.sum(delta <= 0)) if f1_a >= f1_b else int(np.sum(delta >= 0))
    return {"f1_a": f1_a, "f1_b": f1_b, "delta": f1_a - f1_b,
            "p_value": (not_better + 1) / (n + 1), "resamples": n, "seed": seed}


def type_confusion(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]
                   ) -> tuple[list[str], list[str], np.ndarray]:
    """Entity-type confusion: rows gold types + (spurious), columns predicted types + (missed).

    A gold entity whose exact span was predicted counts under (its type, the
    predicted type); one whose span was not predicted is (missed); a predicted
    span that no gold entity has is (spurious).
    """
    pairs: Counter = Counter()
    for g, p in zip(gold, pred, strict=True):
        g_spans = {(i, j): t for t, i, j in chunks(g)}
        p_spans = {(i, j): t for t, i, j in chunks(p)}
        for span, t in g_spans.items():
            pairs[t, p_spans.get(span, MISSED)] += 1
        for span, t in p_spans.items():
            if span not in g_spans:
                pairs[SPURIOUS, t] += 1
    types = sorted({t for pair in pairs for t in pair} - {MISSED, SPURIOUS})
    rows, cols = [*types, SPURIOUS], [*types, MISSED]
    matrix = np.zeros((len(rows), len(cols)), dtype=np.int64)
    for (r, c), k in pairs.items():
        matrix[rows.index(r), cols.index(c)] = k
    return rows, cols, matrix


def label_confusion(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]
                    ) -> tuple[list[str], np.ndarray]:
    """Token-level confusion over BIO labels: matrix[gold label, predicted label]."""
    pairs = Counter((g, p) for gs, ps in zip(gold, pred, strict=True) for g, p in zip(gs, ps, strict=True))
    labels = sorted({lab for pair in pairs for lab in pair}, key=lambda t: (t != "O", t[2:], t))
    index = {lab: i for i, lab in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for (g, p), k in pairs.items():
        matrix[index[g], index[p]] = k
    return labels, matrix


def frequent_errors(tokens: Sequence[Sequence[str]], gold: Sequence[Sequence[str]],
                    pred: Sequence[Sequence[str]], top: int = 10, window: int = 3) -> dict:
    """The most frequent false positives and false negatives (exact span and type), each
    with its count and the context of its first occurrence (the entity in [brackets])."""
    found: dict[str, Counter] = {"false_positives": Counter(), "false_negatives": Counter()}
    context: dict[tuple, str] = {}
    for toks, g, p in zip(tokens, gold, pred, strict=True):
        g_set, p_set = set(chunks(g)), set(chunks(p))
        for kind, wrong in (("false_positives", p_set - g_set), ("false_negatives", g_set - p_set)):
            for t, i, j in sorted(wrong, key=lambda c: c[1]):
                key = (" ".join(toks[i:j]), t)
                found[kind][key] += 1
                context.setdefault((kind, *key), " ".join(
                    [*toks[max(0, i - window):i], "[" + " ".join(toks[i:j]) + "]", *toks[j:j + window]]))
    return {kind: [{"text": text, "type": t, "count": k, "context": context[kind, text, t]}
                   for (text, t), k in counter.most_common(top)]
            for kind, counter in found.items()}


def token_auc(gold: Sequence[Sequence[str]], probabilities: Sequence[np.ndarray],
              labels: Sequence[str]) -> dict:
    """Token-level ROC-AUC and PR-AUC (average precision), one-vs-rest, macro over the
    labels that occur in gold (a label absent from gold has no positives to rank)."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    y = np.array([labels.index(t) if t in labels else -1 for s in gold for t in s])
    scores = np.vstack(probabilities)
    present = [k for k in range(len(labels)) if 0 < np.sum(y == k) < len(y)]
    roc = {labels[k]: float(roc_auc_score(y == k, scores[:, k])) for k in present}
    pr = {labels[k]: float(average_precision_score(y == k, scores[:, k])) for k in present}
    non_o = [labels[k] for k in present if labels[k] != "O"]
    return {"roc_auc_macro": float(np.mean(list(roc.values()))),
            "pr_auc_macro": float(np.mean(list(pr.values()))),
            "roc_auc_macro_non_o": float(np.mean([roc[k] for k in non_o])) if non_o else float("nan"),
            "pr_auc_macro_non_o": float(np.mean([pr[k] for k in non_o])) if non_o else float("nan"),
            "labels": len(present), "per_label_roc_auc": roc, "per_label_pr_auc": pr}


def token_probabilities(tagger, sentences: Sequence[Sequence[str]]) -> list[np.ndarray]:
    """Per token, a probability per label (``tagger.labels`` order), for token-level AUC: what
    the model's ``token_probabilities`` gives (CRF marginals, a classifier's probabilities);
    a model without that capability has none."""
    from crftag.errors import CrftagError

    scores = getattr(tagger.model, "token_probabilities", None)
    if scores is None:
        raise CrftagError(f"backend {tagger.backend!r} gives no per-token probabilities")
    return scores(tagger.featurizer.featurize_batch(sentences))


def eval_extras(gold: Sequence[Sentence], pred: list[list[str]], tagger: Any, confusion: bool = False,
                n_errors: int = 0, n_boot: int = 0, other: tuple[str, list[list[str]]] | None = None,
                auc: bool = False, seed: int = 0) -> dict:
    """The optional analyses of ``crftag eval``, as one JSON-ready dict (rendered by
    :func:`crftag.evaluation.report.extras_text`). ``other`` is another model's name and
    predictions on the same sentences, for the paired bootstrap."""
    tags = [s.tags for s in gold]
    extras: dict[str, Any] = {}
    if n_boot:
        extras["bootstrap"] = bootstrap_f1(tags, pred, n=n_boot, seed=seed)
    if other is not None:
        extras["compared_with"] = other[0]
        extras["paired_bootstrap"] = paired_bootstrap(tags, pred, other[1], n=n_boot or 1000, seed=seed)
    if auc:
        probs = token_probabilities(tagger, [s.tokens for s in gold])
        extras["token_scores"] = getattr(tagger.model, "token_scores", "token probabilities")
        extras["token_auc"] = token_auc(tags, probs, tagger.labels)
    if confusion:
        rows, cols, m = type_confusion(tags, pred)
        extras["type_confusion"] = {"rows": rows, "cols": cols, "counts": m.tolist()}
        labels, lm = label_confusion(tags, pred)
        extras["label_confusion"] = {"labels": labels, "counts": lm.tolist()}
    if n_errors:
        extras["errors"] = frequent_errors([s.tokens for s in gold], tags, pred, top=n_errors)
    return extras


def disjoint_types(labels: Sequence[str], gold: Sequence[Sequence[str]], name: str) -> str | None:
    """A warning when a model's entity types share nothing with the gold data's (every score is
    then 0, which is rarely what was meant: a model for another tag set); None otherwise."""
    mine = {split_tag(t)[1] for t in labels} - {""}
    theirs = {split_tag(t)[1] for tags in gold for t in tags} - {""}
    if mine and theirs and not mine & theirs:
        return (f"the model's entity types ({', '.join(sorted(mine)[:6])}"
                f"{', ...' if len(mine) > 6 else ''}) share none with {name}'s "
                f"({', '.join(sorted(theirs)[:6])}{', ...' if len(theirs) > 6 else ''}): "
                "every score below is 0")
    return None
