"""Tagging a tweet stream or archive: one process and Spark, on tweets that bring new words.

    python bench/spark_tag.py [--tweets 1000000] [--single 200000] [--out bench/results]

A stream brings new token types in almost every tweet, and every new type is featurised
(:mod:`crftag.features.atomize`) before its scores are cached; a type met before costs a lookup.
So the figures are measured on two synthetic streams of the same length, both built from
WNUT16 dev tweets, in the same run:

* **novel** (the one to size from): tweets as the soak of ``bench/tag_speed.py`` sends them, a
  third of each tweet's tokens replaced by strings never seen before (new @users, #hashtags,
  URLs, numbers, misspelt words) and one more never-seen token each;
* **recombined** (what this script measured before): the first half of one dev tweet and the
  second half of another; after the first few thousand tweets every type is cached.

For each stream: the share of tokens whose type the process meets for the first time (over
the one-process sample, after warming on WNUT16 train), one process's ``Tagger.tag_batch``
in batches of 1,000 over the first ``--single`` tweets (a fresh tagger, warmed by tagging the
WNUT16 train tweets the same way), and Spark ``local[1]`` and ``local[2]``: read the stream's Parquet, add the
entity column with ``crftag.integrations.spark.tag_dataframe``, write to Spark's ``noop``
sink (everything computed, nothing stored; the clock covers the job, not the session start).
Scaling efficiency = (tweets/s on local[2]) / (2 x tweets/s on local[1]). The model is the
default one, trained here on WNUT16 train. Saves bench/results/spark_tag.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/common.py
from common import novel_texts

STREAMS = ("novel", "recombined")


def recombined_tweets(dev: list[list[str]], n: int, seed: int = 0) -> list[str]:
    """The first half of one dev tweet and the second half of another, ``n`` times."""
    rng = np.random.default_rng(seed)
    a, b = rng.integers(0, len(dev), n), rng.integers(0, len(dev), n)
    return [" ".join(dev[i][:len(dev[i]) // 2] + dev[j][len(dev[j]) // 2:])
            for i, j in zip(a, b, strict=True)]


def new_type_share(texts: list[str], known: set[str]) -> float:
    """The share of (whitespace) tokens whose type is not in ``known`` when met; adds them."""
    new = total = 0
    for text in texts:
        for tok in text.split():
            total += 1
            if tok not in known:
                new += 1
                known.add(tok)
    return new / max(total, 1)


def one_process(model: Path, warm: list[list[str]], texts: list[str]) -> dict:
    """A fresh tagger, warmed on the training tweets through the same calls (so every kernel is
    loaded, or compiled, before the clock starts), tags ``texts`` with ``Tagger.tag_batch``."""
    from crftag import Tagger

    tagger = Tagger.load(model)
    for i in range(0, len(warm), 1000):
        tagger.tag_batch([" ".join(s) for s in warm[i:i + 1000]])
    share = new_type_share(texts, {t for s in warm for t in s})
    t0 = time.perf_counter()
    for i in range(0, len(texts), 1000):
        tagger.tag_batch(texts[i:i + 1000])
    return {"tweets_per_s": len(texts) / (time.perf_counter() - t0), "new_type_share": share}


def spark_runs(model: Path, data: Path, n: int) -> dict:
    from crftag.integrations.spark import session, tag_dataframe

    out = {}
    for cores in (1, 2):
        spark = session(f"local[{cores}]", "crftag-bench")
        spark.conf.set("spark.sql.files.maxPartitionBytes", str(4 * 1024 * 1024))
        df = spark.read.parquet(str(data))
        tag_dataframe(df.limit(1000), model).write.format("noop").mode("overwrite").save()  # warm workers
        t0 = time.perf_counter()
        tag_dataframe(df, model).write.format("noop").mode("overwrite").save()
        elapsed = time.perf_counter() - t0
        out[f"local{cores}_seconds"] = elapsed
        out[f"local{cores}_tweets_per_s"] = n / elapsed
        spark.stop()
    out["scaling_efficiency"] = out["local2_tweets_per_s"] / (2 * out["local1_tweets_per_s"])
    return out


def write_parquet(texts: list[str], folder: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir()
    for k, part in enumerate(np.array_split(np.arange(len(texts)), 16)):
        table = pa.table({"id": pa.array(part, pa.int64()), "text": [texts[i] for i in part]})
        pq.write_table(table, folder / f"part-{k:02d}.parquet")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tweets", type=int, default=1_000_000, help="Tweets in each stream.")
    ap.add_argument("--single", type=int, default=200_000,
                    help="Tweets of each stream tagged by one process.")
    ap.add_argument("--out", default="bench/results")
    args = ap.parse_args()

    from crftag import train
    from crftag.io.readers import read_conll
    from crftag.resources.registry import default_registry

    reg = default_registry()
    work = Path(tempfile.mkdtemp(prefix="crftag-spark-bench-"))
    model = work / "model.crftag"
    train_sents = list(read_conll(reg.fetch("wnut16:train")))
    train(train_sents).save(model)
    warm = [s.tokens for s in train_sents]
    dev = [s.tokens for s in read_conll(reg.fetch("wnut16:dev"))]
    streams = {"novel": list(novel_texts(dev, args.tweets, seed=2)),
               "recombined": recombined_tweets(dev, args.tweets)}
    result: dict = {"tweets": args.tweets, "single": args.single, "cores": os.cpu_count()}
    for name in STREAMS:
        texts = streams[name]
        write_parquet(texts, work / f"{name}.parquet")
        res = {"mean_tokens": float(np.mean([len(t.split()) for t in texts[:100_000]]))}
        res.update(one_process(model, warm, texts[:args.single]))
        print(f"{name}: one process done ({res['tweets_per_s']:,.0f} tweets/s); Spark ...", flush=True)
        res.update(spark_runs(model, work / f"{name}.parquet", len(texts)))
        result[name] = res

    print(f"{args.tweets:,} synthetic tweets per stream, {result['cores']} cores; one process: "
          f"Tagger.tag_batch on the first {args.single:,}")
    print("| stream | tokens/tweet | tokens of a type met first | one process | Spark local[1] | "
          "Spark local[2] | scaling |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name in STREAMS:
        r = result[name]
        print(f"| {name} | {r['mean_tokens']:.1f} | {100 * r['new_type_share']:.1f}% | "
              f"{r['tweets_per_s']:,.0f}/s | "
              f"{r['local1_tweets_per_s']:,.0f}/s ({r['local1_seconds']:.1f} s) | "
              f"{r['local2_tweets_per_s']:,.0f}/s ({r['local2_seconds']:.1f} s) | "
              f"{100 * r['scaling_efficiency']:.0f}% |")
    novel, cached = result["novel"], result["recombined"]
    print(f"novel / recombined: one process {novel['tweets_per_s'] / cached['tweets_per_s']:.2f}x, "
          f"Spark local[1] {novel['local1_tweets_per_s'] / cached['local1_tweets_per_s']:.2f}x, "
          f"local[2] {novel['local2_tweets_per_s'] / cached['local2_tweets_per_s']:.2f}x")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "spark_tag.json").write_text(json.dumps(result, indent=2))
    print(f"saved {out / 'spark_tag.json'}")


if __name__ == "__main__":
    main()
