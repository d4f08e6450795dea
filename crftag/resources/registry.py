"""The resource registry: named datasets and resources, fetched and verified.

A name such as ``wnut16:train`` maps to an upstream URL and a sha256. Fetching
looks in the cache (``$CRFTAG_HOME``, default ``~/.cache/crftag``), then in an
offline mirror (``$CRFTAG_MIRROR``, laid out like the registry's ``path``
fields), then downloads. Every file is checked against its sha256 before it is
used; a mismatch is an error, never a silent use. Files land in the cache
atomically, so an interrupted download leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import http.client
import importlib
import importlib.util
import json
import os
import shutil
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources as importlib_resources
from pathlib import Path

from crftag.errors import ResourceError
from crftag.io.atomic import atomic_write, check_output
from crftag.io.formats import INPUT_FORMATS
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
    size: int | None = None  # bytes of a single file (a download is cut off past it)
    sizes: dict[str, int] = field(default_factory=dict)  # folder: file name -> bytes
    builder: str | None = None  # "module:function" that makes it from an installed package
    requires: tuple[str, ...] = ()  # the modules the builder imports
    licence: str = ""

    @property
    def is_folder(self) -> bool:
        return bool(self.files)

    def members(self) -> Iterator[tuple[str, str | None, str]]:
        """``(relative path, url, sha256)`` for every file of this resource."""
        for rel, url, digest, _ in self.sized_members():
            yield rel, url, digest

    def sized_members(self) -> Iterator[tuple[str, str | None, str, int | None]]:
        """``(relative path, url, sha256, size in bytes or None)`` for every file."""
        if not self.is_folder:
            yield self.path, self.url, self.sha256 or "", self.size
            return
        for fname, digest in self.files.items():
            url = self.url.format(name=fname) if self.url else None
            yield f"{self.path}/{fname}", url, digest, self.sizes.get(fname)


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
        text = importlib_resources.files("crftag.resources").joinpath("registry.json").read_text("utf-8")
        entries = {name: Resource(name=name, kind=e["kind"], path=e["path"], url=e.get("url"),
                                  sha256=e.get("sha256"), files=e.get("files", {}),
                                  format=e.get("format"), description=e.get("description", ""),
                                  size=e.get("size"), sizes=e.get("sizes", {}),
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
        for rel, url, digest, size in res.sized_members():
            self._fetch_file(name, rel, url, digest, show_progress, size)
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
                    show_progress: bool, size: int | None = None) -> None:
        target = self.cache / rel
        if target.is_dir():
            raise ResourceError(f"{target}: is a directory, where the cache keeps a file of {name}; "
                                "remove it to fetch again")
        if target.is_file():
            actual = sha256_file(target)
            if actual == digest:
                return
            raise ResourceError(
                f"{target}: sha256 mismatch for {name} (expected {digest}, found {actual}); "
                "delete the file to fetch it again")
        check_output(target)  # the cache location first: a file or read-only folder in the way
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
        download(url, target, digest, label=f"fetching {name}", show_progress=show_progress, size=size)


#: Downloads: the most bytes fetched when the registry records no size, the time one file may
#: take in all (attempts and waits included), one read's timeout, and the attempts made
MAX_DOWNLOAD_BYTES = 2 << 30
DOWNLOAD_DEADLINE_S = 600.0
READ_TIMEOUT_S = 30.0
DOWNLOAD_ATTEMPTS = 3


class _Transient(Exception):
    """A failure worth another attempt (a dropped connection, a garbled response, a 5xx)."""


def download(url: str, target: Path, sha256: str, label: str = "downloading",
             show_progress: bool = False, timeout: float = READ_TIMEOUT_S, size: int | None = None,
             deadline: float = DOWNLOAD_DEADLINE_S, attempts: int = DOWNLOAD_ATTEMPTS,
             backoff: float = 1.0) -> None:
    """Download ``url`` to ``target`` atomically, verifying ``sha256`` before the rename.

    Bounded in every way: no more than ``size`` bytes (the registry's; else
    ``MAX_DOWNLOAD_BYTES``) are read, the whole fetch ends after ``deadline`` seconds however
    slowly the server trickles, and a dropped connection, a garbled or truncated response or a
    server error is tried again, ``attempts`` times in all, ``backoff``, 2x, 4x... seconds
    apart. Every failure is one :class:`ResourceError` line."""
    start = time.monotonic()
    last = ""
    for attempt in range(1, attempts + 1):
        try:
            _download_once(url, target, sha256, label, show_progress, timeout, size, start + deadline)
            return
        except _Transient as exc:
            last = str(exc)
        wait = backoff * 2 ** (attempt - 1)
        if attempt == attempts or time.monotonic() + wait >= start + deadline:
            break
        time.sleep(wait)
    tries = f"{attempt} attempt{'s' * (attempt != 1)}"
    raise ResourceError(f"{url}: download failed after {tries}: {last}")


class _Deadline:
    """Shuts the connection's socket down when the deadline passes, whatever urllib is waiting
    for at that moment: the connection, a header line a server trickles byte by byte (each byte
    resets a read timeout, so a timeout alone never fires), or the body."""

    def __init__(self, end: float):
        self.end = end
        self.fired = False
        self._timer: threading.Timer | None = None

    def arm(self, sock: socket.socket) -> None:
        self.cancel()  # a redirect's new connection replaces the old one
        self._timer = threading.Timer(max(0.0, self.end - time.monotonic()), self._fire, (sock,))
        self._timer.daemon = True
        self._timer.start()

    def _fire(self, sock: socket.socket) -> None:
        self.fired = True
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()

    def opener(self) -> urllib.request.OpenerDirector:
        """urllib's opener, its connections armed with this deadline as soon as they connect."""
        deadline = self

        class Connection(http.client.HTTPConnection):
            def connect(self) -> None:
                super().connect()
                deadline.arm(self.sock)

        class SecureConnection(http.client.HTTPSConnection):
            def connect(self) -> None:
                super().connect()
                deadline.arm(self.sock)

        class Handler(urllib.request.HTTPHandler):
            def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
                return self.do_open(Connection, req)

        class SecureHandler(urllib.request.HTTPSHandler):
            def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
                return self.do_open(SecureConnection, req, context=self._context)

        return urllib.request.build_opener(Handler, SecureHandler)


def _download_once(url: str, target: Path, sha256: str, label: str, show_progress: bool, timeout: float,
                   size: int | None, end: float) -> None:
    """One attempt; the deadline covers connecting, the headers and the body alike."""
    deadline = _Deadline(end)
    try:
        _attempt(url, target, sha256, label, show_progress, timeout, size, end, deadline)
    except (ResourceError, _Transient):
        if deadline.fired:
            raise ResourceError(f"{url}: download took longer than its deadline; nothing was saved") \
                from None
        raise
    finally:
        deadline.cancel()


def _attempt(url: str, target: Path, sha256: str, label: str, show_progress: bool, timeout: float,
             size: int | None, end: float, deadline: _Deadline) -> None:
    limit = size if size is not None else MAX_DOWNLOAD_BYTES
    h = hashlib.sha256()
    got = 0
    try:
        remaining = end - time.monotonic()
        if remaining <= 0:
            raise ResourceError(f"{url}: download took longer than its deadline")
        with deadline.opener().open(url, timeout=min(timeout, remaining)) as resp:
            declared = resp.headers.get("Content-Length")
            if declared is not None and declared.isdigit() and int(declared) > limit:
                raise ResourceError(f"{url}: the server offers {int(declared):,} bytes, more than the "
                                    f"{limit:,} expected; nothing was saved")
            with atomic_write(target, "wb") as out, \
                    progress_bar(length=size or (int(declared) if declared and declared.isdigit() else None),
                                 label=label, enabled=show_progress) as bar:
                read = getattr(resp, "read1", resp.read)  # what has arrived: a trickle cannot stall it
                while chunk := read(_CHUNK):
                    got += len(chunk)
                    if got > limit:
                        raise ResourceError(f"{url}: more than the expected {limit:,} bytes; nothing "
                                            "was saved")
                    if time.monotonic() > end:
                        raise ResourceError(f"{url}: download took longer than its deadline "
                                            f"({got:,} bytes in); nothing was saved")
                    h.update(chunk)
                    out.write(chunk)
                    bar.update(len(chunk))
                short = size is not None and got < size
                if short or getattr(resp, "length", None):  # fewer bytes than expected or declared
                    raise _Transient(f"the response ended early, after {got:,} bytes")
                if h.hexdigest() != sha256:
                    raise ResourceError(f"{url}: sha256 mismatch (expected {sha256}, "
                                        f"got {h.hexdigest()}); nothing was saved")
    except urllib.error.HTTPError as exc:
        if exc.code >= 500 or exc.code == 429:
            raise _Transient(f"HTTP {exc.code} {exc.reason}") from None
        raise ResourceError(f"{url}: download failed: HTTP {exc.code} {exc.reason}") from None
    except (http.client.HTTPException, urllib.error.URLError, TimeoutError, ConnectionError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise _Transient(f"{type(exc).__name__}: {str(reason)[:200] or 'no reason given'}") from None
    except OSError as exc:
        if exc.errno in (errno.ECONNRESET, errno.ECONNREFUSED, errno.ETIMEDOUT, errno.EPIPE):
            raise _Transient(f"{exc.strerror}") from None
        raise ResourceError(f"{url}: download failed: {exc.strerror or exc}") from None


_default: Registry | None = None


def default_registry() -> Registry:
    global _default
    if _default is None:
        _default = Registry.default()
    return _default


def resolve_data_format(arg: str | os.PathLike[str],
                        registry: Registry | None = None) -> tuple[Path, str | None]:
    """:func:`resolve_data`, and the data format the registry records for a registry name
    (None for a path: its extension decides)."""
    text = os.fspath(arg)
    if text == "-" or Path(text).exists():
        return Path(text), None
    reg = registry or default_registry()
    fmt = reg.get(text).format if text in reg else None
    return resolve_data(text, reg), fmt if fmt in INPUT_FORMATS else None


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
