"""The small interfaces every backbone implements, built-in or pretrained.

Frame-level features are always aligned to the rig clock: a clip of n samples at 16 kHz gives
T = audio.num_frames(n) rows. Backbones are frozen feature extractors (the paper freezes its
pretrained encoders); anything trainable lives in `medtalk_core.model`.
Implementations load their weights lazily, once, and never download inside a constructor.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, Sequence, runtime_checkable

import numpy as np
import torch


@runtime_checkable
class AudioFeatureBackbone(Protocol):
    """Audio (16 kHz mono float32) -> per-frame features (T, dim), T = num_frames(len(audio)).

    Used for both audio content (wav2vec2 | built-in log-mel) and audio emotion
    (emotion2vec | built-in prosody)."""

    name: str
    dim: int

    def features(self, audio_16k: np.ndarray) -> torch.Tensor:  # (T, dim) float32, on CPU
        ...


@dataclass(frozen=True)
class Word:
    text: str
    start_s: float  # word start, seconds from the clip start
    end_s: float  # word end, seconds


@dataclass(frozen=True)
class Transcript:
    text: str
    words: tuple[Word, ...] = field(default_factory=tuple)  # empty when the recogniser gives none


@runtime_checkable
class Transcriber(Protocol):
    """Audio (16 kHz mono float32) -> Transcript (faster-whisper | built-in pocketsphinx)."""

    name: str

    def transcribe(self, audio_16k: np.ndarray) -> Transcript:
        ...


@runtime_checkable
class TextBackbone(Protocol):
    """Transcript text -> token features (L, dim), L >= 1 (RoBERTa/BERT | built-in hashed)."""

    name: str
    dim: int

    def features(self, text: str) -> torch.Tensor:  # (L, dim) float32
        ...


@runtime_checkable
class GuidanceBackbone(Protocol):
    """CLIP-style joint embedding for guidance: descriptions and reference images -> (N, dim).

    Images are HxWx3 uint8 RGB arrays (or paths, opened by the implementation)."""

    name: str
    dim: int

    def encode_text(self, texts: Sequence[str]) -> torch.Tensor:  # (N, dim)
        ...

    def encode_image(self, images: Sequence[np.ndarray | str]) -> torch.Tensor:  # (N, dim)
        ...
