"""The compiled featuriser: same features as the plain reference, clusters, gazetteers."""

import pytest

from crftag.features.featureset import FeatureSet, load_feature_set
from crftag.features.featurize import Featurizer, ReferenceFeaturizer
from crftag.features.kinds.clusters import cluster_keys
from crftag.features.lexicon import Gazetteer, Lexicon, gazetteer_token, read_clusters

TWEETS = [
    ["@bob", "loves", "New", "York", "City", "!!!"],
    ["RT", "@NYCMayor", ":", "the", "new", "york", "knicks", "#NBA", "http://t.co/x"],
    ["Barack", "Obama", "visited", "Paris", ",", "France", ":)"],
    ["new"],
    ["#GameOfThrones", "on", "HBO", "tonight", "New", "York"],
]


@pytest.fixture
def lexicon(tmp_path):
    brown = tmp_path / "paths"
    brown.write_text("0110\tnew\t5\n0111\tyork\t4\n10\tparis\t3\n110\t#nba\t9\n1110\tobama\t2\n")
    clark = tmp_path / "clark.txt"
    clark.write_text("new 3 0.5\n__isMention__ 7 0.9\nparis 12 0.4\n")
    gaz = Gazetteer.from_lists({
        "cities": ["New York", "New York City", "Paris", "York"],
        "teams": ["New York Knicks", "Knicks"],
        "people": ["Barack Obama", "Obama"],
        "tv": ["Game of Thrones", "HBO"],
    })
    return Lexicon(clusters={"brown": read_clusters(brown, "brown"),
                             "clark": read_clusters(clark, "clark")}, gazetteer=gaz)


@pytest.fixture
def full_set():
    return FeatureSet.from_dict({
        "name": "test",
        "groups": {
            "bias": {}, "lower": {"window": [-2, -1, 0, 1, 2]}, "word": {},
            "prefix": {"lengths": [1, 3]}, "suffix": {"lengths": [2, 4], "window": [0, 1]},
            "casing": {"window": [-1, 0, 1]}, "shape": {}, "chars": {}, "twitter": {"window": [-1, 0]},
            "brown": {"resource": "unused", "prefixes": [2, 4], "window": [-1, 0, 1]},
            "clark": {"resource": "unused"},
            "gazetteer": {"resources": ["unused"], "window": [-1, 0, 1]},
        },
        "conjunctions": [{"group": "lower", "offsets": [-1, 0]}, {"group": "brown", "offsets": [0, 1]}],
    })


@pytest.mark.parametrize("encoding", ["bi", "bilou"])
def test_engine_equals_reference(full_set, lexicon, encoding):
    """The compiled path and the plain reference give the same feature multiset per token."""
    data = full_set.to_dict()
    data["groups"]["gazetteer"]["encoding"] = encoding
    full_set = FeatureSet.from_dict(data)
    feats = Featurizer(full_set, lexicon).featurize_batch(TWEETS)
    ref = ReferenceFeaturizer(full_set, lexicon)
    t = 0
    for tokens in TWEETS:
        for per_token in ref.featurize(tokens):
            engine = sorted(feats.keys[feats.token_ptr[t]:feats.token_ptr[t + 1]].tolist())
            assert engine == sorted(per_token.values())
            t += 1
    assert t == len(feats.token_ptr) - 1


def test_gazetteer_longest_match_with_positions(full_set, lexicon):
    ref = ReferenceFeaturizer(full_set, lexicon).featurize(TWEETS[0])
    assert "gazetteer|cities:B@0" in ref[2]  # New York City: longest match wins
    assert "gazetteer|cities:I@0" in ref[3] and "gazetteer|cities:I@0" in ref[4]
    assert "gazetteer|cities:B@0" not in ref[3]  # 'York' alone is inside the longer match
    knicks = ReferenceFeaturizer(full_set, lexicon).featurize(TWEETS[1])
    assert "gazetteer|teams:B@0" in knicks[4] and "gazetteer|teams:I@0" in knicks[6]
    hashtag = ReferenceFeaturizer(full_set, lexicon).featurize(TWEETS[4])
    assert "gazetteer|tv:B@0" in hashtag[2]


def test_bilou_gazetteer_marks(full_set, lexicon):
    data = full_set.to_dict()
    data["groups"]["gazetteer"]["encoding"] = "bilou"
    ref = ReferenceFeaturizer(FeatureSet.from_dict(data), lexicon).featurize(TWEETS[0])
    assert "gazetteer|cities:B@0" in ref[2] and "gazetteer|cities:I@0" in ref[3]
    assert "gazetteer|cities:L@0" in ref[4] and "gazetteer|cities:I@0" not in ref[4]
    hbo = ReferenceFeaturizer(FeatureSet.from_dict(data), lexicon).featurize(TWEETS[4])
    assert "gazetteer|tv:U@0" in hbo[2]  # '#GameOfThrones' alone is no entry; HBO is one token
    assert "gazetteer|tv:U@0" not in hbo[0]


def test_clusters_and_hashtag_bodies(full_set, lexicon):
    ref = ReferenceFeaturizer(full_set, lexicon).featurize(TWEETS[1])
    assert "brown|p2=01@0" in ref[4] and "brown|p4=0110@0" in ref[4]
    assert "brown|p2=11@0" in ref[7]  # '#NBA' found as '#nba'
    assert "clark|7@0" in ref[1]  # mentions map to __isMention__
    assert "twitter|body=nba@0" in ref[7]
    assert cluster_keys("#Paris", "lower") == ["#paris", "paris"]
    assert cluster_keys("$5", "twitterner") == ["__isMoney__"]
    assert gazetteer_token("#F.C.") == "fc"


def test_batch_equals_one_by_one(full_set, lexicon):
    f = Featurizer(full_set, lexicon)
    batch = f.featurize_batch(TWEETS)
    for i, tokens in enumerate(TWEETS):
        single = f.featurize_batch([tokens])
        a, b = batch.token_ptr[batch.sent_ptr[i]], batch.token_ptr[batch.sent_ptr[i + 1]]
        assert single.keys.tolist() == batch.keys[a:b].tolist()












@pytest.mark.data
def test_engine_equals_reference_on_wnut16_with_real_resources(wnut16_train, twitter_resources):
    """All groups (both Brown sets, Clark, 60 gazetteer lists, bigrams) on 300 real tweets."""
    from crftag.features.lexicon import build_lexicon
    from crftag.io.readers import read_conll

    fs = load_feature_set("twitter-all")
    lex = build_lexicon(fs)
    sents = [s.tokens for s in read_conll(wnut16_train)][:300]
    feats = Featurizer(fs, lex).featurize_batch(sents)
    ref = ReferenceFeaturizer(fs, lex)
    for i, tokens in enumerate(sents):
        a, b = feats.token_ptr[feats.sent_ptr[i]], feats.token_ptr[feats.sent_ptr[i + 1]]
        expected = sorted(k for per_token in ref.featurize(tokens) for k in per_token.values())
        assert sorted(feats.keys[a:b].tolist()) == expected
