"""Train each backend on WNUT16 train, score on dev; print a table and save JSON.

Reproduces the README's results table:

    python bench/dev_scores.py [--backends crf,sgd] [--features twitter] [--out bench/results]

Data comes through the resource registry (set CRFTAG_MIRROR for an offline mirror).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

from crftag import __version__, train


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backends", default="crf,sgd")
    ap.add_argument("--features", default="twitter")
    ap.add_argument("--train", default="wnut16:train")
    ap.add_argument("--dev", default="wnut16:dev")
    ap.add_argument("--out", default="bench/results")
    args = ap.parse_args()

    rows = []
    for backend in args.backends.split(","):
        t0 = time.perf_counter()
        tagger = train(args.train, dev=args.dev, backend=backend, features=args.features)
        seconds = time.perf_counter() - t0
        scores = tagger.meta["dev_scores"]
        rows.append({"backend": backend, "features": args.features, "train_seconds": round(seconds, 1),
                     "dev": scores["overall"], "dev_per_type": scores["per_type"],
                     "dev_notypes": scores["notypes"], "params": tagger.meta["backend_params"],
                     "fit_info": tagger.meta["fit_info"]})

    print("| backend | features | dev P | dev R | dev F1 | no-types F1 | train s |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for r in rows:
        d = r["dev"]
        print(f"| {r['backend']} | {r['features']} | {d['precision']:.2f} | {d['recall']:.2f} | "
              f"{d['f1']:.2f} | {r['dev_notypes']['f1']:.2f} | {r['train_seconds']} |")

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    record = {"crftag_version": __version__, "cores": os.cpu_count(), "python": platform.python_version(),
              "train": args.train, "dev": args.dev, "results": rows}
    path = out / f"dev_scores-{args.features}.json"
    path.write_text(json.dumps(record, indent=2) + "\n")
    print(f"saved {path}")


if __name__ == "__main__":
    main()
