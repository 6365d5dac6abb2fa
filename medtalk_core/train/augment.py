"""Audio augmentation for the audio stages (ACM, FIM): real microphones and rooms, simulated.

The shipped models learn from clean espeak-ng speech and clean read speech; a live user speaks
into a laptop microphone in a room, over a headset, or down a phone line. Each augmented
rendition of a clip draws, independently:
  - additive noise at 5-30 dB SNR: coloured (white, pink or brown) or babble (a sum of other
    utterances of the training set), so the mouth does not open for noise;
  - reverberation: a synthetic room impulse response (direct sound, sparse early reflections,
    an exponentially decaying diffuse tail) with RT60 0.1-0.8 s;
  - a gain of -12..+12 dB, clipped to [-1, 1] as a hot microphone clips;
  - band-limiting: an 8 kHz-rate channel (4 kHz bandwidth) or the telephone band (300-3400 Hz);
  - a small pitch-and-formant shift (+-1.5 semitones, a voice a little higher or lower: the
    signal is resampled, which moves both, then time-stretched back to its length by WSOLA).
Every rendition keeps the clip's length, so its rig frames still line up, and depends only on
(seed, clip name, copy index): the same set for every run, resumed or not.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from scipy.signal import butter, fftconvolve, resample_poly, sosfilt

from ..audio import SAMPLE_RATE
from ..data.timewarp import wsola
from ..errors import ConfigError


@dataclass(frozen=True)
class AugmentConfig:
    copies: int = 0  # augmented renditions per training clip for ACM / FIM (0: augmentation off)
    clean_share: float = 0.25  # share of a clip's epochs that see it clean
    noise_prob: float = 0.7  # chance a rendition gets additive noise
    babble_share: float = 0.4  # of the noisy renditions, the share whose noise is babble
    snr_db: tuple[float, float] = (5.0, 30.0)  # additive noise signal-to-noise range
    reverb_prob: float = 0.5  # chance of room reverberation
    rt60_s: tuple[float, float] = (0.1, 0.8)  # reverberation time range
    gain_db: tuple[float, float] = (-12.0, 12.0)  # level change range
    band_prob: float = 0.3  # chance of band-limiting (half 4 kHz bandwidth, half telephone band)
    shift_prob: float = 0.4  # chance of a pitch-and-formant shift
    shift_semitones: float = 1.5  # largest shift either way

    def __post_init__(self) -> None:
        if self.copies < 0:
            raise ConfigError("config key augment.copies must be >= 0")
        if not 0.0 <= self.clean_share <= 1.0:
            raise ConfigError("config key augment.clean_share must be in [0, 1]")


def rng_for(seed: int, name: str, copy: int) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(name.encode()), copy])


def coloured_noise(n: int, exponent: float, rng: np.random.Generator) -> np.ndarray:
    """(n,) noise whose power falls as 1 / f**exponent (0 white, 1 pink, 2 brown), unit rms."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n)
    f[0] = f[1] if n > 1 else 1.0
    noise = np.fft.irfft(spec / f ** (exponent / 2), n)
    return (noise / max(np.sqrt(np.mean(noise ** 2)), 1e-12)).astype(np.float32)


def babble(n: int, pool: list[np.ndarray], rng: np.random.Generator, talkers: tuple[int, int] = (3, 6)) -> np.ndarray:
    """(n,) unit-rms sum of a few other utterances, each from a random offset, looped to length."""
    out = np.zeros(n, np.float32)
    for _ in range(int(rng.integers(talkers[0], talkers[1] + 1))):
        src = pool[int(rng.integers(len(pool)))]
        if src.size == 0:
            continue
        reps = -(-n // src.size) + 1
        start = int(rng.integers(src.size))
        seg = np.tile(src, reps)[start:start + n]
        out += seg / max(np.sqrt(np.mean(seg ** 2)), 1e-6)
    rms = np.sqrt(np.mean(out ** 2))
    return out / rms if rms > 1e-9 else coloured_noise(n, 1.0, rng)


def room_impulse(rt60: float, rng: np.random.Generator) -> np.ndarray:
    """A synthetic room impulse response at 16 kHz: direct sound, early reflections, diffuse tail."""
    length = int(rt60 * SAMPLE_RATE)
    t = np.arange(length) / SAMPLE_RATE
    tail = rng.standard_normal(length) * np.exp(-6.91 * t / rt60)  # -60 dB at rt60
    tail[: int(0.005 * SAMPLE_RATE)] = 0.0  # the diffuse field starts after the first reflections
    h = 0.3 * tail / max(np.abs(tail).max(), 1e-9)
    for _ in range(6):  # early reflections 2-25 ms after the direct sound
        h[int(rng.uniform(0.002, 0.025) * SAMPLE_RATE)] += rng.uniform(0.2, 0.6) * rng.choice((-1.0, 1.0))
    h[0] = 1.0
    return (h / np.sqrt(np.sum(h ** 2))).astype(np.float32)


def shift_voice(audio: np.ndarray, semitones: float) -> np.ndarray:
    """Pitch and formants moved by `semitones`, length kept."""
    ratio = Fraction(2 ** (-semitones / 12)).limit_denominator(64)  # resampling by <1 raises the voice
    moved = resample_poly(audio, ratio.numerator, ratio.denominator).astype(np.float32)
    n = len(audio)
    return wsola(moved, np.array([0.0, float(len(moved))]), np.array([0.0, float(n)]), n)


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x.astype(np.float64) ** 2))) if x.size else 0.0


def augment(audio: np.ndarray, cfg: AugmentConfig, rng: np.random.Generator, pool: list[np.ndarray]) -> np.ndarray:
    """One augmented rendition of `audio` (16 kHz mono), same length, float32 in [-1, 1]."""
    x = np.asarray(audio, np.float32).copy()
    n = len(x)
    level = _rms(x)
    if n == 0 or level < 1e-6:
        return x
    if rng.random() < cfg.shift_prob:
        x = shift_voice(x, float(rng.uniform(-cfg.shift_semitones, cfg.shift_semitones)))
    if rng.random() < cfg.reverb_prob:
        x = fftconvolve(x, room_impulse(float(rng.uniform(*cfg.rt60_s)), rng))[:n].astype(np.float32)
    if rng.random() < cfg.band_prob:
        if rng.random() < 0.5:
            sos = butter(8, 3800, btype="lowpass", fs=SAMPLE_RATE, output="sos")  # an 8 kHz-rate channel
        else:
            sos = butter(4, (300, 3400), btype="bandpass", fs=SAMPLE_RATE, output="sos")  # telephone
        x = sosfilt(sos, x).astype(np.float32)
    x *= level / max(_rms(x), 1e-9)  # filters and rooms change the level; the gain below sets it
    if rng.random() < cfg.noise_prob:
        noise = babble(n, pool, rng) if pool and rng.random() < cfg.babble_share else \
            coloured_noise(n, float(rng.choice((0.0, 1.0, 2.0))), rng)
        snr = float(rng.uniform(*cfg.snr_db))
        x = x + noise * (level / 10 ** (snr / 20))
    x *= 10 ** (float(rng.uniform(*cfg.gain_db)) / 20)
    return np.clip(x, -1.0, 1.0).astype(np.float32)
