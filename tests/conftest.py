"""Shared fixtures: small hand-written data, and real data through the registry."""

from __future__ import annotations

import re
import sys
import textwrap
from pathlib import Path

import pytest

from crftag.errors import ResourceError
from crftag.io.readers import read_conll
from crftag.resources.registry import default_registry

FIXTURES = Path(__file__).parent / "fixtures"
README = Path(__file__).resolve().parent.parent / "README.md"


@pytest.fixture(scope="session")
def tiny_path() -> Path:
    return FIXTURES / "tiny.conll"


@pytest.fixture(scope="session")
def tiny(tiny_path):
    return list(read_conll(tiny_path))


def registry_file(name: str) -> Path:
    """A registry resource, fetched the way a user gets it; skip when unobtainable."""
    try:
        return default_registry().fetch(name)
    except ResourceError as exc:
        pytest.skip(f"{name} not available (set CRFTAG_MIRROR to a mirror such as ../shared): {exc}")


@pytest.fixture(scope="session")
def wnut16_train() -> Path:
    return registry_file("wnut16:train")


@pytest.fixture(scope="session")
def wnut16_dev() -> Path:
    return registry_file("wnut16:dev")


@pytest.fixture(scope="session")
def twitter_resources() -> None:
    """The clusters and gazetteers the shipped twitter feature sets use."""
    for name in ("brown:ark-twitter-6mpaths", "brown:wnut-hege-paths", "clark:wnut-hege-clark32",
                 "lexicons:wnut16", "lexicons:wikidata2016"):
        registry_file(name)


@pytest.fixture(scope="session")
def tiny_crf(tiny):
    from crftag import train

    return train(tiny, backend="crf", features="surface", c1=0.0, c2=0.01, max_iterations=50)


FEATURES = """
name = "fuzz"
description = "every kind of array a model can hold: clusters, gazetteers, a conjunction, a first pass"
[groups.bias]
[groups.lower]
window = [-1, 0, 1]
[groups.prefix]
lengths = [1, 3]
[groups.casing]
window = [-1, 0]
[groups.twitter]
[groups.brown]
resource = "{brown}"
prefixes = [2, 4]
window = [-1, 0, 1]
[groups.gazetteer]
resources = ["{gaz}"]
window = [-1, 0, 1]
[groups.first]
kind = "stack"
corpora = ["{pool}"]
bins = [0.6, 0.9]
window = [-1, 0, 1]
[[conjunctions]]
group = "lower"
offsets = [-1, 0]
"""


@pytest.fixture(scope="session")
def fuzz_model(tmp_path_factory, tiny) -> Path:
    """A small CRF that holds Brown clusters, three gazetteer lists, a conjunction and a first pass
    (stack group): every kind of array a model file can carry (the model fuzzer's subject; a
    cold tagger for threads)."""
    import numpy as np

    from crftag import train

    tmp = tmp_path_factory.mktemp("fuzzmodel")
    words = sorted({t.lower() for s in tiny for t in s.tokens})
    rng = np.random.default_rng(0)
    bits = ["".join(map(str, rng.integers(0, 2, 6))) for _ in words]
    (tmp / "paths").write_text("".join(f"{b}\t{w}\t5\n" for b, w in zip(bits, words, strict=True)))
    gaz = tmp / "gaz"
    gaz.mkdir()
    (gaz / "person").write_text("barack obama\ntim cook\ntaylor swift\n")
    (gaz / "city").write_text("new york\nparis\nlondon\nlos angeles\n")
    (gaz / "team").write_text("lakers\nknicks\n")
    fs = tmp / "fuzz.toml"
    fs.write_text(FEATURES.format(brown=tmp / "paths", gaz=gaz, pool=FIXTURES / "stack_pool.conll"))
    path = tmp / "fuzz.crftag"
    train(tiny, features=str(fs), max_iterations=30).save(path)
    return path


@pytest.fixture
def readme_plugin(tmp_path, monkeypatch):
    """Install the README's plugin example as a distribution with an entry point."""
    text = README.read_text()
    code = text.split("<!-- plugin-example -->", 1)[1].split("```python", 1)[1].split("```", 1)[0]
    name, target = re.search(r'^(naive-bayes) = "([^"]+)"$', text, re.M).groups()
    (tmp_path / "crftag_nb.py").write_text(textwrap.dedent(code))
    info = tmp_path / "crftag_nb-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: crftag-nb\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[crftag.backends]\n{name} = {target}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield
    sys.modules.pop("crftag_nb", None)


@pytest.fixture(scope="session")
def tiny_bert_folder(tiny, tmp_path_factory):
    """A 1-layer BERT with a WordPiece vocabulary of the fixture's words, saved as a model folder."""
    torch = pytest.importorskip("torch", reason="needs torch (crftag[transformer])")
    transformers = pytest.importorskip("transformers", reason="needs transformers (crftag[transformer])")
    BertConfig, BertModel, BertTokenizerFast = (transformers.BertConfig, transformers.BertModel,
                                                transformers.BertTokenizerFast)

    folder = tmp_path_factory.mktemp("tiny-bert")
    words = sorted({w.lower() for s in tiny for w in s.tokens})
    chars = sorted({c for w in words for c in w})
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words, *chars, *(f"##{c}" for c in chars)]
    (folder / "vocab.txt").write_text("\n".join(dict.fromkeys(vocab)) + "\n")
    BertTokenizerFast(str(folder / "vocab.txt"), do_lower_case=True).save_pretrained(folder)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(dict.fromkeys(vocab)), hidden_size=32, num_hidden_layers=1,
                        num_attention_heads=2, intermediate_size=64, max_position_embeddings=64)
    BertModel(config).save_pretrained(folder)
    return folder


def run_cli(argv: list[str], strict_stdout: bool = False) -> tuple[int, str, str]:
    """Run the command line in this process: (exit status, standard output, standard error).
    With ``strict_stdout`` standard output is a strict UTF-8 stream over bytes (what a pipe is),
    not a StringIO (which takes anything, lone surrogates included)."""
    import contextlib
    import io

    from crftag.cli.app import main

    raw = io.BytesIO()
    out = io.TextIOWrapper(raw, encoding="utf-8", errors="strict", newline="\n") if strict_stdout \
        else io.StringIO()
    err = io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(argv)
        except SystemExit as exc:
            code = exc.code or 0
    out.flush()
    stdout = raw.getvalue().decode("utf-8") if strict_stdout else out.getvalue()
    return code, stdout, err.getvalue()


def assert_one_line_error(r, *fragments: str) -> None:
    """A completed ``crftag`` process failed as user errors must: status 2, one line, no traceback."""
    assert r.returncode == 2, (r.returncode, r.stderr[-2000:])
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r.stderr[-2000:]
    for f in fragments:
        assert f in r.stderr, r.stderr


@pytest.fixture(scope="session")
def tiny_model_path(tmp_path_factory, tiny_crf) -> Path:
    """:func:`tiny_crf` saved as a model file."""
    path = tmp_path_factory.mktemp("tiny-model") / "m.crftag"
    tiny_crf.save(path)
    return path


def run_threads(work, n: int = 16) -> None:
    """``work(k)`` on ``n`` threads at once, k = 0..n-1; returns when all are done."""
    import threading

    threads = [threading.Thread(target=work, args=(k,)) for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
