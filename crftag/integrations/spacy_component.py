"""crftag in a spaCy pipeline: the ``crftag_ner`` factory (``pip install 'crftag[spacy]'``).

    nlp = spacy.blank("en")
    nlp.add_pipe("crftag_ner", config={"model": "models/wnut16-crf.crftag"})
    doc = nlp("Watching the Lakers game at Staples Center")
    [(ent.text, ent.label_, ent._.crftag_score) for ent in doc.ents]

The factory is registered through the entry point group ``spacy_factories``, so spaCy finds
it without ``import crftag``; ``import crftag`` never imports spaCy.

crftag tags ``doc.text`` with its own tokenizer (the one its model was trained on), then maps
each entity's character offsets onto spaCy's tokens with ``Doc.char_span``. Where an entity
boundary falls inside a spaCy token, ``alignment`` decides: ``expand`` (the default) widens the
span to the whole spaCy tokens it touches, ``contract`` narrows it to the tokens inside it, and
``strict`` drops the entity. Spans that then overlap (two entities inside one spaCy token) keep
the more confident one. Whatever happens to a span, ``doc._.crftag_entities`` keeps crftag's
own entities (``Entity.to_dict()``: exact offsets, type, score), and each span of ``doc.ents``
carries its entity's probability as ``span._.crftag_score``.

``add_pipe`` loads the model, so a missing or bad file is an error there, not on the first
document. A pipeline that spaCy rebuilds from its config (``spacy.load``,
``Language.from_config`` before ``from_bytes``) gets the model from its own saved copy instead:
the path in the config may no longer exist. ``nlp.evaluate`` scores the entities with spaCy's
``Scorer.score_spans`` (``ents_p``, ``ents_r``, ``ents_f``, ``ents_per_type``).

Note: this module is read by spaCy's config validation, so it does not use
``from __future__ import annotations``.
"""

import os
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from spacy.language import Language
from spacy.scorer import Scorer
from spacy.tokens import Doc, Span
from spacy.training import Example
from spacy.util import minibatch

ALIGNMENTS = ("expand", "contract", "strict")
MODEL_FILE = "model.crftag"  # the model's copy inside a pipeline saved with nlp.to_disk


def _register_extensions() -> None:
    if not Span.has_extension("crftag_score"):
        Span.set_extension("crftag_score", default=None)
    if not Doc.has_extension("crftag_entities"):
        Doc.set_extension("crftag_entities", default=None)


def _thresholds(value: Any) -> float | dict[str, float] | None:
    """``min_confidence`` as ``crftag tag`` takes it: a number from 0 to 1, or one per entity type
    (``"*"``: the types not named); anything else is refused when the pipe is added."""
    from crftag.calibration import check_thresholds

    return check_thresholds(value, "crftag_ner: min_confidence")


class CrftagNER:
    """Sets ``doc.ents`` from a crftag model; batches ``nlp.pipe`` through ``Tagger.tag_batch``."""

    def __init__(self, nlp: Language, name: str, model: str | None,
                 min_confidence: float | dict[str, float] | None, alignment: str, batch_size: int):
        if alignment not in ALIGNMENTS:
            raise ValueError(f"crftag_ner: alignment must be one of {', '.join(ALIGNMENTS)}, "
                             f"not {alignment!r}")
        self.name = name
        self.model_path = model
        self.min_confidence = _thresholds(min_confidence)
        self.alignment = alignment
        self.batch_size = batch_size
        self._tagger: Any = None
        self._data: bytes | None = None  # the model file's bytes, when it came from from_bytes
        _register_extensions()
        if not _rebuilt_from_config():
            self._tagger = _load(model)  # a person adding the pipe hears of a bad model now

    @property
    def tagger(self) -> Any:
        """The crftag Tagger: loaded by ``add_pipe``, or by ``from_disk``/``from_bytes`` in a
        pipeline rebuilt from its config (else from the config's path on first use)."""
        if self._tagger is None:
            self._tagger = _load(self.model_path)
        return self._tagger

    def score(self, examples: Iterable[Example], **kwargs: Any) -> dict[str, Any]:
        """Entity precision, recall and F1, overall and per type, as ``nlp.evaluate`` reports
        them (spaCy's ``Scorer.score_spans`` on ``doc.ents``: exact span and label)."""
        return Scorer.score_spans(examples, "ents", **kwargs)

    def __call__(self, doc: Doc) -> Doc:
        return self.set_entities(doc, self.tagger.tag(doc.text, self.min_confidence))

    def pipe(self, stream: Iterable[Doc], batch_size: int | None = None) -> Iterator[Doc]:
        for docs in minibatch(stream, size=batch_size or self.batch_size):
            found = self.tagger.tag_batch([doc.text for doc in docs], self.min_confidence)
            for doc, entities in zip(docs, found, strict=True):
                yield self.set_entities(doc, entities)

    def set_entities(self, doc: Doc, entities: list) -> Doc:
        """Replace ``doc.ents`` with crftag's entities, aligned to spaCy's tokens."""
        spans = []
        for e in entities:
            span = doc.char_span(e.start, e.end, label=e.type, alignment_mode=self.alignment)
            if span is not None and len(span):  # strict: misaligned; contract: nothing left inside
                spans.append((span, e))
        kept: list[tuple[Span, Any]] = []
        taken: set[int] = set()
        for span, e in sorted(spans, key=lambda se: -(se[1].score if se[1].score is not None else 0.0)):
            if taken.isdisjoint(range(span.start, span.end)):
                kept.append((span, e))
                taken.update(range(span.start, span.end))
        kept.sort(key=lambda se: se[0].start)
        doc.ents = [span for span, _ in kept]
        for span, e in kept:
            span._.crftag_score = e.score
        doc._.crftag_entities = [e.to_dict() for e in entities]
        return doc

    # -- serialisation: the pipeline carries its own copy of the model file -------------------------
    def _model_bytes(self) -> bytes:
        if self._data is not None:
            return self._data
        if not self.model_path:
            raise ValueError("crftag_ner has no model file to save")
        from crftag.resources.models import resolve

        return Path(resolve(self.model_path)).read_bytes()  # a named model: its cached file

    def to_disk(self, path: str | os.PathLike, *, exclude: Iterable[str] = ()) -> None:
        target = Path(path) / MODEL_FILE
        target.parent.mkdir(parents=True, exist_ok=True)
        if self._data is None and self.model_path and Path(self.model_path).resolve() == target.resolve():
            return  # saving the pipeline over itself: the copy is already there
        target.write_bytes(self._model_bytes())

    def from_disk(self, path: str | os.PathLike, *, exclude: Iterable[str] = ()) -> "CrftagNER":
        from crftag.tagger import Tagger

        model = Path(path) / MODEL_FILE
        self._tagger = Tagger.load(model)
        self.model_path = os.fspath(model)
        self._data = None
        return self

    def to_bytes(self, *, exclude: Iterable[str] = ()) -> bytes:
        return self._model_bytes()

    def from_bytes(self, data: bytes, *, exclude: Iterable[str] = ()) -> "CrftagNER":
        from crftag.tagger import Tagger

        fd, name = tempfile.mkstemp(suffix=".crftag")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            self._tagger = Tagger.load(name)
        finally:
            os.unlink(name)
        self._data = data
        return self


def _load(model: str | None) -> Any:
    if not model:
        raise ValueError("crftag_ner needs a model: add_pipe('crftag_ner', config={'model': "
                         "'path/to/model.crftag'}) (or a named model such as 'wnut16-twitter')")
    from crftag.errors import CrftagError
    from crftag.tagger import Tagger

    try:
        return Tagger.load(model)
    except (CrftagError, OSError) as exc:
        raise ValueError(f"crftag_ner: {exc}") from None


def _rebuilt_from_config() -> bool:
    """Whether spaCy is building this component from a pipeline's config (``spacy.load`` and
    ``Language.from_config``), which then fills it from the pipeline's own copy of the model
    (``from_disk``/``from_bytes``); a direct ``add_pipe`` is not."""
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_code.co_name == "from_config" and frame.f_globals.get("__name__") == "spacy.language":
            return True
        frame = frame.f_back
    return False


@Language.factory(
    "crftag_ner",
    default_config={"model": None, "min_confidence": None, "alignment": "expand", "batch_size": 256},
    assigns=["doc.ents", "token.ent_iob", "token.ent_type"],
    default_score_weights={"ents_f": 1.0, "ents_p": 0.0, "ents_r": 0.0, "ents_per_type": None},
)
def make_crftag_ner(nlp: Language, name: str, model: str | None,
                    min_confidence: float | dict[str, float] | None,
                    alignment: str, batch_size: int) -> CrftagNER:
    """The ``crftag_ner`` pipeline component (entry point ``spacy_factories``)."""
    return CrftagNER(nlp, name, model, min_confidence, alignment, batch_size)
