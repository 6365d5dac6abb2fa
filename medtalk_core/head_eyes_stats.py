"""Statistics of head and eye motion, to compare a generator's output with real people
(`benchmarks/head_eyes.py`, tests): per head axis the spread and peak speed while speaking and in
pauses, saccades on the main sequence, and blinks, from (frames, 6) arrays in
`medtalk_core.head_eyes.COLUMNS` order."""

from __future__ import annotations

import math

import numpy as np

from .audio import FPS
from .head_eyes import COLUMNS


def _event_starts(active: np.ndarray) -> np.ndarray:
    """Indices where a boolean series turns on."""
    return np.flatnonzero(active & ~np.concatenate(([False], active[:-1])))


def _saccades(gaze: np.ndarray, fps: float, threshold_deg_s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Saccades in a (frames, 2) gaze trace -> (first moving frame, amplitude deg, duration ms).

    A saccade is a run of frame-to-frame speeds over `threshold_deg_s`, widened to where the speed
    falls to the fixation noise (median + 5 robust sd of the slower frames, at least 0.01 deg/s
    for float32 rounding, at most the threshold), as in Nystrom & Holmqvist 2010's onset and offset thresholds. Its
    duration is the count of frames caught in flight times the frame time: for a saccade starting
    at a random phase that count averages the true duration, however few frames it spans."""
    speed = np.hypot(*np.diff(gaze, axis=0).T) * fps  # (frames - 1,): speed[i] from frame i to i + 1
    slow = speed[speed <= threshold_deg_s]
    median = float(np.median(slow)) if slow.size else 0.0
    noise = 1.4826 * float(np.median(np.abs(slow - median))) if slow.size else 0.0
    moving = speed > min(max(median + 5.0 * noise, 0.01), threshold_deg_s)
    starts, amplitudes, durations = [], [], []
    last = -1
    for i in np.flatnonzero(speed > threshold_deg_s):
        if i <= last:
            continue  # inside the saccade just measured
        first, last = i, i
        while first > 0 and moving[first - 1]:
            first -= 1
        while last < speed.shape[0] - 1 and moving[last + 1]:
            last += 1
        if first == 0 or last == speed.shape[0] - 1:
            continue  # cut by the clip's edge
        starts.append(first + 1)
        amplitudes.append(float(np.hypot(*(gaze[last + 1] - gaze[first]))))
        durations.append((last - first) * 1000.0 / fps)
    return np.array(starts, dtype=np.int64), np.array(amplitudes), np.array(durations)


def motion_statistics(values: np.ndarray, speaking: np.ndarray, fps: float = float(FPS),
                      saccade_threshold_deg_s: float = 30.0) -> dict:
    """Head and eye statistics of (frames, 6) COLUMNS `values`, apart for speaking and silent frames.

    -> {"speaking": {...}, "silent": {...}, "main_sequence_slope_ms_per_deg": ..,
        "main_sequence_intercept_ms": .., "saccades_fitted": .., "saccade_amplitude_median_deg": ..,
        "saccade_amplitude_p90_deg": ..}, where each condition holds
    "seconds", "<axis>_std_deg" and "<axis>_p95_speed_deg_s" (95th percentile of |d angle / dt|
    over frame pairs both in the condition) for the three head axes, and "saccades_per_min" and
    "blinks_per_min" (blink rising past 0.5), each event counted where it starts. Saccades are
    found in the gaze, head + eye (the eye columns are eye-in-head, as the rig takes them). The
    main sequence (duration ms = slope x amplitude deg + intercept) is fitted over all saccades;
    NaN where too few. At 60 fps a saccade spans 1-4 frames: its own duration is coarse, the
    fit over many saccades is not."""
    values = np.asarray(values, dtype=np.float64)
    speaking = np.asarray(speaking, dtype=bool)
    if values.ndim != 2 or values.shape[1] != len(COLUMNS) or speaking.shape != values.shape[:1]:
        raise ValueError(f"need values (frames, {len(COLUMNS)}) and speaking (frames,), "
                         f"got {values.shape} and {speaking.shape}")
    gaze = values[:, 3:5] + values[:, 0:2]  # (frames, 2) yaw, pitch in the world
    saccade_starts, amplitudes, durations = _saccades(gaze, fps, saccade_threshold_deg_s)
    blink_starts = _event_starts(values[:, 5] > 0.5)
    stats: dict = {}
    for name, state in (("speaking", True), ("silent", False)):
        frames = speaking == state
        pairs = frames[1:] & frames[:-1]  # (frames - 1,)
        minutes = frames.sum() / fps / 60.0
        condition = {"seconds": float(frames.sum() / fps)}
        for axis in range(3):
            angle = values[:, axis]
            speed = np.abs(np.diff(angle))[pairs] * fps
            condition[f"{COLUMNS[axis]}_std_deg"] = float(angle[frames].std()) if frames.sum() > 1 else math.nan
            condition[f"{COLUMNS[axis]}_p95_speed_deg_s"] = float(np.percentile(speed, 95)) if speed.size else math.nan
        for key, starts in (("saccades_per_min", saccade_starts), ("blinks_per_min", blink_starts)):
            condition[key] = float(np.count_nonzero(frames[starts]) / minutes) if minutes else math.nan
        stats[name] = condition
    fitted = amplitudes.size >= 3 and np.ptp(amplitudes) > 0
    slope, intercept = np.polyfit(amplitudes, durations, 1) if fitted else (math.nan, math.nan)
    stats["main_sequence_slope_ms_per_deg"] = float(slope)
    stats["main_sequence_intercept_ms"] = float(intercept)
    stats["saccades_fitted"] = int(amplitudes.size)
    stats["saccade_amplitude_median_deg"] = float(np.median(amplitudes)) if amplitudes.size else math.nan
    stats["saccade_amplitude_p90_deg"] = float(np.percentile(amplitudes, 90)) if amplitudes.size else math.nan
    return stats
