"""Stable 64-bit hashing of feature atoms, in compiled code and in plain Python.

Features are integers: an atom string (``lower|paris``) is hashed with FNV-1a,
then mixed with a salt for its window offset (splitmix64). Hashes are stable
across processes and machines, so feature keys can be stored in model files.
The pure-Python twins exist for the reference featuriser and the tests.
"""

from __future__ import annotations

import numpy as np
from numba import njit

MASK64 = (1 << 64) - 1
FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3
GOLDEN = 0x9E3779B97F4A7C15

_U_FNV_OFFSET = np.uint64(FNV_OFFSET)
_U_FNV_PRIME = np.uint64(FNV_PRIME)
_U_GOLDEN = np.uint64(GOLDEN)
_U_M1 = np.uint64(0xBF58476D1CE4E5B9)
_U_M2 = np.uint64(0x94D049BB133111EB)
_U30, _U27, _U31 = np.uint64(30), np.uint64(27), np.uint64(31)


@njit(nogil=True, cache=True)
def splitmix64(x: np.uint64) -> np.uint64:
    x = x + _U_GOLDEN
    x = (x ^ (x >> _U30)) * _U_M1
    x = (x ^ (x >> _U27)) * _U_M2
    return x ^ (x >> _U31)


@njit(nogil=True, cache=True, inline="always")
def _byte(h, b):
    return (h ^ np.uint64(b)) * _U_FNV_PRIME


@njit(nogil=True, cache=True, inline="always")
def fnv_cp(h, c):
    """Continue an FNV-1a hash with the UTF-8 bytes of code point ``c`` (surrogates as 3 bytes,
    like Python's ``surrogatepass``)."""
    c = np.int64(c)
    if c < 0x80:
        return _byte(h, c)
    if c < 0x800:
        return _byte(_byte(h, 0xC0 | (c >> 6)), 0x80 | (c & 0x3F))
    if c < 0x10000:
        return _byte(_byte(_byte(h, 0xE0 | (c >> 12)), 0x80 | ((c >> 6) & 0x3F)), 0x80 | (c & 0x3F))
    h = _byte(_byte(h, 0xF0 | (c >> 18)), 0x80 | ((c >> 12) & 0x3F))
    return _byte(_byte(h, 0x80 | ((c >> 6) & 0x3F)), 0x80 | (c & 0x3F))


@njit(nogil=True, cache=True)
def fnv_span(h, buf, a, b):
    """Continue an FNV-1a hash with the UTF-8 bytes of code points ``buf[a:b]``."""
    # a kernel of its own, not inlined by numba: with a dozen inlined hash steps at each of its
    # calls, the featuriser took 4 s longer to compile, and unseen-text tagging was no faster
    for i in range(a, b):
        h = fnv_cp(h, buf[i])
    return h


@njit(nogil=True, cache=True)
def fnv1a_batch(buf: np.ndarray, ptr: np.ndarray) -> np.ndarray:
    """FNV-1a of each byte string ``buf[ptr[i]:ptr[i+1]]``."""
    n = len(ptr) - 1
    out = np.empty(n, dtype=np.uint64)
    for i in range(n):
        h = _U_FNV_OFFSET
        for j in range(ptr[i], ptr[i + 1]):
            h = (h ^ np.uint64(buf[j])) * _U_FNV_PRIME
        out[i] = h
    return out


def hash_strings(strings: list[str]) -> np.ndarray:
    """FNV-1a of many strings (UTF-8) in one compiled pass."""
    encoded = [s.encode("utf-8", "surrogatepass") for s in strings]
    ptr = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(b) for b in encoded], out=ptr[1:])
    buf = np.frombuffer(bytearray(b"".join(encoded)), dtype=np.uint8)  # writable, as every other caller's
    return fnv1a_batch(buf, ptr)


def py_fnv1a(s: str) -> int:
    h = FNV_OFFSET
    for byte in s.encode("utf-8", "surrogatepass"):
        h = ((h ^ byte) * FNV_PRIME) & MASK64
    return h


def py_splitmix64(x: int) -> int:
    x = (x + GOLDEN) & MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK64
    return x ^ (x >> 31)


def offset_salt(offset: int) -> int:
    """The salt that makes ``atom@offset`` a different feature from ``atom@other``."""
    return py_splitmix64((offset + 1000) & MASK64)


def py_feature_key(atom: str, offset: int) -> int:
    return py_splitmix64(py_fnv1a(atom) ^ offset_salt(offset))


def bucket_offsets(sorted_keys: np.ndarray, bits: int | None = None) -> tuple[np.ndarray, int]:
    """Offsets of the 2**bits buckets (by the keys' top bits) of a sorted uint64 array.

    With about four keys per bucket, a lookup is one offset read and a short
    scan: as fast as a hash table, with no table to build or hold beside the
    sorted keys themselves.
    """
    if bits is None:
        bits = max(1, min(24, int(np.ceil(np.log2(max(len(sorted_keys), 1) / 4 + 1)))))
    shift = 64 - bits
    bounds = np.arange(2 ** bits + 1, dtype=np.uint64)
    # boundary b is the smallest key whose top bits equal b; the last boundary is "past the end"
    starts = np.searchsorted(sorted_keys, bounds[:-1] << np.uint64(shift))
    return np.append(starts, len(sorted_keys)).astype(np.int64), shift


@njit(nogil=True, cache=True)
def find_key(sorted_keys: np.ndarray, buckets: np.ndarray, shift: int, key: np.uint64) -> int:
    """Index of ``key`` in ``sorted_keys`` (see :func:`bucket_offsets`), or -1."""
    b = key >> np.uint64(shift)
    for i in range(buckets[b], buckets[b + 1]):
        k = sorted_keys[i]
        if k == key:
            return i
        if k > key:
            return -1
    return -1
