"""The ``crftag`` command line: train, tag, eval, fetch, resources, info.

Errors in user input print one line (``path:line: what is wrong``) on stderr
and exit with status 2; no traceback is shown for them.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

import click

from crftag import __version__
from crftag.errors import CrftagError, DataError, ModelError

EXIT_USER_ERROR = 2


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
@click.option("--format", "fmt", type=click.Choice(["conll", "csv", "jsonl"]),
              help="Input format (default: from the extension, else conll).")
@click.option("-p", "--param", "params", multiple=True, callback=_key_values, metavar="KEY=VALUE",
              help="Backend parameter, e.g. -p c1=0.1 -p algorithm=ap (repeatable).")
@click.option("--seed", default=0, show_default=True, help="Random seed (sgd, bilstm-crf; training order).")
@click.option("--oversample", default=1, show_default=True, type=click.IntRange(min=1),
              help="Repeat sentences with rare entity types this many times in all.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]),
              help="Where a neural backend trains (auto: a CUDA GPU when torch sees one).")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
def train(train_files: tuple[str, ...], dev_file: str | None, backend: str, features: str,
          model_path: str, fmt: str | None, params: dict, seed: int, oversample: int,
          device: str | None, quiet: bool) -> None:
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
    from crftag.train import train as train_tagger

    backend_cls = get_backend(backend)
    typed = coerce_params(backend_cls, params)
    if device is not None:
        if "device" not in backend_cls.param_names():
            raise CrftagError(f"backend {backend!r} has no device to choose (it runs on the CPU)")
        typed["device"] = device
    t0 = time.perf_counter()
    tagger = train_tagger(list(train_files), dev=dev_file, backend=backend, features=features,
                          fmt=fmt, seed=seed, progress=not quiet, oversample=oversample, **typed)
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
    from crftag.atomic import atomic_write

    with atomic_write(path, "w", encoding="utf-8", newline="\n") as fh:
        yield fh


@cli.command()
@click.option("-m", "--model", "model_path", required=True, help="Model file.")
@click.argument("inputs", nargs=-1, metavar="[INPUT...]")
@click.option("--input-format", type=click.Choice(["text", "conll", "jsonl", "csv"]),
              help="Default: from the extension, else text (one tweet per line).")
@click.option("--output-format", type=click.Choice(["conll", "jsonl", "text"]), default="conll",
              show_default=True)
@click.option("-o", "--output", help="Output file (written atomically); default stdout.")
@click.option("--min-confidence", type=click.FloatRange(0, 1), default=None,
              help="Drop entities whose probability (exact span and type) is below this; "
                   "their tokens become O.")
def tag(model_path: str, inputs: tuple[str, ...], input_format: str | None, output_format: str,
        output: str | None, min_confidence: float | None) -> None:
    """Tag tweets. Reads INPUT files, or standard input when none is given.

    \b
    Examples:
      echo "Obama visits Paris with @UN" | crftag tag -m wnut16.crftag
      crftag tag -m wnut16.crftag tweets.txt --output-format jsonl -o tagged.jsonl
      crftag tag -m wnut16.crftag wnut16:dev --input-format conll
      crftag tag -m wnut16.crftag tweets.txt --output-format jsonl --min-confidence 0.8
    """
    from crftag.readers import read
    from crftag.resources import resolve_data
    from crftag.tagger import Tagger
    from crftag.writers import WRITERS

    tagger = Tagger.load(model_path)
    write = WRITERS[output_format]
    sources = [resolve_data(p) for p in inputs] or [Path("-")]
    with _output(output) as out:
        for src in sources:
            sentences = read(src, input_format, labelled=False, default="text")
            for tagged in tagger.tag_sentences(sentences, min_confidence):
                write(out, tagged)


@cli.command(name="eval")
@click.option("-m", "--model", "model_path", required=True, help="Model file.")
@click.argument("gold_file")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "markdown"]), default="text",
              show_default=True, help="Report format.")
@click.option("--input-format", type=click.Choice(["conll", "csv", "jsonl"]),
              help="Gold file format (default: from the extension, else conll).")
@click.option("--write-predictions", type=click.Path(dir_okay=False),
              help="Also write 'token gold predicted' lines, the input conlleval reads.")
def eval_cmd(model_path: str, gold_file: str, fmt: str, input_format: str | None,
             write_predictions: str | None) -> None:
    """Score a model against gold data: entity-level P/R/F1 exactly as conlleval.

    The text report starts with conlleval's own lines, then adds the no-types
    (segmentation) score and token-level macro F1 over non-O labels.

    \b
    Examples:
      crftag eval -m wnut16.crftag wnut16:dev
      crftag eval -m wnut16.crftag dev.conll --format json
      crftag eval -m wnut16.crftag wnut16:dev --write-predictions dev.pred
    """
    from crftag.evaluate import evaluate
    from crftag.readers import read_labelled
    from crftag.resources import resolve_data
    from crftag.tagger import Tagger

    tagger = Tagger.load(model_path)
    gold = read_labelled([resolve_data(gold_file)], input_format)
    pred = [t.tags for t in tagger.tag_sentences(gold)]
    if write_predictions:
        with _output(write_predictions) as out:
            for sent, tags in zip(gold, pred, strict=True):
                out.writelines(f"{t} {g} {p}\n" for t, g, p in zip(sent.tokens, sent.tags, tags,
                                                                    strict=True))
                out.write("\n")
    click.echo(evaluate([s.tags for s in gold], pred).render(fmt), nl=False)


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
    from crftag.resources import default_registry

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
    from crftag.resources import default_registry

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
    """Inspect feature sets (the TOML files in features/, or your own)."""


@features.command(name="list")
def features_list() -> None:
    """List the shipped feature sets.

    \b
    Example:
      crftag features list
    """
    from crftag.featureset import available, load_feature_set

    for name in available():
        click.echo(f"{name:<10} {load_feature_set(name).description}")


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
    from crftag.featureset import load_feature_set
    from crftag.featurize import ReferenceFeaturizer
    from crftag.lexicon import build_lexicon
    from crftag.tokenize import tokenize

    fs = load_feature_set(name_or_path)
    click.echo(fs.describe())
    tokens = tokenize(example)[0]
    per_token = ReferenceFeaturizer(fs, build_lexicon(fs)).featurize(tokens)
    for i, (tok, feats) in enumerate(zip(tokens, per_token, strict=True)):
        if token is None or token == i:
            click.echo(f"\n[{i}] {tok}: {len(feats)} features")
            click.echo("  " + "  ".join(sorted(feats)))


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
@click.option("--backends", "names", default="crf,sgd,bilstm-crf", show_default=True,
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
def bench(names: str, train_data: str, dev_data: str, test_data: str | None, features: str,
          params: dict, out_dir: str, tokens: int, calls: int, seed: int) -> None:
    """Compare backends on one split: F1 (overall, per type, no types), train time,
    tokens/s, latency, model size, peak memory. Each backend runs in its own process.

    \b
    Examples:
      crftag bench
      crftag bench --backends crf,sgd --out bench-quick
      crftag bench -p bilstm-crf.device=cuda -p bilstm-crf.max_epochs=20
    """
    from pathlib import Path

    from crftag.backends import coerce_params, get_backend, list_backends
    from crftag.benchmark import run_bench

    wanted = [n.strip() for n in names.split(",") if n.strip()]
    available = {b.name for b in list_backends() if b.available}
    typed = {name: coerce_params(get_backend(name), raw) for name, raw in params.items()
             if name in available}
    unknown = set(params) - set(wanted)
    if unknown:
        raise CrftagError(f"-p names backends not being compared: {', '.join(sorted(unknown))}")
    run_bench(wanted, train_data, dev_data, test_data, features, typed, Path(out_dir),
              tokens=tokens, calls=calls, seed=seed, echo=click.echo)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI, turning user errors into one line and exit status 2."""
    try:
        cli.main(args=argv, prog_name="crftag", standalone_mode=False)
    except click.UsageError as exc:  # one line, like every other user error
        cmd = exc.ctx.command_path if exc.ctx else "crftag"
        click.echo(f"{cmd}: {exc.format_message()} (see '{cmd} --help')", err=True)
        sys.exit(EXIT_USER_ERROR)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo("crftag: interrupted", err=True)
        sys.exit(130)
    except (DataError, ModelError) as exc:
        click.echo(str(exc), err=True)
        sys.exit(EXIT_USER_ERROR)
    except CrftagError as exc:
        click.echo(f"crftag: {exc}", err=True)
        sys.exit(EXIT_USER_ERROR)
    except BrokenPipeError:  # e.g. `crftag tag ... | head`
        sys.stderr.close()
        sys.exit(1)
    except KeyboardInterrupt:
        click.echo("crftag: interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
