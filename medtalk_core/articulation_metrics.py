"""Does a face articulate what was said? Scores of a rig against the phones of its speech.

Three checks a viewer notices first, each computed from the timed phones (a forced alignment,
or hand labels) and the rig alone, so any model, baseline or the alignment-driven articulation
itself can be scored the same way on real recordings:
- bilabial closure: on every /p b m/, the lips close: lipsTogether rises by at least 0.1 over
  its level in the flanking 150 ms, or the jaw falls below half of its peak there;
- jaw opening: the jaw at the centre of open vowels is above that of close vowels (ROC AUC);
- rounding: lip rounding (purse + towards) at rounded segments is above that at spread ones (AUC).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Protocol

import numpy as np

from .audio import FPS
from .data.rigmap import rows
from .rig import rounding_columns

BILABIALS = frozenset({"P", "B", "M"})
OPEN_VOWELS = frozenset({"AA", "AE", "AO", "AW", "AY"})
CLOSE_VOWELS = frozenset({"IY", "UW", "IH", "UH"})
ROUNDED = frozenset({"UW", "UH", "OW", "W"})
SPREAD = frozenset({"IY", "IH", "EY", "EH"})
FLANK_S = 0.15
CLOSURE_RISE = 0.1


class TimedPhone(Protocol):
    name: str  # ARPAbet, stress removed
    start: float  # s
    end: float  # s


def _span(p: TimedPhone, frames: int) -> tuple[int, int]:
    a = min(frames - 1, max(0, int(round(p.start * FPS))))
    return a, max(a + 1, min(frames, int(round(p.end * FPS))))


def _centre(rig_column: np.ndarray, p: TimedPhone) -> float:
    """Mean over the middle third of the segment (at least one frame)."""
    a, b = _span(p, len(rig_column))
    third = (b - a) // 3
    return float(rig_column[a + third: b - third].mean()) if b - a >= 3 else float(rig_column[a:b].mean())


def closed_on(rig: np.ndarray, p: TimedPhone) -> bool:
    """Do the lips close during phone `p`? (see the module docstring)"""
    frames = rig.shape[0]
    a, b = _span(p, frames)
    flank = int(FLANK_S * FPS)
    together = rig[:, list(rows("mouth_lipsTogetherD"))].mean(axis=1)  # (T,)
    jaw = rig[:, rows("jaw-translateY")[0]]
    around = np.concatenate([together[max(0, a - flank):a], together[b:b + flank]])
    rise = together[a:b].max() - (float(np.median(around)) if around.size else 0.0)
    jaw_around = np.concatenate([jaw[max(0, a - flank):a], jaw[b:b + flank]])
    jaw_drop = jaw_around.size > 0 and jaw[a:b].min() < 0.5 * jaw_around.max()
    return bool(rise >= CLOSURE_RISE or jaw_drop)


def auc(positive: Iterable[float], negative: Iterable[float]) -> float:
    """P(a positive scores above a negative), ties counted half (Mann-Whitney); nan if a side is empty."""
    pos, neg = np.asarray(list(positive), float), np.asarray(list(negative), float)
    if pos.size == 0 or neg.size == 0:
        return float("nan")
    greater = (pos[:, None] > neg[None, :]).mean()
    ties = (pos[:, None] == neg[None, :]).mean()
    return float(greater + 0.5 * ties)


@dataclass
class ArticulationTally:
    """Counts over many clips; `add` one clip at a time, then read the rates."""

    bilabials: int = 0
    closed: int = 0
    open_jaw: list[float] | None = None
    close_jaw: list[float] | None = None
    rounded: list[float] | None = None
    spread: list[float] | None = None

    def __post_init__(self) -> None:
        self.open_jaw, self.close_jaw, self.rounded, self.spread = [], [], [], []

    def add(self, rig: np.ndarray, phones: Iterable[TimedPhone]) -> None:
        jaw = rig[:, rows("jaw-translateY")[0]]
        rounding = rig[:, list(rounding_columns())].mean(axis=1)
        for p in phones:
            if p.start * FPS >= rig.shape[0]:
                continue
            if p.name in BILABIALS:
                self.bilabials += 1
                self.closed += closed_on(rig, p)
            if p.name in OPEN_VOWELS:
                self.open_jaw.append(_centre(jaw, p))
            elif p.name in CLOSE_VOWELS:
                self.close_jaw.append(_centre(jaw, p))
            if p.name in ROUNDED:
                self.rounded.append(_centre(rounding, p))
            elif p.name in SPREAD:
                self.spread.append(_centre(rounding, p))

    @property
    def closure_rate(self) -> float:
        return self.closed / self.bilabials if self.bilabials else float("nan")

    @property
    def open_close_auc(self) -> float:
        return auc(self.open_jaw, self.close_jaw)

    @property
    def round_spread_auc(self) -> float:
        return auc(self.rounded, self.spread)
