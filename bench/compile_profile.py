"""What a fresh install compiles before its first tweet, kernel by kernel.

    python bench/compile_profile.py [--out bench/results]

A new machine has an empty numba cache. This trains a small model (in this process), then
starts a child with ``NUMBA_CACHE_DIR`` pointing at an empty folder, which loads the model and
makes the calls a user makes first: tag one ASCII tweet, one non-ASCII tweet, a batch with
confidences, and labels only. numba's compile events are recorded per dispatcher and type
signature; the child reports the seconds of each step and, per kernel, how many
specialisations were compiled, their time including the kernels compiled inside them
(``inclusive``) and without (``own``). Prints the slowest kernels and saves
bench/results/compile_profile.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, sys, time
from collections import defaultdict
t0 = time.perf_counter()
from numba.core import event
steps, spans, stack = {}, [], []
sigs = defaultdict(list)

class Listener(event.Listener):
    def on_start(self, ev):
        f = getattr(ev.data["dispatcher"], "py_func", None)
        name = f"{f.__module__}.{f.__name__}" if f is not None else repr(ev.data["dispatcher"])
        stack.append((name, time.perf_counter(), 0.0))
        sigs[name].append(", ".join(map(str, ev.data["args"])))
    def on_end(self, ev):
        name, start, inner = stack.pop()
        total = time.perf_counter() - start
        spans.append((name, total, total - inner))
        if stack:
            n, s, i = stack[-1]
            stack[-1] = (n, s, i + total)

event.register("numba:compile", Listener())
from crftag import Tagger
steps["import"] = time.perf_counter() - t0

def step(name, fn):
    t = time.perf_counter()
    fn()
    steps[name] = time.perf_counter() - t

step("load", lambda: globals().__setitem__("tagger", Tagger.load(sys.argv[1])))
step("tag one ASCII tweet", lambda: tagger.tag("Tim Cook in London"))
step("tag one non-ASCII tweet", lambda: tagger.tag("Zoë à Paris ❤ #München"))
step("tag_batch with confidences", lambda: tagger.tag_batch(["a b c", "New York Knicks"], 0.5))
step("labels only", lambda: tagger.tag_tokens_batch([["Barack", "Obama"], ["x"]]))

import os, tempfile
from click.testing import CliRunner
from crftag.cli.app import cli
work = tempfile.mkdtemp()
tweets = os.path.join(work, "tweets.txt")
with open(tweets, "w", encoding="utf-8") as fh:
    fh.write("Tim Cook in London\nZoë à Paris ❤ #München\n")

def command(*args):
    result = CliRunner().invoke(cli, [*args, "-m", sys.argv[1], tweets, "-o", os.path.join(work, "out")])
    if result.exit_code:
        raise SystemExit(f"crftag {' '.join(args)}: {result.output}")

step("crftag tag (bulk engine, CoNLL)", lambda: command("tag", "-j", "1"))
step("crftag tag --output-format jsonl", lambda: command("tag", "--output-format", "jsonl"))
step("crftag tag text, --min-confidence", lambda: command("tag", "-j", "1", "--output-format", "text",
                                                           "--min-confidence", "0.5"))
kernels = defaultdict(lambda: {"specialisations": 0, "inclusive_s": 0.0, "own_s": 0.0})
for name, total, own in spans:
    k = kernels[name]
    k["specialisations"] += 1
    k["own_s"] += own
    k["inclusive_s"] += total
for name, k in kernels.items():
    k["signatures"] = sigs[name]
print(json.dumps({"steps": steps, "kernels": kernels, "compiles": len(spans)}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="bench/results")
    ap.add_argument("--features", default="twitter",
                    help="Feature set of the model trained on tests/fixtures/tiny.conll (default: the "
                         "default set, which needs the registry's clusters and lexicons).")
    ap.add_argument("--model", help="Profile this model file instead.")
    args = ap.parse_args()

    from crftag import train
    from crftag.io.readers import read_conll

    tmp = Path(tempfile.mkdtemp(prefix="crftag-compile-"))
    model = Path(args.model) if args.model else tmp / "tiny.crftag"
    if not args.model:
        train(list(read_conll(ROOT / "tests/fixtures/tiny.conll")), features=args.features,
              max_iterations=20).save(model)
    cache = tmp / "numba-cache"
    cache.mkdir()
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", CHILD, str(model)], capture_output=True, text=True,
                          env={**os.environ, "NUMBA_CACHE_DIR": str(cache), "PYTHONPATH": str(ROOT)})
    wall = time.perf_counter() - t0
    if proc.returncode:
        raise SystemExit(f"the child failed (status {proc.returncode}):\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["child_wall_s"] = wall
    print(f"empty numba cache, a new process ({wall:.1f} s in all; {result['compiles']} compilations):")
    for name, seconds in result["steps"].items():
        print(f"  {name:<28} {seconds:7.2f} s")
    by_own = sorted(result["kernels"].items(), key=lambda kv: -kv[1]["own_s"])
    print("kernels by own compile time (s; specialisations):")
    for name, k in by_own[:15]:
        print(f"  {k['own_s']:7.2f}  {k['specialisations']:2d}  {name}")
    total_own = sum(k["own_s"] for k in result["kernels"].values())
    print(f"  {total_own:7.2f}  all {len(result['kernels'])} kernels")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "compile_profile.json").write_text(json.dumps({"cores": os.cpu_count(), **result}, indent=1))
    print(f"saved {out / 'compile_profile.json'}")


if __name__ == "__main__":
    main()
