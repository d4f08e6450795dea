"""What a change of default costs in tagging speed, model size and load time.

    python bench/default_speed.py [--rounds 5] [--out bench/results]

Trains the default before (twitter, every entity-less tweet), the default now (twitter,
half of them) and twitter-minilm on WNUT16 train, then measures each on text it has not
seen: a fresh tagger warmed on the train tweets tags WNUT16 dev once (tokens/s), in
rounds that alternate the models so the machine's noise falls on all of them alike.
Ratios are to the default before, in the same run. Prints a table and saves
bench/results/default_speed.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from tag_speed import batches, timed

VARIANTS = {  # name -> (feature set, train() options)
    "twitter, all entity-less tweets (default before)": ("twitter", {"empty_fraction": 1.0}),
    "twitter, half the entity-less tweets (default now)": ("twitter", {"empty_fraction": 0.5}),
    "twitter-minilm, half the entity-less tweets": ("twitter-minilm", {"empty_fraction": 0.5}),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5, help="Fresh taggers per model.")
    ap.add_argument("--out", default="bench/results")
    args = ap.parse_args()

    from crftag import Tagger, train
    from crftag.io.readers import read_conll
    from crftag.progress import progress_bar
    from crftag.resources.registry import default_registry

    reg = default_registry()
    train_sents = list(read_conll(reg.fetch("wnut16:train")))
    warm = [s.tokens for s in train_sents]
    dev = [s.tokens for s in read_conll(reg.fetch("wnut16:dev"), labelled=False)]
    n_dev = sum(map(len, dev))
    tmp = Path(tempfile.mkdtemp(prefix="crftag-default-speed-"))
    paths = {}
    for i, (name, (features, options)) in enumerate(VARIANTS.items()):
        print(f"training {name} on WNUT16 train ...", flush=True)
        paths[name] = tmp / f"model{i}.crftag"
        train(train_sents, features=features, **options).save(paths[name])

    def fresh(path: Path) -> Tagger:
        tagger = Tagger.load(path)
        for b in batches(warm):
            tagger.tag_tokens_batch(b)
        return tagger

    speeds: dict[str, list[float]] = {name: [] for name in VARIANTS}
    loads: dict[str, list[float]] = {name: [] for name in VARIANTS}
    with progress_bar(args.rounds * len(VARIANTS), "rounds") as bar:
        for _ in range(args.rounds):
            for name, path in paths.items():
                loads[name].append(timed(Tagger.load, path))
                tagger = fresh(path)
                seconds = timed(lambda t=tagger: [t.tag_tokens_batch(b) for b in batches(dev)])
                speeds[name].append(n_dev / seconds)
                bar.update(1)

    base = statistics.median(speeds[next(iter(VARIANTS))])
    rows = [{"variant": name, "features": VARIANTS[name][0], **VARIANTS[name][1],
             "model_mb": paths[name].stat().st_size / 1e6,
             "load_s": statistics.median(loads[name]),
             "unseen_tokens_per_s": statistics.median(speeds[name]),
             "ratio": statistics.median(speeds[name]) / base} for name in VARIANTS]
    print(f"\nunseen text: WNUT16 dev ({n_dev:,} tokens), first pass of a tagger warmed on WNUT16 train; "
          f"median of {args.rounds} rounds; {os.cpu_count()} cores")
    print("| variant | model MB | load s | unseen tokens/s | vs default before |")
    print("|---|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['variant']} | {r['model_mb']:.1f} | {r['load_s']:.3f} | "
              f"{r['unseen_tokens_per_s']:,.0f} | {r['ratio']:.2f}x |")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "default_speed.json").write_text(json.dumps({"cores": os.cpu_count(), "rows": rows}, indent=1))
    print(f"saved {out / 'default_speed.json'}")


if __name__ == "__main__":
    main()
