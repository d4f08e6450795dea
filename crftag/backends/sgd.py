"""The ``sgd`` backend: per-token logistic regression (scikit-learn SGDClassifier).

This is the notebook baseline done right: the same features as the CRF, log
loss, optional ``class_weight="balanced"``, and the regularisation ``alpha``
picked from a grid by entity-level F1 on the dev set (or ``alpha`` fixed by the
user). Tokens are classified independently, so the decoder adds BIO
constraints: transitions BIO forbids (``O -> I-X``, ``B-X -> I-Y``) score
``-inf`` and a tweet may not start with ``I-``, and Viterbi picks the
best-scoring valid sequence of decision scores. The output is always valid BIO.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from crftag.backends import Param
from crftag.backends.linear import LinearBackend
from crftag.bio import allowed_starts, allowed_transitions
from crftag.evaluation.scores import evaluate
from crftag.features.featurize import Featurized
from crftag.linear.model import LinearChainModel
from crftag.progress import progress_bar

DEFAULT_ALPHAS = (1e-6, 1e-5, 1e-4, 1e-3)


def bio_constraints(labels: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Transition and start scores: 0 where BIO allows, -inf where it forbids."""
    trans = np.where(allowed_transitions(labels), 0.0, -np.inf)
    start = np.where(allowed_starts(labels), 0.0, -np.inf)
    return trans, start


class TokenClassifierModel(LinearChainModel):
    """The sgd backend's model: a linear model whose scores are a token classifier's decision
    scores, so its token probabilities are the classifier's, not CRF marginals."""

    token_scores = "classifier probabilities"

    def token_probabilities(self, X: Featurized) -> list[np.ndarray]:
        """Per token, the classifier's probabilities normalised over labels, as scikit-learn's
        ``predict_proba`` gives them (one-vs-rest sigmoids; a binary model's softmax)."""
        out = []
        for i in range(len(X)):
            emissions = self.emissions(X.keys, X.tokens(i))
            if emissions.shape[1] == 2:  # binary: stored as -d/2, +d/2
                p = np.exp(emissions - emissions.max(axis=1, keepdims=True))
            else:
                p = 1.0 / (1.0 + np.exp(-emissions))
            out.append(p / p.sum(axis=1, keepdims=True))
        return out


class SGDBackend(LinearBackend):
    """Token classifier with BIO-constrained decoding; ``alpha=None`` searches ``alphas`` on dev."""

    name = "sgd"
    params: ClassVar[dict[str, Param]] = {
        "alpha": Param(float, None, "regularisation strength; none: the best of alphas by dev F1",
                       minimum=0, optional=True),
        "alphas": Param(tuple, DEFAULT_ALPHAS, "the alpha grid searched on dev when alpha is none"),
        "class_weight": Param(str, "balanced", "class weights (balanced: inverse to label frequency)",
                              choices=("balanced",), optional=True),
        "max_iter": Param(int, 30, "passes over the training tokens", minimum=1),
        "seed": Param(int, 0, "random seed of the SGD passes"),
    }
    model_class = TokenClassifierModel
    search_space: ClassVar[dict[str, list]] = {"alpha": [1e-6, 1e-5, 1e-4, 1e-3],
                                               "class_weight": ["balanced", None]}

    def fit(self, X: Featurized, y: Sequence[list[str]], X_dev: Featurized | None = None,
            y_dev: Sequence[list[str]] | None = None, progress: bool = False) -> LinearChainModel:
        import scipy.sparse as sp

        labels = sorted({t for tags in y for t in tags})
        label_id = {lab: i for i, lab in enumerate(labels)}
        keys, columns = np.unique(X.keys, return_inverse=True)  # one column per distinct key
        matrix = sp.csr_matrix((np.ones(len(columns)), columns.ravel(), X.token_ptr),
                               shape=(len(X.token_ptr) - 1, len(keys)))
        target = np.array([label_id[t] for tags in y for t in tags])
        if self.alpha is not None or X_dev is None or y_dev is None:
            candidates = [self.alpha if self.alpha is not None else 1e-5]
        else:
            candidates = list(self.alphas)
        best: tuple[float, LinearChainModel, float] | None = None
        self.search_ = {}
        self.not_converged_ = []
        with progress_bar(len(candidates), "training sgd (alpha grid)", progress) as bar:
            for alpha in candidates:
                model = self._fit_one(matrix, target, labels, keys, alpha)
                if len(candidates) > 1:
                    pred = model.predict_batch(X_dev)
                    f1 = evaluate(y_dev, pred).overall["f1"]
                    self.search_[f"{alpha:g}"] = f1
                else:
                    f1 = 0.0
                if best is None or f1 > best[0]:
                    best = (f1, model, alpha)
                bar.update(1)
        self.alpha_ = best[2]
        return best[1]

    def _fit_one(self, matrix, target: np.ndarray, labels: list[str],
                 keys: np.ndarray, alpha: float) -> LinearChainModel:
        from sklearn.exceptions import ConvergenceWarning  # training only
        from sklearn.linear_model import SGDClassifier

        clf = SGDClassifier(loss="log_loss", alpha=alpha, class_weight=self.class_weight,
                            max_iter=self.max_iter, tol=1e-4, random_state=self.seed)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            clf.fit(matrix, target)
        if any(issubclass(w.category, ConvergenceWarning) for w in caught):
            self.not_converged_.append(alpha)  # recorded in the model, not printed mid-training
        coef = clf.coef_
        intercept = clf.intercept_
        if len(labels) == 2:  # binary: scikit-learn keeps one row, for the positive class
            coef = np.vstack([-coef[0] / 2, coef[0] / 2])
            intercept = np.array([-intercept[0] / 2, intercept[0] / 2])
        trans, start = bio_constraints(labels)
        return self.model_class.from_dense(labels, keys, np.ascontiguousarray(coef.T), trans,
                                           bias=intercept.astype(np.float64), start=start)

    def fit_info(self) -> dict[str, Any]:
        if not hasattr(self, "alpha_"):
            return {}
        return {"alpha": self.alpha_, "alpha_search_dev_f1": self.search_,
                "not_converged_alphas": self.not_converged_}
