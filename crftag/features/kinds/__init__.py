"""The feature kinds: each declared once, beside its Python atoms and its compiled atoms.

One module per concern: :mod:`~crftag.features.kinds.text` (the token's own characters),
:mod:`~crftag.features.kinds.twitter` (tweet cues), :mod:`~crftag.features.kinds.clusters`
(word tables), :mod:`~crftag.features.kinds.gazetteer` and :mod:`~crftag.features.kinds.stack`.
Each module holds, per kind, its :class:`~crftag.features.kinds.base.Kind` (options, resource,
constant atoms), the plain-Python definition of its atoms, and their compiled twin: kernels
that compute what a token's atoms are (which constant atoms, which hashes, which cluster
row). The compiled atomiser (:mod:`crftag.features.atomize`) calls them and writes the atoms
out: kernels that wrote into its output themselves, inlined two levels deep, made it up to
twice as slow. Feature-set validation, lexicon building, the reference featuriser, the
atomiser and ``crftag features kinds`` all read :data:`KINDS`.

A new token-level kind is one module here (or a few lines in one): its declaration with a new
``code``, its ``atoms`` and its kernel, then one branch in
:func:`crftag.features.atomize.atomize` that calls the kernel and emits. The equivalence tests
(``tests/features/test_atomize.py``) then compare the two on real and adversarial tokens.
"""

from __future__ import annotations

from collections.abc import Mapping

from crftag.features.kinds import clusters, gazetteer, stack, text, twitter
from crftag.features.kinds.base import AtomFn, Kind, Option

KINDS: dict[str, Kind] = {k.name: k for module in (text, twitter, clusters, gazetteer, stack)
                          for k in module.KINDS}

#: Keys every group may have.
COMMON = {"kind": Option("string", "the group's kind (default: the group's name)"),
          "window": Option("ints_any", "token offsets whose atoms the current token sees", [0])}


def token_kinds() -> list[str]:
    return [k.name for k in KINDS.values() if k.token_level]


def featurized_kinds() -> list[str]:
    """The kinds the featuriser makes (the others belong to later stages)."""
    return [k.name for k in KINDS.values() if k.stage == "featurize"]


def make_atom_fn(kind: str, params: dict, table: Mapping[str, str] | None = None) -> AtomFn:
    """The Python atom function of a token-level group (``params`` validated and complete: see
    :func:`crftag.features.featureset.FeatureSet.from_dict`)."""
    maker = KINDS[kind].atoms if kind in KINDS else None
    if maker is None:
        raise ValueError(f"not a token-level group kind: {kind}")
    return maker(params, table)


__all__ = ["COMMON", "KINDS", "AtomFn", "Kind", "Option", "featurized_kinds", "make_atom_fn", "token_kinds"]
