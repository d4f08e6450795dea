"""Feature and training ablations across corpora: one row per variant, dev F1 per corpus.

    python bench/ablation.py [--corpora wnut16,wnut17,btc,gmb] [--variants "all" | "NAME; NAME"]
                             [--jobs 2] [--folds 0] [--out bench/results]

Each variant (a feature set, backend parameters, training options) is trained on
each corpus's train split and scored on its dev split (entity F1, conlleval);
with ``--folds K`` it is also scored by K-fold cross-validation on the train split
(sentences assigned to folds at random, seed 0), for differences too small for one
dev set. The table gives F1 per corpus and their mean over the tweet corpora
(WNUT16, WNUT17, BTC), WNUT16's per-type F1 for the types the later WNUT16 test
split is rich in, train seconds and model size; bench/results/ablation.json keeps
everything (per type, precision and recall).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed

TWEET_CORPORA = ("wnut16", "wnut17", "btc")
WATCHED = ("company", "product", "musicartist", "sportsteam")


def variants() -> dict[str, dict]:
    """name -> {"features": feature set dict, "params": backend parameters, "train": train() options}."""
    from crftag.features.featureset import load_feature_set

    surface = load_feature_set("surface").to_dict()
    default = load_feature_set("twitter").to_dict()
    everything = load_feature_set("twitter-all").to_dict()
    with_minilm = load_feature_set("twitter-minilm").to_dict()

    def plus(base: dict, **groups: dict) -> dict:
        d = copy.deepcopy(base)
        d["groups"].update(copy.deepcopy(groups))
        return d

    bigrams = copy.deepcopy(default)
    bigrams["conjunctions"] = copy.deepcopy(everything["conjunctions"])
    bilou = copy.deepcopy(default)
    bilou["groups"]["gazetteer"]["encoding"] = "bilou"
    more_lists = copy.deepcopy(default)
    more_lists["groups"]["gazetteer"]["resources"] += ["geonames:places", "tickers:companies"]
    near = [-1, 0, 1]
    wide = copy.deepcopy(default)
    for g in ("brown", "gazetteer", "twitter", "shape"):
        wide["groups"][g]["window"] = [-2, -1, 0, 1, 2]
    wordfreq = {"kind": "table", "resource": "wordfreq:en-bands", "window": near}
    minilm = {f"minilm{k}": {"kind": "table", "resource": f"minilm:k{k}", "window": near}
              for k in (64, 256, 1024)}
    return {
        "surface": {"features": surface},
        "surface + Brown (ARK)": {"features": plus(surface, brown=default["groups"]["brown"])},
        "surface + gazetteers": {"features": plus(surface, gazetteer=default["groups"]["gazetteer"])},
        "twitter (default before)": {"features": default},
        "twitter + word bigrams": {"features": bigrams},
        "twitter, 200 L-BFGS iterations": {"features": default, "params": {"max_iterations": 200}},
        "twitter, half the entity-less tweets (default now)": {"features": default,
                                                               "train": {"empty_fraction": 0.5}},
        "twitter, a third of the entity-less tweets": {"features": default,
                                                       "train": {"empty_fraction": 0.33}},
        "twitter, BILOU gazetteer": {"features": bilou},
        "twitter, c1=0.05 c2=0.05": {"features": default, "params": {"c1": 0.05, "c2": 0.05}},
        "twitter, c1=0.1 c2=0.01": {"features": default, "params": {"c1": 0.1, "c2": 0.01}},
        "twitter, 100 L-BFGS iterations": {"features": default, "params": {"max_iterations": 100}},
        "twitter + wordfreq bands": {"features": plus(default, wordfreq=wordfreq)},
        "twitter + GeoNames and ticker lists": {"features": more_lists},
        "twitter + MiniLM clusters (64, 256, 1024)": {"features": plus(default, **minilm)},
        "twitter, rare types x3": {"features": default, "train": {"oversample": 3}},
        "twitter, Brown, gazetteer, shape and cues at +-2": {"features": wide},
        "twitter-minilm, half the entity-less tweets": {"features": with_minilm,
                                                          "train": {"empty_fraction": 0.5}},
        "twitter + MiniLM, half the entity-less tweets, 5 bags": {
            "features": plus(default, **minilm), "train": {"empty_fraction": 0.5, "bags": 5}},
        "twitter, half the entity-less tweets, c1=0.05 c2=0.05": {
            "features": default, "params": {"c1": 0.05, "c2": 0.05}, "train": {"empty_fraction": 0.5}},
        "twitter, half the entity-less tweets, 5 bags": {"features": default,
                                                         "train": {"empty_fraction": 0.5, "bags": 5}},
    }


def run_one(name: str, spec: dict, corpus: str, folds: int) -> dict:
    from crftag import Tagger, train
    from crftag.evaluation.scores import evaluate
    from crftag.features.featureset import FeatureSet
    from crftag.resources.corpora import get_corpus

    c = get_corpus(corpus)
    fs = FeatureSet.from_dict(spec["features"], source=name)
    train_sents, dev_sents = c.read("train"), c.read("dev")
    # every entity-less tweet unless a variant says otherwise: the rows measured before the
    # default became a half stay comparable
    opts = {"empty_fraction": 1.0, **spec.get("params", {}), **spec.get("train", {})}
    t0 = time.perf_counter()
    tagger = train(train_sents, features=fs, **opts)
    train_s = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.crftag"
        tagger.save(path)
        model_mb = path.stat().st_size / 1e6
        tagger = Tagger.load(path)
    report = evaluate([s.tags for s in dev_sents], tagger.tag_tokens_batch([s.tokens for s in dev_sents]))
    row = {"variant": name, "corpus": corpus, "train_s": train_s, "model_mb": model_mb,
           "dev": {**{k: report.overall[k] for k in ("precision", "recall", "f1")},
                   "per_type": {t: v["f1"] for t, v in report.per_type.items()}}}
    if folds:
        rng = np.random.default_rng(0)
        assign = rng.permutation(len(train_sents)) % folds
        gold, pred = [], []
        for k in range(folds):
            fit = [s for s, a in zip(train_sents, assign, strict=True) if a != k]
            held = [s for s, a in zip(train_sents, assign, strict=True) if a == k]
            gold += [s.tags for s in held]
            pred += train(fit, features=fs, **opts).tag_tokens_batch([s.tokens for s in held])
        row["cv_f1"] = evaluate(gold, pred).overall["f1"]
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpora", default="wnut16,wnut17,btc,gmb")
    ap.add_argument("--variants", default="all")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--folds", type=int, default=0)
    ap.add_argument("--out", default="bench/results")
    args = ap.parse_args()
    table = variants()
    names = list(table) if args.variants == "all" else [v.strip() for v in args.variants.split(";")]
    unknown = [n for n in names if n not in table]
    if unknown:
        raise SystemExit(f"unknown variants: {', '.join(unknown)}; known: {'; '.join(table)}")
    corpora = [c.strip() for c in args.corpora.split(",")]
    jobs = [(n, c) for n in names for c in corpora]
    rows = Parallel(n_jobs=args.jobs)(delayed(run_one)(n, table[n], c, args.folds) for n, c in jobs)
    by = {(r["variant"], r["corpus"]): r for r in rows}
    head = ["variant", *corpora, "mean (tweets)", *[f"WNUT16 {t}" for t in WATCHED], "train s", "model MB"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" + "---:|" * (len(head) - 1)]
    for n in names:
        cells = []
        for c in corpora:
            r = by[(n, c)]
            cells.append(f"{r['dev']['f1']:.2f}" + (f" (cv {r['cv_f1']:.2f})" if "cv_f1" in r else ""))
        tweets = [by[(n, c)]["dev"]["f1"] for c in corpora if c in TWEET_CORPORA]
        wnut = by.get((n, "wnut16"))
        watched = [f"{wnut['dev']['per_type'].get(t, 0.0):.2f}" if wnut else "-" for t in WATCHED]
        lines.append("| " + " | ".join([n, *cells, f"{np.mean(tweets):.2f}" if tweets else "-", *watched,
                                        f"{sum(by[(n, c)]['train_s'] for c in corpora):.0f}",
                                        f"{by[(n, corpora[0])]['model_mb']:.1f}"]) + " |")
    print("\n".join(lines))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "ablation.json").write_text(json.dumps({"corpora": corpora, "folds": args.folds,
                                                   "cores": os.cpu_count(), "rows": rows}, indent=1))
    print(f"saved {out / 'ablation.json'}")


if __name__ == "__main__":
    main()
