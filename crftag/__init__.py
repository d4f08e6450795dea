"""crftag: a fast, classical, feature-based named-entity tagger for tweets.

The one object users need is :class:`Tagger`::

    from crftag import Tagger
    tagger = Tagger.load("wnut16.crftag")
    for ent in tagger.tag("Just landed in New York with @jimmyfallon"):
        print(ent.text, ent.type, ent.start, ent.end)

Attributes are imported on first use, so ``import crftag`` (and the command
line's ``--help``) stays cheap: the compiled tagger and numba load only when
``Tagger`` or ``train`` is first touched.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from crftag._version import __version__
from crftag.errors import CrftagError, DataError, ModelError, ResourceError
from crftag.jitcache import ensure_writable_cache
from crftag.types import Entity

ensure_writable_cache()  # before any kernel is defined: a read-only install still caches them

if TYPE_CHECKING:
    from crftag.tagger import Tagger
    from crftag.training import train

_LAZY = {"Tagger": "crftag.tagger", "train": "crftag.training"}

__all__ = [
    "CrftagError",
    "DataError",
    "Entity",
    "ModelError",
    "ResourceError",
    "Tagger",
    "__version__",
    "train",
]


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'crftag' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
