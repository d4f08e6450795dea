"""Feature ablations: train on WNUT16 train, score entity F1 on dev, one row per variant.

    python bench/ablation.py [--variants all|NAME,NAME] [--jobs 2] [--out bench/results]

Variants start from the shipped feature sets and add one resource group at a
time, so each row says what that group is worth. Prints a markdown table (dev
P/R/F1 overall and per type, train seconds, model size) and saves
bench/results/ablation.json.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import tempfile
import time
from pathlib import Path

from joblib import Parallel, delayed

from crftag import Tagger, train
from crftag.featureset import FeatureSet, load_feature_set

TYPES = ["company", "facility", "geo-loc", "movie", "musicartist", "other", "person", "product",
         "sportsteam", "tvshow"]


def variants() -> dict[str, tuple[dict, dict]]:
    """name -> (feature set dict, backend params)."""
    full = load_feature_set("twitter-all").to_dict()
    surface = load_feature_set("surface").to_dict()
    default = load_feature_set("twitter").to_dict()

    def surface_plus(*names: str) -> dict:
        d = copy.deepcopy(surface)
        for n in names:
            d["groups"][n] = copy.deepcopy(default["groups"][n])
        return d

    def default_plus(*names: str, bigrams: bool = False) -> dict:
        d = copy.deepcopy(default)
        for n in names:
            d["groups"][n] = copy.deepcopy(full["groups"][n])
        d["conjunctions"] = copy.deepcopy(full["conjunctions"]) if bigrams else []
        return d

    return {
        "minimal (notebook-style)": (load_feature_set("minimal").to_dict(), {}),
        "surface": (surface, {}),
        "surface + Brown (ARK)": (surface_plus("brown"), {}),
        "surface + gazetteers": (surface_plus("gazetteer"), {}),
        "twitter = surface + Brown + gazetteers": (default, {}),
        "twitter + Clark": (default_plus("clark"), {}),
        "twitter + Brown (WNUT+Hege)": (default_plus("brown_wnut"), {}),
        "twitter + word bigrams": (default_plus(bigrams=True), {}),
        "twitter-all (everything)": (full, {}),
        "twitter, 200 L-BFGS iterations": (default, {"max_iterations": 200}),
    }


def run(name: str, fs: dict, params: dict) -> dict:
    t0 = time.perf_counter()
    tagger = train("wnut16:train", dev="wnut16:dev", features=FeatureSet.from_dict(fs, name), **params)
    seconds = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.crftag"
        tagger.save(path)
        size = path.stat().st_size
        t1 = time.perf_counter()
        Tagger.load(path)
        load = time.perf_counter() - t1
    d = tagger.meta["dev_scores"]
    return {"variant": name, "params": params, "dev": d["overall"], "per_type": d["per_type"],
            "train_seconds": round(seconds, 1), "model_bytes": size, "load_seconds": round(load, 3),
            "features": len(tagger.model.feature_keys)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variants", default="all")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", default="bench/results")
    args = ap.parse_args()
    table = variants()
    names = list(table) if args.variants == "all" else args.variants.split(",")
    rows = Parallel(n_jobs=args.jobs)(delayed(run)(n, *table[n]) for n in names)
    print("| variant | dev P | dev R | dev F1 | " + " | ".join(TYPES) + " | train s | model MB | load s |")
    print("|---|---:|---:|---:|" + "---:|" * len(TYPES) + "---:|---:|---:|")
    for r in rows:
        d = r["dev"]
        per = " | ".join(f"{r['per_type'].get(t, {}).get('f1', 0.0):.1f}" for t in TYPES)
        print(f"| {r['variant']} | {d['precision']:.2f} | {d['recall']:.2f} | **{d['f1']:.2f}** | {per} | "
              f"{r['train_seconds']} | {r['model_bytes'] / 1e6:.1f} | {r['load_seconds']} |")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "ablation.json").write_text(json.dumps({"cores": os.cpu_count(), "rows": rows}, indent=2))
    print(f"saved {out / 'ablation.json'}")


if __name__ == "__main__":
    main()
