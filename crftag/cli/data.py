"""Commands for data: ``fetch`` and ``resources`` (the registry), ``split`` (one labelled file in two)."""

from __future__ import annotations

import json
import os

import click

from crftag.cli.options import encoding_option, input_format_option, json_output_option


@click.command()
@click.argument("names", nargs=-1, required=True, metavar="NAME...")
def fetch(names: tuple[str, ...]) -> None:
    """Fetch registry resources into the cache (verifying sha256) and print their paths.

    Looks in the cache ($CRFTAG_HOME), then the mirror ($CRFTAG_MIRROR), then
    downloads. A corpus split (corpus:NAME/train) fetches each resource it is
    made of (one line each).

    \b
    Examples:
      crftag fetch wnut16:train wnut16:dev
      crftag fetch corpus:btc/train corpus:btc/dev
      CRFTAG_MIRROR=/data/crftag-mirror crftag fetch lexicons:wnut16
    """
    from crftag.resources.corpora import is_split_ref, split_parts
    from crftag.resources.registry import default_registry

    reg = default_registry()
    for name in names:
        for resource in split_parts(name) if is_split_ref(name) else [name]:
            click.echo(f"{name}\t{reg.fetch(resource, show_progress=True)}")


@click.command()
@json_output_option
def resources(as_json: bool) -> None:
    """List the resources the registry knows, and which are cached.

    \b
    Example:
      crftag resources
    """
    from crftag.resources.corpora import CORPORA
    from crftag.resources.registry import default_registry

    reg = default_registry()
    rows = [{"name": r.name, "kind": r.kind, "cached": reg.is_cached(r.name),
             "files": len(r.files) or 1, "url": r.url, "description": r.description}
            for r in reg.entries.values()]
    corpora = [{"name": c.name, "description": c.description,
                **{split: [{"resource": p.resource, "cut": p.cut} for p in getattr(c, split)]
                   for split in ("train", "dev")},
                "cached": all(reg.is_cached(p.resource) for p in (*c.train, *c.dev))}
               for c in CORPORA.values()]
    if as_json:
        click.echo(json.dumps({"cache": str(reg.cache), "mirror": str(reg.mirror or ""),
                               "resources": rows, "corpora": corpora}, indent=2))
        return
    click.echo(f"cache: {reg.cache}    mirror: {reg.mirror or '(none; set CRFTAG_MIRROR)'}")
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        mark = "cached" if r["cached"] else "-"
        click.echo(f"{r['name']:<{width}}  {r['kind']:<9} {mark:<7} {r['description']}")
    click.echo("corpora (corpus:NAME/train, corpus:NAME/dev; made of the resources above):")
    width = max(len(c["name"]) for c in corpora)
    for c in corpora:
        mark = "cached" if c["cached"] else "-"
        click.echo(f"{c['name']:<{width}}  {mark:<7} {c['description']}")


@click.command()
@click.argument("data")
@click.option("--dev-fraction", default=0.2, show_default=True, help="Share of sentences for dev.")
@click.option("--seed", default=0, show_default=True, help="Seed of the shuffle before the split.")
@click.option("--train-out", required=True, type=click.Path(dir_okay=False),
              help="Where the train part is written (CoNLL).")
@click.option("--dev-out", required=True, type=click.Path(dir_okay=False),
              help="Where the dev part is written (CoNLL).")
@input_format_option()
@encoding_option
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
