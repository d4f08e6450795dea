"""The :class:`Tagger`: the one object users hold. Load once, tag forever.

Data flows text -> tokens -> features -> model -> tags -> entities.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from crftag._version import __version__
from crftag.backends import TaggingModel, get_backend
from crftag.bio import split_tag
from crftag.calibration import Calibration, Thresholds, check_thresholds, threshold_for
from crftag.engine.typecache import DEFAULT_CACHE_TYPES, TypeScoreCache
from crftag.errors import CrftagError, ModelError
from crftag.features.featureset import FeatureSet
from crftag.features.featurize import Featurized, Featurizer
from crftag.features.lexicon import Lexicon
from crftag.io.modelfile import load_model, save_model
from crftag.io.readers import sentences_from_texts
from crftag.linear.model import LinearChainModel
from crftag.modelcheck import Invalid, validate_model
from crftag.stacking.model import Stack
from crftag.text.tokenize import tokenize
from crftag.types import Entity, Sentence, Tagged


class Tagger:
    """A trained tagger: feature set + model + the metadata that describes them."""

    def __init__(self, model: TaggingModel, feature_set: FeatureSet, backend: str,
                 meta: dict[str, Any] | None = None, lexicon: Lexicon | None = None,
                 cache_types: int = DEFAULT_CACHE_TYPES, stack: Stack | None = None):
        self.model = model
        self.feature_set = feature_set
        self.backend = backend
        self.meta = dict(meta or {})
        self.lexicon = lexicon or Lexicon()
        self.featurizer = Featurizer(feature_set, self.lexicon)
        self.stack = stack or Stack([])  # the first passes of the feature set's stack groups
        if len(self.stack) != len(feature_set.stacks()):
            raise CrftagError(f"feature set {feature_set.name!r} has {len(feature_set.stacks())} stack "
                              f"groups but {len(self.stack)} first passes were given")
        if len(self.stack) and not isinstance(model, LinearChainModel):
            raise CrftagError("stack groups need a linear model (crf, sgd)")
        # Linear models tag through per-token-type cached scores (crftag.engine.typecache); other
        # models have no type cache and tag through their own predict/analyse.
        self.type_cache = TypeScoreCache(self.featurizer, model, cache_types, self.stack) \
            if isinstance(model, LinearChainModel) else None
        self._types = [split_tag(label)[1] for label in model.labels]  # entity type per label id
        # entity confidences as they are given out: raw ones through the fitted map (identity when
        # the model has none); a malformed one in a file is refused by validate_model first
        self.calibration = Calibration.from_meta(self.meta.get("calibration"))

    @property
    def labels(self) -> list[str]:
        return list(self.model.labels)

    @property
    def entity_types(self) -> list[str]:
        """The entity type of each label id ("" for O)."""
        return self._types

    # -- loading and saving ---------------------------------------------------
    @classmethod
    def load(cls, path: str | os.PathLike[str], cache_types: int = DEFAULT_CACHE_TYPES,
             sha256: str | None = None) -> Tagger:
        """Load a model file (a safe zip of JSON and arrays; no code runs), or a named model by
        name once it is on this machine (``"wnut16-twitter"``: :mod:`crftag.resources.models`).

        Every array and metadata field is validated (:mod:`crftag.modelcheck`) before compiled
        code sees it, so an untrusted file is either refused with a :class:`ModelError` or
        tags safely. ``sha256`` pins the file's digest (anything else is refused unread).
        ``cache_types`` bounds the per-token-type score cache: two generations of that
        many types each (about 0.8 KB a type with the default feature set)."""
        if not isinstance(path, (str, os.PathLike)) or isinstance(os.fspath(path), bytes):
            raise TypeError(f"path must be a str or os.PathLike naming a model file, not "
                            f"{type(path).__name__}")
        if cache_types < 1:  # the caller's mistake, not the file's: said before anything is read
            raise ValueError("the type cache needs a capacity of at least one type")
        from crftag.resources.models import resolve

        path = resolve(path)  # a named model's name: its cached file
        meta, arrays = load_model(path, sha256)
        try:
            feature_set, backend = validate_model(meta, arrays, os.fspath(path), get_backend)
        except Invalid as exc:
            raise ModelError(path, f"invalid model: {exc}") from None
        except CrftagError as exc:  # a backend that is not installed or cannot run here
            raise ModelError(path, str(exc)) from None
        try:
            lexicon = Lexicon.from_arrays(meta.get("lexicon", {}), arrays)
            model = backend.load(list(meta["labels"]), arrays)
            stack = Stack.from_arrays(feature_set.stacks(), meta.get("stack", {}), arrays)
            return cls(model, feature_set, meta["backend"], meta, lexicon, cache_types, stack)
        except Exception as exc:
            raise ModelError(path, f"inconsistent model contents ({type(exc).__name__}: "
                                   f"{str(exc)[:300]})") from None

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the model atomically; see :mod:`crftag.io.modelfile`."""
        meta = {**self.meta, "crftag_version": __version__, "backend": self.backend,
                "labels": self.labels, "feature_set": self.feature_set.to_dict(),
                "lexicon": self.lexicon.meta()}
        meta.pop("stack", None)
        if len(self.stack):
            meta["stack"] = self.stack.meta()
        save_model(path, meta, {**self.model.to_arrays(), **self.lexicon.to_arrays(),
                                **self.stack.to_arrays()})

    # -- tagging ----------------------------------------------------------------
    def tag_tokens(self, tokens: Sequence[str]) -> list[str]:
        """BIO tags for one pre-tokenised sentence."""
        return self.tag_tokens_batch([_tokens(tokens, "tokens")])[0]

    def tag_tokens_batch(self, sentences: Sequence[Sequence[str]]) -> list[list[str]]:
        """BIO tags for many pre-tokenised sentences, without confidences (the fastest path)."""
        sentences = [_tokens(s, f"sentences[{i}]")
                     for i, s in enumerate(_many(sentences, "sentences", "token lists"))]
        if self.type_cache is None:
            return [t.tags for t in self._tag_batch([Sentence(list(s)) for s in sentences], None)]
        tokens, sent_ptr = _flatten(sentences)
        flat = self.type_cache.labels(tokens, sent_ptr).tolist()
        labels = self.model.labels
        bounds = sent_ptr.tolist()
        return [[labels[y] for y in flat[a:b]] for a, b in itertools.pairwise(bounds)]

    def tag(self, text: str, min_confidence: Thresholds = None) -> list[Entity]:
        """Entities in one text (a tweet), with character offsets into ``text`` and confidences."""
        min_confidence = check_thresholds(min_confidence)
        tokens, spans = tokenize(_text(text, "text"))
        if self.type_cache is None or not tokens:
            return self.analyse(Sentence(tokens, text=text, spans=spans), min_confidence).entities
        # the latency path: one sentence, one compiled call, no tag strings built
        decoded = self.type_cache.analyse(tokens, np.array([0, len(tokens)]))[0]
        return self._entities(text, spans, decoded, min_confidence)

    def tag_batch(self, texts: Iterable[str], min_confidence: Thresholds = None) -> list[list[Entity]]:
        """Entities for each of several texts."""
        texts = (_text(t, f"texts[{i}]") for i, t in enumerate(_many(texts, "texts", "str (one per text)")))
        return [t.entities for t in self.tag_sentences(sentences_from_texts(texts), min_confidence)]

    def analyse(self, sentence: Sentence, min_confidence: Thresholds = None) -> Tagged:
        """Tags and scored entities of one sentence."""
        return self._tag_batch([sentence], check_thresholds(min_confidence))[0]

    def tag_sentences(self, sentences: Iterable[Sentence], min_confidence: Thresholds = None,
                      batch_size: int = 256) -> Iterator[Tagged]:
        """Stream tagged sentences in input order, featurising in batches."""
        return self._stream(sentences, check_thresholds(min_confidence), batch_size)

    def _stream(self, sentences: Iterable[Sentence], min_confidence: Thresholds,
                batch_size: int) -> Iterator[Tagged]:
        batch: list[Sentence] = []
        for sent in sentences:
            batch.append(sent)
            if len(batch) >= batch_size:
                yield from self._tag_batch(batch, min_confidence)
                batch = []
        if batch:
            yield from self._tag_batch(batch, min_confidence)

    def _tag_batch(self, sentences: list[Sentence], min_confidence: Thresholds) -> list[Tagged]:
        tokens = [s.tokens for s in sentences]
        if self.type_cache is None:  # a model without the linear fast path: go through feature keys
            decoded = self.model.analyse_batch(self.featurize(tokens))
        else:
            decoded = self.type_cache.analyse(*_flatten(tokens))
        return [self._tagged(s, d, min_confidence) if d else Tagged(s, [], [])
                for s, d in zip(sentences, decoded, strict=True)]

    def _tagged(self, sentence: Sentence, decoded: tuple, min_confidence: Thresholds) -> Tagged:
        labels = self.model.labels
        tags = [labels[i] for i in decoded[0].tolist()]
        sent = sentence.with_text()
        ents = self._entities(sent.text, sent.spans, decoded, min_confidence)
        kept = {e.token_start for e in ents}
        for i, j in zip(decoded[1].tolist(), decoded[2].tolist(), strict=True):
            if i not in kept:  # entities dropped by min_confidence leave no tags behind either
                tags[i:j] = ["O"] * (j - i)
        return Tagged(sent, tags, ents)

    def _entities(self, text: str, spans: list[tuple[int, int]], decoded: tuple,
                  min_confidence: Thresholds) -> list[Entity]:
        """Entities of a decoded sentence (label path, chunk starts, ends, raw probabilities),
        with calibrated confidences, those under their type's threshold left out."""
        path, starts, ends, raw = decoded
        types = self._types
        scores = self.calibration.apply(raw) if len(raw) else raw
        ents = []
        for i, j, score in zip(starts.tolist(), ends.tolist(), scores.tolist(), strict=True):
            type_ = types[path[i]]
            floor = threshold_for(min_confidence, type_)
            if score != score:  # NaN: a backend that gives no confidence (spacy)
                score = None
            if floor is None or score is None or score >= floor:
                start, end = spans[i][0], spans[j - 1][1]
                ents.append(Entity(text=text[start:end], type=type_, start=start, end=end,
                                   token_start=i, token_end=j, score=score))
        return ents

    def featurize(self, sentences: Sequence[Sequence[str]]) -> Featurized:
        """The feature keys of a batch as the model sees them, stack features included (the plain
        path: for backends without a type cache, and for checking the compiled one)."""
        X = self.featurizer.featurize_batch(sentences)
        return self.stack.featurize(X) if len(self.stack) else X

    def info(self) -> dict[str, Any]:
        """What the model is: backend, feature set, labels, training data and scores."""
        keys = ("crftag_version", "backend", "backend_params", "fit_info", "training",
                "dev_scores", "calibration", "seed", "lexicon", "stack", "named_model")
        return {"labels": self.labels, "feature_set": self.feature_set.name,
                **{k: self.meta[k] for k in keys if k in self.meta}}


def _many(values: Any, what: str, kind: str) -> Iterable[Any]:
    """``values`` if it can be a collection of texts or token lists: a str (or bytes) would be
    taken one character at a time, so it is refused."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Iterable):
        raise TypeError(f"{what} must be a list of {kind}, not {type(values).__name__}")
    return values


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, not {type(value).__name__}")
    return value


def _tokens(value: Any, what: str) -> Sequence[str]:
    """A sentence of tokens: a list (tuple, array, any iterable) of str, not one str (which would
    be its characters)."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise TypeError(f"{what} must be a sequence of token strings, not {type(value).__name__}")
    if not isinstance(value, (list, tuple)):
        value = list(value)  # a numpy array, a pandas Series, a generator
    if not all(isinstance(token, str) for token in value):
        j, token = next((j, t) for j, t in enumerate(value) if not isinstance(t, str))
        raise TypeError(f"{what}[{j}] must be a str token, not {type(token).__name__}")
    return value


def _flatten(sentences: Sequence[Sequence[str]]) -> tuple[list[str], np.ndarray]:
    """All tokens of a batch in one list, and the sentence offsets into it."""
    sent_ptr = np.zeros(len(sentences) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, sentences), dtype=np.int64, count=len(sentences)), out=sent_ptr[1:])
    return list(itertools.chain.from_iterable(sentences)), sent_ptr
