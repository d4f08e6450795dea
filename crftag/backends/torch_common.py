"""Torch code the neural backends share (imported only by them).

The CRF layer's likelihood (start and transition scores, as in crftag's linear models),
the device choice, a model that decodes a network's emissions with crftag's compiled
Viterbi and confidences (so entity scores mean what they mean for ``crf``), the check of
stored weights against a network built on torch's meta device, and the training loop with
early stopping on dev entity F1.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from crftag.errors import DataError
from crftag.evaluation.scores import evaluate
from crftag.features.featurize import Featurized
from crftag.linear.model import LinearChainModel
from crftag.progress import progress_bar


def crf_neg_log_likelihood(em: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor,
                           start: torch.Tensor, transitions: torch.Tensor) -> torch.Tensor:
    """Mean over sentences of log Z - score(gold path), by the forward algorithm.

    The same potentials as crftag's linear models: start + emissions + transitions
    (no end scores), so crftag's decoder tags with them unchanged. Every
    sentence has at least one token (mask[:, 0] is true).
    """
    n, t, _ = em.shape
    rows = torch.arange(n, device=em.device)
    gold = start[tags[:, 0]] + em[rows, 0, tags[:, 0]]
    alpha = start + em[:, 0]
    for i in range(1, t):
        step = mask[:, i]
        gold = gold + step * (em[rows, i, tags[:, i]] + transitions[tags[:, i - 1], tags[:, i]])
        nxt = torch.logsumexp(alpha.unsqueeze(2) + transitions, dim=1) + em[:, i]
        alpha = torch.where(step.unsqueeze(1), nxt, alpha)
    return (torch.logsumexp(alpha, dim=1) - gold).mean()


def pick_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise DataError("--device", None, "cuda was asked for but torch sees no CUDA GPU")
    return torch.device(device)


class NeuralCRFModel:
    """A trained network with CRF scores (``network.start``, ``network.transitions``),
    tagging through crftag's compiled decoder. ``network.emissions(batch)`` gives
    (sentences x words x labels) scores for ``encoder.batch(X, index, None, device)``."""

    def __init__(self, labels: Sequence[str], network: nn.Module, encoder,
                 device: torch.device | None = None):
        self.labels = list(labels)
        self.network = network.eval()
        self.encoder = encoder
        self.device = device or torch.device("cpu")
        self._sync_decoder()

    def _sync_decoder(self) -> None:
        """A weightless linear model holding the CRF scores: its decoder is crftag's."""
        trans = self.network.transitions.detach().cpu().double().numpy()
        start = self.network.start.detach().cpu().double().numpy()
        self._decoder = LinearChainModel(self.labels, np.zeros(0, np.uint64), np.zeros(1, np.int64),
                                         np.zeros(0, np.int32), np.zeros(0), trans, start=start)

    @torch.no_grad()
    def _emissions(self, X: Featurized, batch_size: int = 256) -> list[np.ndarray | None]:
        out: list[np.ndarray | None] = [None] * len(X)
        order = [i for i in range(len(X)) if len(X.sentences[i])]
        for a in range(0, len(order), batch_size):
            index = order[a:a + batch_size]
            em = self.network.emissions(self.encoder.batch(X, index, None, self.device))
            em = em.double().cpu().numpy()
            for b, i in enumerate(index):
                out[i] = np.ascontiguousarray(em[b, :len(X.sentences[i])])
        return out

    token_scores = "CRF marginals"

    def token_probabilities(self, X: Featurized) -> list[np.ndarray]:
        """Per sentence, the CRF layer's marginals (tokens x labels)."""
        return [np.zeros((0, len(self.labels))) if em is None else self._decoder.marginals(em)
                for em in self._emissions(X)]

    def analyse_batch(self, X: Featurized) -> list[tuple | None]:
        return [None if em is None else self._decoder.decode_emissions(em) for em in self._emissions(X)]

    def predict_batch(self, X: Featurized) -> list[list[str]]:
        labels = self.labels
        return [[labels[y] for y in d[0].tolist()] if d is not None else []
                for d in self.analyse_batch(X)]


def shape_check(build: Callable[[], Any], state: dict) -> None:
    """Build the network on torch's meta device (no memory) and compare its weights' names and
    shapes with the stored ones, before the real build allocates anything: a model file whose
    vocabulary or sizes disagree with its weights is refused, not allocated."""
    with torch.device("meta"):
        expected = {k: tuple(v.shape) for k, v in build().state_dict().items()}
    stored = {k: tuple(v.shape) for k, v in state.items()}
    if expected != stored:
        diff = sorted(set(expected.items()) ^ set(stored.items()))
        raise ValueError(f"stored weights do not fit the network they describe (first difference: "
                         f"{diff[0][0]} {diff[0][1]})")


def run_epoch(order: np.ndarray, rng: np.random.Generator, batch_size: int, batch_loss,
              opt: torch.optim.Optimizer, net: nn.Module, clip: float) -> float:
    """One pass over the sentences in a fresh random order; the mean loss per sentence."""
    rng.shuffle(order)
    total = 0.0
    for a in range(0, len(order), batch_size):
        index = order[a:a + batch_size].tolist()
        loss = batch_loss(index)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(net.parameters(), clip)
        opt.step()
        total += loss.item() * len(index)
    return total / max(len(order), 1)


def early_stopping(net: nn.Module, model, one_epoch, X_dev: Featurized | None,
                   y_dev: Sequence[Sequence[str]] | None, max_epochs: int, patience: int,
                   progress: bool, label: str) -> dict:
    """Run ``one_epoch`` (returns its mean loss) up to ``max_epochs`` times; after each, score
    dev entity F1 and keep the best epoch's weights, stopping ``patience`` epochs after it.
    Without dev data every epoch runs and the last weights stay."""
    best_f1, best_state, best_epoch, history = -1.0, None, 0, []
    with progress_bar(max_epochs, label, progress) as bar:
        for epoch in range(1, max_epochs + 1):
            net.train()
            record = {"epoch": epoch, "loss": one_epoch()}
            net.eval()
            model._sync_decoder()
            if X_dev is not None and y_dev is not None:
                record["dev_f1"] = evaluate(y_dev, model.predict_batch(X_dev)).overall["f1"]
                if record["dev_f1"] > best_f1:
                    best_f1, best_state, best_epoch = record["dev_f1"], copy.deepcopy(net.state_dict()), epoch
            history.append(record)
            bar.update(1)
            if best_state is not None and epoch - best_epoch >= patience:
                break
    if best_state is not None:
        net.load_state_dict(best_state)
    net.eval()
    model._sync_decoder()
    return {"epochs": len(history), "best_epoch": best_epoch or len(history), "history": history}
