"""Every registered backend, and the README's plugin example, pass crftag.testing.check_backend."""

from __future__ import annotations

from typing import ClassVar

import pytest

from crftag.backends import Backend, Param, get_backend, list_backends
from crftag.errors import CrftagError
from crftag.testing import check_backend, check_declaration

#: quick settings per backend (the suite's data is a dozen tweets)
QUICK = {
    "crf": {"max_iterations": 30},
    "sgd": {"alpha": 1e-4},
    "bilstm-crf": {"max_epochs": 2, "hidden": 8, "word_dim": 8, "char_dim": 4, "char_filters": 4,
                   "feature_buckets": 1024, "feature_dim": 4, "device": "cpu"},
    "transformer": {"max_epochs": 2, "batch_size": 4, "device": "cpu"},
    "spacy": {"max_epochs": 2},
}
AVAILABLE = {b.name for b in list_backends() if b.available}


@pytest.mark.parametrize("name", ["crf", "sgd", "bilstm-crf", "spacy"])
def test_builtin_backend_conforms(name, tmp_path):
    if name not in AVAILABLE:
        pytest.skip(f"{name} is not available here (crftag backends says why)")
    check_backend(get_backend(name), tmp_path, **QUICK[name])


def test_transformer_conforms(tiny_bert_folder, tmp_path):
    check_backend(get_backend("transformer"), tmp_path, encoder=str(tiny_bert_folder), **QUICK["transformer"])


def test_every_registered_backend_is_covered():
    assert {b.name for b in list_backends() if b.distribution == "crftag"} == set(QUICK)


def test_readme_plugin_example_conforms(readme_plugin, tmp_path):
    check_backend(get_backend("naive-bayes"), tmp_path)


class _Undeclared(Backend):
    """Takes parameters in __init__ without declaring them: crftag cannot parse or check them."""

    name = "undeclared"

    def __init__(self, smoothing: float = 1.0):
        self.smoothing = smoothing

    def fit(self, X, y, X_dev=None, y_dev=None, progress=False):
        raise NotImplementedError

    @classmethod
    def load(cls, labels, arrays):
        raise NotImplementedError


class _BadDefault(_Undeclared):
    params: ClassVar[dict[str, Param]] = {"smoothing": Param(float, -1.0, "added to every count", minimum=0)}


@pytest.mark.parametrize("backend, promise", [
    (_Undeclared, "__init__ takes smoothing without declaring them in `params`"),
    (_BadDefault, "the default of 'smoothing' fails its own declaration"),
])
def test_the_suite_names_the_broken_promise(backend, promise):
    with pytest.raises(AssertionError, match=promise):
        check_declaration(backend)


def test_params_parse_and_check():
    p = Param(float, 0.5, "a rate", minimum=0, maximum=1)
    assert p.parse("rate", "0.25") == 0.25 and p.check("rate", 1) == 1.0
    with pytest.raises(CrftagError, match=r"parameter rate: cannot read 'x' as float in 0\.\.1"):
        p.parse("rate", "x")
    for bad in (1.5, -0.1, float("nan"), True, "0.5", None):
        with pytest.raises(CrftagError, match="parameter rate: "):
            p.check("rate", bad)
    opt = Param(str, "balanced", "weights", choices=("balanced",), optional=True)
    assert opt.parse("w", "none") is None and opt.parse("w", "balanced") == "balanced"
    with pytest.raises(CrftagError, match="is not one of balanced, or none"):
        opt.parse("w", "heavy")
    flag = Param(bool, True, "a switch")
    assert [flag.parse("f", v) for v in ("yes", "0", "TRUE")] == [True, False, True]
    grid = Param(tuple, (1e-5, 1e-4), "a grid")
    assert grid.parse("g", "1e-3,0.01") == (1e-3, 0.01) and grid.check("g", [1, 2]) == (1, 2)
    with pytest.raises(CrftagError):
        grid.check("g", ("a",))


def test_a_wrong_parameter_is_refused_before_training(tiny):
    from crftag import train

    with pytest.raises(CrftagError, match=r"parameter c1: -1\.0 is not float >= 0"):
        train(tiny, backend="crf", features="surface", c1=-1.0)
    with pytest.raises(CrftagError, match="backend 'crf' has no parameter 'c3'"):
        train(tiny, backend="crf", features="surface", c3=1.0)


def test_numpy_numbers_are_taken_as_the_declared_type():
    import numpy as np

    assert Param(int, 1, "n", minimum=1).check("n", np.int64(7)) == 7
    assert type(Param(int, 1, "n").check("n", np.int64(7))) is int
    assert type(Param(float, 0.5, "r").check("r", np.float32(0.25))) is float
    for bad in (np.float64(1.5), np.bool_(True)):
        with pytest.raises(CrftagError):
            Param(int, 1, "n").check("n", bad)
