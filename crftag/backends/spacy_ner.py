"""The ``spacy`` backend: spaCy's own NER, trained and run through spaCy's API, as a bench peer.

``crftag bench --backends crf,spacy`` then compares crftag with the tagger most users know, on
the same split, timed by the same rules. The pipeline is a blank English one with spaCy's
default ``ner`` component (its transition-based parser over hashed word features and a CNN,
spaCy's ``ner`` defaults), trained on crftag's tokens and tags (so no tokenisation differs);
crftag's features are not used. Install with ``pip install 'crftag[spacy]'``; nothing here
imports spaCy before the backend trains or loads.

The model file stores the ``ner`` component's weights as spaCy serialises them (msgpack: no
pickle) and rebuilds the component from this module's fixed configuration, never from a
configuration in the file. spaCy's NER gives no probabilities: entities get no confidence
(``score`` is null; ``--min-confidence`` keeps them).
"""

from __future__ import annotations

import random
import sys
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from crftag.backends import Backend, Param, TaggingModel
from crftag.bio import chunks, split_tag
from crftag.features.featurize import Featurized

WEIGHTS = "sp_ner"  # the ner component's bytes (uint8)
MAX_WEIGHT_BYTES = 1 << 30


def _strict_iob(tags: Sequence[str]) -> list[str]:
    """Tags as spaCy's ``Doc(ents=...)`` takes them: each chunk conlleval finds opens with B-."""
    out = ["O"] * len(tags)
    for type_, i, j in chunks(tags):
        out[i:j] = [f"B-{type_}"] + [f"I-{type_}"] * (j - i - 1)
    return out


def _blank_ner(types: Sequence[str]) -> Any:
    """A blank English pipeline with spaCy's default ``ner``, knowing ``types``."""
    import spacy

    nlp = spacy.blank("en")
    ner = nlp.add_pipe("ner")
    for type_ in types:
        ner.add_label(type_)
    return nlp


class SpacyNERModel:
    """A trained spaCy ``ner`` component behind crftag's :class:`TaggingModel` interface."""

    token_scores = None  # no probabilities: --auc is not offered

    def __init__(self, labels: Sequence[str], nlp: Any):
        self.labels = list(labels)
        self.nlp = nlp
        self._ids = {label: i for i, label in enumerate(self.labels)}

    def _docs(self, X: Featurized, batch_size: int = 256) -> list[Any]:
        from spacy.tokens import Doc

        docs = [Doc(self.nlp.vocab, words=list(tokens)) for tokens in X.sentences]
        return list(self.nlp.get_pipe("ner").pipe(docs, batch_size=batch_size))

    def predict_batch(self, X: Featurized) -> list[list[str]]:
        return [[f"{t.ent_iob_}-{t.ent_type_}" if t.ent_iob_ in ("B", "I") else "O" for t in doc]
                for doc in self._docs(X)]

    def analyse_batch(self, X: Featurized) -> list[tuple | None]:
        out: list[tuple | None] = []
        for tags in self.predict_batch(X):
            if not tags:
                out.append(None)
                continue
            path = np.array([self._ids.get(t, 0) for t in tags], dtype=np.int64)
            found = chunks(tags)
            out.append((path, np.array([i for _, i, _ in found], dtype=np.int64),
                        np.array([j for _, _, j in found], dtype=np.int64),
                        np.full(len(found), np.nan)))  # no confidence: given out as None
        return out

    def to_arrays(self) -> dict[str, np.ndarray]:
        data = self.nlp.get_pipe("ner").to_bytes(exclude=["vocab"])
        return {WEIGHTS: np.frombuffer(data, dtype=np.uint8).copy()}


class SpacyNERBackend(Backend):
    """spaCy's ``ner`` on a blank English pipeline, trained with ``nlp.update`` in minibatches;
    after each epoch it is scored on dev (entity F1, when a dev set is given) and the best
    epoch's weights are kept, stopping ``patience`` epochs after the best."""

    name = "spacy"
    requires = ("spacy",)
    extra = "spacy"
    params: ClassVar[dict[str, Param]] = {
        "max_epochs": Param(int, 15, "most passes over the training data", minimum=1),
        "patience": Param(int, 3, "epochs without a better dev F1 before stopping (with a dev set)",
                          minimum=1),
        "dropout": Param(float, 0.2, "dropout during updates", minimum=0, maximum=1),
        "batch_size": Param(int, 32, "sentences per update", minimum=1),
        "seed": Param(int, 0, "random seed (spaCy's initialisation, order, dropout)"),
    }

    def fit(self, X: Featurized, y: Sequence[list[str]], X_dev: Featurized | None = None,
            y_dev: Sequence[list[str]] | None = None, progress: bool = False) -> TaggingModel:
        from spacy.tokens import Doc
        from spacy.training import Example
        from spacy.util import fix_random_seed, minibatch

        from crftag.evaluation.scores import evaluate

        labels = sorted({t for tags in y for t in tags} | {"O"}, key=lambda t: (t != "O", t))
        types = sorted({split_tag(t)[1] for t in labels} - {""})
        fix_random_seed(self.seed)
        nlp = _blank_ner(types)
        examples = [Example(Doc(nlp.vocab, words=list(toks)),
                            Doc(nlp.vocab, words=list(toks), ents=_strict_iob(tags)))
                    for toks, tags in zip(X.sentences, y, strict=True) if len(toks)]
        optimizer = nlp.initialize(lambda: examples)
        model = SpacyNERModel(labels, nlp)
        rng = random.Random(self.seed)
        best, best_f1, best_epoch, epochs = None, -1.0, 0, 0
        for epoch in range(1, self.max_epochs + 1):
            epochs = epoch
            rng.shuffle(examples)
            losses: dict[str, float] = {}
            for batch in minibatch(examples, size=self.batch_size):
                nlp.update(batch, drop=self.dropout, sgd=optimizer, losses=losses)
            if X_dev is None:  # nothing to stop on: every epoch is run, the last is kept
                best_epoch = epoch
                continue
            f1 = evaluate(y_dev, model.predict_batch(X_dev)).overall["f1"]
            if progress:
                print(f"spacy epoch {epoch}: loss {losses.get('ner', 0.0):.1f}, dev F1 {f1:.2f}",
                      file=sys.stderr, flush=True)
            if best is None or f1 > best_f1:
                best, best_f1, best_epoch = nlp.get_pipe("ner").to_bytes(exclude=["vocab"]), f1, epoch
            elif epoch - best_epoch >= self.patience:
                break
        if best is not None:
            nlp.get_pipe("ner").from_bytes(best, exclude=["vocab"])
        self.info_ = {"epochs": epochs, "best_epoch": best_epoch,
                      **({"best_dev_f1": best_f1} if X_dev is not None else {})}
        return model

    def fit_info(self) -> dict[str, Any]:
        return getattr(self, "info_", {})

    @classmethod
    def check_arrays(cls, labels: list[str], arrays: Mapping[str, np.ndarray]) -> set[str]:
        from crftag.modelcheck import Invalid

        data = arrays.get(WEIGHTS)
        if data is None or data.dtype != np.uint8 or data.ndim != 1 \
                or not 0 < data.size <= MAX_WEIGHT_BYTES:
            raise Invalid(f"array {WEIGHTS!r} must hold the ner component's bytes (uint8, "
                          f"1 byte to {MAX_WEIGHT_BYTES:,})")
        if labels[0] != "O" or any(split_tag(t)[0] not in ("B", "I") for t in labels[1:]):
            raise Invalid("a spacy model's labels are O, then B-/I- labels")
        return {WEIGHTS}

    @classmethod
    def load(cls, labels: list[str], arrays: dict[str, np.ndarray]) -> TaggingModel:
        from crftag.modelcheck import Invalid

        nlp = _blank_ner(sorted({split_tag(t)[1] for t in labels} - {""}))
        nlp.initialize()
        try:
            nlp.get_pipe("ner").from_bytes(arrays[WEIGHTS].tobytes(), exclude=["vocab"])
        except Exception as exc:  # spaCy's own error for bytes it cannot read: one line
            raise Invalid(f"array {WEIGHTS!r} is not a spaCy ner component "
                          f"({type(exc).__name__})") from None
        return SpacyNERModel(labels, nlp)
