"""Reliability under load: memory of a shared Tagger over many threaded calls, and of
`crftag tag` streaming a large standard input.

    python bench/reliability.py [--calls 1000000] [--threads 16] [--stream-mb 1024] [--out bench/results]

* Threads: one ``Tagger`` (the default model, trained here on WNUT16 train) shared by
  --threads threads for --calls ``Tagger.tag`` calls in all (WNUT16 dev tweets, a
  never-seen token in every tenth); this process's RSS every 100,000 calls, and
  whether every result equals the serial one.
* Stream: --stream-mb MB of tweets (WNUT16 dev, repeated) piped into
  ``crftag tag --output-format jsonl`` and its output discarded; the child's peak
  RSS (from the kernel's accounting), throughput, and the same for a tenth of the
  input, so bounded memory shows as equal peaks.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def stream(model: Path, lines: list[bytes], megabytes: float) -> dict:
    """Pipe about ``megabytes`` MB of lines through `crftag tag`; its peak RSS and speed."""
    cmd = [sys.executable, "-c", "import resource, sys; from crftag.cli import main\n"
           "try:\n    main(sys.argv[1:])\nfinally:\n"
           "    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)",
           "tag", "-m", str(model), "--output-format", "jsonl"]
    target = int(megabytes * 1e6)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    sent = n = 0
    block = b"".join(lines)
    while sent < target:
        proc.stdin.write(block)
        sent += len(block)
        n += len(lines)
    proc.stdin.close()
    err = proc.stderr.read().decode()
    proc.wait()
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"crftag tag failed: {err}")
    return {"mb": sent / 1e6, "tweets": n, "seconds": elapsed, "tweets_per_s": n / elapsed,
            "mb_per_s": sent / 1e6 / elapsed, "peak_rss_mb": int(err.split()[-1]) / 1024}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=1_000_000)
    ap.add_argument("--threads", type=int, default=16)
    ap.add_argument("--stream-mb", type=float, default=1024)
    ap.add_argument("--out", default="bench/results")
    args = ap.parse_args()

    from crftag import Tagger, train
    from crftag.readers import read_conll
    from crftag.resources import default_registry

    reg = default_registry()
    model = Path(tempfile.mkdtemp(prefix="crftag-bench-")) / "model.crftag"
    train(reg.fetch("wnut16:train")).save(model)
    texts = [" ".join(s.tokens) for s in read_conll(reg.fetch("wnut16:dev"))]
    tagger = Tagger.load(model)
    expected = [tagger.tag(t) for t in texts]
    result: dict = {"cores": os.cpu_count(), "threads": args.threads, "calls": args.calls}

    # Threads sharing one tagger.
    done = [0] * args.threads
    mismatches = [0] * args.threads

    def worker(k: int) -> None:
        for i in range(k, args.calls, args.threads):
            text = texts[i % len(texts)]
            if i % 10 == 0:
                tagger.tag(f"{text} unseen{i}")  # grows the token cache to its bound
            elif tagger.tag(text) != expected[i % len(texts)]:
                mismatches[k] += 1
            done[k] += 1

    samples = [(0, round(rss_mb(), 1))]
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(args.threads)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    mark = 100_000
    while any(t.is_alive() for t in threads):
        time.sleep(0.05)
        if sum(done) >= mark:
            samples.append((mark, round(rss_mb(), 1)))
            mark += 100_000
    for t in threads:
        t.join()
    samples.append((sum(done), round(rss_mb(), 1)))
    result["thread_seconds"] = time.perf_counter() - t0
    result["thread_rss_mb"] = samples
    result["thread_mismatches"] = sum(mismatches)

    # Streaming standard input.
    lines = [(t + "\n").encode() for t in texts]
    result["stream_small"] = stream(model, lines, args.stream_mb / 10)
    result["stream"] = stream(model, lines, args.stream_mb)

    print(f"{args.threads} threads, one Tagger, {args.calls:,} calls in {result['thread_seconds']:.1f} s: "
          f"{result['thread_mismatches']} results differ from serial")
    print("  RSS (MB) by calls: " + ", ".join(f"{c:,}: {m}" for c, m in samples))
    for key in ("stream_small", "stream"):
        s = result[key]
        print(f"crftag tag, {s['mb']:,.0f} MB on stdin ({s['tweets']:,} tweets): {s['seconds']:.1f} s, "
              f"{s['tweets_per_s']:,.0f} tweets/s ({s['mb_per_s']:.2f} MB/s), "
              f"peak RSS {s['peak_rss_mb']:.0f} MB")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "reliability.json").write_text(json.dumps(result, indent=2))
    print(f"saved {out / 'reliability.json'}")


if __name__ == "__main__":
    main()
