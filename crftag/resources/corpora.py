"""Named corpora: the train and dev splits of the corpora crftag is tuned on.

A split is a list of parts; a part is a registry resource, whole or cut: the
first or second half of its sentences in file order (the Broad Twitter
Corpus's dev split is the second half of section H), or the train or dev side
of :func:`crftag.resources.split.stratified_split` (one labelled file, 20% for dev, seed 0).
Every part is read and verified through the resource registry, like any data.
Wherever a command reads labelled data, ``corpus:NAME/train`` or
``corpus:NAME/dev`` names a split (``crftag train corpus:btc/train --dev
corpus:btc/dev``).

Note: WNUT17's train split is the WNUT16 train and dev tweets re-annotated, so
a model trained on one of them must never be scored on the other's dev split.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from crftag.errors import CrftagError
from crftag.types import Sentence

CUTS = ("first-half", "second-half", "stratified-train", "stratified-dev")


@dataclass(frozen=True)
class Part:
    resource: str  # a registry name
    cut: str | None = None  # one of CUTS, or the whole resource


@dataclass(frozen=True)
class Corpus:
    name: str
    description: str
    train: tuple[Part, ...]
    dev: tuple[Part, ...]

    def read(self, split: str) -> list[Sentence]:
        """The labelled sentences of ``split`` ("train" or "dev")."""
        if split not in ("train", "dev"):
            raise CrftagError(f"corpus {self.name!r} has splits train and dev, not {split!r}")
        return [s for part in getattr(self, split) for s in _read_part(part)]


def _read_part(part: Part) -> list[Sentence]:
    from crftag.io.readers import read_labelled
    from crftag.resources.registry import resolve_data_format
    from crftag.resources.split import stratified_split

    path, fmt = resolve_data_format(part.resource)  # in the format the registry records for it
    sents = read_labelled([path], fmt)
    half = len(sents) // 2
    if part.cut is None:
        return sents
    if part.cut == "first-half":
        return sents[:half]
    if part.cut == "second-half":
        return sents[half:]
    train, dev = stratified_split(sents, 0.2, seed=0)
    return train if part.cut == "stratified-train" else dev


CORPORA: dict[str, Corpus] = {c.name: c for c in (
    Corpus("wnut16", "WNUT 2016 Twitter NER, 10 types", (Part("wnut16:train"),), (Part("wnut16:dev"),)),
    Corpus("wnut17", "WNUT 2017 emerging entities, 6 types (dev: YouTube, Reddit, StackExchange)",
           (Part("wnut17:train"),), (Part("wnut17:dev"),)),
    Corpus("btc", "Broad Twitter Corpus, PER/LOC/ORG (dev: the second half of section H)",
           (Part("btc:a"), Part("btc:b"), Part("btc:e"), Part("btc:g"), Part("btc:h", "first-half")),
           (Part("btc:h", "second-half"),)),
    Corpus("twitter2015", "Twitter-2015 NER (Zhang et al. 2018), PER/LOC/ORG/OTHER (dev: valid.txt)",
           (Part("twitter2015:train"),), (Part("twitter2015:valid"),)),
    Corpus("twitter2017", "Twitter-2017 NER (Lu et al. 2018), PER/LOC/ORG/OTHER (dev: valid.txt)",
           (Part("twitter2017:train"),), (Part("twitter2017:valid"),)),
    Corpus("gmb", "GMB news sample, 8 types (80/20 stratified split, seed 0)",
           (Part("gmb:sample", "stratified-train"),), (Part("gmb:sample", "stratified-dev"),)),
)}


def get_corpus(name: str) -> Corpus:
    if name not in CORPORA:
        raise CrftagError(f"unknown corpus {name!r}; known: {', '.join(CORPORA)}")
    return CORPORA[name]


def is_split_ref(ref: object) -> bool:
    return isinstance(ref, str) and ref.startswith("corpus:")


def _parse(ref: str) -> tuple[Corpus, str]:
    name, sep, split = ref.removeprefix("corpus:").partition("/")
    if not sep or split not in ("train", "dev"):
        raise CrftagError(f"{ref}: a corpus split is written corpus:NAME/train or corpus:NAME/dev")
    return get_corpus(name), split


def read_split(ref: str) -> list[Sentence]:
    """The sentences of ``corpus:NAME/SPLIT`` (``corpus:btc/dev``)."""
    corpus, split = _parse(ref)
    return corpus.read(split)


def split_parts(ref: str) -> list[str]:
    """The registry resources a split is read from, each once (``crftag fetch corpus:btc/dev``)."""
    corpus, split = _parse(ref)
    return list(dict.fromkeys(p.resource for p in getattr(corpus, split)))


def split_provenance(ref: str) -> list[dict]:
    """What a split is made of: each part's resource, cut and sha256 (for a model's record)."""
    from crftag.resources.registry import resolve_data, sha256_file

    corpus, split = _parse(ref)
    return [{"resource": p.resource, "cut": p.cut, "sha256": sha256_file(resolve_data(p.resource))}
            for p in getattr(corpus, split)]


def load_labelled(ref: str | os.PathLike[str], fmt: str | None = None,
                  encoding: str = "utf-8") -> list[Sentence]:
    """Labelled sentences from a file, a registry name or a corpus split (``corpus:NAME/SPLIT``):
    what every command that reads gold data accepts. ``fmt`` decides the format; else the
    registry's for a registry name, else the file's extension."""
    return read_split(str(ref)) if is_split_ref(ref) else _read_file(ref, fmt, encoding)[0]


def load_with_provenance(ref: str | os.PathLike[str], fmt: str | None = None, encoding: str = "utf-8",
                         max_tokens: int | None = None) -> tuple[list[Sentence], dict]:
    """:func:`load_labelled`, and the record a model keeps of it: the reference, how many sentences,
    and the sha256 of what was read (each part's, for a corpus split)."""
    from crftag.resources.registry import sha256_file

    if is_split_ref(ref):
        sents = read_split(str(ref))
        return sents, {"source": str(ref), "sentences": len(sents), "parts": split_provenance(str(ref))}
    sents, path = _read_file(ref, fmt, encoding, max_tokens)
    return sents, {"source": os.fspath(ref), "sha256": sha256_file(path), "sentences": len(sents)}


def _fingerprints(record: dict) -> list[tuple[str, str, object]]:
    """(what, sha256, cut) of each file a provenance record read (cut None: the whole file)."""
    if "parts" in record:
        return [(f"{record['source']} ({p['resource']})", p["sha256"], p.get("cut")) for p in record["parts"]]
    return [(record["source"], record["sha256"], None)] if record.get("sha256") else []


def training_overlap(training: dict | None, record: dict) -> list[dict]:
    """The parts of the data a provenance record describes that a model's ``training`` record
    (its metadata) says it was trained on: the same file, or the same cut of it (a whole file
    overlaps every cut of it). Empty when they are disjoint or the model does not say."""
    trained = [fp for entry in (training or {}).get("train", []) for fp in _fingerprints(entry)]
    found = []
    for what, sha, cut in _fingerprints(record):
        for source, trained_sha, trained_cut in trained:
            if sha == trained_sha and (cut is None or trained_cut is None or cut == trained_cut):
                found.append({"evaluated": what, "trained_as": source, "sha256": sha, "cut": cut})
                break
    return found


def _read_file(ref: str | os.PathLike[str], fmt: str | None, encoding: str,
               max_tokens: int | None = None) -> tuple[list[Sentence], Path]:
    """The sentences of a file or registry name (in ``fmt``, else the registry's format, else the
    extension's), and the local path they were read from."""
    from crftag.io.readers import read_labelled
    from crftag.resources.registry import resolve_data_format

    path, known = resolve_data_format(ref)
    return read_labelled([path], fmt or known, encoding, max_tokens), path


def source_paths(ref: str | os.PathLike[str]) -> list[str]:
    """The local files a data argument reads (a corpus split: its parts'; standard input: none),
    so that a command can refuse an output that is one of them before it starts."""
    from crftag.resources.registry import resolve_data

    if os.fspath(ref) == "-":
        return []
    if is_split_ref(ref):
        corpus, split = _parse(str(ref))
        return [os.fspath(resolve_data(p.resource)) for p in getattr(corpus, split)]
    return [os.fspath(resolve_data(ref))]
