"""The unit of data flowing through crftag: one sentence (one tweet)."""

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
