"""What the pieces that run a model need of it, as typing Protocols: the engine, the control
state, the bake and the long-audio path type their animator with these rather than `Any`, and
`medtalk_core.inference.Animator` is the one class that satisfies them all."""

from __future__ import annotations

from typing import Any, Protocol, Sequence

import numpy as np
import torch

from .guidance import GuidanceSpec


class GuidanceEncoder(Protocol):
    """Turns a label, description or picture into a guidance feature."""

    def guidance(self, spec: str | int | GuidanceSpec, strength: float = 1.0) -> torch.Tensor:
        """-> (D,), norm = strength."""
        ...


class ClipAnimator(GuidanceEncoder, Protocol):
    """Animates one clip at a time (the streaming engine's sliding windows)."""

    def animate(self, audio_16k: np.ndarray, guidance: Any, transcript: str | None = None,
                smooth: bool = True) -> np.ndarray:
        """(n,) 16 kHz audio -> (num_frames(n), 174)."""
        ...


class BatchAnimator(Protocol):
    """Animates many clips in one call (bake, long files)."""

    resampler: str  # how files are brought to 16 kHz (audio.RESAMPLERS)

    def animate_batch(self, audios: Sequence[np.ndarray], guidances: Sequence[Any],
                      transcripts: Sequence[str | None] | None = None,
                      paths: Sequence[str | None] | None = None) -> list[np.ndarray]:
        """Each (n_i,) clip -> (num_frames(n_i), 174); `paths` names each guidance's path."""
        ...


class BakeAnimator(BatchAnimator, GuidanceEncoder, Protocol):
    """What a batch bake needs: batched animation, guidance features and where it runs."""

    device: torch.device

    def guidance_path(self, guidance: Any) -> str:
        """"label" or "clip": which E_fuse copy and intensity head a guidance uses."""
        ...
