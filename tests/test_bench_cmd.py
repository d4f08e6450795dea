"""`crftag bench` and rare-entity oversampling, on hand-made data."""

from __future__ import annotations

import importlib.util
import json

import pytest

from crftag.cli.app import main
from crftag.errors import CrftagError
from crftag.train import oversample_rare
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


def test_bench_measures_each_backend_and_never_fakes_a_row(tiny_path, tmp_path, capsys):
    out = tmp_path / "bench"
    names = "crf,sgd,nope" + (",bilstm-crf" if importlib.util.find_spec("torch") else "")
    main(["bench", "--backends", names, "--train", str(tiny_path), "--dev", str(tiny_path),
          "--features", "surface", "--tokens", "500", "--calls", "20", "--out", str(out),
          "-p", "bilstm-crf.max_epochs=1", "-p", "bilstm-crf.hidden=8", "-p", "bilstm-crf.device=cpu"])
    result = json.loads((out / "bench.json").read_text())
    ran = [r["backend"] for r in result["rows"]]
    assert ran == [n for n in names.split(",") if n != "nope"]
    assert result["not_run"] == {"nope": "not installed"}
    for r in result["rows"]:
        assert r["tokens_per_s"] > 0 and 0 < r["p50_us"] <= r["p99_us"] and r["peak_rss_mb"] > 0
        assert r["model_mb"] > 0 and r["train_s"] > 0
        assert 0 <= r["dev"]["f1"] <= 100 and set(r["dev"]["per_type_f1"]) <= {
            "company", "facility", "geo-loc", "movie", "musicartist", "other", "person", "product",
            "sportsteam", "tvshow"}
        assert (out / "models" / f"{r['backend']}.crftag").exists()
    crf = result["rows"][0]
    assert crf["dev"]["f1"] == 100.0  # a CRF fits its 12 training sentences
    md = (out / "bench.md").read_text()
    assert md.startswith("| backend | dev F1 |") and "not run: nope (not installed)" in md
    assert (out / "bench.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| crf | 100.00 |" in capsys.readouterr().out


def test_device_option_is_refused_by_backends_without_one(tiny_path, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", str(tiny_path), "--features", "surface", "--device", "cuda",
              "-o", str(tmp_path / "m.crftag")])
    assert exc.value.code == 2 and not (tmp_path / "m.crftag").exists()
    assert capsys.readouterr().err.strip() == \
        "crftag: backend 'crf' has no device to choose (it runs on the CPU)"
