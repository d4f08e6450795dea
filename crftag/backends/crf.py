"""The ``crf`` backend: a linear-chain CRF trained by CRFsuite (sklearn-crfsuite).

Training goes through sklearn-crfsuite; the trained weights are then read from
CRFsuite's model file at full precision into a :class:`LinearChainModel`, so
tagging never calls CRFsuite and the model file holds only arrays.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from crftag.backends import Param
from crftag.backends.crfsuite_model import read_crfsuite_model
from crftag.backends.linear import LinearBackend
from crftag.features.featurize import Featurized
from crftag.linear.model import LinearChainModel, to_csr
from crftag.progress import progress_bar

ALGORITHMS = ("lbfgs", "l2sgd", "ap", "pa", "arow")


class CRFBackend(LinearBackend):
    """Linear-chain CRF. ``c1``/``c2`` are the L1/L2 penalties (L-BFGS; ``c2`` for l2sgd).

    The defaults are the best cell of ``bench/crf_grid.py`` on WNUT16 dev with the
    ``twitter`` feature set; stopping L-BFGS after 60 iterations acts as extra
    regularisation (100 and 200 iterations scored lower).
    """

    name = "crf"
    params: ClassVar[dict[str, Param]] = {
        "algorithm": Param(str, "lbfgs", "CRFsuite's training algorithm", choices=ALGORITHMS),
        "c1": Param(float, 0.02, "L1 penalty (lbfgs)", minimum=0),
        "c2": Param(float, 0.1, "L2 penalty (lbfgs, l2sgd)", minimum=0),
        "max_iterations": Param(int, 60, "training iterations (passes for ap, pa, arow)", minimum=1),
        "all_possible_transitions": Param(bool, True, "learn weights for label pairs unseen in training"),
        "min_freq": Param(float, 0.0, "drop features seen fewer times than this", minimum=0),
    }
    search_space: ClassVar[dict[str, list]] = {"algorithm": ["lbfgs"], "c1": [0.0, 0.02, 0.1],
                                               "c2": [0.01, 0.1, 0.5]}

    def _estimator(self, model_file: str, trainer_cls: type):
        import sklearn_crfsuite  # training only: tagging never needs it

        penalties = {"lbfgs": {"c1": self.c1, "c2": self.c2}, "l2sgd": {"c2": self.c2}}
        return sklearn_crfsuite.CRF(
            algorithm=self.algorithm, max_iterations=self.max_iterations,
            all_possible_transitions=self.all_possible_transitions, min_freq=self.min_freq,
            model_filename=model_file, trainer_cls=trainer_cls, verbose=False,
            **penalties.get(self.algorithm, {}))

    def fit(self, X: Featurized, y: Sequence[list[str]], X_dev: Featurized | None = None,
            y_dev: Sequence[list[str]] | None = None, progress: bool = False) -> LinearChainModel:
        attributes = X.strings()  # CRFsuite takes the integer keys as attribute names
        with tempfile.TemporaryDirectory(prefix="crftag-") as tmp, \
                progress_bar(self.max_iterations, f"training crf ({self.algorithm})", progress) as bar:
            model_file = os.path.join(tmp, "model.crfsuite")
            self._estimator(model_file, _progress_trainer(bar)).fit(attributes, list(y))
            return _to_linear_model(model_file)


def _progress_trainer(bar) -> type:
    """A CRFsuite trainer class that advances ``bar`` once per iteration, printing nothing."""
    import pycrfsuite

    class ProgressTrainer(pycrfsuite.Trainer):
        def message(self, message: str) -> None:
            if self.logparser.feed(message) == "iteration":
                bar.update(1)

    return ProgressTrainer


def _to_linear_model(model_file: str) -> LinearChainModel:
    """CRFsuite's trained weights as a LinearChainModel (attribute names are hex keys)."""
    crf = read_crfsuite_model(model_file)
    keys = np.array([int(a, 16) for a in crf.attributes], dtype=np.uint64)
    order = np.argsort(keys, kind="stable")
    position = np.empty(len(keys), dtype=np.int64)
    position[order] = np.arange(len(keys))
    sf = crf.state_features
    row_ptr, cols, vals = to_csr(position[sf["src"]], sf["dst"].astype(np.int64), sf["weight"],
                                 len(keys))
    return LinearChainModel(crf.labels, keys[order], row_ptr, cols, vals, crf.transitions)
