"""Text and image guidance without CLIP: the built-in route the Animator takes when its
guidance backbone is the lexicon (the shipped models).

- A description with facial actions -> `facial_actions.read` -> pose -> `PoseGuidance`.
- A description with emotion words only -> the lexicon's blend of the trained label embeddings.
- A picture -> `FaceLandmarker` -> `face_measures.pose_from_landmarks` -> pose -> `PoseGuidance`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..backbones.lexicon import EmotionLexicon
from ..guidance import with_strength
from . import facial_actions
from .face_landmarks import FaceLandmarker
from .face_measures import pose_from_landmarks
from .pose_guidance import PoseGuidance


class OfflineGuidance:
    """Guidance features (D,) for text and images, for one Animator; built lazily, reused."""

    def __init__(self, animator, labels: torch.Tensor) -> None:
        self._animator = animator
        self._labels = labels  # (7, D) unit label directions
        self._lexicon = EmotionLexicon()
        self._landmarker = FaceLandmarker()
        self._pose: PoseGuidance | None = None

    @property
    def pose_guidance(self) -> PoseGuidance:
        if self._pose is None:
            self._pose = PoseGuidance.for_animator(self._animator)
        return self._pose

    def text(self, text: str) -> torch.Tensor:
        """A description -> (D,) feature; norm = strength (1.0 = a label as trained)."""
        description = facial_actions.read(text)  # raises, listing the vocabulary, when nothing is known
        if not description.actions:
            reading = self._lexicon.read(text)
            weights = torch.as_tensor(reading.weights, device=self._labels.device)  # (7,)
            return with_strength(weights @ self._labels, reading.strength)
        return self.pose_guidance.feature(description.pose)

    def image(self, image: str | Path | np.ndarray) -> torch.Tensor:
        """A reference face picture -> (D,) feature (FaceImageError for no face, several, unreadable)."""
        return self.pose_guidance.feature(self.image_pose(image))

    def image_pose(self, image: str | Path | np.ndarray) -> np.ndarray:
        """The (174,) pose read from a picture."""
        return pose_from_landmarks(self._landmarker.landmarks(image))
