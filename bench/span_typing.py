"""Screen: does a span-typing stage after the CRF beat the CRF alone? (pooled k-fold CV)

    python bench/span_typing.py [--corpus wnut16] [--folds 3] [--out bench/results]

For each outer fold, the default CRF's spans on its training folds are made by an inner
3-fold jackknife, and a multinomial logistic regression learns to re-type each span (or
reject it: class O) from span-level evidence the token chain cannot see: the whole span's
gazetteer and Wikidata list membership (as written, lowercased, hashtag/mention body), the
Brown clusters of every token, first and last token, length, shape, the words around it,
the CRF's type and its type marginals averaged over the span. Gold spans the CRF missed
are added as training examples. The re-typed held-out fold is scored against the CRF's own
output on it. A span the typer calls O is dropped only when P(O) reaches ``drop``.
Prints each setting's F1 and its paired difference to the CRF (mean, standard error over
folds) and saves bench/results/span_typing.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import statistics
from collections import defaultdict
from pathlib import Path

import numpy as np

SETTINGS = [(c, drop) for c in (0.3, 1.0, 3.0) for drop in (None, 0.5, 0.7)]
SKIP_LISTS = ("lower.", "english.stop", "bigdict", "cap.")  # word-frequency lists, not names


def gazetteer() -> dict[str, set[str]]:
    """Lowercased entry -> the lists holding it, from the default feature set's gazetteers."""
    from crftag.resources.registry import default_registry

    gaz: dict[str, set[str]] = defaultdict(set)
    for name in ("lexicons:wnut16", "lexicons:wikidata2016"):
        folder = Path(default_registry().fetch(name))
        for path in sorted(folder.iterdir()):
            if path.name.startswith(SKIP_LISTS):
                continue
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
                if entry := line.strip().lower():
                    gaz[entry].add(path.name)
    return gaz


def brown() -> dict[str, str]:
    from crftag.resources.registry import default_registry

    paths = {}
    for line in Path(default_registry().fetch("brown:ark-twitter-6mpaths")).read_text("utf-8").splitlines():
        bits, word, *_ = line.split("\t")
        paths[word.lower()] = bits
    return paths


def span_features(tokens, i, j, crf_type, marginals, labels, types, gaz, clusters) -> dict:
    words = [t.lower() for t in tokens[i:j]]
    text = " ".join(words)
    body = re.sub(r"^[#@]", "", text)
    f = {"crf=" + crf_type: 1, f"len={min(j - i, 4)}": 1, "first=" + words[0]: 1, "last=" + words[-1]: 1,
         "span=" + text: 1, "prev=" + (tokens[i - 1].lower() if i else "<s>"): 1,
         "next=" + (tokens[j].lower() if j < len(tokens) else "</s>"): 1,
         "shape=" + "".join("X" if t[:1].isupper() else "x" if t[:1].islower() else
                            "#" if t[:1] in "#@" else "d" for t in tokens[i:j]): 1}
    for w in words:
        f["w=" + w] = 1
        if bits := clusters.get(w):
            for n in (4, 8, 12):
                f[f"b{n}={bits[:n]}"] = 1
    for key in {text, body, body.replace("_", " ")}:
        for lst in gaz.get(key, ()):
            f["gaz=" + lst] = 1
    if body != text:
        f["tagged"] = 1
    mean = marginals[i:j].mean(axis=0)
    for ty in types:
        p = float(sum(mean[k] for k, lab in enumerate(labels) if lab[2:] == ty and lab != "O"))
        f["p=" + ty] = p
        f[f"pb={ty}:{int(p * 5)}"] = 1
    return f


def crf_view(tagger, sents):
    """The CRF's labels and token marginals on ``sents``."""
    X = tagger.featurize([s.tokens for s in sents])
    return tagger.model.predict_batch(X), tagger.model.token_probabilities(X)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", default="wnut16")
    ap.add_argument("--folds", type=int, default=3)
    ap.add_argument("--out", default="bench/results")
    args = ap.parse_args()

    from sklearn.feature_extraction import DictVectorizer
    from sklearn.linear_model import LogisticRegression

    from crftag import train
    from crftag.bio import chunks
    from crftag.evaluation.scores import evaluate
    from crftag.resources.corpora import get_corpus

    c = get_corpus(args.corpus)
    sents = c.read("train") + c.read("dev")
    gaz, clusters = gazetteer(), brown()
    assign = np.random.default_rng(0).permutation(len(sents)) % args.folds
    scores: dict[str, list[float]] = defaultdict(list)
    for k in range(args.folds):
        fit = [s for s, a in zip(sents, assign, strict=True) if a != k]
        held = [s for s, a in zip(sents, assign, strict=True) if a == k]
        types = sorted({t[2:] for s in fit for t in s.tags if t != "O"})
        feats, ys = [], []
        inner = np.random.default_rng(1).permutation(len(fit)) % 3
        for j in range(3):  # the CRF's spans on data it did not see
            tagger = train([s for s, a in zip(fit, inner, strict=True) if a != j])
            part = [s for s, a in zip(fit, inner, strict=True) if a == j]
            for s, pred, marg in zip(part, *crf_view(tagger, part), strict=True):
                gold = {(a, b): t for t, a, b in chunks(s.tags)}
                found = {(a, b): t for t, a, b in chunks(pred)}
                for (a, b), t in found.items():
                    feats.append(span_features(s.tokens, a, b, t, marg, tagger.labels, types, gaz, clusters))
                    ys.append(gold.get((a, b), "O"))
                for (a, b), t in gold.items():
                    if (a, b) not in found:
                        feats.append(span_features(s.tokens, a, b, "none", marg, tagger.labels, types, gaz,
                                                   clusters))
                        ys.append(t)
        tagger = train(fit)
        preds, margs = crf_view(tagger, held)
        gold_tags = [s.tags for s in held]
        scores["crf"].append(evaluate(gold_tags, preds).overall["f1"])
        vec = DictVectorizer()
        X = vec.fit_transform(feats)
        for C, drop in SETTINGS:
            clf = LogisticRegression(C=C, max_iter=2000).fit(X, ys)
            classes = list(clf.classes_)
            typed = []
            for s, pred, marg in zip(held, preds, margs, strict=True):
                tags = ["O"] * len(s.tokens)
                for t, a, b in chunks(pred):
                    probs = clf.predict_proba(vec.transform(
                        [span_features(s.tokens, a, b, t, marg, tagger.labels, types, gaz, clusters)]))[0]
                    best = classes[int(np.argmax(probs))]
                    if best == "O":
                        if drop is not None and probs[classes.index("O")] >= drop:
                            continue
                        best = max((p, cl) for p, cl in zip(probs, classes, strict=True) if cl != "O")[1]
                    tags[a:b] = ["B-" + best] + ["I-" + best] * (b - a - 1)
                typed.append(tags)
            scores[f"typer C={C} drop={drop}"].append(evaluate(gold_tags, typed).overall["f1"])
        print(f"fold {k}: " + ", ".join(f"{n} {v[-1]:.2f}" for n, v in scores.items()), flush=True)
    rows = []
    for name, values in scores.items():
        diff = [a - b for a, b in zip(values, scores["crf"], strict=True)]
        se = statistics.stdev(diff) / math.sqrt(len(diff)) if len(diff) > 1 else float("nan")
        rows.append({"setting": name, "f1": statistics.fmean(values), "folds": values,
                     "delta": statistics.fmean(diff), "delta_se": se})
        print(f"{args.corpus} {name}: F1 {statistics.fmean(values):.2f}, "
              f"vs the CRF {statistics.fmean(diff):+.2f} ± {se:.2f}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "span_typing.json").write_text(json.dumps({"corpus": args.corpus, "folds": args.folds,
                                                      "cores": os.cpu_count(), "rows": rows}, indent=1))
    print(f"saved {out / 'span_typing.json'}")


if __name__ == "__main__":
    main()
