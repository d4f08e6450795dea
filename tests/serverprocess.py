"""A `python -m crftag serve` subprocess for tests, raw-socket HTTP helpers, and the answer a
server must give for a text."""

from __future__ import annotations

import http.client
import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from crftag import Tagger
from crftag.io.writers import jsonl_object
from crftag.types import Sentence

TIMEOUT = 30  # seconds any one request, start or stop may take


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A `python -m crftag serve` subprocess on 127.0.0.1; its stderr goes to a file."""

    def __init__(self, model: Path, log: Path, *args: str, open_files: int | None = None):
        self.port = free_port()
        self.log = log
        with open(log, "wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "crftag", "serve", "-m", str(model), "--host", "127.0.0.1",
                 "--port", str(self.port), *args], stdout=subprocess.DEVNULL, stderr=err,
                preexec_fn=None if open_files is None else lambda: _limit_open_files(open_files))
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited {self.proc.returncode}: {log.read_text()}")
            try:
                if self.request("GET", "/readyz", timeout=2)[0] == 200:
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise AssertionError("server not ready in 300 s")

    def request(self, method: str, path: str, body: bytes | dict | None = None,
                headers: dict | None = None, timeout: float = TIMEOUT) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            if isinstance(body, dict):
                body = json.dumps(body).encode()
                headers = {"Content-Type": "application/json", **(headers or {})}
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def tag(self, body: dict) -> dict:
        status, data = self.request("POST", "/v1/tag", body)
        assert status == 200, data
        return json.loads(data)

    def metric(self, line_start: str) -> float:
        text = self.request("GET", "/metrics")[1].decode()
        for line in text.splitlines():
            if line.startswith(line_start + " "):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("server did not stop in time") from None


def response_length(response: bytes) -> int:
    for line in response.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":")[1])
    return 0


def recv_response(s: socket.socket) -> bytes:
    """One HTTP response's bytes: the head, then as much body as Content-Length says (or until
    the server closes)."""
    data = b""
    while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < response_length(data):
        more = s.recv(65536)
        if not more:
            break
        data += more
    return data


def read_http(s: socket.socket) -> tuple[int, bytes]:
    head, body = recv_response(s).split(b"\r\n\r\n", 1)
    return int(head.split()[1]), body


def expected(tagger: Tagger, text: str, min_confidence: float | None = None, sid=None) -> dict:
    """What `crftag tag --output-format jsonl` writes for a text (the reference answer)."""
    from crftag.text.tokenize import tokenize

    tokens, spans = tokenize(text)
    tagged = tagger.analyse(Sentence(tokens, text=text, spans=spans, id=sid), min_confidence)
    obj = jsonl_object(tagged)
    assert obj["entities"] == [e.to_dict() for e in tagger.tag(text, min_confidence)]
    return obj


def _limit_open_files(n: int) -> None:
    """In the server's process, before it starts: at most ``n`` open files (ulimit -n)."""
    import resource

    resource.setrlimit(resource.RLIMIT_NOFILE, (n, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))


def read_pipelined(stream) -> tuple[int, bytes]:
    """The next response from ``stream`` (a socket's ``makefile("rb")``): responses to pipelined
    requests arrive back to back, so each is read by its Content-Length, not by what one recv gives."""
    status = int(stream.readline().split()[1])
    length = 0
    while (line := stream.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return status, stream.read(length)
