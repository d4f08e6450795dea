"""Read a CRFsuite model file (format ``lCRF``/``FOMC`` v100) into arrays.

crftag never tags through crfsuite: after training it exports the model's exact
double-precision weights into its own array format. The text dump that
python-crfsuite offers rounds weights to six decimals, so the binary file is
parsed here instead. Layout (all integers little-endian uint32): a 48-byte
header, a ``FEAT`` chunk of ``(type, src, dst, weight: float64)`` records
(type 0 = state feature attr->label, 1 = transition label->label), and two CQDB
string databases for labels and attributes whose backward arrays map ids to
NUL-terminated strings.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

_HEADER = struct.Struct("<4sI4sIIIIIIIII")
_CQDB_HEADER = struct.Struct("<4sIIIII")
_FEATURE = np.dtype([("type", "<u4"), ("src", "<u4"), ("dst", "<u4"), ("weight", "<f8")])


@dataclass
class CRFSuiteModel:
    labels: list[str]
    attributes: list[str]
    state_features: np.ndarray  # structured: src = attribute id, dst = label id, weight
    transitions: np.ndarray  # (n_labels, n_labels) from -> to


def _cqdb_strings(buf: bytes, offset: int, count: int) -> list[str]:
    magic, _size, _flag, _order, bwd_size, bwd_offset = _CQDB_HEADER.unpack_from(buf, offset)
    if magic != b"CQDB":
        raise ValueError("bad CQDB chunk")
    if bwd_size < count:
        raise ValueError("CQDB backward array too small")
    refs = np.frombuffer(buf, dtype="<u4", count=count, offset=offset + bwd_offset)
    strings = []
    for i, ref in enumerate(refs):
        pos = offset + int(ref)
        ident, ksize = struct.unpack_from("<II", buf, pos)
        if ident != i:
            raise ValueError("CQDB ids out of order")
        strings.append(buf[pos + 8: pos + 8 + ksize - 1].decode("utf-8"))
    return strings


def read_crfsuite_model(path: str) -> CRFSuiteModel:
    """Parse a model file written by crfsuite's trainer."""
    with open(path, "rb") as fh:
        buf = fh.read()
    (magic, _size, mtype, version, _n_features, n_labels, n_attrs,
     off_features, off_labels, off_attrs, _off_lrefs, _off_arefs) = _HEADER.unpack_from(buf, 0)
    if magic != b"lCRF" or mtype != b"FOMC" or version != 100:
        raise ValueError(f"{path}: not a CRFsuite CRF1d model")
    # The header's feature count is left at 0 by crfsuite; the chunk's count is the real one.
    chunk, csize, n_features = struct.unpack_from("<4sII", buf, off_features)
    if chunk != b"FEAT" or csize != 12 + n_features * _FEATURE.itemsize:
        raise ValueError(f"{path}: bad feature chunk")
    feats = np.frombuffer(buf, dtype=_FEATURE, count=n_features, offset=off_features + 12)
    labels = _cqdb_strings(buf, off_labels, n_labels)
    attrs = _cqdb_strings(buf, off_attrs, n_attrs)
    trans = np.zeros((n_labels, n_labels), dtype=np.float64)
    t = feats[feats["type"] == 1]
    trans[t["src"], t["dst"]] = t["weight"]
    return CRFSuiteModel(labels=labels, attributes=attrs,
                         state_features=feats[feats["type"] == 0].copy(), transitions=trans)
