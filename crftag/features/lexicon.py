"""Word clusters and gazetteers: the resources behind the strongest features.

* Brown clusters (``bitstring<TAB>word<TAB>count``) and Clark clusters
  (``word cluster prob``) map a normalised token to a cluster; features are
  prefixes of the Brown bit string, or the Clark cluster id.
* Gazetteers are lists of names, one per line. Entries and tweet tokens are
  normalised alike (lowercase, punctuation stripped); an entry of up to six
  tokens is stored as the 64-bit hash of its token sequence, with a bit mask of
  the lists it is in, plus every proper prefix of an entry (mask 0). Matching
  looks candidate n-grams up in the sorted hashes and stops when none continues.

A :class:`Lexicon` holds what a feature set needs of these, and stores itself as
arrays inside the model file (with the source files' sha256), so tagging never
needs the original resource files.
"""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numba import njit

from crftag.errors import DataError
from crftag.features.hashing import FNV_OFFSET, hash_strings, py_fnv1a, py_splitmix64, splitmix64
from crftag.io.modelfile import pack_strings, unpack_strings

MAX_GAZ_TOKENS = 6
MAX_GAZ_LISTS = 64  # list membership is a 64-bit mask
_PUNCT_TABLE = None


def _punct_table() -> dict[int, None]:
    """``str.translate`` table deleting punctuation (Unicode category P*, Basic Multilingual Plane)."""
    global _PUNCT_TABLE
    if _PUNCT_TABLE is None:
        _PUNCT_TABLE = {c: None for c in range(0x10000) if unicodedata.category(chr(c)).startswith("P")}
    return _PUNCT_TABLE


def gazetteer_token(token: str) -> str:
    """Gazetteer normalisation: lowercase, punctuation removed (``#Paris`` -> ``paris``)."""
    return token.lower().translate(_punct_table())


class ClusterTable(Mapping[str, str]):
    """``word -> cluster`` as arrays: the words and the distinct cluster names as packed UTF-8
    strings, and each word's cluster index. Stored in model files as is; compiled code reads the
    arrays (:mod:`crftag.features.atomize`), and the mapping interface (for the reference featuriser and
    users) builds a dict on first use."""

    def __init__(self, words: np.ndarray, word_ptr: np.ndarray, names: np.ndarray,
                 name_ptr: np.ndarray, index: np.ndarray):
        self.words, self.word_ptr = words, word_ptr
        self.names, self.name_ptr = names, name_ptr
        self.index = index
        self._dict: dict[str, str] | None = None

    @classmethod
    def from_dict(cls, table: dict[str, str]) -> ClusterTable:
        names, index = np.unique(np.array(list(table.values()), dtype=object), return_inverse=True)
        return cls(*pack_strings(list(table)), *pack_strings(names.tolist()), index.astype(np.int32))

    def cluster_names(self) -> list[str]:
        return unpack_strings(self.names, self.name_ptr)

    def _mapping(self) -> dict[str, str]:
        if self._dict is None:
            names = self.cluster_names()
            self._dict = dict(zip(unpack_strings(self.words, self.word_ptr),
                                  [names[j] for j in self.index.tolist()], strict=True))
        return self._dict

    def __getitem__(self, word: str) -> str:
        return self._mapping()[word]

    def __iter__(self) -> Iterator[str]:
        return iter(self._mapping())

    def __len__(self) -> int:
        return len(self.index)


_CLUSTER_FORMATS = {  # separator, word column, cluster column, what a line must look like
    "brown": ("\t", 1, 0, "bitstring<TAB>word<TAB>count"),
    "clark": (" ", 0, 1, "word cluster probability"),
    "table": ("\t", 0, 1, "word<TAB>label"),
}


def read_clusters(path: str | os.PathLike[str], fmt: str) -> ClusterTable:
    """``word -> cluster`` from a Brown paths file, a Clark clusters file or a word table
    (the first line of a word wins)."""
    sep, word_col, cluster_col, expected = _CLUSTER_FORMATS[fmt]
    table: dict[str, str] = {}
    with open(path, encoding="utf-8", errors="replace") as fh:
        for lineno, line in enumerate(fh, 1):
            parts = line.rstrip("\n").split(sep)
            if len(parts) < 2:
                raise DataError(path, lineno, f"expected '{expected}'")
            table.setdefault(parts[word_col], parts[cluster_col])
    return ClusterTable.from_dict(table)


@njit(nogil=True, cache=True)
def _sequence_hashes(tok_hash: np.ndarray, entry_ptr: np.ndarray, entry_bit: np.ndarray):
    """Hashes of every entry and of every proper prefix of it (prefixes get mask 0)."""
    n = entry_ptr[-1]
    keys = np.empty(n, dtype=np.uint64)
    masks = np.zeros(n, dtype=np.uint64)
    for e in range(len(entry_ptr) - 1):
        h = np.uint64(FNV_OFFSET)
        for j in range(entry_ptr[e], entry_ptr[e + 1]):
            h = splitmix64(h ^ tok_hash[j])
            keys[j] = h
        masks[entry_ptr[e + 1] - 1] = entry_bit[e]
    return keys, masks


def py_sequence_hash(tokens: list[str]) -> int:
    h = FNV_OFFSET
    for t in tokens:
        h = py_splitmix64(h ^ py_fnv1a(t))
    return h


@dataclass
class Gazetteer:
    """Hashed gazetteer entries: sorted sequence hashes and their list masks.

    Every proper prefix of an entry is present too, with mask 0, so a scan can
    stop as soon as no entry continues the tokens seen so far.
    """

    names: list[str]
    keys: np.ndarray  # uint64, sorted, unique
    masks: np.ndarray  # uint64, bit i = in list names[i]

    @classmethod
    def from_lists(cls, lists: dict[str, list[str]]) -> Gazetteer:
        """Build from ``{list name: [entry, ...]}`` (entries are raw names)."""
        if len(lists) > MAX_GAZ_LISTS:
            raise ValueError(f"at most {MAX_GAZ_LISTS} gazetteer lists per feature set")
        table = _punct_table()
        all_tokens: list[str] = []
        entry_ptr = [0]
        entry_list: list[int] = []
        for li, entries in enumerate(lists.values()):
            # normalise a whole list in one pass: lowercase, drop punctuation
            for line in "\n".join(entries).lower().translate(table).split("\n"):
                toks = line.split()
                if 0 < len(toks) <= MAX_GAZ_TOKENS:
                    all_tokens.extend(toks)
                    entry_ptr.append(len(all_tokens))
                    entry_list.append(li)
        if not entry_list:
            return cls(list(lists), np.zeros(0, np.uint64), np.zeros(0, np.uint64))
        bits = np.left_shift(np.uint64(1), np.array(entry_list, dtype=np.uint64))
        seq, bits = _sequence_hashes(hash_strings(all_tokens), np.array(entry_ptr, dtype=np.int64), bits)
        order = np.argsort(seq, kind="stable")
        seq, bits = seq[order], bits[order]
        starts = np.flatnonzero(np.r_[True, seq[1:] != seq[:-1]])
        return cls(list(lists), seq[starts], np.bitwise_or.reduceat(bits, starts))

    @classmethod
    def from_folders(cls, folders: list[Path], only: list[str] | None = None) -> Gazetteer:
        lists: dict[str, list[str]] = {}
        for folder in folders:
            for p in sorted(folder.iterdir()):
                if p.is_file() and not p.name.startswith("."):
                    name = f"{folder.name}/{p.name}"
                    if only and name not in only and p.name not in only:
                        continue
                    lists[name] = p.read_text("utf-8", errors="replace").splitlines()
        return cls.from_lists(lists)


@dataclass
class Lexicon:
    """Cluster tables (per feature group) and the gazetteer a feature set uses."""

    clusters: dict[str, ClusterTable] = field(default_factory=dict)
    gazetteer: Gazetteer | None = None
    sources: dict[str, dict[str, str]] = field(default_factory=dict)  # resource -> {file: sha256}
    licences: dict[str, str] = field(default_factory=dict)  # resource -> its licence

    def __post_init__(self) -> None:
        self.clusters = {name: t if isinstance(t, ClusterTable) else ClusterTable.from_dict(t)
                         for name, t in self.clusters.items()}

    def to_arrays(self) -> dict[str, np.ndarray]:
        arrays: dict[str, np.ndarray] = {}
        for i, table in enumerate(self.clusters.values()):
            arrays[f"lex_c{i}_words"], arrays[f"lex_c{i}_wptr"] = table.words, table.word_ptr
            arrays[f"lex_c{i}_names"], arrays[f"lex_c{i}_nptr"] = table.names, table.name_ptr
            arrays[f"lex_c{i}_index"] = table.index
        if self.gazetteer is not None:
            arrays["lex_gaz_keys"] = self.gazetteer.keys
            arrays["lex_gaz_masks"] = self.gazetteer.masks
        return arrays

    def meta(self) -> dict:
        return {"cluster_groups": list(self.clusters),
                "gazetteer_lists": self.gazetteer.names if self.gazetteer else None,
                "sources": self.sources, "licences": self.licences}

    @classmethod
    def from_arrays(cls, meta: dict, arrays: dict[str, np.ndarray]) -> Lexicon:
        """The lexicon stored in a model file. Compiled code indexes with these arrays: they must
        have passed :func:`crftag.modelcheck.validate_model` (as :meth:`crftag.Tagger.load` does)."""
        clusters = {group: ClusterTable(arrays[f"lex_c{i}_words"], arrays[f"lex_c{i}_wptr"],
                                        arrays[f"lex_c{i}_names"], arrays[f"lex_c{i}_nptr"],
                                        arrays[f"lex_c{i}_index"])
                    for i, group in enumerate(meta.get("cluster_groups", []))}
        gaz = None
        if meta.get("gazetteer_lists") is not None:
            gaz = Gazetteer(meta["gazetteer_lists"], arrays["lex_gaz_keys"], arrays["lex_gaz_masks"])
        return cls(clusters, gaz, meta.get("sources", {}), meta.get("licences", {}))


def build_lexicon(feature_set) -> Lexicon:
    """Load the resources a feature set names (registry names or paths) into a :class:`Lexicon`."""
    from crftag.resources.registry import default_registry, resolve_data, sha256_file

    reg = default_registry()

    def locate(ref: str) -> tuple[Path, dict[str, str]]:
        path = resolve_data(ref)
        if not path.exists():
            raise DataError(ref, None, "no such resource file, folder or registry name")
        files = [path] if path.is_file() else sorted(p for p in path.iterdir() if p.is_file())
        if ref in reg and not reg.get(ref).builder:
            res = reg.get(ref)
            digests = dict(res.files) if res.is_folder else {path.name: res.sha256}
        else:  # a path, or built from a package: what was used is what is on disk
            digests = {p.name: sha256_file(p) for p in files}
        if ref in reg and reg.get(ref).licence:
            lex.licences[ref] = reg.get(ref).licence
        return path, digests

    from crftag.features.kinds import KINDS

    lex = Lexicon()
    for name, params in feature_set.groups.items():
        kind = params["kind"]
        if KINDS[kind].resource == "clusters":
            path, digests = locate(params["resource"])
            lex.clusters[name] = read_clusters(path, kind)
            lex.sources[params["resource"]] = digests
        elif KINDS[kind].resource == "gazetteer":
            folders = []
            for ref in params["resources"]:
                path, digests = locate(ref)
                folders.append(path)
                lex.sources[ref] = digests
            lex.gazetteer = Gazetteer.from_folders(folders, params.get("lists") or None)
    return lex
