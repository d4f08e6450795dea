"""Models trained with clusters and gazetteers carry them: tagging needs no resource files."""

import shutil

import pytest

from crftag import Tagger, train
from crftag.types import Sentence

FEATURES = """
name = "with-resources"
[groups.bias]
[groups.lower]
window = [-1, 0, 1]
[groups.casing]
[groups.brown]
resource = "{res}/paths"
prefixes = [2, 4]
window = [-1, 0, 1]
[groups.gazetteer]
resources = ["{res}/lists"]
window = [0]
"""


def test_model_tags_identically_without_its_resource_files(tmp_path, tiny):
    res = tmp_path / "res"
    (res / "lists").mkdir(parents=True)
    (res / "paths").write_text("0110\tparis\t5\n0111\tlondon\t4\n0111\tchicago\t3\n10\tobama\t2\n"
                               "10\tmichelle\t2\n1110\tlol\t9\n")
    (res / "lists" / "cities").write_text("Paris\nLondon\nChicago\nNew York\nTokyo\n")
    (res / "lists" / "people").write_text("Barack Obama\nTaylor Swift\n")
    fs_path = tmp_path / "with-resources.toml"
    fs_path.write_text(FEATURES.format(res=res))
    tagger = train(tiny, features=fs_path, max_iterations=40)
    texts = ["Michelle landed in Tokyo lol", "Barack Obama and Taylor Swift in New York"]
    before = [tagger.tag(t) for t in texts] + [tagger.tag_tokens(s.tokens) for s in tiny]
    tagger.save(tmp_path / "m.crftag")

    shutil.rmtree(res)
    fs_path.unlink()
    loaded = Tagger.load(tmp_path / "m.crftag")
    assert [loaded.tag(t) for t in texts] + [loaded.tag_tokens(s.tokens) for s in tiny] == before
    sources = loaded.meta["lexicon"]["sources"]
    assert set(sources) == {f"{res}/paths", f"{res}/lists"}
    assert all(len(d) == 64 for files in sources.values() for d in files.values())
    assert loaded.lexicon.gazetteer.names == ["lists/cities", "lists/people"]
    assert loaded.lexicon.clusters["brown"]["paris"] == "0110"


@pytest.mark.parametrize("encoding", ["bi", "bilou"])
def test_fast_path_equals_feature_keys_with_gazetteer_and_bigrams(tmp_path, tiny, encoding):
    """The cached-score path handles gazetteer marks and conjunctions like the key path."""
    (tmp_path / "lists").mkdir()
    (tmp_path / "paths").write_text("0110\tparis\t5\n0111\tlondon\t4\n10\tobama\t2\n")
    (tmp_path / "lists" / "cities").write_text("Paris\nLondon\nNew York\nNew York City\n")
    (tmp_path / "lists" / "people").write_text("Barack Obama\nTaylor Swift\n")
    fs_path = tmp_path / "fs.toml"
    fs_path.write_text(FEATURES.format(res=tmp_path).replace("window = [0]\n", "window = [-1, 0, 1]\n")
                       .replace('resources = [', f'encoding = "{encoding}"\nresources = [')
                       + '[[conjunctions]]\ngroup = "lower"\noffsets = [-1, 0]\n')
    tagger = train(tiny, features=fs_path, max_iterations=40)
    sents = [s.tokens for s in tiny] + [["Barack", "Obama", "in", "New", "York", "City", "and", "Paris"],
                                        ["New", "York"], ["Taylor", "Swift", "London"]]
    feats = tagger.featurizer.featurize_batch(sents)
    via_keys = [tagger.model.tag_and_score(feats.keys, feats.tokens(i)) for i in range(len(sents))]
    assert tagger.tag_tokens_batch(sents) == [[tagger.labels[y] for y in p] for p, *_ in via_keys]
    for i, sent in enumerate(sents):
        fast = tagger._tag_batch([Sentence(sent)], None)[0]
        assert [e.score for e in fast.entities] == pytest.approx(via_keys[i][3].tolist(), abs=1e-12)
