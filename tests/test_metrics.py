"""MLE / MEE / EIE / FRD against values computed by hand on small arrays."""

from __future__ import annotations

import numpy as np
import pytest

from medtalk_core import metrics
from medtalk_core.rig import NUM_CONTROLS, S_INT, s_emo, s_lip, s_up


def _zeros(frames: int = 4) -> np.ndarray:
    return np.zeros((frames, NUM_CONTROLS), np.float32)


def test_mle_counts_only_lip_controls() -> None:
    target = _zeros()
    pred = _zeros()
    lip = s_lip()
    pred[:, lip[0]] = 0.5  # one lip channel off by 0.5 in every frame
    pred[:, 0] = 9.0  # channel 0 (gaze) is not a lip control: must not count
    assert 0 not in lip
    # mean over 4 frames x |S_lip| channels of the error: 4 * 0.5 / (4 * |S_lip|)
    assert metrics.mle(pred, target) == pytest.approx(0.5 / len(lip))


def test_mee_uses_emotion_set() -> None:
    target = _zeros(2)
    pred = _zeros(2)
    emo = s_emo()
    pred[0, emo[0]] = 1.0
    pred[1, emo[1]] = -3.0
    # |errors| sum = 4 over 2 frames x |S_emo| channels
    assert metrics.mee(pred, target) == pytest.approx(4.0 / (2 * len(emo)))


def test_eie_is_mean_abs_intensity_difference() -> None:
    target = _zeros(3)
    pred = _zeros(3)
    # Int = 0.1 * sum |r[S_int]|: frame 0 target has 1.0 on two S_int channels -> Int 0.2
    target[0, S_INT[0]] = 1.0
    target[0, S_INT[1]] = -1.0
    # frame 2 prediction: 0.5 on one S_int channel -> Int 0.05
    pred[2, S_INT[5]] = 0.5
    # per-frame |diff| = 0.2, 0, 0.05 -> mean 0.25 / 3
    assert metrics.eie(pred, target) == pytest.approx(0.25 / 3)


def test_frd_is_signed_std_difference_over_upper_face() -> None:
    up = s_up()
    target = _zeros(4)
    pred = _zeros(4)
    target[:, up[0]] = [0.0, 1.0, 0.0, 1.0]  # population std 0.5
    pred[:, up[1]] = [0.0, 0.0, 2.0, 2.0]  # population std 1.0
    # (0.5 - 0) + (0 - 1.0) over |S_up| channels
    assert metrics.frd(pred, target) == pytest.approx(-0.5 / len(up))
    # a flat prediction of a varying target is positive
    assert metrics.frd(_zeros(4), target) == pytest.approx(0.5 / len(up))


def test_identical_sequences_score_zero() -> None:
    rng = np.random.default_rng(0)
    rig = rng.uniform(-1, 1, (10, NUM_CONTROLS)).astype(np.float32)
    m = metrics.clip_metrics(rig, rig)
    assert (m.MLE, m.MEE, m.EIE, m.FRD) == (0.0, 0.0, 0.0, 0.0)
    assert m.frames == 10


def test_accumulator_weights_frames_and_averages_frd_per_clip() -> None:
    lip = s_lip()
    up = s_up()
    t1, p1 = _zeros(2), _zeros(2)
    p1[:, lip[0]] = 1.0  # clip 1: MLE = 1 / |S_lip|
    t2, p2 = _zeros(6), _zeros(6)  # clip 2: MLE = 0, 6 frames
    t2[:, up[0]] = [1, -1, 1, -1, 1, -1]  # FRD of clip 2 = 1 / |S_up|
    acc = metrics.MetricAccumulator()
    acc.add(p1, t1)
    acc.add(p2, t2)
    result = acc.result()
    assert result.MLE == pytest.approx((2 * (1.0 / len(lip))) / 8)
    assert result.FRD == pytest.approx((0.0 + 1.0 / len(up)) / 2)
    assert (result.clips, result.frames) == (2, 8)


def test_shape_mismatch_is_rejected() -> None:
    with pytest.raises(ValueError):
        metrics.mle(_zeros(3), _zeros(4))
    with pytest.raises(ValueError):
        metrics.mle(np.zeros((3, 10)), np.zeros((3, 10)))
    with pytest.raises(ValueError):
        metrics.MetricAccumulator().result()
