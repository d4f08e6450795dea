"""Atoms: what one token says about itself, per feature group.

Each group kind maps a token to a few atom strings (``paris``, ``title``,
``pre2=pa``). Atoms depend on the token alone, so the featuriser computes them
once per distinct token. Groups that need a resource (Brown and Clark clusters)
get their table when they are built. The kinds and their options are declared
in :mod:`crftag.features.kinds`; :mod:`crftag.features.atomize` is the compiled twin.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping

from crftag.features.lexicon import cluster_keys

AtomFn = Callable[[str], list[str]]

_URL_RE = re.compile(r"^(?:https?://|www\.)|\.(?:com|org|net|ly|co)(?:/|$)", re.I)
_EMOTICON_RE = re.compile(r"^(?:<3+|</3+|[:;=8xX][-o*'^]?[)\](\[dDpPoO/\\|@3*}{$]+|"
                          r"[)\](\[dDpP/\\|]+[-o*'^]?[:;=8]|\^_*\^|-_+-)$")


def _is_punct(ch: str) -> bool:
    return unicodedata.category(ch)[0] in "PS"


def shape(token: str) -> str:
    """``Paris2`` -> ``Xxxxxd``."""
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


def _collapse(s: str) -> str:
    return re.sub(r"(.)\1+", r"\1", s)


def _casing(token: str) -> list[str]:
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


def _chars(token: str) -> list[str]:
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


def _twitter(token: str) -> list[str]:
    if token.startswith("@") and len(token) > 1:
        return ["<USR>"]
    if token.startswith("#") and len(token) > 1:
        return ["<HASHTAG>", f"body={token[1:].lower()}"]
    if _URL_RE.search(token):
        return ["<URL>"]
    if token in ("RT", "rt"):
        return ["<RT>"]
    if _EMOTICON_RE.match(token):
        return ["<EMOTICON>"]
    return []


def _brown(table: Mapping[str, str], prefixes: list[int], scheme: str) -> AtomFn:
    def atoms(token: str) -> list[str]:
        for key in cluster_keys(token, scheme):
            path = table.get(key)
            if path is not None:
                return [f"p{n}={path[:n]}" for n in prefixes]
        return ["none"]

    return atoms


def _clark(table: Mapping[str, str], scheme: str) -> AtomFn:
    def atoms(token: str) -> list[str]:
        for key in cluster_keys(token, scheme):
            cluster = table.get(key)
            if cluster is not None:
                return [cluster]
        return ["none"]

    return atoms


def make_atom_fn(kind: str, params: dict, table: Mapping[str, str] | None = None) -> AtomFn:
    """The atom function of a token-level group (``params`` validated and complete: see
    :func:`crftag.features.featureset.FeatureSet.from_dict`)."""
    if kind == "bias":
        return lambda t: ["1"]
    if kind == "word":
        return lambda t: [t]
    if kind == "lower":
        return lambda t: [t.lower()]
    if kind in ("prefix", "suffix"):
        lengths = params["lengths"]
        if kind == "prefix":
            return lambda t: [f"{n}={t.lower()[:n]}" for n in lengths if len(t) >= n]
        return lambda t: [f"{n}={t.lower()[-n:]}" for n in lengths if len(t) >= n]
    if kind == "casing":
        return _casing
    if kind == "shape":
        return lambda t: [shape(t)[:12], "s=" + _collapse(shape(t))]
    if kind == "chars":
        return _chars
    if kind == "twitter":
        return _twitter
    if kind == "brown":
        return _brown(table or {}, sorted(params["prefixes"]), params["normalize"])
    if kind in ("clark", "table"):
        return _clark(table or {}, params["normalize"])
    raise ValueError(f"not a token-level group kind: {kind}")
