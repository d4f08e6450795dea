"""The resource registry: named datasets and resources, fetched and verified.

A name such as ``wnut16:train`` maps to an upstream URL and a sha256. Fetching
looks in the cache (``$CRFTAG_HOME``, default ``~/.cache/crftag``), then in an
offline mirror (``$CRFTAG_MIRROR``, laid out like the registry's ``path``
fields), then downloads. Every file is checked against its sha256 before it is
used; a mismatch is an error, never a silent use. Files land in the cache
atomically, so an interrupted download leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import os
import shutil
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources as importlib_resources
from pathlib import Path

from crftag.atomic import atomic_write
from crftag.errors import ResourceError
from crftag.progress import progress_bar

_CHUNK = 1 << 16


@dataclass(frozen=True)
class Resource:
    """One registry entry: a single file, or a folder of files (``files``)."""

    name: str
    kind: str
    path: str  # relative location, in the cache and in a mirror
    url: str | None
    sha256: str | None = None
    files: dict[str, str] = field(default_factory=dict)  # folder: file name -> sha256
    format: str | None = None
    description: str = ""
    builder: str | None = None  # "module:function" that makes it from an installed package
    requires: tuple[str, ...] = ()  # the modules the builder imports
    licence: str = ""

    @property
    def is_folder(self) -> bool:
        return bool(self.files)

    def members(self) -> Iterator[tuple[str, str | None, str]]:
        """``(relative path, url, sha256)`` for every file of this resource."""
        if not self.is_folder:
            yield self.path, self.url, self.sha256 or ""
            return
        for fname, digest in self.files.items():
            url = self.url.format(name=fname) if self.url else None
            yield f"{self.path}/{fname}", url, digest


def sha256_file(path: str | os.PathLike[str]) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def cache_dir() -> Path:
    """``$CRFTAG_HOME``, else ``$XDG_CACHE_HOME/crftag``, else ``~/.cache/crftag``."""
    if home := os.environ.get("CRFTAG_HOME"):
        return Path(home)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "crftag"


def mirror_dir() -> Path | None:
    mirror = os.environ.get("CRFTAG_MIRROR")
    return Path(mirror) if mirror else None


class Registry:
    """Named resources; ``Registry.default()`` holds the built-in ones.

    Users extend it with :meth:`register` (e.g. the larger ``50mpaths2``
    Brown clusters) without editing crftag.
    """

    def __init__(self, entries: dict[str, Resource] | None = None,
                 cache: Path | None = None, mirror: Path | None = None):
        self.entries = dict(entries or {})
        self._cache = cache
        self._mirror = mirror

    @classmethod
    def default(cls) -> Registry:
        text = importlib_resources.files("crftag").joinpath("registry.json").read_text("utf-8")
        entries = {name: Resource(name=name, kind=e["kind"], path=e["path"], url=e.get("url"),
                                  sha256=e.get("sha256"), files=e.get("files", {}),
                                  format=e.get("format"), description=e.get("description", ""),
                                  builder=e.get("builder"), requires=tuple(e.get("requires", [])),
                                  licence=e.get("licence", ""))
                   for name, e in json.loads(text).items()}
        return cls(entries)

    @property
    def cache(self) -> Path:
        return self._cache or cache_dir()

    @property
    def mirror(self) -> Path | None:
        return self._mirror if self._mirror is not None else mirror_dir()

    def register(self, resource: Resource) -> None:
        self.entries[resource.name] = resource

    def __contains__(self, name: str) -> bool:
        return name in self.entries

    def get(self, name: str) -> Resource:
        try:
            return self.entries[name]
        except KeyError:
            known = ", ".join(sorted(self.entries))
            raise ResourceError(f"unknown resource {name!r}; known: {known}") from None

    def is_cached(self, name: str) -> bool:
        res = self.get(name)
        if res.builder:
            return (self.cache / res.path).exists()
        return all((self.cache / rel).is_file() for rel, _, _ in res.members())

    def fetch(self, name: str, show_progress: bool = False) -> Path:
        """Make ``name`` available in the cache, verified, and return its path."""
        res = self.get(name)
        if res.builder:
            return self._build(res)
        for rel, url, digest in res.members():
            self._fetch_file(name, rel, url, digest, show_progress)
        return self.cache / res.path

    def _build(self, res: Resource) -> Path:
        """A resource made from an installed package (word frequencies, place names...): built
        once into the cache. Models record the sha256 of what they used, and its licence."""
        target = self.cache / res.path
        if target.exists():
            return target
        missing = [m for m in res.requires if importlib.util.find_spec(m) is None]
        if missing:
            raise ResourceError(f"{res.name} is built from {', '.join(missing)}, which is not installed "
                                "(pip install 'crftag[lexicons]'; MiniLM clusters: 'crftag[vectors]')")
        module, _, func = res.builder.partition(":")
        getattr(importlib.import_module(module), func)(target, self)
        return target

    def _fetch_file(self, name: str, rel: str, url: str | None, digest: str,
                    show_progress: bool) -> None:
        target = self.cache / rel
        if target.is_file():
            actual = sha256_file(target)
            if actual == digest:
                return
            raise ResourceError(
                f"{target}: sha256 mismatch for {name} (expected {digest}, found {actual}); "
                "delete the file to fetch it again")
        mirror = self.mirror
        if mirror is not None and (mirror / rel).is_file():
            source = mirror / rel
            actual = sha256_file(source)
            if actual != digest:
                raise ResourceError(f"{source}: sha256 mismatch for {name} in mirror "
                                    f"(expected {digest}, found {actual})")
            with atomic_write(target, "wb") as out, open(source, "rb") as src:
                shutil.copyfileobj(src, out, _CHUNK)
            return
        if not url:
            where = f" and not in the mirror {mirror}" if mirror else "; set CRFTAG_MIRROR"
            raise ResourceError(f"{name} has no download URL{where}")
        download(url, target, digest, label=f"fetching {name}", show_progress=show_progress)


def download(url: str, target: Path, sha256: str, label: str = "downloading",
             show_progress: bool = False, timeout: float = 60.0) -> None:
    """Download ``url`` to ``target`` atomically, verifying ``sha256`` before the rename."""
    h = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp, \
                atomic_write(target, "wb") as out:
            total = int(resp.headers.get("Content-Length") or 0) or None
            with progress_bar(length=total, label=label, enabled=show_progress) as bar:
                while chunk := resp.read(_CHUNK):
                    h.update(chunk)
                    out.write(chunk)
                    bar.update(len(chunk))
            if h.hexdigest() != sha256:
                raise ResourceError(f"{url}: sha256 mismatch (expected {sha256}, "
                                    f"got {h.hexdigest()}); nothing was saved")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise ResourceError(f"{url}: download failed: {reason}") from None


_default: Registry | None = None


def default_registry() -> Registry:
    global _default
    if _default is None:
        _default = Registry.default()
    return _default


def resolve_data(arg: str | os.PathLike[str], registry: Registry | None = None) -> Path:
    """A data argument as a path: an existing file, or a registry name like ``wnut16:train``."""
    text = os.fspath(arg)
    if text == "-" or Path(text).exists():
        return Path(text)
    reg = registry or default_registry()
    if text in reg:
        return reg.fetch(text)
    if ":" in text and os.path.sep not in text:
        reg.get(text)  # raises with the list of known names
    return Path(text)  # the reader reports "cannot open"
