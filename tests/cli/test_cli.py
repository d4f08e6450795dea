"""The command line, run as a user runs it: a subprocess, exit codes, stdout and stderr."""

import json
import subprocess
import sys

import pytest
from conlleval import evaluate as reference_evaluate
from conlleval import report as reference_report


def crftag(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "crftag", *map(str, args)], input=stdin,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def model(tmp_path_factory, tiny_path):
    path = tmp_path_factory.mktemp("cli") / "tiny.crftag"
    r = crftag("train", tiny_path, "--dev", tiny_path, "-o", path, "--features", "surface",
               "-p", "c1=0", "-p", "c2=0.01")
    assert r.returncode == 0, r.stderr
    assert "dev: precision" in r.stdout
    return path


@pytest.mark.parametrize("cmd", [[], ["train"], ["tag"], ["eval"], ["fetch"], ["resources"], ["info"],
                                 ["backends"], ["bench"], ["stats"], ["search"], ["stability"],
                                 ["split"], ["serve"]])
def test_help_everywhere(cmd):
    r = crftag(*cmd, "--help")
    assert r.returncode == 0 and "Usage:" in r.stdout
    if cmd and cmd[0] not in ("resources", "info", "backends"):
        assert "Example" in r.stdout


def test_tag_raw_text_from_stdin(model):
    r = crftag("tag", "-m", model, "--output-format", "text", stdin="Barack Obama visited Paris today\n")
    assert r.returncode == 0, r.stderr
    assert "[Paris|geo-loc]" in r.stdout


def test_tag_conll_input_and_output(model, tiny_path):
    r = crftag("tag", "-m", model, tiny_path, "--input-format", "conll")
    assert r.returncode == 0, r.stderr
    blocks = r.stdout.split("\n\n")
    assert blocks[0].splitlines()[0] == "@mike\tO"
    assert len([b for b in blocks if b.strip()]) == 12
    assert r.stdout.endswith("\n\n")


def test_tag_jsonl_to_file(model, tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"id": "t1", "text": "I love my iPhone from Apple"}) + "\n")
    out = tmp_path / "out.jsonl"
    r = crftag("tag", "-m", model, src, "--output-format", "jsonl", "-o", out)
    assert r.returncode == 0, r.stderr
    obj = json.loads(out.read_text())
    assert obj["id"] == "t1" and len(obj["tags"]) == len(obj["tokens"])
    for e in obj["entities"]:
        assert obj["text"][e["start"]:e["end"]] == e["text"]
        assert set(e) == {"text", "type", "start", "end", "token_start", "token_end", "score"}


def _same_as_conlleval(ours: str, port: str) -> None:
    """Line-by-line equality with the Python port of conlleval, except where the port itself
    departs from the Perl script: for a type with no guessed chunks the port prints precision
    100.00, the script (and crftag) 0.00."""
    port_lines = port.splitlines()
    for mine, ref in zip(ours.splitlines(), port_lines, strict=False):
        if ref.endswith("  0") and "precision: 100.00%" in ref:
            assert mine == ref.replace("precision: 100.00%", "precision:   0.00%")
        else:
            assert mine == ref
    assert len(ours.splitlines()) >= len(port_lines)


def test_eval_equals_conlleval(model, tiny_path, tmp_path):
    pred = tmp_path / "pred.txt"
    r = crftag("eval", "-m", model, tiny_path, "--write-predictions", pred)
    assert r.returncode == 0, r.stderr
    _same_as_conlleval(r.stdout, reference_report(reference_evaluate(pred.read_text().splitlines())))
    j = json.loads(crftag("eval", "-m", model, tiny_path, "--format", "json").stdout)
    assert set(j["overall"]) >= {"precision", "recall", "f1"} and "notypes" in j
    md = crftag("eval", "-m", model, tiny_path, "--format", "markdown").stdout
    assert md.startswith("| type | precision |")


def test_eval_warns_when_the_data_was_trained_on(model, tiny_path, tmp_path):
    """The model was trained on tiny.conll: evaluating it there says so (stderr, one line; JSON's
    in_training_data), under any name for the same bytes; other data gets no warning."""
    copy = tmp_path / "same-bytes.conll"
    copy.write_bytes(tiny_path.read_bytes())
    for gold in (tiny_path, copy):
        r = crftag("eval", "-m", model, gold)
        assert r.returncode == 0, r.stderr
        assert r.stderr.splitlines() == [f"crftag: warning: {gold} is in this model's training data (as "
                                         f"{tiny_path}, sha256 {_sha256(tiny_path)[:12]}): these are "
                                         "not held-out scores"]
    j = json.loads(crftag("eval", "-m", model, tiny_path, "--report-format", "json").stdout)
    assert j["in_training_data"] == [{"evaluated": str(tiny_path), "trained_as": str(tiny_path),
                                      "sha256": _sha256(tiny_path), "cut": None}]
    other = tmp_path / "other.conll"
    other.write_text("Obama\tB-person\nwins\tO\n\n")
    r = crftag("eval", "-m", model, other, "--report-format", "json")
    assert r.returncode == 0 and r.stderr == "" and json.loads(r.stdout)["in_training_data"] == []


def test_training_overlap_of_corpus_cuts():
    """A corpus split is cuts of files: the same cut (or the whole file) overlaps, another cut of
    the same file does not."""
    from crftag.resources.corpora import training_overlap

    part = {"resource": "btc:all", "sha256": "ab" * 32}
    training = {"train": [{"source": "corpus:btc/train", "sentences": 9,
                           "parts": [{**part, "cut": "first-half"}]}]}
    dev = {"source": "corpus:btc/dev", "sentences": 2, "parts": [{**part, "cut": "second-half"}]}
    assert training_overlap(training, dev) == []
    same_cut = {**dev, "parts": [{**part, "cut": "first-half"}]}
    assert training_overlap(training, same_cut)[0]["cut"] == "first-half"
    whole = {"source": "all.conll", "sha256": "ab" * 32, "sentences": 11}
    assert training_overlap(training, whole)[0]["trained_as"] == "corpus:btc/train (btc:all)"
    assert training_overlap({"train": [whole]}, dev)[0]["evaluated"] == "corpus:btc/dev (btc:all)"
    assert training_overlap(None, dev) == [] and training_overlap({}, whole) == []


def _sha256(path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.data
def test_eval_equals_conlleval_on_wnut16_dev(wnut16_train, wnut16_dev, tmp_path):
    model = tmp_path / "m.crftag"
    r = crftag("train", wnut16_train, "-o", model, "--features", "surface", "-p", "max_iterations=30", "-q")
    assert r.returncode == 0, r.stderr
    pred = tmp_path / "pred.txt"
    r = crftag("eval", "-m", model, wnut16_dev, "--write-predictions", pred)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("processed 16261 tokens with 661 phrases;")
    _same_as_conlleval(r.stdout, reference_report(reference_evaluate(pred.read_text().splitlines())))


def test_info(model):
    r = crftag("info", model)
    assert r.returncode == 0 and "backend: crf" in r.stdout
    assert json.loads(crftag("info", model, "--json").stdout)["feature_set"] == "surface"


def _one_line_error(r):
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    return r.stderr.strip()


def test_malformed_conll_is_one_line_exit_2(tmp_path):
    bad = tmp_path / "bad.conll"
    bad.write_text("hello\tO\nworld\tB_person\n")
    err = _one_line_error(crftag("train", bad, "-o", tmp_path / "m.crftag"))
    assert err == f"crftag: {bad}:2: tag 'B_person' is not in the BIO scheme (O, B-TYPE, I-TYPE)"
    assert not (tmp_path / "m.crftag").exists()


def test_truncated_model_is_one_line_exit_2(model, tmp_path):
    cut = tmp_path / "cut.crftag"
    cut.write_bytes(model.read_bytes()[:1000])
    err = _one_line_error(crftag("tag", "-m", cut, stdin="hello\n"))
    assert err.startswith(f"crftag: {cut}: corrupted or truncated model file")


def test_unknown_resource_and_param(tmp_path, tiny_path):
    err = _one_line_error(crftag("fetch", "nope:x"))
    assert err.startswith("crftag: unknown resource 'nope:x'")
    err = _one_line_error(crftag("train", tiny_path, "-o", tmp_path / "m", "--features", "surface",
                                 "-p", "zzz=1"))
    assert "has no parameter 'zzz'" in err


def test_resources_lists_registry():
    r = crftag("resources", "--json")
    names = {x["name"] for x in json.loads(r.stdout)["resources"]}
    assert {"wnut16:train", "wnut16:dev", "lexicons:wnut16"} <= names


def test_features_list_and_show():
    r = crftag("features", "list")
    assert r.returncode == 0 and "twitter" in r.stdout and "surface" in r.stdout
    r = crftag("features", "show", "surface", "--example", "Obama in Paris", "--token", "2")
    assert r.returncode == 0, r.stderr
    assert "lower        kind=lower" in r.stdout
    assert "[2] Paris:" in r.stdout and "lower|paris@0" in r.stdout and "lower|in@-1" in r.stdout


def test_tag_jsonl_scores_and_min_confidence(model):
    text = "Barack Obama visited Paris today\n"
    r = crftag("tag", "-m", model, "--output-format", "jsonl", stdin=text)
    ents = json.loads(r.stdout)["entities"]
    assert ents and all(0 < e["score"] <= 1 for e in ents)
    cut = max(e["score"] for e in ents)
    r = crftag("tag", "-m", model, "--output-format", "jsonl", "--min-confidence", str(cut), stdin=text)
    kept = json.loads(r.stdout)
    assert [e["text"] for e in kept["entities"]] == [e["text"] for e in ents if e["score"] >= cut]
    dropped = [e for e in ents if e["score"] < cut]
    for e in dropped:
        assert set(kept["tags"][e["token_start"]:e["token_end"]]) == {"O"}
    err = _one_line_error(crftag("tag", "-m", model, "--min-confidence", "2", stdin=text))
    assert "--min-confidence" in err


HEAVY = ("numba", "sklearn", "scipy", "torch", "starlette", "uvicorn", "prometheus_client", "spacy")


def test_help_and_import_load_neither_numba_nor_scikit_learn():
    """`crftag --help` and `import crftag` stay light: the tagger's compiled code loads on use, and
    the optional serving and spaCy packages only in `crftag serve` and the spaCy component."""
    import subprocess
    import sys

    probe = ("import sys, crftag, crftag.cli.app; crftag.__version__; crftag.Entity; "
             f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    for args in (["--help"], ["serve", "--help"]):
        probe = (f"import sys\nfrom crftag.cli.app import main\ntry:\n    main({args!r})\n"
                 "except SystemExit:\n    pass\n"
                 f"print(sorted(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)")
        out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
        assert "Usage" in out.stdout and out.stderr.strip() == "[]", (args, out.stderr)
    help_out = subprocess.run([sys.executable, "-m", "crftag", "--help"], capture_output=True, text=True,
                              check=True)
    assert "Usage" in help_out.stdout and "serve" in help_out.stdout


@pytest.mark.parametrize("fmt", ["text", "conll"])
def test_tag_workers_write_the_same_bytes(tiny_crf, tiny, tmp_path, fmt):
    """crftag tag on a file of several blocks: one worker and two give the same bytes."""
    model = tmp_path / "m.crftag"
    tiny_crf.save(model)
    sents = [[*tiny[i % len(tiny)].tokens, f"new{i}"] for i in range(30000)]
    src = tmp_path / f"in.{fmt}"
    if fmt == "text":
        src.write_text("".join(" ".join(s) + "\n" for s in sents), encoding="utf-8")
    else:
        src.write_text("".join("".join(f"{t}\tO\n" for t in s) + "\n" for s in sents), encoding="utf-8")
    assert src.stat().st_size > 1 << 20  # more than one block
    outputs = []
    for workers in ("1", "2"):
        out = tmp_path / f"out{workers}"
        subprocess.run([sys.executable, "-m", "crftag", "tag", "-m", str(model), str(src),
                        "--input-format", fmt, "--output-format", fmt, "-j", workers, "-o", str(out)],
                       check=True)
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1] and len(outputs[0]) > len(src.read_bytes()) // 2


def test_train_says_how_many_sentences_it_trained_on(tiny_path, tmp_path):
    """--empty-fraction keeps a share of the sentences without entities: the summary gives both the
    sentences read and those the model was trained on (it gave only the former)."""
    def first_line(*args):
        r = crftag("train", tiny_path, "--features", "surface", "--calibration", "none", "-o",
                   tmp_path / "m.crftag", *args)
        assert r.returncode == 0, r.stderr
        return r.stdout.splitlines()[0]

    assert first_line("--empty-fraction", "1").startswith("trained crf on 12 sentences (74 tokens) in ")
    assert first_line().startswith("trained crf on 11 sentences (--empty-fraction 0.5) from 12 read "
                                   "(74 tokens) in ")
    assert first_line("--empty-fraction", "0.1", "--oversample", "2").startswith(
        "trained crf on 15 sentences (--empty-fraction 0.1, --oversample 2) from 12 read")


@pytest.mark.parametrize("workers", ["1", "2"])
def test_conll_output_keeps_blank_input_lines(model, workers):
    """`printf 'a\\n\\nb\\n' | crftag tag` gave two blocks for three lines; an empty line (or JSONL
    record) is now a blank line alone, so block k of the output is line k of the input."""
    r = crftag("tag", "-m", model, "-j", workers, stdin="Obama\n\nParis\n   \nlast\n")
    assert r.returncode == 0, r.stderr
    blocks = r.stdout.split("\n\n")
    assert r.stdout.count("\n") - r.stdout.count("\t") == 5  # five lines, five sentences
    assert r.stdout.startswith("Obama\t") and "\n\n\nParis\t" in r.stdout and "\n\n\nlast\t" in r.stdout
    assert len(blocks) >= 3
    jsonl = "".join(json.dumps({"text": t}) + "\n" for t in ("Obama", "", "Paris"))
    r = crftag("tag", "-m", model, "--input-format", "jsonl", stdin=jsonl)
    assert r.returncode == 0 and r.stdout.startswith("Obama\t") and "\n\n\nParis\t" in r.stdout


def test_tag_csv_with_a_text_column(model, tmp_path):
    """`crftag tag -m M in.csv` with a text column failed with "CSV header lacks column(s) sentence #,
    word"; now each row is a tweet, and JSONL output keeps the row's other columns."""
    src = tmp_path / "in.csv"
    src.write_text('id,body,lang\n7,Barack Obama visited Paris today,en\n')
    r = crftag("tag", "-m", model, src, "--text-col", "body", "--output-format", "jsonl")
    assert r.returncode == 0, r.stderr
    obj = json.loads(r.stdout)
    assert obj["id"] == "7" and obj["lang"] == "en" and obj["text"] == "Barack Obama visited Paris today"
    assert ["Paris", "geo-loc"] in [[e["text"], e["type"]] for e in obj["entities"]]
    r = crftag("tag", "-m", model, src)
    assert r.returncode == 2 and r.stderr.startswith(f"crftag: {src}:1: CSV header has no column 'text'")
    r = crftag("tag", "-m", model, "--input-format", "text", "--text-col", "body", stdin="x\n")
    assert r.returncode == 2 and "--text-col is for CSV input" in r.stderr


def test_eval_scores_another_taggers_predictions(model, tiny_path, tmp_path):
    """crftag eval --pred PRED GOLD: the same report as for a model, from CoNLL or JSONL
    predictions; --compare takes a prediction file too; a misaligned file is one line naming
    both places."""
    pred = tmp_path / "pred.txt"  # `token gold predicted`, as --write-predictions writes it
    by_model = crftag("eval", "-m", model, tiny_path, "--write-predictions", pred)
    assert by_model.returncode == 0, by_model.stderr
    r = crftag("eval", "--pred", pred, tiny_path)
    assert r.returncode == 0 and r.stdout == by_model.stdout, r.stderr
    jsonl = tmp_path / "pred.jsonl"
    blocks = [[row.split() for row in block.splitlines()] for block in pred.read_text().split("\n\n")
              if block.strip()]
    jsonl.write_text("".join(json.dumps({"tokens": [r[0] for r in b], "tags": [r[-1] for r in b]}) + "\n"
                             for b in blocks))
    assert crftag("eval", "--pred", jsonl, tiny_path).stdout == by_model.stdout
    j = json.loads(crftag("eval", "--pred", pred, tiny_path, "--report-format", "json").stdout)
    assert j["predictions"] == str(pred) and j["overall"]["f1"] > 0
    r = crftag("eval", "-m", model, tiny_path, "--compare", pred, "--bootstrap", "50")
    assert r.returncode == 0 and f"vs {pred} " in r.stdout and "difference +0.00, p = 1.0000" in r.stdout
    r = crftag("eval", "--pred", jsonl, tiny_path, "--compare", model, "--bootstrap", "50")
    assert r.returncode == 0 and "paired bootstrap: these predictions F1" in r.stdout
    bad = tmp_path / "bad.conll"
    rows = pred.read_text().splitlines()
    rows[2] = "XX O O"
    bad.write_text("\n".join(rows) + "\n")
    r = crftag("eval", "--pred", bad, tiny_path)
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert r.stderr.startswith(f"crftag: {bad}:3: predictions do not line up with the gold data: "
                               "token 'XX' where ")
    short = tmp_path / "short.conll"
    short.write_text(pred.read_text().split("\n\n", 1)[0] + "\n\n")
    r = crftag("eval", "--pred", short, tiny_path)
    assert r.returncode == 2 and "1 predicted sentences for 12" in r.stderr
    for args in ([tiny_path], ["-m", model, "--pred", pred, tiny_path], ["--pred", pred, "--auc", tiny_path]):
        r = crftag("eval", *args)
        assert r.returncode == 2 and r.stderr.startswith("crftag: eval: ")


def _commands():
    import click

    from crftag.cli.app import cli

    def walk(cmd, path):
        if isinstance(cmd, click.Group):
            for name, sub in sorted(cmd.commands.items()):
                yield from walk(sub, [*path, name])
        else:
            yield " ".join(path), cmd

    return list(walk(cli, []))


def test_every_option_has_help_and_one_spelling():
    """Every visible option says what it does; JSON on standard output is --report-format json,
    parallel processes are -j/--jobs (serve's --workers are server processes), and the old
    spellings (--json, tag's --workers, search's --json FILE) are hidden aliases."""
    import click

    for name, cmd in _commands():
        options = [p for p in cmd.params if isinstance(p, click.Option)]
        for p in options:
            assert p.hidden or p.help, f"crftag {name} {p.opts[0]} has no help"
        visible = {o for p in options if not p.hidden for o in p.opts}
        assert "--json" not in visible, name
        if "-j" in visible:
            assert "--jobs" in visible, name
    shown = {name: cmd for name, cmd in _commands()}
    for name in ("info", "backends", "resources", "models list", "stability", "eval", "stats"):
        assert any("--report-format" in p.opts for p in shown[name].params), name


def test_old_spellings_still_work(model, tmp_path):
    for args in (["backends", "--json"], ["backends", "--report-format", "json"], ["info", model, "--json"],
                 ["info", model, "--report-format", "json"], ["models", "list", "--json"]):
        r = crftag(*args)
        assert r.returncode == 0 and json.loads(r.stdout), (args, r.stderr)
    for flag in ("-j", "--jobs", "--workers"):
        r = crftag("tag", "-m", model, flag, "2", "--output-format", "text", stdin="Obama in Paris\n")
        assert r.returncode == 0 and "[Paris|geo-loc]" in r.stdout, (flag, r.stderr)


def _closed(fd: int, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    """`crftag ARGS` with file descriptor ``fd`` closed, as `>&-` (1) or `<&-` (0) leave it."""
    import os

    return subprocess.run([sys.executable, "-m", "crftag", *args], input=stdin, stderr=subprocess.PIPE,
                          text=True, timeout=300, preexec_fn=lambda: os.close(fd))


def test_second_attack_commands_end_in_one_line_not_a_traceback(model, tiny_path, tmp_path):
    """Issue 25 items 10 and 12: each of these printed a traceback, said nothing, exited 0, or
    blamed the output for an input's read error."""
    binary = tmp_path / "bin.toml"
    binary.write_bytes(bytes(range(256)) * 4)
    r = crftag("features", "show", binary)
    assert (r.returncode, r.stderr) == (2, f"crftag: {binary}: not a TOML feature set: invalid UTF-8 at "
                                           "byte offset 128\n")
    r = crftag("eval", "-m", model, tiny_path, "--bootstrap", "-5")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "-5 is not in the range x>=0" in r.stderr
    for token in ("99", "-1"):
        r = crftag("features", "show", "surface", "--example", "Obama in Paris", "--token", token)
        assert r.returncode == 2
        assert f"{token} is not a token of the example, which has 3 (0 to 2)" in r.stderr
    r = _closed(1, "tag", "-m", str(model), stdin="Obama in Paris\n")
    assert (r.returncode, r.stderr) == (2, "crftag: standard output is closed\n")
    r = _closed(0, "tag", "-m", str(model), "-o", str(tmp_path / "out.txt"))
    assert r.returncode == 2 and r.stderr.endswith("cannot read: standard input is closed\n")
    assert "Traceback" not in r.stderr and not (tmp_path / "out.txt").exists()
    r = crftag("tag", "-m", model, "/proc/self/mem", "-o", tmp_path / "out.txt")
    assert r.returncode == 2 and r.stderr.startswith("crftag: /proc/self/mem:1: cannot read: ")
    r = crftag("bench", "--backends", "nope", "--train", tiny_path, "--dev", tiny_path, "--out",
               tmp_path / "b")
    assert r.returncode == 2 and r.stderr.endswith("crftag: bench: no backend ran (nope: not installed)\n")
