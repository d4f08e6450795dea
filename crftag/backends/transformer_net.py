"""The network behind the ``transformer`` backend: a Hugging Face encoder fine-tuned for
token classification (torch + transformers; imported only by that backend).

Words are split into sub-tokens by the encoder's own (fast) tokenizer; each
word's first sub-token carries its label, the others are left out of the loss
and of the predictions, so training and tagging work on words, as every other
crftag backend does. Above the encoder: dropout, a linear layer, and either a
CRF layer (start and transition scores, trained on the sentence likelihood) or
per-word cross-entropy with BIO constraints imposed at decoding. The encoder is
read from a local directory only (no hub access), and the model file stores its
config, tokenizer and weights as arrays: loading never needs the directory again.
"""

from __future__ import annotations

import json
import os
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
from crftag.bio import allowed_starts, allowed_transitions
from crftag.errors import CrftagError
from crftag.features.featurize import Featurized
from crftag.io.modelfile import pack_strings, unpack_strings

PREFIX = "tf_"  # array-name prefix in model files
MAX_LAYERS = 128  # encoder layers a model file may claim (each is built before its weights load)


class TokenTagger(nn.Module):
    """Encoder -> dropout -> linear, gathered at each word's first sub-token; CRF scores."""

    def __init__(self, encoder: nn.Module, n_labels: int, labels: Sequence[str], crf: bool,
                 dropout: float = 0.1):
        super().__init__()
        self.encoder = encoder
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(encoder.config.hidden_size, n_labels)
        if crf:
            self.start = nn.Parameter(torch.zeros(n_labels))
            self.transitions = nn.Parameter(torch.zeros(n_labels, n_labels))
        else:  # fixed BIO constraints: 0 where allowed, -inf where BIO forbids
            self.register_buffer("start", torch.from_numpy(
                np.where(allowed_starts(labels), 0.0, -np.inf)).float())
            self.register_buffer("transitions", torch.from_numpy(
                np.where(allowed_transitions(labels), 0.0, -np.inf)).float())
        self.crf = crf

    def emissions(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        hidden = self.encoder(input_ids=batch["input_ids"],
                              attention_mask=batch["attention_mask"]).last_hidden_state
        logits = self.out(self.dropout(hidden))  # (n, sub-tokens, labels)
        index = batch["first"].unsqueeze(2).expand(-1, -1, logits.shape[2])
        return logits.gather(1, index)  # (n, words, labels)

    def loss(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        em, tags, mask = self.emissions(batch), batch["tags"], batch["mask"]
        if self.crf:
            return crf_neg_log_likelihood(em, tags, mask, self.start, self.transitions)
        return nn.functional.cross_entropy(em[mask], tags[mask])


class SubwordEncoder:
    """Sentences of words -> sub-token ids, with the index of each word's first sub-token.

    Words beyond ``max_length`` sub-tokens keep the last in-range position (their
    scores then come from truncated context, but every word gets a label).
    """

    def __init__(self, tokenizer, max_length: int = 128):
        self.tokenizer = tokenizer
        self.max_length = max_length

    def batch(self, X: Featurized, index: Sequence[int], labels: Sequence[Sequence[int]] | None,
              device: torch.device) -> dict[str, torch.Tensor]:
        sents = [[w if w.strip() else "_" for w in X.sentences[i]] for i in index]
        enc = self.tokenizer(sents, is_split_into_words=True, truncation=True,
                             max_length=self.max_length, padding=True, return_tensors="pt")
        n, width = len(sents), max(len(s) for s in sents)
        first = np.zeros((n, width), dtype=np.int64)
        mask = np.zeros((n, width), dtype=bool)
        tags = np.zeros((n, width), dtype=np.int64)
        for b, sent in enumerate(sents):
            seen: dict[int, int] = {}
            last = 0
            for pos, w in enumerate(enc.word_ids(b)):
                if w is not None:
                    seen.setdefault(w, pos)
                    last = pos
            first[b, :len(sent)] = [seen.get(w, last) for w in range(len(sent))]
            mask[b, :len(sent)] = True
            if labels is not None:
                tags[b, :len(sent)] = labels[b]
        out = {"input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"],
               "first": torch.from_numpy(first), "mask": torch.from_numpy(mask),
               "tags": torch.from_numpy(tags)}
        return {k: v.to(device) for k, v in out.items()}


def _tokenizer_from_json(text: str, special: dict):
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(tokenizer_object=Tokenizer.from_str(text), **special)


class TransformerModel(NeuralCRFModel):
    """The transformer backend's model: encoder config, tokenizer and all weights as arrays."""

    def to_arrays(self) -> dict[str, np.ndarray]:
        net, tok = self.network, self.encoder.tokenizer
        arrays = {f"{PREFIX}w_{i:04d}": t.detach().cpu().float().numpy()
                  for i, t in enumerate(net.state_dict().values())}
        meta = {"config": net.encoder.config.to_dict(), "tokenizer": tok.backend_tokenizer.to_str(),
                "special": {k: v for k, v in tok.special_tokens_map.items() if isinstance(v, str)},
                "names": list(net.state_dict()), "crf": net.crf, "max_length": self.encoder.max_length}
        arrays[f"{PREFIX}meta"], arrays[f"{PREFIX}meta_ptr"] = pack_strings([json.dumps(meta)])
        return arrays

    @classmethod
    def from_arrays(cls, labels: Sequence[str], arrays: dict[str, np.ndarray]) -> TransformerModel:
        from transformers import AutoConfig, AutoModel

        meta = json.loads(unpack_strings(arrays[f"{PREFIX}meta"], arrays[f"{PREFIX}meta_ptr"])[0])
        config = dict(meta["config"])
        layers = config.get("num_hidden_layers", 0)
        if not isinstance(layers, int) or not 0 <= layers <= MAX_LAYERS:
            raise ValueError(f"encoder config claims {layers!r} layers (at most {MAX_LAYERS})")
        config = AutoConfig.for_model(config.pop("model_type"), **config)
        weights = [arrays[f"{PREFIX}w_{i:04d}"] for i in range(len(meta["names"]))]
        state = {k: torch.from_numpy(np.array(w)) for k, w in zip(meta["names"], weights, strict=True)}
        def build() -> TokenTagger:
            return TokenTagger(AutoModel.from_config(config), len(labels), labels, meta["crf"])

        shape_check(build, state)
        net = build()
        net.load_state_dict(state)
        tokenizer = _tokenizer_from_json(meta["tokenizer"], meta["special"])
        return cls(labels, net, SubwordEncoder(tokenizer, meta["max_length"]))


def load_encoder(path: str | os.PathLike[str]):
    """Encoder and fast tokenizer from a local directory (never the hub)."""
    from transformers import AutoModel, AutoTokenizer

    if not os.path.isdir(path):
        raise CrftagError(f"encoder {os.fspath(path)!r} is not a directory (a Hugging Face model folder)")
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True, use_fast=True)
        encoder = AutoModel.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError) as exc:
        raise CrftagError(f"cannot load an encoder from {os.fspath(path)!r}: {exc}") from None
    if not getattr(tokenizer, "is_fast", False):
        raise CrftagError(f"{os.fspath(path)!r} has no fast tokenizer (tokenizer.json); crftag needs "
                          "its word alignment")
    return encoder, tokenizer


def train_transformer(X: Featurized, y: Sequence[Sequence[str]], X_dev: Featurized | None,
                      y_dev: Sequence[Sequence[str]] | None, *, encoder: str, crf: bool, lr: float,
                      head_lr: float, batch_size: int, max_epochs: int, patience: int,
                      max_length: int, dropout: float, device: str, seed: int,
                      progress: bool) -> tuple[TransformerModel, dict]:
    """AdamW fine-tuning (encoder at ``lr``, head and CRF at ``head_lr``), early stopping on dev F1."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    dev_ = pick_device(device)
    labels = sorted({t for tags in y for t in tags})
    label_id = {lab: i for i, lab in enumerate(labels)}
    enc_model, tokenizer = load_encoder(encoder)
    net = TokenTagger(enc_model, len(labels), labels, crf, dropout).to(dev_)
    sub = SubwordEncoder(tokenizer, max_length)
    model = TransformerModel(labels, net, sub, dev_)
    head = [p for n, p in net.named_parameters() if not n.startswith("encoder.")]
    opt = torch.optim.AdamW([{"params": net.encoder.parameters(), "lr": lr},
                             {"params": head, "lr": head_lr}])
    targets = [[label_id[t] for t in tags] for tags in y]
    order = np.array([i for i in range(len(X)) if len(X.sentences[i])])

    def one_epoch() -> float:
        return run_epoch(order, rng, batch_size,
                         lambda index: net.loss(sub.batch(X, index, [targets[i] for i in index], dev_)),
                         opt, net, clip=1.0)

    info = {"device": str(dev_), "encoder": os.fspath(encoder),
            "encoder_parameters": sum(p.numel() for p in net.encoder.parameters())}
    info.update(early_stopping(net, model, one_epoch, X_dev, y_dev, max_epochs, patience, progress,
                               "training transformer (epochs)"))
    return model, info
