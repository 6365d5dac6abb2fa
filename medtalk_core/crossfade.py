"""The linear crossfade every overlap uses: window stitching, hop boundaries of the stream and
guidance transitions.

Frame k (0-based) of an n-frame crossfade gives the newer signal weight (k + 1) / (n + 1), so
neither end of the fade is a plain copy of one side and the fade reaches 1 on the frame after it.
"""

from __future__ import annotations

import numpy as np


def ramp(offsets: np.ndarray | int, length: int) -> np.ndarray:
    """Weight of the newer signal at `offsets` frames into a `length`-frame crossfade, in [0, 1]
    (0 before the fade, 1 after it). float32, the shape of `offsets`."""
    k = np.asarray(offsets, dtype=np.float32)
    return np.clip((k + 1.0) / (length + 1), 0.0, 1.0).astype(np.float32, copy=False)


def crossfade(old: np.ndarray, new: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """old * (1 - weight) + new * weight; `weight` broadcasts against the frames' leading axes."""
    return old * (1.0 - weight) + new * weight
