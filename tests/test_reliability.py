"""Hostile input: fuzzing the API and the CLI, faulty training data, signals, threads, streaming."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crftag import train
from crftag.cli import main
from crftag.errors import CrftagError, DataError
from crftag.readers import read_conll
from crftag.sentence import Sentence
from crftag.tokenize import tokenize

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


@pytest.mark.parametrize("text", ["", " ", "\n\t \r", "x" * 100_000, "Paris " * 10_000, "a." * 50_000,
                                  "1.1" * 30_000 + "x", "\x00" * 1000, "\ud800" * 1000, "#" + "a" * 100_000])
def test_extreme_texts(tiny_crf, text):
    _check_entities(text, tiny_crf.tag(text))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.lists(st.binary(max_size=60), min_size=1, max_size=6))
def test_cli_tag_on_arbitrary_bytes(tmp_path_factory, tiny_crf, data):
    """Valid UTF-8 is tagged with offsets that slice each line; anything else is one line, exit 2."""
    tmp = tmp_path_factory.mktemp("fuzz")
    model, src = tmp / "m.crftag", tmp / "in.txt"
    if not model.exists():
        tiny_crf.save(model)
    raw = b"\n".join(data)
    src.write_bytes(raw)
    try:
        raw.decode("utf-8")
        valid = True
    except UnicodeDecodeError:
        valid = False
    out, err = _run_main(["tag", "-m", str(model), str(src), "--output-format", "jsonl"])
    if not valid:
        assert out.code == 2 and "invalid UTF-8 at byte offset" in err and err.count("\n") == 1
        return
    assert out.code == 0
    for line in out.stdout.splitlines():
        rec = json.loads(line)
        for e in rec["entities"]:
            assert rec["text"][e["start"]:e["end"]] == e["text"]


class _Result:
    def __init__(self, code, stdout):
        self.code, self.stdout = code, stdout


def _run_main(argv):
    import contextlib
    import io

    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(argv)
        except SystemExit as exc:
            code = exc.code or 0
    return _Result(code, out.getvalue()), err.getvalue()


# -- training input faults ----------------------------------------------------------------------

def test_invalid_utf8_training_file_and_explicit_encoding(tmp_path):
    p = tmp_path / "latin.conll"
    p.write_bytes("Caf\u00e9\tB-facility\nParis\tB-geo-loc\n\nok\tO\n".encode("latin-1"))
    out, err = _run_main(["train", str(p), "--features", "surface", "-o", str(tmp_path / "m.crftag")])
    assert out.code == 2 and not (tmp_path / "m.crftag").exists()
    assert err == f"{p}:1: invalid UTF-8 at byte offset 3 (for another encoding, pass --encoding)\n"
    out, err = _run_main(["train", str(p), "--features", "surface", "--encoding", "latin-1", "-q",
                          "-o", str(tmp_path / "m.crftag")])
    assert out.code == 0 and (tmp_path / "m.crftag").exists()
    out, err = _run_main(["train", str(p), "--encoding", "klingon", "-o", str(tmp_path / "x.crftag")])
    assert out.code == 2 and err == f"{p}: unknown encoding 'klingon'\n"


def test_empty_training_file(tmp_path):
    p = tmp_path / "empty.conll"
    p.write_text("")
    out, err = _run_main(["train", str(p), "-o", str(tmp_path / "m.crftag")])
    assert out.code == 2 and err == f"{p}: no sentences found\n"


def test_dev_labels_unseen_in_training_are_scored_not_fatal(tiny):
    dev = [Sentence(["Star", "Wars", "rocks"], ["B-movie", "I-movie", "O"]),
           Sentence(["Mars", "bars"], ["B-snack", "O"])]  # "snack" never occurs in training
    tagger = train(tiny, dev=dev, backend="crf", features="surface")
    per_type = tagger.meta["dev_scores"]["per_type"]
    assert per_type["snack"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "gold": 1, "guessed": 0,
                                 "correct": 0}


def test_one_giant_sentence_trains_and_tags(tmp_path, tiny):
    tokens = [t for s in tiny for t in s.tokens] * 700
    tags = [t for s in tiny for t in s.tags] * 700
    tagger = train([Sentence(tokens, tags)], features="surface", max_iterations=5)
    assert len(tagger.tag_tokens(tokens)) == len(tokens) > 50_000


@pytest.mark.parametrize("backend", ["crf", "sgd"])
def test_training_data_without_entities_is_an_error(backend):
    with pytest.raises(CrftagError, match="no entities in the training data: nothing to learn"):
        train([Sentence(["a", "b"], ["O", "O"])], backend=backend, features="surface")


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
    data = _big_training_file(tmp_path, tiny)
    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.Popen([sys.executable, "-m", "crftag", "train", str(data), "--features", "surface",
                             "-p", "max_iterations=100000", "-p", "c1=0", "-o", str(out / "m.crftag")],
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
    assert list(out.iterdir()) == []  # no model, no temporary file


# -- threads and streams --------------------------------------------------------------------------

def test_sixteen_threads_share_one_tagger(tiny_crf, wnut16_dev):
    texts = [" ".join(s.tokens) for s in read_conll(wnut16_dev)]
    calls = 100_000
    expected = [tiny_crf.tag(t) for t in texts]
    failures = []

    def worker(k):
        for i in range(k, calls, 16):
            if tiny_crf.tag(texts[i % len(texts)]) != expected[i % len(texts)]:
                failures.append(i)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


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


def test_data_error_survives_a_process_pool():
    import pickle

    err = pickle.loads(pickle.dumps(DataError("f.conll", 3, "bad")))
    assert str(err) == "f.conll:3: bad" and err.line == 3
