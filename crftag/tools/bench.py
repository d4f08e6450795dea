"""``crftag bench``: the same train/dev (/test) split through each backend, measured alike.

Each backend runs in its own child process (``python -m crftag.tools.bench``), so
its peak memory is its own and one backend's caches cannot help another. A row
is written only for a backend that ran; backends that are unavailable or fail
are listed with the reason, never given numbers.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from crftag.backends import list_backends
from crftag.errors import CrftagError
from crftag.evaluation.report import bench_markdown, corpus_summary_markdown
from crftag.io.atomic import atomic_write


def measure(backend: str, train: str, dev: str, test: str | None, features: str,
            params: dict[str, Any], model_dir: Path, tokens: int, calls: int, seed: int) -> dict:
    """Train one backend and measure it (runs in the child process)."""
    from crftag.evaluation.scores import evaluate
    from crftag.resources.corpora import load_labelled
    from crftag.tagger import Tagger
    from crftag.training import train as train_tagger

    t0 = time.perf_counter()
    tagger = train_tagger(train, dev=dev, backend=backend, features=features, seed=seed, **params)
    train_s = time.perf_counter() - t0
    model_path = model_dir / f"{backend}.crftag"
    tagger.save(model_path)
    tagger = Tagger.load(model_path)  # measure what a user loads, not the training object
    row: dict[str, Any] = {"backend": backend, "features": features, "params": params,
                           "train_s": train_s, "model_mb": model_path.stat().st_size / 1e6,
                           "fit_info": {k: v for k, v in (tagger.meta.get("fit_info") or {}).items()
                                        if k in ("device", "epochs", "best_epoch", "alpha")}}
    splits = {"dev": dev, **({"test": test} if test else {})}
    for split, ref in splits.items():
        sents = load_labelled(ref)
        report = evaluate([s.tags for s in sents], tagger.tag_tokens_batch([s.tokens for s in sents]))
        row[split] = {"f1": report.overall["f1"], "precision": report.overall["precision"],
                      "recall": report.overall["recall"], "notypes_f1": report.notypes_overall["f1"],
                      "per_type_f1": {k: v["f1"] for k, v in report.per_type.items()}}
    dev_sents = [s.tokens for s in load_labelled(dev)]
    corpus = dev_sents * max(1, -(-tokens // max(1, sum(map(len, dev_sents)))))
    n_tokens = sum(map(len, corpus))
    tagger.tag_tokens_batch(corpus[:1000])  # warm-up: compiled code, caches
    t0 = time.perf_counter()
    for a in range(0, len(corpus), 1000):
        tagger.tag_tokens_batch(corpus[a:a + 1000])
    row["tokens_per_s"] = n_tokens / (time.perf_counter() - t0)
    texts = [" ".join(s) for s in dev_sents if s]
    for text in texts[:200]:
        tagger.tag(text)
    times = np.empty(calls)
    for i in range(calls):
        t1 = time.perf_counter_ns()
        tagger.tag(texts[i % len(texts)])
        times[i] = time.perf_counter_ns() - t1
    row["p50_us"], row["p99_us"] = (float(np.percentile(times, q)) / 1000 for q in (50, 99))
    row["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return row


def run_bench(backends: list[str], train: str, dev: str, test: str | None, features: str,
              params: dict[str, dict[str, Any]], out_dir: Path, tokens: int = 200_000,
              calls: int = 2000, seed: int = 0, echo=print) -> dict:
    """Measure each backend in a child process; write bench.json, bench.md and bench.png."""
    installed = {b.name: b for b in list_backends()}
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "models").mkdir(exist_ok=True)
    rows, not_run = [], {}
    for name in backends:
        info = installed.get(name)
        if info is None or not info.available:
            not_run[name] = "not installed" if info is None else info.reason
            echo(f"{name}: not run ({not_run[name]})")
            continue
        echo(f"{name}: training and measuring ...")
        job = {"backend": name, "train": train, "dev": dev, "test": test, "features": features,
               "params": params.get(name, {}), "model_dir": str(out_dir / "models"),
               "tokens": tokens, "calls": calls, "seed": seed}
        proc = subprocess.run([sys.executable, "-m", "crftag.tools.bench"], input=json.dumps(job),
                              capture_output=True, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
            not_run[name] = f"failed: {last}"
            echo(f"{name}: failed ({last})")
            continue
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    result = {"train": train, "dev": dev, "test": test, "features": features, "tokens": tokens,
              "calls": calls, "cores": os.cpu_count(), "rows": rows, "not_run": not_run}
    with atomic_write(out_dir / "bench.json") as fh:
        fh.write(json.dumps(result, indent=2))
    markdown = bench_markdown(result)
    with atomic_write(out_dir / "bench.md") as fh:
        fh.write(markdown)
    chart = plot(result, out_dir / "bench.png")
    echo(markdown)
    echo(f"saved {out_dir / 'bench.json'}, {out_dir / 'bench.md'}"
         + (f", {chart}" if chart else " (no chart: matplotlib is not installed)"))
    return result


def corpus_summary(results: dict[str, dict], out_dir: Path) -> str:
    """Dev F1 of each backend on each corpus (``crftag bench --corpus``), saved as summary.md."""
    text = corpus_summary_markdown(results)
    with atomic_write(out_dir / "summary.md") as fh:
        fh.write(text)
    return text


def plot(result: dict, path: Path) -> Path | None:
    """Dev F1 against tagging speed (log axis), one point per backend."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, ax = plt.subplots(figsize=(6, 4))
    for r in result["rows"]:
        ax.scatter(r["tokens_per_s"], r["dev"]["f1"], s=50, label=r["backend"])
    if result["rows"]:
        ax.legend(loc="best")
    ax.set_xscale("log")
    # decades only, labelled 1k / 10k / 100k / 1M; the log axis's minor labels (2x10^3,
    # 3x10^3, ...) overlapped one another
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    ax.xaxis.set_major_locator(LogLocator(base=10))
    ax.xaxis.set_major_formatter(FuncFormatter(_short_number))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("tagging speed, tokens/s (log scale)")
    ax.set_ylabel("dev entity F1")
    ax.set_title(f"crftag bench: trained on {result['train']}, scored on {result['dev']}\n"
                 f"feature set {result['features']}, {result['cores']} cores", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    os.replace(tmp, path)
    return path


def _short_number(value: float, _pos: int = 0) -> str:
    """1000 -> 1k, 1e6 -> 1M: tick labels short enough not to collide."""
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= size:
            return f"{value / size:g}{suffix}"
    return f"{value:g}"


def _child() -> None:
    job = json.loads(sys.stdin.read())
    try:
        row = measure(job["backend"], job["train"], job["dev"], job["test"], job["features"],
                      job["params"], Path(job["model_dir"]), job["tokens"], job["calls"], job["seed"])
    except CrftagError as exc:
        sys.exit(f"{exc}")
    print(json.dumps(row))


if __name__ == "__main__":
    _child()
