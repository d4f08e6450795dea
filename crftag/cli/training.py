"""Commands that train: ``train``, and ``search`` and ``stability`` (many trainings judged on dev)."""

from __future__ import annotations

import contextlib
import json
import sys
import time

import click

from crftag.cli.options import (
    encoding_option,
    input_format_option,
    json_output_option,
    param_option,
    value_lists,
)
from crftag.errors import CrftagError
from crftag.limits import MAX_TOKENS


@click.command()
@click.argument("train_files", nargs=-1, required=True, metavar="TRAIN_FILE...")
@click.option("--dev", "dev_file", metavar="DEV_FILE", help="Dev set: scored after training, "
              "and used by backends that tune on it (sgd's alpha grid).")
@click.option("--backend", default="crf", show_default=True,
              help="crf, sgd, bilstm-crf or any installed plugin (see `crftag backends`).")
@click.option("--features", default="twitter", show_default=True, metavar="NAME_OR_PATH",
              help="Feature set: a shipped name or a .toml file.")
@click.option("-o", "--output", "model_path", required=True, type=click.Path(dir_okay=False),
              help="Where to write the model file.")
@input_format_option(old_spelling=True)
@param_option
@click.option("--seed", default=0, show_default=True, help="Random seed (sgd, bilstm-crf; training order).")
@click.option("--oversample", default=1, show_default=True, type=click.IntRange(min=1),
              help="Repeat sentences with rare entity types this many times in all.")
@click.option("--empty-fraction", default=0.5, show_default=True, type=click.FloatRange(0, 1, min_open=True),
              help="Keep this share of the training sentences that name no entity (recall up; 1: all).")
@click.option("--max-tokens", default=MAX_TOKENS, show_default=True, type=click.IntRange(min=1),
              help="A training or dev sentence with more tokens is an error naming its line "
                   "(training memory grows with sentence length).")
@click.option("--bags", default=1, show_default=True, type=click.IntRange(min=1),
              help="Train this many models, each keeping different entity-less sentences, and "
                   "average their weights into one (crf, sgd).")
@click.option("--calibration", default="auto", show_default=True,
              type=click.Choice(["auto", "none", "platt", "isotonic"]),
              help="Map entity confidences to the share of entities that are right (auto: the "
                   "method with the lowest cross-validated calibration error, for crf and sgd; "
                   "none for other backends).")
@click.option("--calibrate-on", default="auto", show_default=True,
              type=click.Choice(["auto", "dev", "jackknife"]),
              help="Fit it on the model's predictions for --dev, or on the training data's jackknife "
                   "(each fold tagged by a model trained on the others); auto: dev when given.")
@click.option("--calibration-folds", default=3, show_default=True, type=click.IntRange(min=2),
              help="Folds of the jackknife (each trains one more model).")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]),
              help="Where a neural backend trains (auto: a CUDA GPU when torch sees one).")
@encoding_option
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
def train(train_files: tuple[str, ...], dev_file: str | None, backend: str, features: str,
          model_path: str, fmt: str | None, params: dict, seed: int, oversample: int, empty_fraction: float,
          max_tokens: int, bags: int, calibration: str, calibrate_on: str, calibration_folds: int,
          device: str | None, encoding: str, quiet: bool) -> None:
    """Train a model from labelled data (several TRAIN_FILEs are concatenated).

    \b
    Examples:
      crftag train wnut16:train --dev wnut16:dev -o wnut16.crftag
      crftag train wnut16:train wnut16:dev -o final.crftag -p c1=0.1 -p c2=0.05
      crftag train wnut16:train --dev wnut16:dev --backend sgd -o sgd.crftag
      crftag train ner_dataset.csv --features minimal -o gmb.crftag
      crftag train wnut16:train --dev wnut16:dev --backend bilstm-crf --device cpu -o bl.crftag
    """
    from crftag.backends import get_backend, parse_params
    from crftag.io.atomic import check_output
    from crftag.training import train as train_tagger

    inputs = [f for f in (*train_files, dev_file) if f is not None]
    check_output(model_path, inputs)  # before the work: a bad -o is found now, not after training
    backend_cls = get_backend(backend)
    typed = parse_params(backend_cls, params)
    if device is not None:
        if "device" not in backend_cls.param_names():
            raise CrftagError(f"backend {backend!r} has no device to choose (it runs on the CPU)")
        typed["device"] = device
    from crftag.progress import TrainingBar

    t0 = time.perf_counter()
    with TrainingBar(f"training {backend}") if not quiet else contextlib.nullcontext(False) as progress:
        tagger = train_tagger(list(train_files), dev=dev_file, backend=backend, features=features,
                              fmt=fmt, seed=seed, progress=progress, oversample=oversample,
                              empty_fraction=empty_fraction, bags=bags, encoding=encoding,
                              calibration=calibration, calibrate_on=calibrate_on,
                              calibration_folds=calibration_folds, max_tokens=max_tokens, **typed)
    elapsed = time.perf_counter() - t0
    tagger.save(model_path)
    if quiet:
        return
    from crftag.evaluation.report import training_summary

    click.echo(training_summary(tagger.meta, backend, model_path, elapsed), nl=False)


@click.command()
@click.argument("train_files", nargs=-1, required=True, metavar="TRAIN_FILE...")
@click.option("--dev", "dev_file", required=True, metavar="DEV_FILE", help="Candidates are ranked on it.")
@click.option("--backend", default="crf", show_default=True, help="Backend trained (crftag backends).")
@click.option("--grid", "grid", multiple=True, callback=value_lists, metavar="KEY=V1,V2,...",
              help="Values to try for a backend parameter (repeatable). Default: a built-in space "
                   "(crf: c1 x c2; sgd: alpha x class_weight).")
@click.option("--features", "feature_sets", default="twitter", show_default=True,
              help="Comma-separated feature sets to try.")
@click.option("--random", "n_random", type=click.IntRange(min=1), metavar="N",
              help="Try N candidates drawn at random from the grid instead of all of them.")
@click.option("--seed", default=0, show_default=True, help="Seed of the draw and of every training.")
@click.option("-j", "--jobs", "n_jobs", default=1, show_default=True, type=click.IntRange(min=1),
              help="Trainings run in parallel (processes; each holds its own data and model).")
@click.option("-o", "--output", "model_path", type=click.Path(dir_okay=False),
              help="Write the best candidate's model here.")
@click.option("--json-out", "json_path", type=click.Path(dir_okay=False), help="Also save the table as JSON.")
@click.option("--json", "json_alias", type=click.Path(dir_okay=False), hidden=True,
              help="Old spelling of --json-out.")
def search(train_files: tuple[str, ...], dev_file: str, backend: str, grid: dict, feature_sets: str,
           n_random: int | None, seed: int, n_jobs: int, model_path: str | None,
           json_path: str | None, json_alias: str | None) -> None:
    """Hyperparameter search: train each candidate, rank by dev F1, keep the best model.

    \b
    Examples:
      crftag search wnut16:train --dev wnut16:dev -j 2 -o best.crftag
      crftag search wnut16:train --dev wnut16:dev --grid c1=0,0.05 --grid c2=0.05,0.1,0.2
      crftag search wnut16:train --dev wnut16:dev --backend sgd --features twitter,surface
      crftag search wnut16:train --dev wnut16:dev --grid algorithm=lbfgs,ap,pa --random 2 --seed 1
    """
    from crftag.backends import get_backend, parse_params
    from crftag.io.atomic import atomic_write, check_output
    from crftag.tools.search import search as run_search

    json_path = json_path or json_alias
    for out in (model_path, json_path):  # before the trainings: a bad output is found now
        if out is not None:
            check_output(out, [*train_files, dev_file])
    cls = get_backend(backend)
    if grid:
        space = {k: [parse_params(cls, {k: v})[k] for v in values] for k, values in grid.items()}
    elif cls.search_space:
        space = cls.search_space
    else:
        raise CrftagError(f"no default search space for backend {backend!r}; give --grid KEY=V1,V2")
    train_arg = list(train_files) if len(train_files) > 1 else train_files[0]
    ranked = run_search(train_arg, dev_file, backend, space,
                        [f.strip() for f in feature_sets.split(",") if f.strip()], n_random, seed,
                        n_jobs, model_path, progress=True)
    from crftag.evaluation.report import search_markdown

    click.echo(search_markdown(ranked, space), nl=False)
    if model_path:
        click.echo(f"best model (rank 1) written to {model_path}")
    if json_path:
        with atomic_write(json_path) as fh:
            fh.write(json.dumps({"backend": backend, "seed": seed, "results": ranked}, indent=1))


@click.command()
@click.argument("train_files", nargs=-1, required=True, metavar="TRAIN_FILE...")
@click.option("--dev", "dev_file", required=True, metavar="DEV_FILE", help="Each training is scored on it.")
@click.option("--backend", default="crf", show_default=True, help="Backend trained (crftag backends).")
@click.option("--features", default="twitter", show_default=True, metavar="NAME_OR_PATH",
              help="Feature set (a shipped name or a TOML file).")
@param_option
@click.option("--runs", default=5, show_default=True, type=click.IntRange(min=1),
              help="Trainings (seeds 1..N).")
@click.option("--vary", type=click.Choice(["both", "order", "seed"]), default="both", show_default=True,
              help="What each seed changes: the training order, the backend's seed, or both.")
@click.option("--threshold", default=1.0, show_default=True,
              help="Flag a standard deviation of dev F1 above this many points.")
@click.option("-j", "--jobs", "n_jobs", default=1, show_default=True, type=click.IntRange(min=1),
              help="Trainings run in parallel (processes; each holds its own data and model).")
@json_output_option
def stability(train_files: tuple[str, ...], dev_file: str, backend: str, features: str, params: dict,
              runs: int, vary: str, threshold: float, n_jobs: int, as_json: bool) -> None:
    """Retrain with several seeds and report the mean and spread of dev F1.

    Exits with status 1 when the standard deviation exceeds --threshold.

    \b
    Examples:
      crftag stability wnut16:train --dev wnut16:dev --runs 5 -j 2
      crftag stability wnut16:train --dev wnut16:dev --backend sgd --vary seed
    """
    from crftag.backends import get_backend, parse_params
    from crftag.tools.search import stability as run_stability

    typed = parse_params(get_backend(backend), params)
    train_arg = list(train_files) if len(train_files) > 1 else train_files[0]
    result = run_stability(train_arg, dev_file, backend, features, typed, runs, vary, n_jobs, threshold,
                           progress=True)
    if as_json:
        click.echo(json.dumps(result, indent=1))
    else:
        from crftag.evaluation.report import stability_text

        click.echo(stability_text(result, backend, vary, threshold), nl=False)
    if result["flagged"]:
        sys.exit(1)
