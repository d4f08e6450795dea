"""Training: labelled data + feature set + backend -> :class:`Tagger`."""

from __future__ import annotations

import os
import random
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from crftag.backends import Backend, get_backend
from crftag.backends.linear import LinearBackend
from crftag.calibration import METHODS as CALIBRATION_METHODS
from crftag.calibration import entity_outcomes, expected_calibration_error
from crftag.calibration import fit as fit_calibration
from crftag.errors import CrftagError
from crftag.evaluation.scores import evaluate
from crftag.features.featureset import FeatureSet, load_feature_set
from crftag.features.featurize import Featurizer
from crftag.features.lexicon import build_lexicon
from crftag.limits import MAX_TOKENS
from crftag.linear.model import average
from crftag.resources.corpora import load_with_provenance
from crftag.resources.models import NamedModel, check_build, fetch, lookup
from crftag.sampling import keep_empty, oversample_rare
from crftag.stacking.firstpass import fit_stack
from crftag.stacking.model import Stack
from crftag.tagger import Tagger
from crftag.types import Sentence

DataArg = str | os.PathLike[str] | Sequence[Sentence]


def _load(data: DataArg | Sequence[DataArg], fmt: str | None, encoding: str = "utf-8",
          max_tokens: int | None = MAX_TOKENS) -> tuple[list[Sentence], list[dict]]:
    """Sentences and a provenance record (name, sha256) for each source; a sentence of more than
    ``max_tokens`` tokens is an error (from a file: naming its line, before it is read whole)."""
    if isinstance(data, (str, os.PathLike)):
        data = [data]
    data = list(data)
    if data and all(isinstance(s, Sentence) for s in data):
        sentences, record = list(data), [{"source": "<in-memory>", "sentences": len(data)}]
    else:
        sentences, record = [], []
        for item in data:
            sents, rec = load_with_provenance(item, fmt, encoding, max_tokens)
            sentences.extend(sents)
            record.append(rec)
    longest = max(range(len(sentences)), key=lambda k: len(sentences[k]), default=None)
    if max_tokens is not None and longest is not None and len(sentences[longest]) > max_tokens:
        raise CrftagError(f"sentence {longest + 1} has {len(sentences[longest]):,} tokens, more than "
                          f"{max_tokens:,} (max_tokens; training memory grows with sentence length)")
    return sentences, record


def named_model(name: str | NamedModel, download_it: bool = False, progress: bool = False) -> Path:
    """The cached file of a named model (:mod:`crftag.resources.models`): the first time, trained
    from its recipe (or, with ``download_it``, downloaded and checked against its pinned sha256)."""
    spec = lookup(name) if isinstance(name, str) else name
    target = spec.path()
    if target.is_file():
        return target
    if download_it:
        return fetch(spec, progress)
    sys.stderr.write(f"crftag: building named model {spec.name} v{spec.version} from "
                     f"{', '.join(spec.train)} (once; it is cached at {target})\n")
    tagger = train(list(spec.train), dev=spec.dev, features=spec.features, seed=spec.seed,
                   progress=progress, **spec.params)
    tagger.meta["named_model"] = {"name": spec.name, "version": spec.version}
    target.parent.mkdir(parents=True, exist_ok=True)
    tagger.save(target)
    check_build(spec, target)
    return target


def _check_label_limits(labels: set[str]) -> None:
    """The training data's labels against what a model file may hold (the loader refuses more):
    said before training, not after it."""
    from crftag.modelcheck import MAX_LABEL_CHARS, MAX_LABELS

    types = len({t[2:] for t in labels if t != "O"})
    if 2 * types + 1 > MAX_LABELS:  # a model may hold B- and I- of every type, and O
        raise CrftagError(f"the training data has {types} entity types; a model holds at most "
                          f"{MAX_LABELS} labels: O and B-/I- of {(MAX_LABELS - 1) // 2} types")
    long = sorted((t for t in labels if len(t) > MAX_LABEL_CHARS), key=len)
    if long:
        raise CrftagError(f"label {long[0][:40]!r}... in the training data has {len(long[0])} characters; "
                          f"a model's labels have at most {MAX_LABEL_CHARS}")


def _outcomes(tagger: Tagger, sentences: Sequence[Sentence]) -> tuple[list[float], list[bool]]:
    """Raw confidences of the entities ``tagger`` finds in labelled sentences, and which are right."""
    tagged = tagger.tag_sentences([Sentence(list(s.tokens)) for s in sentences])
    return entity_outcomes([s.tags for s in sentences], [t.entities for t in tagged])


def train(train_data: DataArg | Sequence[DataArg], dev: DataArg | None = None,
          backend: str | type[Backend] = "crf", features: str | FeatureSet = "twitter",
          fmt: str | None = None, seed: int = 0, progress: bool = False,
          oversample: int = 1, shuffle_seed: int | None = None, encoding: str = "utf-8",
          empty_fraction: float = 0.5, bags: int = 1, calibration: str = "auto",
          calibrate_on: str = "auto", calibration_folds: int = 3, max_tokens: int | None = MAX_TOKENS,
          **params: Any) -> Tagger:
    """Train a tagger.

    ``train_data`` is a path, a registry name (``"wnut16:train"``), a corpus split
    (``"corpus:btc/train"``), a list of them (concatenated), or a list of :class:`Sentence`.
    ``dev`` is scored after training (and used by backends that select hyperparameters on it).
    ``backend`` is a backend's name (``crftag backends``) or a :class:`Backend` subclass (a plugin
    not packaged: registered under its ``name`` for this process, so its models load here too).
    ``seed`` is the backend's seed (when it has one) and shuffles the training order;
    ``shuffle_seed`` shuffles the order instead (0: keep the order as read).
    ``oversample`` repeats sentences with rare entity types (:func:`oversample_rare`);
    ``empty_fraction`` keeps that share of the sentences without entities (:func:`keep_empty`;
    the default, a half, raised the mean dev F1 over WNUT16, WNUT17 and BTC by 0.8: README);
    with ``bags`` > 1, that many models are trained, each keeping a different share (seeds
    ``seed``, ``seed + 1``, ...), and their weights averaged into one linear model
    (:func:`crftag.linear.model.average`): the variance of subsampling, averaged away, at no cost
    in tagging speed. ``calibration`` maps entity confidences to the share of entities that are
    right (:mod:`crftag.calibration`). ``calibrate_on`` says on what: ``"dev"`` (the model's
    predictions on ``dev``), or ``"jackknife"`` (each of ``calibration_folds`` folds of the
    training data tagged by a model trained on the others, same settings, one bag: costs that
    many trainings); ``"auto"``: dev when given, which is new text as the model will see it, else
    the jackknife. ``calibration="auto"`` chooses among none, Platt and isotonic by cross-validated
    calibration error (for linear backends; ``"none"`` for others, whose folds would cost as much
    as training); a method's name forces it. ``max_tokens`` bounds a training or dev sentence's
    length (training memory grows with it: about 3.5 KB a token for the CRF); None lifts it.
    ``params`` go to the backend's constructor.
    """
    backend_cls = get_backend(backend)  # a name, or a Backend subclass (registered for this process)
    backend = backend_cls.name
    if seed and "seed" in backend_cls.param_names():
        params.setdefault("seed", seed)
    estimator = backend_cls(**params)
    estimator.check_params()
    if bags < 1:
        raise CrftagError(f"bags must be at least 1, not {bags}")
    if calibration not in ("auto", *CALIBRATION_METHODS):
        raise CrftagError(f"calibration must be auto, {', '.join(CALIBRATION_METHODS)}, not {calibration!r}")
    if calibrate_on not in ("auto", "dev", "jackknife"):
        raise CrftagError(f"calibrate_on must be auto, dev or jackknife, not {calibrate_on!r}")
    if calibration_folds < 2:
        raise CrftagError(f"calibration needs at least 2 folds, not {calibration_folds}")
    if bags > 1 and empty_fraction == 1:
        raise CrftagError("bags differ only in which entity-less sentences they keep: "
                          "give an empty fraction below 1")
    feature_set = features if isinstance(features, FeatureSet) else load_feature_set(features)
    train_sents, train_record = _load(train_data, fmt, encoding, max_tokens)
    if not train_sents:
        raise CrftagError("no training sentences")
    if all(t == "O" for s in train_sents for t in s.tags):
        raise CrftagError("no entities in the training data: nothing to learn (every tag is O)")
    _check_label_limits({t for s in train_sents for t in s.tags} | {"O"})
    n_read, n_tokens = len(train_sents), sum(len(s) for s in train_sents)
    order_seed = seed if shuffle_seed is None else shuffle_seed
    dev_sents, dev_record = _load(dev, fmt, encoding, max_tokens) if dev is not None else ([], [])

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

    def fit_model(sents: list[Sentence], estimator: Any, bag: int = 0, show: Any = False) -> tuple[Any, int]:
        sample = oversample_rare(keep_empty(sents, empty_fraction, seed + bag), oversample)
        if order_seed:  # the order the training sentences are presented in
            random.Random(order_seed).shuffle(sample)
        X = featurizer.featurize_batch([s.tokens for s in sample])
        if len(stack):  # each training sentence's first-pass features, jackknifed where asked
            X = stack.add_features(X, [stack_outputs[position[id(s)]] for s in sample])
        return estimator.fit(X, [s.tags for s in sample], X_dev, y_dev, progress=show), len(sample)

    fitted = [fit_model(train_sents, estimator, bag, progress) for bag in range(bags)]
    model = fitted[0][0] if bags == 1 else average([m for m, _ in fitted])
    n_sample = fitted[-1][1]
    method = calibration if calibration != "auto" else (
        "auto" if issubclass(backend_cls, LinearBackend) else "none")
    on_dev = calibrate_on == "dev" or (calibrate_on == "auto" and bool(dev_sents))
    if method != "none" and on_dev and not dev_sents:
        raise CrftagError("calibrating on dev needs a dev set")
    held_out: tuple[list[float], list[bool]] = ([], [])
    if method != "none" and not on_dev:  # each fold tagged by a model trained without it, as new text is
        fold_of = np.random.default_rng(seed).permutation(len(train_sents)) % calibration_folds
        for k in range(calibration_folds):
            fit_on = [s for s, f in zip(train_sents, fold_of, strict=True) if f != k]
            held = [s for s, f in zip(train_sents, fold_of, strict=True) if f == k]
            if not held or all(t == "O" for s in fit_on for t in s.tags):
                continue  # nothing to learn from, or to predict: no outcomes from this fold
            fold_model, _ = fit_model(fit_on, backend_cls(**params), show=progress)
            fold_tagger = Tagger(fold_model, feature_set, backend, {}, lexicon, stack=stack)
            outcome = _outcomes(fold_tagger, held)
            held_out[0].extend(outcome[0])
            held_out[1].extend(outcome[1])
    meta: dict[str, Any] = {
        "backend_params": estimator.get_params(),
        "fit_info": estimator.fit_info(),
        "seed": seed,
        "shuffle_seed": order_seed,
        "training": {"train": train_record, "dev": dev_record,
                     "sentences": n_read, "tokens": n_tokens,
                     "oversample": oversample, "empty_fraction": empty_fraction, "bags": bags,
                     "sentences_after_sampling": n_sample},
    }
    if dev_sents:
        report = evaluate(y_dev, model.predict_batch(X_dev))
        meta["dev_scores"] = {"overall": report.overall, "per_type": report.per_type,
                              "notypes": report.notypes_overall}
    tagger = Tagger(model, feature_set, backend, meta, lexicon, stack=stack)  # raw confidences
    if method != "none":
        dev_outcome = _outcomes(tagger, dev_sents) if dev_sents else None
        scores, correct = dev_outcome if on_dev else held_out
        calib = fit_calibration(scores, correct, CALIBRATION_METHODS if method == "auto" else (method,), seed)
        calib.fit_info["data"] = "dev" if on_dev else f"training data, jackknife of {calibration_folds} folds"
        if dev_outcome is not None and not on_dev:  # how the map does on dev (information)
            raw, dev_correct = dev_outcome
            calib.fit_info["dev_ece"] = {"raw": expected_calibration_error(raw, dev_correct),
                                         "calibrated": expected_calibration_error(calib.apply(np.array(raw)),
                                                                                  dev_correct)}
        tagger.meta["calibration"] = calib.to_meta()
        tagger.calibration = calib
    return tagger
