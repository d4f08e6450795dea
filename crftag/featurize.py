"""Featurisation: tokens in, one list of string features per token out.

Each atom group turns one token into a few *atoms* (``lower=paris``,
``title``); a feature set says which groups to use and which window offsets
each group's atoms are copied from, giving features such as ``-1|lower=in``.
Atoms depend on the token alone, so they are computed once per distinct token
and cached. The featuriser sits behind :class:`Featurizer`, so a faster engine
can replace this one without touching the models.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Protocol

from crftag.featureset import FeatureSet

Features = list[list[str]]  # one list of feature strings per token


class Featurizer(Protocol):
    def featurize(self, tokens: Sequence[str]) -> Features: ...


_URL_RE = re.compile(r"^(?:https?://|www\.)|\.(?:com|org|net|ly|co)(?:/|$)", re.I)
_EMOTICON_RE = re.compile(r"^(?:<3+|</3+|[:;=8xX][-o*'^]?[)\](\[dDpPoO/\\|@3*}{$]+|"
                          r"[)\](\[dDpP/\\|]+[-o*'^]?[:;=8]|\^_*\^|-_+-)$")


def _is_punct(ch: str) -> bool:
    return unicodedata.category(ch)[0] in "PS"


def _shape(token: str) -> str:
    out = []
    for ch in token:
        if ch.isupper():
            out.append("X")
        elif ch.islower():
            out.append("x")
        elif ch.isdigit():
            out.append("d")
        else:
            out.append(ch)
    return "".join(out)


def _collapse(shape: str) -> str:
    return re.sub(r"(.)\1+", r"\1", shape)


def _bias(token: str, params: dict) -> list[str]:
    return ["bias"]


def _word(token: str, params: dict) -> list[str]:
    return [f"word={token}"]


def _lower(token: str, params: dict) -> list[str]:
    return [f"lower={token.lower()}"]


def _prefix(token: str, params: dict) -> list[str]:
    low = token.lower()
    return [f"pre{n}={low[:n]}" for n in params.get("lengths", [3]) if len(low) >= n]


def _suffix(token: str, params: dict) -> list[str]:
    low = token.lower()
    return [f"suf{n}={low[-n:]}" for n in params.get("lengths", [3]) if len(low) >= n]


def _casing(token: str, params: dict) -> list[str]:
    atoms = []
    if token.istitle():
        atoms.append("title")
    if token.isupper():
        atoms.append("upper")
    if token.islower():
        atoms.append("lower")
    if any(c.isupper() for c in token[1:]) and any(c.islower() for c in token):
        atoms.append("mixedcase")
    if token[:1].isupper():
        atoms.append("initcap")
    return atoms


def _shape_atoms(token: str, params: dict) -> list[str]:
    shape = _shape(token)
    return [f"shape={shape[:12]}", f"sshape={_collapse(shape)}"]


def _chars(token: str, params: dict) -> list[str]:
    atoms = []
    if token.isdigit():
        atoms.append("alldigit")
    elif any(c.isdigit() for c in token):
        atoms.append("hasdigit")
    if all(_is_punct(c) for c in token):
        atoms.append("allpunct")
    elif any(_is_punct(c) for c in token):
        atoms.append("haspunct")
    if "-" in token[1:-1]:
        atoms.append("hyphen")
    n = len(token)
    atoms.append(f"len={n if n < 4 else '4-7' if n < 8 else '8+'}")
    return atoms


def _twitter(token: str, params: dict) -> list[str]:
    if token.startswith("@") and len(token) > 1:
        return ["<USR>"]
    if token.startswith("#") and len(token) > 1:
        return ["<HASHTAG>"]
    if _URL_RE.search(token):
        return ["<URL>"]
    if token in ("RT", "rt"):
        return ["<RT>"]
    if _EMOTICON_RE.match(token):
        return ["<EMOTICON>"]
    return []


ATOM_GROUPS: dict[str, Callable[[str, dict], list[str]]] = {
    "bias": _bias,
    "word": _word,
    "lower": _lower,
    "prefix": _prefix,
    "suffix": _suffix,
    "casing": _casing,
    "shape": _shape_atoms,
    "chars": _chars,
    "twitter": _twitter,
}


class DictFeaturizer:
    """The reference featuriser: plain Python, string features, per-token atom cache."""

    def __init__(self, feature_set: FeatureSet, cache_size: int = 1 << 16):
        self.feature_set = feature_set
        self._groups = [(ATOM_GROUPS[name], params, params["window"])
                        for name, params in feature_set.groups.items()]
        self._offsets = sorted({o for _, _, w in self._groups for o in w})
        self._atoms = lru_cache(maxsize=cache_size)(self._compute_atoms)

    def _compute_atoms(self, token: str) -> tuple[tuple[str, ...], ...]:
        """Atoms of one token, per group (in feature-set order)."""
        return tuple(tuple(fn(token, params)) for fn, params, _ in self._groups)

    def featurize(self, tokens: Sequence[str]) -> Features:
        atoms = [self._atoms(t) for t in tokens]
        n = len(tokens)
        out: Features = []
        boundaries = self.feature_set.boundaries
        for i in range(n):
            feats: list[str] = []
            for o in self._offsets:
                j = i + o
                if not 0 <= j < n:
                    if boundaries:
                        feats.append(f"{o}|{'BOS' if j < 0 else 'EOS'}")
                    continue
                for g, (_, _, window) in enumerate(self._groups):
                    if o in window:
                        feats.extend(f"{o}|{a}" for a in atoms[j][g])
            out.append(feats)
        return out


def make_featurizer(feature_set: FeatureSet) -> Featurizer:
    """The featuriser for a feature set (the one place that picks the engine)."""
    return DictFeaturizer(feature_set)
