"""Audio content features from a transformers `Wav2Vec2Model` (the paper's ACM input).

Two ways to read the model, chosen by `Wav2Vec2Settings.mode`:
- "release": what the authors' ACM was trained on. Their wav2vec2 subclass interpolates the
  convolutional features (about 50 Hz) to the T rig frames *before* the transformer and returns
  `encoder_outputs.hidden_states[0]`, i.e. the projected features plus the convolutional
  positional embedding, layer-normalised: the transformer layers' output is never used.
  Imported release weights (`audio_content_map`) only fit this mode.
- "last": the last transformer layer, interpolated to T afterwards (the usual reading).
Both interpolate linearly with align_corners=True, as the release does.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from ...audio import num_frames
from .loading import (LoadOptions, PretrainedAdapter, as_audio, load_hf, require, resolve_device, resolve_dtype,
                      run_by_length, to_time_frames)

logger = logging.getLogger(__name__)

MODES = ("release", "last")
MIN_SAMPLES = 400  # wav2vec2's convolution stack needs 25 ms to produce one frame


@dataclass(frozen=True)
class Wav2Vec2Settings:
    model: str = "facebook/wav2vec2-base-960h"  # hub id (from the hub cache) or a local save_pretrained folder
    mode: str = "release"  # "release" (features the authors' ACM expects) | "last" (last hidden state)
    normalize: bool = True  # zero-mean unit-variance per clip, as Wav2Vec2Processor does for base-960h


class Wav2Vec2Content(PretrainedAdapter):
    """AudioFeatureBackbone: 16 kHz audio -> (T, hidden_size) wav2vec2 features on the rig clock."""

    def __init__(self, settings: Wav2Vec2Settings = Wav2Vec2Settings(), options: LoadOptions = LoadOptions(),
                 config_key: str = "backbones.audio_content.model") -> None:
        if settings.mode not in MODES:
            raise ValueError(f"wav2vec2 mode must be one of {MODES}, got {settings.mode!r}")
        super().__init__(settings, options, config_key, f"wav2vec2:{settings.model}:{settings.mode}")
        self._model: torch.nn.Module | None = None

    @property
    def dim(self) -> int:
        return self._config_dim("Wav2Vec2Config", "audio content (wav2vec2)")

    @property
    def device(self) -> torch.device:
        return resolve_device(self.options.device)

    def load(self) -> torch.nn.Module:
        """Load once (lazily) and cache; frozen, eval mode, on the chosen device and dtype."""
        if self._model is None:
            transformers = require("transformers", "pretrained")
            model = load_hf(transformers.Wav2Vec2Model, self.settings.model, "audio content (wav2vec2)",
                            self.config_key, self.options)
            device = self.device
            model = model.to(device=device, dtype=resolve_dtype(self.options, device)).eval()
            model.requires_grad_(False)
            self._dim = int(model.config.hidden_size)
            self._model = model
            logger.info("loaded wav2vec2 %s on %s (%s mode)", self.settings.model, device, self.settings.mode)
        return self._model

    def features(self, audio_16k: np.ndarray) -> torch.Tensor:
        return self.features_batch([audio_16k])[0]

    def features_batch(self, audios: Sequence[np.ndarray]) -> list[torch.Tensor]:
        """Features for several clips; clips of equal length run as one batch.

        Clips of different lengths are not zero-padded together: base-960h has no attention mask
        and its first convolution normalises over time, so padding would change the features."""
        def run(group: list[np.ndarray], length: int) -> torch.Tensor:
            batch = np.stack([self._prepare(clip) for clip in group])  # (B, n')
            return self._forward(batch, num_frames(length))  # (B, T, D)

        return run_by_length([as_audio(a) for a in audios], run)

    def _prepare(self, clip: np.ndarray) -> np.ndarray:
        if self.settings.normalize:
            # Wav2Vec2FeatureExtractor.zero_mean_unit_var_norm, per clip
            clip = (clip - clip.mean()) / np.sqrt(clip.var() + 1e-7)
        if len(clip) < MIN_SAMPLES:
            clip = np.pad(clip, (0, MIN_SAMPLES - len(clip)))
        return clip.astype(np.float32)

    @torch.inference_mode()
    def _forward(self, batch: np.ndarray, frames: int) -> torch.Tensor:
        model = self.load()
        param = next(model.parameters())
        x = torch.from_numpy(batch).to(device=param.device, dtype=param.dtype)  # (B, n)
        if frames == 0:
            return torch.zeros((x.shape[0], 0, self.dim))
        if self.settings.mode == "release":
            h = model.feature_extractor(x).transpose(1, 2)  # (B, F, conv_dim)
            h = torch.stack([to_time_frames(row, frames) for row in h])  # (B, T, conv_dim)
            h, _ = model.feature_projection(h)  # (B, T, D)
            encoder = model.encoder
            h = h + encoder.pos_conv_embed(h)  # (B, T, D)
            if not model.config.do_stable_layer_norm:  # the post-norm encoder normalises its input
                h = encoder.layer_norm(h)
        else:
            h = model(x).last_hidden_state  # (B, F, D)
            h = torch.stack([to_time_frames(row, frames) for row in h])  # (B, T, D)
        return h.float().cpu()
