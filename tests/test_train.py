"""train(): what it accepts, refuses and records, on hand-made data."""

from __future__ import annotations

import pytest
from conftest import run_cli

from crftag import train
from crftag.cli.app import main
from crftag.errors import CrftagError
from crftag.sampling import oversample_rare
from crftag.types import Sentence


def test_oversample_repeats_sentences_with_rare_types():
    s = [Sentence(["a"], ["B-person"]), Sentence(["b"], ["B-person"]), Sentence(["c"], ["B-person"]),
         Sentence(["d"], ["B-geo-loc"]), Sentence(["e"], ["B-geo-loc"]), Sentence(["f"], ["B-movie"]),
         Sentence(["g"], ["O"])]
    # mentions: person 3, geo-loc 2, movie 1 -> median 2 -> only movie is rare
    out = oversample_rare(s, 3)
    assert [x.tokens[0] for x in out] == ["a", "b", "c", "d", "e", "f", "g", "f", "f"]
    assert oversample_rare(s, 1) == s
    with pytest.raises(CrftagError, match="at least 1"):
        oversample_rare(s, 0)


def test_device_option_is_refused_by_backends_without_one(tiny_path, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", str(tiny_path), "--features", "surface", "--device", "cuda",
              "-o", str(tmp_path / "m.crftag")])
    assert exc.value.code == 2 and not (tmp_path / "m.crftag").exists()
    assert capsys.readouterr().err.strip() == \
        "crftag: backend 'crf' has no device to choose (it runs on the CPU)"


def test_invalid_utf8_training_file_and_explicit_encoding(tmp_path):
    p = tmp_path / "latin.conll"
    p.write_bytes("Caf\u00e9\tB-facility\nParis\tB-geo-loc\n\nok\tO\n".encode("latin-1"))
    code, _, err = run_cli(["train", str(p), "--features", "surface", "-o", str(tmp_path / "m.crftag")])
    assert code == 2 and not (tmp_path / "m.crftag").exists()
    assert err == f"crftag: {p}:1: invalid UTF-8 at byte offset 3 (for another encoding, pass --encoding)\n"
    code, _, err = run_cli(["train", str(p), "--features", "surface", "--encoding", "latin-1", "-q",
                          "-o", str(tmp_path / "m.crftag")])
    assert code == 0 and (tmp_path / "m.crftag").exists()
    code, _, err = run_cli(["train", str(p), "--encoding", "klingon", "-o", str(tmp_path / "x.crftag")])
    assert code == 2 and err == f"crftag: {p}: unknown encoding 'klingon'\n"


def test_empty_training_file(tmp_path):
    p = tmp_path / "empty.conll"
    p.write_text("")
    code, _, err = run_cli(["train", str(p), "-o", str(tmp_path / "m.crftag")])
    assert code == 2 and err == f"crftag: {p}: no sentences found\n"


def test_dev_labels_unseen_in_training_are_scored_not_fatal(tiny):
    dev = [Sentence(["Star", "Wars", "rocks"], ["B-movie", "I-movie", "O"]),
           Sentence(["Mars", "bars"], ["B-snack", "O"])]  # "snack" never occurs in training
    tagger = train(tiny, dev=dev, backend="crf", features="surface")
    per_type = tagger.meta["dev_scores"]["per_type"]
    assert per_type["snack"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "gold": 1, "guessed": 0,
                                 "correct": 0}


def test_one_giant_sentence_trains_and_tags(tmp_path, tiny):
    tokens = [t for s in tiny for t in s.tokens] * 700
    tags = [t for s in tiny for t in s.tags] * 700
    tagger = train([Sentence(tokens, tags)], features="surface", max_iterations=5)
    assert len(tagger.tag_tokens(tokens)) == len(tokens) > 50_000


def test_a_sentence_over_max_tokens_is_refused_before_training(tmp_path, tiny):
    """Issue 25 item 9: a 50 MB single-sentence file ran out of memory (MemoryError traceback at
    2.6 GB). Training memory grows with sentence length, so the length is bounded: a file's
    over-long sentence is one line naming it, raised while it is read."""
    src = tmp_path / "giant.conll"
    src.write_text("x\tO\n" * 3 + "\n" + "Obama\tB-person\n" * 2_001)
    code, _, err = run_cli(["train", str(src), "--max-tokens", "2000", "-o", str(tmp_path / "m.crftag")])
    assert (code, err) == (2, f"crftag: {src}:5: sentence of 2,001 tokens, more than 2,000 (raise the "
                              "limit with --max-tokens)\n")
    assert not (tmp_path / "m.crftag").exists()
    with pytest.raises(CrftagError, match="sentence 2 has 3 tokens, more than 2 "):
        train([Sentence(["a"], ["B-x"]), Sentence(["a", "b", "c"], ["B-x", "O", "O"])], max_tokens=2)
    big = [Sentence(["Obama"] * 100_001, ["B-person"] * 100_001)]
    with pytest.raises(CrftagError, match="has 100,001 tokens, more than 100,000"):
        train(big, features="surface")  # the default limit, through the API too


@pytest.mark.parametrize("backend", ["crf", "sgd"])
def test_training_data_without_entities_is_an_error(backend):
    with pytest.raises(CrftagError, match="no entities in the training data: nothing to learn"):
        train([Sentence(["a", "b"], ["O", "O"])], backend=backend, features="surface")


def test_crftag_train_is_the_function_whatever_was_imported_before():
    """The module is crftag.training: importing it cannot replace crftag.train (the function)."""
    import subprocess
    import sys

    code = ("import crftag.training, crftag.tools.search, crftag.cli.app\n"
            "from crftag import train\nimport crftag\n"
            "assert callable(train) and callable(crftag.train) and train is crftag.training.train")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_labels_a_model_cannot_hold_are_refused_before_training(tmp_path):
    """128 types (257 labels) or a 150-character type trained and saved a model that every load
    then refused; 10,000 types trained for minutes. Now: one line, before any training."""
    many = [Sentence([f"w{k}"], [f"B-t{k}"]) for k in range(128)]
    with pytest.raises(CrftagError, match=r"the training data has 128 entity types; a model holds at most "
                                          r"255 labels: O and B-/I- of 127 types"):
        train(many, features="surface")
    long_type = "x" * 150
    with pytest.raises(CrftagError, match=r"has 152 characters; a model's labels have at most 100"):
        train([Sentence(["a", "b"], [f"B-{long_type}", "O"])], features="surface")
    src = tmp_path / "many.conll"
    src.write_text("".join(f"w{k}\tB-t{k}\n\n" for k in range(10_000)))
    code, _, err = run_cli(["train", str(src), "-o", str(tmp_path / "m.crftag")])
    assert code == 2 and err.startswith("crftag: the training data has 10000 entity types;")
    assert not (tmp_path / "m.crftag").exists()
    ok = [Sentence([f"w{k}", "x", "."], [f"B-t{k}", f"I-t{k}", "O"]) for k in range(127)]  # 255 labels
    assert len(train(ok, features="surface", calibration="none", max_iterations=2).labels) == 255
