"""Named models: built once from a recipe into the cache, byte-identical on every build, found by
name wherever a model file is accepted, or downloaded and refused without the pinned sha256."""

from __future__ import annotations

import hashlib
import http.server
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import crftag.resources.models as named
from crftag import Tagger
from crftag.errors import ResourceError
from crftag.resources.corpora import CORPORA, is_split_ref
from crftag.resources.models import NamedModel, catalogue, lookup, resolve
from crftag.resources.registry import default_registry
from crftag.training import named_model as get


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("CRFTAG_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture
def tiny_recipe(tiny_path, monkeypatch) -> NamedModel:
    spec = NamedModel("tiny-surface", 1, "the fixture, surface features", (str(tiny_path),), str(tiny_path),
                      "surface", 0, {"max_iterations": 20})
    monkeypatch.setattr(named, "catalogue", lambda: {**catalogue(), spec.name: spec})
    return spec


def test_the_catalogue_names_registry_data():
    registry = default_registry()
    for spec in catalogue().values():
        assert spec.version >= 1 and spec.description and spec.features == "twitter"
        for name in (*spec.train, spec.dev):
            if is_split_ref(name):
                assert name.removeprefix("corpus:").split("/")[0] in CORPORA, name
            else:
                assert registry.get(name).sha256, name  # checked on every fetch
        assert spec.sha256 is not None and len(spec.sha256) == 64 and spec.dev_f1 is not None
    with pytest.raises(ResourceError, match="unknown named model 'nope'"):
        lookup("nope")


def test_built_once_cached_and_byte_identical(tiny_recipe, home, tmp_path, monkeypatch, capsys):
    first = get("tiny-surface")
    assert first == home / "models" / "tiny-surface-v1.crftag" and first.is_file()
    assert "building named model tiny-surface v1" in capsys.readouterr().err
    stamp = first.stat().st_mtime_ns
    assert get("tiny-surface") == first and first.stat().st_mtime_ns == stamp  # not built again
    assert capsys.readouterr().err == ""
    monkeypatch.setenv("CRFTAG_HOME", str(tmp_path / "other-home"))
    second = get("tiny-surface")
    assert second != first and second.read_bytes() == first.read_bytes()
    tagger = Tagger.load("tiny-surface")  # a name where a path is expected
    assert tagger.meta["named_model"] == {"name": "tiny-surface", "version": 1}
    assert tagger.info()["named_model"]["name"] == "tiny-surface"
    assert resolve("tiny-surface") == os.fspath(second)
    assert resolve("not-a-model.crftag") == "not-a-model.crftag"  # a path stays a path
    pytest.importorskip("starlette")
    from crftag.integrations.serve import load_model

    served = load_model("tiny-surface")  # the server's loader takes a name too, and serves its digest
    assert served.path == os.fspath(second)
    assert served.sha256 == hashlib.sha256(second.read_bytes()).hexdigest()
    monkeypatch.setenv("CRFTAG_HOME", str(tmp_path / "empty-home"))
    with pytest.raises(ResourceError, match="crftag models get tiny-surface"):
        Tagger.load("tiny-surface")  # not on this machine: loading does not train


def test_a_build_that_differs_from_the_pin_is_said(tiny_recipe, home, capsys):
    spec = NamedModel(**{**tiny_recipe.__dict__, "sha256": "0" * 64})
    get(spec)
    assert f"not the pinned {'0' * 64}" in capsys.readouterr().err


class _Files(http.server.BaseHTTPRequestHandler):
    payload = b""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.payload)))
        self.end_headers()
        self.wfile.write(self.payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def published(tiny_crf, tmp_path):
    """A model file served over HTTP on 127.0.0.1: its URL and sha256."""
    tiny_crf.save(tmp_path / "published.crftag")
    _Files.payload = (tmp_path / "published.crftag").read_bytes()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Files)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/published.crftag"
    yield url, hashlib.sha256(_Files.payload).hexdigest()
    server.shutdown()


def test_download_is_checked_against_the_pinned_sha256(published, home, tiny_path):
    url, digest = published
    base = NamedModel("tiny-published", 1, "x", (str(tiny_path),))
    with pytest.raises(ResourceError, match="no download is published"):
        get(base, download_it=True)
    wrong = NamedModel(**{**base.__dict__, "url": url, "sha256": "f" * 64})
    with pytest.raises(ResourceError, match="sha256 mismatch"):
        get(wrong, download_it=True)
    assert not wrong.path().exists() and not any(p.is_file() for p in (home / "models").iterdir())
    good = NamedModel(**{**base.__dict__, "url": url, "sha256": digest})
    path = get(good, download_it=True)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    assert Tagger.load(path).labels


@pytest.mark.data
def test_wnut16_twitter_is_the_same_file_in_two_clean_caches(tmp_path, wnut16_train, wnut16_dev,
                                                             twitter_resources):
    """`crftag models get wnut16-twitter` in two empty cache folders: the same bytes, and the
    sha256 and dev F1 pinned in the catalogue."""
    spec = lookup("wnut16-twitter")
    paths = []
    for k in range(2):
        env = {**os.environ, "CRFTAG_HOME": str(tmp_path / f"home{k}")}
        r = subprocess.run([sys.executable, "-m", "crftag", "models", "get", "wnut16-twitter", "-q"], env=env,
                           capture_output=True, text=True, timeout=900)
        assert r.returncode == 0, r.stderr
        paths.append(Path(r.stdout.strip()))
    assert paths[0] != paths[1] and paths[0].read_bytes() == paths[1].read_bytes()
    assert hashlib.sha256(paths[0].read_bytes()).hexdigest() == spec.sha256
    tagger = Tagger.load(paths[0])
    assert round(tagger.meta["dev_scores"]["overall"]["f1"], 2) == spec.dev_f1
