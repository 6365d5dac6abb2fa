"""Audio constants and helpers: load any wav/flac/ogg, mix to mono, resample to 16 kHz.

Every timing constant of the project lives here, defined once.
"""

from __future__ import annotations

from math import gcd
from pathlib import Path

import numpy as np

from .errors import AudioLoadError, ConfigError

SAMPLE_RATE = 16000  # every audio model reads mono 16 kHz
FPS = 60  # rig frames per second


def num_frames(num_samples: int) -> int:
    """Rig frames for a clip of `num_samples` at 16 kHz, the release's rule."""
    return int(num_samples * FPS / SAMPLE_RATE)


def frame_samples(frame_index: int) -> int:
    """Sample index (16 kHz) at which rig frame `frame_index` starts."""
    return int(round(frame_index * SAMPLE_RATE / FPS))


def samples_for_frames(frames: int) -> int:
    """The fewest 16 kHz samples that hold `frames` rig frames: num_frames() of it equals `frames`."""
    return -(-frames * SAMPLE_RATE // FPS)


def to_mono(audio: np.ndarray) -> np.ndarray:
    """(n,) or (n, channels) -> (n,) float32, channels averaged."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 2:
        return audio.mean(axis=1, dtype=np.float32)
    if audio.ndim != 1:
        raise ValueError(f"audio must be (n,) or (n, channels), got shape {audio.shape}")
    return audio


RESAMPLERS = ("poly", "soxr")  # scipy resample_poly | libsoxr "HQ", what librosa.load uses by default
DEFAULT_RESAMPLER = "poly"  # benchmarks/resamplers.py and docs/RELEASE.md say why


def resampled_length(num_samples: int, orig_rate: int, target_rate: int = SAMPLE_RATE) -> int:
    """ceil(n * target / orig): the length both resamplers give (librosa pads or trims soxr's to it)."""
    common = gcd(int(orig_rate), int(target_rate))
    return -(-num_samples * (target_rate // common) // (orig_rate // common))


def resample(audio: np.ndarray, orig_rate: int, target_rate: int = SAMPLE_RATE, method: str | None = None) -> np.ndarray:
    """Resample (n,) audio; `method` one of RESAMPLERS (None = DEFAULT_RESAMPLER).

    "poly": polyphase resampling (scipy's Kaiser-windowed FIR), exact for any integer rate pair.
    "soxr": libsoxr at "HQ" quality, length fixed to resampled_length() as librosa.resample does,
    so a file loads exactly as the release's `librosa.load(path, sr=16000)` loads it."""
    method = DEFAULT_RESAMPLER if method is None else method
    if method not in RESAMPLERS:
        raise ConfigError(f"resampler must be one of {', '.join(RESAMPLERS)}, got {method!r}")
    audio = np.asarray(audio, dtype=np.float32)
    if orig_rate == target_rate:
        return audio
    if method == "soxr":
        import soxr

        out = soxr.resample(audio, int(orig_rate), int(target_rate), quality="HQ")
        n = resampled_length(audio.shape[0], orig_rate, target_rate)
        return np.pad(out[:n], (0, max(0, n - out.shape[0]))).astype(np.float32)
    from scipy.signal import resample_poly

    common = gcd(int(orig_rate), int(target_rate))
    up, down = target_rate // common, orig_rate // common
    return resample_poly(audio, up, down, axis=0).astype(np.float32)


def load_audio(path: str | Path, target_rate: int = SAMPLE_RATE, resampler: str | None = None) -> np.ndarray:
    """Read `path` (wav/flac/ogg/anything libsndfile reads) as mono float32 at `target_rate`
    (resampled with `resampler`, see resample()).

    Raises AudioLoadError naming the file when it is missing, unreadable, empty or silent-length.
    """
    import soundfile as sf

    path = Path(path)
    if not path.is_file():
        raise AudioLoadError(f"audio file not found: {path}")
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:  # libsndfile raises several types for corrupt or foreign files
        raise AudioLoadError(f"cannot read audio file {path}: {exc}") from None
    if data.shape[0] == 0:
        raise AudioLoadError(f"audio file {path} holds no samples")
    mono = to_mono(data)
    out = resample(mono, rate, target_rate, resampler)
    if out.shape[0] == 0:
        raise AudioLoadError(f"audio file {path} is too short to resample to {target_rate} Hz")
    return out


def write_audio(path: str | Path, audio: np.ndarray, rate: int = SAMPLE_RATE) -> None:
    """Write mono float audio as 16-bit PCM wav."""
    import soundfile as sf

    sf.write(str(path), np.asarray(audio, dtype=np.float32), rate, subtype="PCM_16")
