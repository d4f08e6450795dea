"""Commands that tag: ``tag`` (files, pipes, standard input) and ``spark-tag`` (tables on Spark)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from crftag.cli.options import (
    encoding_option,
    input_format_option,
    inputs_of,
    model_option,
    output_to,
    thresholds_option,
)
from crftag.errors import CrftagError, DataError
from crftag.io.formats import INPUT_FORMATS, OUTPUT_FORMATS
from crftag.jitcache import lean_numba
from crftag.limits import MAX_LINE_BYTES, MAX_TOKENS


@click.command()
@model_option
@click.argument("inputs", nargs=-1, metavar="[INPUT...]")
@input_format_option(INPUT_FORMATS, default="text (one tweet per line)")
@click.option("--output-format", type=click.Choice(list(OUTPUT_FORMATS)), default="conll", show_default=True,
              help="conll: token<TAB>tag lines; jsonl: one object per sentence with entities and "
                   "confidences; text: the line with [entity|type] brackets.")
@click.option("-o", "--output", help="Output file (written atomically; a device or FIFO is written "
                                     "through); default stdout. May not be an input or the model.")
@click.option("--min-confidence", metavar="P|TYPE=P,...", callback=thresholds_option, default=None,
              help="Drop entities whose (calibrated) confidence is below P; their tokens become O. "
                   "Per type: 'person=0.9,geo-loc=0.6'; a bare P then covers the other types "
                   "('0.8,person=0.9').")
@click.option("--batch-size", type=click.IntRange(min=1), default=None,
              help="Sentences tagged (and written, then flushed) together. Default 256, or 1 when "
                   "standard input is a terminal; 1 answers each line before reading the next.")
@encoding_option
@click.option("-j", "--jobs", "workers", type=click.IntRange(min=1), default=None,
              help="Processes tagging text or CoNLL files in parallel (default: one per core; "
                   "output is the same bytes with any number).")
@click.option("--workers", "workers_alias", type=click.IntRange(min=1), default=None, hidden=True,
              help="Old spelling of --jobs.")
@click.option("--max-line-bytes", type=click.IntRange(min=1), default=MAX_LINE_BYTES, show_default=True,
              help="A longer input line is an error naming it (read no further than this).")
@click.option("--max-tokens", type=click.IntRange(min=1), default=MAX_TOKENS, show_default=True,
              help="A sentence with more tokens is an error naming its line.")
@click.option("--model-sha256", metavar="HEX", default=None,
              help="Refuse the model unless its file has this sha256 (pin a trusted file).")
@click.option("--text-col", metavar="NAME", default=None,
              help="CSV input: the column of texts to tag, one per row (default: 'text', unless the "
                   "file has the GMB layout 'Sentence #,Word,...'); other columns go to JSONL output.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar or summary on a terminal.")
def tag(model_path: str, inputs: tuple[str, ...], input_format: str | None, output_format: str,
        output: str | None, min_confidence: float | dict | None, batch_size: int | None,
        encoding: str, workers: int | None, workers_alias: int | None, max_line_bytes: int, max_tokens: int,
        model_sha256: str | None, text_col: str | None, quiet: bool) -> None:
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
      crftag tag -m wnut16.crftag tweets.txt --min-confidence 0.7,company=0.9,product=0.9
      crftag tag -m wnut16.crftag tweets.txt --model-sha256 $(sha256sum wnut16.crftag | cut -c1-64)
      crftag tag -m wnut16.crftag export.csv --text-col body --output-format jsonl
    """
    lean_numba()
    workers = workers or workers_alias
    from crftag.io.atomic import check_output
    from crftag.io.bulk import tag_file
    from crftag.io.readers import guess_format, read, sniff_conll
    from crftag.io.writers import WRITERS
    from crftag.progress import TagProgress
    from crftag.resources.registry import resolve_data_format
    from crftag.tagger import Tagger

    sources = [resolve_data_format(p) for p in inputs] or [(Path("-"), None)]
    if output not in (None, "-"):
        check_output(output, [model_path, *inputs_of([src for src, _ in sources])])
    tagger = Tagger.load(model_path, sha256=model_sha256)
    write = WRITERS[output_format]
    interactive = not inputs and sys.stdin.isatty()
    if batch_size is None:
        batch_size = 1 if interactive else 256
    if workers is None:
        workers = 1 if interactive else os.cpu_count() or 1
    total = sum(os.path.getsize(src) for src, _ in sources if os.fspath(src) != "-" and src.is_file())
    limits = {"max_line_bytes": max_line_bytes, "max_tokens": max_tokens}
    with output_to(output) as out, TagProgress(total or None, enabled=not quiet) as progress:
        for src, known in sources:  # streamed: one batch in memory at a time
            fmt = input_format or known or guess_format(src, "text")
            if input_format is None and known is None and fmt == "text":
                line = sniff_conll(src, encoding)
                if line is not None:
                    raise DataError(src, line, "looks like CoNLL ('token<TAB>tag' lines), not one tweet per "
                                               "line; pass --input-format conll (or --input-format text)")
            if text_col is not None and fmt != "csv":
                raise CrftagError(f"{src}: --text-col is for CSV input, not {fmt}")
            bulk = tagger.type_cache is not None and {fmt, output_format} <= {"text", "conll"}
            if bulk:  # a linear model, text or CoNLL in and out: the bulk engine
                tag_file(tagger, src, fmt, output_format, min_confidence, encoding, workers, out, limits,
                         progress)
                continue
            options = {"text_col": text_col} if fmt == "csv" else {}
            sentences = read(src, fmt, labelled=False, default="text", encoding=encoding,
                             on_bytes=progress.advance, **limits, **options)
            for i, tagged in enumerate(tagger.tag_sentences(sentences, min_confidence, batch_size), 1):
                write(out, tagged)
                progress.sentences += 1
                if i % batch_size == 0:
                    out.flush()


@click.command(name="spark-tag")
@click.argument("input_path", metavar="INPUT")
@click.argument("output_path", metavar="OUTPUT")
@click.option("-m", "--model", "model_path", required=True, help="Model file (broadcast once).")
@click.option("--text-col", default="text", show_default=True, help="Column of texts to tag.")
@click.option("--tokens-col", help="Tag this column of token arrays instead of texts.")
@click.option("--output-col", default="entities", show_default=True,
              help="Name of the added column of entity structs.")
@click.option("--input-format", type=click.Choice(["jsonl", "parquet"]),
              help="Default: parquet for *.parquet, else jsonl.")
@click.option("--output-format", type=click.Choice(["jsonl", "parquet"]),
              help="Default: jsonl for *.jsonl / *.json, else parquet.")
@click.option("--min-confidence", metavar="P|TYPE=P,...", callback=thresholds_option, default=None,
              help="Drop entities whose (calibrated) confidence is below P, as crftag tag does "
                   "('0.8', 'person=0.9,geo-loc=0.6', '0.8,person=0.9').")
@click.option("--master", help="Spark master, passed through (e.g. local[4], spark://host:7077).")
def spark_tag(input_path: str, output_path: str, model_path: str, text_col: str, tokens_col: str | None,
              output_col: str, input_format: str | None, output_format: str | None,
              min_confidence: float | dict | None, master: str | None) -> None:
    """Tag a JSONL/Parquet table on Apache Spark (pip install 'crftag[spark]').

    Adds a column of entity structs (text, type, start, end, token_start,
    token_end, score) to every row; OUTPUT is a folder of part files.

    \b
    Examples:
      crftag spark-tag tweets.jsonl tagged.parquet -m wnut16.crftag --master 'local[*]'
      crftag spark-tag archive.parquet tagged.jsonl -m wnut16.crftag --text-col body
      crftag spark-tag tweets.jsonl triage.parquet -m wnut16.crftag --min-confidence 0.6,company=0.9
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
        write_table(tag_dataframe(df, model_path, text_col, tokens_col, output_col, min_confidence),
                    output_path, output_format)
    finally:
        spark.stop()
    click.echo(f"wrote {output_path}")
