"""The BiLSTM-CRF network behind the ``bilstm-crf`` backend (PyTorch; imported only by it).

Per token: a word embedding (normalised word: lower case, ``<user>``, ``<url>``,
digits as 0; optionally initialised from a word-vector text file), a character
CNN, and, in the feature-augmented variant, the sum of embeddings of crftag's
own hand-crafted feature keys for the token (hashed into buckets: casing,
shape, affixes, cluster prefixes, gazetteer flags, window copies, whatever the
feature set holds). A BiLSTM reads that, a linear layer gives emission scores,
and a CRF layer (start and transition scores, as in crftag's linear models)
gives the sentence likelihood. Decoding reuses crftag's compiled Viterbi and
confidences, so outputs and entity scores mean the same as for ``crf``.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from crftag.backends.torch_common import (
    NeuralCRFModel,
    crf_neg_log_likelihood,
    early_stopping,
    pick_device,
    run_epoch,
    shape_check,
)
from crftag.errors import DataError
from crftag.features.featurize import Featurized
from crftag.io.modelfile import pack_strings, unpack_strings

PAD, UNK = 0, 1
MAX_CHARS = 20  # characters per word seen by the char CNN
PREFIX = "bl_"  # array-name prefix in model files
_DIGITS = re.compile(r"\d")


def normalise_word(token: str) -> str:
    """The word-embedding key of a token: tweets' open classes folded together."""
    if token.startswith("@") and len(token) > 1:
        return "<user>"
    if token.startswith(("http://", "https://", "www.")):
        return "<url>"
    return _DIGITS.sub("0", token.lower())


class Vocab:
    """Strings to ids; ids 0 and 1 are padding and unknown."""

    def __init__(self, items: Sequence[str]):
        self.items = ["<pad>", "<unk>", *items]
        self.index = {s: i for i, s in enumerate(self.items)}

    def ids(self, strings: Sequence[str]) -> list[int]:
        get = self.index.get
        return [get(s, UNK) for s in strings]


class Network(nn.Module):
    """Embeddings + char CNN (+ hashed hand-crafted features) -> BiLSTM -> emissions; CRF scores."""

    def __init__(self, n_words: int, n_chars: int, n_labels: int, word_dim: int = 100,
                 char_dim: int = 30, char_filters: int = 50, hidden: int = 100,
                 feature_buckets: int = 0, feature_dim: int = 32, dropout: float = 0.5):
        super().__init__()
        self.word_emb = nn.Embedding(n_words, word_dim, padding_idx=PAD)
        self.char_emb = nn.Embedding(n_chars, char_dim, padding_idx=PAD)
        self.char_cnn = nn.Conv1d(char_dim, char_filters, kernel_size=3, padding=1)
        self.feature_bag = nn.EmbeddingBag(feature_buckets, feature_dim, mode="sum") \
            if feature_buckets else None
        width = word_dim + char_filters + (feature_dim if feature_buckets else 0)
        self.lstm = nn.LSTM(width, hidden, batch_first=True, bidirectional=True)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(2 * hidden, n_labels)
        self.start = nn.Parameter(torch.zeros(n_labels))
        self.transitions = nn.Parameter(torch.zeros(n_labels, n_labels))

    def emissions(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        words, chars, mask = batch["words"], batch["chars"], batch["mask"]
        n, t = words.shape
        c = self.char_emb(chars.view(n * t, -1)).transpose(1, 2)  # (n*t, char_dim, MAX_CHARS)
        c = torch.relu(self.char_cnn(c)).max(dim=2).values.view(n, t, -1)
        parts = [self.word_emb(words), c]
        if self.feature_bag is not None:
            parts.append(self.feature_bag(batch["feat_ids"], batch["feat_offsets"]).view(n, t, -1))
        x = self.dropout(torch.cat(parts, dim=-1))
        lengths = mask.sum(dim=1).cpu()
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        h, _ = self.lstm(packed)
        h, _ = nn.utils.rnn.pad_packed_sequence(h, batch_first=True, total_length=t)
        return self.out(self.dropout(h))

    def neg_log_likelihood(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return crf_neg_log_likelihood(self.emissions(batch), batch["tags"], batch["mask"], self.start,
                                      self.transitions)


class Encoder:
    """Sentences (tokens + crftag feature keys) to padded tensors for :class:`Network`."""

    def __init__(self, words: Vocab, chars: Vocab, feature_buckets: int):
        self.words, self.chars, self.feature_buckets = words, chars, feature_buckets

    def batch(self, X: Featurized, index: Sequence[int], labels: Sequence[Sequence[int]] | None,
              device: torch.device) -> dict[str, torch.Tensor]:
        sents = [X.sentences[i] for i in index]
        n, t = len(sents), max([1, *map(len, sents)])
        words = np.zeros((n, t), dtype=np.int64)
        chars = np.zeros((n, t, MAX_CHARS), dtype=np.int64)
        mask = np.zeros((n, t), dtype=bool)
        tags = np.zeros((n, t), dtype=np.int64)
        feat_ids: list[np.ndarray] = []
        counts = np.zeros(n * t, dtype=np.int64)
        for b, (i, sent) in enumerate(zip(index, sents, strict=True)):
            words[b, :len(sent)] = self.words.ids([normalise_word(w) for w in sent])
            mask[b, :len(sent)] = True
            for k, w in enumerate(sent):
                ids = self.chars.ids(list(w[:MAX_CHARS]))
                chars[b, k, :len(ids)] = ids
            if labels is not None:
                tags[b, :len(sent)] = labels[b]
            if self.feature_buckets:
                ptr = X.tokens(i)
                for k in range(len(sent)):
                    keys = X.keys[ptr[k]:ptr[k + 1]]
                    feat_ids.append((keys % np.uint64(self.feature_buckets)).astype(np.int64))
                    counts[b * t + k] = len(keys)
        out = {"words": words, "chars": chars, "mask": mask, "tags": tags}
        if self.feature_buckets:
            out["feat_ids"] = np.concatenate(feat_ids) if feat_ids else np.zeros(0, np.int64)
            out["feat_offsets"] = np.concatenate([[0], np.cumsum(counts)[:-1]])
        return {k: torch.from_numpy(np.ascontiguousarray(v)).to(device) for k, v in out.items()}


def read_word_vectors(path: str | os.PathLike[str], vocab: Vocab) -> tuple[int, dict[int, np.ndarray]]:
    """Vectors of vocabulary words from a word2vec/GloVe text file: (dimension, {id: vector})."""
    found: dict[int, np.ndarray] = {}
    dim = 0
    with open(path, encoding="utf-8", errors="replace") as fh:
        for lineno, line in enumerate(fh, 1):
            parts = line.rstrip().split(" ")
            if lineno == 1 and len(parts) == 2 and all(p.isdigit() for p in parts):
                continue  # word2vec header: count and dimension
            if len(parts) < 2:
                continue
            try:
                vec = np.array(parts[1:], dtype=np.float32)
            except ValueError:
                raise DataError(path, lineno, "not a word-vector line (word, then numbers)") from None
            if dim and len(vec) != dim:
                raise DataError(path, lineno, f"vector has {len(vec)} numbers, earlier lines {dim}")
            dim = len(vec)
            i = vocab.index.get(normalise_word(parts[0]))
            if i is not None and i not in found:
                found[i] = vec
    if not dim:
        raise DataError(path, None, "no word vectors found")
    return dim, found


class BiLSTMCRFModel(NeuralCRFModel):
    """The bilstm-crf backend's model: stored as its weights and vocabularies."""

    def to_arrays(self) -> dict[str, np.ndarray]:
        arrays = {f"{PREFIX}{name.replace('.', '__')}": t.detach().cpu().float().numpy()
                  for name, t in self.network.state_dict().items()}
        arrays[f"{PREFIX}vocab"], arrays[f"{PREFIX}vocab_ptr"] = pack_strings(self.encoder.words.items[2:])
        arrays[f"{PREFIX}chars"], arrays[f"{PREFIX}chars_ptr"] = pack_strings(self.encoder.chars.items[2:])
        return arrays

    @classmethod
    def from_arrays(cls, labels: Sequence[str], arrays: dict[str, np.ndarray]) -> BiLSTMCRFModel:
        """Rebuild the network; its sizes are read off the stored weight shapes."""
        words = Vocab(unpack_strings(arrays[f"{PREFIX}vocab"], arrays[f"{PREFIX}vocab_ptr"]))
        chars = Vocab(unpack_strings(arrays[f"{PREFIX}chars"], arrays[f"{PREFIX}chars_ptr"]))
        state = {k[len(PREFIX):].replace("__", "."): torch.from_numpy(np.array(v))
                 for k, v in arrays.items() if k.startswith(PREFIX) and not k.startswith(
                     (f"{PREFIX}vocab", f"{PREFIX}chars"))}
        bag = state.get("feature_bag.weight")
        sizes = {"word_dim": state["word_emb.weight"].shape[1], "char_dim": state["char_emb.weight"].shape[1],
                 "char_filters": state["char_cnn.weight"].shape[0],
                 "hidden": state["lstm.weight_hh_l0"].shape[1],
                 "feature_buckets": 0 if bag is None else bag.shape[0],
                 "feature_dim": 32 if bag is None else bag.shape[1]}
        shape_check(lambda: Network(len(words.items), len(chars.items), len(labels), **sizes), state)
        net = Network(len(words.items), len(chars.items), len(labels), **sizes)
        net.load_state_dict(state)
        return cls(labels, net, Encoder(words, chars, 0 if bag is None else bag.shape[0]))


def train_network(X: Featurized, y: Sequence[Sequence[str]], X_dev: Featurized | None,
                  y_dev: Sequence[Sequence[str]] | None, *, word_dim: int, char_dim: int,
                  char_filters: int, hidden: int, use_features: bool, feature_buckets: int,
                  feature_dim: int, dropout: float, word_dropout: float, lr: float,
                  batch_size: int, max_epochs: int, patience: int, embeddings: str | None,
                  device: str, seed: int, progress: bool) -> tuple[BiLSTMCRFModel, dict]:
    """Adam on the CRF likelihood; after each epoch, entity F1 on dev picks the best weights."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    dev_ = pick_device(device)
    labels = sorted({t for tags in y for t in tags})
    label_id = {lab: i for i, lab in enumerate(labels)}
    counts = Counter(normalise_word(w) for s in X.sentences for w in s)
    words = Vocab(sorted(counts))
    chars = Vocab(sorted({c for s in X.sentences for w in s for c in w[:MAX_CHARS]}))
    buckets = feature_buckets if use_features else 0
    net = Network(len(words.items), len(chars.items), len(labels), word_dim=word_dim,
                  char_dim=char_dim, char_filters=char_filters, hidden=hidden,
                  feature_buckets=buckets, feature_dim=feature_dim, dropout=dropout)
    info: dict = {"device": str(dev_), "vocabulary": len(words.items)}
    if embeddings:
        dim, vectors = read_word_vectors(embeddings, words)
        if dim != word_dim:
            raise DataError(embeddings, None, f"vectors have {dim} dimensions; set word_dim={dim}")
        with torch.no_grad():
            for i, vec in vectors.items():
                net.word_emb.weight[i] = torch.from_numpy(vec)
        info["pretrained_words"] = len(vectors)
    net.to(dev_)
    encoder = Encoder(words, chars, buckets)
    model = BiLSTMCRFModel(labels, net, encoder, dev_)
    targets = [[label_id[t] for t in tags] for tags in y]
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    order = np.array([i for i in range(len(X)) if len(X.sentences[i])])

    def batch_loss(index: list[int]) -> torch.Tensor:
        batch = encoder.batch(X, index, [targets[i] for i in index], dev_)
        if word_dropout:  # teach the <unk> embedding by hiding some known words
            drop = torch.rand(batch["words"].shape, device=dev_) < word_dropout
            batch["words"] = batch["words"].masked_fill(drop & batch["mask"], UNK)
        return net.neg_log_likelihood(batch)

    def one_epoch() -> float:
        return run_epoch(order, rng, batch_size, batch_loss, opt, net, clip=5.0)

    info.update(early_stopping(net, model, one_epoch, X_dev, y_dev, max_epochs, patience, progress,
                               "training bilstm-crf (epochs)"))
    return model, info


