"""``crftag serve`` under abuse and under reloads: what ordinary clients see.

    python bench/serve_robustness.py [--model models/wnut16-crf.crftag]
                                     [--other-model models/wnut16-crf-train-only.crftag]
                                     [--slow 200] [--requests 300] [--part slow,reload]
                                     [--server-option=--header-timeout=10 ...] [--out bench/results]

Saves bench/results/serve_robustness.json.

**slow**: a server with the default limits (plus any --server-option). Ordinary requests (one
WNUT16 dev tweet each, on a new connection, one after another) are timed alone, then (on the
next tweets: both times text the server has not seen, so no answer comes from its cache) while
--slow connections are open that sent nothing, half a head or half a body (a third each) and
one client streams an endless header line as fast as the server reads it. Reported: p50/p99
latency and requests that took over 10 s, both times; what the endless header got and how
many bytes it sent; the server's resident memory; and how each slow connection ended, waited
for until 15 s after the header and body deadlines.

**reload**: for 1 and 2 workers, and reloads by ``POST /admin/reload`` and by SIGHUP, 6
clients (3 on keep-alive connections, 3 on a new connection per request) send requests of 20
tweets without pause while the model file is replaced by --other-model and reloaded, then by
--model and reloaded again. Every answer is checked against what ``Tagger`` gives for the
model the answer names (``X-Crftag-Model-Sha256``): "wrong" counts answers that are not
exactly one model's; "lost" counts requests sent that got no complete answer.

Client and server share the machine (2 cores here): the latencies include the client's time.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import shutil
import signal
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from common import rss_mb
from serve_load import build_requests, free_port, read_response_headers, run, start_server, stop_server

ROOT = Path(__file__).resolve().parent.parent
REQUEST_TIMEOUT_S = 10.0


def quantiles_ms(seconds: list[float]) -> dict:
    q = statistics.quantiles(seconds, n=100)
    return {"p50_ms": round(1000 * statistics.median(seconds), 2), "p99_ms": round(1000 * q[98], 2),
            "over_10_s": sum(s >= REQUEST_TIMEOUT_S for s in seconds), "n": len(seconds)}


async def ordinary(port: int, requests: list[tuple[bytes, bytes]], n: int, start: int = 0) -> list[float]:
    """Seconds each of ``n`` requests took (each on a new connection; a timeout counts 10 s),
    sending ``requests[start:start + n]``."""
    seconds = []
    for i in range(start, start + n):
        request, expected = requests[i % len(requests)]
        t0 = time.perf_counter()
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port),
                                                    REQUEST_TIMEOUT_S)
            writer.write(request)
            status, _, body = await asyncio.wait_for(read_response_headers(reader), REQUEST_TIMEOUT_S)
            writer.close()
            if status != 200 or body != expected:
                raise SystemExit(f"wrong answer: {status} {body[:200]!r}")
            seconds.append(time.perf_counter() - t0)
        except (OSError, TimeoutError, asyncio.IncompleteReadError):
            seconds.append(REQUEST_TIMEOUT_S)
    return seconds


async def slow_connection(port: int, kind: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    if kind == "half a head":
        writer.write(b"POST /v1/tag HTTP/1.1\r\nHost: t\r\nContent-")
    elif kind == "half a body":
        writer.write(b"POST /v1/tag HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 100\r\n\r\n{\"text\": ")
    return reader, writer


async def ending(reader: asyncio.StreamReader, wait_s: float) -> str:
    """How a slow connection ended: the status it got, closed without a word, or still open."""
    try:
        line = await asyncio.wait_for(reader.readline(), wait_s)
    except TimeoutError:
        return "still open"
    except OSError:
        return "reset"
    return line.split()[1].decode() if line.startswith(b"HTTP/") else "closed without an answer"


async def endless_header(port: int, stop: asyncio.Event) -> dict:
    """A header line that never ends, sent as fast as the server takes it, until an answer comes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    answer = asyncio.create_task(reader.readline())
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Endless: ")
    sent, chunk, t0 = 0, b"a" * 4096, time.perf_counter()
    try:
        while not stop.is_set() and not answer.done():
            writer.write(chunk)
            await writer.drain()
            sent += len(chunk)
            await asyncio.sleep(0)  # drain() need not yield: let the reader see an answer
    except OSError:
        pass
    try:
        line = await asyncio.wait_for(answer, 2)
    except (OSError, TimeoutError):
        line = b""
    writer.close()
    return {"answer": line.strip().decode("latin-1") or None, "bytes_written": sent,
            "seconds": round(time.perf_counter() - t0, 3)}


async def slow_part(port: int, pid: int, requests: list, n_slow: int, n_requests: int, wait_s: float) -> dict:
    alone = await ordinary(port, requests, n_requests)
    rss_before = rss_mb(pid)
    kinds = ["nothing", "half a head", "half a body"]
    slow = [(kinds[i % 3], await slow_connection(port, kinds[i % 3])) for i in range(n_slow)]
    stop = asyncio.Event()
    streamer = asyncio.create_task(endless_header(port, stop))
    t_open = time.perf_counter()
    beside = await ordinary(port, requests, n_requests, start=n_requests)
    measured_in = time.perf_counter() - t_open
    rss_during = rss_mb(pid)
    stop.set()
    endless = await streamer
    endings: dict[str, dict[str, int]] = {k: {} for k in kinds}
    results = await asyncio.gather(*(ending(reader, wait_s) for _, (reader, _) in slow))
    for (kind, (_, writer)), end in zip(slow, results, strict=True):
        endings[kind][end] = endings[kind].get(end, 0) + 1
        writer.close()
    return {"alone": quantiles_ms(alone), "beside_slow": quantiles_ms(beside),
            "beside_measured_within_s": round(measured_in, 2), "endless_header": endless,
            "rss_mb": {"before": round(rss_before, 1), "during": round(rss_during, 1)},
            "slow_connections": n_slow, "endings": endings}


async def reload_client(port: int, request: bytes, want: dict[str, bytes], keep_alive: bool,
                        stop: asyncio.Event, tally: dict) -> None:
    writer = reader = None
    while not stop.is_set():
        tally["sent"] += 1
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(request)
            status, headers, body = await asyncio.wait_for(read_response_headers(reader), REQUEST_TIMEOUT_S)
        except (OSError, TimeoutError, asyncio.IncompleteReadError, ConnectionError) as exc:
            tally["lost"] += 1
            tally["lost_kinds"][type(exc).__name__] = tally["lost_kinds"].get(type(exc).__name__, 0) + 1
            if writer is not None:
                writer.close()
            writer = None
            continue
        tally["answered"] += 1
        sha = headers.get("x-crftag-model-sha256")
        tally["models"].add(sha)
        if status != 200 or body != want.get(sha):
            tally["wrong"] += 1
        if not keep_alive or headers.get("connection", "").lower() == "close":
            writer.close()
            writer = None
    if writer is not None:
        writer.close()


async def reload_part(port: int, proc, live: Path, models: list[Path], request: bytes,
                      want: dict[str, bytes], how: str, workers: int) -> dict:
    stop = asyncio.Event()
    tally = {"sent": 0, "answered": 0, "lost": 0, "wrong": 0, "lost_kinds": {}, "models": set()}
    clients = [asyncio.create_task(reload_client(port, request, want, i % 2 == 0, stop, tally))
               for i in range(6)]
    seconds = []
    for path in models:
        await asyncio.sleep(1)
        shutil.copyfile(path, live.with_suffix(".new"))
        os.replace(live.with_suffix(".new"), live)
        sha = hashlib.sha256(path.read_bytes()).hexdigest()
        t0 = time.perf_counter()
        if how == "http":
            await asyncio.to_thread(urllib.request.urlopen, urllib.request.Request(
                f"http://127.0.0.1:{port}/admin/reload", method="POST"), timeout=120)
        else:
            proc.send_signal(signal.SIGHUP)
        while not await asyncio.to_thread(_all_serve, port, sha, 4 * workers):
            if time.perf_counter() - t0 > 180:
                raise SystemExit(f"reload to {path} did not finish in 180 s")
            await asyncio.sleep(0.2)
        seconds.append(round(time.perf_counter() - t0, 2))
    await asyncio.sleep(1)
    stop.set()
    await asyncio.gather(*clients)
    tally["models"] = len(tally["models"])
    return {"workers": workers, "reload_by": how, "reload_seconds": seconds, **tally}


def _all_serve(port: int, sha: str, probes: int) -> bool:
    for _ in range(probes):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=10) as r:
            if json.loads(r.read()).get("sha256") != sha:
                return False
    return True


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=str(ROOT / "models" / "wnut16-crf.crftag"))
    ap.add_argument("--other-model", default=str(ROOT / "models" / "wnut16-crf-train-only.crftag"))
    ap.add_argument("--data", default="wnut16:dev", help="Tweets to send (a registry name or file).")
    ap.add_argument("--slow", type=int, default=200, help="Slow connections held open.")
    ap.add_argument("--requests", type=int, default=300, help="Ordinary requests timed, each time.")
    ap.add_argument("--part", default="slow,reload")
    ap.add_argument("--server-option", action="append", default=[],
                    help="Passed to crftag serve in the slow part (repeatable), "
                         "e.g. --server-option=--header-timeout=5.")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results"))
    args = ap.parse_args()

    from crftag.io.readers import read_labelled
    from crftag.resources.registry import resolve_data

    texts = [" ".join(s.tokens) for s in read_labelled([resolve_data(args.data)], None, "utf-8")]
    report: dict = {"args": vars(args), "cores": os.cpu_count()}
    parts = args.part.split(",")
    if "slow" in parts:
        requests = build_requests(args.model, texts, 1)
        port = free_port()
        proc = start_server(args.model, port, *args.server_option)
        try:
            report["slow"] = run(slow_part(port, proc.pid, requests, args.slow, args.requests, 10 + 30 + 15))
        finally:
            stop_server(proc)
        print(json.dumps(report["slow"]), flush=True)
    if "reload" in parts:
        group = texts[:20]
        pairs = {m: build_requests(m, group, 20)[0] for m in (args.model, args.other_model)}
        request = pairs[args.model][0]
        want = {hashlib.sha256(Path(m).read_bytes()).hexdigest(): answer for m, (_, answer) in pairs.items()}
        report["reload"] = []
        with tempfile.TemporaryDirectory() as tmp:
            live = Path(tmp) / "live.crftag"
            for workers in (1, 2):
                for how in ("http", "sighup"):
                    shutil.copyfile(args.model, live)
                    port = free_port()
                    proc = start_server(str(live), port, "--workers", str(workers))
                    try:
                        row = run(reload_part(port, proc, live, [Path(args.other_model), Path(args.model)],
                                              request, want, how, workers))
                    finally:
                        stop_server(proc)
                    report["reload"].append(row)
                    print(json.dumps(row), flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "serve_robustness.json").write_text(json.dumps(report, indent=1))
    if "slow" in report:
        s = report["slow"]
        print(f"\nordinary requests alone: p50 {s['alone']['p50_ms']} ms, p99 {s['alone']['p99_ms']} ms; "
              f"beside {s['slow_connections']} slow connections and an endless header: p50 "
              f"{s['beside_slow']['p50_ms']} ms, p99 {s['beside_slow']['p99_ms']} ms, "
              f"{s['beside_slow']['over_10_s']} over 10 s; endless header: {s['endless_header']}")
    for r in report.get("reload", []):
        print(f"{r['workers']} worker(s), reload by {r['reload_by']}: {r['sent']} sent, {r['answered']} "
              f"answered, {r['lost']} lost, {r['wrong']} wrong or mixed "
              f"(reloads took {r['reload_seconds']} s)")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
