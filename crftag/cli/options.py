"""What the commands share: option declarations, ``KEY=VALUE`` parsing, outputs.

Format choices come from :mod:`crftag.io.formats`, the same lists the readers and writers
use; nothing here imports numba, so ``crftag --help`` stays fast.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TextIO

import click

from crftag.io.formats import LABELLED_FORMATS, REPORT_FORMATS

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


# -- option values ------------------------------------------------------------------------------


def thresholds_option(ctx: click.Context, param: click.Parameter, value: str | None) -> float | dict | None:
    """``--min-confidence``: a number from 0 to 1, or per entity type (``person=0.9,0.5``)."""
    if value is None:
        return None
    from crftag.calibration import parse_thresholds

    try:
        return parse_thresholds(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def key_values(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict:
    """``KEY=VALUE`` options as {key: raw value}."""
    out = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {item!r}", ctx=ctx, param=param)
        out[key.strip()] = value.strip()
    return out


def value_lists(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict:
    """``KEY=V1,V2,...`` options as {key: [raw values]}."""
    return {k: [v.strip() for v in raw.split(",")] for k, raw in key_values(ctx, param, values).items()}


def backend_params(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> dict:
    """``BACKEND.KEY=VALUE`` options, grouped by backend."""
    out: dict[str, dict[str, str]] = {}
    for key, value in key_values(ctx, param, values).items():
        backend, sep, name = key.partition(".")
        if not sep or not name:
            raise click.BadParameter(f"expected BACKEND.KEY=VALUE, got {key!r}", ctx=ctx, param=param)
        out.setdefault(backend, {})[name] = value
    return out


# -- shared options -----------------------------------------------------------------------------

encoding_option: Decorator = click.option(
    "--encoding", default="utf-8", show_default=True, help="Text encoding of the input files (e.g. latin-1).")

def named_model(ctx: click.Context | None, param: click.Parameter | None, value: str | None) -> str | None:
    """A model file, or a named model's name (``crftag models list``): its cached file, built (or
    fetched) the first time."""
    if value is None or os.path.exists(value):
        return value
    from crftag.resources.models import catalogue

    if value not in catalogue():
        return value  # a path that is not there: the loader says so, naming it
    cached = catalogue()[value].path()
    if cached.is_file():
        return os.fspath(cached)  # built already: no training code imported on a tagger's start
    from crftag.training import named_model as get_named

    return os.fspath(get_named(value))


model_option: Decorator = click.option("-m", "--model", "model_path", required=True, callback=named_model,
                                       help="Model file, or a named model (crftag models list).")


def input_format_option(choices: Sequence[str] = LABELLED_FORMATS, default: str = "conll",
                        old_spelling: bool = False) -> Decorator:
    """``--input-format`` over ``choices`` (``--format`` too where that was its old name); unset,
    the format is the registry's for a registry name, else the file extension's, else ``default``."""
    names = ["--input-format", "--format", "fmt"] if old_spelling else ["--input-format"]
    return click.option(*names, type=click.Choice(list(choices)),
                        help=f"Input format (default: the registry's for a registry name, else from the "
                             f"extension, else {default}).{' --format is the old spelling.' * old_spelling}")


def report_format_option(choices: Sequence[str] = REPORT_FORMATS) -> Decorator:
    return click.option("--report-format", "--format", "fmt", type=click.Choice(list(choices)),
                        default="text", show_default=True,
                        help="Report format (--format is the old spelling).")


def json_output_option(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--report-format text|json``, the one spelling of "JSON on standard output" (as ``eval``
    and ``stats`` have it), with the old ``--json`` flag kept as a hidden alias; the command
    gets ``as_json``."""
    @functools.wraps(command)
    def run(*args: Any, report_format: str, json_alias: bool, **kwargs: Any) -> Any:
        return command(*args, as_json=json_alias or report_format == "json", **kwargs)

    run = click.option("--json", "json_alias", is_flag=True, hidden=True,
                       help="Old spelling of --report-format json.")(run)
    return click.option("--report-format", "report_format", type=click.Choice(["text", "json"]),
                        default="text", show_default=True,
                        help="Output format (json: machine-readable).")(run)


param_option: Decorator = click.option(
    "-p", "--param", "params", multiple=True, callback=key_values, metavar="KEY=VALUE",
    help="Backend parameter, e.g. -p c1=0.1 (repeatable; `crftag backends --params`).")


# -- outputs ------------------------------------------------------------------------------------


@contextlib.contextmanager
def output_to(path: str | None) -> Iterator[TextIO]:
    """Standard output for None or ``-``, else the file, written atomically."""
    if path is None or path == "-":
        yield sys.stdout
        return
    from crftag.io.atomic import atomic_write

    with atomic_write(path, "w", encoding="utf-8", newline="\n") as fh:
        yield fh


def inputs_of(paths: Sequence[Any]) -> list[str]:
    """The input files among ``paths`` (standard input left out), for output checks."""
    return [os.fspath(p) for p in paths if p is not None and os.fspath(p) != "-"]
