"""Pitch-preserving time warping (WSOLA) along a piecewise-linear time map.

The seven emotional renditions of a sentence come out of espeak-ng with different timings; the
generator warps each onto one reference phoneme timeline so that all seven share their lip
frames exactly. WSOLA (Verhelst & Roelands, 1993) overlap-adds Hann windows taken from the
input around the mapped position, each shifted by up to `tolerance` samples to the offset
that best continues the previous window, so pitch and timbre survive the change of speed.
"""

from __future__ import annotations

import numpy as np

WINDOW = 320  # samples (20 ms at 16 kHz)
HOP = WINDOW // 2  # 50 % overlap: periodic Hann windows sum to one
TOLERANCE = 80  # samples (5 ms) of search either side of the mapped position


def anchors(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Keep only points where both time axes strictly increase (pauses may share a start)."""
    keep_src, keep_dst = [src[0]], [dst[0]]
    for s, d in zip(src[1:], dst[1:]):
        if s > keep_src[-1] and d > keep_dst[-1]:
            keep_src.append(s)
            keep_dst.append(d)
    return np.asarray(keep_src, np.float64), np.asarray(keep_dst, np.float64)


def wsola(audio: np.ndarray, src_points: np.ndarray, dst_points: np.ndarray, out_len: int) -> np.ndarray:
    """Warp `audio` so that sample src_points[k] lands on dst_points[k]; returns (out_len,) float32.

    Both point arrays are in samples, increasing, and span the whole clip; between them the map is
    linear (and extrapolated at slope one outside).
    """
    x = np.asarray(audio, np.float32)
    window = np.hanning(WINDOW + 1)[:-1].astype(np.float32)  # periodic Hann
    n_frames = out_len // HOP + 2
    pad = WINDOW + 2 * TOLERANCE
    xp = np.concatenate([np.zeros(pad, np.float32), x, np.zeros(pad + WINDOW, np.float32)])
    out = np.zeros(n_frames * HOP + WINDOW, np.float32)
    centres = np.arange(n_frames) * HOP  # (F,) output time (samples) at each window's centre
    mapped = np.interp(centres, dst_points, src_points, left=np.nan, right=np.nan)
    # Outside the anchors, continue at the original speed.
    lo, hi = np.isnan(mapped) & (centres < dst_points[0]), np.isnan(mapped) & (centres >= dst_points[0])
    mapped[lo] = src_points[0] + (centres[lo] - dst_points[0])
    mapped[hi] = src_points[-1] + (centres[hi] - dst_points[-1])
    starts = np.round(mapped - WINDOW // 2).astype(np.int64) + pad  # (F,) in padded coordinates
    prev = None
    for k, start in enumerate(starts):
        start = int(np.clip(start, TOLERANCE, len(xp) - WINDOW - TOLERANCE - 1))
        if prev is not None:
            # The natural continuation of the previous window, one hop on.
            template = xp[prev + HOP: prev + HOP + WINDOW]
            region = xp[start - TOLERANCE: start + TOLERANCE + WINDOW]
            score = np.correlate(region, template, mode="valid")  # (2*TOLERANCE+1,)
            if np.any(score != 0):
                start = start - TOLERANCE + int(np.argmax(score))
        out[k * HOP: k * HOP + WINDOW] += window * xp[start: start + WINDOW]
        prev = start
    # Window k sits at out[k*HOP : k*HOP + WINDOW], centred on output time k*HOP: out index i is
    # output time i - WINDOW/2.
    return out[WINDOW // 2: WINDOW // 2 + out_len].copy()
