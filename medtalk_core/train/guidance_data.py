"""Synthetic (description, image, rig) triples for the multimodal guidance stage.

The paper pairs RAVDESS reference frames with written descriptions; we have neither, so each
training clip gives its own: a description templated from the clip's emotion and how strongly
it shows (its mean pseudo-intensity against the average of its emotion), and a reference image
drawn from the clip's most intense rig frame by `medtalk_core.face_drawing`. The guidance
backbone (CLIP, or the built-in one) encodes both once; features are cached per clip.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np
import torch

from ..backbones.base import GuidanceBackbone
from ..face_drawing import draw_face
from ..rig import EMOTIONS, pseudo_intensity
from .batching import ClipFeatures

# Words per emotion, in the order of rig.EMOTIONS; varied so P_text sees more than one phrasing.
_ADJECTIVES: dict[str, tuple[str, ...]] = {
    "angry": ("angry", "furious", "irritated"),
    "disgust": ("disgusted", "repulsed", "revolted"),
    "fear": ("afraid", "frightened", "scared"),
    "happy": ("happy", "joyful", "cheerful"),
    "neutral": ("calm", "neutral", "relaxed"),
    "sad": ("sad", "sorrowful", "unhappy"),
    "surprised": ("surprised", "astonished", "amazed"),
}
_TEMPLATES: tuple[str, ...] = (
    "a {adv}{adj} face",
    "the speaker looks {adv}{adj}",
    "a {adv}{adj} expression while talking",
    "someone who is {adv}{adj}",
)
# (upper bound of mean intensity relative to the emotion's average, adverb)
_STRENGTH_WORDS: tuple[tuple[float, str], ...] = ((0.85, "slightly "), (1.15, ""), (float("inf"), "very "))


def strength_word(relative: float) -> str:
    """Adverb for a clip whose mean intensity is `relative` times its emotion's average."""
    return next(word for bound, word in _STRENGTH_WORDS if relative < bound)


def describe(emotion: int, relative_strength: float, rng: random.Random) -> str:
    name = EMOTIONS[emotion]
    template = rng.choice(_TEMPLATES)
    return template.format(adv=strength_word(relative_strength), adj=rng.choice(_ADJECTIVES[name]))


def reference_frame(rig: np.ndarray) -> np.ndarray:
    """The most intense frame of a (T, 174) clip: where the expression shows best."""
    return rig[int(np.argmax(pseudo_intensity(rig)))]


@dataclass(frozen=True)
class GuidanceFeatures:
    """CLIP-space features of one clip's description and reference image."""

    description: str
    text: torch.Tensor  # (clip_dim,)
    image: torch.Tensor  # (clip_dim,)


def build_triples(clips: list[ClipFeatures], backbone: GuidanceBackbone, image_size: int,
                  seed: int = 0) -> list[GuidanceFeatures]:
    """One (description, image) per clip, encoded by the guidance backbone, in `clips` order."""
    rng = random.Random(seed)
    means = np.array([float(pseudo_intensity(c.rig).mean()) for c in clips])
    per_emotion = {e: means[[i for i, c in enumerate(clips) if c.emotion == e]].mean()
                   for e in {c.emotion for c in clips}}
    descriptions = [describe(c.emotion, means[i] / max(per_emotion[c.emotion], 1e-6), rng) for i, c in enumerate(clips)]
    images = [draw_face(reference_frame(c.rig.numpy()), size=image_size) for c in clips]
    out: list[GuidanceFeatures] = []
    step = 64  # encode in chunks: bounded memory with a real CLIP
    for start in range(0, len(clips), step):
        text = backbone.encode_text(descriptions[start:start + step]).float()  # (n, clip_dim)
        image = backbone.encode_image(images[start:start + step]).float()  # (n, clip_dim)
        out += [GuidanceFeatures(d, t, i) for d, t, i in zip(descriptions[start:start + step], text, image)]
    return out
