import pytest

from crftag.errors import DataError
from crftag.featureset import FeatureSet, available, load_feature_set
from crftag.featurize import make_featurizer


def test_shipped_sets():
    assert {"twitter", "minimal"} <= set(available())
    fs = load_feature_set("twitter")
    assert fs.groups["lower"]["window"] == [-2, -1, 0, 1, 2]


def test_features_of_a_tweet():
    feats = make_featurizer(load_feature_set("twitter")).featurize(["@bob", "loves", "Paris"])
    assert "0|<USR>" in feats[0] and "-1|BOS" in feats[0] and "-2|BOS" in feats[0]
    assert "0|lower=paris" in feats[2] and "0|title" in feats[2] and "-1|lower=loves" in feats[2]
    assert "0|pre2=pa" in feats[2] and "0|suf3=ris" in feats[2] and "0|shape=Xxxxx" in feats[2]
    assert "1|EOS" in feats[2]
    assert all(len(set(f)) == len(f) for f in feats)  # no duplicate attributes


def test_bad_feature_sets(tmp_path):
    with pytest.raises(DataError, match="unknown feature group 'nope'"):
        FeatureSet.from_dict({"groups": {"nope": {}}})
    with pytest.raises(DataError, match="window must be a list of integers"):
        FeatureSet.from_dict({"groups": {"lower": {"window": "x"}}})
    bad = tmp_path / "bad.toml"
    bad.write_text("groups = [")
    with pytest.raises(DataError, match="invalid TOML"):
        load_feature_set(bad)
    with pytest.raises(DataError, match="no such feature set"):
        load_feature_set("does-not-exist")
