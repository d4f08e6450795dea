"""Model files: one zip holding JSON metadata and numpy arrays, never a pickle.

Loading a model runs no code from it: metadata is parsed as JSON and arrays from
their ``.npy`` bytes by crftag's own header check (plain numeric dtypes only). The
archive's member names are exact (``meta.json``, ``meta.json.sha256``,
``arrays/NAME.npy``; no duplicates, no paths that could escape a folder), sizes are
bounded one by one and together (no zip bombs), every array carries a sha256 in the
metadata and the metadata its own in ``meta.json.sha256``, and the format version is
checked. What the arrays hold is checked by :mod:`crftag.modelcheck` before the tagger
uses them. Files are written atomically, so a crash never leaves half a model behind.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import re
import stat
import zipfile
import zlib
from collections.abc import Sequence
from typing import IO, Any, BinaryIO

import numpy as np

from crftag.errors import ModelError
from crftag.io.atomic import atomic_write
from crftag.limits import MAX_META_BYTES


def pack_strings(strings: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Strings as one UTF-8 byte array plus offsets (storable without pickle)."""
    encoded = [s.encode("utf-8", "surrogatepass") for s in strings]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(b) for b in encoded], out=offsets[1:])
    return np.frombuffer(b"".join(encoded), dtype=np.uint8).copy(), offsets


def unpack_strings(blob: np.ndarray, offsets: np.ndarray) -> list[str]:
    data = blob.tobytes()
    bounds = offsets.tolist()
    return [data[bounds[i]:bounds[i + 1]].decode("utf-8", "surrogatepass")
            for i in range(len(bounds) - 1)]


FORMAT = "crftag-model"
#: 2: gazetteers store entry prefixes; 3: meta.json has a checksum, arrays validated on load
FORMAT_VERSION = 3
META = "meta.json"
META_SUM = "meta.json.sha256"
_ARRAY_NAME = re.compile(r"arrays/([a-z][a-z0-9_]{0,63})\.npy")  # always with fullmatch
#: members of an archive, bytes of one inflated member and of all together, the file itself
MAX_MEMBERS = 4096
MAX_MEMBER_BYTES = 1 << 30
MAX_MODEL_BYTES = 1 << 30
MAX_FILE_BYTES = MAX_MODEL_BYTES + (64 << 20)
#: a member over BOMB_BYTES may not expand more than BOMB_RATIO times (zip bomb)
BOMB_BYTES, BOMB_RATIO = 16 << 20, 100
#: dimensions of a stored array
MAX_NDIM = 4
_PICKLE_MAGIC = (b"\x80", b"(d", b"(l", b"cnumpy", b"ccopy_reg")


def save_model(path: str | os.PathLike[str], meta: dict, arrays: dict[str, np.ndarray]) -> None:
    """Write ``meta`` and ``arrays`` to ``path`` atomically."""
    payloads: dict[str, bytes] = {}
    for name, arr in arrays.items():
        if not _ARRAY_NAME.fullmatch(f"arrays/{name}.npy"):
            raise ValueError(f"bad array name {name!r}")
        buf = io.BytesIO()
        np.save(buf, np.ascontiguousarray(arr), allow_pickle=False)
        payloads[f"arrays/{name}.npy"] = buf.getvalue()
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, **meta,
            "checksums": {n: hashlib.sha256(b).hexdigest() for n, b in payloads.items()}}
    meta_bytes = json.dumps(meta, indent=1).encode()
    with atomic_write(path, "wb") as fh, zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED) as zf:
        # Fixed timestamps: the same model always gives the same bytes. Key order is kept:
        # the order of feature groups fixes the order in which weights are summed.
        for name, data in [(META, meta_bytes), (META_SUM, hashlib.sha256(meta_bytes).hexdigest().encode()),
                           *payloads.items()]:
            zf.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data,
                        compress_type=_compression(data))


def _compression(data: bytes) -> int:
    """Deflate, unless a member barely compresses (hashed keys): inflating 10 MB of those
    takes 90 ms at every load, reading them stored is a copy."""
    if len(data) < 1 << 20:
        return zipfile.ZIP_DEFLATED
    sample = data[:1 << 20]
    return zipfile.ZIP_STORED if len(zlib.compress(sample, 1)) > 0.9 * len(sample) else zipfile.ZIP_DEFLATED


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, path: str) -> bytes:
    with zf.open(info) as fh:
        data = fh.read(info.file_size + 1)
    if len(data) != info.file_size:
        raise ModelError(path, f"member {info.filename!r} does not match its declared size")
    return data


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict:
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError(f"duplicate key {next(k for k in keys if keys.count(k) > 1)!r}")
    return dict(pairs)


def parse_meta(data: bytes, path: str) -> Any:
    """meta.json's bytes as JSON: any defect (not UTF-8, not JSON, nested too deeply, duplicate
    keys, a number Python will not convert) is a :class:`ModelError`."""
    try:
        return json.loads(data.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except RecursionError:
        raise ModelError(path, "meta.json nests too deeply") from None
    except UnicodeDecodeError:
        raise ModelError(path, "meta.json is not UTF-8") from None
    except ValueError as exc:  # JSONDecodeError, duplicate keys, huge integers
        raise ModelError(path, f"meta.json is not valid JSON ({str(exc).splitlines()[0][:200]})") from None


def read_npy(data: bytes, member: str, path: str) -> np.ndarray:
    """An array from ``.npy`` bytes, accepting only what crftag writes: a bool, integer or float
    dtype in native byte order, at most ``MAX_NDIM`` dimensions, and exactly the bytes the
    header's shape needs. The result is a writable copy."""
    fh = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
        else:
            raise ValueError(f"version {version}")
    except Exception:
        raise ModelError(path, f"member {member!r} is not a valid .npy array (bad header)") from None
    if not (isinstance(dtype, np.dtype) and dtype.kind in "biuf" and dtype.fields is None
            and dtype.shape == () and dtype.itemsize <= 8):
        raise ModelError(path, f"member {member!r} has dtype {dtype}; crftag stores only booleans, "
                               "integers and floats")
    if not dtype.isnative:
        raise ModelError(path, f"member {member!r} is a byte-swapped ({dtype.str}) array; crftag "
                               "writes native byte order only")
    if not (isinstance(shape, tuple) and len(shape) <= MAX_NDIM
            and all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)):
        raise ModelError(path, f"member {member!r} has an unsupported shape {shape!r}")
    if fortran and len(shape) > 1:
        raise ModelError(path, f"member {member!r} is in Fortran order; crftag writes C order")
    count = math.prod(shape)
    offset = fh.tell()
    if count * dtype.itemsize != len(data) - offset:
        raise ModelError(path, f"member {member!r} holds {len(data) - offset:,} bytes of data; its header "
                               f"(shape {shape}, {dtype}) needs {count * dtype.itemsize:,}")
    if count == 0:
        return np.zeros(shape, dtype=dtype)
    return np.frombuffer(data, dtype=dtype, count=count, offset=offset).reshape(shape).copy()


def _member_count(fh: IO[bytes], path: str) -> None:
    """Refuse an archive whose central directory lists too many members, before zipfile
    parses it (each entry becomes a Python object)."""
    try:
        end = zipfile._EndRecData(fh)  # the end-of-central-directory record
    except (OSError, ValueError):
        end = None
    if end is None:
        raise ModelError(path, "corrupted or truncated model file (no zip directory)")
    if end[zipfile._ECD_ENTRIES_TOTAL] > MAX_MEMBERS or end[zipfile._ECD_SIZE] > MAX_MEMBERS * 1024:
        raise ModelError(path, f"model archive lists more than {MAX_MEMBERS} members")
    fh.seek(0)


def file_sha256(fh: IO[bytes]) -> str:
    h = hashlib.sha256()
    while chunk := fh.read(1 << 20):
        h.update(chunk)
    fh.seek(0)
    return h.hexdigest()


def open_model_file(path: str | os.PathLike[str]) -> BinaryIO:
    """The model file opened for reading, once it is known to be a regular file of a plausible
    size; anything else is a :class:`ModelError` before a byte is read. Opened non-blocking, so
    that a FIFO is refused at once rather than waited on (forever, without a writer), and a
    device such as ``/dev/zero`` is never read."""
    name = os.fspath(path)
    try:
        fd = os.open(name, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise ModelError(name, "no such model file") from None
    except IsADirectoryError:
        raise ModelError(name, "is a directory, not a model file") from None
    except OSError as exc:
        raise ModelError(name, f"cannot open: {exc.strerror}") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_FILE_BYTES:
        os.close(fd)
        raise ModelError(name, "not a crftag model file (not a regular file of a plausible size)")
    return os.fdopen(fd, "rb")


def load_model(path: str | os.PathLike[str], sha256: str | None = None) -> tuple[dict, dict[str, np.ndarray]]:
    """Read and verify a model file; any defect raises :class:`ModelError`.

    ``sha256`` pins the file: anything else is refused before it is parsed. What the
    arrays hold is checked afterwards by :func:`crftag.modelcheck.validate_model`."""
    name = os.fspath(path)
    with open_model_file(name) as fh:
        if sha256 is not None:
            actual = file_sha256(fh)
            if actual != sha256.lower():
                raise ModelError(name, f"sha256 is {actual}, not the pinned {sha256}; refusing to load it")
        head = fh.read(16)
        fh.seek(0)
        if head.startswith(_PICKLE_MAGIC):
            raise ModelError(name, "this is a pickle, not a crftag model; crftag never loads pickles")
        if not head.startswith(b"PK"):
            raise ModelError(name, "not a crftag model file (not a zip archive)")
        try:
            _member_count(fh, name)
            with zipfile.ZipFile(fh) as zf:
                return _read_archive(zf, name)
        except ModelError:
            raise
        except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError,
                RuntimeError, NotImplementedError) as exc:  # RuntimeError: encrypted member
            raise ModelError(name, f"corrupted or truncated model file ({exc})") from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise ModelError(name, f"corrupted model file ({exc})") from None


def _read_archive(zf: zipfile.ZipFile, name: str) -> tuple[dict, dict[str, np.ndarray]]:
    infos = zf.infolist()
    if len(infos) > MAX_MEMBERS:
        raise ModelError(name, f"model archive lists more than {MAX_MEMBERS} members")
    members: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        member = info.filename
        if member not in (META, META_SUM) and not _ARRAY_NAME.fullmatch(member):
            raise ModelError(name, f"unexpected member {member!r} in model archive")
        if member in members:
            raise ModelError(name, f"member {member!r} appears twice in the model archive")
        if info.file_size > MAX_MEMBER_BYTES or (
                info.file_size > BOMB_BYTES and info.file_size > BOMB_RATIO * max(info.compress_size, 1)):
            raise ModelError(name, f"member {member!r} is implausibly large; refusing to inflate it")
        members[member] = info
    total = sum(i.file_size for i in infos)
    if total > MAX_MODEL_BYTES:
        raise ModelError(name, f"model archive would inflate to {total:,} bytes (at most "
                               f"{MAX_MODEL_BYTES:,}); refusing to inflate it")
    if META not in members:
        raise ModelError(name, "model archive has no meta.json")
    if members[META].file_size > MAX_META_BYTES:
        raise ModelError(name, f"meta.json is larger than {MAX_META_BYTES:,} bytes")
    meta_bytes = _read_member(zf, members[META], name)
    meta = parse_meta(meta_bytes, name)
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelError(name, "not a crftag model file (wrong format tag)")
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        shown = version if isinstance(version, (int, float, str)) else type(version).__name__
        raise ModelError(name, f"model format version {str(shown)[:20]} is not supported "
                               f"(this crftag reads version {FORMAT_VERSION}); retrain the model")
    if META_SUM not in members:
        raise ModelError(name, f"model archive lacks {META_SUM}")
    recorded = _read_member(zf, members[META_SUM], name) if members[META_SUM].file_size <= 128 else b""
    if recorded.strip() != hashlib.sha256(meta_bytes).hexdigest().encode():
        raise ModelError(name, "checksum mismatch in 'meta.json': the file is corrupted")
    checksums = meta.get("checksums")
    if not (isinstance(checksums, dict) and all(isinstance(v, str) for v in checksums.values())):
        raise ModelError(name, "invalid metadata: 'checksums' must map member names to sha256 digests")
    arrays: dict[str, np.ndarray] = {}
    for member, info in members.items():
        if member in (META, META_SUM):
            continue
        if member not in checksums:
            raise ModelError(name, f"member {member!r} has no checksum in meta.json")
        data = _read_member(zf, info, name)
        if hashlib.sha256(data).hexdigest() != checksums[member]:
            raise ModelError(name, f"checksum mismatch in {member!r}: the file is corrupted")
        arrays[_ARRAY_NAME.fullmatch(member).group(1)] = read_npy(data, member, name)
    missing = set(checksums) - set(members)
    if missing:
        raise ModelError(name, f"model archive lacks {', '.join(repr(m) for m in sorted(missing))}")
    return meta, arrays
