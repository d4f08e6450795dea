"""Outputs: `-o` never destroys anything, and every failure to write is one line.

Nothing here writes to a system device: a FIFO and a pseudo-terminal made by the test stand
in for devices, /dev/full is only ever standard output (it refuses every write), and symlinks
point into the test's own folder.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import pty
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import assert_one_line_error

from crftag.cli.app import main

ROOT = Path(__file__).resolve().parents[2]


def crftag(*args, stdin="Obama visits Paris\n", **kw):
    return subprocess.run([sys.executable, "-m", "crftag", *map(str, args)], input=stdin, capture_output=True,
                          text=True, timeout=300, **kw)


def run_main(argv):
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main([str(a) for a in argv])
        except SystemExit as exc:
            code = exc.code or 0
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def model(tiny_model_path):
    return tiny_model_path


# -- what is at the output path is never replaced by a regular file -------------------------------

def test_output_to_a_fifo_is_written_through(model, tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_text()))
    reader.start()
    r = crftag("tag", "-m", model, "--output-format", "text", "-o", fifo)
    reader.join(timeout=60)
    assert r.returncode == 0, r.stderr
    assert got == ["[Obama|person] visits [Paris|geo-loc]\n"]
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)  # still a FIFO, not a regular file


def test_output_to_a_character_device_is_written_through(model):
    """A pseudo-terminal this test opens stands in for /dev/null: written to, never replaced."""
    master, slave = pty.openpty()
    device = os.ttyname(slave)
    try:
        r = crftag("tag", "-m", model, "--output-format", "text", "-o", device)
        assert r.returncode == 0, r.stderr
        assert stat.S_ISCHR(os.stat(device).st_mode)
        time.sleep(0.1)
        assert b"[Paris|geo-loc]" in os.read(master, 4096)
    finally:
        os.close(slave)
        os.close(master)


def test_output_through_a_symlink_keeps_the_link(model, tmp_path):
    target = tmp_path / "real.txt"
    target.write_text("old\n")
    link = tmp_path / "link.txt"
    link.symlink_to(target)
    r = crftag("tag", "-m", model, "--output-format", "text", "-o", link)
    assert r.returncode == 0, r.stderr
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_text() == "[Obama|person] visits [Paris|geo-loc]\n"




# -- an output that is also an input is refused ----------------------------------------------------

def test_tag_output_equal_to_an_input_is_refused(model, tmp_path):
    src = tmp_path / "tweets.txt"
    src.write_text("Obama visits Paris\n")
    r = crftag("tag", "-m", model, src, "-o", src)
    assert_one_line_error(r, f"{src}: is also an input ({src}); refusing to overwrite it")
    assert src.read_text() == "Obama visits Paris\n"
    link = tmp_path / "alias.txt"
    link.symlink_to(src)
    assert_one_line_error(crftag("tag", "-m", model, src, "-o", link), "is also an input")
    before = model.read_bytes()
    assert_one_line_error(crftag("tag", "-m", model, src, "-o", model), "is also an input")
    assert model.read_bytes() == before


def test_train_output_equal_to_its_data_is_refused(tmp_path, tiny_path):
    data = tmp_path / "data.conll"
    data.write_bytes(tiny_path.read_bytes())
    r = crftag("train", data, "--features", "surface", "-o", data)
    assert_one_line_error(r, "is also an input")
    assert data.read_bytes() == tiny_path.read_bytes()


def test_split_outputs_may_not_clash(tmp_path, tiny_path):
    r = crftag("split", tiny_path, "--train-out", tmp_path / "a.conll", "--dev-out", tmp_path / "a.conll")
    assert_one_line_error(r, "is also --train-out")


def test_an_output_that_is_a_corpus_split_file_is_refused(model, tmp_path):
    """A corpus split (corpus:NAME/SPLIT) reads registry files from the cache: none of them may
    be written over by `split` or `eval --write-predictions`."""
    env = {**os.environ, "CRFTAG_HOME": str(tmp_path / "home")}
    if crftag("fetch", "wnut16:dev", env=env).returncode != 0:
        pytest.skip("wnut16:dev cannot be fetched here")
    dev = tmp_path / "home" / "datasets" / "wnut16" / "dev"
    before = dev.read_bytes()
    r = crftag("split", "corpus:wnut16/dev", "--train-out", dev, "--dev-out", tmp_path / "d.conll", env=env)
    assert_one_line_error(r, "is also an input")
    r = crftag("eval", "-m", model, "corpus:wnut16/dev", "--write-predictions", dev, env=env)
    assert_one_line_error(r, "is also an input")
    assert dev.read_bytes() == before and not (tmp_path / "d.conll").exists()


# -- failures to write are one line, found before the work where possible --------------------------

def test_output_that_is_a_directory(model, tmp_path):
    r = crftag("tag", "-m", model, "-o", tmp_path)
    assert_one_line_error(r, f"{tmp_path}: is a directory")
    r = crftag("train", ROOT / "tests/fixtures/tiny.conll", "--features", "surface", "-o", tmp_path)
    assert_one_line_error(r, "is a directory")


def test_output_under_a_file(model, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    r = crftag("tag", "-m", model, "-o", blocker / "out.txt")
    assert_one_line_error(r, "cannot write: Not a directory")
    r = crftag("eval", "-m", model, ROOT / "tests/fixtures/tiny.conll", "--plots", blocker / "plots")
    assert_one_line_error(r, "cannot write: Not a directory")


def test_train_checks_its_output_before_training(tmp_path, tiny_path, monkeypatch):
    import importlib

    def no_training(*args, **kwargs):
        raise AssertionError("trained before checking the output")

    monkeypatch.setattr(importlib.import_module("crftag.training"), "train", no_training)
    monkeypatch.setattr(importlib.import_module("crftag.tools.search"), "search", no_training)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, _, err = run_main(["train", tiny_path, "--features", "surface", "-o", blocker / "m.crftag"])
    assert code == 2 and err.count("\n") == 1 and "cannot write: Not a directory" in err
    code, _, err = run_main(["search", tiny_path, "--dev", tiny_path, "-o", blocker / "m.crftag"])
    assert code == 2 and "cannot write: Not a directory" in err


def test_read_only_location(tmp_path, model, monkeypatch):
    """As root a read-only folder is writable, so EROFS is simulated where the file would be
    made; without root, a real read-only folder is tried too."""
    import tempfile

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(tempfile, "mkstemp", read_only)
    code, _, err = run_main(["tag", "-m", model, "-o", tmp_path / "out.txt",
                             ROOT / "tests/fixtures/sample_tweets.txt"])
    assert code == 2 and err == f"crftag: {tmp_path / 'out.txt'}: cannot write: Read-only file system\n"
    monkeypatch.undo()
    if os.geteuid() != 0:
        folder = tmp_path / "ro"
        folder.mkdir()
        folder.chmod(0o555)
        try:
            assert_one_line_error(crftag("tag", "-m", model, "-o", folder / "out.txt"), "Permission denied")
        finally:
            folder.chmod(0o755)


def test_full_disk_on_standard_output(model):
    """ENOSPC: /dev/full as standard output (it refuses every write; nothing replaces it)."""
    with open("/dev/full", "w") as full:
        r = subprocess.run([sys.executable, "-m", "crftag", "tag", "-m", str(model)],
                           input="Obama visits Paris\n" * 2000, stdout=full, stderr=subprocess.PIPE,
                           text=True, timeout=300)
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
    assert "No space left on device" in r.stderr and "Traceback" not in r.stderr




# -- temporary files of killed writers are cleaned up --------------------------------------------



def test_sigkill_during_save_leaves_nothing_after_the_next_save(tmp_path, tiny_crf):
    """A save killed with SIGKILL leaves its temporary file; the next save of the model removes it."""
    target = tmp_path / "m.crftag"
    code = ("import os, signal, sys\nfrom crftag.io.atomic import atomic_write\n"
            "with atomic_write(sys.argv[1], 'wb') as fh:\n    fh.write(b'x' * 1000)\n    fh.flush()\n"
            "    os.kill(os.getpid(), signal.SIGKILL)\n")
    r = subprocess.run([sys.executable, "-c", code, str(target)], env={**os.environ, "PYTHONPATH": str(ROOT)},
                       timeout=60)
    assert r.returncode == -9
    leftovers = [p.name for p in tmp_path.iterdir()]
    assert len(leftovers) == 1 and leftovers[0].startswith(".m.crftag.") and not target.exists()
    tiny_crf.save(target)
    assert [p.name for p in tmp_path.iterdir()] == ["m.crftag"]


