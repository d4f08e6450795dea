"""Tagging speed on text the tagger has not seen, and on text it has (cached).

    python bench/tag_speed.py [--calls 10000] [--soak 1000000] [--file-tokens 1000000]
                              [--skip soak,files,startup] [--out bench/results]

Every figure says whether the text was **unseen** (the process never tagged it:
most tweets bring token types the per-type score cache has not met) or
**seen** (tagged again: every type cached), and every throughput comes with
the sklearn-crfsuite pipeline measured in the same run on the same tweets
(plain-Python dict features and ``CRF.predict``, a CRF trained identically on
the same features; it caches nothing, so it runs the same on both).

* Throughput, ``Tagger.tag_tokens_batch`` (featurisation included), model
  trained on WNUT16 train: a fresh tagger warmed on the train tweets, then the
  first pass over WNUT16 dev (unseen) and a second pass (seen); on one core and
  with a thread per core (the kernels release the GIL) over all unseen corpora
  (WNUT16 dev, WNUT17 dev, BTC); and a synthetic stream where a third of the
  tokens are novel strings.
* Latency of ``Tagger.tag(text)`` on --calls unseen texts, then the same texts seen; once
  as is, once after ``gc.freeze()`` (what a service does after loading its model).
* Soak: --soak mostly novel tweets (a third of their tokens never seen, and one
  more each) through ``Tagger.tag``: throughput, p99 and the slowest call per 100k
  calls, resident memory; plotted to soak.png.
* Files: ``crftag tag`` file to file (start-up included) on --file-tokens tokens
  of text and of CoNLL, with one and two workers; the outputs are compared byte
  for byte.
* Start-up: ``crftag --help``, ``import crftag``, ``crftag tag`` on one tweet.
"""

from __future__ import annotations

import argparse
import gc
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

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/common.py
from common import first_tokens, novel_texts, novel_tweets, rss_mb

ROOT = Path(__file__).resolve().parent.parent


def timed(fn, *args) -> float:
    t0 = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t0


def batches(sents: list, size: int = 256) -> list:
    return [sents[i:i + size] for i in range(0, len(sents), size)]


def cli(*args: str, stdin: str | None = None) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "crftag", *args], input=stdin, capture_output=True, text=True,
                   check=True, cwd=ROOT)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--features", default="twitter")
    ap.add_argument("--calls", type=int, default=10_000)
    ap.add_argument("--soak", type=int, default=1_000_000)
    ap.add_argument("--file-tokens", type=int, default=1_000_000)
    ap.add_argument("--baseline-tokens", type=int, default=20_000)
    ap.add_argument("--repeats", type=int, default=5, help="Fresh taggers per unseen throughput figure.")
    ap.add_argument("--skip", default="", help="Comma-separated sections to skip: soak, files, startup.")
    ap.add_argument("--out", default="bench/results")
    args = ap.parse_args()
    skip = set(filter(None, args.skip.split(",")))

    import sklearn_crfsuite

    from crftag import Tagger, train
    from crftag.features.featurize import ReferenceFeaturizer
    from crftag.io.readers import read_conll
    from crftag.progress import progress_bar
    from crftag.resources.registry import default_registry

    reg = default_registry()
    corpus = {name: [s.tokens for s in read_conll(reg.fetch(name), labelled=False)]
              for name in ("wnut16:train", "wnut16:dev", "wnut17:dev", "btc:h")}
    train_sents = list(read_conll(reg.fetch("wnut16:train")))
    warm, dev = corpus["wnut16:train"], corpus["wnut16:dev"]
    unseen_all = corpus["wnut16:dev"] + corpus["wnut17:dev"] + corpus["btc:h"]
    tmp = Path(tempfile.mkdtemp(prefix="crftag-bench-"))
    model_path = tmp / "model.crftag"
    print(f"training the {args.features} CRF on WNUT16 train ...", flush=True)
    train(train_sents, features=args.features).save(model_path)
    result: dict = {"cores": os.cpu_count(), "features": args.features,
                    "model_bytes": model_path.stat().st_size}
    load_s = [timed(Tagger.load, model_path) for _ in range(3)]
    result["load_s"] = statistics.median(load_s)

    def fresh() -> Tagger:
        """A tagger that has tagged the train tweets (in batches, and the first few one by one:
        every kernel loaded), and nothing else."""
        tagger = Tagger.load(model_path)
        for b in batches(warm):
            tagger.tag_tokens_batch(b)
        for s in warm[:200]:
            tagger.tag(" ".join(s))
        return tagger

    def throughput(sents: list, tagger: Tagger, threads: int = 1) -> float:
        n = sum(map(len, sents))
        if threads == 1:
            return n / timed(lambda: [tagger.tag_tokens_batch(b) for b in batches(sents)])
        with ThreadPoolExecutor(threads) as pool:
            return n / timed(lambda: list(pool.map(tagger.tag_tokens_batch, batches(sents))))

    # -- throughput: unseen, then seen -----------------------------------------------------------
    n_dev = sum(map(len, dev))
    unseen, seen, novelty = [], [], []
    for _ in range(args.repeats):
        tagger = fresh()
        known = set(tagger.type_cache._young.slots) | set(tagger.type_cache._old.slots)
        new_types, occurrences = set(), 0
        for s in dev:
            for t in s:
                if t not in known:
                    occurrences += 1
                    known.add(t)
                    new_types.add(t)
        novelty.append(occurrences / n_dev)
        unseen.append(throughput(dev, tagger))
        seen.append(throughput(dev, tagger))
    cores = os.cpu_count() or 1
    unseen_cores = statistics.median(throughput(unseen_all, fresh(), cores) for _ in range(3))
    unseen_one_all = statistics.median(throughput(unseen_all, fresh(), 1) for _ in range(3))
    synthetic = list(novel_tweets(dev, 4 * len(dev), seed=1))
    synthetic_tps = statistics.median(throughput(synthetic, fresh()) for _ in range(3))

    # the straightforward pipeline, on the first baseline-tokens of dev
    params = tagger.meta["backend_params"]
    ref = ReferenceFeaturizer(tagger.feature_set, tagger.lexicon)
    crf = sklearn_crfsuite.CRF(algorithm="lbfgs", c1=params["c1"], c2=params["c2"],
                               max_iterations=params["max_iterations"],
                               all_possible_transitions=params["all_possible_transitions"])
    print("training the sklearn-crfsuite baseline on the same features ...", flush=True)
    crf.fit([ref.featurize(s.tokens, with_keys=False) for s in train_sents], [s.tags for s in train_sents])
    sample, count = first_tokens(dev, args.baseline_tokens)
    base_pred: list = []
    base_tps = count / timed(lambda: base_pred.extend(crf.predict([ref.featurize(s, with_keys=False)
                                                                   for s in sample])))
    ours = [t for s in fresh().tag_tokens_batch(sample) for t in s]
    agreement = float(np.mean([a == b for a, b in zip(ours, [t for s in base_pred for t in s], strict=True)]))
    result["throughput"] = {
        "baseline_tokens_per_s": base_tps, "baseline_label_agreement": agreement,
        "unseen_dev_one_core": statistics.median(unseen), "unseen_dev_runs": unseen,
        "dev_tokens_of_new_types": statistics.median(novelty),
        "seen_dev_one_core": statistics.median(seen),
        "unseen_all_corpora_one_core": unseen_one_all, "unseen_all_corpora_all_cores": unseen_cores,
        "unseen_all_corpora_tokens": sum(map(len, unseen_all)),
        "synthetic_novel_one_core": synthetic_tps,
    }
    th = result["throughput"]
    print(f"throughput, tokens/s (Tagger.tag_tokens_batch; {cores} cores):")
    print(f"  sklearn-crfsuite pipeline, dict features: {base_tps:>12,.0f}   "
          f"(labels agree with crftag on {100 * agreement:.2f}%)")
    print(f"  unseen, WNUT16 dev first pass, one core:  {th['unseen_dev_one_core']:>12,.0f}   "
          f"({th['unseen_dev_one_core'] / base_tps:.1f}x; {100 * th['dev_tokens_of_new_types']:.1f}% of "
          f"tokens of types new to the cache; median of {args.repeats})")
    print(f"  seen (cached), WNUT16 dev again:          {th['seen_dev_one_core']:>12,.0f}   "
          f"({th['seen_dev_one_core'] / base_tps:.1f}x)")
    print(f"  unseen, WNUT16+WNUT17 dev+BTC H ({th['unseen_all_corpora_tokens']:,} tokens), one core: "
          f"{unseen_one_all:>10,.0f}   ({unseen_one_all / base_tps:.1f}x)")
    print(f"  unseen, same, {cores} threads:  {unseen_cores:>30,.0f}   ({unseen_cores / base_tps:.1f}x)")
    print(f"  synthetic stream, a third of tokens novel, one core: {synthetic_tps:>9,.0f}   "
          f"({synthetic_tps / base_tps:.1f}x)")

    # -- latency ------------------------------------------------------------------------------------
    texts = [" ".join(s) for s in unseen_all]
    texts = (texts * -(-args.calls // len(texts)))[:args.calls]
    lat = {}
    # A service loads its model, then gc.freeze()s what start-up made: the collector then never
    # walks it again (this process holds millions of objects of corpora). Both are measured.
    for frozen in (False, True):
        tagger = fresh()
        if frozen:
            gc.collect()
            gc.freeze()
        for label in ("unseen", "seen"):
            times = np.empty(len(texts))
            for i, text in enumerate(texts):
                t0 = time.perf_counter_ns()
                tagger.tag(text)
                times[i] = time.perf_counter_ns() - t0
            key = f"{label}{', gc.freeze()' if frozen else ''}"
            lat[key] = {q: float(np.percentile(times, p)) / 1000
                        for q, p in (("p50", 50), ("p99", 99), ("p99.9", 99.9), ("max", 100))}
            lat[key]["over_2ms"] = int((times > 2e6).sum())
        if frozen:
            gc.unfreeze()
    result["latency_us"] = lat
    result["latency_calls"] = len(texts)
    for label, q in lat.items():
        print(f"latency of Tagger.tag, {len(texts):,} texts, {label}: p50 {q['p50']:.1f} us, "
              f"p99 {q['p99']:.1f} us, p99.9 {q['p99.9']:.1f} us, max {q['max']:.1f} us, "
              f"{q['over_2ms']} calls over 2 ms")

    # -- soak ---------------------------------------------------------------------------------------
    if "soak" not in skip and args.soak:
        result["soak"] = soak(fresh(), unseen_all, args.soak, progress_bar, Path(args.out))

    # -- files ------------------------------------------------------------------------------------
    if "files" not in skip and args.file_tokens:
        result["files"] = files(model_path, unseen_all, args.file_tokens, tmp)

    # -- start-up ---------------------------------------------------------------------------------
    if "startup" not in skip:
        help_s = [cli("--help") for _ in range(6)][1:]
        import_s = []
        for _ in range(6):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", "import crftag"], check=True, cwd=ROOT)
            import_s.append(time.perf_counter() - t0)
        tag_s = [cli("tag", "-m", str(model_path), stdin="Obama visits Paris with @UN tomorrow\n")
                 for _ in range(6)][1:]
        result["startup_s"] = {"help": statistics.median(help_s), "import": statistics.median(import_s[1:]),
                               "tag_one_tweet": statistics.median(tag_s), "load_model": result["load_s"]}
        st = result["startup_s"]
        print(f"start-up (median of 5, new processes): crftag --help {st['help']:.2f} s, import crftag "
              f"{st['import']:.2f} s, crftag tag on one tweet {st['tag_one_tweet']:.2f} s "
              f"(Tagger.load alone {st['load_model']:.2f} s)")

    print(f"model: {result['model_bytes'] / 1e6:.1f} MB on disk, loads in {result['load_s']:.2f} s")
    out = ROOT / args.out
    out.mkdir(parents=True, exist_ok=True)
    (out / "tag_speed.json").write_text(json.dumps(result, indent=2))
    print(f"saved {out / 'tag_speed.json'}")


def soak(tagger, templates: list, calls: int, progress_bar, out: Path) -> dict:
    """Mostly novel tweets through Tagger.tag, made one at a time as a stream brings them: per
    window of 100k calls, tweets/s, p99 and max latency, resident memory. The setup's objects
    are gc.freeze()d first, as a service does after start-up."""
    window = 100_000
    rows = []
    times = np.empty(min(window, calls))
    gc.collect()
    gc.freeze()
    t_window = time.perf_counter()
    with progress_bar(calls, "soak") as bar:
        for i, text in enumerate(novel_texts(templates, calls, seed=2)):
            t0 = time.perf_counter_ns()
            tagger.tag(text)
            times[i % window] = time.perf_counter_ns() - t0
            if (i + 1) % window == 0 or i + 1 == calls:
                n = (i % window) + 1
                now = time.perf_counter()
                rows.append({"calls": i + 1, "tweets_per_s": n / (now - t_window),
                             "p99_us": float(np.percentile(times[:n], 99)) / 1000,
                             "max_us": float(times[:n].max()) / 1000, "rss_mb": round(rss_mb(), 1),
                             "cache_generations": tagger.type_cache.generations})
                t_window = now
                bar.update(n)
    gc.unfreeze()
    print(f"soak: {calls:,} mostly novel tweets through Tagger.tag (tweets/s, p99 us, max us, RSS MB "
          f"per {window:,} calls):")
    for r in rows:
        print(f"  {r['calls']:>9,}: {r['tweets_per_s']:>8,.0f}/s  p99 {r['p99_us']:6.1f}  "
              f"max {r['max_us']:8.1f}  RSS {r['rss_mb']:7.1f}  cache generations {r['cache_generations']}")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(3, 1, figsize=(7, 7), sharex=True)
        x = [r["calls"] for r in rows]
        for ax, key, label in zip(axes, ("tweets_per_s", "max_us", "rss_mb"),
                                  ("tweets/s", "slowest call (us)", "RSS (MB)"), strict=True):
            ax.plot(x, [r[key] for r in rows], marker="o")
            ax.set_ylabel(label)
            ax.set_ylim(bottom=0)
        axes[-1].set_xlabel("calls of Tagger.tag on mostly novel tweets")
        fig.suptitle("soak: throughput, slowest call and memory per 100k calls")
        fig.tight_layout()
        out.mkdir(parents=True, exist_ok=True)
        fig.savefig(out / "soak.png", dpi=100)
        print(f"wrote {out / 'soak.png'}")
    except ImportError:
        print("(matplotlib not installed: no soak.png)")
    return {"window": window, "rows": rows}


def files(model_path: Path, templates: list, n_tokens: int, tmp: Path) -> dict:
    """``crftag tag`` file to file, start-up included, with one and two workers."""
    sents, n = [], 0
    copies = -(-n_tokens // sum(map(len, templates))) + 1
    for s in novel_tweets(templates, copies * len(templates), seed=4, share=0.1):
        if n >= n_tokens:
            break
        sents.append(s)
        n += len(s)
    (tmp / "in.text").write_text("".join(" ".join(s) + "\n" for s in sents), encoding="utf-8")
    (tmp / "in.conll").write_text("".join("".join(f"{t}\tO\n" for t in s) + "\n" for s in sents),
                                  encoding="utf-8")
    res = {"tokens": n}
    print(f"crftag tag, file to file, {n:,} tokens (a tenth of them novel strings), start-up included:")
    for fmt, out_fmt in (("text", "text"), ("conll", "conll")):
        outputs = {}
        for workers in (1, 2):
            out = tmp / f"out-{fmt}-{workers}"
            command = ("tag", "-m", str(model_path), str(tmp / f"in.{fmt}"), "--input-format", fmt,
                       "--output-format", out_fmt, "-j", str(workers), "-o", str(out))
            secs = statistics.median(cli(*command) for _ in range(3))
            outputs[workers] = out.read_bytes()
            res[f"{fmt}_workers_{workers}_tokens_per_s"] = n / secs
            print(f"  {fmt} -> {out_fmt}, {workers} worker{'s' if workers > 1 else ''}: "
                  f"{n / secs:>10,.0f} tokens/s ({secs:.2f} s)")
        res[f"{fmt}_identical"] = outputs[1] == outputs[2]
        print(f"  {fmt}: output with 2 workers identical to 1 worker: {res[f'{fmt}_identical']}")
    return res


if __name__ == "__main__":
    main()
