"""Commands that judge data and predictions: ``eval`` (conlleval and more) and ``stats``."""

from __future__ import annotations

import json
from pathlib import Path

import click

from crftag.cli.options import (
    encoding_option,
    input_format_option,
    inputs_of,
    named_model,
    output_to,
    report_format_option,
)
from crftag.jitcache import lean_numba


@click.command(name="eval")
@click.option("-m", "--model", "model_path", default=None, callback=named_model,
              help="Model file, or a named model (crftag models list); or give --pred.")
@click.option("--pred", "pred_file", type=click.Path(dir_okay=False), default=None,
              help="Score this file of predictions (another tagger's output: CoNLL with the "
                   "predicted tag last, or JSONL with tokens and tags) instead of a model's.")
@click.option("--pred-format", type=click.Choice(["conll", "jsonl"]), default=None,
              help="Format of --pred and of a prediction file given to --compare (default: from "
                   "the extension, else conll).")
@click.argument("gold_file")
@report_format_option()
@input_format_option()
@click.option("--write-predictions", type=click.Path(dir_okay=False),
              help="Also write 'token gold predicted' lines, the input conlleval reads.")
@click.option("--confusion", is_flag=True, help="Entity-type and BIO-label confusion matrices.")
@click.option("--errors", "n_errors", default=0, show_default=True, metavar="N", type=click.IntRange(min=0),
              help="Show the N most frequent false positives and negatives, with context.")
@click.option("--bootstrap", "n_boot", default=0, show_default=True, metavar="N", type=click.IntRange(min=0),
              help="95% bootstrap interval for F1 from N resamples of sentences.")
@click.option("--compare", "other_model", metavar="MODEL|PRED",
              help="Paired bootstrap test against another model, or another tagger's predictions "
                   "(a file like --pred's), on the same data.")
@click.option("--auc", is_flag=True, help="Token-level ROC-AUC and PR-AUC (macro, one-vs-rest).")
@click.option("--calibration", is_flag=True,
              help="How well entity confidences match the share of entities that are right: the "
                   "expected calibration error and a reliability table per confidence bin, before "
                   "and after the model's calibration map (with --plots, reliability.png).")
@click.option("--plots", "plot_dir", type=click.Path(file_okay=False),
              help="Write PNGs: per-type P/R/F1 bars and the confusion heat maps.")
@click.option("--seed", default=0, show_default=True, help="Seed of the bootstrap resampling.")
@encoding_option
def eval_cmd(model_path: str | None, pred_file: str | None, pred_format: str | None, gold_file: str,
             fmt: str, input_format: str | None,
             write_predictions: str | None, confusion: bool, n_errors: int, n_boot: int,
             other_model: str | None, auc: bool, calibration: bool, plot_dir: str | None, seed: int,
             encoding: str) -> None:
    """Score a model, or another tagger's predictions, against gold data: entity-level
    P/R/F1 exactly as conlleval.

    The text report starts with conlleval's own lines, then adds the no-types
    (segmentation) score and token-level macro F1 over non-O labels. --pred
    scores a file of predictions that holds the gold sentences token for token
    (--auc and --calibration need a model's probabilities).

    \b
    Examples:
      crftag eval -m wnut16.crftag wnut16:dev
      crftag eval -m wnut16.crftag dev.conll --report-format json
      crftag eval -m wnut16.crftag wnut16:dev --write-predictions dev.pred
      crftag eval -m wnut16.crftag wnut16:dev --confusion --errors 10 --bootstrap 1000 --plots plots/
      crftag eval -m crf.crftag wnut16:dev --compare sgd.crftag
      crftag eval -m wnut16.crftag btc:dev --calibration --plots plots/
      crftag eval --pred other-tagger.conll wnut16:dev --bootstrap 1000
      crftag eval -m wnut16.crftag wnut16:dev --compare other-tagger.conll
    """
    if (model_path is None) == (pred_file is None):
        raise click.UsageError("give a model (-m MODEL) or a file of predictions (--pred FILE), one of them")
    if pred_file and (auc or calibration):
        raise click.UsageError("--auc and --calibration need a model's probabilities; --pred has tags only")
    lean_numba()
    from crftag.evaluation.analysis import disjoint_types, eval_extras
    from crftag.evaluation.plots import eval_plots
    from crftag.evaluation.predictions import read_predictions
    from crftag.evaluation.report import render_report
    from crftag.evaluation.scores import evaluate
    from crftag.io.atomic import check_folder, check_output
    from crftag.resources.corpora import load_with_provenance, source_paths, training_overlap

    if plot_dir:
        from crftag.evaluation.plots import require_matplotlib

        require_matplotlib()
        check_folder(plot_dir)
    if write_predictions:
        check_output(write_predictions, inputs_of([model_path or pred_file, *source_paths(gold_file),
                                                   other_model]))
    from crftag.tagger import Tagger

    gold, provenance = load_with_provenance(gold_file, input_format, encoding)
    tagger, tagged, head = None, None, {}
    if pred_file:  # another tagger's output: the model-free part of the report
        pred = read_predictions(pred_file, gold, gold_file, pred_format, encoding)
        labels, whose = sorted({t for tags in pred for t in tags}), pred_file
        head["predictions"] = pred_file
    else:
        tagger = Tagger.load(model_path)
        labels, whose = tagger.labels, "the model"
    warning = disjoint_types(labels, [s.tags for s in gold], gold_file)
    if warning:
        click.echo(f"crftag: warning: {warning.replace('the model', whose)}", err=True)
    if tagger is not None:
        seen = training_overlap(tagger.meta.get("training"), provenance)
        if seen:  # a score on training data is no estimate of anything: say so before it is read
            where = "; ".join(f"as {o['trained_as']}, sha256 {o['sha256'][:12]}" for o in seen)
            click.echo(f"crftag: warning: {gold_file} is in this model's training data ({where}): these "
                       "are not held-out scores", err=True)
        model_calibration = tagger.calibration
        if calibration:  # the raw confidences: the report applies the model's map itself
            from crftag.calibration import Calibration

            tagger.calibration = Calibration()
        tagged = list(tagger.tag_sentences(gold))
        pred = [t.tags for t in tagged]
    if write_predictions:
        _write_predictions(write_predictions, gold, pred)
    report = evaluate([s.tags for s in gold], pred)
    other = _other(other_model, gold, gold_file, pred_format, encoding)
    extras = {**head, **eval_extras(gold, pred, tagger, confusion, n_errors, n_boot, other, auc, seed)}
    if tagger is not None:
        extras["in_training_data"] = seen
    if calibration:
        from crftag.calibration import calibration_report

        extras["calibration"] = calibration_report([s.tags for s in gold], [t.entities for t in tagged],
                                                   model_calibration)
    if plot_dir:
        paths = eval_plots(report, [s.tags for s in gold], pred, Path(plot_dir))
        if calibration:
            from crftag.evaluation.plots import reliability_plot

            paths.append(reliability_plot(extras["calibration"], Path(plot_dir) / "reliability.png"))
        for path in paths:
            click.echo(f"wrote {path}", err=True)
    click.echo(render_report(report, fmt, extras), nl=False)


def _other(other: str | None, gold: list, gold_file: str, pred_format: str | None,
           encoding: str) -> tuple[str, list[list[str]]] | None:
    """What ``--compare`` names, and its tags on the gold sentences: a model's (tagged now), or
    a file of predictions'."""
    from crftag.evaluation.predictions import is_prediction_file, read_predictions
    from crftag.tagger import Tagger

    if other is None:
        return None
    if is_prediction_file(other):
        return other, read_predictions(other, gold, gold_file, pred_format, encoding)
    return other, [t.tags for t in Tagger.load(named_model(None, None, other)).tag_sentences(gold)]


def _write_predictions(path: str, gold: list, pred: list[list[str]]) -> None:
    """``token gold predicted`` lines, a blank line after each sentence: conlleval's input."""
    with output_to(path) as out:
        for sent, tags in zip(gold, pred, strict=True):
            out.writelines(f"{t} {g} {p}\n" for t, g, p in zip(sent.tokens, sent.tags, tags, strict=True))
            out.write("\n")


@click.command()
@click.argument("data")
@click.option("--against", "reference", metavar="DATA",
              help="Out-of-vocabulary rate of DATA's tokens against this split (e.g. the training set).")
@input_format_option()
@report_format_option(("text", "json"))
@click.option("--plots", "plot_dir", type=click.Path(file_okay=False),
              help="Write PNGs: entities per type, labels, sentence lengths, tag transitions.")
@encoding_option
def stats(data: str, reference: str | None, input_format: str | None, fmt: str,
          plot_dir: str | None, encoding: str) -> None:
    """Corpus statistics of a labelled file: counts, labels, entities per type,
    sentence lengths, tag transitions, and the OOV rate against another split.

    \b
    Examples:
      crftag stats wnut16:train
      crftag stats wnut16:dev --against wnut16:train --plots plots/
    """
    from crftag.evaluation.report import stats_text
    from crftag.evaluation.stats import corpus_stats
    from crftag.resources.corpora import load_labelled

    if plot_dir:  # before anything is printed: a missing matplotlib or a bad folder stops it now
        from crftag.evaluation.plots import require_matplotlib
        from crftag.io.atomic import check_folder

        require_matplotlib()
        check_folder(plot_dir)
    sents = load_labelled(data, input_format, encoding)
    ref = load_labelled(reference, input_format, encoding) if reference else None
    result = corpus_stats(sents, ref)
    click.echo(json.dumps(result, indent=1) if fmt == "json" else stats_text(result), nl=fmt == "json")
    if plot_dir:
        from crftag.evaluation.plots import stats_plots

        for path in stats_plots(result, Path(plot_dir)):
            click.echo(f"wrote {path}", err=True)
