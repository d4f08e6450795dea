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

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from crftag.atoms import KINDS
from crftag.errors import DataError

_RESOURCE_KINDS = {"brown": "resource", "clark": "resource", "gazetteer": "resources"}


def _search_dirs() -> list[Path]:
    here = Path(__file__).resolve().parent
    return [here / "_features", here.parent / "features"]


def available() -> dict[str, Path]:
    """Shipped feature sets by name."""
    found: dict[str, Path] = {}
    for d in _search_dirs():
        if d.is_dir():
            for p in sorted(d.glob("*.toml")):
                found.setdefault(p.stem, p)
    return found


def _int_list(value, what: str, source: str, positive: bool = False) -> list[int]:
    if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool)
                                              for v in value):
        raise DataError(source, None, f"{what} must be a list of integers")
    if positive and not all(v > 0 for v in value):
        raise DataError(source, None, f"{what} must be positive integers")
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
        groups = data.get("groups")
        if not isinstance(groups, dict) or not groups:
            raise DataError(source, None, "a feature set needs a non-empty [groups] table")
        clean: dict[str, dict] = {}
        for gname, params in groups.items():
            if not isinstance(params, dict):
                raise DataError(source, None, f"groups.{gname} must be a table")
            params = dict(params)
            kind = params.setdefault("kind", gname)
            if kind not in KINDS:
                raise DataError(source, None, f"unknown feature group kind {kind!r} in groups.{gname}; "
                                f"known: {', '.join(KINDS)}")
            params["window"] = sorted(set(_int_list(params.get("window", [0]),
                                                    f"groups.{gname}.window", source)))
            for key in ("lengths", "prefixes"):
                if key in params:
                    _int_list(params[key], f"groups.{gname}.{key}", source, positive=True)
            need = _RESOURCE_KINDS.get(kind)
            if need and not params.get(need):
                raise DataError(source, None, f"groups.{gname} ({kind}) needs '{need}'")
            clean[gname] = params
        conj = []
        for c in data.get("conjunctions", []):
            if not isinstance(c, dict) or c.get("group") not in clean:
                raise DataError(source, None, "each conjunction needs a 'group' naming a defined group")
            offsets = _int_list(c.get("offsets"), "conjunction offsets", source)
            if len(offsets) != 2:
                raise DataError(source, None, "conjunction offsets must be two integers")
            conj.append({"group": c["group"], "offsets": offsets})
        return cls(name=str(data.get("name", Path(source).stem)),
                   description=str(data.get("description", "")),
                   groups=clean, boundaries=bool(data.get("boundaries", True)), conjunctions=conj)

    def to_dict(self) -> dict:
        return {"name": self.name, "description": self.description, "boundaries": self.boundaries,
                "groups": self.groups, "conjunctions": self.conjunctions}

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
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise DataError(path, None, f"invalid TOML: {exc}") from None
    return FeatureSet.from_dict(data, source=str(path))
