"""The stratified train/dev split: by sentence, stratified, order kept, deterministic."""

from __future__ import annotations

from crftag.resources.split import stratified_split
from crftag.types import Sentence


def test_stratified_split():
    with_ent = [Sentence([f"e{i}"], ["B-person"]) for i in range(10)]
    without = [Sentence([f"o{i}"], ["O"]) for i in range(10)]
    sents = [s for pair in zip(with_ent, without, strict=True) for s in pair]
    train, dev = stratified_split(sents, 0.2, seed=4)
    assert len(dev) == 4 and sum(s.tags == ["B-person"] for s in dev) == 2
    assert {id(s) for s in train} | {id(s) for s in dev} == {id(s) for s in sents}
    assert not {id(s) for s in train} & {id(s) for s in dev}
    assert [sents.index(s) for s in train] == sorted(sents.index(s) for s in train)  # order kept
    assert stratified_split(sents, 0.2, seed=4) == (train, dev)
