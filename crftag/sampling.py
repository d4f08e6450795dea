"""Sampling training sentences: keeping some of the entity-less ones, repeating rare types."""

from __future__ import annotations

import random
import statistics
from collections import Counter
from collections.abc import Sequence

from crftag.bio import split_tag
from crftag.errors import CrftagError
from crftag.types import Sentence


def oversample_rare(sentences: Sequence[Sentence], factor: int) -> list[Sentence]:
    """Repeat each sentence that mentions a rare entity type ``factor`` times in all.

    A type is rare when it has fewer mentions than the median type. This is the
    notebooks' remedy for types with a few dozen examples; ``factor`` 1 changes nothing.
    """
    if factor < 1:
        raise CrftagError(f"oversample factor must be at least 1, not {factor}")
    mentions = Counter(split_tag(t)[1] for s in sentences for t in s.tags if t.startswith("B-"))
    if factor == 1 or not mentions:
        return list(sentences)
    median = statistics.median(mentions.values())
    rare = {k for k, n in mentions.items() if n < median}
    extra = [s for s in sentences if any(t.startswith("B-") and split_tag(t)[1] in rare
                                         for t in s.tags)]
    return [*sentences, *(extra * (factor - 1))]


def keep_empty(sentences: Sequence[Sentence], fraction: float, seed: int = 0) -> list[Sentence]:
    """Keep ``fraction`` of the sentences without an entity (chosen with ``seed``), all the others.

    Most tweets name nothing (62% of WNUT16 train): dropping some of them is the cheap way
    to trade precision for recall, which this task rewards (one 2016 system gained 6.8 points
    of segmentation recall so). ``fraction`` 1 changes nothing; order is kept."""
    if not 0 < fraction <= 1:
        raise CrftagError(f"the fraction of entity-less sentences kept must be in (0, 1], not {fraction}")
    if fraction == 1:
        return list(sentences)
    rng = random.Random(seed)
    return [s for s in sentences if any(t != "O" for t in s.tags) or rng.random() < fraction]
