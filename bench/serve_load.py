"""Load test of ``crftag serve`` on loopback: with and without micro-batching.

    python bench/serve_load.py [--model models/wnut16-crf.crftag] [--concurrency 1,16,64]
                               [--config 1:0 --config 256:2] [--duration 5] [--warmup 1]
                               [--texts-per-request 1] [--out bench/results]

Saves bench/results/serve_load-N-per-request.json.

For each server configuration (``MAX_BATCH:MAX_WAIT_MS``; ``1:0`` is no batching, ``256:2``
the defaults) a server is started on 127.0.0.1 with a free port, and for each concurrency
C an asyncio client keeps C keep-alive connections busy, each sending one request, waiting
for its answer, and sending the next (closed loop), for --warmup seconds (not counted) then
--duration seconds. Requests carry WNUT16 dev tweets (--texts-per-request of them each),
round robin. Every answer is compared byte for byte with what ``Tagger`` gives for the same
tweets in this process: a wrong answer, a status other than 200, a dropped connection or a
timeout counts as an error. Reported: requests/s, tweets/s, p50/p99 latency (client side,
send to last byte), errors, and the server's mean batch size (from its /metrics).

Client and server share the machine: on 2 cores the client takes most of one. The server's
CPU time per request (from /proc) is reported too: it depends less on what else runs.
Bounded: at most --max-requests per cell, every request times out after 10 s, and the
server is stopped (SIGTERM) after each configuration.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REQUEST_TIMEOUT_S = 10.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(model: str, port: int, *options: str) -> subprocess.Popen:
    """`crftag serve` on 127.0.0.1:port with ``options``, once /readyz answers 200."""
    cmd = [sys.executable, "-m", "crftag", "serve", "-m", model, "--host", "127.0.0.1", "--port", str(port),
           "--log-level", "warning", *options]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {proc.stderr.read()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as r:
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("server did not become ready in 120 s")


def stop_server(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def batch_stats(port: int) -> tuple[float, float]:
    """(tagging calls, items tagged) so far, from the server's Prometheus metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    count = float(re.search(r"^crftag_batch_size_count (\S+)$", text, re.M).group(1))
    total = float(re.search(r"^crftag_batch_size_sum (\S+)$", text, re.M).group(1))
    return count, total


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    status, _, body = await read_response_headers(reader)
    return status, body


async def read_response_headers(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    """One response: its status, its headers (names in lower case) and its body."""
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("connection closed")
    status = int(status_line.split()[1])
    headers = {}
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.partition(b":")
        headers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
    return status, headers, await reader.readexactly(int(headers.get("content-length", 0)))


class Cell:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.errors = 0
        self.error_kinds: dict[str, int] = {}
        self.sent = 0

    def error(self, kind: str) -> None:
        self.errors += 1
        self.error_kinds[kind] = self.error_kinds.get(kind, 0) + 1


async def connection(port: int, requests: list[tuple[bytes, bytes]], start: int, stop_at: float,
                     cell: Cell | None, budget: list[int]) -> None:
    """One keep-alive connection in a closed loop until ``stop_at`` (or the request budget)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    i = start
    try:
        while time.perf_counter() < stop_at and budget[0] > 0:
            budget[0] -= 1
            request, expected = requests[i % len(requests)]
            i += 1
            t0 = time.perf_counter()
            try:
                writer.write(request)
                status, body = await asyncio.wait_for(read_response(reader), REQUEST_TIMEOUT_S)
            except (OSError, asyncio.IncompleteReadError, ConnectionError, TimeoutError) as exc:
                if cell is not None:
                    cell.error(type(exc).__name__)
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                continue
            if cell is None:
                continue
            cell.sent += 1
            if status != 200:
                cell.error(f"HTTP {status}")
            elif body != expected:
                cell.error("wrong answer")
            else:
                cell.latencies.append(time.perf_counter() - t0)
    finally:
        writer.close()


async def run_load(port: int, requests: list, concurrency: int, seconds: float, cell: Cell | None,
                   max_requests: int) -> float:
    budget = [max_requests]
    t0 = time.perf_counter()
    stop_at = t0 + seconds
    step = max(len(requests) // concurrency, 1)
    await asyncio.gather(*(connection(port, requests, k * step, stop_at, cell, budget)
                           for k in range(concurrency)))
    return time.perf_counter() - t0


def run(coro):
    """Run the client on uvloop where installed (crftag[serve] brings it): less client CPU."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coro)


def build_requests(model: str, texts: list[str], per_request: int) -> list[tuple[bytes, bytes]]:
    """(HTTP request bytes, the exact answer body Tagger gives) for each group of tweets."""
    from crftag.integrations.batches import Item, tag_items
    from crftag.integrations.serve import encode
    from crftag.tagger import Tagger

    tagger = Tagger.load(model)
    out = []
    for k in range(0, len(texts) - per_request + 1, per_request):
        group = texts[k:k + per_request]
        if per_request == 1:
            body = {"text": group[0]}
            expected = tag_items(tagger, [Item(group[0], None, None, None)])[0]
            # the reference: Tagger.tag's entities, as the answer carries them
            assert expected["entities"] == [e.to_dict() for e in tagger.tag(group[0])]
        else:
            body = {"texts": group}
            expected = {"results": tag_items(tagger, [Item(t, None, None, None) for t in group])}
        payload = json.dumps(body).encode()
        head = (f"POST /v1/tag HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(payload)}\r\n\r\n").encode()
        out.append((head + payload, encode(expected)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=str(ROOT / "models" / "wnut16-crf.crftag"))
    ap.add_argument("--data", default="wnut16:dev", help="Tweets to send (a registry name or file).")
    ap.add_argument("--concurrency", default="1,16,64")
    ap.add_argument("--config", action="append", metavar="MAX_BATCH:MAX_WAIT_MS",
                    help="Server configurations (repeatable); default 1:0 (no batching) and 256:2.")
    ap.add_argument("--duration", type=float, default=5.0)
    ap.add_argument("--warmup", type=float, default=1.0)
    ap.add_argument("--texts-per-request", type=int, default=1)
    ap.add_argument("--max-requests", type=int, default=500_000)
    ap.add_argument("--out", default=str(ROOT / "bench" / "results"))
    args = ap.parse_args()

    from crftag.io.readers import read_labelled
    from crftag.resources.registry import resolve_data

    texts = [" ".join(s.tokens) for s in read_labelled([resolve_data(args.data)], None, "utf-8")]
    requests = build_requests(args.model, texts, args.texts_per_request)
    levels = [int(c) for c in args.concurrency.split(",")]
    configs = args.config or ["1:0", "256:2"]
    print(f"{len(texts)} tweets from {args.data}, {args.texts_per_request} per request; "
          f"{os.cpu_count()} cores; {args.duration:g} s per cell after {args.warmup:g} s of warm-up")
    rows = []
    for config in configs:
        max_batch, max_wait = config.split(":")
        port = free_port()
        proc = start_server(args.model, port, "--max-batch", max_batch, "--max-wait-ms", max_wait)
        try:
            for c in levels:
                run(run_load(port, requests, c, args.warmup, None, args.max_requests))
                calls0, items0 = batch_stats(port)
                cpu0 = cpu_seconds(proc.pid)
                cell = Cell()
                elapsed = run(run_load(port, requests, c, args.duration, cell, args.max_requests))
                cpu1 = cpu_seconds(proc.pid)
                calls1, items1 = batch_stats(port)
                lat = sorted(cell.latencies)
                ok = len(lat)
                row = {"max_batch": int(max_batch), "max_wait_ms": float(max_wait), "concurrency": c,
                       "seconds": round(elapsed, 3), "requests": cell.sent, "ok": ok,
                       "requests_per_s": ok / elapsed,
                       "tweets_per_s": ok * args.texts_per_request / elapsed,
                       "p50_ms": 1000 * statistics.median(lat) if lat else None,
                       "p99_ms": 1000 * lat[min(int(0.99 * ok), ok - 1)] if lat else None,
                       "errors": cell.errors, "error_kinds": cell.error_kinds,
                       "mean_batch": (items1 - items0) / max(calls1 - calls0, 1),
                       "server_cpu_ms_per_request": 1000 * (cpu1 - cpu0) / max(cell.sent, 1)}
                rows.append(row)
                print(json.dumps(row), flush=True)
        finally:
            stop_server(proc)
    print()
    print("| server | concurrency | requests/s | tweets/s | p50 ms | p99 ms | errors | mean batch "
          "| server CPU ms/request |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        name = "no batching (1:0)" if r["max_batch"] == 1 else \
            f"micro-batching ({r['max_batch']}:{r['max_wait_ms']:g})"
        p50 = f"{r['p50_ms']:.2f}" if r["p50_ms"] is not None else "-"
        p99 = f"{r['p99_ms']:.2f}" if r["p99_ms"] is not None else "-"
        print(f"| {name} | {r['concurrency']} | {r['requests_per_s']:,.0f} | {r['tweets_per_s']:,.0f} | "
              f"{p50} | {p99} | {r['errors']} | {r['mean_batch']:.1f} | "
              f"{r['server_cpu_ms_per_request']:.3f} |")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    name = f"serve_load-{args.texts_per_request}-per-request.json"
    (out / name).write_text(json.dumps({"args": vars(args), "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
