"""What a feature kind is, and the compiled pieces several kinds share.

A :class:`Kind` declares a kind's options and resource, and names what makes its atoms: the
plain-Python definition (``atoms``) and the code of its branch in the compiled atomiser
(:func:`crftag.features.atomize.atomize`, ``code``). Each kind lives in one module of this package
with all three (see :mod:`crftag.features.kinds`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from numba import njit

from crftag.text.chartable import fold_of

#: A token's atoms (``paris``, ``title``, ``pre2=pa``), as the Python definition lists them.
AtomFn = Callable[[str], list[str]]
#: ``(params, word table or None) -> AtomFn``: the Python atoms of a group of a kind.
AtomMaker = Callable[[dict, "Mapping[str, str] | None"], AtomFn]


@dataclass(frozen=True)
class Option:
    """One option of a kind: ``type`` is ``"ints"`` (positive integers), ``"int"`` (one integer
    from 0), ``"probabilities"`` (increasing numbers in (0, 1)), ``"strings"`` or ``"string"``;
    ``choices`` restricts a string; an option without a default is required."""

    type: str
    help: str
    default: Any = None
    choices: tuple[str, ...] = ()

    @property
    def required(self) -> bool:
        return self.default is None


@dataclass(frozen=True)
class Kind:
    """A feature kind. ``resource`` is what lexicon building loads for it: ``"clusters"`` (a
    word-to-cluster table from the ``resource`` option), ``"gazetteer"`` (lists from the
    ``resources`` option), or None. Token-level kinds give atoms per token; the others
    (gazetteer matches) depend on a token's neighbours. ``stage`` is where a kind's features
    are made: ``"featurize"`` (the featuriser and its compiled atomiser) or ``"stack"`` (the
    first-pass taggers of :mod:`crftag.stacking`, whose outputs become features).

    What makes the atoms of a token-level kind: ``atoms`` (the Python definition), ``code`` (its
    branch in the compiled atomiser; -1 for a kind made elsewhere), ``const_atoms`` (the atoms
    that never vary, hashed once per group), ``second_state`` (the fixed text before a variable
    second atom, as ``s=`` before a collapsed shape) and ``max_atoms`` (at most this many atoms a
    token, given the group's options)."""

    name: str
    help: str
    options: dict[str, Option] = field(default_factory=dict)
    resource: str | None = None
    token_level: bool = True
    stage: str = "featurize"
    code: int = -1
    atoms: AtomMaker | None = None
    const_atoms: tuple[str, ...] = ()
    second_state: str = ""
    max_atoms: Callable[[dict], int] = lambda params: 0


# ---- compiled pieces of Python's re that several kinds' matchers share ----

@njit(nogil=True, cache=True, inline="always")
def at_end(buf, i, b):
    """``re``'s ``$``: the end of the string, or just before a final newline."""
    return i == b or (i == b - 1 and buf[i] == 10)


@njit(nogil=True, cache=True)
def folds(chars, buf, i, b, letters):
    """Whether ``buf[i:]`` starts with ``letters`` (ASCII lowercase) under ``re.IGNORECASE``."""
    if i + len(letters) > b:
        return False
    for k in range(len(letters)):
        if fold_of(chars, buf[i + k]) != letters[k]:
            return False
    return True


@njit(nogil=True, cache=True, inline="always")
def is_in(c, members):
    for m in members:
        if c == m:
            return True
    return False

