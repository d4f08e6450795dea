"""The import graph tool, and the package's own graph: no cycles."""

from pathlib import Path

import crftag
from crftag.tools.imports import cycles, import_graph, main, package_graph


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "pkg"
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_edges_cover_every_import_form_but_type_checking_ones(tmp_path):
    root = _package(tmp_path, {
        "__init__.py": "",
        "a.py": "import pkg.b\nfrom . import c\nfrom .sub import d\nimport os\n",
        "b.py": "def f():\n    from pkg.sub.d import thing\n",
        "c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import a\n",
        "sub/__init__.py": "from .d import thing\n",
        "sub/d.py": "thing = 1\n",
    })
    graph = import_graph(root, "pkg")
    assert graph["pkg.a"] == {"pkg.b", "pkg.c", "pkg.sub.d"}
    assert graph["pkg.b"] == {"pkg.sub.d"}  # a function's import counts
    assert graph["pkg.c"] == set()  # a TYPE_CHECKING one does not
    assert graph["pkg.sub"] == {"pkg.sub.d"}
    assert cycles(graph) == []
    assert package_graph(graph, "pkg")["pkg.a"] == {"pkg.b", "pkg.c", "pkg.sub"}


def test_a_cycle_is_found_even_through_a_lazy_import(tmp_path):
    root = _package(tmp_path, {
        "__init__.py": "",
        "x.py": "from pkg import y\n",
        "y.py": "def later():\n    import pkg.z\n",
        "z.py": "from .x import name\n",
        "w.py": "import pkg.x\n",
    })
    assert cycles(import_graph(root, "pkg")) == [["pkg.x", "pkg.y", "pkg.z"]]


def test_crftag_has_no_import_cycle(capsys):
    assert main([]) == 0, capsys.readouterr().out
    out = capsys.readouterr().out
    assert out.rstrip().endswith("0 cycles between modules, 0 between subpackages")
    graph = import_graph(Path(crftag.__file__).parent, "crftag")
    assert cycles(graph) == []
    assert cycles(package_graph(graph, "crftag")) == []  # the stages are layers


def test_a_cycle_between_subpackages_fails_the_check(tmp_path, capsys):
    root = _package(tmp_path, {
        "__init__.py": "",
        "io/__init__.py": "",
        "io/read.py": "from pkg.feats.kinds import KINDS\n",
        "feats/__init__.py": "",
        "feats/kinds.py": "KINDS = 1\n",
        "feats/lex.py": "from pkg.io.read import KINDS\n",
    })
    graph = import_graph(root, "pkg")
    assert cycles(graph) == []  # no module cycle...
    assert cycles(package_graph(graph, "pkg")) == [["pkg.feats", "pkg.io"]]  # ...but the stages loop
