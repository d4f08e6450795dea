"""Screen: does lowering O's score at decoding (trading precision for recall) raise F1?

    python bench/entity_bias.py [--corpora wnut16,wnut17,btc,twitter2015,twitter2017] [--folds 5]
                                [--jobs 2] [--out bench/results]

Dev-set figures of tweet taggers show precision well above recall (WNUT16 dev: 53.5 / 37.8),
which suggests decoding with a bias toward entities. Each fold's default model (pooled
train+dev, the folds of bench/ablation.py) tags its held-out fold with O's emission score
lowered by each ``delta``; no retraining. Prints per delta the F1 per corpus and the paired
difference to delta 0 (mean, standard error over folds), and saves
bench/results/entity_bias.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
from pathlib import Path

from joblib import Parallel, delayed

sys.path.insert(0, str(Path(__file__).parent))
from ablation import TWEET_CORPORA, fold_of, pooled

DELTAS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5)


def run(corpus: str, folds: int, k: int) -> dict:
    from crftag import train
    from crftag.evaluation.scores import evaluate

    sents = pooled(corpus)
    assign = fold_of(len(sents), folds)
    fit = [s for s, a in zip(sents, assign, strict=True) if a != k]
    held = [s for s, a in zip(sents, assign, strict=True) if a == k]
    tagger = train(fit, dev=held)
    X = tagger.featurize([s.tokens for s in held])
    o = tagger.model.labels.index("O")
    base = float(tagger.model.bias[o])
    out = {}
    for delta in DELTAS:
        tagger.model.bias[o] = base - delta  # the plain path reads the bias from this array
        report = evaluate([s.tags for s in held], tagger.model.predict_batch(X)).overall
        out[str(delta)] = {m: report[m] for m in ("precision", "recall", "f1")}
    return {"corpus": corpus, "fold": k, "scores": out}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpora", default=",".join(TWEET_CORPORA))
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", default="bench/results")
    args = ap.parse_args()
    corpora = args.corpora.split(",")
    rows = Parallel(n_jobs=args.jobs)(delayed(run)(c, args.folds, k)
                                      for c in corpora for k in range(args.folds))
    f1 = {(r["corpus"], r["fold"], d): v["f1"] for r in rows for d, v in r["scores"].items()}
    for delta in map(str, DELTAS):
        cells, gains, ses = [], [], []
        for c in corpora:
            diff = [f1[(c, k, delta)] - f1[(c, k, "0.0")] for k in range(args.folds)]
            gain, se = statistics.fmean(diff), statistics.stdev(diff) / math.sqrt(len(diff))
            gains.append(gain)
            ses.append(se)
            cells.append(f"{c} {statistics.fmean(f1[(c, k, delta)] for k in range(args.folds)):.2f} "
                         f"({gain:+.2f} ± {se:.2f})")
        total_se = math.sqrt(sum(s * s for s in ses)) / len(ses)
        print(f"delta {delta}: mean gain {statistics.fmean(gains):+.2f} ± {total_se:.2f} | "
              + "; ".join(cells))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "entity_bias.json").write_text(json.dumps({"folds": args.folds, "cores": os.cpu_count(),
                                                      "rows": rows}, indent=1))
    print(f"saved {out / 'entity_bias.json'}")


if __name__ == "__main__":
    main()
