"""Model files are safe: no pickle, verified, and every defect is a clear ModelError."""

import io
import pickle
import zipfile

import numpy as np
import pytest

from crftag.errors import ModelError
from crftag.io.modelfile import FORMAT_VERSION, load_model, save_model
from crftag.tagger import Tagger


@pytest.fixture
def model_file(tmp_path, tiny_crf):
    path = tmp_path / "m.crftag"
    tiny_crf.save(path)
    return path


def test_round_trip_preserves_predictions(model_file, tiny_crf, tiny):
    loaded = Tagger.load(model_file)
    for s in tiny:
        assert loaded.tag_tokens(s.tokens) == tiny_crf.tag_tokens(s.tokens)
    meta, arrays = load_model(model_file)
    assert meta["backend"] == "crf" and meta["format_version"] == FORMAT_VERSION
    assert all(a.dtype != object for a in arrays.values())


def test_save_is_deterministic(tmp_path, tiny_crf):
    tiny_crf.save(tmp_path / "a")
    tiny_crf.save(tmp_path / "b")
    assert (tmp_path / "a").read_bytes() == (tmp_path / "b").read_bytes()


def test_truncated_files_are_rejected(tmp_path, model_file):
    """Cut at every 1 KiB boundary, and one byte short of the end."""
    data = model_file.read_bytes()
    for cut in [*range(0, len(data), 1024), len(data) - 1]:
        p = tmp_path / "cut.crftag"
        p.write_bytes(data[:cut])
        with pytest.raises(ModelError):
            Tagger.load(p)


def test_bit_flips_are_detected(tmp_path, model_file):
    data = bytearray(model_file.read_bytes())
    rng = np.random.default_rng(0)
    for pos in rng.integers(0, len(data), 30):
        flipped = bytearray(data)
        flipped[pos] ^= 0x10
        p = tmp_path / "flip.crftag"
        p.write_bytes(bytes(flipped))
        try:
            Tagger.load(p)
        except ModelError:
            continue
        # A flip in zip padding/metadata that changes nothing is acceptable; the model must still work.
        assert Tagger.load(p).labels


def test_pickle_is_refused(tmp_path):
    p = tmp_path / "evil.crftag"
    p.write_bytes(pickle.dumps({"backend": "crf"}))
    with pytest.raises(ModelError, match="this is a pickle"):
        load_model(p)


def test_wrong_version_and_foreign_zip(tmp_path):
    p = tmp_path / "v.crftag"
    save_model(p, {"backend": "crf"}, {"x": np.zeros(2)})
    with zipfile.ZipFile(p) as zf:
        meta = zf.read("meta.json").decode()
        meta = meta.replace(f'"format_version": {FORMAT_VERSION}', '"format_version": 99')
        arr = zf.read("arrays/x.npy")
    with zipfile.ZipFile(p, "w") as zf:
        zf.writestr("meta.json", meta)
        zf.writestr("arrays/x.npy", arr)
    with pytest.raises(ModelError, match="format version 99 is not supported"):
        load_model(p)
    with zipfile.ZipFile(p, "w") as zf:
        zf.writestr("hello.txt", "hi")
    with pytest.raises(ModelError, match=r"unexpected member 'hello\.txt'"):
        load_model(p)


def test_path_traversal_member_is_refused(tmp_path):
    p = tmp_path / "trav.crftag"
    with zipfile.ZipFile(p, "w") as zf:
        zf.writestr("meta.json", "{}")
        zf.writestr("../../etc/evil.npy", "x")
    with pytest.raises(ModelError, match="unexpected member"):
        load_model(p)


def test_object_arrays_are_refused(tmp_path):
    p = tmp_path / "obj.crftag"
    save_model(p, {"backend": "crf"}, {"x": np.zeros(2)})
    buf = io.BytesIO()
    np.save(buf, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    import hashlib
    import json

    with zipfile.ZipFile(p) as zf:
        meta = json.loads(zf.read("meta.json"))
    meta["checksums"]["arrays/x.npy"] = hashlib.sha256(buf.getvalue()).hexdigest()
    raw = json.dumps(meta).encode()
    with zipfile.ZipFile(p, "w") as zf:
        zf.writestr("meta.json", raw)
        zf.writestr("meta.json.sha256", hashlib.sha256(raw).hexdigest())
        zf.writestr("arrays/x.npy", buf.getvalue())
    with pytest.raises(ModelError, match="has dtype object; crftag stores only booleans, integers"):
        load_model(p)


def test_zip_bomb_is_refused(tmp_path):
    p = tmp_path / "bomb.crftag"
    with zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("meta.json", b"{" + b" " * (200 << 20) + b"}")
    with pytest.raises(ModelError, match="implausibly large"):
        load_model(p)


def test_not_a_model(tmp_path):
    p = tmp_path / "x.crftag"
    p.write_text("hello")
    with pytest.raises(ModelError, match="not a crftag model file"):
        load_model(p)
    with pytest.raises(ModelError, match="no such model file"):
        load_model(tmp_path / "missing")


def test_a_fifo_or_a_device_is_refused_without_being_read(tmp_path):
    """Issue 25 item 3: Tagger.load on a FIFO waited for a writer forever, and a symlink to
    /dev/zero was read endlessly; both are refused before a byte is read. Run in a child with a
    deadline, so that a regression fails instead of hanging the suite."""
    import os
    import subprocess
    import sys

    fifo = tmp_path / "fifo.crftag"
    os.mkfifo(fifo)
    zero = tmp_path / "zero.crftag"
    zero.symlink_to("/dev/zero")
    code = ("import sys\nfrom crftag import Tagger\nfrom crftag.errors import ModelError\n"
            "try:\n    Tagger.load(sys.argv[1])\nexcept ModelError as exc:\n    print(exc)\n")
    for path in (fifo, zero):
        r = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True,
                           timeout=60)
        assert r.stdout == f"{path}: not a crftag model file (not a regular file of a plausible size)\n"


def test_inconsistent_arrays_are_refused(tmp_path, model_file):
    """A well-formed archive whose arrays disagree with its labels (checksums re-made) is refused."""
    import hashlib
    import json

    with zipfile.ZipFile(model_file) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    buf = io.BytesIO()
    np.save(buf, np.zeros(3))  # a bias of the wrong length
    members["arrays/bias.npy"] = buf.getvalue()
    meta = json.loads(members["meta.json"])
    meta["checksums"]["arrays/bias.npy"] = hashlib.sha256(buf.getvalue()).hexdigest()
    members["meta.json"] = json.dumps(meta).encode()
    members["meta.json.sha256"] = hashlib.sha256(members["meta.json"]).hexdigest().encode()
    p = tmp_path / "bad.crftag"
    with zipfile.ZipFile(p, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    with pytest.raises(ModelError, match=r"invalid model: array 'bias' has shape \(3,\)"):
        Tagger.load(p)
