"""Training: labelled data + feature set + backend -> :class:`Tagger`."""

from __future__ import annotations

import os
import random
from collections.abc import Sequence
from typing import Any

from crftag.backends import get_backend
from crftag.backends.linear import LinearBackend
from crftag.errors import CrftagError
from crftag.evaluation.scores import evaluate
from crftag.features.featureset import FeatureSet, load_feature_set
from crftag.features.featurize import Featurizer
from crftag.features.lexicon import build_lexicon
from crftag.linear.model import average
from crftag.resources.corpora import load_with_provenance
from crftag.sampling import keep_empty, oversample_rare
from crftag.stacking.firstpass import fit_stack
from crftag.stacking.model import Stack
from crftag.tagger import Tagger
from crftag.types import Sentence

DataArg = str | os.PathLike[str] | Sequence[Sentence]


def _load(data: DataArg | Sequence[DataArg], fmt: str | None,
          encoding: str = "utf-8") -> tuple[list[Sentence], list[dict]]:
    """Sentences and a provenance record (name, sha256) for each source."""
    if isinstance(data, (str, os.PathLike)):
        data = [data]
    data = list(data)
    if data and all(isinstance(s, Sentence) for s in data):
        return list(data), [{"source": "<in-memory>", "sentences": len(data)}]
    sentences: list[Sentence] = []
    record = []
    for item in data:
        sents, rec = load_with_provenance(item, fmt, encoding)
        sentences.extend(sents)
        record.append(rec)
    return sentences, record


def train(train_data: DataArg | Sequence[DataArg], dev: DataArg | None = None,
          backend: str = "crf", features: str | FeatureSet = "twitter",
          fmt: str | None = None, seed: int = 0, progress: bool = False,
          oversample: int = 1, shuffle_seed: int | None = None, encoding: str = "utf-8",
          empty_fraction: float = 0.5, bags: int = 1, **params: Any) -> Tagger:
    """Train a tagger.

    ``train_data`` is a path, a registry name (``"wnut16:train"``), a corpus split
    (``"corpus:btc/train"``), a list of them (concatenated), or a list of :class:`Sentence`.
    ``dev`` is scored after training (and used by backends that select hyperparameters on it).
    ``seed`` is the backend's seed (when it has one) and shuffles the training order;
    ``shuffle_seed`` shuffles the order instead (0: keep the order as read).
    ``oversample`` repeats sentences with rare entity types (:func:`oversample_rare`);
    ``empty_fraction`` keeps that share of the sentences without entities (:func:`keep_empty`;
    the default, a half, raised the mean dev F1 over WNUT16, WNUT17 and BTC by 0.8: README);
    with ``bags`` > 1, that many models are trained, each keeping a different share (seeds
    ``seed``, ``seed + 1``, ...), and their weights averaged into one linear model
    (:func:`crftag.linear.model.average`): the variance of subsampling, averaged away, at no cost
    in tagging speed. ``params`` go to the backend's constructor.
    """
    backend_cls = get_backend(backend)
    if seed and "seed" in backend_cls.param_names():
        params.setdefault("seed", seed)
    estimator = backend_cls(**params)
    estimator.check_params()
    if bags < 1:
        raise CrftagError(f"bags must be at least 1, not {bags}")
    if bags > 1 and empty_fraction == 1:
        raise CrftagError("bags differ only in which entity-less sentences they keep: "
                          "give an empty fraction below 1")
    feature_set = features if isinstance(features, FeatureSet) else load_feature_set(features)
    train_sents, train_record = _load(train_data, fmt, encoding)
    if not train_sents:
        raise CrftagError("no training sentences")
    if all(t == "O" for s in train_sents for t in s.tags):
        raise CrftagError("no entities in the training data: nothing to learn (every tag is O)")
    n_read, n_tokens = len(train_sents), sum(len(s) for s in train_sents)
    order_seed = seed if shuffle_seed is None else shuffle_seed
    dev_sents, dev_record = _load(dev, fmt, encoding) if dev is not None else ([], [])

    lexicon = build_lexicon(feature_set)
    featurizer = Featurizer(feature_set, lexicon)
    stack, stack_outputs = Stack([]), []
    if feature_set.stacks():
        if not issubclass(backend_cls, LinearBackend):
            raise CrftagError(f"feature set {feature_set.name!r} has stack groups, which need a linear "
                              f"backend (crf, sgd), not {backend_cls.name}")
        stack, stack_outputs = fit_stack(feature_set, lexicon, train_sents, dev_sents, seed, progress)
    position = {id(s): i for i, s in enumerate(train_sents)}
    X_dev = stack.featurize(featurizer.featurize_batch([s.tokens for s in dev_sents])) if dev_sents else None
    y_dev = [s.tags for s in dev_sents] or None
    models = []
    for bag in range(bags):
        sample = oversample_rare(keep_empty(train_sents, empty_fraction, seed + bag), oversample)
        if order_seed:  # the order the training sentences are presented in
            random.Random(order_seed).shuffle(sample)
        X = featurizer.featurize_batch([s.tokens for s in sample])
        if len(stack):  # each training sentence's first-pass features, jackknifed where asked
            X = stack.add_features(X, [stack_outputs[position[id(s)]] for s in sample])
        models.append(estimator.fit(X, [s.tags for s in sample], X_dev, y_dev, progress=progress))
    model = models[0] if bags == 1 else average(models)
    meta: dict[str, Any] = {
        "backend_params": estimator.get_params(),
        "fit_info": estimator.fit_info(),
        "seed": seed,
        "shuffle_seed": order_seed,
        "training": {"train": train_record, "dev": dev_record,
                     "sentences": n_read, "tokens": n_tokens,
                     "oversample": oversample, "empty_fraction": empty_fraction, "bags": bags,
                     "sentences_after_sampling": len(sample)},
    }
    if dev_sents:
        report = evaluate(y_dev, model.predict_batch(X_dev))
        meta["dev_scores"] = {"overall": report.overall, "per_type": report.per_type,
                              "notypes": report.notypes_overall}
    return Tagger(model, feature_set, backend, meta, lexicon, stack=stack)
