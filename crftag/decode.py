"""Decoding: the best label sequence under emission and transition scores.

Viterbi with crfsuite's tie-breaking (the first of equal scores wins, which is
what ``numpy.argmax`` does), so labels match crfsuite's own tagger.
"""

from __future__ import annotations

import numpy as np


def viterbi(emissions: np.ndarray, transitions: np.ndarray,
            start: np.ndarray | None = None) -> np.ndarray:
    """Best path through ``emissions`` (T x L) with ``transitions[from, to]`` (L x L).

    ``start`` adds a score for the first label (``-inf`` forbids it), which is how
    BIO constraints are imposed on models without learned transitions.
    """
    n_tokens = emissions.shape[0]
    if n_tokens == 0:
        return np.zeros(0, dtype=np.intp)
    score = emissions[0] if start is None else emissions[0] + start
    back = np.empty((n_tokens, emissions.shape[1]), dtype=np.intp)
    for t in range(1, n_tokens):
        cand = score[:, None] + transitions
        back[t] = np.argmax(cand, axis=0)
        score = cand[back[t], np.arange(cand.shape[1])] + emissions[t]
    path = np.empty(n_tokens, dtype=np.intp)
    path[-1] = int(np.argmax(score))
    for t in range(n_tokens - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path
