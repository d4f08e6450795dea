"""The ``gazetteer`` kind: longest-match hits in word lists. Its matches depend on a token's
neighbours, so it has no per-token atoms: the featuriser marks them
(:func:`crftag.features.featurize.gaz_marks`, and its plain twin in
:class:`crftag.features.featurize.ReferenceFeaturizer`)."""

from __future__ import annotations

from crftag.features.kinds.base import Kind, Option

GAZETTEER = 11  # the kind's code (not a branch of the token atomiser)

KINDS = (
    Kind("gazetteer", "longest-match gazetteer hits, one feature per list and position in the match",
         {"resources": Option("strings", "folders of lists (registry names or paths)"),
          "lists": Option("strings", "only these lists (file names), default all", []),
          "encoding": Option("string", "positions marked: B/I, or B/I/L/U (last token, a one-token match)",
                             "bi", ("bi", "bilou"))},
         resource="gazetteer", token_level=False, code=GAZETTEER),
)
