"""Training backends behind one small interface, discovered through entry points.

A backend is a scikit-learn-style estimator: parameters in ``__init__``,
``fit(X, y, X_dev, y_dev)`` on a :class:`~crftag.features.featurize.Featurized` batch
(which also carries the token strings), returning a model that tags batches
(``predict_batch``/``analyse_batch``) and stores itself as arrays
(``to_arrays`` / ``load``).

Backends register under the entry-point group ``crftag.backends``; ``crf``,
``sgd``, ``bilstm-crf`` and ``transformer`` are registered that way in crftag's own
``pyproject.toml``, exactly as a third-party package would register one.
Nothing is imported until a backend is asked for, and a backend that needs an
optional package (``requires``) is listed as unavailable, with the reason,
when that package is missing.
"""

from __future__ import annotations

import importlib.util
import inspect
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import numpy as np

from crftag.errors import CrftagError

if TYPE_CHECKING:
    from crftag.features.featurize import Featurized


class TaggingModel(Protocol):
    """What a trained backend gives the :class:`~crftag.Tagger`."""

    labels: list[str]

    def predict_batch(self, X: Featurized) -> list[list[str]]:
        """Labels of every sentence of a batch."""

    def analyse_batch(self, X: Featurized) -> list[tuple | None]:
        """Per sentence: (label ids, entity chunk starts, chunk ends, chunk confidences)
        as arrays, the chunks as conlleval finds them; None for an empty sentence."""

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Everything needed to rebuild the model, as named arrays."""


class Backend(ABC):
    """A trainer. Subclasses declare their parameters as ``__init__`` keywords.

    ``requires`` names optional packages the backend imports (lazily, inside its
    methods): when one is missing the backend is listed but unavailable.
    ``extra`` is the pip extra that installs them.
    """

    name: ClassVar[str]
    requires: ClassVar[tuple[str, ...]] = ()
    extra: ClassVar[str | None] = None

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


ENTRY_POINT_GROUP = "crftag.backends"


@dataclass
class BackendInfo:
    """One installed backend: where it comes from, and whether it can run here."""

    name: str
    target: str  # "module:attribute"
    distribution: str
    reason: str | None = None  # why it is unavailable; None when it is available

    @property
    def available(self) -> bool:
        return self.reason is None


def _entry_points() -> dict[str, Any]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def _inspect(ep: Any) -> tuple[type[Backend] | None, BackendInfo]:
    dist = ep.dist.name if getattr(ep, "dist", None) else "?"
    info = BackendInfo(ep.name, ep.value, dist)
    try:
        cls = ep.load()
    except ImportError as exc:
        info.reason = f"cannot import {ep.value} ({exc})"
        return None, info
    if not (isinstance(cls, type) and issubclass(cls, Backend)):
        info.reason = f"{ep.value} is not a crftag Backend subclass"
        return None, info
    missing = [m for m in cls.requires if importlib.util.find_spec(m) is None]
    if missing:
        hint = f" (pip install 'crftag[{cls.extra}]')" if cls.extra else ""
        info.reason = f"needs {', '.join(missing)}{hint}"
    return cls, info


def list_backends() -> list[BackendInfo]:
    """Every backend registered in the environment, available or not, by name."""
    return [_inspect(ep)[1] for _, ep in sorted(_entry_points().items())]


def get_backend(name: str) -> type[Backend]:
    """The backend class registered under ``name`` (its module imported only now)."""
    eps = _entry_points()
    if name not in eps:
        known = ", ".join(sorted(eps)) or "none (is crftag installed? pip install -e .)"
        raise CrftagError(f"unknown backend {name!r}; installed backends: {known}")
    cls, info = _inspect(eps[name])
    if cls is None or info.reason:
        raise CrftagError(f"backend {name!r} is unavailable: {info.reason}")
    return cls


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
