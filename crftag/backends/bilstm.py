"""The ``bilstm-crf`` backend: a feature-augmented BiLSTM-CRF in PyTorch, for comparison.

Install with ``pip install 'crftag[neural]'``. This module imports nothing from
torch; :mod:`crftag.backends.bilstm_net` (the network) is imported when the backend trains
or loads a model, so ``crftag`` itself never needs torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from crftag.backends import Backend, TaggingModel
from crftag.features.featurize import Featurized


class BiLSTMCRFBackend(Backend):
    """Word embeddings + char CNN (+ crftag's hashed features when ``use_features``) -> BiLSTM -> CRF.

    Early stopping: after each epoch the model is scored on dev (entity F1) and
    the best epoch's weights are kept; training stops ``patience`` epochs after
    the best. ``embeddings`` is an optional word2vec/GloVe text file used to
    initialise the word embeddings (``word_dim`` must match it). ``device`` is
    ``auto`` (CUDA when torch sees a GPU), ``cpu`` or ``cuda``.
    """

    name = "bilstm-crf"
    requires = ("torch",)
    extra = "neural"

    def __init__(self, word_dim: int = 100, char_dim: int = 30, char_filters: int = 50,
                 hidden: int = 100, use_features: bool = True, feature_buckets: int = 2 ** 18,
                 feature_dim: int = 32, dropout: float = 0.5, word_dropout: float = 0.05,
                 lr: float = 2e-3, batch_size: int = 32, max_epochs: int = 30, patience: int = 4,
                 embeddings: str | None = None, device: str = "auto", seed: int = 0):
        self.word_dim = word_dim
        self.char_dim = char_dim
        self.char_filters = char_filters
        self.hidden = hidden
        self.use_features = use_features
        self.feature_buckets = feature_buckets
        self.feature_dim = feature_dim
        self.dropout = dropout
        self.word_dropout = word_dropout
        self.lr = lr
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.embeddings = embeddings
        self.device = device
        self.seed = seed
        self.info_: dict[str, Any] = {}

    def fit(self, X: Featurized, y: Sequence[list[str]], X_dev: Featurized | None = None,
            y_dev: Sequence[list[str]] | None = None, progress: bool = False) -> TaggingModel:
        from crftag.backends.bilstm_net import train_network

        model, self.info_ = train_network(X, y, X_dev, y_dev, progress=progress, **self.get_params())
        return model

    def fit_info(self) -> dict[str, Any]:
        return self.info_

    @classmethod
    def load(cls, labels: list[str], arrays: dict[str, np.ndarray]) -> TaggingModel:
        from crftag.backends.bilstm_net import BiLSTMCRFModel

        return BiLSTMCRFModel.from_arrays(labels, arrays)
