"""A leakage-safe train/dev split for users with one labelled file.

Sentences (never tokens) are assigned to one side, stratified by whether a
sentence has an entity, so both sides get the same share of entity-bearing
sentences; within each side the original order is kept. Deterministic given
the seed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from crftag.bio import chunks
from crftag.errors import CrftagError
from crftag.types import Sentence


def stratified_split(sentences: Sequence[Sentence], dev_fraction: float = 0.2,
                     seed: int = 0) -> tuple[list[Sentence], list[Sentence]]:
    """(train, dev): round(dev_fraction * n) of the sentences with entities, and of those
    without, go to dev, chosen at random with ``seed``."""
    if not 0 < dev_fraction < 1:
        raise CrftagError(f"dev fraction must be between 0 and 1, not {dev_fraction}")
    rng = np.random.default_rng(seed)
    dev: set[int] = set()
    for has_entity in (True, False):
        group = [i for i, s in enumerate(sentences) if bool(chunks(s.tags)) == has_entity]
        k = round(dev_fraction * len(group))
        dev.update(np.asarray(group)[rng.permutation(len(group))[:k]].tolist())
    return ([s for i, s in enumerate(sentences) if i not in dev],
            [s for i, s in enumerate(sentences) if i in dev])
