"""Shared fixtures: small hand-written data, and real data through the registry."""

from __future__ import annotations

from pathlib import Path

import pytest

from crftag.errors import ResourceError
from crftag.readers import read_conll
from crftag.resources import default_registry

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
