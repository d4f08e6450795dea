"""Feature hashing: compiled and Python twins agree, values are stable, lookups find every key."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from crftag.features.hashing import (
    bucket_offsets,
    find_key,
    hash_strings,
    py_feature_key,
    py_fnv1a,
    py_splitmix64,
    splitmix64,
)


def test_fnv1a_is_the_published_function():
    # FNV-1a 64 test vectors (the reference implementation's): "" and "a"
    assert py_fnv1a("") == 0xCBF29CE484222325
    assert py_fnv1a("a") == 0xAF63DC4C8601EC8C
    assert py_fnv1a("foobar") == 0x85944171F73967E8


def test_feature_keys_are_stable_across_releases():
    """Model files store these keys: a change here silently breaks every saved model."""
    assert py_feature_key("lower|paris", 0) == py_feature_key("lower|paris", 0)
    assert py_feature_key("lower|paris", 0) != py_feature_key("lower|paris", 1)
    assert py_feature_key("lower|paris", -1) != py_feature_key("lower|paris", 1)
    salt = py_splitmix64(1000)  # offset 0's salt
    assert py_feature_key("lower|paris", 0) == py_splitmix64(py_fnv1a("lower|paris") ^ salt)


@given(st.lists(st.text(), max_size=20))
def test_compiled_hash_equals_python(strings):
    assert hash_strings(strings).tolist() == [py_fnv1a(s) for s in strings]


@given(st.integers(min_value=0, max_value=2 ** 64 - 1))
def test_compiled_splitmix_equals_python(x):
    assert int(splitmix64(np.uint64(x))) == py_splitmix64(x)


def test_surrogates_hash_like_their_utf8_surrogatepass_bytes():
    assert hash_strings(["a\ud800b"]).tolist() == [py_fnv1a("a\ud800b")]


@pytest.mark.parametrize("n", [0, 1, 5, 1000, 20_000])
def test_bucketed_lookup_finds_every_key_and_nothing_else(n):
    rng = np.random.default_rng(n)
    keys = np.unique(rng.integers(0, 2 ** 63, size=n, dtype=np.uint64) * np.uint64(2))  # even keys
    buckets, shift = bucket_offsets(keys)
    assert buckets[0] == 0 and buckets[-1] == len(keys) and np.all(np.diff(buckets) >= 0)
    for i, k in enumerate(keys[:2000]):
        assert find_key(keys, buckets, shift, k) == i
    for k in (keys[:500] + np.uint64(1)):  # odd: never stored
        assert find_key(keys, buckets, shift, k) == -1
    for k in (np.uint64(0), np.uint64(2 ** 64 - 1)):
        assert find_key(keys, buckets, shift, k) in (-1, int(np.searchsorted(keys, k)))
