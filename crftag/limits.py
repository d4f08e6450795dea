"""Size limits on what crftag reads: input lines and sentences, model metadata.

Input limits are ``crftag tag``'s ``--max-line-bytes`` and ``--max-tokens`` defaults.

They bound the memory one sentence can take: a line longer than ``MAX_LINE_BYTES`` is an
error naming it, raised before more of it is read, and so is a sentence of more than
``MAX_TOKENS`` tokens. Kept apart from :mod:`crftag.io.readers` so that the command line can
show them in ``--help`` without importing the tokenizer (numba). The limits on model
arrays and feature sets are in :mod:`crftag.modelcheck`.
"""

#: The longest input line, in bytes (a tweet is at most a few KB).
MAX_LINE_BYTES = 1 << 20
#: The most tokens in one sentence (a line of text, a JSONL object, a CoNLL sentence).
MAX_TOKENS = 100_000

#: A model file's meta.json: at most this many bytes, its objects and lists nested at most this deep.
MAX_META_BYTES = 4 << 20
MAX_META_DEPTH = 32
