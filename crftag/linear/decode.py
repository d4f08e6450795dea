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

from crftag.bundles import bundle

O_PREFIX, B_PREFIX, I_PREFIX = 0, 1, 2


Chain = bundle(
    "Chain",
    """A linear chain's label scores: ``transitions[from, to]`` and ``start``, the exponentiated
    transitions (forward-backward works in the probability domain), each label's BIO prefix
    code and entity-type index (for conlleval chunks), and ``dominance`` (see
    :func:`dominance`) for Viterbi's pruning.""",
    transitions=(np.float64, 2), start=(np.float64, 1), exp_transitions=(np.float64, 2),
    prefix=(np.int64, 1), kind=(np.int64, 1), dominance=(np.float64, 2))


def make_chain(labels: list[str], transitions: np.ndarray, start: np.ndarray) -> Chain:
    """The :class:`Chain` of labels with these transition and start scores."""
    from crftag.bio import split_tag

    parts = [split_tag(label) for label in labels]
    codes = {"B": B_PREFIX, "I": I_PREFIX}
    kinds = {k: i for i, k in enumerate(sorted({k for _, k in parts}))}
    return Chain(transitions, start, np.exp(transitions), [codes.get(p, O_PREFIX) for p, _ in parts],
                 [kinds[k] for _, k in parts], dominance(transitions))


def dominance(transitions: np.ndarray) -> np.ndarray:
    """``d[i, k]``: how much more moving from label ``i`` can gain than moving from ``k``, at most
    (the largest ``transitions[i, j] - transitions[k, j]`` over targets ``j`` that ``i`` can
    reach; +inf when ``k`` cannot reach one of them, -inf when ``i`` reaches none)."""
    t = np.asarray(transitions, dtype=np.float64)
    reach = t > -np.inf
    out = np.empty(t.shape)
    for i in range(len(t)):  # one source label at a time: L x L memory, not L x L x L
        with np.errstate(invalid="ignore"):
            gain = np.where(reach, t[i][None, :] - t, np.inf)  # [k, j]
        out[i] = np.where(reach[i][None, :], gain, -np.inf).max(axis=1)
    return out


@njit(nogil=True, cache=True)
def viterbi(emissions, transitions, start):
    """Best label path (int64 array) through ``emissions`` (T x L)."""
    n_tok, n_lab = emissions.shape
    path = np.zeros(n_tok, dtype=np.int64)
    if n_tok == 0:
        return path
    back = np.zeros((n_tok, n_lab), dtype=np.int64)
    no_pruning = np.full((n_lab, n_lab), np.inf)  # one sentence: not worth a dominance table
    viterbi_into(emissions, transitions, start, no_pruning, n_tok, path, back, np.empty(n_lab),
                 np.empty(n_lab))
    return path


@njit(nogil=True, cache=True)
def viterbi_into(emissions, transitions, start, dominance, n_tok, path, back, score, best):
    """:func:`viterbi` of ``emissions[:n_tok]`` into preallocated arrays (``back`` at least
    n_tok x L; ``score`` and ``best`` of length L).

    Exact pruning: a label ``i`` whose score, plus the most it can gain over the current
    leader ``k`` on any move (``dominance[i, k]``), stays below the leader's, loses every
    comparison at the next step, so it is not tried. On WNUT16 dev about 3 of 21 labels are
    tried per token. A margin far above rounding error keeps the skipped ones strictly
    worse. Sources are tried in order and a later one wins only when strictly better, so
    ties go to the first label, as in crfsuite.
    """
    n_lab = emissions.shape[1]
    for j in range(n_lab):
        score[j] = emissions[0, j] + start[j]
    for t in range(1, n_tok):
        leader = 0
        for i in range(1, n_lab):
            if score[leader] < score[i]:
                leader = i
        top = score[leader]
        margin = 1e-9 * (1.0 + abs(top))
        for j in range(n_lab):
            best[j] = -np.inf
            back[t, j] = 0
        for i in range(n_lab):
            si = score[i]
            if si + dominance[i, leader] < top - margin - 1e-9 * abs(si):
                continue
            for j in range(n_lab):
                s = si + transitions[i, j]
                if best[j] < s:
                    best[j] = s
                    back[t, j] = i
        for j in range(n_lab):
            score[j] = best[j] + emissions[t, j]
    top, arg = -np.inf, 0
    for i in range(n_lab):
        if top < score[i]:
            top, arg = score[i], i
    path[n_tok - 1] = arg
    for t in range(n_tok - 1, 0, -1):
        path[t - 1] = back[t, path[t]]


@njit(nogil=True, cache=True)
def forward_backward(emissions, exp_transitions, start):
    """Scaled forward and backward tables: ``(alpha, beta, log_scale)``.

    Rabiner's scaling in the probability domain: each forward row is divided by
    its sum, so ``alpha[t]`` sums to 1 and ``log_scale[t]`` is the log of the
    forward mass the division removed up to ``t``; ``beta[t]`` is divided by the
    same factors. Then ``alpha * beta`` are the marginals, ``log_scale[-1]`` is
    log Z, and the true log forward score is ``log(alpha[t, y]) + log_scale[t]``.
    One ``exp`` per emission score and one ``log`` per token: no per-label logs.
    """
    n_tok, n_lab = emissions.shape
    alpha = np.zeros((n_tok, n_lab))
    beta = np.ones((n_tok, n_lab))
    log_scale = np.zeros(n_tok)
    scaled = np.empty((n_tok, n_lab))  # exp(emissions - row max)
    row_max = np.empty(n_tok)
    for t in range(n_tok):
        row_max[t] = emissions[t].max()
        for y in range(n_lab):
            scaled[t, y] = np.exp(emissions[t, y] - row_max[t])
    norm = np.empty(n_tok)  # what each forward row was divided by
    trans_t = exp_transitions.T.copy()  # inner loops run over contiguous, independent targets
    for t in range(n_tok):
        if t == 0:
            for j in range(n_lab):
                alpha[0, j] = np.exp(start[j])
        else:
            for i in range(n_lab):
                a = alpha[t - 1, i]
                for j in range(n_lab):
                    alpha[t, j] += a * exp_transitions[i, j]
        total = 0.0
        for j in range(n_lab):
            alpha[t, j] *= scaled[t, j]
            total += alpha[t, j]
        norm[t] = total
        for j in range(n_lab):
            alpha[t, j] /= total
        log_scale[t] = (log_scale[t - 1] if t else 0.0) + np.log(total) + row_max[t]
    for t in range(n_tok - 2, -1, -1):
        beta[t] = 0.0
        for j in range(n_lab):
            w = scaled[t + 1, j] * beta[t + 1, j] / norm[t + 1]
            for i in range(n_lab):
                beta[t, i] += trans_t[j, i] * w
    return alpha, beta, log_scale


@njit(nogil=True, cache=True)
def span_probability(alpha, beta, log_scale, emissions, transitions, exp_transitions, path, i, j,
                     prefix, kind):
    """Probability that tokens [i, j) carry exactly ``path[i:j]`` and form one whole entity.

    The entity must not continue: the label after it is not ``I-`` of its type,
    and when it opens with ``I-`` (a conlleval chunk start) the label before it
    is not ``B-``/``I-`` of its type. Tables from :func:`forward_backward`.
    """
    n_tok, n_lab = emissions.shape
    first = path[i]
    t_kind = kind[first]
    if prefix[first] == I_PREFIX and i > 0:
        mass = 0.0  # forward mass into `first` from labels that do not continue the entity
        for y in range(n_lab):
            if not (kind[y] == t_kind and prefix[y] != O_PREFIX):
                mass += alpha[i - 1, y] * exp_transitions[y, first]
        logp = np.log(mass) + log_scale[i - 1] + emissions[i, first]
    else:
        logp = np.log(alpha[i, first]) + log_scale[i]
    for t in range(i + 1, j):
        logp += transitions[path[t - 1], path[t]] + emissions[t, path[t]]
    if j < n_tok:
        row_max = emissions[j].max()
        mass = 0.0  # backward mass out of the entity into labels that do not continue it
        for y in range(n_lab):
            if not (kind[y] == t_kind and prefix[y] == I_PREFIX):
                mass += exp_transitions[path[j - 1], y] * np.exp(emissions[j, y] - row_max) * beta[j, y]
        # beta[j] is scaled by the forward normalisers after j: log Z - log_scale[j] - row_max
        logp += np.log(mass) + row_max + log_scale[n_tok - 1] - log_scale[j]
    return min(1.0, np.exp(logp - log_scale[n_tok - 1]))


@njit(nogil=True, cache=True)
def decode_and_score(emissions, chain):
    """Label path, conlleval chunks of it, and each chunk's probability."""
    n = len(emissions)
    path = np.zeros(n, dtype=np.int64)
    starts = np.empty(n, dtype=np.int64)
    ends = np.empty(n, dtype=np.int64)
    scores = np.empty(n)
    if n:
        n_lab = emissions.shape[1]
        viterbi_into(emissions, chain.transitions, chain.start, chain.dominance, n, path,
                     np.empty((n, n_lab), dtype=np.int64), np.empty(n_lab), np.empty(n_lab))
    k = score_chunks(emissions, chain, path, n, starts, ends, scores)
    return path, starts[:k], ends[:k], scores[:k]


@njit(nogil=True, cache=True)
def find_chunks(path, n, chain, starts, ends):
    """conlleval's chunks of ``path[:n]`` into ``starts``/``ends``; returns how many."""
    prefix, kind = chain.prefix, chain.kind
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
    return n_chunks


@njit(nogil=True, cache=True)
def score_chunks(emissions, chain, path, n, starts, ends, scores):
    """:func:`find_chunks`, and each chunk's probability into ``scores``."""
    n_chunks = find_chunks(path, n, chain, starts, ends)
    if n_chunks:
        em = emissions[:n]
        alpha, beta, log_scale = forward_backward(em, chain.exp_transitions, chain.start)
        for c in range(n_chunks):
            scores[c] = span_probability(alpha, beta, log_scale, em, chain.transitions,
                                         chain.exp_transitions, path, starts[c], ends[c], chain.prefix,
                                         chain.kind)
    return n_chunks
