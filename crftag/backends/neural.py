"""What the torch backends (``bilstm-crf``, ``transformer``) share on the estimator side; torch
itself is imported only by their network modules, when they train or load."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from crftag.backends import Backend


class NeuralBackend(Backend):
    """A backend whose model file holds a network's weights and vocabularies, every array named
    ``array_prefix...``; what training reports (epochs, best epoch, device) is its fit info."""

    array_prefix: ClassVar[str]
    requires: ClassVar[tuple[str, ...]] = ("torch",)

    def fit_info(self) -> dict[str, Any]:
        return getattr(self, "info_", {})

    @classmethod
    def check_arrays(cls, labels: list[str], arrays: Mapping[str, np.ndarray]) -> set[str]:
        """The network's arrays, finite; their shapes are checked against the network it describes
        when it is loaded (:func:`crftag.backends.torch_common.shape_check`)."""
        from crftag.modelcheck import check_prefixed

        return check_prefixed(arrays, cls.array_prefix)
