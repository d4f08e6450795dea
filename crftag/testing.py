"""``check_backend``: the conformance suite every backend passes, crftag's own and plugins alike.

A plugin author runs it in their tests::

    from crftag.testing import check_backend
    from my_package import MyBackend

    def test_my_backend_conforms(tmp_path):
        check_backend(MyBackend, tmp_path)

It trains the backend on a dozen hand-written tweets and checks what crftag relies on:
parameters declared with valid defaults and refused when unknown or of the wrong type; a
model whose labels, predictions and analyses agree; arrays that are plain numbers and
rebuild the same model; the same seed giving the same model; a model file that round-trips
through :class:`~crftag.Tagger` when the backend is registered. Each failure is an
``AssertionError`` saying which promise broke. Nothing here needs pytest.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from crftag.backends import Backend, Param, TaggingModel, list_backends
from crftag.errors import CrftagError
from crftag.features.featureset import FeatureSet, load_feature_set
from crftag.features.featurize import Featurized, Featurizer
from crftag.features.lexicon import Lexicon

#: (tokens, tags): small enough to train any backend in seconds, varied enough to learn from
SENTENCES: list[tuple[list[str], list[str]]] = [
    (["Obama", "visits", "Paris", "today"], ["B-person", "O", "B-geo-loc", "O"]),
    (["Watching", "the", "Lakers", "game"], ["O", "O", "B-sportsteam", "O"]),
    (["New", "York", "is", "cold"], ["B-geo-loc", "I-geo-loc", "O", "O"]),
    (["@jimmy", "loves", "Taylor", "Swift"], ["O", "O", "B-person", "I-person"]),
    (["I", "am", "at", "Starbucks", "now"], ["O", "O", "O", "B-facility", "O"]),
    (["Paris", "is", "lovely"], ["B-geo-loc", "O", "O"]),
    (["lol", "so", "tired"], ["O", "O", "O"]),
    (["Obama", "and", "Taylor", "Swift", "in", "New", "York"],
     ["B-person", "O", "B-person", "I-person", "O", "B-geo-loc", "I-geo-loc"]),
    (["the", "Lakers", "won", "again", "#NBA"], ["O", "B-sportsteam", "O", "O", "O"]),
    (["coffee", "at", "Starbucks"], ["O", "O", "B-facility"]),
    (["good", "morning"], ["O", "O"]),
    (["Taylor", "Swift", "sings"], ["B-person", "I-person", "O"]),
]
PROBES = [["Obama", "in", "Paris"], ["Zzyzx", "@someone", "#tag", "http://t.co/x"], ["ok"]]


def _fail(backend: type, promise: str) -> AssertionError:
    return AssertionError(f"backend {getattr(backend, 'name', backend.__name__)!r}: {promise}")


def _check(ok: bool, backend: type, promise: str) -> None:
    if not ok:
        raise _fail(backend, promise)


def check_declaration(backend: type[Backend]) -> None:
    """Name, parameters and defaults as crftag reads them."""
    _check(isinstance(backend, type) and issubclass(backend, Backend), backend, "is not a crftag Backend")
    _check(isinstance(getattr(backend, "name", None), str) and bool(backend.name), backend,
           "needs a non-empty class attribute `name`")
    _check(isinstance(backend.params, Mapping) and all(isinstance(p, Param) for p in backend.params.values()),
           backend, "`params` must map names to crftag.backends.Param")
    init = inspect.signature(backend.__init__).parameters
    undeclared = [n for n, p in init.items() if n != "self" and n not in backend.params
                  and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    _check(not undeclared, backend, f"__init__ takes {', '.join(undeclared)} without declaring "
                                    "them in `params` (crftag can neither parse nor check them)")
    for name, p in backend.params.items():
        try:
            p.check(name, p.default)
        except CrftagError as exc:
            raise _fail(backend, f"the default of {name!r} fails its own declaration ({exc})") from None
        if p.default is not None and p.type is not tuple:
            text = str(p.default).lower() if p.type is bool else str(p.default)
            _check(p.parse(name, text) == p.default, backend,
                   f"parameter {name!r}: its default does not survive -p {name}={text}")
    for name, values in backend.search_space.items():
        _check(name in backend.params, backend, f"search_space names {name!r}, which is not a parameter")
        for value in values:
            try:
                backend.params[name].check(name, value)
            except CrftagError as exc:
                raise _fail(backend, f"search_space holds an invalid value ({exc})") from None
    estimator = backend()
    _check(estimator.get_params() == {k: p.default for k, p in backend.params.items()}, backend,
           "get_params() of a default instance must be the declared defaults")
    try:
        backend(no_such_parameter_here=1)
    except (CrftagError, TypeError):
        pass
    else:
        raise _fail(backend, "accepted an unknown parameter")
    for name, p in backend.params.items():
        wrong: Any = [] if p.type is not tuple else "x"
        try:
            backend(**{name: wrong}).check_params()
        except CrftagError:
            continue
        raise _fail(backend, f"accepted {wrong!r} for parameter {name!r} ({p.describe()})")


def tiny_batch(feature_set: FeatureSet | None = None) -> tuple[Featurizer, Featurized, list[list[str]]]:
    """The suite's sentences, featurised with the resource-free ``minimal`` feature set."""
    featurizer = Featurizer(feature_set or load_feature_set("minimal"), Lexicon())
    return featurizer, featurizer.featurize_batch([t for t, _ in SENTENCES]), [g for _, g in SENTENCES]


def check_model(backend: type[Backend], model: Any, featurizer: Featurizer, y: list[list[str]]) -> None:
    """Labels, predictions and analyses of a fitted model agree with each other."""
    labels = getattr(model, "labels", None)
    _check(isinstance(labels, list) and all(isinstance(t, str) for t in labels), backend,
           "a model needs `labels`, a list of strings")
    _check({t for tags in y for t in tags} <= set(labels), backend, "a model must know every training label")
    probes = [t for t, _ in SENTENCES[:3]] + PROBES + [[]]
    X = featurizer.featurize_batch(probes)
    pred = model.predict_batch(X)
    _check(len(pred) == len(probes), backend, "predict_batch must give one sequence per sentence")
    for tokens, tags in zip(probes, pred, strict=True):
        _check(len(tags) == len(tokens), backend, "predict_batch must give one label per token")
        _check(all(t in labels for t in tags), backend, "predict_batch gave a label the model does not have")
    analysed = model.analyse_batch(X)
    _check(len(analysed) == len(probes), backend, "analyse_batch must give one entry per sentence")
    for tokens, tags, entry in zip(probes, pred, analysed, strict=True):
        if not tokens:
            _check(entry is None, backend, "analyse_batch must give None for an empty sentence")
            continue
        path, starts, ends, probs = entry
        _check([labels[i] for i in np.asarray(path).tolist()] == tags, backend,
               "analyse_batch's label path must equal predict_batch's labels")
        _check(len(starts) == len(ends) == len(probs), backend,
               "analyse_batch: chunk arrays differ in length")
        _check(bool(np.all((np.asarray(probs) >= 0) & (np.asarray(probs) <= 1))), backend,
               "chunk confidences must be probabilities")


def check_storage(backend: type[Backend], model: Any, featurizer: Featurizer) -> dict[str, np.ndarray]:
    """``to_arrays`` gives plain numeric arrays from which ``load`` rebuilds the same model."""
    arrays = model.to_arrays()
    _check(isinstance(arrays, dict) and all(isinstance(k, str) for k in arrays), backend,
           "to_arrays must give a dict of named arrays")
    for name, arr in arrays.items():
        _check(isinstance(arr, np.ndarray) and arr.dtype.kind in "biuf", backend,
               f"array {name!r} must be a numpy array of booleans or numbers (model files hold no objects)")
    declared = backend.check_arrays(list(model.labels), arrays)
    if declared is not None:
        _check(set(arrays) <= declared, backend,
               f"check_arrays does not account for {sorted(set(arrays) - declared)[:3]}")
    again = backend.load(list(model.labels), {k: v.copy() for k, v in arrays.items()})
    X = featurizer.featurize_batch([t for t, _ in SENTENCES] + PROBES)
    _check(again.predict_batch(X) == model.predict_batch(X), backend,
           "the model rebuilt by load() from to_arrays() must tag as the original does")
    for a, b in zip(again.analyse_batch(X), model.analyse_batch(X), strict=True):
        _check((a is None and b is None) or (a is not None and b is not None
               and bool(np.allclose(np.asarray(a[3], float), np.asarray(b[3], float), rtol=0, atol=1e-9))),
               backend, "the rebuilt model's entity confidences must equal the original's")
    return arrays


def check_backend(backend: type[Backend], tmp_path: str | os.PathLike[str] | None = None,
                  **params: Any) -> TaggingModel:
    """Run every check on ``backend`` trained with ``params`` (e.g. fewer epochs); return the
    model. With ``tmp_path`` and the backend registered under its name, the model also goes
    through a model file and :meth:`crftag.Tagger.load`."""
    check_declaration(backend)
    estimator = backend(**params)
    estimator.check_params()
    featurizer, X, y = tiny_batch()
    model = estimator.fit(X, y, X, y)
    check_model(backend, model, featurizer, y)
    arrays = check_storage(backend, model, featurizer)
    _check(isinstance(estimator.fit_info(), dict), backend, "fit_info must give a dict")
    twin = backend(**params).fit(X, y, X, y).to_arrays()
    _check(twin.keys() == arrays.keys() and all(np.array_equal(twin[k], arrays[k]) for k in arrays), backend,
           "two fits with the same data and parameters (seed included) must give the same arrays")
    registered = {b.name for b in list_backends() if b.available}
    if tmp_path is not None and backend.name in registered:
        from crftag.tagger import Tagger

        path = os.path.join(os.fspath(tmp_path), f"{backend.name}.crftag")
        tagger = Tagger(model, featurizer.feature_set, backend.name,
                        {"backend_params": estimator.get_params()}, featurizer.lexicon)
        tagger.save(path)
        loaded = Tagger.load(path)
        probes = [t for t, _ in SENTENCES] + PROBES
        _check(loaded.tag_tokens_batch(probes) == tagger.tag_tokens_batch(probes), backend,
               "a model file must tag as the model it was saved from")
    return model
