"""Backends as entry-point plugins: discovery, unavailable backends, a third-party plugin."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from crftag import Tagger, train
from crftag.backends import get_backend, list_backends
from crftag.cli.app import main
from crftag.errors import CrftagError


def test_builtin_backends_are_entry_points():
    found = {b.name: b for b in list_backends()}
    assert {"crf", "sgd", "bilstm-crf"} <= set(found)
    assert found["crf"].available and found["crf"].target == "crftag.backends.crf:CRFBackend"
    assert found["crf"].distribution == "crftag"


def test_backend_missing_its_package_is_listed_with_the_reason(monkeypatch, capsys):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "torch" else real(name, *a))
    info = {b.name: b for b in list_backends()}["bilstm-crf"]
    assert not info.available
    assert info.reason == "needs torch (pip install 'crftag[neural]')"
    with pytest.raises(CrftagError, match=r"bilstm-crf.*unavailable: needs torch"):
        get_backend("bilstm-crf")
    main(["backends"])
    out = capsys.readouterr().out
    assert re.search(r"^bilstm-crf\s+unavailable: needs torch", out, re.M)
    assert re.search(r"^crf\s+available", out, re.M)


def test_unknown_backend_is_one_clear_error():
    with pytest.raises(CrftagError, match=r"unknown backend 'nope'; installed backends: .*crf"):
        get_backend("nope")


def test_core_import_does_not_import_torch():
    import subprocess

    code = "import crftag, crftag.cli.app, crftag.backends; crftag.backends.list_backends(); " \
           "import sys; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_readme_plugin_example_registers_trains_and_loads(readme_plugin, tiny, tmp_path):
    info = {b.name: b for b in list_backends()}["naive-bayes"]
    assert info.available and info.distribution == "crftag-nb"
    tagger = train(tiny, backend="naive-bayes", features="surface")
    tags = tagger.tag_tokens_batch([s.tokens for s in tiny])
    correct = sum(a == b for s, t in zip(tiny, tags, strict=True) for a, b in zip(s.tags, t, strict=True))
    assert correct / sum(len(s) for s in tiny) > 0.9  # it learns its training data
    tagger.save(tmp_path / "nb.crftag")
    assert Tagger.load(tmp_path / "nb.crftag").tag_tokens_batch([s.tokens for s in tiny]) == tags


def test_a_backend_class_trains_without_being_packaged(tiny, tmp_path, monkeypatch):
    """crftag.train(backend=SomeBackend) with the README's plugin class, no entry point: it trains,
    and its model loads in the same process (it was refused as "unknown backend <class ...>")."""
    import textwrap

    import crftag.backends as backends
    from crftag.backends.crf import CRFBackend

    monkeypatch.setattr(backends, "_IN_PROCESS", {})
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    code = readme.split("<!-- plugin-example -->", 1)[1].split("```python", 1)[1].split("```", 1)[0]
    namespace: dict = {}
    exec(compile(textwrap.dedent(code), "README.md", "exec"), namespace)
    cls = namespace["NaiveBayesBackend"]
    tagger = train(tiny, backend=cls, features="surface", smoothing=0.5)
    assert tagger.backend == "naive-bayes" and tagger.meta["backend_params"] == {"smoothing": 0.5}
    tagger.save(tmp_path / "nb.crftag")
    tokens = [s.tokens for s in tiny]
    assert Tagger.load(tmp_path / "nb.crftag").tag_tokens_batch(tokens) == tagger.tag_tokens_batch(tokens)
    assert get_backend(CRFBackend) is CRFBackend  # a class that is the installed one: fine
    other = type("Other", (cls,), {"name": "crf"})
    with pytest.raises(CrftagError, match=r"backend name 'crf' is taken by crftag\.backends\.crf:CRFBackend"):
        train(tiny, backend=other, features="surface")
    with pytest.raises(TypeError, match="is not a crftag Backend subclass"):
        train(tiny, backend=dict)
