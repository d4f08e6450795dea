"""Tagging a tweet archive on Spark: tweets/s on local[1] and local[2], next to one process.

    python bench/spark_tag.py [--tweets 2000000] [--single 200000] [--out bench/results]

Synthetic tweets are WNUT16 dev tweets recombined (the first half of one, the
second half of another), written as Parquet in 16 files. The model is the
default one, trained here on WNUT16 train. Each Spark run reads the Parquet,
adds the entity column with ``crftag.integrations.spark.tag_dataframe`` and writes to
Spark's ``noop`` sink (everything computed, nothing stored); the clock covers
the job, not the session start. The single-process figure is
``Tagger.tag_batch`` on the first --single tweets, in this process, in the
same run. Scaling efficiency = (tweets/s on local[2]) / (2 x tweets/s on local[1]).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np


def synthetic_tweets(dev: list[list[str]], n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    a, b = rng.integers(0, len(dev), n), rng.integers(0, len(dev), n)
    return [" ".join(dev[i][:len(dev[i]) // 2] + dev[j][len(dev[j]) // 2:])
            for i, j in zip(a, b, strict=True)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tweets", type=int, default=2_000_000)
    ap.add_argument("--single", type=int, default=200_000)
    ap.add_argument("--out", default="bench/results")
    args = ap.parse_args()

    import pyarrow as pa
    import pyarrow.parquet as pq

    from crftag import Tagger, train
    from crftag.integrations.spark import session, tag_dataframe
    from crftag.io.readers import read_conll
    from crftag.resources.registry import default_registry

    reg = default_registry()
    work = Path(tempfile.mkdtemp(prefix="crftag-spark-bench-"))
    model = work / "model.crftag"
    train(reg.fetch("wnut16:train")).save(model)
    dev = [s.tokens for s in read_conll(reg.fetch("wnut16:dev"))]
    texts = synthetic_tweets(dev, args.tweets)
    data = work / "tweets.parquet"
    data.mkdir()
    for k, part in enumerate(np.array_split(np.arange(len(texts)), 16)):
        table = pa.table({"id": pa.array(part, pa.int64()), "text": [texts[i] for i in part]})
        pq.write_table(table, data / f"part-{k:02d}.parquet")
    result: dict = {"tweets": len(texts), "cores": os.cpu_count(),
                    "mean_tokens": float(np.mean([len(t.split()) for t in texts[:100_000]]))}

    tagger = Tagger.load(model)
    sample = texts[:args.single]
    tagger.tag_batch(sample[:2000])  # warm-up
    t0 = time.perf_counter()
    for i in range(0, len(sample), 1000):
        tagger.tag_batch(sample[i:i + 1000])
    result["single_process_tweets_per_s"] = len(sample) / (time.perf_counter() - t0)

    for cores in (1, 2):
        spark = session(f"local[{cores}]", "crftag-bench")
        spark.conf.set("spark.sql.files.maxPartitionBytes", str(4 * 1024 * 1024))
        df = spark.read.parquet(str(data))
        tag_dataframe(df.limit(1000), model).write.format("noop").mode("overwrite").save()  # warm workers
        t0 = time.perf_counter()
        tag_dataframe(df, model).write.format("noop").mode("overwrite").save()
        elapsed = time.perf_counter() - t0
        result[f"local{cores}_seconds"] = elapsed
        result[f"local{cores}_tweets_per_s"] = len(texts) / elapsed
        spark.stop()
    result["scaling_efficiency"] = result["local2_tweets_per_s"] / (2 * result["local1_tweets_per_s"])

    print(f"{len(texts):,} synthetic tweets ({result['mean_tokens']:.1f} tokens on average), "
          f"{result['cores']} cores")
    print(f"  one process, Tagger.tag_batch ({len(sample):,} tweets): "
          f"{result['single_process_tweets_per_s']:,.0f} tweets/s")
    for cores in (1, 2):
        print(f"  Spark local[{cores}]: {result[f'local{cores}_seconds']:.1f} s, "
              f"{result[f'local{cores}_tweets_per_s']:,.0f} tweets/s")
    print(f"  scaling efficiency local[1] -> local[2]: {100 * result['scaling_efficiency']:.0f}%")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "spark_tag.json").write_text(json.dumps(result, indent=2))
    print(f"saved {out / 'spark_tag.json'}")


if __name__ == "__main__":
    main()
