"""The first passes in compiled code: decode each one, then add its outputs' weight rows.

The tagging pass (:mod:`crftag.engine.typecache`) sums one *wide* score row per token: the
model's labels first, then each first pass's labels (they share the featuriser, so one
cached token type serves them all). :func:`stack_into` decodes each first pass on its
columns (Viterbi, then the marginal of the chosen label by forward-backward), and adds to
the model's columns the weight rows of the features those outputs make: per window offset,
``group|LABEL`` and ``group|LABEL|bBIN`` (:mod:`crftag.stacking.features` defines them
in Python; :class:`Stacks` holds their rows, gathered once per model).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from crftag.bundles import bundle
from crftag.linear.decode import forward_backward, viterbi_into

Stacks = bundle(
    "Stacks",
    """The first passes of a model, packed: first pass ``s`` owns the wide columns
    ``col[s]:col[s] + n_lab[s]``, its label scores ``start[lab_ptr[s]:lab_ptr[s + 1]]`` and
    ``transitions`` / ``exp_transitions`` / ``dominance`` (flat, row-major,
    ``sq_ptr[s]:sq_ptr[s + 1]``), its window ``offsets[s, :n_off[s]]``, its marginal bucket
    edges ``edges[s, :n_edges[s]]``, and ``rows[s, k, label, 0]`` the model's weight row of
    ``group|LABEL`` at offset ``k``, ``rows[s, k, label, 1 + b]`` that of ``group|LABEL|bB``.
    ``n_main`` is the model's own label count.""",
    col=(np.int64, 1), n_lab=(np.int64, 1), lab_ptr=(np.int64, 1), start=(np.float64, 1),
    sq_ptr=(np.int64, 1), transitions=(np.float64, 1), exp_transitions=(np.float64, 1),
    dominance=(np.float64, 1), offsets=(np.int64, 2), n_off=(np.int64, 1), edges=(np.float64, 2),
    n_edges=(np.int64, 1), rows=(np.float64, 5), n_main=(np.int64, 0))


@njit(nogil=True, cache=True)
def bucket(edges, n_edges, p):
    """How many of the first ``n_edges`` (increasing) edges are at most ``p``."""
    b = 0
    while b < n_edges and edges[b] <= p:
        b += 1
    return b


@njit(nogil=True, cache=True)
def path_and_marginals(emissions, transitions, start, exp_transitions, dominance, path, probs, with_probs):
    """Viterbi path of ``emissions`` (T x L) into ``path``, and (``with_probs``: a group with
    marginal buckets; forward-backward costs more than Viterbi) each chosen label's marginal
    probability into ``probs``."""
    n, n_lab = emissions.shape
    if n == 0:
        return
    viterbi_into(emissions, transitions, start, dominance, n, path, np.empty((n, n_lab), dtype=np.int64),
                 np.empty(n_lab), np.empty(n_lab))
    if not with_probs:
        return
    alpha, beta, _ = forward_backward(emissions, exp_transitions, start)
    for t in range(n):
        probs[t] = alpha[t, path[t]] * beta[t, path[t]]


@njit(nogil=True, cache=True)
def first_pass(stacks, s, wide, n, path, probs):
    """First pass ``s`` on the wide scores of a sentence of ``n`` tokens: its labels and (when its
    group buckets them) their marginals into ``path[:n]``, ``probs[:n]``."""
    c, n_lab = stacks.col[s], stacks.n_lab[s]
    a, b = stacks.sq_ptr[s], stacks.sq_ptr[s + 1]
    em = np.empty((n, n_lab))
    for t in range(n):
        for y in range(n_lab):
            em[t, y] = wide[t, c + y]
    path_and_marginals(em, stacks.transitions[a:b].reshape((n_lab, n_lab)),
                       stacks.start[stacks.lab_ptr[s]:stacks.lab_ptr[s + 1]],
                       stacks.exp_transitions[a:b].reshape((n_lab, n_lab)),
                       stacks.dominance[a:b].reshape((n_lab, n_lab)), path[:n], probs[:n],
                       stacks.n_edges[s] > 0)


@njit(nogil=True, cache=True)
def stack_into(wide, n, stacks, out, path, probs):
    """The model's emission scores of a sentence of ``n`` tokens into ``out[:n]``: its own
    columns of ``wide`` plus the rows of every first pass's outputs (``path`` and ``probs``:
    scratch of at least ``n``)."""
    n_main = stacks.n_main
    for t in range(n):
        for y in range(n_main):
            out[t, y] = wide[t, y]
    for s in range(len(stacks.col)):
        first_pass(stacks, s, wide, n, path, probs)
        rows, n_edges = stacks.rows[s], stacks.n_edges[s]
        for j in range(n):  # token j's outputs, seen from token j - offset
            lab = path[j]
            b = bucket(stacks.edges[s], n_edges, probs[j])
            for k in range(stacks.n_off[s]):
                t = j - stacks.offsets[s, k]
                if t < 0 or t >= n:
                    continue
                for y in range(n_main):
                    out[t, y] += rows[k, lab, 0, y]
                if n_edges:
                    for y in range(n_main):
                        out[t, y] += rows[k, lab, 1 + b, y]
