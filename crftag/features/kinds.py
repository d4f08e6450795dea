"""The feature kinds: each declared once, with its options, its resource and its atoms.

Feature-set validation (:mod:`crftag.features.featureset`), the Python atom definitions
(:mod:`crftag.features.atoms`), lexicon building (:mod:`crftag.features.lexicon`) and the compiled
atomizer (:mod:`crftag.features.atomize`, which has a twin of every token-level kind,
tested against these) all read this registry; ``crftag features kinds`` prints it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Option:
    """One option of a kind: ``type`` is ``"ints"`` (positive integers), ``"int"`` (one integer
    from 0), ``"probabilities"`` (increasing numbers in (0, 1)), ``"strings"`` or ``"string"``;
    ``choices`` restricts a string; an option without a default is required."""

    type: str
    help: str
    default: Any = None
    choices: tuple[str, ...] = ()

    @property
    def required(self) -> bool:
        return self.default is None


@dataclass(frozen=True)
class Kind:
    """A feature kind. ``resource`` is what lexicon building loads for it: ``"clusters"`` (a
    word-to-cluster table from the ``resource`` option), ``"gazetteer"`` (lists from the
    ``resources`` option), or None. Token-level kinds give atoms per token; the others
    (gazetteer matches) depend on a token's neighbours. ``stage`` is where a kind's features
    are made: ``"featurize"`` (the featuriser and its compiled atomiser) or ``"stack"`` (the
    first-pass taggers of :mod:`crftag.stacking`, whose outputs become features)."""

    name: str
    help: str
    options: dict[str, Option] = field(default_factory=dict)
    resource: str | None = None
    token_level: bool = True
    stage: str = "featurize"


_NORMALIZE = ("lower", "twitterner")

KINDS: dict[str, Kind] = {k.name: k for k in (
    Kind("bias", "a constant, so every label gets a per-label bias"),
    Kind("word", "the token as written"),
    Kind("lower", "the token lowercased"),
    Kind("prefix", "its first n characters, lowercased",
         {"lengths": Option("ints", "prefix lengths", [3])}),
    Kind("suffix", "its last n characters, lowercased",
         {"lengths": Option("ints", "suffix lengths", [3])}),
    Kind("casing", "title / upper / lower / mixed case / initial capital flags"),
    Kind("shape", "Xxxx-style shape (first 12 characters) and its collapsed form Xx"),
    Kind("chars", "all digits / has digit, all punctuation / has punctuation, inner hyphen, length band"),
    Kind("twitter", "@mention, #hashtag (and its body), URL, RT and emoticon cues"),
    Kind("brown", "prefixes of the token's Brown-cluster bit string",
         {"resource": Option("string", "a Brown paths file (registry name or path)"),
          "prefixes": Option("ints", "bit-string prefix lengths", [4, 8, 12, 16]),
          "normalize": Option("string", "how a token is looked up", "lower", _NORMALIZE)},
         resource="clusters"),
    Kind("clark", "the token's Clark cluster",
         {"resource": Option("string", "a Clark clusters file (registry name or path)"),
          "normalize": Option("string", "how a token is looked up", "twitterner", _NORMALIZE)},
         resource="clusters"),
    Kind("table", "the token's label in a word table (word<TAB>label lines: wordfreq bands, MiniLM clusters)",
         {"resource": Option("string", "a word table (registry name or path)"),
          "normalize": Option("string", "how a token is looked up", "lower", _NORMALIZE)},
         resource="clusters"),
    Kind("gazetteer", "longest-match gazetteer hits, one feature per list and position in the match",
         {"resources": Option("strings", "folders of lists (registry names or paths)"),
          "lists": Option("strings", "only these lists (file names), default all", []),
          "encoding": Option("string", "positions marked: B/I, or B/I/L/U (last token, a one-token match)",
                             "bi", ("bi", "bilou"))},
         resource="gazetteer", token_level=False),
    Kind("stack", "the label (and its bucketed marginal) a first-pass CRF trained on other corpora gives "
                  "each token (crftag.stacking)",
         {"corpora": Option("strings", "the first pass's training data: corpus splits, registry names or "
                                       "paths (sentences of the target's own training and dev data are "
                                       "left out)"),
          "scheme": Option("string", "its labels: the corpora's own types, or bare B/I/O", "types",
                           ("types", "notypes")),
          "bins": Option("probabilities", "edges of the marginal buckets (empty: the label alone)",
                         [0.5, 0.8, 0.95]),
          "folds": Option("int", "0: train the first pass on the corpora alone; K > 1: also on the "
                                 "target's training data, whose own features are then jackknifed "
                                 "(K first passes, each without one fold)", 0)},
         token_level=False, stage="stack"),
)}

#: Keys every group may have.
COMMON = {"kind": Option("string", "the group's kind (default: the group's name)"),
          "window": Option("ints_any", "token offsets whose atoms the current token sees", [0])}


def token_kinds() -> list[str]:
    return [k.name for k in KINDS.values() if k.token_level]


def featurized_kinds() -> list[str]:
    """The kinds the featuriser makes (the others belong to later stages)."""
    return [k.name for k in KINDS.values() if k.stage == "featurize"]
