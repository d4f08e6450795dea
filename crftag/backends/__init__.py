"""Training backends behind one small interface.

A backend is a scikit-learn-style estimator: parameters in ``__init__``,
``fit(X, y, X_dev, y_dev)`` on a :class:`~crftag.featurize.Featurized` batch,
returning a model that tags one sentence (``predict(keys, token_ptr)``) and
stores itself as arrays (``to_arrays`` / ``load``).
``crf`` and ``sgd`` both produce a :class:`~crftag.model.LinearChainModel`.
A third backend implements :class:`Backend` and is added to ``BACKENDS``.
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Protocol

import numpy as np

from crftag.errors import CrftagError
from crftag.featurize import Featurized


class TaggingModel(Protocol):
    """What a trained backend gives the :class:`~crftag.Tagger`."""

    labels: list[str]

    def predict(self, keys: np.ndarray, token_ptr: np.ndarray) -> list[str]:
        """Labels of one sentence (token t has keys[token_ptr[t]:token_ptr[t+1]])."""

    def tag_and_score(self, keys: np.ndarray, token_ptr: np.ndarray) -> tuple:
        """(label ids, entity chunk starts, chunk ends, chunk confidences) of one sentence."""

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Everything needed to rebuild the model, as named arrays."""


class Backend(ABC):
    """A trainer. Subclasses declare their parameters as ``__init__`` keywords."""

    name: ClassVar[str]

    @abstractmethod
    def fit(self, X: Featurized, y: Sequence[list[str]], X_dev: Featurized | None = None,
            y_dev: Sequence[list[str]] | None = None, progress: bool = False) -> TaggingModel:
        """Train on featurised sentences ``X`` with tags ``y``."""

    @classmethod
    @abstractmethod
    def load(cls, labels: list[str], arrays: dict[str, np.ndarray]) -> TaggingModel:
        """Rebuild a trained model from its stored arrays."""

    def fit_info(self) -> dict[str, Any]:
        """Facts about the last fit worth recording in the model file (e.g. a chosen alpha)."""
        return {}

    @classmethod
    def param_names(cls) -> list[str]:
        return [p for p in inspect.signature(cls.__init__).parameters if p != "self"]

    def get_params(self) -> dict[str, Any]:
        return {p: getattr(self, p) for p in self.param_names()}


def _crf() -> type[Backend]:
    from crftag.backends.crf import CRFBackend

    return CRFBackend


def _sgd() -> type[Backend]:
    from crftag.backends.sgd import SGDBackend

    return SGDBackend


BACKENDS: dict[str, Callable[[], type[Backend]]] = {"crf": _crf, "sgd": _sgd}


def get_backend(name: str) -> type[Backend]:
    """The backend class registered under ``name`` (imported only when asked for)."""
    try:
        return BACKENDS[name]()
    except KeyError:
        raise CrftagError(f"unknown backend {name!r}; available: {', '.join(BACKENDS)}") from None


def coerce_params(backend: type[Backend], raw: dict[str, str]) -> dict[str, Any]:
    """Turn ``KEY=VALUE`` strings from the command line into typed backend parameters."""
    sig = inspect.signature(backend.__init__).parameters
    params: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in sig or key == "self":
            raise CrftagError(f"backend {backend.name!r} has no parameter {key!r}; "
                              f"parameters: {', '.join(backend.param_names())}")
        default = sig[key].default
        params[key] = _coerce(key, value, default)
    return params


def _coerce(key: str, value: str, default: Any) -> Any:
    if value.lower() in ("none", "null"):
        return None
    try:
        if isinstance(default, bool):
            if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(value)
            return value.lower() in ("true", "1", "yes")
        if isinstance(default, int):
            return int(value)
        if isinstance(default, float) or (default is None and _looks_numeric(value)):
            return float(value)
        if isinstance(default, tuple):
            return tuple(float(v) for v in value.split(","))
    except ValueError:
        raise CrftagError(f"parameter {key}: cannot read {value!r} as {type(default).__name__}") from None
    return value


def _looks_numeric(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True
