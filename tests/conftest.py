"""Shared fixtures: small hand-written data, and real data through the registry."""

from __future__ import annotations

from pathlib import Path

import pytest

from crftag.errors import ResourceError
from crftag.io.readers import read_conll
from crftag.resources.registry import default_registry

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def tiny_path() -> Path:
    return FIXTURES / "tiny.conll"


@pytest.fixture(scope="session")
def tiny(tiny_path):
    return list(read_conll(tiny_path))


def registry_file(name: str) -> Path:
    """A registry resource, fetched the way a user gets it; skip when unobtainable."""
    try:
        return default_registry().fetch(name)
    except ResourceError as exc:
        pytest.skip(f"{name} not available (set CRFTAG_MIRROR to a mirror such as ../shared): {exc}")


@pytest.fixture(scope="session")
def wnut16_train() -> Path:
    return registry_file("wnut16:train")


@pytest.fixture(scope="session")
def wnut16_dev() -> Path:
    return registry_file("wnut16:dev")


@pytest.fixture(scope="session")
def twitter_resources() -> None:
    """The clusters and gazetteers the shipped twitter feature sets use."""
    for name in ("brown:ark-twitter-6mpaths", "brown:wnut-hege-paths", "clark:wnut-hege-clark32",
                 "lexicons:wnut16", "lexicons:wikidata2016"):
        registry_file(name)


@pytest.fixture(scope="session")
def tiny_crf(tiny):
    from crftag import train

    return train(tiny, backend="crf", features="surface", c1=0.0, c2=0.01, max_iterations=50)


FEATURES = """
name = "fuzz"
description = "every kind of array a model can hold: clusters, gazetteers, a conjunction"
[groups.bias]
[groups.lower]
window = [-1, 0, 1]
[groups.prefix]
lengths = [1, 3]
[groups.casing]
window = [-1, 0]
[groups.twitter]
[groups.brown]
resource = "{brown}"
prefixes = [2, 4]
window = [-1, 0, 1]
[groups.gazetteer]
resources = ["{gaz}"]
window = [-1, 0, 1]
[[conjunctions]]
group = "lower"
offsets = [-1, 0]
"""


@pytest.fixture(scope="session")
def fuzz_model(tmp_path_factory, tiny) -> Path:
    """A small CRF that holds Brown clusters, three gazetteer lists and a conjunction: every kind
    of array a model file can carry (the model fuzzer's subject; a cold tagger for threads)."""
    import numpy as np

    from crftag import train

    tmp = tmp_path_factory.mktemp("fuzzmodel")
    words = sorted({t.lower() for s in tiny for t in s.tokens})
    rng = np.random.default_rng(0)
    bits = ["".join(map(str, rng.integers(0, 2, 6))) for _ in words]
    (tmp / "paths").write_text("".join(f"{b}\t{w}\t5\n" for b, w in zip(bits, words, strict=True)))
    gaz = tmp / "gaz"
    gaz.mkdir()
    (gaz / "person").write_text("barack obama\ntim cook\ntaylor swift\n")
    (gaz / "city").write_text("new york\nparis\nlondon\nlos angeles\n")
    (gaz / "team").write_text("lakers\nknicks\n")
    fs = tmp / "fuzz.toml"
    fs.write_text(FEATURES.format(brown=tmp / "paths", gaz=gaz))
    path = tmp / "fuzz.crftag"
    train(tiny, features=str(fs), max_iterations=30).save(path)
    return path
