"""The compiled atomiser of two checkouts, timed in paired alternation (new token types: unseen text).

    python bench/atomize_compare.py --compare DIR [--groups casing,chars] [--calls 60] [--out bench/results]

One worker process per checkout (this one and the crftag in ``DIR``, for example
``git worktree add DIR REV``), each with a numba cache folder of its own, builds the default
feature set (or only ``--groups`` of it) and holds the distinct token types of WNUT16, BTC and
Twitter-2015 train (about 46,000). The parent then asks the two in turn, ``--calls`` times each,
alternating which goes first, to atomise every type once: each call computes atoms from the code
points, as for text the process has not seen. A shared 2-core machine moves single timings by
half; two workers that take turns see the same load, so the ratio of each pair is steadier than
either figure. Prints min and median per checkout and the median paired ratio; saves
bench/results/atomize_compare.json. The first call of each worker compiles (on an empty
folder) and is not timed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

WORKER = """
import sys, time
from crftag.features.atomize import TokenTypes, atomize
from crftag.features.featureset import FeatureSet, load_feature_set
from crftag.features.featurize import Featurizer
from crftag.features.lexicon import build_lexicon
from crftag.resources.corpora import get_corpus
from crftag.text.chartable import code_points

spec = load_feature_set("twitter").to_dict()
groups = sys.argv[1].split(",") if sys.argv[1] else list(spec["groups"])
spec["groups"] = {k: v for k, v in spec["groups"].items() if k in groups}
fs = FeatureSet.from_dict(spec, source="atomize_compare")
f = Featurizer(fs, build_lexicon(fs))
types = sorted({t for c in ("wnut16", "btc", "twitter2015")
                for s in get_corpus(c).read("train") for t in s.tokens})
cps, ptr = code_points(types)
low, low_ptr = code_points([t.lower() for t in types])
f.chars.ensure(cps)
chars = f.chars.ensure(low)
batch = TokenTypes(cps, ptr, low, low_ptr)
t0 = time.perf_counter()
atomize(batch, f.tables, chars, f.window.conj_group)
print(len(types), time.perf_counter() - t0, flush=True)
for _ in sys.stdin:
    t0 = time.perf_counter()
    atomize(batch, f.tables, chars, f.window.conj_group)
    print(time.perf_counter() - t0, flush=True)
"""


def start(tree: Path, groups: str, cache: Path) -> tuple[subprocess.Popen, int, float]:
    env = dict(os.environ, PYTHONPATH=str(tree), NUMBA_CACHE_DIR=str(cache))
    proc = subprocess.Popen([sys.executable, "-c", WORKER, groups], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, env=env, cwd=tree)
    line = proc.stdout.readline().split()
    if len(line) != 2:
        raise SystemExit(f"the worker for {tree} failed (exit {proc.wait()})")
    return proc, int(line[0]), float(line[1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--compare", required=True, type=Path, help="Another checkout of crftag.")
    ap.add_argument("--groups", default="", help="Only these groups of the default feature set.")
    ap.add_argument("--calls", type=int, default=60)
    ap.add_argument("--cache", type=Path, default=Path("/tmp/crftag-atomize-compare"),
                    help="Numba cache folders go under it, one per checkout.")
    ap.add_argument("--out", default="bench/results")
    args = ap.parse_args()
    trees = {"this": Path(__file__).resolve().parent.parent, "other": args.compare.resolve()}
    workers = {name: start(tree, args.groups, args.cache / name) for name, tree in trees.items()}
    seconds: dict[str, list[float]] = {name: [] for name in trees}
    for i in range(args.calls):
        for name in (list(trees) if i % 2 == 0 else list(trees)[::-1]):
            proc = workers[name][0]
            proc.stdin.write("go\n")
            proc.stdin.flush()
            seconds[name].append(float(proc.stdout.readline()))
    for proc, _, _ in workers.values():
        proc.stdin.close()
        proc.wait()
    ratios = [a / b for a, b in zip(seconds["this"], seconds["other"], strict=True)]
    n_types = workers["this"][1]
    print(f"atomize, {n_types:,} token types a call, {args.calls} calls each, alternating; "
          f"groups: {args.groups or 'all of the default set'}")
    for name, tree in trees.items():
        v = seconds[name]
        print(f"  {name} ({tree}): min {min(v) * 1e3:.1f} ms, median {statistics.median(v) * 1e3:.1f} ms "
              f"(first call, compiling or loading: {workers[name][2]:.1f} s)")
    print(f"  this / other: paired median {statistics.median(ratios):.3f}; "
          f"of the minimums {min(seconds['this']) / min(seconds['other']):.3f}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "atomize_compare.json").write_text(json.dumps({
        "trees": {k: str(v) for k, v in trees.items()}, "groups": args.groups, "types": n_types,
        "seconds": seconds, "paired_ratio_median": statistics.median(ratios),
        "first_call_s": {k: w[2] for k, w in workers.items()}, "cores": os.cpu_count(),
        "when": time.strftime("%Y-%m-%d %H:%M:%S")}, indent=1))
    print(f"saved {out / 'atomize_compare.json'}")


if __name__ == "__main__":
    main()
