"""Named models: a tagger to start with, built reproducibly from registry data, or downloaded.

A named model (``wnut16-twitter``) is a recipe in ``models.json``: registry data to train on and
score on, a feature set, backend parameters, a seed, and the sha256 of the file the recipe gives
(pinned from a build of this crftag version). ``crftag models get NAME`` builds it once into
``$CRFTAG_HOME/models/NAME-vVERSION.crftag`` (:func:`crftag.training.named_model`), as ``-m NAME``
does; from then on ``-m NAME`` and ``Tagger.load(NAME)`` find it there. The same recipe and crftag
version give the same bytes on any machine where the data checksums agree (the registry checks
them) and the floating point does too; a build whose sha256 differs from the pin is kept and said
so in one line. Where a recipe has a ``url``, ``--download`` fetches the file instead, refused
unless it has the pinned sha256.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from importlib import resources as importlib_resources
from pathlib import Path
from typing import Any

from crftag.errors import ResourceError
from crftag.resources.registry import cache_dir, download, sha256_file


@dataclass(frozen=True)
class NamedModel:
    """A recipe: what to train on (registry names), what to score on, and how."""

    name: str
    version: int
    description: str
    train: tuple[str, ...]
    dev: str | None = None
    features: str = "twitter"
    seed: int = 0
    params: dict[str, Any] = field(default_factory=dict)
    sha256: str | None = None  # of the file this recipe builds (and a download must have)
    dev_f1: float | None = None  # entity F1 on dev of that file
    url: str | None = None  # where the file is published, if anywhere

    @property
    def file_name(self) -> str:
        return f"{self.name}-v{self.version}.crftag"

    def path(self) -> Path:
        """Where the built or downloaded file is cached."""
        return cache_dir() / "models" / self.file_name


def catalogue() -> dict[str, NamedModel]:
    """The named models this crftag knows, by name."""
    text = importlib_resources.files("crftag.resources").joinpath("models.json").read_text("utf-8")
    out = {}
    for entry in json.loads(text)["models"]:
        entry["train"] = tuple(entry["train"])
        out[entry["name"]] = NamedModel(**entry)
    return out


def lookup(name: str) -> NamedModel:
    models = catalogue()
    if name not in models:
        raise ResourceError(f"unknown named model {name!r}; known: {', '.join(sorted(models))} "
                            "(crftag models list)")
    return models[name]


def resolve(path: str | os.PathLike[str]) -> str | os.PathLike[str]:
    """``path`` itself, or, where it is no file but a model's name, that model's cached file; a
    name not built or fetched here yet is a :class:`ResourceError` saying how to get it (building
    means training: :func:`crftag.training.named_model`, which ``-m NAME`` calls)."""
    if not isinstance(path, str) or os.path.exists(path) or path not in catalogue():
        return path
    spec = catalogue()[path]
    if not spec.path().is_file():
        raise ResourceError(f"named model {spec.name} is not on this machine yet: `crftag models get "
                            f"{spec.name}` builds it once (or `crftag.training.named_model("
                            f"{spec.name!r})`); then it loads by name")
    return os.fspath(spec.path())


def fetch(spec: NamedModel, progress: bool = False) -> Path:
    """Download a named model's published file into the cache, refused (nothing kept) unless it
    has the pinned sha256."""
    if not spec.url or not spec.sha256:
        raise ResourceError(f"{spec.name}: no download is published for this model; build it "
                            f"(crftag models get {spec.name})")
    target = spec.path()
    target.parent.mkdir(parents=True, exist_ok=True)
    download(spec.url, target, spec.sha256, label=f"downloading {spec.name}", show_progress=progress)
    return target


def check_build(spec: NamedModel, target: Path) -> str:
    """The sha256 of a file just built from ``spec``; one line on standard error where it is not
    the pinned one (the file is kept: it is this machine's build)."""
    digest = sha256_file(target)
    if spec.sha256 and digest != spec.sha256:
        sys.stderr.write(f"crftag: warning: {spec.name} built here has sha256 {digest}, not the pinned "
                         f"{spec.sha256} (another crftag version, data or floating point)\n")
    return digest


def listing() -> list[dict[str, Any]]:
    """Every named model: its recipe, pinned digest and dev F1, and whether it is cached here."""
    return [{"name": m.name, "version": m.version, "description": m.description, "train": list(m.train),
             "dev": m.dev, "features": m.features, "dev_f1": m.dev_f1, "sha256": m.sha256,
             "download": m.url, "cached": str(m.path()) if m.path().is_file() else None}
            for m in catalogue().values()]
