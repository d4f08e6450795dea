"""The ``stack`` kind: what first-pass taggers trained on other corpora say of each token. Made
by its own stage, :mod:`crftag.stacking`, after the featuriser."""

from __future__ import annotations

from crftag.features.kinds.base import Kind, Option

KINDS = (
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
)
