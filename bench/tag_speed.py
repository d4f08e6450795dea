"""Tagging speed: throughput, latency, cold start and memory of the compiled tagger.

    python bench/tag_speed.py [--tokens 1000000] [--calls 10000] [--soak 1000000] [--out bench/results]

* Throughput, tokens in -> labels out (featurisation included), on WNUT16 dev
  repeated to --tokens tokens, through ``Tagger.tag_tokens_batch``: crftag on
  one core and on all cores (a thread per core over batches: the kernels
  release the GIL), against the straightforward sklearn-crfsuite pipeline (plain-Python
  dict features, ``CRF.predict``) on a CRF trained identically on the same
  features (same data, same c1/c2/iterations; the attribute names are strings
  instead of hashed keys), measured in the same run on a slice of the corpus.
* Latency: ``Tagger.tag(text)`` on one tweet (tokenisation, featurisation,
  Viterbi, entity confidences), --calls calls after warm-up: p50/p99/p99.9.
* Cold start: ``crftag tag -m MODEL`` on one tweet in a new process (the numba
  cache is warm after the first run), median of 5.
* Memory: resident size added by importing crftag and by loading the model (in
  a fresh process), and this process's RSS every 100k calls
  over --soak calls of ``Tagger.tag`` (every 10th text carries a never-seen token).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--features", default="twitter")
    ap.add_argument("--tokens", type=int, default=1_000_000)
    ap.add_argument("--baseline-tokens", type=int, default=20_000)
    ap.add_argument("--calls", type=int, default=10_000)
    ap.add_argument("--soak", type=int, default=1_000_000)
    ap.add_argument("--batch", type=int, default=2000)
    ap.add_argument("--out", default="bench/results")
    args = ap.parse_args()

    rss_start = rss_mb()
    import sklearn_crfsuite

    from crftag import Tagger, train
    from crftag.featurize import ReferenceFeaturizer
    from crftag.readers import read_conll
    from crftag.resources import default_registry

    result: dict = {"cores": os.cpu_count(), "features": args.features}
    reg = default_registry()
    train_sents = list(read_conll(reg.fetch("wnut16:train")))
    dev = [s.tokens for s in read_conll(reg.fetch("wnut16:dev"))]
    tmp = Path(tempfile.mkdtemp(prefix="crftag-bench-"))
    model_path = tmp / "model.crftag"
    train(train_sents, features=args.features).save(model_path)

    tagger = Tagger.load(model_path)
    result["model_bytes"] = model_path.stat().st_size
    probe = ("import sys; from bench.tag_speed import rss_mb; base = rss_mb(); import crftag; "
             "imported = rss_mb(); t = crftag.Tagger.load(sys.argv[1]); t.tag('warm up'); "
             "print(imported - base, rss_mb() - imported)")
    lib, model = map(float, subprocess.run([sys.executable, "-c", probe, str(model_path)],
                                           capture_output=True, text=True, check=True,
                                           cwd=Path(__file__).resolve().parent.parent).stdout.split())
    result["rss_import_mb"], result["rss_model_mb"] = lib, model

    corpus = dev * -(-args.tokens // sum(map(len, dev)))
    n_tokens = sum(map(len, corpus))
    batches = [corpus[i:i + args.batch] for i in range(0, len(corpus), args.batch)]

    def run_batch(batch: list[list[str]]) -> list[str]:
        return [t for tags in tagger.tag_tokens_batch(batch) for t in tags]

    run_batch(batches[0])  # warm the token cache and compiled code
    t0 = time.perf_counter()
    ours = [run_batch(b) for b in batches]
    result["one_core_tokens_per_s"] = n_tokens / (time.perf_counter() - t0)
    with ThreadPoolExecutor(max_workers=os.cpu_count()) as pool:
        t0 = time.perf_counter()
        list(pool.map(run_batch, batches))
        result["all_cores_tokens_per_s"] = n_tokens / (time.perf_counter() - t0)

    # The straightforward pipeline: dict features in Python, sklearn-crfsuite's CRF.predict.
    params = tagger.meta["backend_params"]
    ref = ReferenceFeaturizer(tagger.feature_set, tagger.lexicon)
    crf = sklearn_crfsuite.CRF(algorithm="lbfgs", c1=params["c1"], c2=params["c2"],
                               max_iterations=params["max_iterations"],
                               all_possible_transitions=params["all_possible_transitions"])
    crf.fit([ref.featurize(s.tokens, with_keys=False) for s in train_sents],
            [s.tags for s in train_sents])
    sample, count = [], 0
    for s in dev:
        if count >= args.baseline_tokens:
            break
        sample.append(s)
        count += len(s)
    t0 = time.perf_counter()
    base_pred = crf.predict([ref.featurize(s, with_keys=False) for s in sample])
    result["baseline_tokens_per_s"] = count / (time.perf_counter() - t0)
    flat_ours = [t for b in ours for t in b][:count]
    flat_base = [t for s in base_pred for t in s]
    result["baseline_label_agreement"] = float(np.mean([a == b for a, b in zip(flat_ours, flat_base,
                                                                              strict=True)]))
    result["speedup_one_core"] = result["one_core_tokens_per_s"] / result["baseline_tokens_per_s"]
    result["speedup_all_cores"] = result["all_cores_tokens_per_s"] / result["baseline_tokens_per_s"]

    # Latency of one tweet through the public API.
    texts = [" ".join(s) for s in dev]
    for t in texts[:1000]:
        tagger.tag(t)
    times = np.empty(args.calls)
    for i in range(args.calls):
        text = texts[i % len(texts)]
        t0 = time.perf_counter_ns()
        tagger.tag(text)
        times[i] = time.perf_counter_ns() - t0
    result["latency_us"] = {q: float(np.percentile(times, p)) / 1000
                            for q, p in (("p50", 50), ("p99", 99), ("p99.9", 99.9), ("max", 100))}
    result["mean_tweet_tokens"] = n_tokens / len(corpus)

    # Cold start of the command line.
    cold = []
    for _ in range(6):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "crftag", "tag", "-m", str(model_path)],
                       input="Obama visits Paris with @UN tomorrow\n", capture_output=True,
                       text=True, check=True)
        cold.append(time.perf_counter() - t0)
    result["cold_start_s"] = statistics.median(cold[1:])  # the first run may compile

    # Memory over a long run.
    samples = []
    for i in range(args.soak):
        text = texts[i % len(texts)]
        if i % 10 == 0:
            text += f" unseen{i}"
        tagger.tag(text)
        if i % 100_000 == 0:
            samples.append((i, round(rss_mb(), 1)))
    samples.append((args.soak, round(rss_mb(), 1)))
    result["soak_rss_mb"] = samples
    result["rss_start_mb"] = rss_start

    lat = result["latency_us"]
    print(f"model: {result['model_bytes'] / 1e6:.1f} MB on disk; resident: importing crftag "
          f"+{result['rss_import_mb']:.0f} MB, loading the model and tagging once "
          f"+{result['rss_model_mb']:.0f} MB")
    print(f"throughput ({n_tokens:,} tokens, featurisation included):")
    print(f"  sklearn-crfsuite, dict features: {result['baseline_tokens_per_s']:>12,.0f} tokens/s "
          f"(label agreement with crftag {100 * result['baseline_label_agreement']:.2f}%)")
    print(f"  crftag, one core:                {result['one_core_tokens_per_s']:>12,.0f} tokens/s "
          f"({result['speedup_one_core']:.1f}x)")
    print(f"  crftag, {os.cpu_count()} cores:                 {result['all_cores_tokens_per_s']:>12,.0f} "
          f"tokens/s ({result['speedup_all_cores']:.1f}x)")
    print(f"latency of Tagger.tag(tweet), {args.calls} calls, {result['mean_tweet_tokens']:.1f} tokens "
          f"per tweet: p50 {lat['p50']:.1f} us, p99 {lat['p99']:.1f} us, p99.9 {lat['p99.9']:.1f} us, "
          f"max {lat['max']:.1f} us")
    print(f"cold start, crftag tag on one tweet in a new process: {result['cold_start_s']:.2f} s (median)")
    print("RSS (MB) over the soak, calls: " + ", ".join(f"{i:,}: {m}" for i, m in samples))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "tag_speed.json").write_text(json.dumps(result, indent=2))
    print(f"saved {out / 'tag_speed.json'}")


if __name__ == "__main__":
    main()
