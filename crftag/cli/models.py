"""Commands about models and backends: ``info`` (a model file), ``warmup`` (its kernels compiled),
``backends`` (the plugins), ``bench`` (backends compared on one split)."""

from __future__ import annotations

import json
from pathlib import Path

import click

import crftag
from crftag.cli.options import backend_params, json_output_option, model_option, named_model
from crftag.errors import CrftagError
from crftag.jitcache import cache_location, lean_numba


@click.command()
@click.argument("model_path", metavar="MODEL", callback=named_model)
@json_output_option
def info(model_path: str, as_json: bool) -> None:
    """Describe a model file: backend, features, labels, training data, dev scores.

    \b
    Example:
      crftag info wnut16.crftag
    """
    lean_numba()
    from crftag.tagger import Tagger

    details = Tagger.load(model_path).info()
    if as_json:
        click.echo(json.dumps(details, indent=2))
        return
    from crftag.evaluation.report import model_info_text

    click.echo(model_info_text(details), nl=False)


@click.command()
@model_option
@click.option("--part", "parts", multiple=True, type=click.Choice(["api", "bulk", "server"]),
              help="Warm only these paths (repeatable): the Python API, the bulk engine of "
                   "`crftag tag`, the server's batches. Default: all.")
def warmup(model_path: str, parts: tuple[str, ...]) -> None:
    """Compile every kernel the model's tagging paths use, into numba's cache.

    On a fresh install the first tweet waits for the compiler (a minute or more on two
    cores); afterwards every process loads the compiled kernels from the cache in
    milliseconds. Run this once where the cache is built: an image's build step, after
    `pip install`, before starting `crftag serve`. Prints the seconds of each part and
    where the cache is.

    \b
    Example:
      crftag warmup -m wnut16.crftag
    """
    import time

    from crftag.integrations.warmup import PARTS, start_aside, stop_aside, warm_up

    t0 = time.perf_counter()
    start_aside()  # the tagging pass compiles in a second process while this one starts and loads the model
    try:
        lean_numba()
        from crftag.tagger import Tagger

        tagger = Tagger.load(model_path)
    except BaseException:
        stop_aside()
        raise
    click.echo(f"load      {time.perf_counter() - t0:7.2f} s")
    for part, seconds in warm_up(tagger, parts or PARTS).items():
        click.echo(f"{part:<9} {seconds:7.2f} s")
    click.echo(f"warm in {time.perf_counter() - t0:.1f} s; numba cache: {cache_location()}")
    # numba keys its cache by the source file's path: another copy of crftag compiles again
    click.echo(f"kernels are for crftag at {Path(crftag.__file__).parent}")


@click.group(name="models")
def models_group() -> None:
    """Named models: built reproducibly from registry data (or downloaded), cached, and then
    accepted wherever a model file is (-m wnut16-twitter, Tagger.load("wnut16-twitter"))."""


@models_group.command(name="list")
@json_output_option
def models_list(as_json: bool) -> None:
    """The named models: data, dev F1 and sha256 of the file each recipe builds, whether cached.

    \b
    Example:
      crftag models list
    """
    from crftag.resources.models import listing

    rows = listing()
    if as_json:
        click.echo(json.dumps(rows, indent=1))
        return
    for r in rows:
        f1 = f"dev F1 {r['dev_f1']:.2f} on {r['dev']}" if r["dev_f1"] is not None else "dev F1 not pinned"
        where = f"cached: {r['cached']}" if r["cached"] else "not built here yet"
        click.echo(f"{r['name']} v{r['version']}  {f1}; trained on {', '.join(r['train'])}; {where}")
        click.echo(f"    {r['description']}; sha256 {r['sha256'] or 'not pinned'}")


@models_group.command(name="get")
@click.argument("name")
@click.option("--download", "download_it", is_flag=True,
              help="Fetch the published file instead of building it (refused unless it has the "
                   "pinned sha256).")
@click.option("-q", "--quiet", is_flag=True, help="Print only the path.")
def models_get(name: str, download_it: bool, quiet: bool) -> None:
    """Build (or download) a named model once into the cache; print its path and sha256.

    The recipe fixes the data (registry names, checked by sha256), the features, the
    parameters and the seed, so the same name gives the same file. Later calls, `-m NAME`
    and `Tagger.load(NAME)` find it in the cache.

    \b
    Examples:
      crftag models get wnut16-twitter
      crftag tag -m wnut16-twitter tweets.txt
    """
    from crftag.resources.models import lookup
    from crftag.resources.registry import sha256_file
    from crftag.training import named_model as get_named

    spec = lookup(name)
    path = get_named(spec, download_it, progress=not quiet)
    if quiet:
        click.echo(str(path))
        return
    digest = sha256_file(path)
    pinned = ("matches the pinned sha256" if digest == spec.sha256 else
              "no sha256 pinned" if spec.sha256 is None else f"differs from the pinned {spec.sha256}")
    click.echo(f"{path}\nsha256 {digest} ({pinned})")


@click.command()
@json_output_option
@click.option("--params", "with_params", is_flag=True,
              help="Also each backend's parameters: accepted values, default, what they do.")
def backends(as_json: bool, with_params: bool) -> None:
    """List the installed backends (entry points in group crftag.backends) and whether they run.

    \b
    Examples:
      crftag backends
      crftag backends --params
    """
    from crftag.backends import list_backends
    from crftag.evaluation.report import backends_json, backends_text

    found = list_backends()
    click.echo(backends_json(found, with_params) if as_json else backends_text(found, with_params), nl=False)


@click.command()
@click.option("--backends", "names", default="crf,sgd,bilstm-crf,transformer", show_default=True,
              help="Comma-separated backends to compare.")
@click.option("--train", "train_data", default="wnut16:train", show_default=True, metavar="DATA",
              help="Training data of every backend (file, registry name or corpus split).")
@click.option("--dev", "dev_data", default="wnut16:dev", show_default=True, metavar="DATA",
              help="Scored, and used by backends that tune or stop early on it.")
@click.option("--test", "test_data", default=None, metavar="DATA",
              help="Also score on a test set (WNUT16's is not distributed here).")
@click.option("--features", default="twitter", show_default=True, metavar="NAME_OR_PATH",
              help="Feature set of the feature-based backends (crf, sgd).")
@click.option("-p", "--param", "params", multiple=True, callback=backend_params,
              metavar="BACKEND.KEY=VALUE", help="e.g. -p bilstm-crf.max_epochs=10 (repeatable).")
@click.option("--out", "out_dir", default="bench-results", show_default=True,
              type=click.Path(file_okay=False), help="Where bench.json/.md/.png and models go.")
@click.option("--tokens", default=200_000, show_default=True, type=click.IntRange(min=1),
              help="Tokens tagged for tokens/s.")
@click.option("--calls", default=2000, show_default=True, type=click.IntRange(min=1),
              help="Single-tweet calls for latency.")
@click.option("--seed", default=0, show_default=True, help="Seed of every training.")
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
    from crftag.backends import get_backend, list_backends, parse_params
    from crftag.tools.bench import run_bench

    wanted = [n.strip() for n in names.split(",") if n.strip()]
    available = {b.name for b in list_backends() if b.available}
    typed = {name: parse_params(get_backend(name), raw) for name, raw in params.items()
             if name in available}
    unknown = set(params) - set(wanted)
    if unknown:
        raise CrftagError(f"-p names backends not being compared: {', '.join(sorted(unknown))}")
    if not corpora:
        _check_ran(run_bench(wanted, train_data, dev_data, test_data, features, typed, Path(out_dir),
                             tokens=tokens, calls=calls, seed=seed, echo=click.echo))
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
    for result in results.values():
        _check_ran(result)


def _check_ran(result: dict) -> None:
    """A bench in which no backend ran measured nothing: an error (status 2), not a success."""
    if not result["rows"]:
        why = "; ".join(f"{name}: {reason}" for name, reason in result["not_run"].items())
        raise CrftagError(f"bench: no backend ran ({why})")
