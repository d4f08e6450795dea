"""Feature sets: the shipped ones load, typos and bad values name the file and key, defaults are filled in."""

from __future__ import annotations

import pytest

from crftag.errors import DataError
from crftag.features.featureset import FeatureSet, available, load_feature_set

TYPOS = [
    ("[groups.prefix]\nlength = [1, 2]\n",
     "unknown key 'length' in groups.prefix (prefix) (did you mean 'lengths'?)"),
    ("[groups.lower]\nwindw = [-1, 0]\n",
     "unknown key 'windw' in groups.lower (lower) (did you mean 'window'?)"),
    ("conjunctoins = []\n[groups.lower]\n",
     "unknown key 'conjunctoins' in the feature set (did you mean 'conjunctions'?)"),
    ('[groups.lower]\n[[conjunctions]]\ngroup = "lower"\noffsets = [-1, 0]\nwindow = [1]\n',
     "unknown key 'window' in a conjunction"),
    ('[groups.brwn]\nresource = "x"\n',
     "unknown feature group kind 'brwn' in groups.brwn (did you mean 'brown'?)"),
    ('[groups.brown]\nresource = "x"\nnormalize = "upper"\n',
     "groups.brown.normalize must be one of lower, twitterner, not 'upper'"),
    ('[groups.gazetteer]\nresources = "lexicons:wnut16"\n',
     "groups.gazetteer.resources must be a list of strings"),
    ('boundaries = "yes"\n[groups.lower]\n', "boundaries must be a boolean"),
]


def test_shipped_sets():
    assert {"twitter", "twitter-all", "surface", "minimal"} <= set(available())
    fs = load_feature_set("twitter")
    assert fs.groups["lower"]["window"] == [-2, -1, 0, 1, 2]
    assert fs.groups["brown"]["resource"] == "brown:ark-twitter-6mpaths"
    assert "brown" in fs.describe()
    assert "conjunction" in load_feature_set("twitter-all").describe()
    plus = load_feature_set("twitter-minilm").groups
    assert {k: v for k, v in plus.items() if not k.startswith("minilm")} == fs.groups
    assert [plus[f"minilm{k}"]["resource"] for k in (64, 256, 1024)] == ["minilm:k64", "minilm:k256",
                                                                        "minilm:k1024"]
    stacked = load_feature_set("twitter-stacked")
    assert stacked.featurized().groups == fs.groups
    assert {n: p["corpora"] for n, p in stacked.stacks().items()} == {
        "stack_btc": ["corpus:btc/train", "corpus:btc/dev"],
        "stack_tw": ["corpus:twitter2015/train", "corpus:twitter2015/dev", "corpus:twitter2017/train",
                     "corpus:twitter2017/dev"],
        "stack_wnut": ["corpus:wnut16/train", "corpus:wnut16/dev"]}


@pytest.mark.parametrize(("toml", "message"), TYPOS)
def test_feature_set_typos_name_the_file_and_key(tmp_path, toml, message):
    path = tmp_path / "mine.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(DataError) as err:
        load_feature_set(path)
    assert str(err.value) == f"{path}: {message}" or str(err.value).startswith(f"{path}: {message};")


def test_defaults_are_filled_in():
    fs = FeatureSet.from_dict({"groups": {"prefix": {}, "brown": {"resource": "x"}}})
    assert fs.groups["prefix"] == {"kind": "prefix", "window": [0], "lengths": [3]}
    assert fs.groups["brown"]["prefixes"] == [4, 8, 12, 16] and fs.groups["brown"]["normalize"] == "lower"


def test_bad_feature_sets(tmp_path):
    with pytest.raises(DataError, match="unknown feature group kind 'nope'"):
        FeatureSet.from_dict({"groups": {"nope": {}}})
    with pytest.raises(DataError, match="window must be a list of integers"):
        FeatureSet.from_dict({"groups": {"lower": {"window": "x"}}})
    with pytest.raises(DataError, match="needs 'resource'"):
        FeatureSet.from_dict({"groups": {"brown": {}}})
    with pytest.raises(DataError, match="conjunction offsets must be two integers"):
        FeatureSet.from_dict({"groups": {"lower": {}}, "conjunctions": [{"group": "lower", "offsets": [1]}]})
    bad = tmp_path / "bad.toml"
    bad.write_text("groups = [")
    with pytest.raises(DataError, match="invalid TOML"):
        load_feature_set(bad)
    with pytest.raises(DataError, match="no such feature set"):
        load_feature_set("does-not-exist")
