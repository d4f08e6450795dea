"""A fresh install's first minutes: the first tweet, `crftag warmup`, and a server's start-up.

    python bench/cold_start.py [--model M] [--runs 5] [--out bench/results]

Each step starts new processes with ``NUMBA_CACHE_DIR`` pointing at a folder of its own, as on a
new container, CI runner or laptop (an empty numba cache), on this machine's cores:

* **no warm-up**: ``echo TWEET | crftag tag -m M --output-format text`` on an empty cache (what a
  new user's first command costs);
* **warm-up**: ``crftag warmup -m M`` on an empty cache; then ``crftag tag`` of one tweet in a new
  process, ``--runs`` times (median, min, max): the latency of a process started after warm-up.
  Alternating with those runs, the floor beneath them: a new Python process that starts numba as
  the command line does (without scipy) and calls one cached one-line kernel, and one that
  only starts the interpreter;
* **serve**: ``crftag serve -m M`` on an empty cache: seconds until ``/healthz`` answers, until
  ``/readyz`` answers 200, and the statuses ``POST /v1/tag`` got meanwhile (polled every 0.2 s):
  503 with ``Retry-After`` while compiling, then 200, and never another 5xx.

The model defaults to the default feature set trained on WNUT16 train (through the registry).
Prints a table and saves bench/results/cold_start.json.

    python bench/cold_start.py --compare DIR [--rounds 3] [--model M] [--serve]

times the warm-up and the new-process tweet of this checkout and of the crftag in ``DIR`` (for
example ``git worktree add DIR REV``), in alternating rounds on the same machine: a busy machine
moves the figures above by a third, the ratio much less. ``--serve`` also starts each one's server
on an empty cache of its own and times it until ready. Saves bench/results/cold_start_compare.json.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TWEET = "Tim Cook in London"


def run(args: list[str], env: dict, stdin: str | None = None, cwd: Path | None = None) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(args, env=env, input=stdin, capture_output=True, text=True, timeout=1800, cwd=cwd)
    if proc.returncode:
        raise SystemExit(f"{' '.join(args)} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return time.perf_counter() - t0


def spread(times: list[float]) -> dict:
    return {"median": statistics.median(times), "min": min(times), "max": max(times), "runs": times}


FLOOR_KERNEL = """from numba import njit


@njit(cache=True)
def one(x):
    return x + 1
"""


def numba_floor(folder: Path, env: dict) -> list[str]:
    """The command of the floor beneath a new process's tweet: start numba as ``crftag tag`` does
    (:func:`crftag.jitcache.lean_numba`) and call a one-line kernel from numba's cache (put
    there by a first run here)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "floor_kernel.py").write_text(FLOOR_KERNEL)
    cmd = [sys.executable, "-c", "from crftag.jitcache import lean_numba; lean_numba(); "
           "import floor_kernel; floor_kernel.one(1)"]
    run(cmd, env, cwd=folder)  # compiles it into the cache
    return cmd


def request(port: int, method: str, path: str, body: bytes | None = None) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body, headers={"Content-Type": "application/json"} if body else {})
        resp = conn.getresponse()
        resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}
    finally:
        conn.close()


def serve(model: Path, env: dict, cwd: Path | None = None) -> dict:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "crftag", "serve", "-m", str(model), "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=cwd)
    healthz = readyz = None
    statuses: dict[str, int] = {}
    try:
        while time.perf_counter() - t0 < 1800:
            if proc.poll() is not None:
                raise SystemExit(f"crftag serve exited {proc.returncode}")
            try:
                if healthz is None and request(port, "GET", "/healthz")[0] == 200:
                    healthz = time.perf_counter() - t0
                status, headers = request(port, "POST", "/v1/tag", json.dumps({"text": TWEET}).encode())
            except OSError:
                time.sleep(0.02)
                continue
            key = f"{status}" + (" with Retry-After" if "retry-after" in headers else "")
            statuses[key] = statuses.get(key, 0) + 1
            if status == 200:
                readyz = time.perf_counter() - t0 if request(port, "GET", "/readyz")[0] == 200 else None
                break
            time.sleep(0.2)
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    return {"healthz_s": healthz, "ready_s": readyz, "tag_statuses": statuses}


def compare(other: Path, model: str, rounds: int, runs: int, tmp: Path, with_serve: bool) -> dict:
    """Warm-up seconds and new-process tweet seconds of this checkout and of ``other``, alternating;
    with ``with_serve``, also a server's start on an empty cache of its own."""
    here = Path(__file__).resolve().parent.parent
    result: dict = {str(here): [], str(other.resolve()): []}
    for r in range(rounds):
        for code in (other.resolve(), here) if r % 2 == 0 else (here, other.resolve()):
            # run from the temporary folder: a crftag folder in the working directory would win
            env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp / f"{code.name}-{r}"), "PYTHONPATH": str(code)}
            crftag = [sys.executable, "-m", "crftag"]
            warm = run([*crftag, "warmup", "-m", model], env, cwd=tmp)
            tweets = [run([*crftag, "tag", "-m", model, "--output-format", "text"], env, TWEET, cwd=tmp)
                      for _ in range(runs)]
            row = {"warmup_s": warm, "tweet_s": tweets}
            if with_serve:
                serve_env = {**env, "NUMBA_CACHE_DIR": str(tmp / f"{code.name}-{r}-serve")}
                row["serve"] = serve(Path(model), serve_env, cwd=tmp)
            result[str(code)].append(row)
            ready = f", server ready after {row['serve']['ready_s']:.1f} s" if with_serve else ""
            print(f"  {code}: warm-up {warm:5.1f} s, new-process tweet median "
                  f"{statistics.median(tweets):.2f} s{ready}", flush=True)
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="Model file (default: the default features on wnut16:train).")
    ap.add_argument("--runs", type=int, default=5, help="New processes timed after warm-up.")
    ap.add_argument("--out", default="bench/results")
    ap.add_argument("--compare", type=Path, help="Another crftag checkout, timed alternately with this one.")
    ap.add_argument("--rounds", type=int, default=3, help="Rounds of --compare (each times both).")
    ap.add_argument("--serve", action="store_true", help="--compare also starts a server on an empty cache.")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="crftag-cold-"))
    model = Path(args.model) if args.model else tmp / "wnut16.crftag"
    crftag = [sys.executable, "-m", "crftag"]
    if not args.model:
        run([*crftag, "train", "wnut16:train", "-o", str(model)], dict(os.environ))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.compare:
        print(f"empty numba cache each round, {os.cpu_count()} cores, model {model}:")
        result = compare(args.compare, str(model), args.rounds, args.runs, tmp, args.serve)
        for code, rows in result.items():
            warm = ", ".join(f"{r['warmup_s']:.1f}" for r in rows)
            tweets = statistics.median([t for r in rows for t in r["tweet_s"]])
            ready = ("; server ready after " + ", ".join(f"{r['serve']['ready_s']:.1f}" for r in rows) + " s"
                     if args.serve else "")
            print(f"{code}: warm-up {warm} s; new-process tweet, median of all {tweets:.2f} s{ready}")
        saved = {"cores": os.cpu_count(), "model": str(model), **result}
        (out / "cold_start_compare.json").write_text(json.dumps(saved, indent=1))
        print(f"saved {out / 'cold_start_compare.json'}")
        return

    def fresh(name: str) -> dict:
        return {**os.environ, "NUMBA_CACHE_DIR": str(tmp / name)}

    tag = [*crftag, "tag", "-m", str(model), "--output-format", "text"]
    result: dict = {"cores": os.cpu_count(), "model": str(model)}
    result["first_tweet_no_warmup_s"] = run(tag, fresh("none"), TWEET)
    env = fresh("warm")
    result["warmup_s"] = run([*crftag, "warmup", "-m", str(model)], env)
    floor = numba_floor(tmp / "floor", env)
    times, floors, bare = [], [], []
    for _ in range(args.runs):  # alternating, so that a busy moment of the machine hits all three
        times.append(run(tag, env, TWEET))
        floors.append(run(floor, env, cwd=tmp / "floor"))
        bare.append(run([sys.executable, "-c", "pass"], env))
    result["tweet_after_warmup_s"] = spread(times)
    result["numba_one_cached_kernel_s"] = spread(floors)
    result["python_alone_s"] = spread(bare)
    result["serve"] = serve(model, fresh("serve"))

    after = result["tweet_after_warmup_s"]
    print(f"empty numba cache, {os.cpu_count()} cores, model {model}:")
    print(f"  first tweet, no warm-up        {result['first_tweet_no_warmup_s']:7.1f} s")
    print(f"  crftag warmup                  {result['warmup_s']:7.1f} s")
    print(f"  one tweet in a new process after it: median {after['median']:.2f} s "
          f"(min {after['min']:.2f}, max {after['max']:.2f}; {args.runs} runs)")
    for key, what in (("numba_one_cached_kernel_s", "numba started, one cached kernel called"),
                      ("python_alone_s", "the interpreter alone")):
        r = result[key]
        print(f"    floor, a new process: {what}: median {r['median']:.2f} s "
              f"(min {r['min']:.2f}, max {r['max']:.2f})")
    s = result["serve"]
    print(f"  crftag serve: /healthz 200 after {s['healthz_s']:.2f} s, ready after {s['ready_s']:.1f} s; "
          f"/v1/tag meanwhile: {s['tag_statuses']}")
    (out / "cold_start.json").write_text(json.dumps(result, indent=1))
    print(f"saved {out / 'cold_start.json'}")


if __name__ == "__main__":
    main()
