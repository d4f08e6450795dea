"""Errors users see. Each renders as one line; the CLI prints it and exits 2."""

from __future__ import annotations

import os


class CrftagError(Exception):
    """Base class of every error crftag reports to a user (never a bug)."""


class DataError(CrftagError):
    """Malformed input data, located as ``path:line: what is wrong``."""

    def __init__(self, path: str | os.PathLike[str], line: int | None, message: str):
        self.path = os.fspath(path)
        self.line = line
        self.message = message
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")

    def __reduce__(self):  # picklable, so errors cross process pools intact
        return (type(self), (self.path, self.line, self.message))


class ModelError(CrftagError):
    """A model file that cannot be loaded: truncated, corrupted, wrong version."""

    def __init__(self, path: str | os.PathLike[str], message: str):
        self.path = os.fspath(path)
        self.message = message
        super().__init__(f"{self.path}: {message}")

    def __reduce__(self):
        return (type(self), (self.path, self.message))


class ResourceError(CrftagError):
    """A registry resource that cannot be obtained or fails its checksum."""
