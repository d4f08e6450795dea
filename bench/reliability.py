"""Reliability under load and under attack.

    python bench/reliability.py [--quick] [--only SECTIONS] [--calls N] [--threads N]
                                [--stream-mb MB] [--fuzz N] [--fuzz-default N] [--out bench/results]

Sections (``--only threads,stream,...``; all by default):

* ``threads``: one ``Tagger`` (the default model, trained here on WNUT16 train) shared by
  --threads threads for --calls ``Tagger.tag`` calls in all (WNUT16 dev tweets, a never-seen
  token in every tenth); this process's RSS every 100,000 calls, and whether every result equals
  the serial one.
* ``stream``: --stream-mb MB of tweets (WNUT16 dev, repeated) piped into ``crftag tag
  --output-format jsonl``; the child's peak RSS, throughput, and the same for a tenth of the
  input, so bounded memory shows as equal peaks.
* ``fuzz``: the model fuzzer (tests/modelfuzz.py) on --fuzz mutated copies of a small model with
  clusters, gazetteers and a conjunction, and --fuzz-default copies of the default model; each
  must be refused in one line or tag safely and identically in two loads.
* ``attacks``: the report's hostile model files, timed: 16M filler gazetteer keys (inconsistent,
  then consistent), a 5,000-offset window, members that inflate past the total cap.
* ``tokenizer``: ``Tagger.tag`` on the patterns the regex tokenizer was quadratic on, at sizes
  doubling from 8 KiB to 1 MiB: seconds per MB should stay flat (linear time).
* ``lines``: ``crftag tag`` on a 1 MB line of distinct words (under the limit), a 16 MB and a
  100 MB line (over it): time and the child's peak RSS.
* ``signals``: SIGINT/SIGTERM at spread-out moments of ``crftag tag``'s start-up: how many
  stopped with one line and the right status.
* ``downloads``: a server trickling a byte every 0.5 s (deadline 3 s) and an endless response:
  how long until each fetch stops, how many bytes were kept.

``--quick`` runs every section small (about 10 minutes on 2 cores): 20,000 calls, 10 MB
streamed, 300 + 20 fuzzed models, sizes to 256 KiB, a 4 MB line instead of the 16 and 100 MB.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/common.py
from common import rss_mb

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]  # this checkout's crftag, whatever the venv installed
PEAK = ("import sys\nfrom crftag.cli.entry import main\ntry:\n    main(sys.argv[1:])\nfinally:\n"
        "    print(next(int(x.split()[1]) for x in open('/proc/self/status') if x.startswith('VmHWM:')),"
        " file=sys.stderr)")  # VmHWM, not ru_maxrss: that one is inherited from the parent through exec
SECTIONS = ("threads", "stream", "fuzz", "attacks", "tokenizer", "lines", "signals", "downloads")


def child_env() -> dict:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}


def run_peak(args: list[str], stdin=None) -> tuple[int, str, float, float]:
    """``crftag ARGS`` in a child: exit status, stderr (its RSS line removed), seconds, peak RSS MB."""
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", PEAK, *args], stdin=stdin, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True, env=child_env())
    lines = r.stderr.strip().splitlines()
    return r.returncode, "\n".join(lines[:-1]), time.perf_counter() - t0, int(lines[-1]) / 1024


def stream(model: Path, lines: list[bytes], megabytes: float) -> dict:
    """Pipe about ``megabytes`` MB of lines through `crftag tag`; its peak RSS and speed."""
    cmd = [sys.executable, "-c", PEAK, "tag", "-m", str(model), "--output-format", "jsonl"]
    target = int(megabytes * 1e6)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=child_env())
    sent = n = 0
    block = b"".join(lines)
    try:
        while sent < target:
            proc.stdin.write(block)
            sent += len(block)
            n += len(lines)
        proc.stdin.close()
    except BrokenPipeError:  # the child stopped early: its stderr says why
        pass
    err = proc.stderr.read().decode()
    proc.wait()
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"crftag tag failed: {err}")
    return {"mb": sent / 1e6, "tweets": n, "seconds": elapsed, "tweets_per_s": n / elapsed,
            "mb_per_s": sent / 1e6 / elapsed, "peak_rss_mb": int(err.split()[-1]) / 1024}


def threads_section(args, model: Path, texts: list[str]) -> dict:
    from crftag import Tagger

    tagger = Tagger.load(model)
    serial = Tagger.load(model)
    expected = [serial.tag(t) for t in texts]
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
    workers = [threading.Thread(target=worker, args=(k,)) for k in range(args.threads)]
    t0 = time.perf_counter()
    for t in workers:
        t.start()
    mark = 100_000
    while any(t.is_alive() for t in workers):
        time.sleep(0.05)
        if sum(done) >= mark:
            samples.append((mark, round(rss_mb(), 1)))
            mark += 100_000
    for t in workers:
        t.join()
    samples.append((sum(done), round(rss_mb(), 1)))
    out = {"threads": args.threads, "calls": args.calls, "seconds": time.perf_counter() - t0,
           "rss_mb": samples, "mismatches": sum(mismatches), "generations": tagger.type_cache.generations}
    print(f"{args.threads} threads, one Tagger, {args.calls:,} calls in {out['seconds']:.1f} s: "
          f"{out['mismatches']} results differ from serial (cache generations: {out['generations']})")
    print("  RSS (MB) by calls: " + ", ".join(f"{c:,}: {m}" for c, m in samples))
    return out


def stream_section(args, model: Path, texts: list[str]) -> dict:
    lines = [(t + "\n").encode() for t in texts]
    out = {"small": stream(model, lines, args.stream_mb / 10), "large": stream(model, lines, args.stream_mb)}
    for s in out.values():
        print(f"crftag tag, {s['mb']:,.0f} MB on stdin ({s['tweets']:,} tweets): {s['seconds']:.1f} s, "
              f"{s['tweets_per_s']:,.0f} tweets/s ({s['mb_per_s']:.2f} MB/s), "
              f"peak RSS {s['peak_rss_mb']:.0f} MB")
    return out


def small_model(tmp: Path) -> Path:
    """The fuzz test's model: Brown clusters, three gazetteer lists, a conjunction."""
    import numpy as np
    from conftest import FEATURES

    from crftag import train
    from crftag.io.readers import read_conll

    tiny = list(read_conll(ROOT / "tests/fixtures/tiny.conll"))
    words = sorted({t.lower() for s in tiny for t in s.tokens})
    rng = np.random.default_rng(0)
    bits = ["".join(map(str, rng.integers(0, 2, 6))) for _ in words]
    (tmp / "paths").write_text("".join(f"{b}\t{w}\t5\n" for b, w in zip(bits, words, strict=True)))
    gaz = tmp / "gaz"
    gaz.mkdir(exist_ok=True)
    (gaz / "person").write_text("barack obama\ntim cook\ntaylor swift\n")
    (gaz / "city").write_text("new york\nparis\nlondon\nlos angeles\n")
    (gaz / "team").write_text("lakers\nknicks\n")
    (tmp / "fuzz.toml").write_text(FEATURES.format(brown=tmp / "paths", gaz=gaz))
    path = tmp / "fuzz.crftag"
    train(tiny, features=str(tmp / "fuzz.toml"), max_iterations=30).save(path)
    return path


def fuzz_section(args, model: Path, tmp: Path) -> dict:
    out = {}
    for name, path, n in (("small model", small_model(tmp), args.fuzz),
                          ("default model", model, args.fuzz_default)):
        if not n:
            continue
        r = subprocess.run([sys.executable, str(ROOT / "tests/modelfuzz.py"), str(path), str(n), "11"],
                           capture_output=True, text=True, env=child_env())
        if r.returncode != 0:
            raise SystemExit(f"model fuzzer failed on the {name}: {r.stderr[-2000:]}")
        summary = json.loads(r.stdout.strip().splitlines()[-1])
        out[name] = summary
        print(f"model fuzz, {name} ({path.stat().st_size / 1e3:,.0f} KB): {summary['mutations']:,} mutated "
              f"files, {summary['refused']:,} refused in one line, {summary['tagged']:,} tagged safely and "
              f"identically in two loads, none crashed ({summary['seconds']:.0f} s)")
    return out


def _timed_load(path: Path) -> dict:
    code = ("import sys, time\nfrom crftag import Tagger\nfrom crftag.errors import ModelError\n"
            "t0 = time.perf_counter()\ntry:\n    t = Tagger.load(sys.argv[1])\n"
            "    n = sum(len(t.tag(x)) for x in ['Obama in New York', 'Tim Cook at the Lakers game'])\n"
            "    what = f'loaded, tagged ({n} entities)'\nexcept ModelError as e:\n"
            "    what = 'refused: ' + str(e).split(': ', 1)[1]\n"
            "print(what)\nprint(time.perf_counter() - t0)\n"
            "print(next(int(x.split()[1]) for x in open('/proc/self/status') if x.startswith('VmHWM:')))")
    r = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True,
                       env=child_env())
    if r.returncode != 0:
        return {"outcome": f"CRASHED (status {r.returncode})", "stderr": r.stderr[-500:]}
    what, seconds, peak = r.stdout.strip().splitlines()[-3:]
    return {"outcome": what, "seconds": float(seconds), "peak_rss_mb": int(peak) / 1024}


def attacks_section(args, tmp: Path) -> dict:
    import modelfuzz
    import numpy as np

    base = small_model(tmp) if not (tmp / "fuzz.crftag").exists() else tmp / "fuzz.crftag"
    members = modelfuzz.read_members(base)
    meta = json.loads(members["meta.json"])
    arrays = {n[7:-4]: b for n, b in members.items() if n.startswith("arrays/")}
    out = {}
    keys = modelfuzz.from_npy(arrays["lex_gaz_keys"])
    filler = np.unique(np.concatenate([keys, np.random.default_rng(0).integers(
        0, 2**63, 16_000_000, dtype=np.uint64) * np.uint64(2) + np.uint64(1)]))
    a = dict(arrays, lex_gaz_keys=modelfuzz.to_npy(filler))
    p = tmp / "attack.crftag"
    modelfuzz.write_model(p, json.loads(json.dumps(meta)), a, stored=True)
    out["16M filler gazetteer keys, masks not matching"] = _timed_load(p)
    masks = np.zeros(len(filler), dtype=np.uint64)
    masks[np.searchsorted(filler, keys)] = modelfuzz.from_npy(arrays["lex_gaz_masks"])
    a["lex_gaz_masks"] = modelfuzz.to_npy(masks)
    modelfuzz.write_model(p, json.loads(json.dumps(meta)), a, stored=True)
    out["16M filler gazetteer keys, consistent"] = _timed_load(p)
    m = json.loads(json.dumps(meta))
    m["lexicon"]["gazetteer_lists"] = ["x"]
    modelfuzz.write_model(p, m, dict(arrays))
    out["meta.json gazetteer_lists set to ['x']"] = _timed_load(p)
    m = json.loads(json.dumps(meta))
    m["feature_set"]["groups"]["lower"]["window"] = list(range(-2500, 2500))
    modelfuzz.write_model(p, m, dict(arrays))
    out["window of 5,000 offsets"] = _timed_load(p)
    big = modelfuzz.to_npy(np.zeros((1 << 28) // 8))  # 256 MiB of zeros each, deflated to 256 KB
    modelfuzz.write_model(p, json.loads(json.dumps(meta)), {**arrays, **{f"pad{i}": big for i in range(5)}})
    out[f"5 members of 256 MiB ({p.stat().st_size / 1e6:.1f} MB file)"] = _timed_load(p)
    for name, r in out.items():
        timing = f" in {r['seconds']:.2f} s, peak RSS {r['peak_rss_mb']:.0f} MB" if "seconds" in r else ""
        print(f"attack, {name}: {r['outcome']}{timing}")
    return out


def tokenizer_section(args, model: Path) -> dict:
    from crftag import Tagger

    tagger = Tagger.load(model)
    tagger.tag("warm up")
    sizes = [1 << k for k in range(13, 19 if args.quick else 21)]  # 8 KiB doubling to 256 KiB or 1 MiB
    out = {}
    for pattern in (".-", "a+", "a@", "x."):
        rows = []
        for n in sizes:
            text = (pattern * (n // len(pattern) + 1))[:n]
            t0 = time.perf_counter()
            tagger.tag(text)
            rows.append((n, time.perf_counter() - t0))
        out[pattern] = rows
        per_mb = [s / (n / 1e6) for n, s in rows]
        print(f"Tagger.tag({pattern!r} * k): " + ", ".join(f"{n >> 10:,} KiB {s:.3f} s" for n, s in rows)
              + f"; s per MB from {min(per_mb):.2f} to {max(per_mb):.2f} (ratio last/first size "
              f"{rows[-1][1] / rows[0][1]:.0f}x for {rows[-1][0] // rows[0][0]}x the text)")
    return out


def lines_section(args, model: Path, tmp: Path) -> dict:
    out = {}
    cases = [("1 MB line of distinct words", 1 << 20, ["--max-tokens", "500000"])]
    cases += [("4 MB line", 4 << 20, [])] if args.quick else [("16 MB line", 16 << 20, []),
                                                              ("100 MB line", 100 << 20, [])]
    for name, size, extra in cases:
        p = tmp / "line.txt"
        with p.open("w") as fh:
            written = 0
            i = 0
            while written < size - 1:
                chunk = " ".join(f"w{j:x}" for j in range(i, i + 10_000)) + " "
                chunk = chunk[:size - 1 - written]
                fh.write(chunk)
                written += len(chunk)
                i += 10_000
            fh.write("\n")
        code, err, seconds, peak = run_peak(["tag", "-m", str(model), str(p), "-o", str(tmp / "out.txt"),
                                             *extra])
        out[name] = {"status": code, "stderr": err, "seconds": seconds, "peak_rss_mb": peak}
        print(f"crftag tag, {name}: status {code} in {seconds:.1f} s, peak RSS {peak:.0f} MB"
              + (f" ({err.strip()[:90]}...)" if err.strip() else ""))
    return out


def signals_section(args, model: Path) -> dict:
    import random

    from test_reliability import _handlers_installed

    rng = random.Random(0)
    results = {"one line": 0, "other": []}
    n = 20 if args.quick else 60
    for i in range(n):
        sig = signal.SIGINT if i % 2 else signal.SIGTERM
        proc = subprocess.Popen([sys.executable, "-m", "crftag", "tag", "-m", str(model)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, env=child_env(),
                                # a background job inherits SIGINT ignored, and crftag keeps it so
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        while not _handlers_installed(proc.pid) and proc.poll() is None:
            time.sleep(0.001)
        time.sleep(rng.uniform(0, 1.0))
        proc.send_signal(sig)
        _, err = proc.communicate()
        want = (130, "crftag: interrupted\n") if sig == signal.SIGINT else (143, "crftag: terminated\n")
        if (proc.returncode, err) == want:
            results["one line"] += 1
        else:
            results["other"].append((proc.returncode, err[-300:]))
    print(f"signals in the first second of crftag tag: {results['one line']} of {n} stopped with one line "
          f"and the right status")
    return results


def downloads_section(args, tmp: Path) -> dict:
    from test_downloads import DIGEST, PAYLOAD, RawServer, _header

    from crftag.errors import ResourceError
    from crftag.resources.registry import download

    def trickle(conn):
        conn.sendall(_header(len(PAYLOAD)))
        for b in PAYLOAD:
            conn.sendall(bytes([b]))
            time.sleep(0.5)

    def endless(conn):
        conn.sendall(_header())
        while True:
            conn.sendall(b"x" * 65536)

    out = {}
    for name, respond, kw in (("trickle, a byte every 0.5 s, deadline 3 s", trickle, {"deadline": 3.0}),
                              ("endless response, expected size 1,000 bytes", endless, {})):
        server = RawServer(respond)
        target = tmp / "dl" / "file"
        t0 = time.perf_counter()
        try:
            download(server.url, target, DIGEST, size=len(PAYLOAD), backoff=0.1, **kw)
            what = "saved"
        except ResourceError as exc:
            what = str(exc).split(": ", 1)[1]
        seconds = time.perf_counter() - t0
        kept = sum(f.stat().st_size for f in target.parent.iterdir()) if target.parent.exists() else 0
        server.close()
        out[name] = {"outcome": what, "seconds": seconds, "bytes_kept": kept}
        print(f"download, {name}: stopped after {seconds:.1f} s ({what}); {kept} bytes kept")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="every section, small (about 10 minutes)")
    ap.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections")
    ap.add_argument("--calls", type=int, default=None)
    ap.add_argument("--threads", type=int, default=16)
    ap.add_argument("--stream-mb", type=float, default=None)
    ap.add_argument("--fuzz", type=int, default=None, help="mutated copies of the small model")
    ap.add_argument("--fuzz-default", type=int, default=None, help="mutated copies of the default model")
    ap.add_argument("--out", default="bench/results")
    args = ap.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # each line as it is measured, into a log too
    args.calls = args.calls or (20_000 if args.quick else 1_000_000)
    args.stream_mb = args.stream_mb or (10 if args.quick else 1024)
    args.fuzz = args.fuzz if args.fuzz is not None else (300 if args.quick else 3000)
    args.fuzz_default = args.fuzz_default if args.fuzz_default is not None else (20 if args.quick else 200)
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(only) - set(SECTIONS)
    if unknown:
        raise SystemExit(f"unknown sections: {', '.join(sorted(unknown))}; known: {', '.join(SECTIONS)}")

    from crftag import train
    from crftag.io.readers import read_conll
    from crftag.resources.registry import default_registry

    reg = default_registry()
    tmp = Path(tempfile.mkdtemp(prefix="crftag-bench-"))
    try:
        model = tmp / "model.crftag"
        train(reg.fetch("wnut16:train")).save(model)
        texts = [" ".join(s.tokens) for s in read_conll(reg.fetch("wnut16:dev"))]
        result: dict = {"cores": os.cpu_count(), "quick": args.quick, "sections": only,
                        "model_sha256": hashlib.sha256(model.read_bytes()).hexdigest()}
        run = {"threads": lambda: threads_section(args, model, texts),
               "stream": lambda: stream_section(args, model, texts),
               "fuzz": lambda: fuzz_section(args, model, tmp),
               "attacks": lambda: attacks_section(args, tmp),
               "tokenizer": lambda: tokenizer_section(args, model),
               "lines": lambda: lines_section(args, model, tmp),
               "signals": lambda: signals_section(args, model),
               "downloads": lambda: downloads_section(args, tmp)}
        for section in only:
            result[section] = run[section]()
    finally:  # the model, the fuzzed copies and a 100 MB line: not left in /tmp
        shutil.rmtree(tmp, ignore_errors=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "reliability.json").write_text(json.dumps(result, indent=2))
    print(f"saved {out / 'reliability.json'}")


if __name__ == "__main__":
    main()
