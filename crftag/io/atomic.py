"""Safe output: atomic writes of regular files, and nothing else ever replaced.

A regular file is written to a temporary file beside the target and renamed over it, so a
crash, an exception or Ctrl-C never leaves a half-written file under the target name. What
is not a regular file is never replaced: a character device (``/dev/null``, a terminal), a
FIFO or a socket is written through, and a symlink keeps pointing where it did (the file it
points to is replaced). Temporary files carry the writer's process id, and a write removes
those of the same target whose writer is gone (killed with SIGKILL mid-save, say).

Failures to write (a read-only or full disk, a directory in the way) are one-line
:class:`~crftag.errors.OutputError` s; :func:`check_output` finds most of them before a
long job starts.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

from crftag.errors import OutputError

#: errors writing (or flushing) an open output that mean it cannot be written, not a bug
_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO, errno.EROFS}


def _resolved(path: str | os.PathLike[str]) -> Path:
    """The file a write to ``path`` lands in: a symlink's target, else the path itself."""
    p = Path(path)
    return Path(os.path.realpath(p)) if p.is_symlink() else p


def _kind(path: Path) -> str:
    """``missing``, ``regular``, ``directory`` or ``special`` (device, FIFO, socket)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "missing"
    except OSError as exc:
        raise OutputError(path, f"cannot write: {exc.strerror}") from None
    if stat.S_ISREG(mode):
        return "regular"
    return "directory" if stat.S_ISDIR(mode) else "special"


def _tmp_pattern(name: str) -> re.Pattern:
    return re.compile(re.escape(f".{name}.") + r"(\d+)\.[^./]+\.tmp")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def clean_stale(target: Path) -> list[Path]:
    """Remove temporary files of ``target`` left by writers that no longer run."""
    removed = []
    pattern = _tmp_pattern(target.name)
    with contextlib.suppress(OSError):
        for entry in os.scandir(target.parent):
            m = pattern.fullmatch(entry.name)
            if m and int(m.group(1)) != os.getpid() and not _alive(int(m.group(1))):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)
                    removed.append(Path(entry.path))
    return removed


def _error(path: str | os.PathLike[str], exc: OSError) -> OutputError:
    return OutputError(path, f"cannot write: {exc.strerror or exc}")


def check_output(path: str | os.PathLike[str], inputs: Iterable[str | os.PathLike[str]] = ()) -> None:
    """Raise :class:`OutputError` now if ``path`` cannot be written later: it is a directory,
    its folder cannot be made or written, or it is one of ``inputs`` (writing it would destroy
    it). Devices and FIFOs are accepted (written through) without being opened."""
    target = _resolved(path)
    kind = _kind(target)
    if kind == "directory":
        raise OutputError(path, "is a directory")
    for inp in inputs:
        with contextlib.suppress(OSError):
            if kind != "missing" and os.path.exists(inp) and os.path.samefile(target, inp):
                raise OutputError(path, f"is also an input ({os.fspath(inp)}); refusing to overwrite it")
    if kind == "special":
        return
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp",
                                     dir=target.parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise _error(path, exc) from None


def check_folder(path: str | os.PathLike[str]) -> Path:
    """Make the output folder ``path`` (and its parents) now; :class:`OutputError` if it cannot
    be (a file in the way, a read-only disk)."""
    folder = Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise OutputError(path, "exists and is not a directory") from None
    except OSError as exc:
        raise _error(path, exc) from None
    return folder


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "w", **open_kwargs) -> Iterator[IO]:
    """Open ``path`` for writing: a temporary file renamed onto it on success for a regular
    file (or a new one); the thing itself for a device, FIFO or socket. A symlink is followed
    and kept. Errors writing are :class:`OutputError`."""
    target = _resolved(path)
    kind = _kind(target)
    if kind == "directory":
        raise OutputError(path, "is a directory")
    if kind == "special":
        try:
            fh = open(target, mode, **open_kwargs)  # noqa: SIM115
        except OSError as exc:
            raise _error(path, exc) from None
        with _write_errors(path), fh:
            yield fh
        return
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        clean_stale(target)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise _error(path, exc) from None
    try:
        umask = os.umask(0)
        os.umask(umask)
        mode_bits = stat.S_IMODE(os.stat(target).st_mode) if kind == "regular" else 0o666 & ~umask
        os.chmod(tmp, mode_bits)  # mkstemp makes 0600: keep the old file's mode, or the usual one
        with _write_errors(path):
            with os.fdopen(fd, mode, **open_kwargs) as fh:
                yield fh
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def _write_errors(path: str | os.PathLike[str]) -> Iterator[None]:
    """OSErrors that mean the output cannot be written, as one-line OutputErrors."""
    try:
        yield
    except OSError as exc:
        if exc.errno in _WRITE_ERRNOS:
            raise _error(path, exc) from None
        raise
