"""The paper's evaluation metrics (eq. 15-18): MLE, MEE, EIE, FRD.

Every function takes a predicted and a ground-truth rig sequence (T, 174) (numpy or anything
`np.asarray` accepts) and returns a float. The controller sets are fixed in `medtalk_core.rig`
(S_lip, S_emo, S_up) and Int() is the release's pseudo-intensity (0.1 * L1 over S_int).

- MLE  = mean over frames and S_lip controllers of |R_hat - R|            (eq. 15)
- MEE  = mean over frames and S_emo controllers of |R_hat - R|            (eq. 16)
- EIE  = mean over frames of |Int(R_hat)_t - Int(R)_t|                    (eq. 17)
- FRD  = mean over S_up controllers j of std_t(R^j) - std_t(R_hat^j)      (eq. 18)

FRD is signed as the equation writes it: positive when the prediction is flatter (less varied)
than the ground truth, which is the usual failure; a negative value means over-animation.
The standard deviation is the population one (ddof=0), over time within one clip.

Over a test set, MLE, MEE and EIE average over every frame of every clip (longer clips weigh
more, as an L1 over the concatenated set would), and FRD averages the per-clip values (a
standard deviation over time only means something within one clip).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Iterable

import numpy as np

from .rig import NUM_CONTROLS, pseudo_intensity, s_emo, s_lip, s_up

METRIC_NAMES: tuple[str, ...] = ("MLE", "MEE", "EIE", "FRD")


def _pair(pred: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred = np.asarray(pred, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    if pred.shape != target.shape or pred.ndim != 2 or pred.shape[1] != NUM_CONTROLS:
        raise ValueError(f"metrics need two (T, {NUM_CONTROLS}) arrays of equal shape, got {pred.shape} and {target.shape}")
    if pred.shape[0] == 0:
        raise ValueError("metrics need at least one frame")
    return pred, target


def mle(pred: np.ndarray, target: np.ndarray) -> float:
    """Mean Lip Error, eq. 15."""
    pred, target = _pair(pred, target)
    idx = list(s_lip())
    return float(np.abs(pred[:, idx] - target[:, idx]).mean())


def mee(pred: np.ndarray, target: np.ndarray) -> float:
    """Mean Emotion Error, eq. 16."""
    pred, target = _pair(pred, target)
    idx = list(s_emo())
    return float(np.abs(pred[:, idx] - target[:, idx]).mean())


def eie(pred: np.ndarray, target: np.ndarray) -> float:
    """Emotion Intensity Error, eq. 17: mean per-frame |Int(R_hat) - Int(R)|."""
    pred, target = _pair(pred, target)
    return float(np.abs(pseudo_intensity(pred) - pseudo_intensity(target)).mean())


def frd(pred: np.ndarray, target: np.ndarray) -> float:
    """Upper-Face Rig Deviation, eq. 18: mean over S_up of std(R^j) - std(R_hat^j) (signed)."""
    pred, target = _pair(pred, target)
    idx = list(s_up())
    return float((target[:, idx].std(axis=0) - pred[:, idx].std(axis=0)).mean())


@dataclass(frozen=True)
class Metrics:
    """The four numbers of the paper's Tables 1 and 3 (lower is better; FRD is signed)."""

    MLE: float
    MEE: float
    EIE: float
    FRD: float
    clips: int = 1  # how many clips were averaged
    frames: int = 0  # how many frames were averaged (MLE, MEE, EIE weights)

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def clip_metrics(pred: np.ndarray, target: np.ndarray) -> Metrics:
    """All four metrics of one clip."""
    pred, target = _pair(pred, target)
    return Metrics(mle(pred, target), mee(pred, target), eie(pred, target), frd(pred, target), 1, pred.shape[0])


class MetricAccumulator:
    """Adds clips one at a time; `result()` gives the set-level numbers described above."""

    def __init__(self) -> None:
        self._frames = 0
        self._sums = {"MLE": 0.0, "MEE": 0.0, "EIE": 0.0}
        self._frd: list[float] = []

    def add(self, pred: np.ndarray, target: np.ndarray) -> Metrics:
        one = clip_metrics(pred, target)
        for key in self._sums:
            self._sums[key] += getattr(one, key) * one.frames
        self._frames += one.frames
        self._frd.append(one.FRD)
        return one

    def result(self) -> Metrics:
        if not self._frd:
            raise ValueError("no clips were added")
        return Metrics(
            MLE=self._sums["MLE"] / self._frames,
            MEE=self._sums["MEE"] / self._frames,
            EIE=self._sums["EIE"] / self._frames,
            FRD=float(np.mean(self._frd)),
            clips=len(self._frd),
            frames=self._frames,
        )


def dataset_metrics(pairs: Iterable[tuple[np.ndarray, np.ndarray]]) -> Metrics:
    """Set-level metrics over (pred, target) pairs."""
    acc = MetricAccumulator()
    for pred, target in pairs:
        acc.add(pred, target)
    return acc.result()
