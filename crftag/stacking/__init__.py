"""Stacking: first-pass taggers trained on other corpora, whose outputs become features.

A feature group of kind ``stack`` names corpora; a linear-chain CRF trained on them (the
*first pass*, with the model's own surface features) tags every sentence, and each token's
label and bucketed marginal at the group's window offsets become features of the model
(:mod:`crftag.stacking.features`). Sentences of the target's own training and dev data are
left out of the first pass's data (:func:`crftag.stacking.firstpass.text_key`), so its
labels on them look like its labels on new text; with ``folds`` > 1 the first pass also
learns from the target's training data, and that data's own features are jackknifed.
First passes are trained once per definition and data, cached, and stored inside the model
file (:mod:`crftag.stacking.model`); at tagging time they run in the same compiled pass as
the model, on the same cached token types (:mod:`crftag.stacking.kernel`).
"""
