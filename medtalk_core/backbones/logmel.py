"""Built-in audio content backbone: 80-bin log-mel spectrogram, one row per rig frame.

25 ms Hann windows centred on each 60 fps frame, 512-point FFT, HTK-style mel filters from
0 to 8 kHz. Values are log10 power squeezed to about [-1, 1] by a fixed affine map (no per-clip
statistics, so a streaming window and the whole file give the same rows).

With `level_split`, each row is the frame's spectral shape (its log-mel minus the frame's mean
over the bands) plus one last column holding that mean, the frame's level. A change of gain
then moves one column instead of all 80, so a model trained with level augmentation reads
articulation from the shape of the spectrum and its mouth does not simply follow loudness.
Still per frame: streaming and offline agree as before.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import fft  # float32 FFTs, several times faster than numpy.fft here

from ..audio import SAMPLE_RATE
from .framing import frame_windows

N_FFT = 512
WIN = 400  # 25 ms
LOG_FLOOR = -8.0  # log10 power floor (silence), as in Whisper's front end
LOG_SHIFT, LOG_SCALE = 4.0, 4.0  # (log10 + 4) / 4 maps speech power to roughly [-1, 1]


def mel_filters(n_mels: int, n_fft: int = N_FFT, rate: int = SAMPLE_RATE) -> np.ndarray:
    """(n_mels, n_fft // 2 + 1) triangular filters, equally spaced on the HTK mel scale."""
    def to_mel(f: np.ndarray) -> np.ndarray:
        return 2595.0 * np.log10(1.0 + f / 700.0)

    def to_hz(m: np.ndarray) -> np.ndarray:
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)

    bins = np.linspace(0, rate / 2, n_fft // 2 + 1)
    edges = to_hz(np.linspace(to_mel(np.array(0.0)), to_mel(np.array(rate / 2)), n_mels + 2))
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    up = (bins[None, :] - lower) / (centre - lower)
    down = (upper - bins[None, :]) / (upper - centre)
    weights = np.maximum(0.0, np.minimum(up, down))
    return (weights * (2.0 / (upper - lower))).astype(np.float32)  # area-normalised (Slaney)


class LogMel:
    """AudioFeatureBackbone: audio (n,) at 16 kHz -> (T, n_mels) float32."""

    name = "logmel"

    def __init__(self, n_mels: int = 80, level_split: bool = False) -> None:
        self.level_split = bool(level_split)
        self.dim = int(n_mels) + int(self.level_split)
        self._filters = mel_filters(int(n_mels))  # (n_mels, 257)
        self._window = np.hanning(WIN).astype(np.float32)

    def features(self, audio_16k: np.ndarray) -> torch.Tensor:
        frames = frame_windows(audio_16k, WIN) * self._window  # (T, WIN)
        power = np.abs(fft.rfft(frames, n=N_FFT, axis=-1)) ** 2  # (T, 257)
        mel = power @ self._filters.T  # (T, n_mels)
        logmel = np.maximum(np.log10(np.maximum(mel, 1e-10)), LOG_FLOOR)
        scaled = (logmel + LOG_SHIFT) / LOG_SCALE  # (T, n_mels)
        if self.level_split:
            level = scaled.mean(axis=1, keepdims=True)  # (T, 1)
            scaled = np.concatenate([scaled - level, level], axis=1)  # (T, n_mels + 1)
        return torch.from_numpy(scaled.astype(np.float32))
