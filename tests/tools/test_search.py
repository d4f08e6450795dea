"""Many trainings judged on dev: crftag search (ranked, parallel equals serial) and crftag stability."""

from __future__ import annotations

import json

import pytest

from crftag.cli.app import main


def test_search_and_stability_commands(tiny_path, tmp_path, capsys):
    common = [str(tiny_path), "--dev", str(tiny_path), "--features", "surface"]
    main(["search", *common, "--backend", "sgd", "--grid", "alpha=0.001,0.01", "--grid",
          "class_weight=balanced,none", "-j", "2", "-o", str(tmp_path / "best.crftag"),
          "--json", str(tmp_path / "s.json")])
    out = capsys.readouterr().out
    assert out.count("| surface |") == 4 and (tmp_path / "best.crftag").exists()
    ranked = json.loads((tmp_path / "s.json").read_text())["results"]
    assert [r["dev_f1"] for r in ranked] == sorted((r["dev_f1"] for r in ranked), reverse=True)
    main(["search", *common, "--backend", "sgd", "--grid", "alpha=0.001,0.01", "--grid",
          "class_weight=balanced,none", "--json", str(tmp_path / "s1.json")])  # one worker: same table
    capsys.readouterr()
    def without_time(rows):
        return [{k: v for k, v in r.items() if k != "train_s"} for r in rows]

    assert without_time(json.loads((tmp_path / "s1.json").read_text())["results"]) == without_time(ranked)
    with pytest.raises(SystemExit) as exc:  # any spread is above a negative threshold
        main(["stability", *common, "--backend", "sgd", "-p", "alpha=0.001", "--runs", "2",
              "--threshold", "-1"])
    assert exc.value.code == 1 and "UNSTABLE" in capsys.readouterr().out


def test_grid_and_random_candidates():
    from crftag.tools.search import candidates, parameter_grid

    grid = parameter_grid({"c2": [0.1, 0.5], "c1": [0.0]})
    assert grid == [{"c1": 0.0, "c2": 0.1}, {"c1": 0.0, "c2": 0.5}]  # keys sorted, values as given
    every = candidates({"c1": [0, 1, 2]}, ["surface", "twitter"])
    assert [(c["features"], c["params"]["c1"]) for c in every] == [
        ("surface", 0), ("surface", 1), ("surface", 2), ("twitter", 0), ("twitter", 1), ("twitter", 2)]
    drawn = candidates({"c1": [0, 1, 2]}, ["surface", "twitter"], n_random=3, seed=1)
    assert len(drawn) == 3 and all(d in every for d in drawn)
    assert drawn == candidates({"c1": [0, 1, 2]}, ["surface", "twitter"], n_random=3, seed=1)  # seeded
    assert candidates({"c1": [0]}, ["surface"], n_random=5) == [{"features": "surface", "params": {"c1": 0}}]
