"""Hostile and awkward input to `crftag tag` and the readers: every failure one line, memory
bounded, nothing misread. The cases of the reliability report, one test each."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import assert_one_line_error

from crftag.errors import DataError
from crftag.io.readers import read

ROOT = Path(__file__).resolve().parents[2]
# crftag tag in a child, printing its peak resident size (KB) on stderr's last line
PEAK = ("import sys\nfrom crftag.cli.entry import main\ntry:\n    main(sys.argv[1:])\nfinally:\n"
        "    print(next(int(x.split()[1]) for x in open('/proc/self/status') if x.startswith('VmHWM:')),"
        " file=sys.stderr)")  # VmHWM, not ru_maxrss: that one is inherited from the parent through exec


def crftag(*args, stdin=None, timeout=300):
    return subprocess.run([sys.executable, "-m", "crftag", *map(str, args)], input=stdin, capture_output=True,
                          text=True, timeout=timeout)


def crftag_peak(*args, stdin=None):
    """(result, peak RSS in MB) of `crftag ARGS` in a child process."""
    r = subprocess.run([sys.executable, "-c", PEAK, *map(str, args)], input=stdin, capture_output=True,
                       text=True, timeout=600)
    lines = r.stderr.strip().splitlines()
    return subprocess.CompletedProcess(r.args, r.returncode, r.stdout, "\n".join(lines[:-1]) + "\n"), \
        int(lines[-1]) / 1024


@pytest.fixture(scope="module")
def model(tiny_model_path):
    return tiny_model_path


# -- sizes -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["text", "jsonl"])
def test_a_line_over_the_limit_is_one_line_and_bounded(model, tmp_path, fmt):
    """A 64 MB line is refused at the limit, without reading (or holding) the rest of it."""
    p = tmp_path / f"big.{fmt}"
    with p.open("w") as fh:
        fh.write("fine line\n" if fmt == "text" else '{"text": "fine line"}\n')
        fh.write(("word " * 13_421_773)[:64 << 20] + "\n")
    t0 = time.perf_counter()
    r, peak = crftag_peak("tag", "-m", model, p, "--output-format", "jsonl")
    assert_one_line_error(r, f"{p}:2: line longer than 1,048,576 bytes "
                             "(raise the limit with --max-line-bytes)")
    assert time.perf_counter() - t0 < 60 and peak < 300, peak  # about 150 MB: the interpreter and numba


def test_too_many_tokens_is_one_line_and_the_limit_is_an_option(model, tmp_path):
    p = tmp_path / "long.txt"
    p.write_text("ok\n" + "a " * 150_000 + "\n")
    assert_one_line_error(crftag("tag", "-m", model, p),
                          f"{p}:2: sentence of 150,000 tokens, more than 100,000")
    jl = tmp_path / "long.jsonl"
    jl.write_text(json.dumps({"tokens": ["a"] * 150_001}) + "\n")
    assert_one_line_error(crftag("tag", "-m", model, jl), f"{jl}:1: sentence of 150,001 tokens")
    conll = tmp_path / "long.conll"
    conll.write_text("x\tO\n\n" + "a\tO\n" * 120_000)
    assert_one_line_error(crftag("tag", "-m", model, conll, "-j", "1"), f"{conll}:3: sentence of")
    r = crftag("tag", "-m", model, p, "--max-tokens", "200000", "--output-format", "text")
    assert r.returncode == 0 and r.stdout.count("\n") == 2, r.stderr


def test_limits_are_documented_in_help():
    r = crftag("tag", "--help")
    assert "--max-line-bytes" in r.stdout and "1048576" in r.stdout and "--max-tokens" in r.stdout


def test_a_long_line_of_distinct_words_takes_bounded_memory(model, tmp_path):
    """Just under the limit: 1 MB of distinct words tags with memory proportional to it."""
    p = tmp_path / "distinct.txt"
    words = " ".join(f"w{i:x}" for i in range(120_000))[:(1 << 20) - 1]
    p.write_text(words + "\n")
    r, peak = crftag_peak("tag", "-m", model, p, "--output-format", "text", "--max-tokens", "200000")
    assert r.returncode == 0, r.stderr
    assert peak < 600, peak  # about 300 MB here


# -- JSONL ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("line", "message"), [
    ("[" * 100_000 + "]" * 100_000, "invalid JSON: nested too deeply"),
    ('{"id": ' + "7" * 5000 + ', "text": "x"}', "invalid JSON: Exceeds the limit"),
    ('{"id": 1e400, "text": "x"}', "invalid JSON: number 1e400 is out of range"),
    ('{"id": NaN, "text": "x"}', "invalid JSON: NaN is not JSON"),
    ('{"id": -Infinity, "text": "x"}', "invalid JSON: -Infinity is not JSON"),
    ('{"tokens": ["Paris\\n\\nEvil\\tB-person"]}', "token 'Paris\\n\\nEvil\\tB-person' is blank"),
    ('{"tokens": ["Paris", "  "]}', "token '  ' is blank or holds a tab or line break"),
])
def test_hostile_jsonl_lines_are_one_line(model, tmp_path, line, message):
    p = tmp_path / "in.jsonl"
    p.write_text('{"text": "fine"}\n' + line + "\n")
    assert_one_line_error(crftag("tag", "-m", model, p, "--output-format", "conll"), f"{p}:2: {message}")


def test_lone_surrogates_are_written_as_valid_utf8(model, tmp_path):
    p = tmp_path / "in.jsonl"
    p.write_text('{"id": 1, "text": "Paris \\ud800 London", "lang": "en", "meta": {"a": [1]}}\n')
    r = subprocess.run([sys.executable, "-m", "crftag", "tag", "-m", str(model), str(p), "--output-format",
                        "jsonl"], capture_output=True, timeout=300)
    assert r.returncode == 0, r.stderr
    text = r.stdout.decode("utf-8")  # strict: valid UTF-8
    obj = json.loads(text)
    assert obj["text"] == "Paris \ud800 London" and obj["lang"] == "en" and obj["meta"] == {"a": [1]}
    assert list(obj)[:4] == ["id", "text", "lang", "meta"]  # unknown fields kept, in place
    for fmt in ("conll", "text"):
        r = subprocess.run([sys.executable, "-m", "crftag", "tag", "-m", str(model), str(p),
                            "--output-format", fmt], capture_output=True, timeout=300)
        assert r.returncode == 0 and "\ufffd" in r.stdout.decode("utf-8"), r.stderr


def test_jsonl_ids_round_trip(model, tmp_path):
    p = tmp_path / "in.jsonl"
    ids = ["a", 12345678901234567890, 1.5, None, {"k": "v"}]
    p.write_text("".join(json.dumps({"id": i, "text": "Obama"}) + "\n" for i in ids))
    r = crftag("tag", "-m", model, p, "--output-format", "jsonl")
    assert r.returncode == 0, r.stderr
    assert [json.loads(line)["id"] for line in r.stdout.splitlines()] == ids


# -- formats -------------------------------------------------------------------------------------------

def test_registry_names_are_read_in_their_format(model):
    r = crftag("tag", "-m", model, "wnut16:dev", "--output-format", "text")
    if r.returncode == 2 and "not available" in r.stderr:
        pytest.skip("wnut16:dev not available")
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("\n") == 1000  # one line per tweet, not per CoNLL line
    assert "STOP\tO" not in r.stdout


def test_conll_read_as_text_is_stopped(model, tmp_path):
    p = tmp_path / "data.txt"
    p.write_text("Barack\tB-person\nObama\tI-person\nvisited\tO\n\nParis\tB-geo-loc\n")
    r = crftag("tag", "-m", model, p)
    assert_one_line_error(r, f"{p}:1: looks like CoNLL", "--input-format conll")
    r = crftag("tag", "-m", model, stdin=p.read_text())
    assert_one_line_error(r, "-:1: looks like CoNLL")
    assert crftag("tag", "-m", model, p, "--input-format", "text").returncode == 0  # asked for: done
    r = crftag("tag", "-m", model, p, "--input-format", "conll", "--output-format", "text")
    assert r.returncode == 0 and r.stdout.count("\n") == 2


@pytest.mark.parametrize("fmt", ["text", "jsonl"])
def test_a_bare_carriage_return_ends_a_line(model, tmp_path, fmt):
    p = tmp_path / f"in.{fmt}"
    lines = ["Obama visits Paris", "hello", "London calling"]
    if fmt == "text":
        p.write_bytes(b"Obama visits Paris\rhello\r\nLondon calling\r")
    else:
        p.write_bytes("\r".join(json.dumps({"text": t}) for t in lines).encode() + b"\r")
    r = crftag("tag", "-m", model, p, "--output-format", "jsonl")
    assert r.returncode == 0, r.stderr
    assert [json.loads(line)["text"] for line in r.stdout.splitlines()] == lines
    assert [s.line for s in read(p, fmt, labelled=False)] == [1, 2, 3]


def test_decoding_errors_count_bare_carriage_returns(tmp_path):
    p = tmp_path / "in.txt"
    p.write_bytes(b"one\rtwo\r\nthr\xe9e\n")
    with pytest.raises(DataError, match=r"in.txt:3: invalid UTF-8 at byte offset 12"):
        list(read(p, "text", labelled=False))


# -- progress ---------------------------------------------------------------------------------------

def test_progress_and_summary_on_a_terminal_only(model, tmp_path):
    p = tmp_path / "in.txt"
    p.write_text("Obama visits Paris\n" * 5000)
    master, slave = pty.openpty()
    try:
        r = subprocess.run([sys.executable, "-m", "crftag", "tag", "-m", str(model), str(p), "-o",
                            str(tmp_path / "out.conll")], stderr=slave, stdout=subprocess.DEVNULL,
                           timeout=300)
        os.close(slave)
        seen = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(master)
    assert r.returncode == 0
    text = seen.decode()
    assert "tagging" in text and "crftag: tagged 5,000 sentences (0.1 MB)" in text
    quiet = crftag("tag", "-m", model, p, "-o", tmp_path / "out2.conll")
    assert quiet.returncode == 0 and quiet.stderr == ""  # not a terminal: nothing


# -- eval, stats ---------------------------------------------------------------------------------------

def test_eval_says_when_no_label_is_shared(model, tmp_path):
    gold = tmp_path / "other.conll"
    gold.write_text("EU\tB-ORG\nrejects\tO\nGerman\tB-MISC\n\n")
    r = crftag("eval", "-m", model, gold)
    assert r.returncode == 0
    assert "warning: the model's entity types" in r.stderr and "share none with" in r.stderr
    assert "every score below is 0" in r.stderr


def test_stats_plots_without_matplotlib_fails_before_printing(tiny_path, monkeypatch, tmp_path):
    import contextlib
    import io

    from crftag.cli.app import main

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), pytest.raises(SystemExit) as exc:
        main(["stats", str(tiny_path), "--plots", str(tmp_path / "plots")])
    assert exc.value.code == 2 and out.getvalue() == ""
    assert err.getvalue() == "crftag: plots need matplotlib: pip install 'crftag[plot]'\n"


def test_input_format_is_the_name_everywhere(tiny_path, tmp_path):
    for spelling in ("--input-format", "--format"):  # the old spelling still works
        r = crftag("train", tiny_path, spelling, "conll", "--features", "surface", "-q", "-o",
                   tmp_path / "m.crftag")
        assert r.returncode == 0, r.stderr
    assert "--input-format" in crftag("train", "--help").stdout
    assert "--report-format" in crftag("eval", "--help").stdout
