"""Many trainings judged on dev F1: hyperparameter search, and stability across seeds.

Each training runs in a joblib worker process (candidates are independent), is
given an explicit seed, and writes its model to a file, so results do not
depend on the number of workers or the order they finish in.
"""

from __future__ import annotations

import itertools
import os
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from crftag.errors import CrftagError
from crftag.io.atomic import atomic_write


def parameter_grid(space: dict[str, Sequence]) -> list[dict[str, Any]]:
    """Every combination of the listed values (keys in sorted order, values as given)."""
    keys = sorted(space)
    return [dict(zip(keys, values, strict=True)) for values in itertools.product(*(space[k] for k in keys))]


def candidates(space: dict[str, Sequence], features: Sequence[str], n_random: int | None = None,
               seed: int = 0) -> list[dict[str, Any]]:
    """(features, params) candidates: the whole grid, or ``n_random`` distinct draws from it."""
    grid = [{"features": f, "params": p} for f in features for p in parameter_grid(space)]
    if n_random is None or n_random >= len(grid):
        return grid
    pick = np.random.default_rng(seed).choice(len(grid), size=n_random, replace=False)
    return [grid[i] for i in sorted(pick.tolist())]


def _train_and_score(job: dict) -> dict:
    """One training (in a worker): dev scores, time, and the model written to job["model"]."""
    from crftag.training import train

    params = dict(job["params"])
    seed = params.pop("seed", job["seed"])  # a searched backend seed is train()'s seed
    t0 = time.perf_counter()
    tagger = train(job["train"], dev=job["dev"], backend=job["backend"], features=job["features"],
                   seed=seed, shuffle_seed=job.get("shuffle_seed"), **params)
    elapsed = time.perf_counter() - t0
    if job.get("model"):
        tagger.save(job["model"])
    scores = tagger.meta["dev_scores"]
    return {"features": job["features"], "params": job["params"], "seed": job["seed"],
            "dev_f1": scores["overall"]["f1"], "dev_precision": scores["overall"]["precision"],
            "dev_recall": scores["overall"]["recall"], "train_s": elapsed, "model": job.get("model")}


def _run(jobs: list[dict], n_jobs: int, progress: bool = False) -> list[dict]:
    """Results in job order; a bar (on a terminal) advances as each training ends."""
    from joblib import Parallel, delayed

    from crftag.progress import progress_bar

    results = []
    with progress_bar(len(jobs), f"training {len(jobs)} candidates", progress) as bar:
        for result in Parallel(n_jobs=n_jobs, return_as="generator")(delayed(_train_and_score)(job)
                                                                      for job in jobs):
            results.append(result)
            bar.update(1)
    return results


def search(train: str | Sequence[str], dev: str, backend: str, space: dict[str, Sequence],
           features: Sequence[str] = ("twitter",), n_random: int | None = None, seed: int = 0,
           n_jobs: int = 1, best_model: str | os.PathLike[str] | None = None,
           progress: bool = False) -> list[dict]:
    """Train every candidate, rank by dev F1 (ties: earlier candidate first), keep the best model.
    ``progress``: a bar per trained candidate on a terminal."""
    from crftag.backends import get_backend

    names = set(get_backend(backend).param_names())
    unknown = sorted(set(space) - names)
    if unknown:
        raise CrftagError(f"backend {backend!r} has no parameter {', '.join(unknown)}; "
                          f"parameters: {', '.join(sorted(names))}")
    cands = candidates(space, features, n_random, seed)
    with tempfile.TemporaryDirectory(prefix="crftag-search-") as tmp:
        jobs = [{"train": train, "dev": dev, "backend": backend, "seed": seed,
                 "model": str(Path(tmp) / f"{i}.crftag"), **c} for i, c in enumerate(cands)]
        results = _run(jobs, n_jobs, progress)
        order = sorted(range(len(results)), key=lambda i: (-results[i]["dev_f1"], i))
        if best_model is not None:  # copied whole, then renamed: never half-written
            with atomic_write(best_model, "wb") as fh:
                fh.write(Path(results[order[0]]["model"]).read_bytes())
    ranked = [results[i] for i in order]
    for r in ranked:
        r.pop("model")
    return ranked


def stability(train: str | Sequence[str], dev: str, backend: str, features: str = "twitter",
              params: dict[str, Any] | None = None, runs: int = 5, vary: str = "both",
              n_jobs: int = 1, threshold: float = 1.0, progress: bool = False) -> dict:
    """Retrain with seeds 1..runs and report the spread of dev F1.

    ``vary``: ``order`` shuffles the training sentences with each seed (the
    backend's own seed stays 0), ``seed`` changes only the backend's seed (no
    shuffle), ``both`` does both. A standard deviation above ``threshold`` F1
    points is flagged.
    """
    from crftag.backends import get_backend

    if vary not in ("both", "order", "seed"):
        raise CrftagError(f"vary must be both, order or seed, not {vary!r}")
    if runs < 2:
        raise CrftagError("stability needs at least 2 runs")
    has_seed = "seed" in get_backend(backend).param_names()
    if vary == "seed" and not has_seed:
        raise CrftagError(f"backend {backend!r} has no seed of its own (its training is deterministic); "
                          "use --vary order")
    params = {k: v for k, v in (params or {}).items() if k != "seed"}
    # seed: the backend's seed; shuffle_seed: the training order (0 keeps the order as read)
    seeds = {"both": lambda i: (i, i), "order": lambda i: (0, i), "seed": lambda i: (i, 0)}[vary]
    jobs = [{"train": train, "dev": dev, "backend": backend, "features": features, "params": params,
             "seed": seeds(i)[0], "shuffle_seed": seeds(i)[1]} for i in range(1, runs + 1)]
    results = _run(jobs, n_jobs, progress)
    f1s = [r["dev_f1"] for r in results]
    std = statistics.stdev(f1s)
    return {"backend": backend, "features": features, "vary": vary,
            "runs": [{"run": i + 1, "dev_f1": f, "train_s": r["train_s"]}
                     for i, (f, r) in enumerate(zip(f1s, results, strict=True))],
            "mean": statistics.fmean(f1s), "std": std, "min": min(f1s), "max": max(f1s),
            "threshold": threshold, "flagged": std > threshold}
