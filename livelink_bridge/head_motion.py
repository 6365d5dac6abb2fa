"""Head and eye motion on the live stream: `medtalk_core.head_eyes` fed with each final frame's
audio level, switched on and off and aimed by the guidance state (`/medtalk/head_eyes`,
`/medtalk/gaze`)."""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

from medtalk_core.head_eyes import COLUMNS, HeadEyes, HeadEyesConfig
from medtalk_core.rig import EMOTIONS

from livelink_bridge.control.state import GuidanceSnapshot
from livelink_bridge.frames import RigFrame

_STILL = np.zeros(len(COLUMNS), np.float32)  # off: a still head, the gaze controls alone


class HeadMotion:
    """`annotate(frames, ...)` gives final frames their `head_eyes`, in index order, one call per
    batch from the daemon loop; no lookahead (a frame's motion depends on the audio up to it)."""

    def __init__(self, cfg: HeadEyesConfig) -> None:
        # `cfg.enabled` is where the guidance state's switch starts (GuidanceState(head_eyes=...));
        # the switch alone turns the motion on and off, so the generator itself always runs.
        self.generator = HeadEyes(dataclasses.replace(cfg, enabled=True))
        self._gaze = (0.0, 0.0)  # the gaze target the generator was last told
        self._moving = False  # whether the generator has run since it was last reset

    def annotate(self, frames: list[RigFrame], guidance: GuidanceSnapshot,
                 level_db: Callable[[int], float]) -> list[RigFrame]:
        """`level_db(index)`: the RMS level of a frame's audio (the engine's `level_db`); the
        emotion label, when the guidance is one, shapes the motion."""
        if not guidance.head_eyes:
            if self._moving:  # switched on again, it starts from the rest pose
                self.generator.reset()
                self._moving = False
            return [dataclasses.replace(f, head_eyes=_STILL) for f in frames]
        if guidance.gaze != self._gaze:
            self._gaze = guidance.gaze
            self.generator.set_gaze_target(*guidance.gaze)
        self._moving = True
        energy = np.array([level_db(f.index) for f in frames], np.float32)
        emotion = guidance.description if guidance.description in EMOTIONS else "neutral"
        motion = self.generator.step(energy, emotion)
        return [dataclasses.replace(f, head_eyes=m) for f, m in zip(frames, motion)]
