"""CRF and SGD backends: exported weights, crfsuite agreement, valid BIO from SGD."""

import itertools

import numpy as np
import pycrfsuite
import pytest
import sklearn_crfsuite

from crftag import Tagger, train
from crftag.backends import get_backend, parse_params
from crftag.backends.crf import _to_linear_model
from crftag.bio import allowed_starts, allowed_transitions
from crftag.errors import CrftagError
from crftag.features.featureset import load_feature_set
from crftag.features.featurize import Featurizer
from crftag.types import Sentence


def _featurize(sentences):
    """crftag's features of each sentence as CRFsuite attribute lists (hex keys)."""
    feat = Featurizer(load_feature_set("surface"))
    return feat.featurize_batch([s if isinstance(s, list) else s.tokens for s in sentences]).strings()


def _crfsuite_reference(sentences, tmp_path, max_iterations=50):
    """Train with sklearn-crfsuite directly, as a user would, on crftag's features."""
    X = _featurize(sentences)
    y = [s.tags for s in sentences]
    path = str(tmp_path / "ref.crfsuite")
    crf = sklearn_crfsuite.CRF(c1=0.0, c2=0.01, max_iterations=max_iterations,
                               all_possible_transitions=True, model_filename=path)
    crf.fit(X, y)
    return crf, X, path


def test_exported_weights_equal_crfsuite_dump(tiny, tmp_path):
    crf, _, path = _crfsuite_reference(tiny, tmp_path)
    model = _to_linear_model(path)
    row = {int(k): i for i, k in enumerate(model.feature_keys)}
    lab = {lab: i for i, lab in enumerate(model.labels)}
    dense = np.zeros((len(model.feature_keys), len(model.labels)))
    for i in range(len(model.feature_keys)):
        y = slice(model.row_ptr[i], model.row_ptr[i + 1])
        dense[i, model.cols[y]] = model.vals[y]
    for (attr, label), w in crf.state_features_.items():  # the dump rounds to 6 decimals
        assert dense[row[int(attr, 16)], lab[label]] == pytest.approx(w, abs=1e-6)
    assert len(crf.state_features_) == len(model.vals)
    for (a, b), w in crf.transition_features_.items():
        assert model.transitions[lab[a], lab[b]] == pytest.approx(w, abs=1e-6)


def test_viterbi_matches_crfsuite_tagger(tiny, tmp_path):
    _, X, path = _crfsuite_reference(tiny, tmp_path)
    model = _to_linear_model(path)
    tagger = pycrfsuite.Tagger()
    tagger.open(path)
    sents = [s.tokens for s in tiny] + [["Obama", "in", "Chicago", "lol"]]
    F = Featurizer(load_feature_set("surface")).featurize_batch(sents)
    for i, x in enumerate([*X, *_featurize([sents[-1]])]):
        assert model.predict(F.keys, F.tokens(i)) == tagger.tag(x)
        _assert_marginals_match(model, tagger, F, i, x)


def _assert_marginals_match(model, tagger, F, i, x):
    """Our forward-backward marginals equal crfsuite's to 1e-6."""
    tagger.set(x)
    ours = model.marginals(model.decode(F.keys, F.tokens(i))[1])
    theirs = np.array([[tagger.marginal(lab, t) for lab in model.labels] for t in range(len(x))])
    np.testing.assert_allclose(ours, theirs, atol=1e-6, rtol=0)


def test_crf_backend_learns_the_fixture(tiny_crf, tiny):
    correct = sum(tiny_crf.tag_tokens(s.tokens) == s.tags for s in tiny)
    assert correct == len(tiny)


@pytest.mark.parametrize("algorithm", ["l2sgd", "ap", "pa", "arow"])
def test_other_crfsuite_algorithms(tiny, algorithm):
    tagger = train(tiny, backend="crf", features="surface", algorithm=algorithm, max_iterations=10)
    assert tagger.meta["backend_params"]["algorithm"] == algorithm
    assert len(tagger.tag_tokens(["Paris", "is", "nice"])) == 3


def test_sgd_output_is_valid_bio_and_alpha_is_chosen_on_dev(tiny):
    tagger = train(tiny[:8], dev=tiny[8:], backend="sgd", features="surface", class_weight=None)
    fit = tagger.meta["fit_info"]
    assert set(fit["alpha_search_dev_f1"]) == {"1e-06", "1e-05", "0.0001", "0.001"}
    assert fit["alpha"] in (1e-6, 1e-5, 1e-4, 1e-3)
    labels = tagger.labels
    allowed, starts = allowed_transitions(labels), allowed_starts(labels)
    rng = np.random.default_rng(0)
    vocab = sorted({t for s in tiny for t in s.tokens})
    for _ in range(50):
        toks = list(rng.choice(vocab, size=rng.integers(1, 10)))
        ids = [labels.index(t) for t in tagger.tag_tokens(toks)]
        assert starts[ids[0]]
        assert all(allowed[a, b] for a, b in itertools.pairwise(ids))


def test_sgd_is_deterministic(tiny):
    a = train(tiny, backend="sgd", features="surface", alpha=1e-4, seed=3)
    b = train(tiny, backend="sgd", features="surface", alpha=1e-4, seed=3)
    np.testing.assert_array_equal(a.model.vals, b.model.vals)
    np.testing.assert_array_equal(a.model.feature_keys, b.model.feature_keys)


def test_params_are_typed_and_checked():
    crf = get_backend("crf")
    assert parse_params(crf, {"c1": "0.5", "max_iterations": "7", "algorithm": "ap"}) == {
        "c1": 0.5, "max_iterations": 7, "algorithm": "ap"}
    assert parse_params(get_backend("sgd"), {"alpha": "1e-4", "class_weight": "none"}) == {
        "alpha": 1e-4, "class_weight": None}
    with pytest.raises(CrftagError, match="has no parameter 'bogus'"):
        parse_params(crf, {"bogus": "1"})
    with pytest.raises(CrftagError, match="cannot read 'x' as int"):
        parse_params(crf, {"max_iterations": "x"})
    with pytest.raises(CrftagError, match="unknown backend"):
        get_backend("nope")


@pytest.mark.data
def test_wnut16_viterbi_matches_crfsuite(wnut16_train, wnut16_dev, tmp_path):
    """On all of WNUT16 dev, crftag's compiled Viterbi gives exactly crfsuite's labels (through the
    feature keys and through the Tagger's cached-score path), and its marginals equal crfsuite's
    to 1e-6."""
    from crftag.io.readers import read_conll

    _, _, path = _crfsuite_reference(list(read_conll(wnut16_train)), tmp_path, max_iterations=40)
    model = _to_linear_model(path)
    tagger = pycrfsuite.Tagger()
    tagger.open(path)
    dev = [s.tokens for s in read_conll(wnut16_dev)]
    F = Featurizer(load_feature_set("surface")).featurize_batch(dev)
    X = F.strings()
    mismatches = sum(model.predict(F.keys, F.tokens(i)) != tagger.tag(X[i]) for i in range(len(dev)))
    assert mismatches == 0
    for i in range(0, len(dev), 10):  # every tenth tweet: 100 tweets, 1,600 tokens x 21 labels
        _assert_marginals_match(model, tagger, F, i, X[i])
    fast = Tagger(model, load_feature_set("surface"), "crf")  # the per-type cached-score path
    assert fast.tag_tokens_batch(dev) == [tagger.tag(x) for x in X]


@pytest.mark.data
@pytest.mark.parametrize(("features", "bar"), [("surface", 28.0), ("twitter", 43.0)])
def test_wnut16_crf_and_sgd_dev_scores(wnut16_train, wnut16_dev, twitter_resources, features, bar):
    """Dev F1 trained on train only: surface features >= 28 (issue 2), the default
    clusters-and-gazetteers set >= 43 (issue 3); the SGD baseline scores below the CRF."""
    crf = train(wnut16_train, dev=wnut16_dev, features=features)
    crf_f1 = crf.meta["dev_scores"]["overall"]["f1"]
    sgd = train(wnut16_train, dev=wnut16_dev, backend="sgd", features=features, alpha=1e-5)
    sgd_f1 = sgd.meta["dev_scores"]["overall"]["f1"]
    print(f"dev F1 ({features}): crf {crf_f1:.2f}, sgd {sgd_f1:.2f}")
    assert crf_f1 >= bar
    assert sgd_f1 < crf_f1


@pytest.mark.parametrize("binary", [False, True])
def test_sgd_token_probabilities_equal_predict_proba(tiny, monkeypatch, binary):
    import scipy.sparse as sp
    import sklearn.linear_model

    from crftag import train
    from crftag.evaluation.analysis import token_probabilities

    made = []

    class Recording(sklearn.linear_model.SGDClassifier):
        def fit(self, *args, **kwargs):
            made.append(self)
            return super().fit(*args, **kwargs)

    monkeypatch.setattr(sklearn.linear_model, "SGDClassifier", Recording)
    data = [Sentence(s.tokens, ["B-person" if t.startswith("B") else "O" for t in s.tags]) for s in tiny] \
        if binary else tiny
    tagger = train(data, backend="sgd", features="surface", empty_fraction=1, alpha=1e-3,  # all rows
                   calibration="none")  # one classifier fitted: the model's
    X = tagger.featurizer.featurize_batch([s.tokens for s in data])
    keys, columns = np.unique(X.keys, return_inverse=True)
    matrix = sp.csr_matrix((np.ones(len(columns)), columns.ravel(), X.token_ptr),
                           shape=(len(X.token_ptr) - 1, len(keys)))
    expected = made[-1].predict_proba(matrix)  # columns in clf.classes_ order = sorted label ids
    got = np.vstack(token_probabilities(tagger, [s.tokens for s in data]))
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)
