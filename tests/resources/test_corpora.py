"""Named corpora and corpus splits as data references."""

from pathlib import Path

import pytest

from crftag.errors import CrftagError
from crftag.resources.corpora import CORPORA, load_labelled, read_split, split_provenance


def test_unknown_names_and_bad_references():
    known = "wnut16, wnut17, btc, twitter2015, twitter2017, gmb"
    with pytest.raises(CrftagError, match=f"unknown corpus 'nope'; known: {known}"):
        read_split("corpus:nope/train")
    with pytest.raises(CrftagError, match="corpus:btc/test: a corpus split is written"):
        read_split("corpus:btc/test")
    with pytest.raises(CrftagError, match="corpus:btc: a corpus split is written"):
        load_labelled("corpus:btc")


@pytest.mark.data
def test_splits_are_the_documented_ones(wnut16_train):
    """BTC dev is the second half of section H in file order, train everything else; GMB's
    sides do not overlap; WNUT16 reads its files."""
    btc_h = load_labelled("btc:h")
    train, dev = read_split("corpus:btc/train"), read_split("corpus:btc/dev")
    assert [s.tokens for s in dev] == [s.tokens for s in btc_h[len(btc_h) // 2:]]
    assert [s.tokens for s in train[-(len(btc_h) // 2):]] == [s.tokens for s in btc_h[:len(btc_h) // 2]]
    sections = sum(len(load_labelled(f"btc:{x}")) for x in "abeg")
    assert len(train) == sections + len(btc_h) // 2
    gmb_train, gmb_dev = CORPORA["gmb"].read("train"), CORPORA["gmb"].read("dev")
    assert not {id(s) for s in gmb_train} & {id(s) for s in gmb_dev}
    assert len(gmb_dev) == pytest.approx(0.2 * (len(gmb_train) + len(gmb_dev)), abs=2)
    assert len(read_split("corpus:wnut16/train")) == len(load_labelled(wnut16_train)) == 2394
    for name, sizes in {"twitter2015": (4000, 1000), "twitter2017": (3373, 723)}.items():
        train_split, dev_split = read_split(f"corpus:{name}/train"), read_split(f"corpus:{name}/dev")
        assert (len(train_split), len(dev_split)) == sizes
        assert {t for s in train_split for t in s.tags} >= {"B-PER", "I-PER", "B-LOC", "B-ORG"}
    parts = split_provenance("corpus:btc/train")
    assert [(p["resource"], p["cut"]) for p in parts][-1] == ("btc:h", "first-half")
    assert all(len(p["sha256"]) == 64 for p in parts)


@pytest.mark.data
def test_registry_names_read_in_the_registrys_format():
    """Twitter-2015's files end in .txt, which alone would mean plain text: a registry name is read
    in the format the registry records (CoNLL), whether or not its provenance is kept."""
    from crftag.resources.corpora import load_with_provenance

    sents, record = load_with_provenance("twitter2015:valid")
    assert len(sents) == len(load_labelled("twitter2015:valid")) == 1000 and sents[0].tags
    assert record["source"] == "twitter2015:valid" and record["sentences"] == 1000
    assert record["sha256"] == "9dcc7f9df7331de3c9cdf67a3450e041c41c6254b5e43925c576e2dfaaabe2ad"


@pytest.mark.data
def test_training_on_a_corpus_split_records_its_parts(tmp_path, wnut16_train):
    from crftag import train

    tagger = train("corpus:wnut16/train", features="minimal", max_iterations=5)
    record = tagger.meta["training"]["train"][0]
    assert record["source"] == "corpus:wnut16/train" and record["sentences"] == 2394
    assert record["parts"][0]["resource"] == "wnut16:train"


def test_corpus_summary_table(tmp_path):
    from crftag.tools.bench import corpus_summary

    results = {"wnut16": {"rows": [{"backend": "crf", "dev": {"f1": 44.91}},
                                   {"backend": "sgd", "dev": {"f1": 39.07}}]},
               "btc": {"rows": [{"backend": "crf", "dev": {"f1": 72.48}}]}}
    text = corpus_summary(results, tmp_path)
    assert text.splitlines()[2:] == ["| crf | 44.91 | 72.48 |", "| sgd | 39.07 | not run |"]
    assert (tmp_path / "summary.md").read_text() == text


@pytest.mark.data
def test_fetch_and_resources_know_corpus_splits(tmp_path, monkeypatch):
    """`crftag fetch corpus:btc/dev` fetches what the split is read from (it said "unknown
    resource"), and `crftag resources` lists the corpora (it did not)."""
    import json

    from click.testing import CliRunner

    from crftag.cli.app import cli

    monkeypatch.setenv("CRFTAG_HOME", str(tmp_path / "home"))  # an empty cache; the mirror stays
    runner = CliRunner()
    r = runner.invoke(cli, ["fetch", "corpus:btc/dev", "corpus:wnut16/train"])
    assert r.exit_code == 0, r.output
    lines = [line.split("\t") for line in r.stdout.splitlines()]
    assert [name for name, _ in lines] == ["corpus:btc/dev", "corpus:wnut16/train"]
    assert all(Path(path).is_file() and str(tmp_path) in path for _, path in lines)
    listing = json.loads(runner.invoke(cli, ["resources", "--json"]).stdout)
    corpora = {c["name"]: c for c in listing["corpora"]}
    assert set(corpora) == set(CORPORA)
    assert corpora["btc"]["dev"] == [{"resource": "btc:h", "cut": "second-half"}]
    assert corpora["wnut16"]["cached"] is False  # its dev is not fetched yet
    text = runner.invoke(cli, ["resources"]).stdout
    assert "corpora (corpus:NAME/train, corpus:NAME/dev" in text and "\ntwitter2017 " in text
    r = runner.invoke(cli, ["fetch", "corpus:nope/train"])
    assert isinstance(r.exception, CrftagError) and "unknown corpus 'nope'" in str(r.exception)
