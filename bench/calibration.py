"""Are entity confidences calibrated? Before and after the model's map, on WNUT16 and BTC dev.

    python bench/calibration.py [--corpora wnut16,btc] [--folds 3] [--out bench/results]

Per corpus, the default model is trained on the train split only (``calibrate_on="jackknife"``:
the map is fitted on the training data's jackknife, never on dev). On the dev split it reports
the expected calibration error (10 equal-width bins) of

* the raw confidences (the CRF's probability of each entity's exact span and type);
* the jackknife-fitted map (what ``crftag train TRAIN`` gives without a dev set);
* a map fitted on dev itself (what ``crftag train TRAIN --dev DEV`` gives): its error is the
  cross-validated one, each fifth of the dev entities mapped by a fit on the other four.

Prints the reliability tables, draws reliability-<corpus>.png (raw and jackknife-calibrated)
and saves bench/results/calibration.json.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpora", default="wnut16,btc")
    ap.add_argument("--folds", type=int, default=3, help="Folds of the training data's jackknife.")
    ap.add_argument("--out", default="bench/results")
    args = ap.parse_args()

    from crftag import train
    from crftag.calibration import Calibration, calibration_report, entity_outcomes
    from crftag.calibration import fit as fit_calibration
    from crftag.evaluation.plots import reliability_plot
    from crftag.evaluation.report import calibration_lines
    from crftag.resources.corpora import load_labelled

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results = {"cores": os.cpu_count(), "folds": args.folds, "corpora": {}}
    for name in args.corpora.split(","):
        t0 = time.perf_counter()
        tagger = train(f"corpus:{name}/train", calibrate_on="jackknife", calibration_folds=args.folds)
        seconds = time.perf_counter() - t0
        dev = load_labelled(f"corpus:{name}/dev")
        fitted = tagger.calibration
        tagger.calibration = Calibration()
        tagged = list(tagger.tag_sentences(dev))
        gold = [s.tags for s in dev]
        report = calibration_report(gold, [t.entities for t in tagged], fitted)
        scores, correct = entity_outcomes(gold, [t.entities for t in tagged])
        on_dev = fit_calibration(scores, correct)
        row = {"train_seconds_with_jackknife": seconds, "jackknife_map": fitted.to_meta(),
               "dev_entities": report["entities"], "ece_raw": report["ece_raw"],
               "ece_jackknife_map": report["ece"], "dev_map": on_dev.method,
               "ece_dev_map_cross_validated": on_dev.fit_info["cv_ece"][on_dev.method],
               "dev_map_cv_ece_by_method": on_dev.fit_info["cv_ece"], "report": report}
        results["corpora"][name] = row
        print(f"\n{name}: trained on train only in {seconds:.0f} s (with a {args.folds}-fold jackknife)")
        print("\n".join(calibration_lines(report)))
        print(f"map fitted on dev ({on_dev.method}): cross-validated calibration error "
              f"{row['ece_dev_map_cross_validated']:.4f} (by method: "
              + ", ".join(f"{m} {e:.4f}" for m, e in on_dev.fit_info["cv_ece"].items()) + ")")
        print(f"wrote {reliability_plot(report, out / f'reliability-{name}.png')}")
    print("\ncorpus   dev entities   raw ECE   jackknife map   dev map (cross-validated)")
    for name, r in results["corpora"].items():
        print(f"{name:<8} {r['dev_entities']:>12}   {r['ece_raw']:.4f}    {r['ece_jackknife_map']:.4f} "
              f"({r['jackknife_map']['method']})   {r['ece_dev_map_cross_validated']:.4f} ({r['dev_map']})")
    (out / "calibration.json").write_text(json.dumps(results, indent=1, default=float))
    print(f"saved {out / 'calibration.json'}")


if __name__ == "__main__":
    main()
