"""Cut 16 kHz audio into windows centred on the rig frames (60 fps), shared by the built-in
audio backbones so that every one of them yields exactly T = num_frames(n) rows.

Rig frame t spans samples [t * 16000/60, (t + 1) * 16000/60); its window is centred on the
middle of that span. 16000/60 is not an integer, so the hop is fractional and centres are rounded.
"""

from __future__ import annotations

import numpy as np

from ..audio import FPS, SAMPLE_RATE, num_frames

HOP = SAMPLE_RATE / FPS  # 266.67 samples per rig frame


def frame_windows(audio_16k: np.ndarray, win: int) -> np.ndarray:
    """(n,) float -> (T, win) float32 windows, zero-padded past both ends, T = num_frames(n)."""
    audio = np.asarray(audio_16k, dtype=np.float32).reshape(-1)
    t = num_frames(audio.shape[0])
    centres = np.round((np.arange(t) + 0.5) * HOP).astype(np.int64)  # (T,)
    half = win // 2
    padded = np.pad(audio, (half, win))
    idx = centres[:, None] + np.arange(win)[None, :]  # (T, win), offset by the left pad
    return padded[idx]
