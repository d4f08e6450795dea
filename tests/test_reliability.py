"""Hostile input: fuzzing the API and the CLI, faulty training data, signals, threads, streaming."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import run_cli, run_threads
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crftag.errors import DataError
from crftag.io.readers import read_conll
from crftag.text.tokenize import tokenize
from crftag.types import Sentence

# Pieces that break naive text handling, mixed into arbitrary Unicode (lone surrogates included).
AWKWARD = ["\U0001f600", "\U0001f44d\U0001f3fd", "\U0001f468\u200d\U0001f469\u200d\U0001f467",
           "e\u0301\u0301", "\u0645\u0631\u062d\u0628\u0627", "\u200f", "\u200d", "\u200b", "\x00",
           "\ud800", "\udfff", "\r",
           "\u2028", "\t", "  ", "@user", "#tag", "http://t.co/x", "Obama", "New York", ":-)", "&amp;",
           "\ufeff", "\u0130", "\u00df", "I'm", "...", "U.S."]
TEXT = st.lists(st.one_of(st.text(alphabet=st.characters(codec=None), max_size=30), st.sampled_from(AWKWARD)),
                max_size=40).map("".join)
FUZZ = settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _check_entities(text, entities):
    for e in entities:
        assert text[e.start:e.end] == e.text and e.text.strip() == e.text and e.text
        assert 0 <= e.token_start < e.token_end and 0.0 <= e.score <= 1.0


@FUZZ
@given(text=TEXT)
def test_any_text_tags_and_offsets_slice_the_input(tiny_crf, text):
    entities = tiny_crf.tag(text)
    _check_entities(text, entities)
    tokens, spans = tokenize(text)
    assert all(text[a:b] == t for t, (a, b) in zip(tokens, spans, strict=True))
    tagged = tiny_crf.analyse(Sentence(tokens, text=text, spans=spans))
    assert len(tagged.tags) == len(tokens) and tagged.entities == entities


@FUZZ
@given(texts=st.lists(TEXT, max_size=8))
def test_batches_equal_single_calls(tiny_crf, texts):
    assert tiny_crf.tag_batch(texts) == [tiny_crf.tag(t) for t in texts]


@pytest.mark.parametrize("text", [
    "", " ", "\n\t \r", "x" * 100_000, "Paris " * 10_000, "a." * 50_000, "1.1" * 30_000 + "x",
    "\x00" * 1000, "\ud800" * 1000, "#" + "a" * 100_000,
    # the tokenizer's regex was quadratic on these (16.7 s for 40K characters of ".-"): 1 MB each
    ".-" * 500_000, "a+" * 500_000, "a@" * 500_000, "x." * 500_000, "http://" + "a." * 500_000,
    ":" * 1_000_000, "@" * 1_000_000, "#a" * 500_000, "'" * 1_000_000, "&amp" * 250_000])
def test_extreme_texts(tiny_crf, text):
    """Every extreme tags, the 1 MB ones within a generous bound (linear time: about 0.1-0.5 s)."""
    t0 = time.perf_counter()
    _check_entities(text, tiny_crf.tag(text))
    assert time.perf_counter() - t0 < 20, f"{len(text):,} characters took {time.perf_counter() - t0:.1f} s"


def _byte_cases(n: int, seed: int) -> list[bytes]:
    """Files of arbitrary bytes: random bytes, and awkward Unicode (encoded) mixed with bare CRs,
    tabs, NULs and invalid sequences."""
    rng = random.Random(seed)
    pieces = [a.encode("utf-8", "surrogatepass") for a in AWKWARD] + [b"\xff", b"\xc3", b"\xed\xa0\x80",
                                                                       b"\r", b"\r\n", b"\n", b"\t"]
    cases = []
    for i in range(n):
        if i % 3 == 0:
            cases.append(bytes(rng.randrange(256) for _ in range(rng.randrange(120))))
        else:
            parts = [rng.choice(pieces) if rng.random() < 0.5 else
                     "".join(chr(rng.randrange(0x20, 0x3000)) for _ in range(rng.randrange(8))).encode(
                         "utf-8", "surrogatepass") for _ in range(rng.randrange(20))]
            cases.append(b"".join(parts))
    return cases


def _n_lines(path: Path) -> int:
    """Lines of a file: its line ends (CRLF, LF or a bare CR), and a last line without one."""
    text = path.read_bytes().decode().replace("\r\n", "\n").replace("\r", "\n")
    return text.count("\n") + (bool(text) and not text.endswith("\n"))


def _valid_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@pytest.fixture(scope="module")
def byte_files(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bytes")
    files = []
    for i, raw in enumerate(_byte_cases(300, 0)):
        p = tmp / f"case{i:03d}.txt"
        p.write_bytes(raw)
        files.append(p)
    return files


@pytest.mark.parametrize("output_format", ["jsonl", "text", "conll"])
def test_cli_tag_on_arbitrary_bytes(tiny_crf, tmp_path, byte_files, output_format):
    """The real command line on 300 files of arbitrary bytes: the valid UTF-8 ones all in one run
    (its standard output a pipe, as a user has it: valid UTF-8 out, offsets that slice each line);
    each invalid one a one-line error (in-process, with a strict UTF-8 byte stream as standard
    output, and four of them in real processes)."""
    model = tmp_path / "m.crftag"
    tiny_crf.save(model)
    valid = [p for p in byte_files if _valid_utf8(p.read_bytes())]
    invalid = [p for p in byte_files if p not in valid]
    assert len(valid) > 100 and len(invalid) > 50
    cmd = [sys.executable, "-m", "crftag", "tag", "-m", str(model), "--output-format", output_format,
           "--input-format", "text"]
    r = subprocess.run([*cmd, *map(str, valid)], capture_output=True, timeout=600)
    assert r.returncode == 0, r.stderr.decode(errors="replace")[-2000:]
    out = r.stdout.decode("utf-8")  # strict
    lines = sum(map(_n_lines, valid))
    if output_format == "jsonl":
        records = [json.loads(line) for line in out.split("\n")[:-1]]
        assert len(records) == lines
        for rec in records:
            for e in rec["entities"]:
                assert rec["text"][e["start"]:e["end"]] == e["text"]
    elif output_format == "text":
        assert out.count("\n") == lines
    for p in invalid[:4]:
        r = subprocess.run([*cmd, str(p)], capture_output=True, timeout=300)
        err = r.stderr.decode()
        assert r.returncode == 2 and "invalid UTF-8 at byte offset" in err and err.count("\n") == 1, err
    for p in invalid:
        code, _, err = run_cli(["tag", "-m", str(model), "--output-format", output_format,
                                "--input-format", "text", str(p)], strict_stdout=True)
        assert code == 2 and "invalid UTF-8 at byte offset" in err and err.count("\n") == 1, err








# -- training input faults ----------------------------------------------------------------------











# -- signals --------------------------------------------------------------------------------------

def _big_training_file(tmp_path: Path, tiny) -> Path:
    p = tmp_path / "big.conll"
    with p.open("w") as fh:
        for i in range(400):
            for s in tiny:
                fh.writelines(f"{t}{i % 7}\t{g}\n" for t, g in zip(s.tokens, s.tags, strict=True))
                fh.write("\n")
    return p


@pytest.mark.parametrize(("sig", "code", "message"), [(signal.SIGTERM, 143, "crftag: terminated"),
                                                      (signal.SIGINT, 130, "crftag: interrupted")])
def test_interrupted_training_leaves_no_model(tmp_path, tiny, sig, code, message):
    """Signalled while training: one line, the status, no temporary file, and the model that was
    already at -o is still there, byte for byte."""
    data = _big_training_file(tmp_path, tiny)
    out = tmp_path / "out"
    out.mkdir()
    existing = out / "m.crftag"
    existing.write_bytes(b"the previous model")
    proc = subprocess.Popen([sys.executable, "-m", "crftag", "train", str(data), "--features", "surface",
                             "-p", "max_iterations=100000", "-p", "c1=0", "-o", str(existing)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        proc.wait(timeout=4)  # still training after 4 s: it was asked for 100,000 iterations
        pytest.fail(f"training ended early: {proc.stderr.read()}")
    except subprocess.TimeoutExpired:
        pass
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code
    assert err.strip().splitlines()[-1] == message and "Traceback" not in err
    assert [p.name for p in out.iterdir()] == ["m.crftag"]  # no temporary file
    assert existing.read_bytes() == b"the previous model"


def _handlers_installed(pid: int) -> bool:
    """Whether process ``pid`` catches SIGTERM yet: crftag's handlers are in place (Python itself
    catches only SIGINT), so crftag's code runs and its imports are under way."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            caught = next(int(line.split()[1], 16) for line in fh if line.startswith("SigCgt:"))
    except (OSError, StopIteration):
        return False
    return bool(caught >> (signal.SIGTERM - 1) & 1)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc to see the handlers")
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_signal_during_start_up_is_one_line(tmp_path, tiny_crf, sig):
    """A signal while the command is still importing click, numpy and numba (the first half
    second): one line and the status, never a traceback. The handlers are installed before those
    imports; the test waits until they are (Python's own start-up, a few tens of milliseconds
    before any crftag code runs, is Python's business), then signals at delays across the imports."""
    model = tmp_path / "m.crftag"
    tiny_crf.save(model)
    code = 130 if sig == signal.SIGINT else 143
    said = f"crftag: {'interrupted' if code == 130 else 'terminated'}\n"
    for delay in (0.0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.8):
        proc = subprocess.Popen([sys.executable, "-m", "crftag", "tag", "-m", str(model)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        deadline = time.monotonic() + 30
        while not _handlers_installed(proc.pid) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.001)
        time.sleep(delay)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
        assert "Traceback" not in err, (delay, err)
        assert (proc.returncode, err) == (code, said), (delay, proc.returncode, err)


SWALLOWED = """
import os, signal, time
from crftag.cli import app as cli, entry

def swallowing(argv):
    try:  # what a library's `try: import x / except: pass` does to a signal's exception
        os.kill(os.getpid(), signal.SIG{name})
        time.sleep(5)
    except BaseException:
        pass

cli.main = swallowing
entry.main([])
"""


@pytest.mark.parametrize("name, code", [("TERM", 143), ("INT", 130)])
def test_a_signal_swallowed_by_a_library_still_stops_the_command(name, code):
    """A signal whose exception a bare ``except`` swallowed (during an import, say) still ends the
    command with its one line and status, not with status 0 as if nothing came."""
    r = subprocess.run([sys.executable, "-c", SWALLOWED.replace("{name}", name)], capture_output=True,
                       text=True, timeout=60, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    said = "crftag: terminated\n" if code == 143 else "crftag: interrupted\n"
    assert (r.returncode, r.stderr) == (code, said)


IN_NUMBA_INIT = """
import os, signal, sys


class SignalInsideNumbasInit:
    \"\"\"Sends the signal while numba's _dispatcher (C) imports numba._devicearray.\"\"\"

    def find_spec(self, name, path=None, target=None):
        if name == "numba._devicearray":
            os.kill(os.getpid(), signal.SIG{name})
        return None


sys.meta_path.insert(0, SignalInsideNumbasInit())
from crftag.cli import entry

entry.main(["tag", "-m", sys.argv[1]])
"""


@pytest.mark.parametrize("name, code", [("TERM", 143), ("INT", 130)])
def test_a_signal_inside_numbas_c_init_is_one_line(tmp_path, tiny_crf, name, code):
    """numba's C extensions print a traceback themselves when an import they make from C fails
    (the CI failure of stop 28: SIGTERM 0.2 s into `crftag tag`): the signal waits until numba
    is imported, then stops the command with its one line."""
    model = tmp_path / "m.crftag"
    tiny_crf.save(model)
    r = subprocess.run([sys.executable, "-c", IN_NUMBA_INIT.replace("{name}", name), str(model)],
                       input="", capture_output=True, text=True, timeout=120,
                       preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    said = "crftag: terminated\n" if code == 143 else "crftag: interrupted\n"
    assert (r.returncode, r.stderr) == (code, said)


def test_a_signal_wrapped_in_another_exception_is_still_a_signal():
    """Python wraps some exceptions (one raised in a class's ``__set_name__``, say) in another;
    a signal found anywhere in the chain of causes gives its status, anything else none."""
    from crftag.cli.signals import Interrupted, Terminated, signal_code

    def wrapped(inner: BaseException, outer: Exception) -> Exception:
        try:
            try:
                raise inner
            except BaseException as exc:
                raise outer from exc
        except Exception as exc:
            return exc

    assert signal_code(wrapped(Interrupted(), RuntimeError("Error calling __set_name__"))) == 130
    assert signal_code(wrapped(Terminated(), OSError("write failed"))) == 143
    assert signal_code(wrapped(KeyboardInterrupt(), ValueError())) == 130
    assert signal_code(wrapped(ValueError(), RuntimeError())) is None
    assert signal_code(OSError(28, "No space left on device")) is None


# -- threads and streams --------------------------------------------------------------------------

def test_sixteen_threads_share_one_tagger(fuzz_model, wnut16_dev):
    """16 threads on a cold tagger (nothing cached before they start) with gazetteer features and a
    cache of 24 types, so generations turn over while kernels run; every answer equals a serial
    run on a separate tagger."""
    from crftag import Tagger

    texts = [" ".join(s.tokens) for s in read_conll(wnut16_dev)]
    texts += [f"Barack Obama and Tim Cook in New York , {t}" for t in texts[:200]]  # gazetteer hits
    serial = Tagger.load(fuzz_model)
    expected = [serial.tag(t) for t in texts]
    assert sum(len(e) for e in expected) > 100
    shared = Tagger.load(fuzz_model, cache_types=24)
    calls = 40_000
    failures = []

    def worker(k):
        for i in range(k, calls, 16):
            if shared.tag(texts[i % len(texts)]) != expected[i % len(texts)]:
                failures.append(i)

    run_threads(worker, 16)
    assert failures == []
    assert shared.type_cache.generations > 100  # the cache turned over many times under the threads


def test_tag_streams_stdin_line_by_line(tiny_crf, tmp_path):
    model = tmp_path / "m.crftag"
    tiny_crf.save(model)
    proc = subprocess.Popen([sys.executable, "-m", "crftag", "tag", "-m", str(model), "--batch-size", "1",
                             "--output-format", "jsonl"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        for i, text in enumerate(["Obama visits Paris", "hello world", "New York rocks"]):
            proc.stdin.write(text + "\n")
            proc.stdin.flush()
            rec = json.loads(proc.stdout.readline())  # answered before the next line is sent
            assert rec["text"] == text, i
    finally:
        proc.stdin.close()
        proc.wait(timeout=30)
    assert proc.returncode == 0


def _raise_data_error(n: int) -> None:
    raise DataError("f.conll", n, "bad")


def test_data_error_survives_a_process_pool(tiny_crf, tmp_path):
    """A DataError raised in a worker process arrives whole: in a process pool, and in crftag
    tag's forked bulk workers (an oversized sentence found by a worker is one line, exit 2)."""
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=2) as pool, pytest.raises(DataError) as info:
        pool.submit(_raise_data_error, 3).result()
    assert str(info.value) == "f.conll:3: bad" and info.value.line == 3
    model = tmp_path / "m.crftag"
    tiny_crf.save(model)
    src = tmp_path / "big.txt"
    src.write_text("Obama visits Paris\n" * 200_000 + "a " * 3000 + "\n")  # several blocks
    r = subprocess.run([sys.executable, "-m", "crftag", "tag", "-m", str(model), str(src), "-j", "2",
                        "--max-tokens", "2000", "-o", str(tmp_path / "out.conll")], capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 2, r.stderr
    assert r.stderr == f"crftag: {src}:200001: sentence of 3,000 tokens, more than 2,000 " \
                       "(raise the limit with --max-tokens)\n", r.stderr
    assert not (tmp_path / "out.conll").exists()


def test_an_error_left_by_a_swallowed_signal_still_ends_with_the_signal(tmp_path):
    """A SIGTERM whose exception a library swallowed mid-import can leave a half-imported module and
    so an error that is not the user's (a clean-clone CI run saw 'inconsistent model contents
    (AttributeError: module 'numba' has no attribute 'core')'): the signal's line and status win."""
    missing = str(tmp_path / "missing.crftag")
    code = ("import crftag.cli.signals as s; s._received.append(s.TERMINATED); "
            f"from crftag.cli.app import main; main(['tag', '-m', {missing!r}])")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert (proc.returncode, proc.stderr) == (143, "crftag: terminated\n")
