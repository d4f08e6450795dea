"""crftag: a fast, classical, feature-based named-entity tagger for tweets.

The one object users need is :class:`Tagger`::

    from crftag import Tagger
    tagger = Tagger.load("wnut16.crftag")
    for ent in tagger.tag("Just landed in New York with @jimmyfallon"):
        print(ent.text, ent.type, ent.start, ent.end)
"""

__version__ = "0.1.0"

from crftag.entity import Entity
from crftag.errors import CrftagError, DataError, ModelError, ResourceError
from crftag.tagger import Tagger
from crftag.train import train

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
