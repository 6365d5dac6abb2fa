"""Idle behaviour of a live face: blinks at natural intervals, slight breathing, relaxed mouth.

Applied by the streaming engine on top of the model's frames, frame by frame and in order, so
the same stream of frames always gets the same blinks (the timing is random but seeded).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from medtalk_core.audio import FPS
from medtalk_core.rig import controller_names, s_lip


_NAMES = controller_names()
_BLINK = (_NAMES.index("CTRL_L_eye_blink-translateY"), _NAMES.index("CTRL_R_eye_blink-translateY"))
_BREATH = _NAMES.index("CTRL_neck_throatExhaleInhale-translateY")
_NOSTRILS = (_NAMES.index("CTRL_L_nose-translateY"), _NAMES.index("CTRL_R_nose-translateY"))

# The silence gate follows the input with a fast attack (speech must never be clipped) and a
# slower release (short pauses between words must not make the mouth snap shut).
_ATTACK_S = 0.03
_RELEASE_S = 0.25


@dataclass(frozen=True)
class IdleConfig:
    """What a live face does when nobody speaks, so that the character never freezes."""

    enabled: bool = True  # blinks and breathing at all times, relaxed mouth in silence
    blink_interval_s: tuple[float, float] = (2.0, 6.0)  # random gap between blinks (people: ~15-20 / min)
    blink_duration_s: float = 0.2  # close + open of one blink
    breathing_period_s: float = 4.0  # one breath (15 breaths a minute at rest)
    breathing_amplitude: float = 0.15  # peak of CTRL_neck_throatExhaleInhale (range -1..1)
    relax_mouth: bool = True  # damp the lip controls toward rest while the input is silent
    silence_rms: float = 0.01  # frame RMS (full scale 1.0) below which a frame counts as silent
    seed: int = 0  # blink timing is random but reproducible


def breathing(cfg: IdleConfig, index: int) -> np.ndarray:
    """What breathing adds to frame `index`: (174,), the throat and, on the inhale, the nostrils."""
    out = np.zeros(len(_NAMES), dtype=np.float32)
    breath = math.sin(2 * math.pi * (index / FPS) / cfg.breathing_period_s)
    out[_BREATH] = cfg.breathing_amplitude * breath
    out[list(_NOSTRILS)] = 0.1 * cfg.breathing_amplitude * max(breath, 0.0)  # nostrils flare on the inhale
    return out


class IdleMotion:
    """Stateful overlay: call `apply(values, index, silent)` once per frame, in frame order."""

    def __init__(self, cfg: IdleConfig) -> None:
        self.cfg = cfg
        self._lip = np.asarray(s_lip(), dtype=np.int64)
        self.reset()

    def reset(self) -> None:
        self._rng = np.random.default_rng(self.cfg.seed)
        self._next_blink = self._draw_gap(0)
        self._quiet = 1.0  # 1 = fully silent (mouth relaxed), 0 = speaking

    def _draw_gap(self, after: int) -> int:
        lo, hi = self.cfg.blink_interval_s
        return after + int(round(self._rng.uniform(lo, hi) * FPS))

    def _blink(self, index: int, advance: bool = True) -> float:
        """Eyelid closure in [0, 1] for frame `index` (a raised-cosine pulse)."""
        length = max(2, int(round(self.cfg.blink_duration_s * FPS)))
        phase = index - self._next_blink
        if phase >= length and advance:
            self._next_blink = self._draw_gap(self._next_blink + length)
            phase = index - self._next_blink
        if 0 <= phase < length:
            return 0.5 - 0.5 * math.cos(2 * math.pi * (phase + 0.5) / length)
        return 0.0

    def apply(self, values: np.ndarray, index: int, silent: bool) -> np.ndarray:
        """Return a copy of `values` (174,) with idle motion added for frame `index` (in order)."""
        if not self.cfg.enabled:
            return values
        if self.cfg.relax_mouth:
            tau = _RELEASE_S if silent else _ATTACK_S
            alpha = 1.0 - math.exp(-1.0 / (FPS * tau))
            self._quiet += alpha * ((1.0 if silent else 0.0) - self._quiet)
        return self._overlay(values, index, self._blink(index))

    def peek(self, values: np.ndarray, index: int) -> np.ndarray:
        """Like `apply` for a frame ahead of the last applied one, without changing the state
        (for provisional frames that may never be sent)."""
        if not self.cfg.enabled:
            return values
        return self._overlay(values, index, self._blink(index, advance=False))

    def _overlay(self, values: np.ndarray, index: int, blink: float) -> np.ndarray:
        out = values.copy()
        if self.cfg.relax_mouth:
            out[self._lip] *= 1.0 - self._quiet  # lips toward rest (0) while silent
        for i in _BLINK:
            out[i] = max(out[i], blink)  # never open an eye the model closes
        return out + breathing(self.cfg, index)
