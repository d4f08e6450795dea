"""The registry: cache, mirror, download over HTTP from 127.0.0.1, checksum enforcement."""

import hashlib
import http.server
import threading
from functools import partial

import pytest

from crftag.errors import ResourceError
from crftag.resources.registry import Registry, Resource, default_registry, resolve_data

PAYLOAD = b"token\tO\nParis\tB-geo-loc\n\n"
DIGEST = hashlib.sha256(PAYLOAD).hexdigest()


@pytest.fixture
def http_server(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    (root / "small.conll").write_bytes(PAYLOAD)
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _registry(tmp_path, url, digest=DIGEST, mirror=None):
    res = Resource(name="t:small", kind="dataset", path="datasets/t/small", url=url, sha256=digest)
    return Registry({"t:small": res}, cache=tmp_path / "cache", mirror=mirror or tmp_path / "no-mirror")


def test_download_verifies_and_caches(tmp_path, http_server):
    reg = _registry(tmp_path, f"{http_server}/small.conll")
    assert not reg.is_cached("t:small")
    path = reg.fetch("t:small")
    assert path == tmp_path / "cache/datasets/t/small"
    assert path.read_bytes() == PAYLOAD
    assert reg.is_cached("t:small")
    assert reg.fetch("t:small") == path  # second call: from the cache


def test_download_checksum_mismatch_saves_nothing(tmp_path, http_server):
    reg = _registry(tmp_path, f"{http_server}/small.conll", digest="0" * 64)
    with pytest.raises(ResourceError, match="sha256 mismatch"):
        reg.fetch("t:small")
    assert not (tmp_path / "cache/datasets/t").exists() or not any((tmp_path / "cache/datasets/t").iterdir())


def test_download_http_error(tmp_path, http_server):
    reg = _registry(tmp_path, f"{http_server}/missing")
    with pytest.raises(ResourceError, match="download failed"):
        reg.fetch("t:small")


def test_mirror_is_used_and_verified(tmp_path):
    mirror = tmp_path / "mirror"
    (mirror / "datasets/t").mkdir(parents=True)
    (mirror / "datasets/t/small").write_bytes(PAYLOAD)
    reg = _registry(tmp_path, None, mirror=mirror)
    assert reg.fetch("t:small").read_bytes() == PAYLOAD
    (tmp_path / "cache/datasets/t/small").write_bytes(b"tampered")
    with pytest.raises(ResourceError, match="sha256 mismatch"):
        reg.fetch("t:small")
    bad = _registry(tmp_path / "other", None, digest="1" * 64, mirror=mirror)
    with pytest.raises(ResourceError, match="mismatch for t:small in mirror"):
        bad.fetch("t:small")


def test_no_url_and_no_mirror(tmp_path):
    with pytest.raises(ResourceError, match="no download URL"):
        _registry(tmp_path, None).fetch("t:small")


def test_default_registry_lists_required_names():
    reg = default_registry()
    for name in ["wnut16:train", "wnut16:dev", "wnut16:test", "wnut16:train_notypes",
                 "wnut16:dev_notypes", "wnut16:test_notypes", "brown:ark-twitter-6mpaths",
                 "brown:wnut-hege-paths", "clark:wnut-hege-clark32", "lexicons:wnut16",
                 "lexicons:wikidata2016"]:
        res = reg.get(name)
        assert res.url and res.url.startswith("https://")
        assert all(len(d) == 64 for _, _, d in res.members())
    assert len(reg.get("lexicons:wnut16").files) == 51
    with pytest.raises(ResourceError, match="unknown resource 'nope:x'"):
        reg.get("nope:x")


def test_resolve_data_prefers_existing_paths(tmp_path):
    p = tmp_path / "wnut16:train"
    p.write_text("x\tO\n")
    assert resolve_data(p) == p
    with pytest.raises(ResourceError, match="unknown resource"):
        resolve_data("nosuch:thing")


@pytest.mark.data
def test_folder_resource_from_mirror():
    from conftest import registry_file

    path = registry_file("lexicons:wikidata2016")
    assert sorted(p.name for p in path.iterdir() if not p.name.startswith(".")) == sorted(
        default_registry().get("lexicons:wikidata2016").files)
