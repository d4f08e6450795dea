"""crftag on Spark (local[2]): the same entities as a single process (skipped without Java)."""

from __future__ import annotations

import json
import shutil

import pytest

pytest.importorskip("pyspark", reason="crftag[spark] is not installed")
if shutil.which("java") is None:
    pytest.skip("Spark needs Java, and no java is on PATH", allow_module_level=True)

from crftag.cli.app import main
from crftag.integrations.spark import session, tag_dataframe
from crftag.io.readers import read_conll

AWKWARD = ["", None, "Obama visits Paris with @UN", "\U0001f600 New York \u200d", "\x00x", "e\u0301 LA"]


@pytest.fixture(scope="module")
def spark():
    s = session("local[2]", "crftag-tests")
    yield s
    s.stop()


@pytest.fixture(scope="module")
def model_path(tiny_crf, tmp_path_factory):
    path = tmp_path_factory.mktemp("spark") / "m.crftag"
    tiny_crf.save(path)
    return path


@pytest.fixture(scope="module")
def texts(wnut16_dev):
    return [" ".join(s.tokens) for s in read_conll(wnut16_dev)][:300] + AWKWARD


def test_spark_output_equals_single_process(spark, model_path, tiny_crf, texts):
    df = spark.createDataFrame(list(enumerate(texts)), "id long, text string").repartition(4)
    rows = tag_dataframe(df, model_path).orderBy("id").collect()
    assert [r.id for r in rows] == list(range(len(texts)))
    for r in rows:
        expected = [e.to_dict() for e in tiny_crf.tag(r.text or "")]
        assert [e.asDict() for e in r.entities] == expected, r.text


def test_token_arrays(spark, model_path, tiny_crf, tiny):
    df = spark.createDataFrame([(i, s.tokens) for i, s in enumerate(tiny)], "id long, tokens array<string>")
    rows = tag_dataframe(df, model_path, tokens_col="tokens", output_col="ents").orderBy("id").collect()
    expected = [[e.to_dict() for e in t.entities] for t in tiny_crf.tag_sentences(tiny)]
    assert [[e.asDict() for e in r.ents] for r in rows] == expected


def test_spark_tag_command(spark, model_path, tiny_crf, texts, tmp_path, capsys):
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in enumerate(texts) if t))
    out = tmp_path / "out.parquet"
    main(["spark-tag", str(src), str(out), "-m", str(model_path), "--master", "local[2]"])
    assert capsys.readouterr().out.strip() == f"wrote {out}"
    import pandas as pd

    table = pd.read_parquet(out).sort_values("id")
    for text, ents in zip(table["text"], table["entities"], strict=True):
        assert [dict(e) for e in ents] == [e.to_dict() for e in tiny_crf.tag(text)]
    thresholded = tmp_path / "thresholded.jsonl"
    main(["spark-tag", str(src), str(thresholded), "-m", str(model_path), "--master", "local[2]",
          "--min-confidence", "0.6,person=0.9"])
    capsys.readouterr()
    rows = [json.loads(line) for part in sorted(thresholded.glob("part-*"))
            for line in part.read_text().splitlines()]
    assert len(rows) == len(table)
    per_type = {"*": 0.6, "person": 0.9}
    for row in rows:  # what Tagger.tag keeps with the same thresholds
        assert row["entities"] == [e.to_dict() for e in tiny_crf.tag(row["text"], per_type)]
    assert sum(map(len, table["entities"])) > sum(len(r["entities"]) for r in rows)
    with pytest.raises(SystemExit) as exc:  # a missing model is one line, exit 2
        main(["spark-tag", str(src), str(tmp_path / "new.parquet"), "-m", str(tmp_path / "nope.crftag")])
    assert exc.value.code == 2
    assert capsys.readouterr().err == f"crftag: {tmp_path / 'nope.crftag'}: cannot read the model file " \
        "(No such file or directory)\n"
    with pytest.raises(SystemExit) as exc:  # never overwrites
        main(["spark-tag", str(src), str(out), "-m", str(model_path)])
    assert exc.value.code == 2 and "already exists" in capsys.readouterr().err
