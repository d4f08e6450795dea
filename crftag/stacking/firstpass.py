"""Training the first passes of a feature set's stack groups, reproducibly and once.

A first pass is a CRF (the ``crf`` backend's defaults, half of the entity-less sentences kept,
as :func:`crftag.train` does) over the model's own features, trained on its group's corpora
with every sentence of the target's training and dev data left out: a sentence is left out
when its :func:`text_key` matches one of theirs (WNUT17's train split is WNUT16's tweets,
tokenised a little differently; the key sees through that). With ``folds`` K > 1 the target's
training sentences join the first pass's data (labels per the group's ``scheme``), and the
features of each training sentence come from a first pass trained without its fold
(jackknifing), so they look like the features of new text.

A group whose corpora are all the target's (a stack group of BTC when training on BTC) gets a
first pass that tags everything ``O``: its features are constant, and the same feature set trains
on any corpus.

A trained first pass is cached under ``$CRFTAG_HOME/stack``, named by a digest of
everything that made it (data, features, lexicon, settings): the same definition and data
give the same model, trained once per machine.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence

import numpy as np

from crftag.errors import CrftagError
from crftag.features.featureset import FeatureSet
from crftag.features.featurize import Featurizer
from crftag.features.lexicon import Lexicon
from crftag.linear.model import LinearChainModel
from crftag.sampling import keep_empty
from crftag.stacking.model import FirstPass, Outputs, Stack
from crftag.types import Sentence

#: bump when what a cached first pass holds, or how it is trained, changes
CACHE_VERSION = 1
#: the share of entity-less sentences a first pass keeps (the default of crftag.train)
EMPTY_FRACTION = 0.5

_NON_WORD = re.compile(r"\W")


def text_key(tokens: Sequence[str]) -> str:
    """A sentence's identity whatever its tokenisation: its characters, lowercased, without
    spaces or punctuation."""
    return _NON_WORD.sub("", "".join(tokens).lower())


def relabel(sentences: Sequence[Sentence], scheme: str) -> list[Sentence]:
    """The sentences with their tags per ``scheme``: as they are (``types``), or bare B/I/O."""
    if scheme == "types":
        return list(sentences)
    return [Sentence(s.tokens, [t[0] if t != "O" else "O" for t in s.tags], line=s.line) for s in sentences]


def read_pool(params: dict, exclude: set[str]) -> tuple[list[Sentence], dict]:
    """A stack group's corpora, relabelled, without the sentences whose key is in ``exclude``;
    and the record of what they are."""
    from crftag.resources.corpora import load_with_provenance

    kept, sources, left_out = [], [], 0
    for ref in params["corpora"]:
        sents, record = load_with_provenance(ref)
        sources.append(record)
        for s in relabel(sents, params["scheme"]):
            if text_key(s.tokens) in exclude:
                left_out += 1
            else:
                kept.append(s)
    return kept, {"sources": sources, "sentences": len(kept), "left_out": left_out}


def _digest(sentences: Sequence[Sentence], feature_set: FeatureSet, lexicon: Lexicon, seed: int) -> str:
    h = hashlib.sha256(json.dumps({"version": CACHE_VERSION, "features": feature_set.featurized().to_dict(),
                                   "lexicon": lexicon.meta().get("sources", {}), "seed": seed,
                                   "empty_fraction": EMPTY_FRACTION}, sort_keys=True).encode())
    for s in sentences:
        h.update("\x1f".join(s.tokens).encode("utf-8", "surrogatepass") + b"\x1e")
        h.update("\x1f".join(s.tags).encode() + b"\x1d")
    return h.hexdigest()


def train_first_pass(sentences: Sequence[Sentence], featurizer: Featurizer, lexicon: Lexicon,
                     seed: int = 0, progress: bool = False) -> tuple[LinearChainModel, str]:
    """A first pass trained on ``sentences`` (from the cache when it holds one); its digest."""
    from crftag.backends import get_backend
    from crftag.io.modelfile import load_model, save_model
    from crftag.modelcheck import Invalid, check_linear
    from crftag.resources.registry import cache_dir

    if not any(t != "O" for s in sentences for t in s.tags):
        return _constant(), "empty"
    digest = _digest(sentences, featurizer.feature_set, lexicon, seed)
    path = cache_dir() / "stack" / f"{digest}.crftag"
    if path.is_file():
        try:
            meta, arrays = load_model(path)
            check_linear(list(meta["labels"]), arrays)
            return LinearChainModel.from_arrays(list(meta["labels"]), arrays), digest
        except (CrftagError, Invalid, KeyError, TypeError, ValueError):
            pass  # a damaged entry is trained again and replaced
    sample = keep_empty(sentences, EMPTY_FRACTION, seed)
    X = featurizer.featurize_batch([s.tokens for s in sample])
    model = get_backend("crf")().fit(X, [s.tags for s in sample], progress=progress)
    try:  # a cache that cannot be written (a read-only home) only costs training again next time
        path.parent.mkdir(parents=True, exist_ok=True)
        save_model(path, {"labels": list(model.labels), "digest": digest}, model.to_arrays())
    except (OSError, CrftagError):
        pass
    return model, digest


def _constant() -> LinearChainModel:
    """The first pass of a group whose corpora hold no entity once the target's sentences are left out
    (a group of the target's own corpus): every token ``O``, so its features say nothing."""
    return LinearChainModel(["O"], np.zeros(0, np.uint64), np.zeros(1, np.int64), np.zeros(0, np.int32),
                            np.zeros(0), np.zeros((1, 1)))


def fit_stack(feature_set: FeatureSet, lexicon: Lexicon, train: Sequence[Sentence],
              exclude: Sequence[Sentence] = (), seed: int = 0,
              progress: bool = False) -> tuple[Stack, list[list[Outputs]]]:
    """The first passes of ``feature_set``'s stack groups for a model trained on ``train`` (whose
    sentences and those of ``exclude``, the dev data, are left out of their corpora), and each
    training sentence's first-pass outputs as training should see them (per sentence, per
    first pass): jackknifed where a group has ``folds``."""
    featurizer = Featurizer(feature_set, lexicon)
    keys = {text_key(s.tokens) for s in [*train, *exclude]}
    X = featurizer.featurize_batch([s.tokens for s in train])
    passes, per_pass = [], []
    for name, params in feature_set.stacks().items():
        folds = params["folds"]
        if folds == 1:
            raise CrftagError(f"groups.{name}.folds is 1: use 0 (no jackknifing) or 2 and more")
        pool, record = read_pool(params, keys)
        target = relabel(train, params["scheme"]) if folds else []
        model, digest = train_first_pass([*pool, *target], featurizer, lexicon, seed, progress)
        fp = FirstPass(name, params, model, {**record, "scheme": params["scheme"], "folds": folds,
                                              "target_sentences": len(target), "digest": digest})
        passes.append(fp)
        per_pass.append(jackknifed(fp, pool, target, featurizer, lexicon, seed, progress)
                        if folds else fp.outputs(X))
    return Stack(passes), [list(o) for o in zip(*per_pass, strict=True)] if passes else [[] for _ in train]


def fold_of(n: int, folds: int, seed: int) -> np.ndarray:
    """The jackknife fold of each of ``n`` training sentences (a seeded permutation, dealt round-robin)."""
    return np.random.default_rng(seed).permutation(n) % folds


def jackknifed(fp: FirstPass, pool: list[Sentence], target: list[Sentence], featurizer: Featurizer,
               lexicon: Lexicon, seed: int, progress: bool) -> list[Outputs]:
    """Each target sentence's outputs from a first pass trained on the pool and the other folds."""
    folds = fp.params["folds"]
    assign = fold_of(len(target), folds, seed)
    out: list[Outputs | None] = [None] * len(target)
    for k in range(folds):
        fit = [s for s, a in zip(target, assign, strict=True) if a != k]
        model, _ = train_first_pass([*pool, *fit], featurizer, lexicon, seed, progress)
        held = np.flatnonzero(assign == k)
        X_held = featurizer.featurize_batch([target[i].tokens for i in held.tolist()])
        for i, o in zip(held.tolist(), FirstPass(fp.group, fp.params, model).outputs(X_held), strict=True):
            out[i] = o
    return out  # type: ignore[return-value]
