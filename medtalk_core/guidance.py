"""Guidance requests and guidance features: what emotion to show, and how strongly.

A guidance feature is a torch vector (D,) in the model's label-embedding space. Its direction
is the emotion; its norm is the strength (1.0 = as trained). Eq. 9 replaces the norm of the
feature by the predicted intensity, so the Animator multiplies that intensity by the feature's
norm: strength survives the norm adjustment, and strength 0 means no emotion drive.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .errors import MedtalkError

EPS = 1e-8


@dataclass(frozen=True)
class GuidanceSpec:
    label: str | int | None = None  # emotion name, 3-letter prefix or id 0-6
    text: str | None = None  # a description, e.g. "a tired, reluctant smile"
    image: str | Path | np.ndarray | None = None  # reference face: path or HxWx3 uint8 RGB
    strength: float = 1.0  # scales the emotion intensity; 0 = none, 1 = as trained

    def __post_init__(self) -> None:
        given = [k for k in ("label", "text", "image") if getattr(self, k) is not None]
        if len(given) != 1:
            raise MedtalkError(f"guidance needs exactly one of label, text or image; got {', '.join(given) or 'none'}")
        if not np.isfinite(self.strength) or self.strength < 0:
            raise MedtalkError(f"guidance strength must be a finite number >= 0, got {self.strength}")


def unit(g: torch.Tensor) -> torch.Tensor:
    """g / ||g|| along the last axis (zero stays zero)."""
    return g / g.norm(dim=-1, keepdim=True).clamp_min(EPS)


def with_strength(g: torch.Tensor, strength: float | torch.Tensor) -> torch.Tensor:
    """Same direction, norm = strength."""
    return unit(g) * strength


def strength_of(g: torch.Tensor) -> torch.Tensor:
    """The strength a guidance feature carries: its norm. (..., D) -> (...)."""
    return g.norm(dim=-1)


def mix(a: torch.Tensor, b: torch.Tensor, w: float | torch.Tensor) -> torch.Tensor:
    """Blend guidance a -> b continuously, w in [0, 1] (scalar, or (T,) for a per-frame ramp).

    Directions blend linearly and the strength blends linearly, so halfway between two
    emotions of strength 1 is strength 1, not the shorter chord of a plain lerp."""
    b = b.to(a.device)  # a feature given by the caller may sit on the CPU while the animator's are on CUDA
    w_t = torch.as_tensor(w, dtype=a.dtype, device=a.device)
    if torch.any((w_t < 0) | (w_t > 1)):
        raise MedtalkError(f"mix weight must lie in [0, 1], got {w}")
    w_t = w_t[..., None] if w_t.dim() > 0 else w_t  # (T, 1) broadcasts against (D,)
    direction = (1 - w_t) * unit(a) + w_t * unit(b)
    norm = (1 - w_t) * strength_of(a)[..., None] + w_t * strength_of(b)[..., None]
    return unit(direction) * norm  # (D,) or (T, D)
