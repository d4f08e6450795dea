"""Bulk tagging (crftag tag on text and CoNLL): the same bytes as the per-sentence writers,
with any block size and any number of workers."""

import io

import pytest

from crftag.errors import DataError
from crftag.io.bulk import BlockTagger, Job, read_blocks, tag_stream
from crftag.io.readers import read
from crftag.io.writers import WRITERS

CONLL = ("\ufeff-DOCSTART-\tO\n\nBarack\tB-person\nObama\tI-person\nvisited\tO\nParis\tB-geo-loc\n\n"
         "  \t \n  New York  \tB-geo-loc\nrocks\tO\r\n\r\n\u00a0\n-DOCSTART- x\nI love\nLondon\n\n\n"
         "@bob\tO\n#NBA\tO\n\tO\n \tO\nu R\tO\n😎 \tO\nhttp://t.co/x O\n\nIMGID:1015799\nGeorge\tB-PER\n"
         "IMGID:O_31  \nZimmerman\tI-PER\nIMGID:\nx\tO\n IMGID:7\nIMGID:8\tO\nIMGID:9 x\n\n"
         "  only spaces first\nlast\tO")
TEXT = ("Barack Obama visited Paris today\n\nI love New York City!\r\n@bob watching the Lakers #NBA "
        "http://t.co/x\n\u00a0\nTaylor Swift in London tonight :)\nlast line without newline")


def _reference(tagger, path, fmt, output_format, min_confidence):
    out = io.StringIO()
    for tagged in tagger.tag_sentences(read(path, fmt, labelled=False), min_confidence):
        WRITERS[output_format](out, tagged)
    return out.getvalue()


def _bulk(tagger, path, fmt, output_format, min_confidence, block_bytes, workers):
    out = []
    with open(path, "rb") as fh:
        tag_stream(read_blocks(str(path), fh, "utf-8", block_bytes),
                   BlockTagger(tagger, Job(fmt, output_format, min_confidence)), out.append, workers)
    return "".join(out)


@pytest.mark.parametrize("fmt", ["text", "conll"])
@pytest.mark.parametrize("output_format", ["text", "conll"])
@pytest.mark.parametrize("min_confidence", [None, 0.6])
def test_bulk_equals_the_writers(tiny_crf, tmp_path, fmt, output_format, min_confidence):
    path = tmp_path / f"in.{fmt}"
    path.write_bytes(((CONLL if fmt == "conll" else TEXT) * 7).encode("utf-8"))
    expected = _reference(tiny_crf, path, fmt, output_format, min_confidence)
    assert expected
    for block_bytes in (7, 64, 1 << 20):
        for workers in (1, 2):
            assert _bulk(tiny_crf, path, fmt, output_format, min_confidence, block_bytes, workers) \
                == expected, (block_bytes, workers)


@pytest.mark.parametrize("content", ["", "\n", "\n\n\n", "   \n\t\n", "-DOCSTART-\n"])
def test_degenerate_files(tiny_crf, tmp_path, content):
    for fmt in ("text", "conll"):
        path = tmp_path / "in"
        path.write_text(content, encoding="utf-8")
        for output_format in ("text", "conll"):
            assert _bulk(tiny_crf, path, fmt, output_format, None, 64, 2) \
                == _reference(tiny_crf, path, fmt, output_format, None)


def test_decoding_errors_name_line_and_byte(tiny_crf, tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"fine line\nsecond \xe9 line\n")
    with pytest.raises(DataError, match=r"bad.txt:2: invalid UTF-8 at byte offset 17 "):
        _bulk(tiny_crf, path, "text", "conll", None, 4, 1)
    with pytest.raises(DataError, match="unknown encoding"):
        list(read_blocks(str(path), io.BytesIO(b""), "no-such-codec"))
