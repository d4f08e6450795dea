"""Featurisation speed: the compiled engine vs a plain-Python dict featuriser.

    python bench/featurize_speed.py [--features twitter] [--tokens 1000000] [--out bench/results]

Corpus: WNUT16 train repeated to at least --tokens tokens. Both featurisers
compute the same features (the equivalence test proves it). The baseline is
crftag's ReferenceFeaturizer in plain mode: per token, a dict of feature
strings, as a sklearn-crfsuite user writes it; it is timed on a slice of the
corpus (its rate does not depend on corpus size). The engine keeps no state:
each call computes the atoms of its batch's distinct tokens (--batch sentences)
in compiled code, then every token's features. It is timed on the whole corpus
(best of --repeats), in batches of --batch sentences and in one call (as
training featurises): batches repeat the atoms of the types they share. The
kernels are serial: this is one core.
Also times loading the feature set's resources (clusters, all gazetteer lists).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/common.py
from common import first_tokens

from crftag.features.featureset import load_feature_set
from crftag.features.featurize import Featurizer, ReferenceFeaturizer
from crftag.features.lexicon import build_lexicon
from crftag.io.readers import read_conll
from crftag.resources.registry import default_registry


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--features", default="twitter")
    ap.add_argument("--tokens", type=int, default=1_000_000)
    ap.add_argument("--baseline-tokens", type=int, default=30_000)
    ap.add_argument("--batch", type=int, default=2000, help="sentences per engine call")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default="bench/results")
    args = ap.parse_args()

    fs = load_feature_set(args.features)
    t0 = time.perf_counter()
    lexicon = build_lexicon(fs)
    lexicon_seconds = time.perf_counter() - t0
    base = [s.tokens for s in read_conll(default_registry().fetch("wnut16:train"))]
    per_copy = sum(map(len, base))
    corpus = base * -(-args.tokens // per_copy)
    n_tokens = sum(map(len, corpus))

    engine = Featurizer(fs, lexicon)
    engine.featurize_batch(base[:10])  # compile (or load cached) kernels
    seconds = {}
    for batch in (args.batch, len(corpus)):
        seconds[batch] = float("inf")
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            n_keys = 0
            for i in range(0, len(corpus), batch):
                n_keys += len(engine.featurize_batch(corpus[i:i + batch]).keys)
            seconds[batch] = min(seconds[batch], time.perf_counter() - t0)

    ref = ReferenceFeaturizer(fs, lexicon)
    sample, count = first_tokens(base, args.baseline_tokens)
    t0 = time.perf_counter()
    for s in sample:
        ref.featurize(s, with_keys=False)
    baseline_seconds = time.perf_counter() - t0
    baseline_rate = count / baseline_seconds

    result = {
        "features": args.features, "cores": os.cpu_count(),
        "numba_threads": os.environ.get("NUMBA_NUM_THREADS", "default"),
        "corpus_tokens": n_tokens, "features_per_token": n_keys / n_tokens,
        "engine_tokens_per_s": {str(b): n_tokens / sec for b, sec in seconds.items()},
        "baseline_tokens": count, "baseline_tokens_per_s": baseline_rate,
        "lexicon_load_seconds": lexicon_seconds,
        "gazetteer_entries": 0 if lexicon.gazetteer is None else len(lexicon.gazetteer.keys),
    }
    print(f"corpus: {n_tokens} tokens, {result['features_per_token']:.1f} features per token "
          f"(feature set {args.features})")
    print(f"plain-Python dict featuriser: {baseline_rate:,.0f} tokens/s (on {count} tokens)")
    for batch, sec in seconds.items():
        what = "the whole corpus in one call" if batch == len(corpus) else f"batches of {batch} sentences"
        rate = n_tokens / sec
        print(f"compiled engine, {what}: {rate:,.0f} tokens/s ({rate / baseline_rate:.1f}x)")
    print(f"resource load (clusters + {result['gazetteer_entries']} gazetteer entries): "
          f"{lexicon_seconds:.2f} s")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"featurize_speed-{args.features}.json").write_text(json.dumps(result, indent=2))
    print(f"saved {out / f'featurize_speed-{args.features}.json'}")


if __name__ == "__main__":
    main()
