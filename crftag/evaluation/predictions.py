"""Another tagger's output as predictions to score: read, then aligned with the gold data.

``crftag eval --pred PRED GOLD`` scores any tagger's output (a neural model's, a service's,
an older crftag's) with the same report, bootstrap and comparisons as a model's. PRED is CoNLL
(token first, predicted tag last: what ``crftag tag`` and ``crftag eval --write-predictions``
write, and what most taggers can write) or JSONL (``{"tokens": [...], "tags": [...]}`` per line).
It must hold the gold data's sentences, in order, token for token: a prediction for other
tokens is not a prediction for these, so any difference is an error naming both places.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Sequence

from crftag.errors import DataError
from crftag.types import Sentence


def is_prediction_file(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a file of predictions rather than a model (model files are zip
    archives; a named model's name is not a file here)."""
    return os.path.isfile(path) and not zipfile.is_zipfile(path)


def read_predictions(path: str | os.PathLike[str], gold: Sequence[Sentence], gold_name: str,
                     fmt: str | None = None, encoding: str = "utf-8") -> list[list[str]]:
    """The predicted tags of each gold sentence, read from ``path`` (CoNLL unless ``fmt`` or the
    extension says JSONL) and checked sentence by sentence, token by token."""
    from crftag.io.readers import guess_format, read

    name = os.fspath(path)
    fmt = fmt or ("jsonl" if guess_format(name, "conll") == "jsonl" else "conll")  # .txt, .pred: CoNLL
    one_per_line = fmt == "jsonl"  # else a token per line
    predicted = [s for s in read(name, fmt, labelled=True, encoding=encoding) if s.tokens]
    for k, (want, got) in enumerate(zip(gold, predicted, strict=False)):
        if list(want.tokens) == list(got.tokens):
            continue
        j = next((j for j, (a, b) in enumerate(zip(want.tokens, got.tokens, strict=False)) if a != b),
                 min(len(want.tokens), len(got.tokens)))
        where = None if got.line is None else got.line + (0 if one_per_line else j)
        if j < min(len(want.tokens), len(got.tokens)):
            what = f"token {got.tokens[j]!r} where {gold_name} has {want.tokens[j]!r}"
        else:
            what = f"sentence {k + 1} has {len(got.tokens)} tokens where {gold_name}'s has {len(want.tokens)}"
        raise DataError(name, where, f"predictions do not line up with the gold data: {what} "
                        f"(the gold sentence starts at line {want.line} of {gold_name})")
    if len(predicted) != len(gold):
        raise DataError(name, None, f"{len(predicted)} predicted sentences for {len(gold)} in {gold_name}: "
                        "predictions must hold every gold sentence, in order")
    return [list(s.tags) for s in predicted]

