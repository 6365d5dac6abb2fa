"""Emotion on the face: per-emotion poses, a per-word intensity curve, and blinks.

The pose of an emotion (brows, eyelids, cheeks, nose, mouth corners) is scaled frame by frame
by an intensity curve built from the words: higher on content words, much higher on emotionally
loaded ones (`assets/emotion_words.txt`), and raised where the word is loud or high-pitched in
the rendition's own audio. So a model can learn the curve from audio and transcript, which is
what MEDTalk's intensity branch does. Only S_emo rows and the gaze are written; S_lip minus
S_emo (the articulation) is never touched here. Values are calibrated on the real angry sample (brow_down
about 0.45, brow_lateral about 0.7, squintInner about 0.6 on average).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np
from scipy.ndimage import gaussian_filter1d

from .. import rig
from ..audio import FPS, SAMPLE_RATE
from .rigmap import rows

POSES: dict[str, dict[str, float]] = {
    # The angry mouth is the real angry solve's (mean over its frames; docs/ARTICULATION.md): a
    # furious speaker barely depresses the corners or raises the upper lip, and pulls the corners a little.
    "angry": {"brow_down": 0.50, "brow_lateral": 0.70, "eye_squintInner": 0.55, "eye_faceScrunch": 0.30,
              "nose": 0.30, "nose_nasolabialDeepen": 0.22, "eye_cheekRaise": 0.12, "eye_blink": -0.20,
              "mouth_upperLipRaise": 0.043, "mouth_cornerDepress": 0.010, "mouth_stretch": 0.037,
              "mouth_cornerPull": 0.069, "mouth_dimple": 0.30, "eyelashes_tweakerIn": 0.15,
              "eyelashes_tweakerOut": 0.15},
    "disgust": {"nose": 0.50, "nose_nasolabialDeepen": 0.40, "mouth_upperLipRaise": 0.45, "brow_down": 0.35,
                "brow_lateral": 0.30, "eye_squintInner": 0.40, "eye_cheekRaise": 0.30, "eye_faceScrunch": 0.40,
                "mouth_cornerDepress": 0.30, "eye_blink": 0.15, "nose-translateX": 0.10},
    "fear": {"brow_raiseIn": 0.70, "brow_raiseOut": 0.40, "brow_lateral": 0.45, "eye_blink": -0.45,
             "mouth_stretch": 0.45, "mouth_cornerDepress": 0.12, "ear_up": 0.05, "eye_eyelidU": -0.10,
             "eyelashes_tweakerIn": 0.10, "eyelashes_tweakerOut": 0.10},
    "happy": {"mouth_cornerPull": 0.60, "mouth_sharpCornerPull": 0.30, "mouth_dimple": 0.40,
              "eye_cheekRaise": 0.55, "eye_squintInner": 0.25, "eye_blink": 0.15, "nose_nasolabialDeepen": 0.20,
              "brow_raiseOut": 0.10, "eye_eyelidD": 0.10},
    "neutral": {"brow_raiseIn": 0.04, "eye_cheekRaise": 0.03, "mouth_cornerPull": 0.03},
    "sad": {"brow_raiseIn": 0.60, "brow_lateral": 0.35, "brow_down": 0.10, "mouth_cornerDepress": 0.45,
            "eye_blink": 0.25, "eye_squintInner": 0.15, "eye_eyelidU": 0.10, "mouth_upperLipRaise": 0.05},
    "surprised": {"brow_raiseIn": 0.70, "brow_raiseOut": 0.75, "eye_blink": -0.50, "ear_up": 0.04,
                  "eye_eyelidU": -0.15, "mouth_stretch": 0.10, "eyelashes_tweakerIn": 0.08,
                  "eyelashes_tweakerOut": 0.08},
}
BLINKS_PER_S = {"angry": 0.25, "disgust": 0.30, "fear": 0.55, "happy": 0.30, "neutral": 0.30, "sad": 0.20,
                "surprised": 0.15}
REST_LEVEL = 0.45  # intensity between words and in pauses, relative to the rendition's base
WOBBLE = 0.15  # slow random variation of each pose control, relative to its value
POSE_GAIN = 1.2  # brings mean |value| of the angry renditions near the real angry sample's
GAZE_DRIFT = (0.03, 0.05)  # amplitude of slow gaze wander (x, y); the real sample looks slightly up
_WORD_RE = re.compile(r"[a-z']+")

# Function words are unstressed in English running speech; every other word carries a stress.
FUNCTION_WORDS = frozenset("""
a an the and or but if of to in on at by for with from as is am are was were be been being
it its it's this that these those i me my we us our you your he him his she her they them their
do does did have has had not no so than then there here will would can could shall should may
might must just very too also up down out over into onto about what which who whom when where
how all any some each such own same only
""".split())


@lru_cache(maxsize=1)
def emotion_words() -> frozenset[str]:
    """The shipped lexicon of emotionally loaded words (lower case)."""
    text = resources.files("medtalk_core").joinpath("assets/emotion_words.txt").read_text(encoding="utf-8")
    return frozenset(w.strip().lower() for w in text.split() if w.strip() and not w.startswith("#"))


def is_loaded(word: str) -> bool:
    """Is `word` (lower case) emotionally loaded? Plain inflections count: ruins, scared, crying."""
    lexicon = emotion_words()
    stems = {word, word.removesuffix("s"), word.removesuffix("es"), word.removesuffix("ed"),
             word.removesuffix("d"), word.removesuffix("ing"), word.removesuffix("ing") + "e"}
    return any(s in lexicon for s in stems if len(s) >= 3)


@dataclass(frozen=True)
class WordSpan:
    """A word on the reference timeline."""

    text: str
    start: float  # s
    end: float  # s

    @property
    def key(self) -> str:
        found = _WORD_RE.findall(self.text.lower())
        return found[0] if found else ""


def _pitch_track(audio: np.ndarray, hop: int = 160, win: int = 640) -> tuple[np.ndarray, np.ndarray]:
    """Autocorrelation f0 every `hop` samples -> (f0 Hz or 0 when unvoiced, frame rms), each (F,)."""
    n = max(1, (len(audio) - win) // hop + 1)
    idx = np.arange(win)[None, :] + hop * np.arange(n)[:, None]  # (F, win)
    frames = np.pad(audio, (0, win))[idx] * np.hanning(win)[None, :]  # (F, win)
    spec = np.fft.rfft(frames, 2 * win)
    ac = np.fft.irfft(np.abs(spec) ** 2)[:, :win]  # (F, win)
    lo, hi = SAMPLE_RATE // 400, SAMPLE_RATE // 60  # 60..400 Hz
    lag = lo + np.argmax(ac[:, lo:hi], axis=1)
    strength = ac[np.arange(n), lag] / np.maximum(ac[:, 0], 1e-9)
    rms = np.sqrt(np.mean(frames ** 2, axis=1))
    voiced = (strength > 0.4) & (rms > 0.1 * rms.max())
    return np.where(voiced, SAMPLE_RATE / lag, 0.0), rms


def _zscore(v: np.ndarray) -> np.ndarray:
    sd = v.std()
    return (v - v.mean()) / sd if sd > 1e-6 else np.zeros_like(v)


def word_weights(words: list[WordSpan], audio: np.ndarray) -> np.ndarray:
    """Per-word intensity factor (W,) from stress, emotional load and the audio's loudness and pitch."""
    if not words:
        return np.zeros(0)
    f0, rms = _pitch_track(audio)
    loud, pitch = np.zeros(len(words)), np.zeros(len(words))
    for k, w in enumerate(words):
        a, b = int(w.start * 100), max(int(w.start * 100) + 1, int(w.end * 100))  # 10 ms frames
        loud[k] = 20 * np.log10(rms[a:b].mean() + 1e-6) if a < len(rms) else -120.0
        voiced = f0[a:b][f0[a:b] > 0]
        pitch[k] = 12 * np.log2(np.median(voiced) / 100.0) if voiced.size else np.nan
    if np.isnan(pitch).all():
        pitch[:] = 0.0
    pitch = np.where(np.isnan(pitch), np.nanmean(pitch), pitch)
    prominence = 0.5 * np.clip(_zscore(loud), -1.5, 2.0) + 0.5 * np.clip(_zscore(pitch), -1.5, 2.0)
    content = np.array([w.key not in FUNCTION_WORDS for w in words], float)
    loaded = np.array([is_loaded(w.key) for w in words], float)
    return 0.65 + 0.25 * content + 0.6 * loaded + 0.2 * prominence


def intensity_curve(words: list[WordSpan], weights: np.ndarray, num_frames: int, base: float) -> np.ndarray:
    """Word weights -> a smooth (T,) intensity: each word's weight over its span, REST_LEVEL elsewhere."""
    level = np.full(num_frames, REST_LEVEL)
    for w, g in zip(words, weights):
        a, b = int(round(w.start * FPS)), int(round(w.end * FPS))
        level[a:max(b, a + 1)] = g
    # Feelings rise and fall over about a tenth of a second, not per frame.
    return (base * gaussian_filter1d(level, sigma=4.0, mode="nearest")).astype(np.float32)


def blinks(num_frames: int, per_second: float, rng: np.random.Generator) -> np.ndarray:
    """(T,) eyelid closure in [0, 1]: Poisson blinks, fast closing and slower opening."""
    out = np.zeros(num_frames, np.float32)
    t = rng.uniform(0.2, 1.5)
    while t * FPS < num_frames:
        close, open_ = rng.uniform(0.05, 0.08), rng.uniform(0.10, 0.18)  # s
        start = int(t * FPS)
        shape = np.concatenate([
            0.5 - 0.5 * np.cos(np.linspace(0, np.pi, max(2, int(close * FPS)))),
            0.5 + 0.5 * np.cos(np.linspace(0, np.pi, max(2, int(open_ * FPS)))),
        ])
        end = min(num_frames, start + len(shape))
        out[start:end] = np.maximum(out[start:end], shape[: end - start])
        t += max(0.4, rng.exponential(1.0 / per_second))
    return out


def express(emotion: str, intensity: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(T,) intensity -> (T, 174) emotion layer on S_emo rows (pose x intensity, wobble, blinks),
    plus a slow gaze wander on CTRL_C_eye (in no index set)."""
    num_frames = len(intensity)
    out = np.zeros((num_frames, rig.NUM_CONTROLS), np.float32)
    for key, value in POSES[emotion].items():
        for r in rows(key):
            wobble = gaussian_filter1d(rng.standard_normal(num_frames), sigma=20.0, mode="nearest")
            wobble /= max(np.abs(wobble).max(), 1e-6)
            out[:, r] = POSE_GAIN * value * intensity * (1.0 + WOBBLE * wobble)
    for key, amplitude, offset in (("eye-translateX", GAZE_DRIFT[0], 0.0), ("eye-translateY", GAZE_DRIFT[1], 0.08)):
        drift = gaussian_filter1d(rng.standard_normal(num_frames), sigma=30.0, mode="nearest")
        out[:, rows(key)[0]] = offset + amplitude * drift / max(np.abs(drift).max(), 1e-6)  # C_eye: gaze, not emotion
    blink = blinks(num_frames, BLINKS_PER_S[emotion], rng)
    for r in rows("eye_blink"):
        out[:, r] = out[:, r] + (1.0 - out[:, r]) * blink  # a blink closes the eye fully from any pose
    return rig.clamp(out)
