"""Grid over the CRF's L1/L2 penalties and L-BFGS iterations, on WNUT16 train, scored on dev.

    python bench/crf_grid.py [--c1 0.02,0.05,0.1] [--c2 0.02,0.05,0.1] [--iterations 40,60,100] [--jobs 2]

Prints a table sorted by dev F1 and saves bench/results/crf_grid.json. The
CRF backend's default (c1, c2) is the best cell of this grid.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from joblib import Parallel, delayed

from crftag import train


def _score(c1: float, c2: float, iterations: int, features: str) -> dict:
    tagger = train("wnut16:train", dev="wnut16:dev", features=features, c1=c1, c2=c2,
                   max_iterations=iterations)
    return {"c1": c1, "c2": c2, "max_iterations": iterations,
            "dev_f1": tagger.meta["dev_scores"]["overall"]["f1"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--c1", default="0.02,0.05,0.1")
    ap.add_argument("--c2", default="0.02,0.05,0.1")
    ap.add_argument("--iterations", default="40,60,100")
    ap.add_argument("--features", default="twitter")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", default="bench/results")
    args = ap.parse_args()
    cells = [(float(a), float(b), int(n)) for a in args.c1.split(",") for b in args.c2.split(",")
             for n in args.iterations.split(",")]
    rows = Parallel(n_jobs=args.jobs)(delayed(_score)(a, b, n, args.features) for a, b, n in cells)
    rows.sort(key=lambda r: -r["dev_f1"])
    print("| c1 | c2 | iterations | dev F1 |\n|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['c1']:g} | {r['c2']:g} | {r['max_iterations']} | {r['dev_f1']:.2f} |")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "crf_grid.json").write_text(json.dumps({"features": args.features, "grid": rows}, indent=2))
    print(f"saved {out / 'crf_grid.json'}")


if __name__ == "__main__":
    main()
