"""``crftag features``: the shipped feature sets, the group kinds, and what a set expands to."""

from __future__ import annotations

import click


@click.group()
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
    if token is not None and not 0 <= token < len(tokens):
        raise click.BadParameter(f"{token} is not a token of the example, which has {len(tokens)} "
                                 f"(0 to {len(tokens) - 1})", param_hint="--token")
    per_token = ReferenceFeaturizer(fs, build_lexicon(fs)).featurize(tokens)
    for i, (tok, feats) in enumerate(zip(tokens, per_token, strict=True)):
        if token is None or token == i:
            click.echo(f"\n[{i}] {tok}: {len(feats)} features")
            click.echo("  " + "  ".join(sorted(feats)))
