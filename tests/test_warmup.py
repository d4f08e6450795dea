"""``crftag warmup``: after it, nothing the tagger, the bulk engine or the server does compiles;
and where numba's cache goes on an install it cannot write to."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

import crftag
from crftag import jitcache
from crftag.integrations.warmup import warm_up

# Tags in ways warm_up never calls (other texts, the CLI's commands, the server's batches) and prints
# how many kernels numba compiled meanwhile (a kernel found in the cache is loaded, not compiled)
CHILD = r"""
import json, sys
from numba.core import event
compiled = []

class Count(event.Listener):
    def on_start(self, ev):
        compiled.append(getattr(ev.data["dispatcher"], "__name__", "?"))
    def on_end(self, ev):
        pass

event.register("numba:compile", Count())
from click.testing import CliRunner
from crftag import Tagger
from crftag.cli.app import cli
from crftag.integrations.batches import Item, tag_items

model, work = sys.argv[1], sys.argv[2]
tagger = Tagger.load(model)
tagger.tag("Tim Cook visits #London today :)")
tagger.tag("Björk à Paris ❤ #München", min_confidence=0.9)
tagger.tag_batch(["New York Knicks", "ça va"], 0.2)
tagger.tag_tokens(["Barack", "Obama"])
tag_items(tagger, [Item("Obama in Paris", None, 1, 0.3), Item(None, ["Köln"], None, None)])
with open(f"{work}/in.txt", "w", encoding="utf-8") as fh:
    fh.write("Lady Gaga in Berlin\nZoë in Zürich\n")
for args in (["--output-format", "conll"], ["--output-format", "text", "--min-confidence", "0.5"],
             ["--output-format", "jsonl"]):
    result = CliRunner().invoke(cli, ["tag", "-m", model, "-j", "1", f"{work}/in.txt", "-o", f"{work}/out",
                                      *args])
    assert result.exit_code == 0, result.output
print(json.dumps(compiled))
"""


@pytest.mark.parametrize("which", ["tiny", "fuzz"])
def test_after_warmup_nothing_compiles(which, tiny_crf, fuzz_model, tmp_path):
    """``crftag warmup`` on an empty cache (as on a fresh install), then a new process that tags
    through the API, the command line and the server's batches compiles no kernel."""
    if which == "tiny":
        model = tmp_path / "tiny.crftag"
        tiny_crf.save(model)
    else:  # clusters, gazetteers, a conjunction and a first pass: every kind of kernel a model uses
        model = fuzz_model
    cache = tmp_path / "numba-cache"
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache)}
    warm = subprocess.run([sys.executable, "-m", "crftag", "warmup", "-m", str(model)], env=env,
                          capture_output=True, text=True, timeout=900)
    assert warm.returncode == 0, warm.stderr
    lines = warm.stdout.splitlines()
    shared = ["shared"] if (os.cpu_count() or 1) > 1 else []  # what the two processes compiled
    assert [line.split()[0] for line in lines[:-2]] == ["load", *shared, "api", "bulk", "server"]
    assert lines[-2].startswith("warm in ") and f"numba cache: {cache}" in lines[-2]
    assert lines[-1] == f"kernels are for crftag at {os.path.dirname(crftag.__file__)}"
    assert any(cache.rglob("*.nbi"))  # the index files of the kernels it compiled
    # first passes are compiled for a model that has them, and only then
    stacking = sorted(p.name for p in cache.rglob("stacking_*/*.nbi"))  # crftag/stacking/kernel.py
    assert bool(stacking) == (which == "fuzz"), stacking
    child = subprocess.run([sys.executable, "-c", CHILD, str(model), str(tmp_path)], env=env,
                           capture_output=True, text=True, timeout=900)
    assert child.returncode == 0, child.stderr
    assert json.loads(child.stdout.splitlines()[-1]) == []


# The two halves of a two-process warm-up, each in a process of its own on an empty cache; then a
# third that warms a real model up alone, printing what it compiled
HALVES = r"""
import sys
from crftag.integrations import warmup
getattr(warmup, sys.argv[1])()
"""


def test_what_the_second_process_compiles_is_what_a_real_model_uses(tiny_model_path, tmp_path):
    """The tagging pass compiled on a synthetic model (:func:`tagging_pass`) and the model-free
    kernels (:func:`model_free`) are the very specialisations a real model's calls use: after them,
    warming a real model up compiles nothing of the tagging pass, the decoder, the tokeniser or the
    bulk engine (numba types kernels by dtypes and shapes, never values)."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba-cache")}
    for half in ("tagging_pass", "model_free"):
        done = subprocess.run([sys.executable, "-c", HALVES, half], env=env, capture_output=True, text=True,
                              timeout=900)
        assert done.returncode == 0, done.stderr
    code = CHILD.split("from click.testing")[0] + (
        "from crftag import Tagger\n"
        "from crftag.integrations.warmup import warm_up\n"
        "warm_up(Tagger.load(sys.argv[1]), processes=1)\n"
        "from numba import njit\n"
        "def probe(x):\n    return x + 1\n"
        "njit(probe)(1)\n"  # a kernel no cache holds: the listener hears it
        "print(json.dumps(compiled))\n")
    child = subprocess.run([sys.executable, "-c", code, str(tiny_model_path)], env=env, capture_output=True,
                           text=True, timeout=900)
    assert child.returncode == 0, child.stderr
    compiled = json.loads(child.stdout.splitlines()[-1])
    assert compiled[-1:] == ["probe"], compiled
    shared = {"tag_batch", "atomize", "fill_types", "viterbi_into", "score_chunks", "_scan",
              "tokenize_segments", "parse_conll", "format_conll", "format_text", "intern"}
    assert not shared & set(compiled), compiled


def test_a_model_that_fails_to_load_stops_the_second_process(tmp_path):
    """``crftag warmup`` starts compiling in a second process before it loads the model; a model
    that cannot load ends the command in one line, and that process with it."""
    cache = tmp_path / "numba-cache"
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache)}
    done = subprocess.run([sys.executable, "-m", "crftag", "warmup", "-m", str(tmp_path / "none.crftag")],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    assert done.stderr == f"crftag: {tmp_path / 'none.crftag'}: no such model file\n"
    left = []  # processes still running with this test's cache folder in their environment
    for proc in os.listdir("/proc"):
        try:
            with open(f"/proc/{proc}/environ", "rb") as fh:
                if f"NUMBA_CACHE_DIR={cache}".encode() in fh.read().split(b"\0"):
                    left.append(proc)
        except (OSError, ValueError):
            continue
    assert left == []


def _running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie nobody reaped yet does not count)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux ends it (PR_SET_PDEATHSIG)")
def test_the_second_process_ends_with_the_one_that_started_it(tmp_path):
    """A server killed while it warms leaves no compiling process behind: on an empty cache the
    second process would compile for half a minute, yet it is gone within seconds of its parent."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba-cache")}
    code = ("import os, time; from crftag.integrations import warmup; warmup.start_aside(2); "
            "print(warmup._ASIDE[0].pid, flush=True); time.sleep(2); os._exit(0)")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    pid = int(done.stdout)
    deadline = time.monotonic() + 5
    while _running(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _running(pid)


def test_warm_up_parts_and_refusals(tiny_crf):
    seconds = warm_up(tiny_crf, ("server", "api"), processes=1)  # no second process: no "shared"
    assert list(seconds) == ["server", "api"] and all(s >= 0 for s in seconds.values())
    with pytest.raises(ValueError, match="unknown warm-up part"):
        warm_up(tiny_crf, ("gpu",))


def test_cache_goes_where_numba_can_write(monkeypatch, tmp_path):
    """numba's own choices first (next to the code, then the user's cache); where neither is
    writable (a read-only install run by a user without a home), $CRFTAG_HOME/numba, then a
    folder of the temporary directory: numba would otherwise refuse to import the kernels."""
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setenv("CRFTAG_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert jitcache.choose_cache_dir(lambda p: True) is None
    in_tree_only = jitcache.PACKAGE
    assert jitcache.choose_cache_dir(lambda p: in_tree_only in p.parents) is None
    user_only = tmp_path / "xdg"
    assert jitcache.choose_cache_dir(lambda p: user_only in [p, *p.parents]) is None
    home_only = tmp_path / "home"
    assert jitcache.choose_cache_dir(lambda p: home_only in p.parents) == home_only / "numba"
    fallback = jitcache.choose_cache_dir(lambda p: False)
    assert fallback is not None and fallback.name.startswith("crftag-numba-")
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "mine"))
    assert jitcache.choose_cache_dir(lambda p: False) is None  # the user's choice stands


def test_a_read_only_cache_choice_is_applied_before_kernels(monkeypatch, tmp_path):
    """ensure_writable_cache sets NUMBA_CACHE_DIR (and numba's configuration, if loaded)."""
    import numba

    monkeypatch.setenv("NUMBA_CACHE_DIR", "")  # restored (to absent, or its value) after the test
    monkeypatch.delenv("NUMBA_CACHE_DIR")
    monkeypatch.setattr(jitcache, "choose_cache_dir", lambda: tmp_path / "numba")
    monkeypatch.setattr(numba.config, "CACHE_DIR", numba.config.CACHE_DIR)
    jitcache.ensure_writable_cache()
    assert os.environ["NUMBA_CACHE_DIR"] == str(tmp_path / "numba") == numba.config.CACHE_DIR


def test_writable_checks_the_nearest_existing_folder(tmp_path):
    assert jitcache._writable(tmp_path / "a" / "b")
    (tmp_path / "file").write_text("x")
    assert not jitcache._writable(tmp_path / "file" / "sub")
