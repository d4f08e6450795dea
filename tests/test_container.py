"""The container image's build steps, run as a script outside Docker (the Dockerfile's RUN line
calls the same script): a named model and numba's kernels built under a prefix, then a server
started from them that is alive at once, ready without compiling anything, and answers."""

from __future__ import annotations

import http.client
import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "docker" / "build-image.sh"


def test_the_dockerfile_runs_the_script_as_documented():
    text = (ROOT / "Dockerfile").read_text()
    assert "sh /src/docker/build-image.sh" in text and SCRIPT.is_file()
    assert re.search(r"^USER crftag$", text, re.M) and "HEALTHCHECK" in text and "/healthz" in text
    assert re.search(r"^FROM python:3\.\d+-slim$", text, re.M)
    assert "crftag serve" in text and "--host 0.0.0.0" in text
    for env in ("CRFTAG_HOME=/opt/crftag/home", "NUMBA_CACHE_DIR=/opt/crftag/numba-cache"):
        assert env in text  # where the script puts the model and the kernels (its PREFIX)


def _request(port: int, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(method, path, body=body, headers={"Content-Type": "application/json"} if body else {})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


@pytest.mark.data
def test_build_script_then_serve_from_what_it_built(tmp_path, wnut16_train, wnut16_dev, twitter_resources):
    prefix = tmp_path / "opt"
    env = {**os.environ, "SRC": str(ROOT), "PREFIX": str(prefix), "PYTHON": sys.executable,
           "CRFTAG_MODEL": "wnut16-twitter"}
    env.pop("NUMBA_CACHE_DIR", None)
    built = subprocess.run(["sh", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=1500)
    assert built.returncode == 0, built.stderr[-3000:]
    assert "== ready:" in built.stdout and "warm in" in built.stdout
    cache = prefix / "numba-cache"
    kernels = sorted(p.name for p in cache.rglob("*") if p.is_file())
    assert any(name.endswith(".nbi") for name in kernels)
    assert not (prefix / "home" / "datasets").exists()  # the training data is not kept
    assert [p.name for p in (prefix / "home" / "models").iterdir()] == ["wnut16-twitter-v1.crftag"]

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    run_env = {**os.environ, "CRFTAG_HOME": str(prefix / "home"), "NUMBA_CACHE_DIR": str(cache)}
    run_env.pop("CRFTAG_MIRROR", None)  # the image has no data: the model file is all it needs
    proc = subprocess.Popen([sys.executable, "-m", "crftag", "serve", "-m", "wnut16-twitter", "--port",
                             str(port)], env=run_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        status = None
        while time.monotonic() < deadline and status != 200:
            assert proc.poll() is None, proc.stderr.read().decode()
            try:
                status = _request(port, "GET", "/readyz")[0]
            except OSError:
                time.sleep(0.1)
        assert status == 200
        status, body = _request(port, "POST", "/v1/tag", json.dumps({"text": "Tim Cook in London"}).encode())
        assert status == 200 and json.loads(body)["entities"]
        assert sorted(p.name for p in cache.rglob("*") if p.is_file()) == kernels  # nothing compiled
    finally:
        proc.terminate()
        proc.wait(timeout=60)
