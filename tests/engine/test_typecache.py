"""The type-score cache: bounded generations, promotion instead of recomputation, threads."""


import pytest
from conftest import run_threads

from crftag import Tagger, train

SENTENCES = [["Barack", "Obama", "visited", "Paris", "today"], ["I", "love", "New", "York", "City"],
             ["@bob", "watching", "the", "Lakers", "#NBA", "http://t.co/x"],
             ["Taylor", "Swift", "in", "London", "tonight", "!"], ["lol", "so", "tired", ":)"]]


@pytest.fixture(scope="module")
def model_path(tmp_path_factory, tiny):
    path = tmp_path_factory.mktemp("m") / "m.crftag"
    train(tiny, features="surface", max_iterations=30).save(path)
    return path


def _stream(n):
    """Sentences with many never-seen types (numbered) among common words."""
    return [[*SENTENCES[i % len(SENTENCES)], f"new{i}", f"#tag{i}", f"@user{i % 97}"] for i in range(n)]


def test_small_cache_gives_the_same_tags_as_a_large_one(model_path):
    stream = _stream(300)
    big = Tagger.load(model_path)
    small = Tagger.load(model_path, cache_types=16)
    expected = [big.tag_tokens(s) for s in stream]
    assert [small.tag_tokens(s) for s in stream] == expected
    assert small.type_cache.generations > 10  # the young generation filled up again and again
    assert big.type_cache.generations == 0
    texts = [" ".join(s) for s in stream]
    assert [small.tag(t) for t in texts] == [big.tag(t) for t in texts]


def test_a_batch_larger_than_the_cache_is_tagged_uncached(model_path):
    stream = _stream(50)
    small = Tagger.load(model_path, cache_types=8)
    assert small.tag_tokens_batch(stream) == Tagger.load(model_path).tag_tokens_batch(stream)


def test_types_of_the_old_generation_are_copied_not_rescored(model_path):
    tagger = Tagger.load(model_path, cache_types=12)
    cache = tagger.type_cache
    tagger.tag_tokens(["Paris", "London"])
    tagger.tag_tokens([f"w{i}" for i in range(10)])  # the young generation is now full
    assert cache.generations == 0
    look = cache._lookup(["Paris", "London", "x"])  # x does not fit: the young generation becomes old
    assert cache.generations == 1
    assert look.fresh == ["x"]  # Paris and London were copied from the old generation
    assert set(cache._young.slots) == {"Paris", "London"}  # x is published once scored


def test_threads_on_a_cold_evicting_cache_equal_serial(model_path):
    """16 threads share one cold tagger whose cache holds 24 types, so generations turn over
    while kernels run; every result equals a serial run on a separate tagger."""
    stream = _stream(400)
    expected = [Tagger.load(model_path).tag(" ".join(s)) for s in stream]
    shared = Tagger.load(model_path, cache_types=24)
    results: dict[int, list] = {}
    errors = []

    def work(k):
        try:
            for i in range(k, len(stream), 16):
                results[i] = shared.tag(" ".join(stream[i]))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    run_threads(work, 16)
    assert not errors
    assert [results[i] for i in range(len(stream))] == expected
    assert shared.type_cache.generations > 5


def test_a_new_type_is_published_only_once_scored(model_path):
    tagger = Tagger.load(model_path)
    look = tagger.type_cache._lookup(["zzz", "Paris"])
    assert look.fresh == ["zzz", "Paris"] and "zzz" not in tagger.type_cache._young.slots
    tagger.tag_tokens(["zzz"])
    assert "zzz" in tagger.type_cache._young.slots


def test_cache_capacity_must_be_positive(model_path):
    with pytest.raises(ValueError, match="at least one"):
        Tagger.load(model_path, cache_types=0)


def test_a_retired_generation_is_reused_unless_a_call_still_reads_it(model_path):
    tagger = Tagger.load(model_path, cache_types=4)
    cache = tagger.type_cache
    tagger.tag_tokens(["a", "b", "c"])
    first = cache._young.arrays
    tagger.tag_tokens(["d", "e", "f"])  # rotation 1: a fresh young generation
    tagger.tag_tokens(["g", "h", "i"])  # rotation 2: the first generation's arrays come back
    assert cache._young.arrays is first
    pinned = cache._lookup(["j", "k", "l"])  # rotation 3, and this call has not finished
    tagger.tag_tokens(["m", "n", "o"])  # rotation 4
    tagger.tag_tokens(["p", "q", "r"])  # rotation 5 retires the pinned generation: not reused
    assert pinned.generation.users == 1 and cache._young.arrays is not pinned.generation.arrays
    assert tagger.tag_tokens(["a", "b", "c"]) == Tagger.load(model_path).tag_tokens(["a", "b", "c"])
