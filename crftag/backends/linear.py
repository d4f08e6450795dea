"""What the linear backends (``crf``, ``sgd``, a plugin's) share on the estimator side: their
model is a :class:`~crftag.linear.model.LinearChainModel` (or a subclass), stored as its arrays,
checked as such, and tagged through the compiled fast path."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import numpy as np

from crftag.backends import Backend
from crftag.linear.model import LinearChainModel


class LinearBackend(Backend):
    """A backend whose models are ``model_class``: linear emission weights plus transitions."""

    model_class: ClassVar[type[LinearChainModel]] = LinearChainModel

    @classmethod
    def check_arrays(cls, labels: list[str], arrays: Mapping[str, np.ndarray]) -> set[str]:
        from crftag.modelcheck import check_linear

        return check_linear(labels, arrays)

    @classmethod
    def load(cls, labels: list[str], arrays: dict[str, np.ndarray]) -> LinearChainModel:
        return cls.model_class.from_arrays(labels, arrays)
