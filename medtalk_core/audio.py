"""Audio constants and helpers: load any file libsndfile reads, mix to mono, resample to 16 kHz.

Every timing constant of the project lives here, defined once.
"""

from __future__ import annotations

import contextlib
from math import gcd
from pathlib import Path
from typing import Iterator

import numpy as np

from .errors import AudioLoadError, ConfigError

SAMPLE_RATE = 16000  # every audio model reads mono 16 kHz
FPS = 60  # rig frames per second
# The audio files bake, preview and the datasets look for. A file is read by its content, not
# its suffix: TIMIT and other LDC corpora keep NIST SPHERE audio in .wav files.
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")
# Default cap on one input file's length, read from its header before anything is decoded. A
# line is seconds and a scene minutes; an hour bakes in about 70 s on a CPU (50x real time) to
# some 350 MB of CSV. A header claiming more (a 2 GB sparse wav says 17 h) is far likelier a
# damaged or hostile file than a take, and would run for hours and fill the disk.
MAX_INPUT_S = 3600.0


def exact_div(a: int, b: int) -> int:
    """a / b where b divides a; anything else is a mismatch of constants and fails loudly."""
    quotient, rest = divmod(a, b)
    if rest:
        raise ValueError(f"{a} is not a multiple of {b}")
    return quotient


FRAME_QUANTUM = exact_div(FPS, gcd(SAMPLE_RATE, FPS))  # fewest frames spanning whole samples: 3
QUANTUM_SAMPLES = exact_div(FRAME_QUANTUM * SAMPLE_RATE, FPS)  # samples in those frames: 800


def num_frames(num_samples: int) -> int:
    """Rig frames for a clip of `num_samples` at 16 kHz, the release's rule."""
    return int(num_samples * FPS / SAMPLE_RATE)


def frame_samples(frame_index: int) -> int:
    """Sample index (16 kHz) at which rig frame `frame_index` starts."""
    return int(round(frame_index * SAMPLE_RATE / FPS))


def samples_for_frames(frames: int) -> int:
    """The fewest 16 kHz samples that hold `frames` rig frames: num_frames() of it equals `frames`."""
    return -(-frames * SAMPLE_RATE // FPS)


def rms(samples: np.ndarray) -> float:
    """Root mean square of a block (0.0 for an empty one), full scale 1.0, summed in float64."""
    samples = np.asarray(samples)
    return float(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))) if samples.size else 0.0


def zero_nonfinite(samples: np.ndarray) -> tuple[np.ndarray, int]:
    """NaN and infinite samples set to 0 -> (samples, how many there were); the input is kept."""
    bad = ~np.isfinite(samples)
    count = int(np.count_nonzero(bad))
    return (np.where(bad, np.float32(0), samples).astype(samples.dtype, copy=False), count) if count else (samples, 0)


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


def rate_ratio(orig_rate: int, target_rate: int = SAMPLE_RATE) -> tuple[int, int]:
    """(up, down) in lowest terms: target_rate / orig_rate = up / down."""
    common = gcd(int(orig_rate), int(target_rate))
    return int(target_rate) // common, int(orig_rate) // common


def resampled_length(num_samples: int, orig_rate: int, target_rate: int = SAMPLE_RATE) -> int:
    """ceil(n * target / orig): the length both resamplers give (librosa pads or trims soxr's to it)."""
    up, down = rate_ratio(orig_rate, target_rate)
    return -(-num_samples * up // down)


def polyphase_filter(up: int, down: int) -> np.ndarray:
    """The low-pass FIR that scipy's `resample_poly` designs by default (Kaiser, beta 5), float64,
    before its gain of `up`: written once here, so the streaming resampler uses the same one."""
    from scipy.signal import firwin

    max_rate = max(up, down)
    half_len = 10 * max_rate
    return firwin(2 * half_len + 1, 1.0 / max_rate, window=("kaiser", 5.0))


def resample(audio: np.ndarray, orig_rate: int, target_rate: int = SAMPLE_RATE, method: str | None = None) -> np.ndarray:
    """Resample (n,) audio; `method` one of RESAMPLERS (None = DEFAULT_RESAMPLER).

    "poly": polyphase resampling (Kaiser-windowed FIR), exact for any integer rate pair.
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

    up, down = rate_ratio(orig_rate, target_rate)
    window = polyphase_filter(up, down).astype(audio.dtype)  # scipy casts its own filter alike
    return resample_poly(audio, up, down, axis=0, window=window).astype(np.float32)


UNRECOGNISED_FORMAT = 1  # libsndfile's SF_ERR_UNRECOGNISED_FORMAT: no sound format it knows


@contextlib.contextmanager
def _libsndfile(path: Path) -> Iterator[None]:
    """Missing and unreadable files as one AudioLoadError naming the file."""
    if not path.is_file():
        raise AudioLoadError(f"audio file not found: {path}")
    try:
        yield
    except Exception as exc:  # libsndfile raises several types; a file can be corrupt past its header
        if getattr(exc, "code", None) == UNRECOGNISED_FORMAT:  # a picture or an archive named .wav
            raise AudioLoadError(f"{path} is not audio: its content is in no format libsndfile reads "
                                 "(WAV, FLAC, OGG, NIST SPHERE, AIFF, MP3, ...)") from None
        raise AudioLoadError(f"cannot read audio file {path}: {exc}") from None


def audio_header(path: str | Path, max_s: float = 0.0) -> tuple[int, int]:
    """(sample rate, samples per channel) from the file's header, whatever its suffix says.

    A file longer than `max_s` seconds (0 = no cap, MAX_INPUT_S is the commands' default) is
    refused here, before any of it is decoded."""
    import soundfile as sf

    with _libsndfile(Path(path)):
        info = sf.info(str(path))
    rate, frames = int(info.samplerate), int(info.frames)
    if max_s and rate > 0 and frames / rate > max_s:
        raise AudioLoadError(f"{path} holds {frames / rate:.0f} s of audio by its header, over the {max_s:g} s cap; "
                             "--max-duration SECONDS raises it (0 = no cap)")
    return rate, frames


def read_native(path: str | Path, start: int = 0, stop: int | None = None) -> tuple[np.ndarray, int]:
    """Samples [start, stop) of `path` at its own rate -> ((n, channels) float32, rate)."""
    import soundfile as sf

    with _libsndfile(Path(path)):
        data, rate = sf.read(str(path), start=start, stop=stop, dtype="float32", always_2d=True)
    return data, int(rate)


def load_audio(path: str | Path, target_rate: int = SAMPLE_RATE, resampler: str | None = None,
               max_s: float = 0.0) -> np.ndarray:
    """Read `path` (wav/flac/ogg/SPHERE/anything libsndfile reads) as mono float32 at `target_rate`
    (resampled with `resampler`, see resample()).

    Raises AudioLoadError naming the file when it is missing, unreadable, empty, silent-length or
    longer than `max_s` seconds (0 = no cap; see audio_header).
    """
    audio_header(path, max_s)  # before the whole file is read into memory
    data, rate = read_native(path)
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
