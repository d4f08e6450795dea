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
import numbers
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import numpy as np

from crftag.errors import CrftagError

if TYPE_CHECKING:
    from crftag.features.featurize import Featurized


class TaggingModel(Protocol):
    """What a trained backend gives the :class:`~crftag.Tagger`.

    Optional capabilities, looked up by generic code instead of asking which backend made the
    model: ``token_probabilities(X)`` (per sentence, tokens x labels; token-level AUC in
    ``crftag eval --auc``) with ``token_scores``, a few words saying what they are. A
    :class:`~crftag.linear.model.LinearChainModel` also tags through the compiled fast path.
    """

    labels: list[str]

    def predict_batch(self, X: Featurized) -> list[list[str]]:
        """Labels of every sentence of a batch."""

    def analyse_batch(self, X: Featurized) -> list[tuple | None]:
        """Per sentence: (label ids, entity chunk starts, chunk ends, chunk confidences)
        as arrays, the chunks as conlleval finds them; None for an empty sentence."""

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Everything needed to rebuild the model, as named arrays."""


@dataclass(frozen=True)
class Param:
    """One backend parameter, declared once: its type, default and help drive ``-p KEY=VALUE``
    parsing, the check before training, and ``crftag backends --params``.

    ``type`` is ``bool``, ``int``, ``float``, ``str``, or ``tuple`` (of floats; comma-separated
    on the command line). ``choices`` and ``minimum``/``maximum`` bound the value; ``optional``
    lets it be None (``none`` on the command line).
    """

    type: type
    default: Any
    help: str
    choices: tuple[Any, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    optional: bool = False

    def describe(self) -> str:
        """The accepted values in a few words (``float >= 0``, ``one of lbfgs, ap``)."""
        if self.choices:
            kind = "one of " + ", ".join(map(str, self.choices))
        else:
            kind = "floats, comma-separated" if self.type is tuple else self.type.__name__
            if self.minimum is not None and self.maximum is not None:
                kind += f" in {self.minimum:g}..{self.maximum:g}"
            elif self.minimum is not None:
                kind += f" >= {self.minimum:g}"
            elif self.maximum is not None:
                kind += f" <= {self.maximum:g}"
        return kind + (", or none" if self.optional else "")

    def parse(self, name: str, text: str) -> Any:
        """A value from the command line's text, checked."""
        if self.optional and text.lower() in ("none", "null"):
            return None
        try:
            if self.type is bool:
                if text.lower() not in _BOOLS:
                    raise ValueError(text)
                value: Any = _BOOLS[text.lower()]
            elif self.type is tuple:
                value = tuple(float(v) for v in text.split(","))
            else:
                value = self.type(text)
        except ValueError:
            raise CrftagError(f"parameter {name}: cannot read {text!r} as {self.describe()}") from None
        return self.check(name, value)

    def check(self, name: str, value: Any) -> Any:
        """``value`` if it is valid for this parameter, as the declared type (any integer where an
        int is asked, any real number where a float is asked, numpy's included; a list where a
        tuple is asked), else a one-line error."""
        if value is None and self.optional:
            return None
        number = isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))
        if self.type is float and number:
            value = float(value)
        elif self.type is int and number and isinstance(value, numbers.Integral):
            value = int(value)
        elif self.type is tuple and isinstance(value, list):
            value = tuple(value)
        ok = isinstance(value, self.type) and not (self.type is not bool and isinstance(value, bool))
        if self.type is tuple and ok:
            ok = all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in value)
        if ok and self.choices:
            ok = value in self.choices
        if ok and self.type in (int, float):
            ok = (self.minimum is None or value >= self.minimum) and \
                 (self.maximum is None or value <= self.maximum) and value == value  # NaN fails
        if not ok:
            raise CrftagError(f"parameter {name}: {value!r} is not {self.describe()}")
        return value


_BOOLS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


class Backend(ABC):
    """A trainer, scikit-learn style: parameters declared once in ``params`` (name ->
    :class:`Param`) and set by ``__init__``; ``fit`` returns the trained model, and nothing
    learnt is kept on the estimator but what ``fit_info`` reports.

    ``requires`` names optional packages the backend imports (lazily, inside its
    methods): when one is missing the backend is listed but unavailable.
    ``extra`` is the pip extra that installs them.
    """

    name: ClassVar[str]
    params: ClassVar[dict[str, Param]] = {}
    #: what ``crftag search`` tries without ``--grid`` (parameter -> values); empty: no default
    search_space: ClassVar[dict[str, list]] = {}
    requires: ClassVar[tuple[str, ...]] = ()
    extra: ClassVar[str | None] = None

    def __init__(self, **values: Any):
        unknown = sorted(set(values) - set(self.params))
        if unknown:
            raise CrftagError(f"backend {self.name!r} has no parameter {unknown[0]!r}; "
                              f"parameters: {', '.join(self.params) or 'none'}")
        for key, param in self.params.items():
            setattr(self, key, values.get(key, param.default))

    @abstractmethod
    def fit(self, X: Featurized, y: Sequence[list[str]], X_dev: Featurized | None = None,
            y_dev: Sequence[list[str]] | None = None, progress: bool = False) -> TaggingModel:
        """Train on featurised sentences ``X`` with tags ``y``."""

    @classmethod
    @abstractmethod
    def load(cls, labels: list[str], arrays: dict[str, np.ndarray]) -> TaggingModel:
        """Rebuild a trained model from its stored arrays (already checked by
        :meth:`check_arrays`)."""

    @classmethod
    def check_arrays(cls, labels: list[str], arrays: Mapping[str, np.ndarray]) -> set[str] | None:
        """Check a model file's arrays before :meth:`load` sees them (raise
        :class:`crftag.modelcheck.Invalid`) and return the names this backend reads; any other
        array in the file is then refused. None: the backend declares nothing, and its
        ``load`` must validate what it reads. By default, a file holding a linear model's
        arrays (as :class:`~crftag.linear.model.LinearChainModel` writes them) gets their checks."""
        from crftag.modelcheck import LINEAR_ARRAYS, check_linear

        if any(name in arrays for name in LINEAR_ARRAYS):
            return check_linear(labels, arrays)
        return None

    def fit_info(self) -> dict[str, Any]:
        """Facts about the last fit worth recording in the model file (e.g. a chosen alpha)."""
        return {}

    @classmethod
    def param_names(cls) -> list[str]:
        return list(cls.params)

    def get_params(self) -> dict[str, Any]:
        return {p: getattr(self, p) for p in self.params}

    def check_params(self) -> None:
        """Every parameter against its declaration (one-line :class:`CrftagError` naming it);
        :func:`crftag.train` calls this before training."""
        for key, param in self.params.items():
            setattr(self, key, param.check(key, getattr(self, key)))


ENTRY_POINT_GROUP = "crftag.backends"


@dataclass
class BackendInfo:
    """One installed backend: where it comes from, and whether it can run here."""

    name: str
    target: str  # "module:attribute"
    distribution: str
    reason: str | None = None  # why it is unavailable; None when it is available
    params: dict[str, Param] = field(default_factory=dict)  # empty when the class cannot be imported

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
    info.params = dict(cls.params)
    missing = [m for m in cls.requires if importlib.util.find_spec(m) is None]
    if missing:
        hint = f" (pip install 'crftag[{cls.extra}]')" if cls.extra else ""
        info.reason = f"needs {', '.join(missing)}{hint}"
    return cls, info


def list_backends() -> list[BackendInfo]:
    """Every backend registered in the environment, available or not, by name."""
    return [_inspect(ep)[1] for _, ep in sorted(_entry_points().items())]


# classes passed to crftag.train(backend=SomeBackend) in this process: found by name afterwards
# (Tagger.load of what they trained), as if an installed package had registered them
_IN_PROCESS: dict[str, type[Backend]] = {}


def get_backend(name: str | type[Backend]) -> type[Backend]:
    """The backend class registered under ``name`` (its module imported only now); a
    :class:`Backend` subclass itself is accepted, and registered under its ``name`` for this
    process, so a plugin runs without being packaged."""
    if isinstance(name, type):
        return _register(name)
    if not isinstance(name, str):
        raise TypeError(f"backend must be a backend's name or a Backend subclass, not {type(name).__name__}")
    if name in _IN_PROCESS:
        return _IN_PROCESS[name]
    eps = _entry_points()
    if name not in eps:
        known = ", ".join(sorted(eps)) or "none (is crftag installed? pip install -e .)"
        raise CrftagError(f"unknown backend {name!r}; installed backends: {known}")
    cls, info = _inspect(eps[name])
    if cls is None or info.reason:
        raise CrftagError(f"backend {name!r} is unavailable: {info.reason}")
    return cls


def _register(cls: type) -> type[Backend]:
    if not issubclass(cls, Backend) or getattr(cls, "__abstractmethods__", None):
        raise TypeError(f"{cls.__qualname__} is not a crftag Backend subclass with fit() defined")
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name:
        raise CrftagError(f"backend class {cls.__qualname__} has no name (a class attribute)")
    eps = _entry_points()
    if name in eps and _inspect(eps[name])[0] is not cls:
        raise CrftagError(f"backend name {name!r} is taken by {eps[name].value}; give "
                          f"{cls.__qualname__} another name")
    if _IN_PROCESS.setdefault(name, cls) is not cls:
        raise CrftagError(f"backend name {name!r} is taken by {_IN_PROCESS[name].__qualname__} in this "
                          f"process; give {cls.__qualname__} another name")
    return cls


def parse_params(backend: type[Backend], raw: dict[str, str]) -> dict[str, Any]:
    """``KEY=VALUE`` strings from the command line as typed, checked backend parameters."""
    params: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in backend.params:
            raise CrftagError(f"backend {backend.name!r} has no parameter {key!r}; "
                              f"parameters: {', '.join(backend.params) or 'none'}")
        params[key] = backend.params[key].parse(key, value)
    return params
