"""Transcript features from a transformers BERT/RoBERTa encoder (the paper's FIM text branch).

The release encodes the Whisper transcript with hfl/chinese-roberta-wwm-ext (BERT architecture,
loaded with BertModel/BertTokenizer) and uses the last hidden state over all tokens, special
tokens included. `AutoModel`/`AutoTokenizer` load that folder and English models alike.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Sequence

import torch

from .loading import LoadOptions, PretrainedAdapter, load_hf, require, resolve_device, resolve_dtype

logger = logging.getLogger(__name__)

ROBERTA_TYPES = ("roberta", "xlm-roberta", "camembert")  # position ids start after the padding index


@dataclass(frozen=True)
class BertSettings:
    model: str = "hfl/chinese-roberta-wwm-ext"  # hub id or local folder (model + tokenizer files)
    max_tokens: int = 512  # longer transcripts are truncated, as the release does (truncation=True)
    release_tokens: bool = False  # tokenise as the release: encode_plus(text=[text]) reads the list as
    #                               pre-split tokens, so the whole transcript is one token ([UNK] unless it
    #                               is a single vocabulary entry): [CLS] [UNK] [SEP] (inference mode "release")


class BertText(PretrainedAdapter):
    """TextBackbone: text -> (L, hidden_size) last hidden state, L tokens incl. [CLS] and [SEP]."""

    def __init__(self, settings: BertSettings = BertSettings(), options: LoadOptions = LoadOptions(),
                 config_key: str = "backbones.text.model") -> None:
        super().__init__(settings, options, config_key, f"bert:{settings.model}")
        self._model: torch.nn.Module | None = None
        self._tokenizer: object | None = None

    @property
    def dim(self) -> int:
        return self._config_dim("AutoConfig", "text (BERT/RoBERTa)")

    def load(self) -> tuple[torch.nn.Module, object]:
        """Load model and tokenizer once (lazily); frozen, eval mode, on the chosen device and dtype."""
        if self._model is None:
            transformers = require("transformers", "pretrained")
            tokenizer = load_hf(transformers.AutoTokenizer, self.settings.model, "text (BERT/RoBERTa) tokenizer",
                                self.config_key, self.options)
            model = load_hf(transformers.AutoModel, self.settings.model, "text (BERT/RoBERTa)",
                            self.config_key, self.options)
            device = resolve_device(self.options.device)
            model = model.to(device=device, dtype=resolve_dtype(self.options, device)).eval()
            model.requires_grad_(False)
            self._dim = int(model.config.hidden_size)
            self._model, self._tokenizer = model, tokenizer
            logger.info("loaded text encoder %s on %s", self.settings.model, device)
        assert self._tokenizer is not None
        return self._model, self._tokenizer

    def _max_tokens(self, model: torch.nn.Module) -> int:
        """The setting, capped by the positions the model has (RoBERTa-type models offset theirs by 2)."""
        config = model.config
        positions = int(config.max_position_embeddings) - (2 if config.model_type in ROBERTA_TYPES else 0)
        return min(self.settings.max_tokens, positions)

    def features(self, text: str) -> torch.Tensor:
        return self.features_batch([text])[0]

    @torch.inference_mode()
    def features_batch(self, texts: Sequence[str]) -> list[torch.Tensor]:
        """One padded batch; each result is cut back to its own tokens (padding never leaks)."""
        if not texts:
            return []
        model, tokenizer = self.load()
        param = next(model.parameters())
        if self.settings.release_tokens:
            ids = [[tokenizer.cls_token_id, tokenizer.convert_tokens_to_ids(t), tokenizer.sep_token_id] for t in texts]
            enc = {"input_ids": torch.tensor(ids), "attention_mask": torch.ones(len(ids), 3, dtype=torch.long)}
        else:
            enc = tokenizer(list(texts), add_special_tokens=True, truncation=True,
                            max_length=self._max_tokens(model), padding=True, return_tensors="pt")
        enc = {k: v.to(param.device) for k, v in enc.items()}
        hidden = model(**enc).last_hidden_state.float().cpu()  # (N, L_max, D)
        mask = enc["attention_mask"].bool().cpu()  # (N, L_max), True on real tokens whichever side pads
        return [hidden[i][mask[i]].contiguous() for i in range(len(texts))]  # each (L_i, D)
