"""LinearChainModel: built from dense weights, averaged (bags), its token probabilities."""

from __future__ import annotations

import numpy as np

from crftag.linear.model import LinearChainModel

LABELS = ["O", "B-a", "I-a", "B-b", "I-b"]


def test_averaged_model_is_the_mean_of_the_weights():
    from crftag.linear.model import average

    rng = np.random.default_rng(3)
    keys = np.arange(1, 9, dtype=np.uint64)
    w1, w2 = rng.normal(size=(8, len(LABELS))), rng.normal(size=(5, len(LABELS)))
    t1, t2 = rng.normal(size=(len(LABELS),) * 2), rng.normal(size=(len(LABELS),) * 2)
    a = LinearChainModel.from_dense(LABELS, keys, w1, t1)
    order = [2, 0, 4, 1, 3]  # the second model lists its labels in another order
    b = LinearChainModel.from_dense([LABELS[i] for i in order], keys[3:], w2[:, order],
                                    t2[np.ix_(order, order)])
    avg = average([a, b])
    expected = w1.copy()
    expected[3:] += w2
    np.testing.assert_allclose(avg.emissions(keys, np.arange(9)), expected / 2)
    np.testing.assert_allclose(avg.transitions, (t1 + t2) / 2)
    assert average([a, a]).emissions(keys, np.arange(9)).tolist() == a.emissions(keys, np.arange(9)).tolist()


def test_token_probabilities_are_the_marginals_and_sum_to_one():
    from crftag.features.featurize import Featurized

    rng = np.random.default_rng(5)
    keys = np.arange(1, 6, dtype=np.uint64)
    model = LinearChainModel.from_dense(LABELS, keys, rng.normal(size=(5, len(LABELS))),
                                        rng.normal(size=(len(LABELS),) * 2))
    # two sentences (3 tokens, then none): token t has key t + 1
    X = Featurized(keys=np.array([1, 2, 3], dtype=np.uint64), token_ptr=np.array([0, 1, 2, 3]),
                   sent_ptr=np.array([0, 3, 3]), sentences=[["a", "b", "c"], []])
    probs = model.token_probabilities(X)
    np.testing.assert_allclose(probs[0], model.marginals(model.emissions(X.keys, X.tokens(0))))
    np.testing.assert_allclose(probs[0].sum(axis=1), 1.0, rtol=1e-12)
    assert probs[1].shape == (0, len(LABELS))
    assert model.token_scores == "CRF marginals"


def test_bags_of_sgd_models_stay_token_classifiers(tiny):
    from crftag import train
    from crftag.backends.sgd import TokenClassifierModel

    tagger = train(tiny, backend="sgd", features="surface", alpha=1e-4, bags=2)
    assert type(tagger.model) is TokenClassifierModel
    assert tagger.model.token_scores == "classifier probabilities"
