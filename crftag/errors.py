"""Errors users see. Each renders as one line; the CLI prints it and exits 2."""

from __future__ import annotations

import os


def one_line(text: str) -> str:
    """``text`` with line breaks shown as escapes: an error message is always one line, even
    when it quotes a file name or a value that holds a newline."""
    if "\n" in text or "\r" in text:
        text = text.replace("\r", "\\r").replace("\n", "\\n")
    return text


class CrftagError(Exception):
    """Base class of every error crftag reports to a user (never a bug)."""

    def __str__(self) -> str:
        return one_line(super().__str__())


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


class _FileError(CrftagError):
    """An error about a whole file, located as ``path: what is wrong``."""

    def __init__(self, path: str | os.PathLike[str], message: str):
        self.path = os.fspath(path)
        self.message = message
        super().__init__(f"{self.path}: {message}")

    def __reduce__(self):
        return (type(self), (self.path, self.message))


class ModelError(_FileError):
    """A model file that cannot be loaded: truncated, corrupted, wrong version, or contents
    that fail validation."""


class OutputError(_FileError):
    """An output that cannot be written: a read-only or full disk, a directory in the way,
    an output that is also an input."""


class ResourceError(CrftagError):
    """A registry resource that cannot be obtained or fails its checksum."""
