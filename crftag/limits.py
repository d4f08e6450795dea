"""Input limits of ``crftag tag`` (its ``--max-line-bytes`` and ``--max-tokens`` defaults).

They bound the memory one sentence can take: a line longer than ``MAX_LINE_BYTES`` is an
error naming it, raised before more of it is read, and so is a sentence of more than
``MAX_TOKENS`` tokens. Kept apart from :mod:`crftag.readers` so that the command line can
show them in ``--help`` without importing the tokenizer (numba).
"""

#: The longest input line, in bytes (a tweet is at most a few KB).
MAX_LINE_BYTES = 1 << 20
#: The most tokens in one sentence (a line of text, a JSONL object, a CoNLL sentence).
MAX_TOKENS = 100_000
