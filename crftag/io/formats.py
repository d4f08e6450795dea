"""The formats crftag reads and writes, by name.

One list shared by the readers, the writers, the registry and the command line's
choices; it imports nothing, so ``--help`` can show the choices without loading the
tokenizer (numba).
"""

#: what :func:`crftag.io.readers.read` reads; ``text`` is one tweet per line
INPUT_FORMATS = ("conll", "csv", "jsonl", "text")
#: the input formats that carry gold tags (training, evaluation, statistics, splits)
LABELLED_FORMATS = ("conll", "csv", "jsonl")
#: what :data:`crftag.io.writers.WRITERS` writes
OUTPUT_FORMATS = ("conll", "jsonl", "text")
#: reports of ``crftag eval`` (:mod:`crftag.evaluation.report`)
REPORT_FORMATS = ("text", "json", "markdown")
