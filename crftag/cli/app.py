"""The ``crftag`` command line: train, tag, eval, fetch, resources, info.

Errors in user input print one line (``path:line: what is wrong``) on stderr
and exit with status 2; no traceback is shown for them.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

import click

from crftag._version import __version__
from crftag.cli.signals import (
    INTERRUPTED,
    TERMINATED,
    Interrupted,
    Terminated,
    install_handlers,
    signal_code,
    stop,
)
from crftag.errors import CrftagError, DataError, ModelError, OutputError, one_line
from crftag.limits import MAX_LINE_BYTES, MAX_TOKENS

EXIT_USER_ERROR = 2


def _lean_numba() -> None:
    """Import numba without scipy, in the commands that tag.

    numba imports scipy to check its version (0.14 s), and its first compiled call
    imports scipy.linalg to see whether BLAS is there for np.cov/np.correlate (0.2-0.3 s);
    crftag's kernels use neither. The command line owns its process, so it lets numba
    start without them; anything that imports scipy later (training) gets it as usual.
    """
    if "numba" in sys.modules or "scipy" in sys.modules:
        return
    sys.modules["scipy"] = None  # type: ignore[assignment]  # `import scipy` raises ImportError
    try:
        import numba.np.arraymath  # noqa: F401  (what numba's first call would import)
    except ImportError:
        pass  # a numba that needs scipy: it will import it when asked
    finally:
        del sys.modules["scipy"]


def _key_values(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict:
    out = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {item!r}", ctx=ctx, param=param)
        out[key.strip()] = value.strip()
    return out


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="crftag")
def cli() -> None:
    """crftag: fast feature-based named-entity tagging for tweets.

    \b
    Typical session:
      crftag fetch wnut16:train wnut16:dev
      crftag train wnut16:train --dev wnut16:dev -o wnut16.crftag
      crftag eval -m wnut16.crftag wnut16:dev
      echo "Watching the Lakers game in LA with @jimmy" | crftag tag -m wnut16.crftag

    Wherever a data file is expected, a registry name such as wnut16:train works
    too (see `crftag resources`).
    """


@cli.command()
@click.argument("train_files", nargs=-1, required=True, metavar="TRAIN_FILE...")
@click.option("--dev", "dev_file", metavar="DEV_FILE", help="Dev set: scored after training, "
              "and used by backends that tune on it (sgd's alpha grid).")
@click.option("--backend", default="crf", show_default=True,
              help="crf, sgd, bilstm-crf or any installed plugin (see `crftag backends`).")
@click.option("--features", default="twitter", show_default=True, metavar="NAME_OR_PATH",
              help="Feature set: a shipped name or a .toml file.")
@click.option("-o", "--output", "model_path", required=True, type=click.Path(dir_okay=False),
              help="Where to write the model file.")
@click.option("--input-format", "--format", "fmt", type=click.Choice(["conll", "csv", "jsonl"]),
              help="Input format (default: the registry's for a registry name, else from the extension, "
                   "else conll). --format is the old spelling.")
@click.option("-p", "--param", "params", multiple=True, callback=_key_values, metavar="KEY=VALUE",
              help="Backend parameter, e.g. -p c1=0.1 -p algorithm=ap (repeatable).")
@click.option("--seed", default=0, show_default=True, help="Random seed (sgd, bilstm-crf; training order).")
@click.option("--oversample", default=1, show_default=True, type=click.IntRange(min=1),
              help="Repeat sentences with rare entity types this many times in all.")
@click.option("--empty-fraction", default=0.5, show_default=True, type=click.FloatRange(0, 1, min_open=True),
              help="Keep this share of the training sentences that name no entity (recall up; 1: all).")
@click.option("--bags", default=1, show_default=True, type=click.IntRange(min=1),
              help="Train this many models, each keeping different entity-less sentences, and "
                   "average their weights into one (crf, sgd).")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]),
              help="Where a neural backend trains (auto: a CUDA GPU when torch sees one).")
@click.option("--encoding", default="utf-8", show_default=True,
              help="Text encoding of the input files (e.g. latin-1).")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
def train(train_files: tuple[str, ...], dev_file: str | None, backend: str, features: str,
          model_path: str, fmt: str | None, params: dict, seed: int, oversample: int, empty_fraction: float,
          bags: int, device: str | None, encoding: str, quiet: bool) -> None:
    """Train a model from labelled data (several TRAIN_FILEs are concatenated).

    \b
    Examples:
      crftag train wnut16:train --dev wnut16:dev -o wnut16.crftag
      crftag train wnut16:train wnut16:dev -o final.crftag -p c1=0.1 -p c2=0.05
      crftag train wnut16:train --dev wnut16:dev --backend sgd -o sgd.crftag
      crftag train ner_dataset.csv --features minimal -o gmb.crftag
      crftag train wnut16:train --dev wnut16:dev --backend bilstm-crf --device cpu -o bl.crftag
    """
    from crftag.backends import coerce_params, get_backend
    from crftag.io.atomic import check_output
    from crftag.train import train as train_tagger

    inputs = [f for f in (*train_files, dev_file) if f is not None]
    check_output(model_path, inputs)  # before the work: a bad -o is found now, not after training
    backend_cls = get_backend(backend)
    typed = coerce_params(backend_cls, params)
    if device is not None:
        if "device" not in backend_cls.param_names():
            raise CrftagError(f"backend {backend!r} has no device to choose (it runs on the CPU)")
        typed["device"] = device
    from crftag.progress import TrainingBar

    t0 = time.perf_counter()
    with TrainingBar(f"training {backend}") if not quiet else contextlib.nullcontext(False) as progress:
        tagger = train_tagger(list(train_files), dev=dev_file, backend=backend, features=features,
                              fmt=fmt, seed=seed, progress=progress, oversample=oversample,
                              empty_fraction=empty_fraction, bags=bags, encoding=encoding, **typed)
    elapsed = time.perf_counter() - t0
    tagger.save(model_path)
    if quiet:
        return
    tr = tagger.meta["training"]
    click.echo(f"trained {backend} on {tr['sentences']} sentences ({tr['tokens']} tokens) "
               f"in {elapsed:.1f}s; model written to {model_path}")
    fit = tagger.meta.get("fit_info") or {}
    if fit.get("alpha_search_dev_f1"):
        grid = ", ".join(f"{a}: {f:.2f}" for a, f in fit["alpha_search_dev_f1"].items())
        click.echo(f"alpha grid (dev F1): {grid}; chosen alpha={fit['alpha']:g}")
    if "dev_scores" in tagger.meta:
        o = tagger.meta["dev_scores"]["overall"]
        click.echo(f"dev: precision {o['precision']:.2f}  recall {o['recall']:.2f}  F1 {o['f1']:.2f}")


@contextlib.contextmanager
def _output(path: str | None) -> Iterator[TextIO]:
    if path is None or path == "-":
        yield sys.stdout
        return
    from crftag.io.atomic import atomic_write

    with atomic_write(path, "w", encoding="utf-8", newline="\n") as fh:
        yield fh


def _inputs_of(paths: list) -> list[str]:
    """The input files among ``paths`` (standard input left out), for output checks."""
    return [os.fspath(p) for p in paths if p is not None and os.fspath(p) != "-"]


@cli.command()
@click.option("-m", "--model", "model_path", required=True, help="Model file.")
@click.argument("inputs", nargs=-1, metavar="[INPUT...]")
@click.option("--input-format", type=click.Choice(["text", "conll", "jsonl", "csv"]),
              help="Default: the registry's format for a registry name, else from the extension, "
                   "else text (one tweet per line).")
@click.option("--output-format", type=click.Choice(["conll", "jsonl", "text"]), default="conll",
              show_default=True)
@click.option("-o", "--output", help="Output file (written atomically; a device or FIFO is written "
                                     "through); default stdout. May not be an input or the model.")
@click.option("--min-confidence", type=click.FloatRange(0, 1), default=None,
              help="Drop entities whose probability (exact span and type) is below this; "
                   "their tokens become O.")
@click.option("--batch-size", type=click.IntRange(min=1), default=None,
              help="Sentences tagged (and written, then flushed) together. Default 256, or 1 when "
                   "standard input is a terminal; 1 answers each line before reading the next.")
@click.option("--encoding", default="utf-8", show_default=True,
              help="Text encoding of the input files (e.g. latin-1).")
@click.option("-j", "--workers", type=click.IntRange(min=1), default=None,
              help="Processes tagging text or CoNLL files in parallel (default: one per core; "
                   "output is the same bytes with any number).")
@click.option("--max-line-bytes", type=click.IntRange(min=1), default=MAX_LINE_BYTES, show_default=True,
              help="A longer input line is an error naming it (read no further than this).")
@click.option("--max-tokens", type=click.IntRange(min=1), default=MAX_TOKENS, show_default=True,
              help="A sentence with more tokens is an error naming its line.")
@click.option("--model-sha256", metavar="HEX", default=None,
              help="Refuse the model unless its file has this sha256 (pin a trusted file).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar or summary on a terminal.")
def tag(model_path: str, inputs: tuple[str, ...], input_format: str | None, output_format: str,
        output: str | None, min_confidence: float | None, batch_size: int | None,
        encoding: str, workers: int | None, max_line_bytes: int, max_tokens: int,
        model_sha256: str | None, quiet: bool) -> None:
    """Tag tweets. Reads INPUT files, or standard input when none is given.

    On a terminal, a bar shows how much of the input files is done, and a summary line
    follows (-q: neither). A line over --max-line-bytes or a sentence over --max-tokens
    stops the command with one line naming it; nothing is left at -o.

    \b
    Examples:
      echo "Obama visits Paris with @UN" | crftag tag -m wnut16.crftag
      crftag tag -m wnut16.crftag tweets.txt --output-format jsonl -o tagged.jsonl
      crftag tag -m wnut16.crftag wnut16:dev
      crftag tag -m wnut16.crftag big.txt --output-format text -j 4 -o tagged.txt
      crftag tag -m wnut16.crftag tweets.txt --output-format jsonl --min-confidence 0.8
      crftag tag -m wnut16.crftag tweets.txt --model-sha256 $(sha256sum wnut16.crftag | cut -c1-64)
    """
    _lean_numba()
    from crftag.io.atomic import check_output
    from crftag.io.readers import guess_format, read, sniff_conll
    from crftag.io.writers import WRITERS
    from crftag.progress import TagProgress
    from crftag.resources.registry import resolve_data_format
    from crftag.tagger import Tagger

    sources = [resolve_data_format(p) for p in inputs] or [(Path("-"), None)]
    if output not in (None, "-"):
        check_output(output, [model_path, *_inputs_of([src for src, _ in sources])])
    tagger = Tagger.load(model_path, sha256=model_sha256)
    write = WRITERS[output_format]
    interactive = not inputs and sys.stdin.isatty()
    if batch_size is None:
        batch_size = 1 if interactive else 256
    if workers is None:
        workers = 1 if interactive else os.cpu_count() or 1
    total = sum(os.path.getsize(src) for src, _ in sources if os.fspath(src) != "-" and src.is_file())
    limits = {"max_line_bytes": max_line_bytes, "max_tokens": max_tokens}
    with _output(output) as out, TagProgress(total or None, enabled=not quiet) as progress:
        for src, known in sources:  # streamed: one batch in memory at a time
            fmt = input_format or known or guess_format(src, "text")
            if input_format is None and known is None and fmt == "text":
                line = sniff_conll(src, encoding)
                if line is not None:
                    raise DataError(src, line, "looks like CoNLL ('token<TAB>tag' lines), not one tweet per "
                                               "line; pass --input-format conll (or --input-format text)")
            if tagger._fast is not None and fmt in ("text", "conll") and output_format in ("text", "conll"):
                _tag_bulk(tagger, src, fmt, output_format, min_confidence, encoding, workers, out, limits,
                          progress)
                continue
            sentences = read(src, fmt, labelled=False, default="text", encoding=encoding,
                             on_bytes=progress.advance, **limits)
            for i, tagged in enumerate(tagger.tag_sentences(sentences, min_confidence, batch_size), 1):
                write(out, tagged)
                progress.sentences += 1
                if i % batch_size == 0:
                    out.flush()


def _tag_bulk(tagger: Any, src: Path, fmt: str, output_format: str, min_confidence: float | None,
              encoding: str, workers: int, out: TextIO, limits: dict, progress: Any) -> None:
    """Text or CoNLL in, text or CoNLL out: blocks parsed, tagged and formatted in bulk."""
    from crftag.io.bulk import BlockTagger, Job, read_blocks, tag_stream

    name = os.fspath(src)
    try:
        stream = sys.stdin.buffer if name == "-" else open(name, "rb")  # noqa: SIM115
    except OSError as exc:
        raise DataError(name, None, f"cannot open: {exc.strerror}") from None
    blank = "\n\n" if output_format == "conll" else "\n"

    def write(text: str) -> None:
        out.write(text)
        out.flush()
        progress.sentences += text.count(blank)

    try:
        tag_block = BlockTagger(tagger, Job(fmt, output_format, min_confidence, name, limits["max_tokens"]))
        tag_stream(read_blocks(name, stream, encoding, max_line_bytes=limits["max_line_bytes"],
                               on_bytes=progress.advance), tag_block, write, workers)
    except IsADirectoryError:
        raise DataError(name, None, "is a directory") from None
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()


@cli.command(name="eval")
@click.option("-m", "--model", "model_path", required=True, help="Model file.")
@click.argument("gold_file")
@click.option("--report-format", "--format", "fmt", type=click.Choice(["text", "json", "markdown"]),
              default="text", show_default=True, help="Report format (--format is the old spelling).")
@click.option("--input-format", type=click.Choice(["conll", "csv", "jsonl"]),
              help="Gold file format (default: the registry's for a registry name, else from the "
                   "extension, else conll).")
@click.option("--write-predictions", type=click.Path(dir_okay=False),
              help="Also write 'token gold predicted' lines, the input conlleval reads.")
@click.option("--confusion", is_flag=True, help="Entity-type and BIO-label confusion matrices.")
@click.option("--errors", "n_errors", default=0, show_default=True, metavar="N",
              help="Show the N most frequent false positives and negatives, with context.")
@click.option("--bootstrap", "n_boot", default=0, show_default=True, metavar="N",
              help="95% bootstrap interval for F1 from N resamples of sentences.")
@click.option("--compare", "other_model", metavar="MODEL",
              help="Paired bootstrap test against another model on the same data.")
@click.option("--auc", is_flag=True, help="Token-level ROC-AUC and PR-AUC (macro, one-vs-rest).")
@click.option("--plots", "plot_dir", type=click.Path(file_okay=False),
              help="Write PNGs: per-type P/R/F1 bars and the confusion heat maps.")
@click.option("--seed", default=0, show_default=True, help="Seed of the bootstrap resampling.")
@click.option("--encoding", default="utf-8", show_default=True,
              help="Text encoding of the input files (e.g. latin-1).")
def eval_cmd(model_path: str, gold_file: str, fmt: str, input_format: str | None,
             write_predictions: str | None, confusion: bool, n_errors: int, n_boot: int,
             other_model: str | None, auc: bool, plot_dir: str | None, seed: int, encoding: str) -> None:
    """Score a model against gold data: entity-level P/R/F1 exactly as conlleval.

    The text report starts with conlleval's own lines, then adds the no-types
    (segmentation) score and token-level macro F1 over non-O labels.

    \b
    Examples:
      crftag eval -m wnut16.crftag wnut16:dev
      crftag eval -m wnut16.crftag dev.conll --report-format json
      crftag eval -m wnut16.crftag wnut16:dev --write-predictions dev.pred
      crftag eval -m wnut16.crftag wnut16:dev --confusion --errors 10 --bootstrap 1000 --plots plots/
      crftag eval -m crf.crftag wnut16:dev --compare sgd.crftag
    """
    _lean_numba()
    from crftag.evaluation.scores import evaluate
    from crftag.io.atomic import check_folder, check_output
    from crftag.resources.corpora import load_labelled, source_paths

    if plot_dir:
        from crftag.evaluation.plots import require_matplotlib

        require_matplotlib()
        check_folder(plot_dir)
    if write_predictions:
        check_output(write_predictions, _inputs_of([model_path, *source_paths(gold_file), other_model]))
    from crftag.tagger import Tagger

    tagger = Tagger.load(model_path)
    gold = load_labelled(gold_file, input_format, encoding)
    _warn_disjoint_types(tagger.labels, gold, gold_file)
    pred = [t.tags for t in tagger.tag_sentences(gold)]
    if write_predictions:
        with _output(write_predictions) as out:
            for sent, tags in zip(gold, pred, strict=True):
                out.writelines(f"{t} {g} {p}\n" for t, g, p in zip(sent.tokens, sent.tags, tags,
                                                                    strict=True))
                out.write("\n")
    report = evaluate([s.tags for s in gold], pred)
    extras = _eval_extras(gold, pred, tagger, confusion, n_errors, n_boot, other_model, auc, seed)
    if plot_dir:
        for path in _eval_plots(report, [s.tags for s in gold], pred, Path(plot_dir)):
            click.echo(f"wrote {path}", err=True)
    if fmt == "json":
        click.echo(json.dumps({**report.to_dict(), **extras}, indent=1))
    else:
        from crftag.evaluation.analysis import render_extras

        click.echo(report.render(fmt), nl=False)
        click.echo(render_extras(extras), nl=False)


def _warn_disjoint_types(labels: list[str], gold: list, name: str) -> None:
    """Say so when the model's entity types share nothing with the gold data's: every score is
    then 0, which is rarely what was meant (a model for another tag set)."""
    from crftag.bio import split_tag

    mine = {split_tag(t)[1] for t in labels} - {""}
    theirs = {split_tag(t)[1] for s in gold for t in s.tags} - {""}
    if mine and theirs and not mine & theirs:
        click.echo(f"crftag: warning: the model's entity types ({', '.join(sorted(mine)[:6])}"
                   f"{', ...' if len(mine) > 6 else ''}) share none with {name}'s "
                   f"({', '.join(sorted(theirs)[:6])}{', ...' if len(theirs) > 6 else ''}): "
                   "every score below is 0", err=True)


def _eval_extras(gold: list, pred: list, tagger: Any, confusion: bool, n_errors: int, n_boot: int,
                 other_model: str | None, auc: bool, seed: int) -> dict:
    """The optional analyses of `crftag eval`, as one JSON-ready dict."""
    from crftag.evaluation import analysis

    tags = [s.tags for s in gold]
    extras: dict[str, Any] = {}
    if n_boot:
        extras["bootstrap"] = analysis.bootstrap_f1(tags, pred, n=n_boot, seed=seed)
    if other_model:
        from crftag.tagger import Tagger

        other = [t.tags for t in Tagger.load(other_model).tag_sentences(gold)]
        extras["compared_with"] = other_model
        extras["paired_bootstrap"] = analysis.paired_bootstrap(tags, pred, other, n=n_boot or 1000,
                                                               seed=seed)
    if auc:
        probs = analysis.token_probabilities(tagger, [s.tokens for s in gold])
        extras["token_scores"] = "classifier probabilities" if tagger.backend == "sgd" else "CRF marginals"
        extras["token_auc"] = analysis.token_auc(tags, probs, tagger.labels)
    if confusion:
        rows, cols, m = analysis.type_confusion(tags, pred)
        extras["type_confusion"] = {"rows": rows, "cols": cols, "counts": m.tolist()}
        labels, lm = analysis.label_confusion(tags, pred)
        extras["label_confusion"] = {"labels": labels, "counts": lm.tolist()}
    if n_errors:
        extras["errors"] = analysis.frequent_errors([s.tokens for s in gold], tags, pred, top=n_errors)
    return extras


def _eval_plots(report: Any, tags: list, pred: list, out: Path) -> list[Path]:
    """Per-type P/R/F1 bars and the two confusion heat maps."""
    from crftag.evaluation import analysis, plots

    rows, cols, types = analysis.type_confusion(tags, pred)
    labels, bio = analysis.label_confusion(tags, pred)
    return [plots.grouped_bars(report.per_type, ["precision", "recall", "f1"],
                               "precision / recall / F1 per entity type", out / "per_type_prf.png"),
            plots.heatmap(types, rows, cols, "entity-type confusion (exact spans)",
                          out / "type_confusion.png", "predicted", "gold"),
            plots.heatmap(bio, labels, labels, "BIO label confusion (tokens)",
                          out / "label_confusion.png", "predicted", "gold")]


@cli.command()
@click.argument("data")
@click.option("--against", "reference", metavar="DATA",
              help="Out-of-vocabulary rate of DATA's tokens against this split (e.g. the training set).")
@click.option("--input-format", type=click.Choice(["conll", "csv", "jsonl"]),
              help="Format of DATA (default: from the extension, else conll).")
@click.option("--report-format", "--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="Report format (--format is the old spelling).")
@click.option("--plots", "plot_dir", type=click.Path(file_okay=False),
              help="Write PNGs: entities per type, labels, sentence lengths, tag transitions.")
@click.option("--encoding", default="utf-8", show_default=True,
              help="Text encoding of the input files (e.g. latin-1).")
def stats(data: str, reference: str | None, input_format: str | None, fmt: str,
          plot_dir: str | None, encoding: str) -> None:
    """Corpus statistics of a labelled file: counts, labels, entities per type,
    sentence lengths, tag transitions, and the OOV rate against another split.

    \b
    Examples:
      crftag stats wnut16:train
      crftag stats wnut16:dev --against wnut16:train --plots plots/
    """
    from crftag.evaluation.stats import corpus_stats, render_text
    from crftag.resources.corpora import load_labelled

    if plot_dir:  # before anything is printed: a missing matplotlib or a bad folder stops it now
        from crftag.evaluation.plots import require_matplotlib
        from crftag.io.atomic import check_folder

        require_matplotlib()
        check_folder(plot_dir)
    sents = load_labelled(data, input_format, encoding)
    ref = load_labelled(reference, input_format, encoding) if reference else None
    result = corpus_stats(sents, ref)
    click.echo(json.dumps(result, indent=1) if fmt == "json" else render_text(result), nl=fmt == "json")
    if plot_dir:
        for path in _stats_plots(result, Path(plot_dir)):
            click.echo(f"wrote {path}", err=True)


def _stats_plots(result: dict, out: Path) -> list[Path]:
    import numpy as np

    from crftag.evaluation import plots

    hist = {f"{b['from']}-{b['to']}": b["sentences"] for b in result["length_histogram"]}
    tr = result["transitions"]
    return [plots.bars(result["entities"], "entity mentions per type", "mentions", out / "entities.png"),
            plots.bars({k: v for k, v in result["labels"].items() if k != "O"},
                       "tokens per label (O left out)", "tokens", out / "labels.png"),
            plots.bars(hist, "sentence length (tokens)", "sentences", out / "lengths.png"),
            plots.heatmap(np.array(tr["counts"]), tr["from"], tr["to"], "tag transitions",
                          out / "transitions.png", "to", "from")]


@cli.command()
@click.argument("names", nargs=-1, required=True, metavar="NAME...")
def fetch(names: tuple[str, ...]) -> None:
    """Fetch registry resources into the cache (verifying sha256) and print their paths.

    Looks in the cache ($CRFTAG_HOME), then the mirror ($CRFTAG_MIRROR), then
    downloads.

    \b
    Examples:
      crftag fetch wnut16:train wnut16:dev
      CRFTAG_MIRROR=/data/crftag-mirror crftag fetch lexicons:wnut16
    """
    from crftag.resources.registry import default_registry

    reg = default_registry()
    for name in names:
        click.echo(f"{name}\t{reg.fetch(name, show_progress=True)}")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def resources(as_json: bool) -> None:
    """List the resources the registry knows, and which are cached.

    \b
    Example:
      crftag resources
    """
    from crftag.resources.registry import default_registry

    reg = default_registry()
    rows = [{"name": r.name, "kind": r.kind, "cached": reg.is_cached(r.name),
             "files": len(r.files) or 1, "url": r.url, "description": r.description}
            for r in reg.entries.values()]
    if as_json:
        click.echo(json.dumps({"cache": str(reg.cache), "mirror": str(reg.mirror or ""),
                               "resources": rows}, indent=2))
        return
    click.echo(f"cache: {reg.cache}    mirror: {reg.mirror or '(none; set CRFTAG_MIRROR)'}")
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        mark = "cached" if r["cached"] else "-"
        click.echo(f"{r['name']:<{width}}  {r['kind']:<9} {mark:<7} {r['description']}")


@cli.command()
@click.argument("model_path", metavar="MODEL")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def info(model_path: str, as_json: bool) -> None:
    """Describe a model file: backend, features, labels, training data, dev scores.

    \b
    Example:
      crftag info wnut16.crftag
    """
    _lean_numba()
    from crftag.tagger import Tagger

    details = Tagger.load(model_path).info()
    if as_json:
        click.echo(json.dumps(details, indent=2))
        return
    for key, value in details.items():
        if key == "dev_scores":
            o = value["overall"]
            value = f"precision {o['precision']:.2f}  recall {o['recall']:.2f}  F1 {o['f1']:.2f}"
        elif key == "lexicon":
            lists = value.get("gazetteer_lists") or []
            sources = ", ".join(f"{ref} ({len(files)} file{'s' * (len(files) != 1)})"
                                for ref, files in value.get("sources", {}).items())
            value = (f"clusters for {value.get('cluster_groups') or 'none'}; {len(lists)} gazetteer "
                     f"lists; from {sources or 'nothing'} (sha256 of each file: --json)")
        elif isinstance(value, (dict, list)):
            value = json.dumps(value)
        click.echo(f"{key}: {value}")


@cli.group()
def features() -> None:
    """Inspect feature sets (the TOML files in features/, or your own).

    \b
    Examples:
      crftag features list
      crftag features kinds
      crftag features show twitter --example "Obama in Paris" --token 2
    """


@features.command(name="list")
def features_list() -> None:
    """List the shipped feature sets.

    \b
    Example:
      crftag features list
    """
    from crftag.features.featureset import available, load_feature_set

    names = list(available())
    width = max(map(len, names), default=0)
    for name in names:
        click.echo(f"{name:<{width}}  {load_feature_set(name).description}")


@features.command(name="kinds")
def features_kinds() -> None:
    """List the feature group kinds, their options and defaults.

    \b
    Example:
      crftag features kinds
    """
    from crftag.features.kinds import COMMON, KINDS

    click.echo("every group: " + "; ".join(f"{k} ({o.help}, default {o.default})" for k, o in COMMON.items()
                                          if k != "kind"))
    for kind in KINDS.values():
        click.echo(f"\n{kind.name}: {kind.help}")
        for key, opt in kind.options.items():
            default = "required" if opt.required else f"default {opt.default}"
            choices = f"; one of {', '.join(opt.choices)}" if opt.choices else ""
            click.echo(f"  {key}: {opt.help} ({default}{choices})")


@features.command(name="show")
@click.argument("name_or_path")
@click.option("--example", default="RT @NYCMayor : Watching the Knicks at Madison Square Garden #NBA",
              show_default=True, help="A tweet whose features are printed (needs the resources).")
@click.option("--token", type=int, default=None, help="Only this token of the example.")
def features_show(name_or_path: str, example: str, token: int | None) -> None:
    """Print what a feature set expands to, and the features of an example tweet.

    \b
    Examples:
      crftag features show twitter
      crftag features show my_features.toml --example "Obama in Paris" --token 2
    """
    from crftag.features.featureset import load_feature_set
    from crftag.features.featurize import ReferenceFeaturizer
    from crftag.features.lexicon import build_lexicon
    from crftag.text.tokenize import tokenize

    fs = load_feature_set(name_or_path)
    click.echo(fs.describe())
    tokens = tokenize(example)[0]
    per_token = ReferenceFeaturizer(fs, build_lexicon(fs)).featurize(tokens)
    for i, (tok, feats) in enumerate(zip(tokens, per_token, strict=True)):
        if token is None or token == i:
            click.echo(f"\n[{i}] {tok}: {len(feats)} features")
            click.echo("  " + "  ".join(sorted(feats)))


def _value_lists(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict:
    """``KEY=V1,V2,...`` options as {key: [raw values]}."""
    return {k: [v.strip() for v in raw.split(",")] for k, raw in _key_values(ctx, param, values).items()}


@cli.command()
@click.argument("train_files", nargs=-1, required=True, metavar="TRAIN_FILE...")
@click.option("--dev", "dev_file", required=True, metavar="DEV_FILE", help="Candidates are ranked on it.")
@click.option("--backend", default="crf", show_default=True)
@click.option("--grid", "grid", multiple=True, callback=_value_lists, metavar="KEY=V1,V2,...",
              help="Values to try for a backend parameter (repeatable). Default: a built-in space "
                   "(crf: c1 x c2; sgd: alpha x class_weight).")
@click.option("--features", "feature_sets", default="twitter", show_default=True,
              help="Comma-separated feature sets to try.")
@click.option("--random", "n_random", type=click.IntRange(min=1), metavar="N",
              help="Try N candidates drawn at random from the grid instead of all of them.")
@click.option("--seed", default=0, show_default=True, help="Seed of the draw and of every training.")
@click.option("-j", "--jobs", "n_jobs", default=1, show_default=True, help="Trainings run in parallel.")
@click.option("-o", "--output", "model_path", type=click.Path(dir_okay=False),
              help="Write the best candidate's model here.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Also save the table as JSON.")
def search(train_files: tuple[str, ...], dev_file: str, backend: str, grid: dict, feature_sets: str,
           n_random: int | None, seed: int, n_jobs: int, model_path: str | None,
           json_path: str | None) -> None:
    """Hyperparameter search: train each candidate, rank by dev F1, keep the best model.

    \b
    Examples:
      crftag search wnut16:train --dev wnut16:dev -j 2 -o best.crftag
      crftag search wnut16:train --dev wnut16:dev --grid c1=0,0.05 --grid c2=0.05,0.1,0.2
      crftag search wnut16:train --dev wnut16:dev --backend sgd --features twitter,surface
      crftag search wnut16:train --dev wnut16:dev --grid algorithm=lbfgs,ap,pa --random 2 --seed 1
    """
    from crftag.backends import coerce_params, get_backend
    from crftag.io.atomic import atomic_write, check_output
    from crftag.tools.search import DEFAULT_SPACES
    from crftag.tools.search import search as run_search

    for out in (model_path, json_path):  # before the trainings: a bad output is found now
        if out is not None:
            check_output(out, [*train_files, dev_file])
    cls = get_backend(backend)
    if grid:
        space = {k: [coerce_params(cls, {k: v})[k] for v in values] for k, values in grid.items()}
    elif backend in DEFAULT_SPACES:
        space = DEFAULT_SPACES[backend]
    else:
        raise CrftagError(f"no default search space for backend {backend!r}; give --grid KEY=V1,V2")
    train_arg = list(train_files) if len(train_files) > 1 else train_files[0]
    ranked = run_search(train_arg, dev_file, backend, space,
                        [f.strip() for f in feature_sets.split(",") if f.strip()], n_random, seed,
                        n_jobs, model_path, progress=True)
    click.echo("| rank | features | " + " | ".join(sorted(space)) + " | dev P | dev R | dev F1 | train s |")
    click.echo("|---|---|" + "---|" * len(space) + "---:|---:|---:|---:|")
    for i, r in enumerate(ranked, 1):
        cells = [str(r["params"][k]) for k in sorted(space)]
        click.echo(f"| {i} | {r['features']} | " + " | ".join(cells) + f" | {r['dev_precision']:.2f} | "
                   f"{r['dev_recall']:.2f} | {r['dev_f1']:.2f} | {r['train_s']:.1f} |")
    if model_path:
        click.echo(f"best model (rank 1) written to {model_path}")
    if json_path:
        with atomic_write(json_path) as fh:
            fh.write(json.dumps({"backend": backend, "seed": seed, "results": ranked}, indent=1))


@cli.command()
@click.argument("train_files", nargs=-1, required=True, metavar="TRAIN_FILE...")
@click.option("--dev", "dev_file", required=True, metavar="DEV_FILE")
@click.option("--backend", default="crf", show_default=True)
@click.option("--features", default="twitter", show_default=True, metavar="NAME_OR_PATH")
@click.option("-p", "--param", "params", multiple=True, callback=_key_values, metavar="KEY=VALUE")
@click.option("--runs", default=5, show_default=True, help="Trainings (seeds 1..N).")
@click.option("--vary", type=click.Choice(["both", "order", "seed"]), default="both", show_default=True,
              help="What each seed changes: the training order, the backend's seed, or both.")
@click.option("--threshold", default=1.0, show_default=True,
              help="Flag a standard deviation of dev F1 above this many points.")
@click.option("-j", "--jobs", "n_jobs", default=1, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def stability(train_files: tuple[str, ...], dev_file: str, backend: str, features: str, params: dict,
              runs: int, vary: str, threshold: float, n_jobs: int, as_json: bool) -> None:
    """Retrain with several seeds and report the mean and spread of dev F1.

    Exits with status 1 when the standard deviation exceeds --threshold.

    \b
    Examples:
      crftag stability wnut16:train --dev wnut16:dev --runs 5 -j 2
      crftag stability wnut16:train --dev wnut16:dev --backend sgd --vary seed
    """
    from crftag.backends import coerce_params, get_backend
    from crftag.tools.search import stability as run_stability

    typed = coerce_params(get_backend(backend), params)
    train_arg = list(train_files) if len(train_files) > 1 else train_files[0]
    result = run_stability(train_arg, dev_file, backend, features, typed, runs, vary, n_jobs, threshold,
                           progress=True)
    if as_json:
        click.echo(json.dumps(result, indent=1))
    else:
        for r in result["runs"]:
            click.echo(f"run {r['run']}: dev F1 {r['dev_f1']:.2f} ({r['train_s']:.1f}s)")
        click.echo(f"{backend}, vary {vary}, {runs} runs: mean {result['mean']:.2f}, "
                   f"std {result['std']:.2f}, min {result['min']:.2f}, max {result['max']:.2f}")
        if result["flagged"]:
            click.echo(f"UNSTABLE: std {result['std']:.2f} exceeds {threshold:.2f} F1 points")
    if result["flagged"]:
        sys.exit(1)


@cli.command()
@click.argument("data")
@click.option("--dev-fraction", default=0.2, show_default=True, help="Share of sentences for dev.")
@click.option("--seed", default=0, show_default=True)
@click.option("--train-out", required=True, type=click.Path(dir_okay=False))
@click.option("--dev-out", required=True, type=click.Path(dir_okay=False))
@click.option("--input-format", type=click.Choice(["conll", "csv", "jsonl"]))
@click.option("--encoding", default="utf-8", show_default=True,
              help="Text encoding of the input files (e.g. latin-1).")
def split(data: str, dev_fraction: float, seed: int, train_out: str, dev_out: str,
          input_format: str | None, encoding: str) -> None:
    """Split one labelled file into train and dev by sentence, stratified by whether a
    sentence has an entity (no sentence is on both sides); written as CoNLL.

    \b
    Example:
      crftag split ner_dataset.csv --dev-fraction 0.2 --train-out train.conll --dev-out dev.conll
    """
    from crftag.errors import OutputError
    from crftag.io.atomic import atomic_write, check_output
    from crftag.io.writers import write_conll
    from crftag.resources.corpora import load_labelled, source_paths
    from crftag.resources.split import stratified_split
    from crftag.types import Tagged

    if os.path.abspath(train_out) == os.path.abspath(dev_out):
        raise OutputError(dev_out, "is also --train-out; give two files")
    inputs = source_paths(data)
    for out in (train_out, dev_out):
        check_output(out, inputs)
    sents = load_labelled(data, input_format, encoding)
    train_part, dev_part = stratified_split(sents, dev_fraction, seed)
    for path, part in ((train_out, train_part), (dev_out, dev_part)):
        with atomic_write(path) as fh:
            for s in part:
                write_conll(fh, Tagged(s, s.tags, []))
        with_entities = sum(any(t != "O" for t in s.tags) for s in part)
        click.echo(f"{path}: {len(part)} sentences ({with_entities} with entities)")


@cli.command(name="spark-tag")
@click.argument("input_path", metavar="INPUT")
@click.argument("output_path", metavar="OUTPUT")
@click.option("-m", "--model", "model_path", required=True, help="Model file (broadcast once).")
@click.option("--text-col", default="text", show_default=True, help="Column of texts to tag.")
@click.option("--tokens-col", help="Tag this column of token arrays instead of texts.")
@click.option("--output-col", default="entities", show_default=True)
@click.option("--input-format", type=click.Choice(["jsonl", "parquet"]),
              help="Default: parquet for *.parquet, else jsonl.")
@click.option("--output-format", type=click.Choice(["jsonl", "parquet"]),
              help="Default: jsonl for *.jsonl / *.json, else parquet.")
@click.option("--master", help="Spark master, passed through (e.g. local[4], spark://host:7077).")
def spark_tag(input_path: str, output_path: str, model_path: str, text_col: str, tokens_col: str | None,
              output_col: str, input_format: str | None, output_format: str | None,
              master: str | None) -> None:
    """Tag a JSONL/Parquet table on Apache Spark (pip install 'crftag[spark]').

    Adds a column of entity structs (text, type, start, end, token_start,
    token_end, score) to every row; OUTPUT is a folder of part files.

    \b
    Examples:
      crftag spark-tag tweets.jsonl tagged.parquet -m wnut16.crftag --master 'local[*]'
      crftag spark-tag archive.parquet tagged.jsonl -m wnut16.crftag --text-col body
    """
    try:
        import pyspark  # noqa: F401

        from crftag.integrations.spark import read_table, session, tag_dataframe, write_table
    except ImportError as exc:
        raise CrftagError(f"spark-tag needs pyspark: pip install 'crftag[spark]' ({exc})") from None
    if Path(output_path).exists():
        raise CrftagError(f"{output_path}: already exists; Spark writes a new folder")
    spark = session(master)
    try:
        df = read_table(spark, input_path, input_format)
        write_table(tag_dataframe(df, model_path, text_col, tokens_col, output_col), output_path,
                    output_format)
    finally:
        spark.stop()
    click.echo(f"wrote {output_path}")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def backends(as_json: bool) -> None:
    """List the installed backends (entry points in group crftag.backends) and whether they run.

    \b
    Example:
      crftag backends
    """
    from crftag.backends import list_backends

    found = list_backends()
    if as_json:
        click.echo(json.dumps([{"name": b.name, "available": b.available, "target": b.target,
                                "distribution": b.distribution, "reason": b.reason} for b in found],
                              indent=1))
        return
    width = max((len(b.name) for b in found), default=4)
    for b in found:
        status = "available" if b.available else f"unavailable: {b.reason}"
        click.echo(f"{b.name:<{width}}  {status}  [{b.target} from {b.distribution}]")


def _backend_params(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict:
    """``BACKEND.KEY=VALUE`` options, grouped by backend."""
    out: dict[str, dict[str, str]] = {}
    for key, value in _key_values(ctx, param, values).items():
        backend, sep, name = key.partition(".")
        if not sep or not name:
            raise click.BadParameter(f"expected BACKEND.KEY=VALUE, got {key!r}", ctx=ctx, param=param)
        out.setdefault(backend, {})[name] = value
    return out


@cli.command()
@click.option("--backends", "names", default="crf,sgd,bilstm-crf,transformer", show_default=True,
              help="Comma-separated backends to compare.")
@click.option("--train", "train_data", default="wnut16:train", show_default=True, metavar="DATA")
@click.option("--dev", "dev_data", default="wnut16:dev", show_default=True, metavar="DATA")
@click.option("--test", "test_data", default=None, metavar="DATA",
              help="Also score on a test set (WNUT16's is not distributed here).")
@click.option("--features", default="twitter", show_default=True, metavar="NAME_OR_PATH")
@click.option("-p", "--param", "params", multiple=True, callback=_backend_params,
              metavar="BACKEND.KEY=VALUE", help="e.g. -p bilstm-crf.max_epochs=10 (repeatable).")
@click.option("--out", "out_dir", default="bench-results", show_default=True,
              type=click.Path(file_okay=False), help="Where bench.json/.md/.png and models go.")
@click.option("--tokens", default=200_000, show_default=True, help="Tokens tagged for tokens/s.")
@click.option("--calls", default=2000, show_default=True, help="Single-tweet calls for latency.")
@click.option("--seed", default=0, show_default=True)
@click.option("--corpus", "corpora", default=None, metavar="NAME[,NAME...]",
              help="Instead of --train/--dev, each named corpus's train and dev splits "
                   "(wnut16, wnut17, btc, gmb), with a summary table across them.")
def bench(names: str, train_data: str, dev_data: str, test_data: str | None, features: str,
          params: dict, out_dir: str, tokens: int, calls: int, seed: int, corpora: str | None) -> None:
    """Compare backends on one split: F1 (overall, per type, no types), train time,
    tokens/s, latency, model size, peak memory. Each backend runs in its own process.

    \b
    Examples:
      crftag bench
      crftag bench --backends crf,sgd --out bench-quick
      crftag bench --backends crf --corpus wnut16,wnut17,btc,gmb
      crftag bench -p bilstm-crf.device=cuda -p bilstm-crf.max_epochs=20
    """
    from pathlib import Path

    from crftag.backends import coerce_params, get_backend, list_backends
    from crftag.tools.bench import run_bench

    wanted = [n.strip() for n in names.split(",") if n.strip()]
    available = {b.name for b in list_backends() if b.available}
    typed = {name: coerce_params(get_backend(name), raw) for name, raw in params.items()
             if name in available}
    unknown = set(params) - set(wanted)
    if unknown:
        raise CrftagError(f"-p names backends not being compared: {', '.join(sorted(unknown))}")
    if not corpora:
        run_bench(wanted, train_data, dev_data, test_data, features, typed, Path(out_dir),
                  tokens=tokens, calls=calls, seed=seed, echo=click.echo)
        return
    from crftag.resources.corpora import get_corpus
    from crftag.tools.bench import corpus_summary

    results = {}
    for name in (c.strip() for c in corpora.split(",") if c.strip()):
        get_corpus(name)  # an unknown name fails before any training
        click.echo(f"== corpus {name}")
        results[name] = run_bench(wanted, f"corpus:{name}/train", f"corpus:{name}/dev", None, features,
                                  typed, Path(out_dir) / name, tokens=tokens, calls=calls, seed=seed,
                                  echo=click.echo)
    click.echo(corpus_summary(results, Path(out_dir)))


def _can_listen(host: str, port: int) -> None:
    """Fail early, in one line, when the address is taken (uvicorn would log and exit 1)."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise CrftagError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    family, kind, proto, _, addr = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(addr)
        except OSError as exc:
            raise CrftagError(f"cannot listen on {host}:{port}: {exc.strerror}") from None


@cli.command()
@click.option("-m", "--model", "model_path", required=True, help="Model file.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0 for every interface).")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1),
              help="Processes, each with its own copy of the model (uvicorn workers).")
@click.option("--max-batch", default=256, show_default=True, type=click.IntRange(min=1),
              help="Most texts tagged in one compiled call; 1 turns micro-batching off.")
@click.option("--max-wait-ms", default=2.0, show_default=True, type=click.FloatRange(min=0),
              help="Longest a batch waits for more requests; it waits only for as many as the last "
                   "batch served, so a lone request is tagged at once.")
@click.option("--max-body-bytes", default=1 << 20, show_default=True, type=click.IntRange(min=1),
              help="Limit: request body size (413 body_too_large).")
@click.option("--max-texts", default=1000, show_default=True, type=click.IntRange(min=1),
              help="Limit: texts or token lists per request (413 too_many_texts).")
@click.option("--max-text-chars", default=10_000, show_default=True, type=click.IntRange(min=1),
              help="Limit: characters per text; a token list counts its tokens joined by spaces "
                   "(413 text_too_long).")
@click.option("--max-queue", default=10_000, show_default=True, type=click.IntRange(min=1),
              help="Limit: texts waiting for the tagger before requests are refused (503 overloaded).")
@click.option("--graceful-timeout", default=30.0, show_default=True, type=click.FloatRange(min=0),
              help="On SIGTERM, seconds in-flight requests get to be answered.")
@click.option("--access-log", is_flag=True, help="One JSON line per request on stderr.")
@click.option("--admin-token", envvar="CRFTAG_ADMIN_TOKEN", metavar="TOKEN",
              help="Bearer token for POST /admin/reload (or $CRFTAG_ADMIN_TOKEN); without one, "
                   "admin endpoints answer loopback clients only.")
@click.option("--log-level", type=click.Choice(["critical", "error", "warning", "info", "debug"]),
              default="info", show_default=True, help="uvicorn's log level.")
def serve(model_path: str, host: str, port: int, workers: int, max_batch: int, max_wait_ms: float,
          max_body_bytes: int, max_texts: int, max_text_chars: int, max_queue: int,
          graceful_timeout: float, access_log: bool, admin_token: str | None, log_level: str) -> None:
    """Serve the tagger over HTTP (pip install 'crftag[serve]'): Starlette on uvicorn.

    \b
    POST /v1/tag      {"text": "..."} | {"texts": [...]} | {"tokens": [[...], ...]},
                      optional "min_confidence"; answers as `crftag tag --output-format jsonl`
    GET  /healthz     alive          GET /readyz   model loaded (503 until then)
    GET  /v1/model    crftag info --json          GET /metrics  Prometheus text format
    POST /admin/reload  reload the model file (also SIGHUP); a bad file keeps the old model

    Concurrent requests are micro-batched into one compiled call. Bad input gets a 4xx
    with one line of JSON, {"error": ..., "kind": ...}. SIGTERM stops accepting, answers
    the requests in flight, and exits 0.

    \b
    Examples:
      crftag serve -m wnut16.crftag
      crftag serve -m wnut16.crftag --host 0.0.0.0 --port 9000 --workers 2 --access-log
      curl -s localhost:8080/v1/tag -H 'Content-Type: application/json' -d '{"text": "Obama in Paris"}'
    """
    try:
        import prometheus_client  # noqa: F401
        import starlette  # noqa: F401
        import uvicorn

        from crftag.integrations import serve as serving
    except ImportError as exc:
        raise CrftagError(f"serve needs the serve extra: pip install 'crftag[serve]' "
                          f"(missing {exc.name})") from None
    if max_queue < max_texts:
        raise CrftagError(f"--max-queue ({max_queue}) must hold at least one full request "
                          f"(--max-texts {max_texts})")
    _lean_numba()
    config = serving.ServeConfig(model_path, max_batch, max_wait_ms, max_body_bytes, max_texts,
                                 max_text_chars, max_queue, access_log, admin_token, workers)
    _can_listen(host, port)
    if workers == 1:
        target: Any = serving.create_app(config, serving.load_model(model_path))
    else:  # each worker loads the model itself; check the file once here, for a one-line error
        from crftag.io.modelfile import load_model

        load_model(model_path)
        os.environ[serving.CONFIG_ENV] = config.to_env()
        target = "crftag.integrations.serve:app_from_env"
    stopped: list[int] = []
    previous = {sig: signal.signal(sig, lambda signum, frame: stopped.append(signum))
                for sig in (signal.SIGINT, signal.SIGTERM)}  # uvicorn re-raises what stopped it
    try:
        uvicorn.run(target, factory=workers > 1, host=host, port=port, workers=workers,
                    log_level=log_level, access_log=False, timeout_graceful_shutdown=graceful_timeout,
                    lifespan="on")
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    how = f" on {signal.Signals(stopped[0]).name}" if stopped else ""
    click.echo(f"crftag serve: stopped{how}", err=True)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI, turning user errors into one line and exit status 2.

    SIGINT and SIGTERM stop the command with one line and status 130 / 143; files
    being written (models, outputs) are temporary files until complete, so an
    interrupted command leaves nothing half-written behind. An output that cannot be
    written (a full disk, standard output closed) is one line too.
    """
    install_handlers()
    try:
        cli.main(args=argv, prog_name="crftag", standalone_mode=False)
        sys.stdout.flush()  # a full disk behind standard output shows here, not at exit
    except click.UsageError as exc:  # one line, like every other user error
        cmd = exc.ctx.command_path if exc.ctx else "crftag"
        _fail(f"{cmd}: {exc.format_message()} (see '{cmd} --help')")
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.Abort:
        stop(INTERRUPTED)
    except (DataError, ModelError, OutputError) as exc:
        _fail(str(exc))
    except CrftagError as exc:
        _fail(f"crftag: {exc}")
    except BrokenPipeError:  # e.g. `crftag tag ... | head`
        _quiet_stdout()
        sys.stderr.close()
        sys.exit(1)
    except (KeyboardInterrupt, Interrupted):
        stop(INTERRUPTED)
    except Terminated:
        stop(TERMINATED)
    except OSError as exc:  # e.g. ENOSPC on standard output: one line, not a traceback
        code = signal_code(exc)
        if code is not None:
            stop(code)
        where = exc.filename if exc.filename is not None else "crftag"
        _quiet_stdout()
        _fail(one_line(f"{where}: {exc.strerror or exc}"))


def _fail(message: str) -> None:
    click.echo(message, err=True)
    sys.exit(EXIT_USER_ERROR)


def _quiet_stdout() -> None:
    """Point standard output at /dev/null, so that the interpreter's last flush of what is
    still buffered does not fail (and print) a second time."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


if __name__ == "__main__":
    main()
