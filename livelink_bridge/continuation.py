"""What the face does for a frame the model has not finished by its deadline: never a held pose.

A held pose (the same 174 values again, frame after frame) reads as a frozen face within a few
frames. So a late frame gets, in turn:
1. the model's own prediction of it from the last run (the engine's lookahead frames), when
   there is one (`FrameClock.offer`);
2. else a continuation of the last frame sent: the speech controls (lips, jaw, tongue) relax
   toward rest as in a short pause, with a time constant of `relax_s`; the rest of the face keeps
   its expression; the breathing goes on at its own phase. Every frame differs from the one
   before, and the face never jumps.
When final frames come back, they take over through a crossfade of `takeover_frames` frames
from where the continuation had got to.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from medtalk_core.audio import FPS
from medtalk_core.crossfade import crossfade, ramp
from medtalk_core.rig import clamp, s_lip

from livelink_bridge.idle import IdleConfig, breathing


@dataclass(frozen=True)
class ContinuationConfig:
    """How a late frame is stood in for (see the module docstring)."""

    relax_s: float = 0.15  # speech controls relax toward rest with this time constant
    takeover_frames: int = 4  # final frames fade in over this many frames after stand-ins


class Continuation:
    """Pure policy: `stand_in(last, last_index, index)` and `take_over(stand_in, final, k)`."""

    def __init__(self, cfg: ContinuationConfig = ContinuationConfig(), idle: IdleConfig = IdleConfig()) -> None:
        self.cfg = cfg
        self.idle = idle
        self._speech = np.asarray(s_lip(), dtype=np.int64)

    def stand_in(self, last: np.ndarray, last_index: int, index: int) -> np.ndarray:
        """Values (174,) for frame `index`, continuing `last`, the values sent for `last_index`."""
        steps = index - last_index
        out = np.array(last, dtype=np.float32)
        out[self._speech] *= math.exp(-steps / (FPS * self.cfg.relax_s))
        if self.idle.enabled:  # move the breath from its phase at the last frame to this one's
            out += breathing(self.idle, index) - breathing(self.idle, last_index)
        else:  # nothing else moves: let the expression fade as slowly as a long pause would
            out *= math.exp(-steps / (FPS * 20 * self.cfg.relax_s))
        return clamp(out)

    def take_over(self, stand_in: np.ndarray, final: np.ndarray, k: int) -> np.ndarray:
        """Frame `k` (0-based) of the crossfade from the stand-ins back to the final frames."""
        return crossfade(stand_in, final, ramp(k, self.cfg.takeover_frames)).astype(np.float32)
