"""Decoding in compiled code: Viterbi, forward-backward marginals, entity confidences.

Scores are log-potentials: ``emissions[t, y]`` (sum of the weights of token t's
features for label y) and ``transitions[from, to]``; ``start[y]`` adds a score
for the first label (``-inf`` forbids it, which is how BIO constraints are
imposed on models without learned transitions). Viterbi breaks ties the way
CRFsuite does (the first of equal scores wins), so labels match crfsuite's own
tagger exactly. All kernels release the GIL.
"""

from __future__ import annotations

import numpy as np
from numba import njit

O_PREFIX, B_PREFIX, I_PREFIX = 0, 1, 2


@njit(nogil=True, cache=True)
def viterbi(emissions, transitions, start):
    """Best label path (int64 array) through ``emissions`` (T x L)."""
    n_tok, n_lab = emissions.shape
    path = np.zeros(n_tok, dtype=np.int64)
    if n_tok == 0:
        return path
    score = emissions[0] + start
    back = np.zeros((n_tok, n_lab), dtype=np.int64)
    nxt = np.empty(n_lab)
    for t in range(1, n_tok):
        for j in range(n_lab):
            best, arg = -np.inf, 0
            for i in range(n_lab):
                s = score[i] + transitions[i, j]
                if best < s:
                    best, arg = s, i
            back[t, j] = arg
            nxt[j] = best + emissions[t, j]
        score[:] = nxt
    best, arg = -np.inf, 0
    for i in range(n_lab):
        if best < score[i]:
            best, arg = score[i], i
    path[n_tok - 1] = arg
    for t in range(n_tok - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path


@njit(nogil=True, cache=True)
def _logsumexp(v):
    m = v.max()
    if m == -np.inf:
        return -np.inf
    return m + np.log(np.exp(v - m).sum())


@njit(nogil=True, cache=True)
def forward_backward(emissions, exp_transitions, start):
    """Log forward (emission included), log backward, and log Z.

    Each step rescales by the row maximum and multiplies by ``exp(transitions)``
    (precomputed once per model), so there is one ``exp`` per label per token
    rather than one per label pair.
    """
    n_tok, n_lab = emissions.shape
    alpha = np.empty((n_tok, n_lab))
    beta = np.zeros((n_tok, n_lab))
    alpha[0] = emissions[0] + start
    w = np.empty(n_lab)
    for t in range(1, n_tok):
        m = alpha[t - 1].max()
        for i in range(n_lab):
            w[i] = np.exp(alpha[t - 1, i] - m)
        for j in range(n_lab):
            acc = 0.0
            for i in range(n_lab):
                acc += w[i] * exp_transitions[i, j]
            alpha[t, j] = (np.log(acc) + m if acc > 0.0 else -np.inf) + emissions[t, j]
    for t in range(n_tok - 2, -1, -1):
        m = -np.inf
        for j in range(n_lab):
            w[j] = emissions[t + 1, j] + beta[t + 1, j]
            m = max(m, w[j])
        for j in range(n_lab):
            w[j] = np.exp(w[j] - m)
        for i in range(n_lab):
            acc = 0.0
            for j in range(n_lab):
                acc += exp_transitions[i, j] * w[j]
            beta[t, i] = np.log(acc) + m if acc > 0.0 else -np.inf
    return alpha, beta, _logsumexp(alpha[n_tok - 1])


@njit(nogil=True, cache=True)
def span_probability(alpha, beta, log_z, emissions, transitions, path, i, j, prefix, kind):
    """Probability that tokens [i, j) carry exactly ``path[i:j]`` and form one whole entity.

    The entity must not continue: the label after it is not ``I-`` of its type,
    and when it opens with ``I-`` (a conlleval chunk start) the label before it
    is not ``B-``/``I-`` of its type.
    """
    n_tok, n_lab = emissions.shape
    t_kind = kind[path[i]]
    tmp = np.empty(n_lab)
    if prefix[path[i]] == I_PREFIX and i > 0:
        for y in range(n_lab):
            inside = kind[y] == t_kind and prefix[y] != O_PREFIX
            tmp[y] = -np.inf if inside else alpha[i - 1, y] + transitions[y, path[i]]
        logp = _logsumexp(tmp) + emissions[i, path[i]]
    else:
        logp = alpha[i, path[i]]
    for t in range(i + 1, j):
        logp += transitions[path[t - 1], path[t]] + emissions[t, path[t]]
    if j < n_tok:
        for y in range(n_lab):
            cont = kind[y] == t_kind and prefix[y] == I_PREFIX
            tmp[y] = -np.inf if cont else transitions[path[j - 1], y] + emissions[j, y] + beta[j, y]
        logp += _logsumexp(tmp)
    return np.exp(logp - log_z)


@njit(nogil=True, cache=True)
def decode_and_score(emissions, transitions, start, exp_transitions, prefix, kind):
    """Label path, conlleval chunks of it, and each chunk's probability."""
    path = viterbi(emissions, transitions, start)
    n = len(path)
    starts = np.empty(n, dtype=np.int64)
    ends = np.empty(n, dtype=np.int64)
    n_chunks = 0
    for t in range(n):
        p, k = prefix[path[t]], kind[path[t]]
        inside = t > 0 and prefix[path[t - 1]] != O_PREFIX and kind[path[t - 1]] == k
        if p == B_PREFIX or (p == I_PREFIX and not inside):
            starts[n_chunks] = t
            n_chunks += 1
        if n_chunks and p != O_PREFIX:
            nxt = t + 1 < n and prefix[path[t + 1]] == I_PREFIX and kind[path[t + 1]] == k
            if not nxt:
                ends[n_chunks - 1] = t + 1
    scores = np.empty(n_chunks)
    if n_chunks:
        alpha, beta, log_z = forward_backward(emissions, exp_transitions, start)
        for c in range(n_chunks):
            scores[c] = span_probability(alpha, beta, log_z, emissions, transitions, path,
                                         starts[c], ends[c], prefix, kind)
    return path, starts[:n_chunks], ends[:n_chunks], scores
