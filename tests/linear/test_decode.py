"""Compiled decoding against brute force: Viterbi, marginals, entity span probabilities."""

import itertools

import numpy as np
import pytest

from crftag.bio import chunks, split_tag
from crftag.linear.decode import forward_backward, span_probability, viterbi
from crftag.linear.model import LinearChainModel

LABELS = ["O", "B-a", "I-a", "B-b", "I-b"]


def _all_paths(emissions, transitions, start):
    n_tok, n_lab = emissions.shape
    for path in itertools.product(range(n_lab), repeat=n_tok):
        score = start[path[0]] + sum(emissions[t, y] for t, y in enumerate(path))
        score += sum(transitions[a, b] for a, b in itertools.pairwise(path))
        yield path, score


def _random(seed, n_tok):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n_tok, len(LABELS))), rng.normal(size=(len(LABELS), len(LABELS)))


@pytest.mark.parametrize("seed", range(8))
def test_viterbi_and_marginals_equal_brute_force(seed):
    emissions, transitions = _random(seed, 4)
    start = np.zeros(len(LABELS))
    paths = list(_all_paths(emissions, transitions, start))
    best = max(paths, key=lambda p: p[1])[0]
    assert tuple(viterbi(emissions, transitions, start)) == best
    log_z = np.logaddexp.reduce([s for _, s in paths])
    expected = np.zeros_like(emissions)
    for path, score in paths:
        for t, y in enumerate(path):
            expected[t, y] += np.exp(score - log_z)
    alpha, beta, log_scale = forward_backward(emissions, np.exp(transitions), start)
    np.testing.assert_allclose(alpha * beta, expected, atol=1e-12)
    assert log_scale[-1] == pytest.approx(log_z)
    forward = np.array([np.logaddexp.reduce([s for p, s in _all_paths(emissions[:t + 1], transitions,
                                                                       start) if p[t] == y])
                        for t in range(len(emissions)) for y in range(len(LABELS))])
    np.testing.assert_allclose(np.log(alpha).ravel() + np.repeat(log_scale, len(LABELS)), forward)


def _plain_viterbi(emissions, transitions, start):
    """The textbook recursion, every source tried for every target: the pruned kernel's oracle."""
    score = emissions[0] + start
    back = []
    for t in range(1, len(emissions)):
        cand = score[:, None] + transitions
        arg = np.zeros(len(score), dtype=np.int64)
        best = np.full(len(score), -np.inf)
        for i in range(len(score)):  # in order, strictly better wins: ties go to the first
            better = best < cand[i]
            best[better], arg[better] = cand[i][better], i
        back.append(arg)
        score = best + emissions[t]
    path = [int(np.argmax(score))]
    for arg in reversed(back):
        path.append(int(arg[path[-1]]))
    return path[::-1]


@pytest.mark.parametrize("kind", ["normal", "ties", "constrained", "huge"])
def test_pruned_viterbi_equals_the_plain_recursion(kind):
    """Pruning never changes a path: random scores, integer scores full of ties, BIO-forbidden
    moves (-inf), and scores in the thousands."""
    from crftag.bio import allowed_transitions

    rng = np.random.default_rng(len(kind))
    labels = ["O"] + [f"{p}-{t}" for t in "abcdefghij" for p in "BI"]
    n_lab = len(labels)
    for _ in range(300):
        n_tok = int(rng.integers(1, 30))
        emissions = rng.normal(scale=3.0, size=(n_tok, n_lab))
        transitions = rng.normal(size=(n_lab, n_lab))
        start = np.zeros(n_lab)
        if kind == "ties":
            emissions, transitions = np.round(emissions), np.round(transitions)
        elif kind == "constrained":
            allowed = allowed_transitions(labels)
            transitions = np.where(allowed, transitions, -np.inf)
            start = np.array([0.0 if not lab.startswith("I-") else -np.inf for lab in labels])
        elif kind == "huge":
            emissions *= 1000
        expected = _plain_viterbi(emissions, transitions, start)
        assert viterbi(emissions, transitions, start).tolist() == expected


def test_viterbi_ties_go_to_the_first_label():
    emissions = np.zeros((3, 3))
    assert viterbi(emissions, np.zeros((3, 3)), np.zeros(3)).tolist() == [0, 0, 0]


def test_constraints_forbid_paths():
    emissions, transitions = _random(3, 4)
    start = np.array([0, 0, -np.inf, 0, -np.inf])
    emissions[:, 2] += 10  # I-a is attractive, but may not start a sentence
    path = viterbi(emissions, transitions, start)
    assert path[0] != 2


def _span_scores(model, emissions, path, spans):
    """Each span's probability, one span_probability call at a time (the unfused way)."""
    c = model.chain
    alpha, beta, log_scale = forward_backward(emissions, c.exp_transitions, c.start)
    return [span_probability(alpha, beta, log_scale, emissions, c.transitions, c.exp_transitions, path,
                             i, j, c.prefix, c.kind) for i, j in spans]


@pytest.mark.parametrize("seed", range(12))
def test_span_probability_equals_brute_force(seed):
    """P(the decoded span is exactly this entity) = mass of all paths where it is."""
    emissions, transitions = _random(100 + seed, 5)
    start = np.zeros(len(LABELS))
    model = LinearChainModel(LABELS, np.zeros(0, np.uint64), np.zeros(1, np.int64), np.zeros(0),
                             np.zeros(0), transitions)
    paths = list(_all_paths(emissions, transitions, start))
    log_z = np.logaddexp.reduce([s for _, s in paths])
    decoded = viterbi(emissions, transitions, start)
    tags = [LABELS[i] for i in decoded]
    spans = [(i, j) for _, i, j in chunks(tags)]
    got = _span_scores(model, emissions, decoded, spans)
    for (kind, i, j), score in zip(chunks(tags), got, strict=True):
        mass = sum(np.exp(s - log_z) for p, s in _all_paths(emissions, transitions, start)
                   if (kind, i, j) in chunks([LABELS[y] for y in p])
                   and list(p[i:j]) == decoded[i:j].tolist())
        assert score == pytest.approx(mass, abs=1e-12)
    alpha, beta, log_scale = forward_backward(emissions, np.exp(transitions), start)
    prefix = np.array([{"B": 1, "I": 2}.get(split_tag(t)[0], 0) for t in LABELS])
    kind = np.array([{"": 0, "a": 1, "b": 2}[split_tag(t)[1]] for t in LABELS])
    for i, j in spans:
        assert 0 <= span_probability(alpha, beta, log_scale, emissions, transitions,
                                     np.exp(transitions), decoded, i, j, prefix, kind) <= 1


@pytest.mark.parametrize("seed", range(30))
def test_fused_kernel_chunks_like_conlleval(seed):
    """tag_and_score's chunks and probabilities equal bio.chunks + span_scores on the same path."""
    rng = np.random.default_rng(seed)
    n_tok = int(rng.integers(1, 12))
    weights = rng.normal(scale=2.0, size=(n_tok, len(LABELS)))
    transitions = rng.normal(size=(len(LABELS), len(LABELS)))
    model = LinearChainModel.from_dense(LABELS, np.arange(1, n_tok + 1, dtype=np.uint64), weights,
                                        transitions)
    keys = np.arange(1, n_tok + 1, dtype=np.uint64)
    token_ptr = np.arange(n_tok + 1, dtype=np.int64)
    path, starts, ends, scores = model.tag_and_score(keys, token_ptr)
    tags = [LABELS[i] for i in path]
    expected = chunks(tags)
    assert list(zip(starts.tolist(), ends.tolist(), strict=True)) == [(i, j) for _, i, j in expected]
    emissions = model.emissions(keys, token_ptr)
    np.testing.assert_allclose(scores, _span_scores(model, emissions, path, [(i, j) for _, i, j in expected]))


def test_forward_backward_is_stable_on_long_sentences_with_large_scores():
    """Scaling keeps 5,000 tokens with scores in the hundreds finite; forbidden starts stay 0."""
    rng = np.random.default_rng(7)
    emissions = rng.normal(scale=100.0, size=(5000, len(LABELS)))
    transitions = rng.normal(scale=20.0, size=(len(LABELS), len(LABELS)))
    start = np.array([0.0, 0.0, -np.inf, 0.0, -np.inf])
    alpha, beta, log_scale = forward_backward(emissions, np.exp(transitions), start)
    marginals = alpha * beta
    assert np.all(np.isfinite(marginals)) and np.isfinite(log_scale[-1])
    np.testing.assert_allclose(marginals.sum(axis=1), 1.0, rtol=1e-9)
    assert marginals[0, 2] == 0.0 and marginals[0, 4] == 0.0


