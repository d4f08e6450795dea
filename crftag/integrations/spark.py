"""Tagging on Apache Spark: a DataFrame column of texts (or token arrays) in, entity structs out.

Install with ``pip install 'crftag[spark]'``. The model travels once: its bytes
are broadcast, and each Python worker process loads it on first use and keeps
it (keyed by the broadcast), so no row carries the model and no batch reloads
it. Tagging runs in ``mapInPandas`` over Arrow batches, through the same
:class:`~crftag.Tagger` code as a single process, so the output is the same.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crftag.calibration import Thresholds, check_thresholds
from crftag.errors import CrftagError, ModelError
from crftag.tagger import Tagger
from crftag.types import Sentence

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import DataFrame

ENTITY_TYPE = ("array<struct<text:string,type:string,start:int,end:int,token_start:int,"
               "token_end:int,score:double>>")

_TAGGERS: dict[str, Tagger] = {}  # per Python worker process: model sha256 -> loaded model
_LOCK = threading.Lock()


def _worker_tagger(broadcast: Any, digest: str) -> Tagger:
    """The model in ``broadcast`` (sha256 ``digest``), loaded once in this process."""
    with _LOCK:
        tagger = _TAGGERS.get(digest)
        if tagger is None:
            tagger = _TAGGERS[digest] = _load_bytes(broadcast.value)
        return tagger


def _load_bytes(data: bytes) -> Tagger:
    """A model from its file's bytes (through a temporary file: models load from paths)."""
    fd, tmp = tempfile.mkstemp(suffix=".crftag")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        return Tagger.load(tmp)
    finally:
        os.unlink(tmp)


def _entities(tagger: Tagger, texts: Any, tokens: Any, min_confidence: Thresholds) -> list[list[dict]]:
    if tokens is not None:
        sents = [Sentence([str(t) for t in toks]) if toks is not None else Sentence([]) for toks in tokens]
        return [[e.to_dict() for e in t.entities] for t in tagger.tag_sentences(sents, min_confidence)]
    cleaned = ["" if t is None else str(t) for t in texts]
    return [[e.to_dict() for e in ents] for ents in tagger.tag_batch(cleaned, min_confidence)]


def tag_dataframe(df: DataFrame, model: str | os.PathLike[str] | bytes, text_col: str = "text",
                  tokens_col: str | None = None, output_col: str = "entities",
                  min_confidence: Thresholds = None) -> DataFrame:
    """``df`` with ``output_col`` added: the entities of ``text_col`` (character offsets into
    it), or of the token arrays in ``tokens_col`` (offsets into the tokens joined by spaces).

    ``model`` is a model file or its bytes; it is loaded here first, so a bad
    model fails on the driver with crftag's usual error, not in an executor.
    ``min_confidence`` drops entities below it, as :meth:`Tagger.tag` does (one number, or one
    per entity type).
    """
    from pyspark.sql.types import StructField, StructType, _parse_datatype_string

    min_confidence = check_thresholds(min_confidence)  # on the driver, before any executor
    column = tokens_col or text_col
    if column not in df.columns:
        raise CrftagError(f"no column {column!r} in the input; columns: {', '.join(df.columns)}")
    if output_col in df.columns:
        raise CrftagError(f"the input already has a column {output_col!r}; choose another --output-col")
    try:
        data = bytes(model) if isinstance(model, (bytes, bytearray)) else Path(model).read_bytes()
    except OSError as exc:
        raise ModelError(model, f"cannot read the model file ({exc.strerror})") from None
    _load_bytes(data)  # fails here, with crftag's message, rather than in an executor
    digest = hashlib.sha256(data).hexdigest()
    broadcast = df.sparkSession.sparkContext.broadcast(data)
    schema = StructType([*df.schema.fields,
                         StructField(output_col, _parse_datatype_string(ENTITY_TYPE), True)])

    def tag_batches(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        tagger = _worker_tagger(broadcast, digest)
        for pdf in batches:
            if tokens_col:
                pdf[output_col] = _entities(tagger, None, pdf[tokens_col], min_confidence)
            else:
                pdf[output_col] = _entities(tagger, pdf[text_col], None, min_confidence)
            yield pdf

    return df.mapInPandas(tag_batches, schema=schema)


def session(master: str | None = None, app_name: str = "crftag") -> Any:
    """A SparkSession whose Python workers run this interpreter (where crftag is installed).

    Spark's console progress bar (``[Stage 0:> (0 + 2) / 2]``) is shown only when standard
    error is a terminal: in a log it is a stream of carriage-return lines. With a session of
    your own, set ``spark.pyspark.python`` (or PYSPARK_PYTHON) to a Python that has crftag.
    """
    import sys

    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # read when the context starts
    builder = (SparkSession.builder.appName(app_name).config("spark.pyspark.python", sys.executable)
               .config("spark.ui.showConsoleProgress", "true" if sys.stderr.isatty() else "false"))
    if master:
        builder = builder.master(master)
    return builder.getOrCreate()


def read_table(spark: Any, path: str, fmt: str | None = None) -> DataFrame:
    """A JSONL or Parquet file (or folder of them) as a DataFrame; format from the extension."""
    fmt = fmt or ("parquet" if str(path).rstrip("/").endswith(".parquet") else "jsonl")
    if not Path(path).exists():
        raise CrftagError(f"{path}: no such file or folder")
    return spark.read.parquet(path) if fmt == "parquet" else spark.read.json(path)


def write_table(df: DataFrame, path: str, fmt: str | None = None) -> None:
    """Write ``df`` as Parquet or JSONL (Spark writes a folder of part files)."""
    fmt = fmt or ("jsonl" if str(path).rstrip("/").endswith((".jsonl", ".json")) else "parquet")
    writer = df.write.mode("errorifexists")
    writer.parquet(path) if fmt == "parquet" else writer.json(path)
