"""Feature and training ablations across corpora, chosen by pooled cross-validation.

    python bench/ablation.py [--corpora wnut16,wnut17,btc,twitter2015,twitter2017]
                             [--variants "NAME; NAME"] [--baseline NAME] [--cv 5] [--dev]
                             [--speed-rounds 3] [--jobs 2] [--runs bench/ablation-runs.json]
                             [--out bench/results]

Each variant (a feature set, backend parameters, training options) is scored on each
corpus by K-fold cross-validation over its train and dev splits pooled (``--cv K``;
sentences dealt to folds by a permutation with seed 0, the same folds for every
variant): entity F1 (conlleval) per fold, their mean and standard error per corpus,
and the mean over corpora with its standard error. Against ``--baseline`` each
variant also gets the paired difference (per fold, same folds) with its standard
error, and the selection rule: a variant may replace the baseline only when the mean
over corpora rises by more than twice the standard error of that difference and no
corpus drops by more than half a point. ``--dev`` adds the train-on-train,
score-on-dev figure per corpus, for information only.

Unseen-text speed: the fold-0 model of the first corpus, in a fresh tagger warmed on
the sentences it was trained on, tags the held-out fold 0 of every corpus (text it has
not seen), in rounds that alternate the variants; tokens/s is the median, and the
ratio is to the baseline measured in the same run.

Every fold's figures are kept in ``--runs`` (bench/ablation-runs.json, committed:
figures only, per type, precision and recall, train seconds) under the variant's
name and a hash of its definition; a later run, in this session or the next,
skips what is there, so a screen (one corpus, ``--cv 3``) and the full table build
on each other. ``--redo`` runs everything again. ``--out`` gets the summary
(ablation-summary.json) and the fold-0 models the speed is measured on (never
committed: they embed the data).
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import hashlib
import json
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed

from crftag.bio import from_bioes, to_bioes

sys.path.insert(0, str(Path(__file__).parent))
from tag_speed import batches, timed

TWEET_CORPORA = ("wnut16", "wnut17", "btc", "twitter2015", "twitter2017")
#: per-type F1 shown beside the table: the types the later test splits are rich in
WATCHED = {"wnut16": ("company", "product", "musicartist", "sportsteam"),
           "wnut17": ("corporation", "creative-work", "product")}
DEFAULT_BASELINE = "twitter, half the entity-less tweets (default now)"


#: A word table of the multi-word entries of the gazetteer lists, squashed (``Barack Obama`` ->
#: ``barackobama``, also as ``@barackobama``): what a mention or a hashtag of a listed name looks
#: like. Derived from the lexicons (so never committed); built by :func:`squash_lists`.
SQUASHED = "bench/results/squashed-lists.tsv"
_GENERIC_LISTS = ("cap.", "lower.", "english.stop", "firstname.", "lastname.", "bigdict",
                  "people.family_name", "people.person.lastnames")


def squash_lists(target: Path) -> None:
    """Write :data:`SQUASHED` from the WNUT16 and Wikidata lists (2 to 6 words, at least 4
    characters squashed; generic word lists left out): ``key<TAB>lists`` lines, sorted."""
    from crftag.features.lexicon import gazetteer_token
    from crftag.resources.registry import default_registry

    registry, lists = default_registry(), {}
    for name in ("lexicons:wnut16", "lexicons:wikidata2016"):
        folder = registry.fetch(name)
        for path in sorted(folder.iterdir()):
            if path.name.startswith(_GENERIC_LISTS):
                continue
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
                words = line.split()
                key = "".join(gazetteer_token(w) for w in words)
                if 2 <= len(words) <= 6 and len(key) >= 4:
                    lists.setdefault(key, set()).add(path.name.removesuffix(".txt"))
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "w", encoding="utf-8") as fh:
        for key, names in sorted(lists.items()):
            label = "+".join(sorted(names))
            fh.write(f"{key}\t{label}\n@{key}\t{label}\n")


def variants() -> dict[str, dict]:
    """name -> {"features": feature set dict, "params": backend parameters, "train": train() options}."""
    from crftag.features.featureset import load_feature_set

    surface = load_feature_set("surface").to_dict()
    default = load_feature_set("twitter").to_dict()
    everything = load_feature_set("twitter-all").to_dict()
    with_minilm = load_feature_set("twitter-minilm").to_dict()

    def plus(base: dict, **groups: dict) -> dict:
        d = copy.deepcopy(base)
        d["groups"].update(copy.deepcopy(groups))
        return d

    bigrams = copy.deepcopy(default)
    bigrams["conjunctions"] = copy.deepcopy(everything["conjunctions"])
    bilou = copy.deepcopy(default)
    bilou["groups"]["gazetteer"]["encoding"] = "bilou"
    more_lists = copy.deepcopy(default)
    more_lists["groups"]["gazetteer"]["resources"] += ["geonames:places", "tickers:companies"]
    near = [-1, 0, 1]
    wide = copy.deepcopy(default)
    for g in ("brown", "gazetteer", "twitter", "shape"):
        wide["groups"][g]["window"] = [-2, -1, 0, 1, 2]
    wordfreq = {"kind": "table", "resource": "wordfreq:en-bands", "window": near}
    minilm = {f"minilm{k}": {"kind": "table", "resource": f"minilm:k{k}", "window": near}
              for k in (64, 256, 1024)}
    def stack(**groups: list[str]) -> dict:
        return {name: {"kind": "stack", "corpora": [f"corpus:{c}/{split}" for c in corpora
                                                     for split in ("train", "dev")], "window": near}
                for name, corpora in groups.items()}

    def labels_only(**groups: list[str]) -> dict:
        """First passes that give their label alone (``bins = []``: no marginals)."""
        return {name: {**group, "bins": []} for name, group in stack(**groups).items()}

    half = {"empty_fraction": 0.5}
    return {
        "twitter + first passes of BTC and Twitter-2015/2017, half the entity-less tweets": {
            "features": plus(default, **stack(stack_btc=["btc"], stack_tw=["twitter2015", "twitter2017"])),
            "train": half},
        "twitter + first passes of BTC, Twitter-2015/2017 and WNUT16, half the entity-less tweets": {
            "features": plus(default, **stack(stack_btc=["btc"], stack_tw=["twitter2015", "twitter2017"],
                                              stack_wnut=["wnut16"])),
            "train": half},
        ("twitter + first passes of BTC, Twitter-2015/2017 and WNUT16, labels only, "
         "half the entity-less tweets"): {
            "features": plus(default, **labels_only(
                stack_btc=["btc"], stack_tw=["twitter2015", "twitter2017"], stack_wnut=["wnut16"])),
            "train": half},
        "twitter + first pass of Twitter-2015/2017, labels only, half the entity-less tweets": {
            "features": plus(default, **labels_only(stack_tw=["twitter2015", "twitter2017"])),
            "train": half},
        # without Twitter-2015/2017, which state no licence: BTC (CC-BY 4.0) and WNUT16, which the named
        # models are trained on already
        "twitter + first passes of BTC and WNUT16, labels only, half the entity-less tweets": {
            "features": plus(default, **labels_only(stack_btc=["btc"], stack_wnut=["wnut16"])),
            "train": half},
        ("twitter + first passes of BTC, Twitter-2015/2017, WNUT16 and GMB, labels only, "
         "half the entity-less tweets"): {
            "features": plus(default, **labels_only(
                stack_btc=["btc"], stack_tw=["twitter2015", "twitter2017"], stack_wnut=["wnut16"],
                stack_gmb=["gmb"])),
            "train": half},
        "surface": {"features": surface},
        "surface + Brown (ARK)": {"features": plus(surface, brown=default["groups"]["brown"])},
        "surface + gazetteers": {"features": plus(surface, gazetteer=default["groups"]["gazetteer"])},
        "twitter (default before)": {"features": default},
        "twitter + word bigrams": {"features": bigrams},
        "twitter, 200 L-BFGS iterations": {"features": default, "params": {"max_iterations": 200}},
        "twitter, half the entity-less tweets (default now)": {"features": default,
                                                               "train": {"empty_fraction": 0.5}},
        "twitter, a third of the entity-less tweets": {"features": default,
                                                       "train": {"empty_fraction": 0.33}},
        "twitter, BILOU gazetteer": {"features": bilou},
        "twitter, c1=0.05 c2=0.05": {"features": default, "params": {"c1": 0.05, "c2": 0.05}},
        "twitter, c1=0.1 c2=0.01": {"features": default, "params": {"c1": 0.1, "c2": 0.01}},
        "twitter, 100 L-BFGS iterations": {"features": default, "params": {"max_iterations": 100}},
        "twitter + wordfreq bands": {"features": plus(default, wordfreq=wordfreq)},
        "twitter + GeoNames and ticker lists": {"features": more_lists},
        "twitter + MiniLM clusters (64, 256, 1024)": {"features": plus(default, **minilm)},
        "twitter, rare types x3": {"features": default, "train": {"oversample": 3}},
        "twitter, Brown, gazetteer, shape and cues at +-2": {"features": wide},
        "twitter-minilm, half the entity-less tweets": {"features": with_minilm,
                                                          "train": {"empty_fraction": 0.5}},
        "twitter + MiniLM, half the entity-less tweets, 5 bags": {
            "features": plus(default, **minilm), "train": {"empty_fraction": 0.5, "bags": 5}},
        "twitter, half the entity-less tweets, c1=0.05 c2=0.05": {
            "features": default, "params": {"c1": 0.05, "c2": 0.05}, "train": {"empty_fraction": 0.5}},
        "twitter, half the entity-less tweets, BIOES labels": {"features": default, "train": half,
                                                               "labels": "bioes"},
        "twitter, half the entity-less tweets, c1=0.05 c2=0.05, 150 iterations": {
            "features": default, "params": {"c1": 0.05, "c2": 0.05, "max_iterations": 150}, "train": half},
        "twitter + multi-word list entries squashed (@BarackObama), half the entity-less tweets": {
            "features": plus(default, squashed={"kind": "table", "resource": SQUASHED, "window": near}),
            "train": half},
        "twitter, half the entity-less tweets, 40 L-BFGS iterations": {
            "features": default, "params": {"max_iterations": 40}, "train": half},
        "twitter, half the entity-less tweets, 80 L-BFGS iterations": {
            "features": default, "params": {"max_iterations": 80}, "train": half},
        "twitter, half the entity-less tweets, 5 bags": {"features": default,
                                                         "train": {"empty_fraction": 0.5, "bags": 5}},
    }


def spec_hash(spec: dict) -> str:
    """A short digest of a variant's definition: a renamed variant keeps its runs, a changed one does not."""
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:12]


def pooled(corpus: str) -> list:
    """A corpus's train and dev sentences, pooled (the material of its cross-validation)."""
    from crftag.resources.corpora import get_corpus

    c = get_corpus(corpus)
    return c.read("train") + c.read("dev")


def fold_of(n: int, folds: int) -> np.ndarray:
    """Fold of each of ``n`` sentences: a seeded permutation dealt round-robin, the same for every variant."""
    return np.random.default_rng(0).permutation(n) % folds


def _options(spec: dict) -> dict:
    # every entity-less tweet unless a variant says otherwise: rows measured before the
    # default became a half stay comparable
    return {"empty_fraction": 1.0, **spec.get("params", {}), **spec.get("train", {})}


def _labelled(sents: list, labels: str) -> list:
    """``sents`` with their tags in the label scheme a variant trains on (``bio`` leaves them)."""
    if labels == "bio":
        return sents
    return [dataclasses.replace(s, tags=to_bioes(s.tags)) for s in sents]


def _scores(report) -> dict:
    return {**{k: report.overall[k] for k in ("precision", "recall", "f1")},
            "per_type": {t: v["f1"] for t, v in report.per_type.items()}}


def run_fold(name: str, spec: dict, corpus: str, folds: int, k: int, model_path: str | None) -> dict:
    """Train on every fold of the pooled corpus but ``k``, score on fold ``k`` (``k`` -1: train on
    the train split, score on dev)."""
    from crftag import train
    from crftag.evaluation.scores import evaluate
    from crftag.features.featureset import FeatureSet
    from crftag.resources.corpora import get_corpus

    fs = FeatureSet.from_dict(spec["features"], source=name)
    if k < 0:
        c = get_corpus(corpus)
        fit, held = c.read("train"), c.read("dev")
    else:
        sents = pooled(corpus)
        assign = fold_of(len(sents), folds)
        fit = [s for s, a in zip(sents, assign, strict=True) if a != k]
        held = [s for s, a in zip(sents, assign, strict=True) if a == k]
    t0 = time.perf_counter()
    # the held-out sentences are the dev data: a stack group's first pass leaves them out
    labels = spec.get("labels", "bio")
    tagger = train(_labelled(fit, labels), dev=_labelled(held, labels), features=fs, **_options(spec))
    train_s = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(model_path or Path(tmp) / "m.crftag")
        tagger.save(path)
        model_mb = path.stat().st_size / 1e6
    pred = [from_bioes(p) for p in tagger.tag_tokens_batch([s.tokens for s in held])]
    return {"variant": name, "spec": spec_hash(spec), "corpus": corpus, "folds": folds, "fold": k,
            "train_s": train_s, "model_mb": model_mb, "sentences": len(fit),
            **_scores(evaluate([s.tags for s in held], pred))}


def run_key(name: str, spec: dict, corpus: str, folds: int, k: int) -> str:
    return f"{name}|{spec_hash(spec)}|{corpus}|" + ("dev" if k < 0 else f"cv{folds}|{k}")


def mean_se(values: list[float]) -> tuple[float, float]:
    """Mean and standard error (sample standard deviation / sqrt(n))."""
    m = statistics.fmean(values)
    return m, (statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else float("nan"))


def summarise(runs: dict, names: list[str], table: dict, corpora: list[str], folds: int,
              baseline: str | None) -> list[dict]:
    """Per variant: per corpus mean and standard error over folds, the mean over corpora and its
    standard error, the paired difference to the baseline and the selection rule's verdict."""
    def f1s(name: str, corpus: str) -> list[float] | None:
        got = [runs.get(run_key(name, table[name], corpus, folds, k)) for k in range(folds)]
        return None if any(r is None for r in got) else [r["f1"] for r in got]

    rows = []
    for name in names:
        row: dict = {"variant": name, "corpora": {}}
        for c in corpora:
            f = f1s(name, c) if folds else None
            if f is not None:
                m, se = mean_se(f)
                row["corpora"][c] = {"mean": m, "se": se, "folds": f}
            dev = runs.get(run_key(name, table[name], c, folds, -1))
            if dev is not None:
                row["corpora"].setdefault(c, {})["dev"] = dev["f1"]
                row["corpora"][c]["dev_per_type"] = dev["per_type"]
        complete = [c for c in corpora if "mean" in row["corpora"].get(c, {})]
        if folds and len(complete) == len(corpora):
            means = [row["corpora"][c]["mean"] for c in corpora]
            ses = [row["corpora"][c]["se"] for c in corpora]
            row["mean"] = statistics.fmean(means)
            row["se"] = math.sqrt(sum(s * s for s in ses)) / len(ses)  # corpora are independent
            if baseline and baseline != name and all(f1s(baseline, c) for c in corpora):
                diffs = {c: [a - b for a, b in zip(f1s(name, c), f1s(baseline, c), strict=True)]
                         for c in corpora}
                per = {c: mean_se(d) for c, d in diffs.items()}
                delta = statistics.fmean(m for m, _ in per.values())
                delta_se = math.sqrt(sum(se * se for _, se in per.values())) / len(per)
                worst = min(per, key=lambda c: per[c][0])
                row["delta"] = {"mean": delta, "se": delta_se,
                                "per_corpus": {c: m for c, (m, _) in per.items()}}
                row["adopt"] = delta > 2 * delta_se and per[worst][0] >= -0.5
                row["why"] = (f"mean {delta:+.2f} vs 2 x SE {2 * delta_se:.2f}; "
                              f"worst corpus {worst} {per[worst][0]:+.2f}")
        rows.append(row)
    return rows


def measure_speed(models: dict[str, Path], corpora: list[str], folds: int, rounds: int) -> dict[str, float]:
    """Unseen-text tokens/s of each fold-0 model (trained on the first corpus): a fresh tagger
    warmed on its own training folds tags the held-out fold 0 of every corpus (text it has not
    seen, some 80,000 tokens: long enough to time); rounds alternate the models; the median."""
    from crftag import Tagger

    sents = pooled(corpora[0])
    warm = [s.tokens for s, a in zip(sents, fold_of(len(sents), folds), strict=True) if a != 0]
    held = []
    for corpus in corpora:
        sents = pooled(corpus)
        held += [s.tokens for s, a in zip(sents, fold_of(len(sents), folds), strict=True) if a == 0]
    n_tok = sum(map(len, held))
    speeds: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(rounds):
        for name, path in models.items():
            tagger = Tagger.load(path)
            for b in batches(warm):
                tagger.tag_tokens_batch(b)
            seconds = timed(lambda t=tagger: [t.tag_tokens_batch(b) for b in batches(held)])
            speeds[name].append(n_tok / seconds)
    return {name: statistics.median(v) for name, v in speeds.items()}


def render(rows: list[dict], corpora: list[str], speed: dict, sizes: dict, baseline: str | None) -> str:
    head = ["variant", *corpora, "mean", "vs baseline", "adopt", "unseen tok/s", "MB"]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 2) + "---:|"]
    base_speed = speed.get(baseline) if baseline else None
    for r in rows:
        cells = []
        for c in corpora:
            x = r["corpora"].get(c, {})
            cell = f"{x['mean']:.2f} ± {x['se']:.2f}" if "mean" in x else "-"
            if "dev" in x:
                cell += f" (dev {x['dev']:.2f})"
            cells.append(cell)
        mean = f"{r['mean']:.2f} ± {r['se']:.2f}" if "mean" in r else "-"
        delta = f"{r['delta']['mean']:+.2f} ± {r['delta']['se']:.2f}" if "delta" in r else ""
        adopt = ("yes" if r["adopt"] else "no") if "adopt" in r else ""
        s = speed.get(r["variant"])
        tps = (f"{s:,.0f}" + (f" ({s / base_speed:.2f}x)" if base_speed else "")) if s else "-"
        mb = f"{sizes[r['variant']]:.1f}" if r["variant"] in sizes else "-"
        lines.append("| " + " | ".join([r["variant"], *cells, mean, delta, adopt, tps, mb]) + " |")
    return "\n".join(lines)


def per_type_lines(rows: list[dict]) -> list[str]:
    """Per-type F1 of the watched types, pooled over folds (mean of fold F1s)."""
    out = []
    for r in rows:
        parts = []
        for c, types in WATCHED.items():
            x = r["corpora"].get(c)
            if not x or "folds" not in x:
                continue
            parts.append(f"{c}: " + ", ".join(f"{t} {x['per_type_mean'].get(t, 0.0):.2f}" for t in types))
        if parts:
            out.append(f"  {r['variant']}: " + "; ".join(parts))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpora", default=",".join(TWEET_CORPORA), help="Comma-separated corpus names.")
    ap.add_argument("--variants", default=DEFAULT_BASELINE, help="'all', or names separated by ';'.")
    ap.add_argument("--baseline", default=DEFAULT_BASELINE, help="The variant the others are compared with.")
    ap.add_argument("--cv", type=int, default=5, help="Folds of the pooled cross-validation (0: none).")
    ap.add_argument("--dev", action="store_true", help="Also train on train and score dev (information).")
    ap.add_argument("--speed-rounds", type=int, default=3, help="Rounds of the speed measurement (0: none).")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--redo", action="store_true", help="Run again what ablation.json holds already.")
    ap.add_argument("--runs", default=str(Path(__file__).parent / "ablation-runs.json"),
                    help="The figures of every fold run (read, then extended).")
    ap.add_argument("--out", default="bench/results")
    args = ap.parse_args()
    table = variants()
    names = list(table) if args.variants == "all" else [v.strip() for v in args.variants.split(";")]
    baseline = args.baseline if args.baseline in table else None
    if baseline and baseline not in names:
        names.insert(0, baseline)
    unknown = [n for n in names if n not in table]
    if unknown:
        raise SystemExit(f"unknown variants: {', '.join(unknown)}; known: {'; '.join(table)}")
    corpora = [c.strip() for c in args.corpora.split(",")]
    if any(table[n]["features"]["groups"].get("squashed") for n in names) and not Path(SQUASHED).exists():
        squash_lists(Path(SQUASHED))
    out = Path(args.out)
    (out / "cv-models").mkdir(parents=True, exist_ok=True)
    store_path = Path(args.runs)
    store = json.loads(store_path.read_text()) if store_path.exists() else {}
    runs: dict = store.get("runs", {}) if isinstance(store.get("runs"), dict) else {}

    def model_path(name: str) -> Path:
        return out / "cv-models" / f"{spec_hash(table[name])}-{corpora[0]}-cv{args.cv}-0.crftag"

    jobs = [(n, c, k) for n in names for c in corpora
            for k in [*range(args.cv), *([-1] if args.dev else [])]]
    todo = [(n, c, k) for n, c, k in jobs
            if args.redo or run_key(n, table[n], c, args.cv, k) not in runs
            or (c == corpora[0] and k == 0 and not model_path(n).exists())]
    print(f"{len(jobs)} trainings, {len(jobs) - len(todo)} already in {store_path}", flush=True)
    for r in Parallel(n_jobs=args.jobs, return_as="generator")(
            delayed(run_fold)(n, table[n], c, args.cv, k,
                              str(model_path(n)) if c == corpora[0] and k == 0 else None)
            for n, c, k in todo):
        runs[run_key(r["variant"], table[r["variant"]], r["corpus"], args.cv, r["fold"])] = r
        store_path.write_text(json.dumps({"cores": os.cpu_count(), "runs": runs}, indent=1, sort_keys=True))
        print(f"  {r['variant']} / {r['corpus']} / fold {r['fold']}: F1 {r['f1']:.2f} "
              f"({r['train_s']:.0f} s)", flush=True)
    rows = summarise(runs, names, table, corpora, args.cv, baseline)
    for r in rows:
        for c, x in r["corpora"].items():
            if "folds" in x:
                per = [runs[run_key(r["variant"], table[r["variant"]], c, args.cv, k)]["per_type"]
                       for k in range(args.cv)]
                x["per_type_mean"] = {t: statistics.fmean(p.get(t, 0.0) for p in per)
                                      for t in sorted({t for p in per for t in p})}
    speed = measure_speed({n: model_path(n) for n in names}, corpora, args.cv, args.speed_rounds) \
        if args.speed_rounds and args.cv else {}
    size_fold = 0 if args.cv else -1  # the dev run's model when there is no cross-validation
    sizes = {n: runs[run_key(n, table[n], corpora[0], args.cv, size_fold)]["model_mb"] for n in names}
    if args.cv:
        print(f"\n{args.cv}-fold cross-validation over train+dev pooled; entity F1 mean ± standard error "
              f"over folds; speed: the {corpora[0]} fold-0 model on every corpus's fold 0 (unseen), "
              f"{os.cpu_count()} cores")
    else:
        print("\ntrained on each corpus's train split, entity F1 on its dev split (no cross-validation)")
    print(render(rows, corpora, speed, sizes, baseline))
    print("per-type F1 (mean over folds):")
    print("\n".join(per_type_lines(rows)))
    summary = out / "ablation-summary.json"
    summary.write_text(json.dumps({"corpora": corpora, "cv": args.cv, "baseline": baseline,
                                   "cores": os.cpu_count(), "rows": rows, "speed": speed, "sizes": sizes},
                                  indent=1))
    print(f"saved {store_path} and {summary}")


if __name__ == "__main__":
    main()
