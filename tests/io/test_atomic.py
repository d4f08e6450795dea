"""Atomic writes and output checks (crftag.io.atomic) on plain files and devices."""

from __future__ import annotations

import errno
import os
import stat
import subprocess
import sys

import pytest

from crftag.errors import OutputError
from crftag.io.atomic import atomic_write, check_output, clean_stale


def test_atomic_write_keeps_the_mode_of_a_file_it_replaces(tmp_path):
    p = tmp_path / "f"
    p.write_text("x")
    p.chmod(0o640)
    with atomic_write(p) as fh:
        fh.write("y")
    assert p.read_text() == "y" and stat.S_IMODE(p.stat().st_mode) == 0o640


def test_full_disk_while_writing_a_file(tmp_path):
    """ENOSPC while the temporary file is written: one line, and no file left behind."""
    target = tmp_path / "out.txt"
    with pytest.raises(OutputError, match=r"out\.txt: cannot write: No space left on device"), \
            atomic_write(target) as fh:
        fh.write("some output")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))  # what the next write would raise
    assert list(tmp_path.iterdir()) == []


def test_stale_temporaries_are_removed_on_the_next_write(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    target = tmp_path / "m.crftag"
    orphan = tmp_path / f".m.crftag.{dead.pid}.abcd1234.tmp"
    orphan.write_text("half a model")
    live = tmp_path / f".m.crftag.{os.getppid()}.efgh5678.tmp"  # a writer still running
    live.write_text("being written")
    other = tmp_path / f".other.{dead.pid}.abcd1234.tmp"  # another target's
    other.write_text("x")
    with atomic_write(target) as fh:
        fh.write("model")
    assert target.read_text() == "model"
    assert not orphan.exists() and live.exists() and other.exists()
    assert clean_stale(target) == []


def test_check_output_accepts_new_files_and_devices(tmp_path):
    check_output(tmp_path / "new" / "deeper" / "x.txt")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    check_output(fifo)  # not opened (that would block), written through later
    with pytest.raises(OutputError, match="is a directory"):
        check_output(tmp_path)
