"""Model files: one zip holding JSON metadata and numpy arrays, never a pickle.

Loading a model runs no code from it: metadata is parsed as JSON and arrays with
``numpy.load(..., allow_pickle=False)``. The archive's member names are fixed
(no paths that could escape a folder), sizes are bounded (no zip bombs), every
array carries a sha256 in the metadata, and the format version is checked.
Files are written atomically, so a crash never leaves half a model behind.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import zipfile
import zlib
from pathlib import Path

import numpy as np

from crftag.atomic import atomic_write
from crftag.errors import ModelError

FORMAT = "crftag-model"
FORMAT_VERSION = 2  # 2: gazetteers store entry prefixes (matching stops early)
META = "meta.json"
_ARRAY_NAME = re.compile(r"^arrays/([a-z][a-z0-9_]{0,63})\.npy$")
MAX_MEMBER_BYTES = 4 << 30  # no single member may claim more than 4 GiB uncompressed
BOMB_BYTES, BOMB_RATIO = 64 << 20, 500  # nor a large one expand more than 500x (zip bomb)
_PICKLE_MAGIC = (b"\x80", b"(d", b"(l", b"cnumpy", b"ccopy_reg")


def save_model(path: str | os.PathLike[str], meta: dict, arrays: dict[str, np.ndarray]) -> None:
    """Write ``meta`` and ``arrays`` to ``path`` atomically."""
    payloads: dict[str, bytes] = {}
    for name, arr in arrays.items():
        if not _ARRAY_NAME.match(f"arrays/{name}.npy"):
            raise ValueError(f"bad array name {name!r}")
        buf = io.BytesIO()
        np.save(buf, np.ascontiguousarray(arr), allow_pickle=False)
        payloads[f"arrays/{name}.npy"] = buf.getvalue()
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, **meta,
            "checksums": {n: hashlib.sha256(b).hexdigest() for n, b in payloads.items()}}
    with atomic_write(path, "wb") as fh, zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED) as zf:
        # Fixed timestamps: the same model always gives the same bytes. Key order is kept:
        # the order of feature groups fixes the order in which weights are summed.
        for name, data in [(META, json.dumps(meta, indent=1).encode()),
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
    if info.file_size > MAX_MEMBER_BYTES or (
            info.file_size > BOMB_BYTES and info.file_size > BOMB_RATIO * max(info.compress_size, 1)):
        raise ModelError(path, f"member {info.filename!r} is implausibly large; refusing to inflate it")
    with zf.open(info) as fh:
        data = fh.read(info.file_size + 1)
    if len(data) != info.file_size:
        raise ModelError(path, f"member {info.filename!r} does not match its declared size")
    return data


def load_model(path: str | os.PathLike[str]) -> tuple[dict, dict[str, np.ndarray]]:
    """Read and verify a model file; any defect raises :class:`ModelError`."""
    name = os.fspath(path)
    p = Path(name)
    if not p.is_file():
        raise ModelError(name, "no such model file")
    with open(p, "rb") as fh:
        head = fh.read(16)
    if head.startswith(_PICKLE_MAGIC):
        raise ModelError(name, "this is a pickle, not a crftag model; crftag never loads pickles")
    if not head.startswith(b"PK"):
        raise ModelError(name, "not a crftag model file (not a zip archive)")
    try:
        with zipfile.ZipFile(p) as zf:
            infos = {i.filename: i for i in zf.infolist()}
            for member in infos:
                if member != META and not _ARRAY_NAME.match(member):
                    raise ModelError(name, f"unexpected member {member!r} in model archive")
            if META not in infos:
                raise ModelError(name, "model archive has no meta.json")
            meta = json.loads(_read_member(zf, infos[META], name).decode("utf-8"))
            if not isinstance(meta, dict) or meta.get("format") != FORMAT:
                raise ModelError(name, "not a crftag model file (wrong format tag)")
            version = meta.get("format_version")
            if version != FORMAT_VERSION:
                raise ModelError(name, f"model format version {version} is not supported "
                                 f"(this crftag reads version {FORMAT_VERSION}); retrain the model")
            checksums = meta.get("checksums", {})
            arrays: dict[str, np.ndarray] = {}
            for member, info in infos.items():
                if member == META:
                    continue
                data = _read_member(zf, info, name)
                if hashlib.sha256(data).hexdigest() != checksums.get(member):
                    raise ModelError(name, f"checksum mismatch in {member!r}: the file is corrupted")
                arrays[_ARRAY_NAME.match(member).group(1)] = np.load(io.BytesIO(data), allow_pickle=False)
            missing = set(checksums) - set(infos)
            if missing:
                raise ModelError(name, f"model archive lacks {', '.join(sorted(missing))}")
    except ModelError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError) as exc:
        raise ModelError(name, f"corrupted or truncated model file ({exc})") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ModelError(name, f"corrupted model file ({exc})") from None
    return meta, arrays
