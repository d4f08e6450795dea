"""What a batch of request items becomes: one compiled call, then each item's answer object.

Shared by the server's micro-batcher (:mod:`crftag.integrations.serve`) and the warm-up
(:mod:`crftag.integrations.warmup`), which makes the same calls before the first request.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from crftag.calibration import Thresholds, threshold_for

if TYPE_CHECKING:
    from crftag.tagger import Tagger
    from crftag.types import Tagged


@dataclass(frozen=True, slots=True)
class Item:
    """One input to tag: a text or a token list, its optional id, its request's threshold."""

    text: str | None
    tokens: list[str] | None
    id: str | int | None
    min_confidence: Thresholds


def tag_items(tagger: Tagger, items: Sequence[Item]) -> list[dict]:
    """The answer objects of a batch of items: one compiled call for all of them."""
    from crftag.io.writers import jsonl_object
    from crftag.text.tokenize import tokenize
    from crftag.types import Sentence

    sentences = []
    for it in items:
        if it.tokens is not None:
            sentences.append(Sentence(list(it.tokens), id=it.id))
        else:
            tokens, spans = tokenize(it.text)
            sentences.append(Sentence(tokens, text=it.text, spans=spans, id=it.id))
    tagged = tagger.tag_sentences(sentences, None, batch_size=max(len(sentences), 1))
    return [jsonl_object(threshold(t, it.min_confidence)) for t, it in zip(tagged, items, strict=True)]


def threshold(tagged: Tagged, min_confidence: Thresholds) -> Tagged:
    """``tagged`` as ``Tagger`` gives it with ``min_confidence``: entities below their type's
    threshold dropped, and their tokens tagged O. Applied per request, so one batch can serve
    several thresholds."""
    if min_confidence is None:
        return tagged
    dropped = [e for e in tagged.entities if e.score is not None
               and e.score < (threshold_for(min_confidence, e.type) or 0.0)]
    if not dropped:
        return tagged
    tags = list(tagged.tags)
    for e in dropped:
        tags[e.token_start:e.token_end] = ["O"] * (e.token_end - e.token_start)
    return type(tagged)(tagged.sentence, tags, [e for e in tagged.entities if e not in dropped])
