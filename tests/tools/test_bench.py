"""`crftag bench`: each backend measured in its own process, never a row it did not measure."""

from __future__ import annotations

import importlib.util
import json

from crftag.cli.app import main


def test_bench_measures_each_backend_and_never_fakes_a_row(tiny_path, tmp_path, capsys):
    out = tmp_path / "bench"
    neural = importlib.util.find_spec("torch") is not None  # `make test TORCH=` runs without it
    peer = importlib.util.find_spec("spacy") is not None  # spaCy's own NER, a peer (crftag[spacy])
    names = "crf,sgd,nope" + (",bilstm-crf" if neural else "") + (",spacy" if peer else "")
    quick = (["-p", "bilstm-crf.max_epochs=1", "-p", "bilstm-crf.hidden=8", "-p", "bilstm-crf.device=cpu"]
             if neural else []) + (["-p", "spacy.max_epochs=2"] if peer else [])
    main(["bench", "--backends", names, "--train", str(tiny_path), "--dev", str(tiny_path),
          "--features", "surface", "--tokens", "500", "--calls", "20", "--out", str(out),
          *quick])
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
    assert md.startswith(f"crftag bench: trained on {tiny_path}, scored on {tiny_path}; feature set surface ")
    assert "\n| backend | dev F1 |" in md and "not run: nope (not installed)" in md
    assert (out / "bench.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "| crf | 100.00 |" in capsys.readouterr().out


