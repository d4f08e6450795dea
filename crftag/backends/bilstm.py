"""The ``bilstm-crf`` backend: a feature-augmented BiLSTM-CRF in PyTorch, for comparison.

Install with ``pip install 'crftag[neural]'``. This module imports nothing from
torch; :mod:`crftag.backends.bilstm_net` (the network) is imported when the backend trains
or loads a model, so ``crftag`` itself never needs torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import numpy as np

from crftag.backends import Param, TaggingModel
from crftag.backends.neural import NeuralBackend
from crftag.features.featurize import Featurized


class BiLSTMCRFBackend(NeuralBackend):
    """Word embeddings + char CNN (+ crftag's hashed features when ``use_features``) -> BiLSTM -> CRF.

    Early stopping: after each epoch the model is scored on dev (entity F1) and
    the best epoch's weights are kept; training stops ``patience`` epochs after
    the best. ``embeddings`` is an optional word2vec/GloVe text file used to
    initialise the word embeddings (``word_dim`` must match it). ``device`` is
    ``auto`` (CUDA when torch sees a GPU), ``cpu`` or ``cuda``.
    """

    name = "bilstm-crf"
    array_prefix = "bl_"
    extra = "neural"

    params: ClassVar[dict[str, Param]] = {
        "word_dim": Param(int, 100, "word embedding size (the vectors' size with embeddings)", minimum=1),
        "char_dim": Param(int, 30, "character embedding size", minimum=1),
        "char_filters": Param(int, 50, "filters of the character CNN", minimum=1),
        "hidden": Param(int, 100, "LSTM units per direction", minimum=1),
        "use_features": Param(bool, True, "add crftag's hand-crafted feature keys as embeddings"),
        "feature_buckets": Param(int, 2 ** 18, "hash buckets for the feature keys", minimum=1),
        "feature_dim": Param(int, 32, "feature embedding size", minimum=1),
        "dropout": Param(float, 0.5, "dropout before and after the LSTM", minimum=0, maximum=1),
        "word_dropout": Param(float, 0.05, "share of words replaced by <unk> in training", minimum=0,
                              maximum=1),
        "lr": Param(float, 2e-3, "Adam learning rate", minimum=0),
        "batch_size": Param(int, 32, "sentences per step", minimum=1),
        "max_epochs": Param(int, 30, "most passes over the training data", minimum=1),
        "patience": Param(int, 4, "epochs without a better dev F1 before stopping", minimum=1),
        "embeddings": Param(str, None, "word2vec/GloVe text file to start the word embeddings from",
                            optional=True),
        "device": Param(str, "auto", "where to train (auto: a CUDA GPU when torch sees one)",
                        choices=("auto", "cpu", "cuda")),
        "seed": Param(int, 0, "random seed (initialisation, order, dropout)"),
    }

    def fit(self, X: Featurized, y: Sequence[list[str]], X_dev: Featurized | None = None,
            y_dev: Sequence[list[str]] | None = None, progress: bool = False) -> TaggingModel:
        from crftag.backends.bilstm_net import train_network

        model, self.info_ = train_network(X, y, X_dev, y_dev, progress=progress, **self.get_params())
        return model

    @classmethod
    def load(cls, labels: list[str], arrays: dict[str, np.ndarray]) -> TaggingModel:
        from crftag.backends.bilstm_net import BiLSTMCRFModel

        return BiLSTMCRFModel.from_arrays(labels, arrays)
