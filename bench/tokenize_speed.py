"""Tokenizer speed: the compiled tokenizer against the regex that defines it.

    python bench/tokenize_speed.py [--rounds 7] [--regex-budget 3] [--out bench/results]

* Tweets: WNUT16 dev, each sentence's tokens joined by spaces. ``tokenize`` and
  ``tokenize_regex`` are timed in the same run, in alternating rounds over all the
  tweets (best round), plus each call on its own (p50/p99 over all rounds), and
  ``tokenize_batch`` on all the tweets in one call. Both give the same tokens
  (checked here too). Also the time ``tokenize`` spends building the lists it
  returns (token strings sliced from the text, span tuples), timed on their own.
* Linearity: ``tokenize`` on inputs where the regex rescans a long run at every
  start position, at 10K, 100K and 1M characters, with time(10x size) / time(size)
  (about 10 when linear), and of its kernel alone (the spans, without the
  Python strings and tuples); ``tokenize_regex`` on the same inputs, each size only
  while the previous one took under --regex-budget / 100 seconds (so that a
  quadratic 10x step stays within the budget). From 100K to 1M characters the
  kernel's ratio includes first-touch page faults: its work arrays (about 40
  bytes a character) are fresh memory from the OS at that size; with
  MALLOC_MMAP_THRESHOLD_ and MALLOC_TRIM_THRESHOLD_ raised its time per
  character is flat from 1M to 8M characters.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from itertools import pairwise
from pathlib import Path

from crftag.io.readers import read_conll
from crftag.resources.registry import default_registry
from crftag.text.chartable import code_point_table, code_points
from crftag.text.tokenize import tokenize, tokenize_batch, tokenize_regex, tokenize_segments

PATTERNS = {
    ".-": lambda k: ".-" * k,
    "a+": lambda k: "a+" * k,
    "-.": lambda k: "-." * k,
    ".-*k @ b*k": lambda k: ".-" * k + "@" + "b" * k,
    "a.": lambda k: "a." * k,
    "1.1*k x": lambda k: "1.1" * k + "x",
    "a@": lambda k: "a@" * k,
    "www.": lambda k: "www." * k,
    "http://": lambda k: "http://" * k,
    "a _*k b": lambda k: "a" + "_" * k + "b",
    "a '*k b": lambda k: "a" + "'" * k + "b",
    "a -*k b": lambda k: "a" + "-" * k + "b",
}
SIZES = (10_000, 100_000, 1_000_000)


def timed(fn, text: str) -> float:
    start = time.perf_counter()
    fn(text)
    return time.perf_counter() - start


def kernel(text: str) -> None:
    cps, ptr = code_points([text])
    tokenize_segments(cps, ptr, code_point_table().ensure(cps))


def tweets(rounds: int) -> dict:
    texts = [" ".join(s.tokens) for s in read_conll(default_registry().fetch("wnut16:dev"), labelled=False)]
    first_call = timed(tokenize, texts[0])  # loads the compiled kernel from numba's cache
    tokenize("\u00e9")  # and its non-ASCII variant
    tokenize_batch(texts[:2])
    assert [tokenize(t) for t in texts] == [tokenize_regex(t) for t in texts]
    best = {"tokenize": float("inf"), "tokenize_regex": float("inf"), "tokenize_batch": float("inf")}
    calls: dict[str, list[float]] = {"tokenize": [], "tokenize_regex": []}
    for _ in range(rounds):  # every result is kept, as a caller does (the garbage collector sees them)
        for fn in (tokenize, tokenize_regex):
            start = time.perf_counter()
            results = [fn(t) for t in texts]
            best[fn.__name__] = min(best[fn.__name__], time.perf_counter() - start)
            calls[fn.__name__].extend(timed(fn, t) for t in texts)
        start = time.perf_counter()
        results = tokenize_batch(texts)
        best["tokenize_batch"] = min(best["tokenize_batch"], time.perf_counter() - start)
        del results
    flats = []
    for text in texts:
        spans = tokenize(text)[1]
        flats.append([x for span in spans for x in span])
    lists = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        results = []
        for text, flat in zip(texts, flats, strict=True):
            pairs = iter(flat)
            spans = list(zip(pairs, pairs, strict=True))
            results.append(([text[a:b] for a, b in spans], spans))
        lists = min(lists, time.perf_counter() - start)
    n_chars = sum(map(len, texts))
    out = {"tweets": len(texts), "mean_chars": n_chars / len(texts),
           "mean_tokens": sum(len(tokenize(t)[0]) for t in texts) / len(texts), "rounds": rounds,
           "first_call_ms": first_call * 1e3, "returned_lists_us_per_tweet": lists / len(texts) * 1e6}
    for name, seconds in best.items():
        out[name] = {"us_per_tweet": seconds / len(texts) * 1e6, "tweets_per_s": len(texts) / seconds,
                     "chars_per_s": n_chars / seconds}
        if name in calls:
            q = statistics.quantiles(calls[name], n=100)
            out[name] |= {"p50_us": q[49] * 1e6, "p99_us": q[98] * 1e6}
    return out


def linearity(regex_budget: float) -> dict:
    out = {}
    for name, make in PATTERNS.items():
        texts = {size: make(size)[:size] for size in SIZES}
        row: dict[str, dict[int, float]] = {"tokenize": {}, "kernel": {}, "tokenize_regex": {}}
        for size, text in texts.items():
            repeats = 3 if size < 1_000_000 else 1
            row["tokenize"][size] = min(timed(tokenize, text) for _ in range(repeats))
            row["kernel"][size] = min(timed(kernel, text) for _ in range(3))
        for size, text in texts.items():
            row["tokenize_regex"][size] = timed(tokenize_regex, text)
            if row["tokenize_regex"][size] * 100 > regex_budget:
                break
        out[name] = row
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--regex-budget", type=float, default=3.0, help="seconds a regex call may take")
    ap.add_argument("--out", default="bench/results")
    args = ap.parse_args()

    tw = tweets(args.rounds)
    print(f"WNUT16 dev: {tw['tweets']} tweets, {tw['mean_chars']:.0f} characters and "
          f"{tw['mean_tokens']:.1f} tokens each; best of {tw['rounds']} rounds "
          f"(first call, numba cache load: {tw['first_call_ms']:.0f} ms)")
    for name in ("tokenize", "tokenize_regex", "tokenize_batch"):
        r = tw[name]
        calls = f", one call p50 {r['p50_us']:.1f} us, p99 {r['p99_us']:.1f} us" if "p50_us" in r else ""
        print(f"  {name:15s} {r['us_per_tweet']:6.2f} us/tweet  {r['tweets_per_s']:9,.0f} tweets/s  "
              f"{r['chars_per_s'] / 1e6:5.1f} M chars/s{calls}")
    print(f"  of tokenize's time, building the returned lists (tokens, spans): "
          f"{tw['returned_lists_us_per_tweet']:.2f} us/tweet")
    print(f"  speed-up: {tw['tokenize_regex']['us_per_tweet'] / tw['tokenize']['us_per_tweet']:.1f}x "
          f"(batch {tw['tokenize_regex']['us_per_tweet'] / tw['tokenize_batch']['us_per_tweet']:.1f}x)")

    lin = linearity(args.regex_budget)
    print("\nlinearity: seconds at " + ", ".join(f"{s:,}" for s in SIZES)
          + " characters; ratio = time(10x size) / time(size), about 10 if linear")
    for name, row in lin.items():
        for fn, times in row.items():
            sizes = sorted(times)
            cells = "  ".join(f"{times[s]:9.4f}" if s in times else f"{'-':>9s}" for s in SIZES)
            ratios = " ".join(f"{times[b] / times[a]:6.1f}" for a, b in pairwise(sizes))
            print(f"  {name:11s} {fn:15s} {cells}   ratios {ratios}")

    result = {"cores": os.cpu_count(), "tweets": tw,
              "linearity": {name: {fn: {str(s): t for s, t in times.items()} for fn, times in row.items()}
                            for name, row in lin.items()}}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "tokenize_speed.json").write_text(json.dumps(result, indent=2))
    print(f"saved {out / 'tokenize_speed.json'}")


if __name__ == "__main__":
    main()
