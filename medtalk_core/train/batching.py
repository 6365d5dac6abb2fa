"""Clip features -> padded training batches, and the masked losses every stage uses.

Clips differ in length; a batch pads them to its longest member and carries a (B, T) mask, so
padding never enters a loss. Long clips are cropped to `max_frames` at a random offset (paired
clips share the offset: they are frame-aligned, and exchanges must see the same frames).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from ..rig import lip_contact, lip_rounding


@dataclass(frozen=True)
class ClipFeatures:
    """Everything a stage reads from one clip, computed once by the frozen backbones."""

    name: str
    rig: torch.Tensor  # (T, 174) ground truth
    content: torch.Tensor  # (T, Dc) audio content features
    emotion_audio: torch.Tensor  # (T, De) audio emotion features
    text: torch.Tensor  # (L, Dt) transcript token features
    emotion: int  # label id 0..6
    augmented: tuple[tuple[torch.Tensor, torch.Tensor], ...] = ()  # (content, emotion_audio) of noisy renditions

    @property
    def num_frames(self) -> int:
        return int(self.rig.shape[0])


def pick_rendition(clip: ClipFeatures, clean_share: float, rng: random.Random) -> ClipFeatures:
    """The clip as one epoch of an audio stage sees it: clean, or one of its augmented renditions."""
    if not clip.augmented or rng.random() < clean_share:
        return clip
    content, emotion_audio = clip.augmented[rng.randrange(len(clip.augmented))]
    return ClipFeatures(clip.name, clip.rig, content, emotion_audio, clip.text, clip.emotion)


@dataclass
class Batch:
    """A padded batch; every (B, T, ...) tensor is zero past each clip's length."""

    rig: torch.Tensor  # (B, T, 174)
    content: torch.Tensor  # (B, T, Dc)
    emotion_audio: torch.Tensor  # (B, T, De)
    text: torch.Tensor  # (B, L, Dt)
    text_mask: torch.Tensor  # (B, L) True where a real token is
    emotion: torch.Tensor  # (B,) long
    mask: torch.Tensor  # (B, T) True on real frames
    frame_weight: torch.Tensor  # (B, T) each frame's weight in the rig losses: 0 on padding, 1, more at lip contact or rounding

    def to(self, device: torch.device) -> "Batch":
        return Batch(**{k: v.to(device) for k, v in vars(self).items()})


def _pad(seqs: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """List of (T_i, D) -> (B, T_max, D) zero-padded, (B, T_max) mask."""
    longest = max(s.shape[0] for s in seqs)
    out = seqs[0].new_zeros((len(seqs), longest, seqs[0].shape[1]))
    mask = torch.zeros((len(seqs), longest), dtype=torch.bool)
    for i, s in enumerate(seqs):
        out[i, : s.shape[0]] = s
        mask[i, : s.shape[0]] = True
    return out, mask


def crop(clip: ClipFeatures, start: int, frames: int) -> ClipFeatures:
    """Frames [start, start + frames) of a clip; the transcript stays whole (it has no frame clock)."""
    end = start + frames
    return ClipFeatures(clip.name, clip.rig[start:end], clip.content[start:end], clip.emotion_audio[start:end],
                        clip.text, clip.emotion)


def crop_group(clips: list[ClipFeatures], max_frames: int, rng: random.Random) -> list[ClipFeatures]:
    """Cut frame-aligned clips to their common length, then to one shared random window of `max_frames`."""
    frames = min(c.num_frames for c in clips)
    start = rng.randrange(frames - max_frames + 1) if frames > max_frames else 0
    return [crop(c, start, min(frames, max_frames)) for c in clips]


def collate(clips: list[ClipFeatures], contact_weight: float = 0.0, rounding_weight: float = 0.0) -> Batch:
    """Pad clips into a batch. `contact_weight` > 0 weighs frames where the target's lips touch
    (`rig.lip_contact`) 1 + contact_weight times as much as the rest in the rig losses: closures
    last a few frames of every second, and a plain mean lets the model trade their depth away for
    a smoother mouth. `rounding_weight` does the same for frames where the target's lips round
    (`rig.lip_rounding`); tried for the rounding real voices leave weak, it measured no gain
    (benchmarks/RESULTS_training.md), so the shipped recipe leaves it at 0."""
    rig, mask = _pad([c.rig for c in clips])
    content, _ = _pad([c.content for c in clips])
    emotion_audio, _ = _pad([c.emotion_audio for c in clips])
    text, text_mask = _pad([c.text for c in clips])
    emotion = torch.tensor([c.emotion for c in clips], dtype=torch.long)
    emphasis = contact_weight * lip_contact(rig) + rounding_weight * lip_rounding(rig)  # (B, T)
    frame_weight = mask.to(rig.dtype) * (1.0 + emphasis)
    return Batch(rig, content, emotion_audio, text, text_mask, emotion, mask, frame_weight)


def masked_mse(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean squared error over real frames only. pred/target (B, T, D) or (B, T); mask (B, T),
    boolean or a float weight per frame (`Batch.frame_weight`): a weighted mean."""
    if pred.dim() == 2:
        pred, target = pred.unsqueeze(-1), target.unsqueeze(-1)
    weight = mask.unsqueeze(-1).to(pred.dtype)  # (B, T, 1)
    return ((pred - target) ** 2 * weight).sum() / (weight.sum() * pred.shape[-1]).clamp_min(1.0)


def sequence_cosine_loss(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """1 - cos over each flattened (T * D) sequence, as the release computes it; mean over the batch.

    a, b (B, T, D); padded frames are zeroed in both so they add nothing to either norm."""
    weight = mask.unsqueeze(-1).to(a.dtype)
    cos = F.cosine_similarity((a * weight).flatten(1), (b * weight).flatten(1), dim=1, eps=1e-8)  # (B,)
    return (1.0 - cos).mean()
