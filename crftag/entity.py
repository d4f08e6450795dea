"""A tagged entity, as returned by :meth:`crftag.Tagger.tag`."""

from __future__ import annotations

from dataclasses import dataclass


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
