"""Built-in audio emotion backbone: per-frame prosody and spectral statistics, with deltas.

12 features per 60 fps frame, then their time deltas (24 in all), each scaled by a fixed
constant to about unit range (no per-clip statistics, so streaming and offline agree):
  0 log energy   1 voicing (autocorrelation peak)   2 pitch, log2(f0 / 200 Hz), 0 if unvoiced
  3 spectral centroid   4 bandwidth   5 rolloff (85 %)   6 flux   7 flatness
  8 zero-crossing rate   9 high-band (> 2 kHz) energy ratio   10 low-band (< 500 Hz) energy ratio
  11 pitch voiced-weighted: pitch * voicing (a soft pitch that fades at voicing edges)
Pitch comes from the normalised autocorrelation over 60-400 Hz lags of a 50 ms window.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import fft  # float32 FFTs, several times faster than numpy.fft here

from ..audio import SAMPLE_RATE
from .framing import frame_windows

WIN = 800  # 50 ms: two periods of a 40 Hz voice, enough for autocorrelation pitch
N_FFT = 1024
F0_MIN, F0_MAX = 60.0, 400.0
VOICING_THRESHOLD = 0.45  # normalised autocorrelation peak above which a frame counts as voiced
NUM_BASE = 12
OCTAVE_TOLERANCE = 0.9  # a shorter lag wins if its correlation is within 10 % of the best


def _autocorr_pitch(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """frames (T, WIN) -> (f0 Hz, voicing in [0, 1]), each (T,)."""
    x = frames - frames.mean(axis=1, keepdims=True)
    spec = fft.rfft(x, n=2 * WIN, axis=1)
    ac = fft.irfft(np.abs(spec) ** 2, axis=1)[:, :WIN]  # (T, WIN)
    # unbiased: divide by the overlap length so long lags are not penalised
    ac = ac / (WIN - np.arange(WIN))[None, :]
    energy = ac[:, :1] + 1e-10
    lo, hi = int(SAMPLE_RATE / F0_MAX), int(SAMPLE_RATE / F0_MIN)
    seg = ac[:, lo:hi] / energy  # (T, hi - lo)
    # every multiple of the period correlates as well as the period itself: take the first
    # local maximum within 10 % of the best one, which avoids octave-down errors
    best = seg.max(axis=1, keepdims=True)
    local_max = np.zeros_like(seg, dtype=bool)
    local_max[:, 1:-1] = (seg[:, 1:-1] >= seg[:, :-2]) & (seg[:, 1:-1] >= seg[:, 2:])
    candidates = local_max & (seg >= OCTAVE_TOLERANCE * best)
    periodic = candidates.any(axis=1)  # no peak inside the pitch range: not voiced speech
    lag = np.where(periodic, np.argmax(candidates, axis=1), np.argmax(seg, axis=1))  # (T,)
    peak = np.where(periodic, seg[np.arange(seg.shape[0]), lag], 0.0)
    # parabolic interpolation of the peak for sub-sample lag
    left = seg[np.arange(seg.shape[0]), np.maximum(lag - 1, 0)]
    right = seg[np.arange(seg.shape[0]), np.minimum(lag + 1, seg.shape[1] - 1)]
    denom = left - 2 * peak + right
    shift = np.where(np.abs(denom) > 1e-12, 0.5 * (left - right) / np.where(denom == 0, 1, denom), 0.0)
    f0 = SAMPLE_RATE / (lo + lag + np.clip(shift, -0.5, 0.5))
    return f0.astype(np.float32), np.clip(peak, 0.0, 1.0).astype(np.float32)


class Prosody:
    """AudioFeatureBackbone: audio (n,) at 16 kHz -> (T, 24) float32."""

    name = "prosody"
    dim = 2 * NUM_BASE

    def __init__(self) -> None:
        self._window = np.hanning(WIN).astype(np.float32)
        self._freqs = np.fft.rfftfreq(N_FFT, 1.0 / SAMPLE_RATE).astype(np.float32)  # (513,)

    def features(self, audio_16k: np.ndarray) -> torch.Tensor:
        frames = frame_windows(audio_16k, WIN)  # (T, WIN)
        if frames.shape[0] == 0:
            return torch.zeros(0, self.dim)
        f0, voicing = _autocorr_pitch(frames)
        voiced = voicing > VOICING_THRESHOLD
        rms = np.sqrt(np.mean(frames**2, axis=1) + 1e-10)
        log_energy = (20 * np.log10(rms + 1e-5) + 50.0) / 30.0  # about -1 (silence) .. 1 (loud)
        pitch = np.where(voiced, np.log2(f0 / 200.0), 0.0)

        mag = np.abs(fft.rfft(frames * self._window, n=N_FFT, axis=1))  # (T, 513)
        power = mag**2
        total = power.sum(axis=1) + 1e-10
        nyq = SAMPLE_RATE / 2
        centroid = (power * self._freqs).sum(axis=1) / total
        bandwidth = np.sqrt((power * (self._freqs - centroid[:, None]) ** 2).sum(axis=1) / total)
        cumulative = np.cumsum(power, axis=1)
        rolloff = self._freqs[np.argmax(cumulative >= 0.85 * cumulative[:, -1:], axis=1)]
        norm_mag = mag / (mag.sum(axis=1, keepdims=True) + 1e-10)
        flux = np.r_[0.0, np.sqrt((np.diff(norm_mag, axis=0) ** 2).sum(axis=1))] if len(mag) > 1 else np.zeros(1)
        flatness = np.exp(np.mean(np.log(power + 1e-10), axis=1)) / (np.mean(power, axis=1) + 1e-10)
        zcr = np.mean(np.abs(np.diff(np.signbit(frames), axis=1)), axis=1)
        high = power[:, self._freqs > 2000].sum(axis=1) / total
        low = power[:, self._freqs < 500].sum(axis=1) / total

        base = np.stack([
            log_energy, voicing, pitch,
            centroid / nyq * 4, bandwidth / nyq * 4, rolloff / nyq * 2, flux * 10, flatness * 4,
            zcr * 4, high * 2, low * 2, pitch * voicing,
        ], axis=1).astype(np.float32)  # (T, 12)
        delta = np.gradient(base, axis=0) * 4 if base.shape[0] > 1 else np.zeros_like(base)
        return torch.from_numpy(np.concatenate([base, delta], axis=1).astype(np.float32))
