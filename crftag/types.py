"""The data that flows between the stages: a sentence in, entities and tags out.

Readers make :class:`Sentence`; the tagger returns :class:`Entity` (from ``Tagger.tag``) or
:class:`Tagged` (a sentence with its tags and entities, for writers). Plain dataclasses, no
imports beyond the standard library, so writers and services can use them without numba.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Sentence:
    """Tokens with optional gold tags, source text and character spans.

    ``text`` and ``spans`` are set when the sentence came from raw text, so that
    entities can be reported as character offsets into what the user gave us.
    For pre-tokenised input they are derived by joining tokens with one space.
    """

    tokens: list[str]
    tags: list[str] | None = None
    text: str | None = None
    spans: list[tuple[int, int]] | None = None
    id: str | int | None = None  # a CSV sentence id or a JSONL "id", passed through
    line: int | None = None  # where the sentence starts in its file (1-based)
    extra: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.tokens)

    def with_text(self) -> Sentence:
        """Return self with ``text`` and ``spans`` filled in (tokens joined by spaces)."""
        if self.text is not None and self.spans is not None:
            return self
        spans, pos = [], 0
        for tok in self.tokens:
            spans.append((pos, pos + len(tok)))
            pos += len(tok) + 1
        self.text = " ".join(self.tokens)
        self.spans = spans
        return self


@dataclass(frozen=True, slots=True)
class Entity:
    """One entity mention.

    ``start``/``end`` are character offsets into the tagged text, so
    ``text == input[start:end]`` always holds; ``token_start``/``token_end``
    index the token list (end exclusive). ``score`` is the model's confidence
    in this exact span and type, or None when the model does not provide one.
    """

    text: str
    type: str
    start: int
    end: int
    token_start: int
    token_end: int
    score: float | None = None

    def to_dict(self) -> dict:
        # fields by hand: dataclasses.asdict deep-copies, which costs more than tagging
        return {"text": self.text, "type": self.type, "start": self.start, "end": self.end,
                "token_start": self.token_start, "token_end": self.token_end, "score": self.score}


@dataclass
class Tagged:
    """One tagged sentence: its tags and its entities (with confidences)."""

    sentence: Sentence
    tags: list[str]
    entities: list[Entity]
