"""Feature sets: declarative TOML files saying which feature groups to use, and where.

A feature set names *groups*. Each ``[groups.NAME]`` table has a ``kind``
(default: the name itself: ``lower``, ``prefix``, ``brown``, ``gazetteer`` ...),
the window ``offsets`` whose atoms the current token sees, and the kind's own
parameters (``lengths`` for affixes, ``resource``/``prefixes`` for Brown
clusters, ``resources``/``lists`` for gazetteers). ``conjunctions`` pair one
group's atoms at two offsets (word bigrams). Shipped sets live in the
repository's ``features/`` folder (installed as ``crftag/_features``); any path
to a ``.toml`` file works too. The resolved set is stored in every model file.
"""

from __future__ import annotations

import difflib
import itertools
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crftag.errors import DataError
from crftag.features.kinds import COMMON, KINDS, Option

TOP_KEYS = ("name", "description", "boundaries", "groups", "conjunctions")
CONJUNCTION_KEYS = ("group", "offsets")


def _search_dirs() -> list[Path]:
    package = Path(__file__).resolve().parent.parent  # crftag/
    return [package / "_features", package.parent / "features"]


def available() -> dict[str, Path]:
    """Shipped feature sets by name."""
    found: dict[str, Path] = {}
    for d in _search_dirs():
        if d.is_dir():
            for p in sorted(d.glob("*.toml")):
                found.setdefault(p.stem, p)
    return found


def _unknown(source: str, where: str, key: str, known: list[str]) -> DataError:
    close = difflib.get_close_matches(key, known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else f"; known: {', '.join(known) or 'none'}"
    return DataError(source, None, f"unknown key {key!r} in {where}{hint}")


def _check(value: Any, opt: Option, where: str, source: str) -> Any:
    """``value`` checked against its declaration (a copy)."""
    if opt.type in ("ints", "ints_any"):
        if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool)
                                                  for v in value):
            raise DataError(source, None, f"{where} must be a list of integers")
        if opt.type == "ints" and not all(v > 0 for v in value):
            raise DataError(source, None, f"{where} must be positive integers")
        return list(value)
    if opt.type == "int":
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise DataError(source, None, f"{where} must be an integer from 0")
        return value
    if opt.type == "probabilities":
        if (not isinstance(value, list)
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
                or not all(0 < v < 1 for v in value) or any(b <= a for a, b in itertools.pairwise(value))):
            raise DataError(source, None, f"{where} must be increasing numbers between 0 and 1")
        return [float(v) for v in value]
    if opt.type == "strings":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise DataError(source, None, f"{where} must be a list of strings")
        return list(value)
    if not isinstance(value, str):
        raise DataError(source, None, f"{where} must be a string")
    if opt.choices and value not in opt.choices:
        raise DataError(source, None, f"{where} must be one of {', '.join(opt.choices)}, not {value!r}")
    return value


@dataclass(frozen=True)
class FeatureSet:
    name: str
    description: str
    groups: dict[str, dict]
    boundaries: bool = True
    conjunctions: list[dict] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: dict, source: str = "<dict>") -> FeatureSet:
        """Validate a feature set (every key known, every value of its declared type) and fill
        in the defaults, so that a model file records the set exactly as it was used."""
        if not isinstance(data, dict):
            raise DataError(source, None, "a feature set must be a table")
        for key in data:
            if key not in TOP_KEYS:
                raise _unknown(source, "the feature set", key, list(TOP_KEYS))
        groups = data.get("groups")
        if not isinstance(groups, dict) or not groups:
            raise DataError(source, None, "a feature set needs a non-empty [groups] table")
        clean = {name: _group(name, params, source) for name, params in groups.items()}
        conjunctions = data.get("conjunctions", [])
        if not isinstance(conjunctions, list):
            raise DataError(source, None, "conjunctions must be a list of tables ([[conjunctions]])")
        conj = []
        for c in conjunctions:
            if not isinstance(c, dict) or c.get("group") not in clean:
                raise DataError(source, None, "each conjunction needs a 'group' naming a defined group")
            for key in c:
                if key not in CONJUNCTION_KEYS:
                    raise _unknown(source, "a conjunction", key, list(CONJUNCTION_KEYS))
            offsets = _check(c.get("offsets"), COMMON["window"], "conjunction offsets", source)
            if len(offsets) != 2:
                raise DataError(source, None, "conjunction offsets must be two integers")
            conj.append({"group": c["group"], "offsets": offsets})
        for key, kind in (("name", str), ("description", str), ("boundaries", bool)):
            if key in data and not isinstance(data[key], kind):
                raise DataError(source, None, f"{key} must be a {'boolean' if kind is bool else 'string'}")
        if len(clean) == len({n: p for n, p in clean.items() if KINDS[p["kind"]].stage == "stack"}):
            raise DataError(source, None, "a feature set needs a group the featuriser makes, "
                            "besides its stack groups")
        for c in conj:
            if KINDS[clean[c["group"]]["kind"]].stage != "featurize":
                raise DataError(source, None, f"conjunction of group {c['group']!r}: a stack group has "
                                "no atoms to pair")
        return cls(name=str(data.get("name", Path(source).stem)),
                   description=str(data.get("description", "")),
                   groups=clean, boundaries=bool(data.get("boundaries", True)), conjunctions=conj)

    def to_dict(self) -> dict:
        return {"name": self.name, "description": self.description, "boundaries": self.boundaries,
                "groups": self.groups, "conjunctions": self.conjunctions}

    def stacks(self) -> dict[str, dict]:
        """The groups made by first-pass taggers (kind ``stack``, :mod:`crftag.stacking`)."""
        return {name: p for name, p in self.groups.items() if KINDS[p["kind"]].stage == "stack"}

    def featurized(self) -> FeatureSet:
        """This set without its stack groups: what the featuriser (and each first pass) computes."""
        stacks = self.stacks()
        if not stacks:
            return self
        return FeatureSet(self.name, self.description,
                          {n: p for n, p in self.groups.items() if n not in stacks},
                          self.boundaries, self.conjunctions)

    def describe(self) -> str:
        """A readable expansion: each group, its window and parameters."""
        lines = [f"feature set {self.name}: {self.description}",
                 f"boundary markers (BOS/EOS) outside the tweet: {'yes' if self.boundaries else 'no'}"]
        for name, params in self.groups.items():
            extra = {k: v for k, v in params.items() if k not in ("kind", "window")}
            lines.append(f"  {name:<12} kind={params['kind']:<10} window={params['window']}"
                         + (f" {extra}" if extra else ""))
        for c in self.conjunctions:
            lines.append(f"  conjunction  {c['group']} at offsets {c['offsets']}")
        return "\n".join(lines)


def _group(name: str, params: Any, source: str) -> dict:
    """One ``[groups.NAME]`` table, validated against its kind, with defaults filled in."""
    where = f"groups.{name}"
    if not isinstance(params, dict):
        raise DataError(source, None, f"{where} must be a table")
    kind_name = params.get("kind", name)
    if kind_name not in KINDS:
        close = difflib.get_close_matches(str(kind_name), list(KINDS), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else f"; known: {', '.join(KINDS)}"
        raise DataError(source, None, f"unknown feature group kind {kind_name!r} in {where}{hint}")
    kind = KINDS[kind_name]
    known = {**COMMON, **kind.options}
    for key in params:
        if key not in known:
            raise _unknown(source, f"{where} ({kind_name})", key, list(known))
    clean: dict[str, Any] = {"kind": kind_name}
    for key, opt in known.items():
        if key == "kind":
            continue
        if key in params:
            clean[key] = _check(params[key], opt, f"{where}.{key}", source)
        elif opt.required:
            raise DataError(source, None, f"{where} ({kind_name}) needs '{key}'")
        else:
            clean[key] = list(opt.default) if isinstance(opt.default, list) else opt.default
    clean["window"] = sorted(set(clean["window"]))
    return clean


MAX_FEATURE_SET_BYTES = 1 << 20  # a feature set is a page of TOML; a bigger file is something else


def load_feature_set(name_or_path: str | os.PathLike[str]) -> FeatureSet:
    """A shipped feature set by name (``twitter``) or a ``.toml`` file by path."""
    text = os.fspath(name_or_path)
    path = Path(text)
    if not path.is_file():
        shipped = available()
        if text not in shipped:
            raise DataError(text, None, "no such feature set file or name; shipped sets: "
                            f"{', '.join(shipped) or 'none'}")
        path = shipped[text]
    if path.stat().st_size > MAX_FEATURE_SET_BYTES:
        raise DataError(path, None, f"a feature set file of more than {MAX_FEATURE_SET_BYTES:,} bytes "
                        "(not a TOML feature set)")
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except UnicodeDecodeError as exc:
        raise DataError(path, None, f"not a TOML feature set: invalid UTF-8 at byte offset "
                        f"{exc.start}") from None
    except OSError as exc:
        raise DataError(path, None, f"cannot read: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise DataError(path, None, f"invalid TOML: {exc}") from None
    return FeatureSet.from_dict(data, source=str(path))
