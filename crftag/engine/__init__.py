"""The compiled tagging pass: per-token-type cached scores (shared by the model and its stacked
first passes), the first passes' labels turned into features, Viterbi and entity confidences,
for a whole batch in one call (:mod:`crftag.engine.typecache`)."""
