"""`crftag serve`: the real server on 127.0.0.1 (a subprocess, as users start it), and its micro-batcher.

Every server is started on a free loopback port, answers bounded request loops with timeouts,
and is stopped by the test (SIGTERM, then SIGKILL after a timeout)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
pytest.importorskip("prometheus_client")

from serverprocess import TIMEOUT, Server, expected, free_port, read_http, recv_response

from crftag import Tagger, train
from crftag.integrations.serve import (
    BODY_TIMEOUT_S,
    HEADER_TIMEOUT_S,
    KEEP_ALIVE_S,
    MAX_BATCH,
    MAX_BODY_BYTES,
    MAX_CONNECTIONS,
    MAX_HEADER_BYTES,
    MAX_QUEUE_TEXTS,
    MAX_TEXT_CHARS,
    MAX_TEXTS,
    MAX_WAIT_MS,
    MicroBatcher,
    Overloaded,
    is_loopback,
)
from crftag.io.readers import read_conll
from crftag.io.writers import jsonl_object
from crftag.types import Sentence, Tagged

LIMITS = ["--max-texts", "100", "--max-text-chars", "1000", "--max-body-bytes", "200000"]


@pytest.fixture(scope="module")
def model_file(tmp_path_factory, tiny_crf) -> Path:
    from crftag.integrations.serve import load_model

    path = tmp_path_factory.mktemp("serve") / "tiny.crftag"
    tiny_crf.save(path)
    load_model(path)  # compiles (and caches) numba's kernels here, once, before servers start
    return path


@pytest.fixture(scope="module")
def tagger(model_file) -> Tagger:
    return Tagger.load(model_file)


@pytest.fixture(scope="module")
def server(model_file, tmp_path_factory):
    srv = Server(model_file, tmp_path_factory.mktemp("serve-log") / "stderr", *LIMITS, "--access-log")
    yield srv
    assert srv.stop() == 0


def expected_tokens(tagger: Tagger, tokens: list[str], min_confidence: float | None = None) -> dict:
    return jsonl_object(tagger.analyse(Sentence(list(tokens)), min_confidence))


def dev_texts(path: Path) -> list[str]:
    return [" ".join(s.tokens) for s in read_conll(path)]


# -- answers --------------------------------------------------------------------------------------
@pytest.mark.data
def test_answers_equal_tagger_tag_on_wnut16_dev(server, tagger, wnut16_dev):
    texts = dev_texts(wnut16_dev)
    assert len(texts) == 1000
    refs = [expected(tagger, t) for t in texts]
    assert sum(len(r["entities"]) for r in refs) > 100
    # 100 texts a request (the server's --max-texts here), and one request per text from 16 threads
    for k in range(0, len(texts), 100):
        assert server.tag({"texts": texts[k:k + 100]}) == {"results": refs[k:k + 100]}
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda t: server.tag({"text": t}), texts))
    assert answers == refs
    # with a threshold: what Tagger.tag(text, min_confidence) keeps, tags of dropped entities O
    cut = [expected(tagger, t, 0.7) for t in texts[:100]]
    assert server.tag({"texts": texts[:100], "min_confidence": 0.7}) == {"results": cut}
    assert cut != refs[:100]


def test_single_text_answer_is_the_jsonl_line(server, tagger, model_file):
    """The answer to {"text": ...} is byte for byte the line `crftag tag --output-format jsonl` writes."""
    text = "Barack Obama visited Paris today with @mike #nba http://t.co/x"
    status, body = server.request("POST", "/v1/tag", {"text": text, "id": "t1"})
    assert status == 200
    r = subprocess.run([sys.executable, "-m", "crftag", "tag", "-m", str(model_file), "--input-format",
                        "jsonl", "--output-format", "jsonl"], input=json.dumps({"id": "t1", "text": text}),
                       capture_output=True, text=True, timeout=120, check=True)
    want = json.dumps(expected(tagger, text, sid="t1"), ensure_ascii=False) + "\n"
    assert body.decode() == r.stdout == want


def test_tokens_ids_and_item_objects(server, tagger):
    toks = [["Barack", "Obama", "visited", "Paris"], [], ["I", "love", "my", "iPhone", "from", "Apple"]]
    assert server.tag({"tokens": toks}) == {"results": [expected_tokens(tagger, t) for t in toks]}
    got = server.tag({"tokens": [{"id": 3, "tokens": toks[0]}, toks[2]], "min_confidence": 0.9})
    assert got["results"][0] == {"id": 3, **expected_tokens(tagger, toks[0], 0.9)}
    assert got["results"][1] == expected_tokens(tagger, toks[2], 0.9)
    got = server.tag({"texts": [{"id": "a", "text": "Obama in Paris"}, "", "   "]})
    assert got["results"] == [expected(tagger, "Obama in Paris", sid="a"), expected(tagger, ""),
                              expected(tagger, "   ")]
    assert server.tag({"texts": []}) == {"results": []}


def test_awkward_strings_answer_and_round_trip(server, tagger):
    """Lone surrogates (legal in JSON escapes, not in UTF-8), emoji, NUL, RTL: 200, as Tagger.tag."""
    texts = ["\ud800 Obama \udfff in Paris", "\U0001f468\u200d\U0001f469 Obama \x00 \u0645\u0631\u062d\u0628",
             "Ω" * 1000, "e\u0301 Paris\u2028London"]
    for text in texts:
        assert server.tag({"text": text}) == expected(tagger, text)


def test_concurrent_mixed_requests_get_exactly_their_own_answers(server, tagger, tiny):
    """32 threads, 600 requests of every shape and threshold: each answer is its own, in order,
    and the server did join requests into batches."""
    words = [t for s in tiny for t in s.tokens] + ["Obama", "Paris", "@user", "#tag", "New", "York"]
    rng = random.Random(0)

    def make(i: int) -> tuple[dict, dict]:
        r = random.Random(i)
        mc = r.choice([None, None, 0.5, 0.9])
        texts = [" ".join(r.choices(words, k=r.randint(0, 20))) for _ in range(r.randint(1, 12))]
        kind = r.choice(["text", "texts", "tokens"])
        if kind == "text":
            body, want = {"text": texts[0]}, expected(tagger, texts[0], mc)
        elif kind == "texts":
            body, want = {"texts": texts}, {"results": [expected(tagger, t, mc) for t in texts]}
        else:
            lists = [t.split() for t in texts]
            body, want = {"tokens": lists}, {"results": [expected_tokens(tagger, t, mc) for t in lists]}
        if mc is not None:
            body["min_confidence"] = mc
        return body, want

    cases = [make(i) for i in range(600)]
    rng.shuffle(cases)
    calls0, items0 = server.metric("crftag_batch_size_count"), server.metric("crftag_batch_size_sum")
    with ThreadPoolExecutor(32) as pool:
        answers = list(pool.map(lambda case: server.tag(case[0]), cases))
    assert answers == [want for _, want in cases]
    calls = server.metric("crftag_batch_size_count") - calls0
    items = server.metric("crftag_batch_size_sum") - items0
    assert items == sum(len(b.get("texts") or b.get("tokens") or [1]) for b, _ in cases)
    assert calls < len(cases)  # fewer compiled calls than requests: requests were batched


# -- bad input ------------------------------------------------------------------------------------
JSON = {"Content-Type": "application/json"}
BAD = [
    # (body, headers, status, kind)
    (b'{"text": "x"}', {}, 415, "unsupported_media_type"),
    (b'{"text": "x"}', {"Content-Type": "text/plain"}, 415, "unsupported_media_type"),
    (b'{"text": "x"}', {"Content-Type": "application/json; charset=latin-1"}, 415, "unsupported_media_type"),
    (b'{"text": "caf\xe9"}', JSON, 400, "invalid_utf8"),
    (b"\xff\xfe{\x00}\x00", JSON, 400, "invalid_utf8"),
    (b'{"text": ', JSON, 400, "invalid_json"),
    (b'{"text": "x"} trailing', JSON, 400, "invalid_json"),
    (b"", JSON, 400, "invalid_json"),
    (b'{"text": "x", "min_confidence": NaN}', JSON, 400, "invalid_json"),
    (b"[" * 50_000 + b"]" * 50_000, JSON, 400, "invalid_json"),
    (b'{"texts": [' + b"9" * 5000 + b"]}", JSON, 400, "invalid_json"),
    (b'"just a string"', JSON, 422, "invalid_request"),
    (b'["x"]', JSON, 422, "invalid_request"),
    (b"{}", JSON, 422, "invalid_request"),
    (b'{"text": 5}', JSON, 422, "invalid_request"),
    (b'{"text": null}', JSON, 422, "invalid_request"),
    (b'{"text": "x", "texts": ["y"]}', JSON, 422, "invalid_request"),
    (b'{"txt": "x"}', JSON, 422, "invalid_request"),
    (b'{"texts": "x"}', JSON, 422, "invalid_request"),
    (b'{"texts": ["x", 5]}', JSON, 422, "invalid_request"),
    (b'{"texts": [{"id": 1}]}', JSON, 422, "invalid_request"),
    (b'{"texts": [{"text": "x", "extra": 1}]}', JSON, 422, "invalid_request"),
    (b'{"tokens": ["a", "b"]}', JSON, 422, "invalid_request"),
    (b'{"tokens": [["a", ""]]}', JSON, 422, "invalid_request"),
    (b'{"tokens": [["a", 1]]}', JSON, 422, "invalid_request"),
    # the rule of `crftag tag --input-format jsonl` (issue 25 item 13: these were accepted)
    (b'{"tokens": [["a", "b\\tc"]]}', JSON, 422, "invalid_request"),
    (b'{"tokens": [["a\\nb"]]}', JSON, 422, "invalid_request"),
    (b'{"tokens": [["a", "   "]]}', JSON, 422, "invalid_request"),
    (b'{"tokens": [{"id": 1, "tokens": ["x\\r"]}]}', JSON, 422, "invalid_request"),
    (b'{"text": "x", "min_confidence": 2}', JSON, 422, "invalid_request"),
    (b'{"text": "x", "min_confidence": "0.5"}', JSON, 422, "invalid_request"),
    (b'{"text": "x", "min_confidence": true}', JSON, 422, "invalid_request"),
    (b'{"text": "x", "min_confidence": {"person": 2}}', JSON, 422, "invalid_request"),
    (b'{"text": "x", "min_confidence": {"person": "0.5"}}', JSON, 422, "invalid_request"),
    (b'{"text": "x", "min_confidence": []}', JSON, 422, "invalid_request"),
    (json.dumps({"text": "x", "min_confidence": {str(i): 0.5 for i in range(101)}}).encode(), JSON, 422,
     "invalid_request"),
    (b'{"text": "x", "id": true}', JSON, 422, "invalid_request"),
    (b'{"text": "x", "id": [1]}', JSON, 422, "invalid_request"),
    (b'{"texts": ["x"], "id": 1}', JSON, 422, "invalid_request"),
    (json.dumps({"texts": ["x"] * 101}).encode(), JSON, 413, "too_many_texts"),
    (json.dumps({"text": "x" * 1001}).encode(), JSON, 413, "text_too_long"),
    (json.dumps({"texts": ["ok", "y" * 1001]}).encode(), JSON, 413, "text_too_long"),
    (json.dumps({"tokens": [["a" * 500, "b" * 500]]}).encode(), JSON, 413, "text_too_long"),
    (json.dumps({"text": "x" * 300_000}).encode(), JSON, 413, "body_too_large"),
]


@pytest.mark.parametrize(("body", "headers", "status", "kind"), BAD,
                         ids=[f"{i}-{k}" for i, (*_, k) in enumerate(BAD)])
def test_bad_input_is_one_line_4xx_and_the_server_goes_on(server, tagger, body, headers, status, kind):
    before = server.metric(f'crftag_request_errors_total{{kind="{kind}"}}')
    got, answer = server.request("POST", "/v1/tag", body, headers)
    assert (got, json.loads(answer)["kind"]) == (status, kind), answer
    assert answer.endswith(b"\n") and answer.count(b"\n") == 1
    assert set(json.loads(answer)) == {"error", "kind"} and json.loads(answer)["error"]
    assert server.metric(f'crftag_request_errors_total{{kind="{kind}"}}') == before + 1
    assert server.tag({"text": "Obama in Paris"}) == expected(tagger, "Obama in Paris")


def test_wrong_route_and_method(server):
    for method, path, status, kind in [("GET", "/nope", 404, "not_found"),
                                       ("GET", "/v1/tag", 405, "method_not_allowed"),
                                       ("POST", "/healthz", 405, "method_not_allowed")]:
        got, body = server.request(method, path)
        assert (got, json.loads(body)["kind"]) == (status, kind)


def test_oversized_streamed_bodies_are_answered_not_dropped(server, tagger):
    """A body over the cap, declared or chunked, gets its 413 on a connection that stays usable."""
    def raw(head: bytes, chunks: list[bytes]) -> bytes:
        with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as s:
            s.sendall(head)
            for chunk in chunks:
                try:
                    s.sendall(chunk)
                except (BrokenPipeError, ConnectionResetError):
                    break
            return recv_response(s)

    big = b"x" * 65536
    declared = raw(b"POST /v1/tag HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                   b"Content-Length: 1000000\r\n\r\n", [big] * 15)
    assert declared.startswith(b"HTTP/1.1 413") and b'"kind": "body_too_large"' in declared
    chunked = raw(b"POST /v1/tag HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n", [b"10000\r\n" + big + b"\r\n"] * 5 + [b"0\r\n\r\n"])
    assert chunked.startswith(b"HTTP/1.1 413") and b"over 200000 bytes" in chunked
    assert server.tag({"text": "Obama in Paris"}) == expected(tagger, "Obama in Paris")


def test_garbage_on_the_socket_does_not_stop_the_server(server, tagger):
    """Malformed HTTP gets uvicorn's 400; a body cut short by the client gets nothing (it left)."""
    cases = [(b"\x00\xff\xfe garbage\r\n\r\n", b"HTTP/1.1 400 "),
             (b"POST /v1/tag HTTP/1.1\r\nContent-Length: -5\r\n\r\n", b"HTTP/1.1 400 "),
             (b"GET / HTTP/9.9\r\n\r\n", b"HTTP/1.1 400 "),
             (b"POST /v1/tag HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
              b"Content-Length: 10\r\n\r\nab", b"")]
    left = 'crftag_request_errors_total{kind="client_disconnected"}'
    before = server.metric(left)
    for junk, want in cases:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
            s.sendall(junk)
            s.shutdown(socket.SHUT_WR)
            answer = b""
            with contextlib.suppress(OSError):
                answer = s.recv(4096)
            assert answer.startswith(want) and (want or answer == b"")
    deadline = time.monotonic() + TIMEOUT  # the connection closes before the application has counted
    while server.metric(left) < before + 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.metric(left) == before + 1  # only the cut-short body reached the application
    assert server.tag({"text": "Obama in Paris"}) == expected(tagger, "Obama in Paris")


# -- starting: alive at once, ready once compiled ------------------------------------------------------
def test_empty_cache_alive_at_once_ready_after_compiling(model_file, tmp_path):
    """A fresh install (empty numba cache): the port opens before the model is compiled, /healthz
    answers 200 from the start, /readyz and /v1/tag answer 503 with a reason and Retry-After until
    the kernels are compiled, then 200; no request meanwhile gets another 5xx."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba-cache")}
    port = free_port()
    with open(tmp_path / "log", "wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", "crftag", "serve", "-m", str(model_file), "--port",
                                 str(port)], stdout=subprocess.DEVNULL, stderr=err, env=env)
    srv = Server.__new__(Server)
    srv.port, srv.proc, srv.log = port, proc, tmp_path / "log"
    try:
        deadline = time.monotonic() + 60  # the interpreter and uvicorn's imports: seconds
        while True:
            assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "log").read_text()
            with contextlib.suppress(OSError):
                health = srv.request("GET", "/healthz", timeout=2)
                break
            time.sleep(0.05)
        assert health == (200, b'{"alive": true}\n')
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
        conn.request("POST", "/v1/tag", body=b'{"text": "Obama in Paris"}',
                     headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        body = json.loads(resp.read())
        conn.close()
        assert resp.status == 503 and resp.getheader("Retry-After") == "1" and body["kind"] == "not_ready"
        status, ready = srv.request("GET", "/readyz")
        ready = json.loads(ready)
        assert status == 503 and ready["ready"] is False and "compiling" in ready["reason"]
        statuses = set()
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            statuses.add(srv.request("GET", "/healthz")[0])
            status, data = srv.request("POST", "/v1/tag", {"text": "Obama in Paris"})
            statuses.add(status)
            if status == 200:
                break
            time.sleep(0.2)
        assert status == 200 and json.loads(data)["text"] == "Obama in Paris"
        assert statuses <= {200, 503}
        assert srv.request("GET", "/readyz")[0] == 200
        assert '"ready"' in (tmp_path / "log").read_text()  # one structured line when it became ready
    finally:
        assert srv.stop() == 0


def test_a_model_that_fails_to_load_stops_the_server_with_one_line(model_file, tmp_path):
    """The file opens (checked before the port opens) but fails validation while loading behind
    /readyz: the server stops, exit status 2, one line naming the file."""
    from crftag.io.modelfile import load_model, save_model

    meta, arrays = load_model(model_file)
    meta["labels"] = ["O"]  # fewer labels than the weights have columns
    bad = tmp_path / "bad.crftag"
    save_model(bad, meta, arrays)
    proc = subprocess.run([sys.executable, "-m", "crftag", "serve", "-m", str(bad), "--port",
                           str(free_port())], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith(f"crftag: serve: {bad}:") and "Traceback" not in proc.stderr


# -- the other endpoints ----------------------------------------------------------------------------
def test_health_ready_model_and_metrics(server, model_file, tagger):
    assert server.request("GET", "/healthz") == (200, b'{"alive": true}\n')
    status, body = server.request("GET", "/readyz")
    ready = json.loads(body)
    assert status == 200 and ready["ready"] is True
    assert ready["sha256"] == hashlib.sha256(model_file.read_bytes()).hexdigest()
    info = json.loads(subprocess.run([sys.executable, "-m", "crftag", "info", str(model_file), "--json"],
                                     capture_output=True, text=True, timeout=120, check=True).stdout)
    status, body = server.request("GET", "/v1/model")
    assert status == 200 and json.loads(body) == info == json.loads(json.dumps(tagger.info()))
    server.tag({"texts": ["Obama in Paris", "x"]})
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=TIMEOUT)
    conn.request("GET", "/metrics")
    resp = conn.getresponse()
    text = resp.read().decode()
    conn.close()
    assert resp.getheader("Content-Type").startswith("text/plain; version=")
    for name in ("crftag_requests_total{", "crftag_request_errors_total{", "crftag_batch_size_bucket{",
                 "crftag_request_duration_seconds_bucket{", "crftag_texts_tagged_total ",
                 "crftag_queue_texts ", "crftag_model_reloads_total{"):
        assert name in text, name
    assert server.metric('crftag_requests_total{route="/v1/tag",status="200"}') > 0


def test_metrics_a_triage_service_watches(server, tagger, model_file):
    """Entities given out per type and their confidences, the serving model's identity and
    training data, and the process's memory and CPU."""
    texts = ["Barack Obama visited Paris today", "Taylor Swift in New York", "Obama in Paris"]
    given = [e for t in texts for e in tagger.tag(t)]
    types = {e.type for e in given}
    before = {t: server.metric(f'crftag_entities_total{{type="{t}"}}') for t in types}
    count = server.metric("crftag_entity_confidence_count")
    high = server.metric('crftag_entity_confidence_bucket{le="0.5"}')
    server.tag({"texts": texts})
    for t in types:
        added = sum(e.type == t for e in given)
        assert server.metric(f'crftag_entities_total{{type="{t}"}}') == before[t] + added
    assert server.metric("crftag_entity_confidence_count") == count + len(given)
    low = sum(e.score <= 0.5 for e in given)
    assert server.metric('crftag_entity_confidence_bucket{le="0.5"}') == high + low
    text = server.request("GET", "/metrics")[1].decode()
    info = [line for line in text.splitlines() if line.startswith("crftag_model_info{")]
    sha = hashlib.sha256(model_file.read_bytes()).hexdigest()
    assert len(info) == 1 and f'sha256="{sha}"' in info[0] and info[0].endswith(" 1.0")
    assert f'path="{model_file}"' in info[0] and "training_data=" in info[0]
    if sys.platform.startswith("linux"):
        assert server.metric("process_resident_memory_bytes") > 10e6
        assert server.metric("process_cpu_seconds_total") > 0


def test_access_log_is_json_lines(server):
    server.tag({"texts": ["Obama in Paris", "x"]})
    records = [json.loads(line) for line in server.log.read_text().splitlines() if line.startswith("{")]
    tags = [r for r in records if r.get("path") == "/v1/tag" and r["status"] == 200]
    assert tags and {"time", "client", "method", "status", "ms", "texts", "error"} <= set(tags[-1])
    assert tags[-1]["texts"] == 2 and tags[-1]["error"] is None


# -- reload -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def other_model(tiny, tmp_path_factory) -> Path:
    """A second model that tags differently (another feature set)."""
    path = tmp_path_factory.mktemp("serve-other") / "minimal.crftag"
    train(tiny, backend="crf", features="minimal", c1=0.0, c2=0.01, max_iterations=50).save(path)
    return path


def _replace(dst: Path, data: bytes) -> None:
    tmp = dst.with_suffix(".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, dst)


def _wait_for(predicate, what: str, seconds: float = TIMEOUT) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_model_sha256_pins_the_first_load_and_every_reload(model_file, other_model, tmp_path):
    """--model-sha256 (as `crftag tag` has it): another file is refused at start, in one line
    and exit 2, and on reload (422, the pinned model goes on serving)."""
    live = tmp_path / "live.crftag"
    live.write_bytes(model_file.read_bytes())
    pin = hashlib.sha256(model_file.read_bytes()).hexdigest()
    r = subprocess.run([sys.executable, "-m", "crftag", "serve", "-m", str(live), "--port", str(free_port()),
                        "--model-sha256", "0" * 64], capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "sha256" in r.stderr
    srv = Server(live, tmp_path / "stderr", "--admin-token", "t", "--model-sha256", pin)
    try:
        want = srv.tag({"text": "Barack Obama visited Paris today"})
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=TIMEOUT)
        conn.request("POST", "/v1/tag", body=b'{"texts": ["Obama"]}', headers=JSON)
        assert conn.getresponse().getheader("X-Crftag-Model-Sha256") == pin  # which model answered
        conn.close()
        _replace(live, other_model.read_bytes())
        status, body = srv.request("POST", "/admin/reload", headers={"Authorization": "Bearer t"})
        assert status == 422 and json.loads(body)["kind"] == "reload_failed"
        assert "sha256" in json.loads(body)["error"]
        assert json.loads(srv.request("GET", "/readyz")[1])["sha256"] == pin
        assert srv.tag({"text": "Barack Obama visited Paris today"}) == want
    finally:
        assert srv.stop() == 0


def test_a_fifo_or_device_on_reload_is_refused_and_never_wedges(model_file, tmp_path):
    """Issue 25 item 3: a model path that became a FIFO (or a symlink to /dev/zero) wedged
    /admin/reload, every later reload, and shutdown. Each is now a 422 at once, a good file
    reloads after it, and SIGTERM stops the server."""
    live = tmp_path / "live.crftag"
    live.write_bytes(model_file.read_bytes())
    srv = Server(live, tmp_path / "stderr", "--admin-token", "t")
    auth = {"Authorization": "Bearer t"}
    try:
        for make in (os.mkfifo, lambda p: os.symlink("/dev/zero", p)):
            odd = tmp_path / "odd.crftag"
            make(odd)
            os.replace(odd, live)
            t0 = time.monotonic()
            status, body = srv.request("POST", "/admin/reload", headers=auth)
            assert status == 422 and "not a regular file" in json.loads(body)["error"]
            assert time.monotonic() - t0 < 5
        _replace(live, model_file.read_bytes())
        assert srv.request("POST", "/admin/reload", headers=auth)[0] == 200
    finally:
        assert srv.stop() == 0


def test_reload_swaps_a_good_model_and_keeps_the_old_on_a_bad_one(model_file, other_model, tmp_path):
    live = tmp_path / "live.crftag"
    live.write_bytes(model_file.read_bytes())
    a, b = Tagger.load(model_file), Tagger.load(other_model)
    texts = ["Barack Obama visited Paris today", "Watching the Lakers at Staples Center #nba",
             "I love my new iPhone from Apple", "@mike is flying to New York tomorrow"]
    want_a = [expected(a, t) for t in texts]
    want_b = [expected(b, t) for t in texts]
    assert want_a != want_b
    srv = Server(live, tmp_path / "stderr", "--admin-token", "s3cret")
    auth = {"Authorization": "Bearer s3cret"}
    try:
        assert srv.tag({"texts": texts})["results"] == want_a
        assert srv.request("POST", "/admin/reload")[0] == 401
        assert srv.request("POST", "/admin/reload", headers={"Authorization": "Bearer nope"})[0] == 401
        # good file, replaced while 8 threads keep tagging: every answer is A's or B's, none fails
        stop = threading.Event()
        seen: list = []

        def hammer() -> None:
            for _ in range(400):
                if stop.is_set():
                    return
                seen.append(srv.tag({"texts": texts})["results"])

        with ThreadPoolExecutor(8) as pool:
            futures = [pool.submit(hammer) for _ in range(8)]
            time.sleep(0.2)
            _replace(live, other_model.read_bytes())
            status, body = srv.request("POST", "/admin/reload", headers=auth)
            time.sleep(0.2)
            stop.set()
            for f in futures:
                f.result()
        assert status == 200, body
        info = json.loads(body)
        assert info["reloaded"] and info["sha256"] == hashlib.sha256(other_model.read_bytes()).hexdigest()
        assert seen and all(r in (want_a, want_b) for r in seen)
        assert srv.tag({"texts": texts})["results"] == want_b
        assert json.loads(srv.request("GET", "/v1/model")[1])["feature_set"] == "minimal"
        # a corrupt file: 422 with the loader's one line, the old model goes on serving
        _replace(live, other_model.read_bytes()[:2000])
        status, body = srv.request("POST", "/admin/reload", headers=auth)
        assert status == 422 and body.count(b"\n") == 1
        err = json.loads(body)
        assert err["kind"] == "reload_failed" and "corrupted or truncated model file" in err["error"]
        assert err["sha256"] == info["sha256"]
        assert srv.tag({"texts": texts})["results"] == want_b
        # SIGHUP: a good file is swapped in, a bad one is refused (the failure is counted)
        _replace(live, model_file.read_bytes())
        srv.proc.send_signal(signal.SIGHUP)
        sha_a = hashlib.sha256(model_file.read_bytes()).hexdigest()
        _wait_for(lambda: json.loads(srv.request("GET", "/readyz")[1])["sha256"] == sha_a, "SIGHUP reload")
        assert srv.tag({"texts": texts})["results"] == want_a
        failed = srv.metric('crftag_model_reloads_total{result="failed"}')
        _replace(live, b"PK\x03\x04 not really a zip")
        srv.proc.send_signal(signal.SIGHUP)
        _wait_for(lambda: srv.metric('crftag_model_reloads_total{result="failed"}') == failed + 1,
                  "failed SIGHUP reload")
        assert json.loads(srv.request("GET", "/readyz")[1])["sha256"] == sha_a
        assert srv.tag({"texts": texts})["results"] == want_a
        assert srv.metric('crftag_model_reloads_total{result="ok"}') == 2
    finally:
        assert srv.stop() == 0
    log = (tmp_path / "stderr").read_text()
    assert "reload failed (SIGHUP), old model kept" in log and "model reloaded (/admin/reload)" in log


def test_admin_without_token_is_loopback_only():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("127.8.9.10")
    assert not is_loopback("10.0.0.1") and not is_loopback("192.168.1.2") and not is_loopback(None)
    assert not is_loopback("testclient")


# -- shutdown ---------------------------------------------------------------------------------------
def test_sigterm_answers_requests_in_flight_then_exits_0(model_file, tagger, tmp_path):
    """SIGTERM while 8 requests are half sent and 16 threads are tagging: every request already
    accepted is answered in full, new connections are refused, the process exits 0."""
    srv = Server(model_file, tmp_path / "stderr", "--max-wait-ms", "50")
    texts = [f"Barack Obama visited Paris with @user{i} today" for i in range(8)]
    bodies = [json.dumps({"texts": [t] * 20}).encode() for t in texts]
    socks = []
    try:
        for body in bodies:  # headers and half a body each: these requests are in flight
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=TIMEOUT)
            s.sendall(b"POST /v1/tag HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                      b"Content-Length: %d\r\n\r\n" % len(body) + body[:len(body) // 2])
            socks.append(s)
        time.sleep(0.3)
        stop = threading.Event()
        done: list = []

        def busy() -> None:
            while not stop.is_set():
                try:
                    status, data = srv.request("POST", "/v1/tag", {"text": texts[0]})
                except OSError:  # the listener is closed after SIGTERM: no new connection
                    return
                done.append((status, json.loads(data)))

        with ThreadPoolExecutor(16) as pool:
            futures = [pool.submit(busy) for _ in range(16)]
            time.sleep(0.3)
            srv.proc.send_signal(signal.SIGTERM)
            time.sleep(0.5)
            assert srv.proc.poll() is None  # still answering what it accepted
            with pytest.raises(OSError):
                socket.create_connection(("127.0.0.1", srv.port), timeout=2).close()
            for s, body in zip(socks, bodies, strict=True):
                s.sendall(body[len(body) // 2:])
            answers = [read_http(s) for s in socks]
            stop.set()
            for f in futures:
                f.result()
        for text, (status, data) in zip(texts, answers, strict=True):
            assert status == 200
            assert json.loads(data) == {"results": [expected(tagger, text)] * 20}
        assert done and all(status == 200 and obj == expected(tagger, texts[0]) for status, obj in done)
        assert srv.proc.wait(timeout=TIMEOUT) == 0
    finally:
        for s in socks:
            s.close()
        srv.stop(signal.SIGKILL)
    assert "crftag serve: stopped on SIGTERM" in (tmp_path / "stderr").read_text()


def test_workers_answer_and_reload_by_rolling_restart(model_file, other_model, tmp_path):
    """--workers 2: SIGHUP to the main process restarts the workers on the new file; a file
    that fails to load leaves the old workers serving."""
    live = tmp_path / "live.crftag"
    live.write_bytes(model_file.read_bytes())
    srv = Server(live, tmp_path / "stderr", "--workers", "2")
    a = Tagger.load(model_file)
    try:
        assert srv.tag({"text": "Obama in Paris"}) == expected(a, "Obama in Paris")
        _replace(live, b"not a model")
        srv.proc.send_signal(signal.SIGHUP)
        _wait_for(lambda: "aborting the restart" in (tmp_path / "stderr").read_text(), "refused restart", 120)
        for _ in range(10):
            assert srv.tag({"text": "Obama in Paris"}) == expected(a, "Obama in Paris")
        _replace(live, other_model.read_bytes())
        status, body = srv.request("POST", "/admin/reload")  # from loopback: no token needed
        assert status == 202, body
        sha_b = hashlib.sha256(other_model.read_bytes()).hexdigest()
        _wait_for(lambda: all(json.loads(srv.request("GET", "/readyz")[1]).get("sha256") == sha_b
                              for _ in range(6)), "rolling restart", 120)
    finally:
        assert srv.stop() == 0
    log = (tmp_path / "stderr").read_text()
    failed = [json.loads(line) for line in log.splitlines() if "this worker is not started" in line]
    assert len(failed) == 1 and "not a crftag model file" in failed[0]["error"], log
    assert "Traceback" not in log  # the stop-28 server logged a 26-line one for the refused file
    assert "crftag serve: stopped on SIGTERM" in log


# -- the command line -------------------------------------------------------------------------------
def test_serve_help_documents_the_limits_with_their_defaults():
    from crftag.cli.serving import serve as serve_cmd

    defaults = {p.name: p.default for p in serve_cmd.params}
    assert defaults["max_batch"] == MAX_BATCH and defaults["max_wait_ms"] == MAX_WAIT_MS
    assert defaults["max_body_bytes"] == MAX_BODY_BYTES and defaults["max_texts"] == MAX_TEXTS
    assert defaults["max_text_chars"] == MAX_TEXT_CHARS and defaults["max_queue"] == MAX_QUEUE_TEXTS
    assert (defaults["max_header_bytes"], defaults["header_timeout"], defaults["body_timeout"],
            defaults["keep_alive_timeout"], defaults["max_connections"]) == (
        MAX_HEADER_BYTES, HEADER_TIMEOUT_S, BODY_TIMEOUT_S, KEEP_ALIVE_S, MAX_CONNECTIONS)
    r = subprocess.run([sys.executable, "-m", "crftag", "serve", "--help"], capture_output=True, text=True,
                       timeout=60, check=True)
    out = " ".join(r.stdout.split())
    for text in ("--max-body-bytes", "default: 1048576", "--max-texts", "default: 1000", "--max-text-chars",
                 "default: 10000", "--max-batch", "default: 256", "--max-wait-ms", "default: 2.0",
                 "--max-queue", "413 body_too_large", "--max-header-bytes", "default: 16384",
                 "--header-timeout", "default: 10.0", "--body-timeout", "default: 30.0",
                 "--keep-alive-timeout", "default: 5.0", "--max-connections", "431 header_too_large",
                 "408 body_timeout", "Example"):
        assert text in out, text


def test_serve_user_errors_are_one_line_exit_2(model_file, tmp_path):
    def run(*args: str, pre: str = "") -> subprocess.CompletedProcess:
        code = f"{pre}from crftag.cli.app import main; main({list(args)!r})"
        return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)

    cut = tmp_path / "cut.crftag"
    cut.write_bytes(model_file.read_bytes()[:1000])
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        cases = [(run("serve", "-m", str(tmp_path / "none.crftag"), "--port", str(free_port())),
                  "no such model file"),
                 (run("serve", "-m", str(cut), "--port", str(free_port())), "corrupted or truncated"),
                 (run("serve", "-m", str(model_file), "--port", str(busy.getsockname()[1])),
                  f"crftag: cannot listen on 127.0.0.1:{busy.getsockname()[1]}: Address already in use"),
                 (run("serve", "-m", str(model_file), "--max-queue", "5"),
                  "crftag: --max-queue (5) must hold at least one full request (--max-texts 1000)"),
                 (run("serve", "-m", str(model_file), pre="import sys; sys.modules['starlette'] = None; "),
                  "crftag: serve needs the serve extra: pip install 'crftag[serve]' (missing starlette)")]
    for r, message in cases:
        assert r.returncode == 2, r.stderr
        assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
        assert message in r.stderr


# -- the micro-batcher, without HTTP ------------------------------------------------------------------
def test_micro_batcher_gives_each_request_its_own_results():
    """300 concurrent requests of 0-700 items (several larger than a batch) through batches of at
    most 64: every request gets exactly its items' results, in order; one poisoned item fails
    only its own request; the batches mix requests."""
    sizes: list[int] = []
    mixed: list[bool] = []

    def tag(items: list, key=None) -> list:
        if "poison" in items:
            raise ValueError("poisoned batch")
        sizes.append(len(items))
        mixed.append(len({it.split(".")[0] for it in items}) > 1)  # items of several requests
        return [f"r:{it}" for it in items]

    async def main() -> None:
        batcher = MicroBatcher(tag, max_batch=64, max_wait_s=0.002, max_queue=1_000_000)
        batcher.start()
        rng = random.Random(1)
        jobs = [[f"{j}.{k}" for k in range(rng.choice([0, 1, 3, 10, 64, 65, 700]))] for j in range(300)]
        jobs[17] = ["a", "poison", "b"]

        async def one(items: list):
            await asyncio.sleep(rng.random() * 0.01)
            try:
                return await batcher.submit(items)
            except ValueError as exc:
                return exc

        results = await asyncio.gather(*(one(items) for items in jobs))
        await batcher.stop()
        for items, got in zip(jobs, results, strict=True):
            if items is jobs[17]:
                assert isinstance(got, ValueError)
            else:
                assert got == [f"r:{it}" for it in items]
        assert max(sizes) <= 64 and sum(mixed) > 10
        assert sum(sizes) == sum(len(j) for j in jobs if j is not jobs[17])

    asyncio.run(asyncio.wait_for(main(), 120))


def test_micro_batcher_lone_request_does_not_wait_and_queue_is_bounded():
    async def main() -> None:
        gate = threading.Event()

        def tag(items: list, key=None) -> list:
            gate.wait(10)
            return items

        batcher = MicroBatcher(tag, max_batch=8, max_wait_s=5.0, max_queue=10)
        batcher.start()
        gate.set()
        t0 = time.perf_counter()
        assert await batcher.submit(["x"]) == ["x"]
        assert time.perf_counter() - t0 < 2.5  # not the 5 s max wait: nothing else was coming
        gate.clear()  # the tagger stalls: the queue fills up to max_queue, then refuses
        first = asyncio.ensure_future(batcher.submit(["a"]))
        await asyncio.sleep(0.1)
        waiting = asyncio.ensure_future(batcher.submit(list("bcdefghijk")))
        await asyncio.sleep(0.1)
        with pytest.raises(Overloaded):
            await batcher.submit(["z"])
        gate.set()
        assert await first == ["a"] and await waiting == list("bcdefghijk")
        await batcher.stop()

    asyncio.run(asyncio.wait_for(main(), 120))


def test_threshold_equals_tagger_min_confidence(tiny_crf, tiny):
    from crftag.integrations.batches import threshold

    for s in tiny:
        for mc in (0.0, 0.3, 0.6, 0.9, 0.99, 1.0):
            full = tiny_crf.analyse(Sentence(list(s.tokens)))
            cut = tiny_crf.analyse(Sentence(list(s.tokens)), mc)
            got = threshold(full, mc)
            assert isinstance(got, Tagged) and (got.tags, got.entities) == (cut.tags, cut.entities)


def test_micro_batcher_tags_each_request_with_one_key():
    """Issue 25 item 4: during reloads, requests of 8-700 texts got some items from the old model
    and some from the new. A batch now holds one key (the model serving when its request came),
    so every item of a request is tagged with that request's key, even as keys change between
    the batches of a long request."""
    rng = random.Random(7)
    keys = [f"model{i}" for i in range(5)]  # five models, as four reloads under load would bring
    jobs = [(keys[j * len(keys) // 200], [f"{j}.{k}" for k in range(rng.choice([1, 8, 40, 700]))])
            for j in range(200)]
    batches: list[str] = []

    def tag(items: list, key: str) -> list:
        assert {jobs[int(it.split(".")[0])][0] for it in items} == {key}  # one model per batch
        batches.append(key)
        return [f"{key}:{it}" for it in items]

    async def main() -> None:
        batcher = MicroBatcher(tag, max_batch=16, max_wait_s=0.002, max_queue=1_000_000)
        batcher.start()

        async def one(key: str, items: list):
            await asyncio.sleep(rng.random() * 0.02)
            return await batcher.submit(items, key)

        results = await asyncio.gather(*(one(key, items) for key, items in jobs))
        await batcher.stop()
        for (key, items), got in zip(jobs, results, strict=True):
            assert got == [f"{key}:{it}" for it in items]
        assert set(batches) == set(keys)

    asyncio.run(asyncio.wait_for(main(), 120))
