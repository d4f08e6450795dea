"""Feature sets: declarative TOML files saying which feature groups to use, and where.

A feature set names atom *groups* (``lower``, ``prefix``, ``casing`` ...) and,
for each, the window offsets whose atoms are copied onto the current token
(``window = [-1, 0, 1]``) plus the group's own parameters (``lengths`` for
affixes). Shipped sets live in the repository's ``features/`` folder (installed
as ``crftag/_features``); any path to a ``.toml`` file works too. The resolved
set is stored inside every model file, so a model never depends on the file.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from crftag.errors import DataError


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


@dataclass(frozen=True)
class FeatureSet:
    name: str
    description: str
    groups: dict[str, dict]
    boundaries: bool = True

    @classmethod
    def from_dict(cls, data: dict, source: str = "<dict>") -> FeatureSet:
        from crftag.featurize import ATOM_GROUPS  # the groups the featuriser knows

        groups = data.get("groups")
        if not isinstance(groups, dict) or not groups:
            raise DataError(source, None, "a feature set needs a non-empty [groups] table")
        clean: dict[str, dict] = {}
        for gname, params in groups.items():
            if gname not in ATOM_GROUPS:
                raise DataError(source, None, f"unknown feature group {gname!r}; known: "
                                f"{', '.join(sorted(ATOM_GROUPS))}")
            params = dict(params)
            window = params.get("window", [0])
            if not isinstance(window, list) or not all(isinstance(o, int) for o in window):
                raise DataError(source, None, f"groups.{gname}.window must be a list of integers")
            params["window"] = sorted(set(window))
            lengths = params.get("lengths")
            if lengths is not None and (not isinstance(lengths, list)
                                        or not all(isinstance(n, int) and n > 0 for n in lengths)):
                raise DataError(source, None, f"groups.{gname}.lengths must be positive integers")
            clean[gname] = params
        return cls(name=str(data.get("name", Path(source).stem)),
                   description=str(data.get("description", "")),
                   groups=clean, boundaries=bool(data.get("boundaries", True)))

    def to_dict(self) -> dict:
        return {"name": self.name, "description": self.description,
                "boundaries": self.boundaries, "groups": self.groups}


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
