"""Phonemes -> lip, jaw, teeth and tongue controller curves, with coarticulation.

Each phoneme (an IPA name from espeak-ng) gives viseme targets on a few articulatory controls
plus a dominance per control (Cohen & Massaro's dominance model): a bilabial must close the
lips, so it dominates lipsTogether strongly; it has no say over lip rounding, so the rounding
of the neighbouring vowels carries through it ("two" rounds its t). At each frame a control is
the dominance-weighted mean of the nearby targets. Diphthongs and r-coloured vowels are split
into two halves with their own targets. Values are calibrated on the real EmoFace sample
(jaw opening up to about 0.45, purse up to about 0.95, lipsTogether up to about 0.75).
Only rigmap.articulatory_rows() are written, so the curves carry no emotion at all.

On top of the hand-set targets, `assets/articulation_calibration.json` holds per-control gains
fitted to the real EmoFace solve (benchmarks/calibrate_articulation.py writes it and the table
in docs/ARTICULATION.md), and the slope of the whole mouth's drop with the jaw
(CTRL_C_mouth-translateY, which the real solve moves with the jaw and the targets never set).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

import numpy as np

from ..audio import FPS
from .. import rig
from .rigmap import rows

VOWEL_OPENING = 1.35  # the blend with consonants lowers vowel peaks; this brings them to the real range


def _vowel(jaw: float, lld: float, purse: float = 0.0, towards: float = 0.0, funnel: float = 0.0,
           tighten: float = 0.0, suck: float = 0.0) -> dict[str, float]:
    # Unrounded vowels state purse = 0 explicitly so that they pull rounding back out.
    return {"jaw-translateY": jaw * VOWEL_OPENING, "mouth_lowerLipDepress": lld * VOWEL_OPENING,
            "mouth_purseD": purse, "mouth_purseU": purse,
            "mouth_towardsD": towards, "mouth_towardsU": towards, "mouth_funnelD": funnel,
            "mouth_funnelU": funnel, "mouth_tightenD": tighten, "mouth_tightenU": tighten,
            "mouth_suckBlow": suck, "mouth_thicknessD": purse * 0.25, "mouth_thicknessU": purse * 0.2}


VOWELS: dict[str, dict[str, float]] = {
    "i": _vowel(0.10, 0.12, tighten=0.15), "ɪ": _vowel(0.13, 0.14, tighten=0.10),
    "ᵻ": _vowel(0.13, 0.14, tighten=0.08), "e": _vowel(0.20, 0.20, tighten=0.10),
    "ɛ": _vowel(0.28, 0.26), "æ": _vowel(0.38, 0.36, tighten=0.05), "a": _vowel(0.42, 0.38),
    "ɑ": _vowel(0.44, 0.40), "ɒ": _vowel(0.42, 0.34, purse=0.2, towards=0.15),
    "ʌ": _vowel(0.30, 0.26), "ɐ": _vowel(0.30, 0.25), "ə": _vowel(0.18, 0.15),
    "ɚ": _vowel(0.17, 0.12, purse=0.25, towards=0.25, funnel=0.2),
    "ɜ": _vowel(0.20, 0.14, purse=0.22, towards=0.22, funnel=0.2),
    "ɔ": _vowel(0.35, 0.25, purse=0.45, towards=0.40, funnel=0.35),
    "o": _vowel(0.25, 0.18, purse=0.55, towards=0.50, funnel=0.40),
    "ʊ": _vowel(0.12, 0.05, purse=0.55, towards=0.55, funnel=0.35, suck=-0.15),
    "u": _vowel(0.08, 0.03, purse=0.80, towards=0.70, funnel=0.30, suck=-0.30),
}
VOWEL_CHARS = frozenset(VOWELS)

_BILABIAL = {"mouth_lipsTogetherD": 0.70, "mouth_lipsTogetherU": 0.35, "mouth_pressD": 0.20,
             "mouth_pressU": 0.18, "mouth_stickyOuterD": 0.50, "mouth_stickyOuterU": 0.45,
             "mouth_stickyInnerD": 0.30, "mouth_stickyInnerU": 0.20, "mouth_lipSticky": 0.20,
             "mouth_stickyD": 0.25, "mouth_stickyU": 0.15, "jaw-translateY": 0.03,
             "mouth_lowerLipDepress": 0.0}
_ALVEOLAR = {"tongue_tip-translateY": 0.25, "tongue-translateY": 0.15, "jaw-translateY": 0.08,
             "mouth_lowerLipDepress": 0.08}
_POSTALVEOLAR = {"mouth_funnelD": 0.45, "mouth_funnelU": 0.45, "mouth_towardsD": 0.45,
                 "mouth_towardsU": 0.45, "mouth_purseD": 0.2, "mouth_purseU": 0.2,
                 "jaw-translateY": 0.07, "mouth_lowerLipDepress": 0.15, "tongue-translateY": 0.2}
_VELAR = {"tongue-translateY": 0.25, "tongue_press": 0.2, "jaw-translateY": 0.12,
          "mouth_lowerLipDepress": 0.10}

# consonant -> (targets, dominance of those targets)
CONSONANTS: dict[str, tuple[dict[str, float], float]] = {
    "p": ({**_BILABIAL, "jaw_chinCompress": 0.15}, 4.0),
    "b": ({**_BILABIAL, "jaw_chinCompress": 0.12}, 4.0),
    "m": ({**_BILABIAL, "jaw_ChinRaiseD": 0.04, "jaw_ChinRaiseU": 0.03}, 4.0),
    "f": ({"mouth_lipBiteD": 0.55, "mouth_lipBiteU": 0.05, "jaw-translateY": 0.06,
           "mouth_lowerLipDepress": 0.0, "jaw_fwdBack": -0.1}, 3.0),
    "v": ({"mouth_lipBiteD": 0.50, "mouth_lipBiteU": 0.05, "jaw-translateY": 0.06,
           "mouth_lowerLipDepress": 0.0, "jaw_fwdBack": -0.1}, 3.0),
    # The tongue tip comes out between the teeth: in Epic's wiring tongue_inOut's negative half is tongueOut.
    # The lips nearly meet around it (real video: as small a lip gap as at /f/).
    "θ": ({"tongue_inOut": -0.35, "tongue_tip-translateY": 0.10, "jaw-translateY": 0.06,
           "mouth_lowerLipDepress": 0.0}, 3.0),
    "ð": ({"tongue_inOut": -0.30, "tongue_tip-translateY": 0.10, "jaw-translateY": 0.06,
           "mouth_lowerLipDepress": 0.0}, 3.0),
    "t": (_ALVEOLAR, 1.2), "d": (_ALVEOLAR, 1.2), "n": (_ALVEOLAR, 1.0), "ɾ": (_ALVEOLAR, 0.8),
    "s": ({"jaw-translateY": 0.05, "mouth_lowerLipDepress": 0.12, "mouth_tightenD": 0.15,
           "mouth_tightenU": 0.15, "tongue_tip-translateY": 0.15, "jaw_fwdBack": 0.05}, 1.5),
    "z": ({"jaw-translateY": 0.05, "mouth_lowerLipDepress": 0.12, "mouth_tightenD": 0.12,
           "mouth_tightenU": 0.12, "tongue_tip-translateY": 0.15, "jaw_fwdBack": 0.05}, 1.5),
    "ʃ": (_POSTALVEOLAR, 1.5), "ʒ": (_POSTALVEOLAR, 1.5),
    "l": ({"tongue_press": 0.50, "tongue_tip-translateY": 0.25, "jaw-translateY": 0.12,
           "mouth_lowerLipDepress": 0.10}, 1.0),
    "k": (_VELAR, 0.8), "ɡ": (_VELAR, 0.8), "g": (_VELAR, 0.8), "ŋ": (_VELAR, 0.8), "x": (_VELAR, 0.8),
    "ɹ": ({"mouth_purseD": 0.30, "mouth_purseU": 0.30, "mouth_towardsD": 0.30, "mouth_towardsU": 0.30,
           "mouth_funnelD": 0.25, "mouth_funnelU": 0.25, "jaw-translateY": 0.08,
           "mouth_lowerLipDepress": 0.0, "tongue-translateY": 0.10}, 1.0),
    # Rounded lips nearly meet: the lower lip rises with the jaw instead of dropping.
    "w": ({"mouth_purseD": 0.85, "mouth_purseU": 0.85, "mouth_towardsD": 0.75, "mouth_towardsU": 0.75,
           "mouth_funnelD": 0.25, "mouth_funnelU": 0.25, "jaw-translateY": 0.04,
           "mouth_lowerLipDepress": 0.0, "mouth_suckBlow": -0.25}, 2.0),
    "j": ({"jaw-translateY": 0.08, "mouth_tightenD": 0.12, "mouth_tightenU": 0.12,
           "tongue-translateY": 0.20, "mouth_purseD": 0.0, "mouth_purseU": 0.0}, 1.0),
    "h": ({}, 0.0),  # takes the shape of the following vowel
    "ʔ": ({}, 0.0),
}
_AFFRICATES = {"tʃ": "ʃ", "dʒ": "ʒ"}
VOWEL_DOMINANCE = 1.0
VOWEL_RELEASE_DOMINANCE = 0.6  # how strongly a vowel pulls consonant-only controls back to 0
CONSONANT_JAW_DOMINANCE = 0.4  # consonants only partly close the jaw (the lips close themselves),
# so each vowel's opening peaks at its centre ...
# ... but where the lips meet, or the lower lip meets the teeth, or the rounded lips nearly meet,
# the jaw rises with them: on real talking video the lip gap at /f v θ ð w/ is as small as at
# /p b m/ (benchmarks/video_lips.py --calibration, on a speaker left out of every score).
CLOSING_JAW_DOMINANCE = {"p": 1.0, "b": 1.0, "m": 1.0, "f": 2.0, "v": 2.0, "θ": 2.0, "ð": 2.0, "w": 2.0, "ɹ": 0.8}
# The lower lip, which these sounds lift to the teeth or the upper lip, is held harder than the
# rest of their targets: the open vowels around a 60 ms /f/ would otherwise keep it half dropped.
LOWER_LIP_KEY = "mouth_lowerLipDepress"
LIP_RAISING_DOMINANCE = {"f": 8.0, "v": 8.0, "θ": 6.0, "ð": 6.0, "w": 6.0}
SILENCE_DOMINANCE = 0.8
REST_DOMINANCE = 1e-3  # far from any phoneme, every control returns to 0
SPREAD_S = 0.035  # how far (s) a phoneme's dominance reaches beyond half its duration
SHAPE_POWER = 1.5  # exponent of the dominance fall-off
# Lip contact is made and released within a few tens of ms, whatever the neighbours do: with the
# soft fall-off above, a bilabial's strong dominance reaches into the next vowel's centre and holds
# the lips together there (on real speech timings, lipsTogether stayed above 0.5 in most vowels
# between bilabials). Contact controls get a sharp fall-off and a firm release by vowels.
CONTACT_KEYS = frozenset({"mouth_lipsTogetherD", "mouth_lipsTogetherU", "mouth_stickyOuterD", "mouth_stickyOuterU",
                          "mouth_stickyInnerD", "mouth_stickyInnerU", "mouth_lipSticky", "mouth_stickyD",
                          "mouth_stickyU", "mouth_pressD", "mouth_pressU", "mouth_lipBiteD", "mouth_lipBiteU"})
CONTACT_SPREAD_S = 0.012
CONTACT_SHAPE_POWER = 4.0
CONTACT_RELEASE_DOMINANCE = 2.0  # how firmly a vowel opens a lip contact

KEYS: tuple[str, ...] = tuple(sorted(
    {k for targets in VOWELS.values() for k in targets}
    | {k for targets, _ in CONSONANTS.values() for k in targets}
))


MOUTH_DROP_KEY = "mouth-translateY"  # follows the jaw (slope in the calibration), no targets of its own


@dataclass(frozen=True)
class Calibration:
    """Gains on the articulated curves (key -> factor, 1 when absent) and the mouth's drop per unit
    of jaw opening."""

    gains: dict[str, float] = field(default_factory=dict)
    mouth_drop_per_jaw: float = 0.0

    def gain(self, key: str) -> float:
        return float(self.gains.get(key, 1.0))


IDENTITY = Calibration()
CALIBRATION_ASSET = "assets/articulation_calibration.json"


@lru_cache(maxsize=1)
def shipped_calibration() -> Calibration:
    """The calibration fitted on the real solve (IDENTITY if the asset is absent)."""
    path = resources.files("medtalk_core").joinpath(CALIBRATION_ASSET)
    if not path.is_file():
        return IDENTITY
    data = json.loads(path.read_text(encoding="utf-8"))
    unknown = set(data["gains"]) - set(KEYS)
    if unknown:
        raise ValueError(f"{CALIBRATION_ASSET}: unknown articulation keys {sorted(unknown)}")
    return Calibration({k: float(v) for k, v in data["gains"].items()}, float(data["mouth_drop_per_jaw"]))


@dataclass(frozen=True)
class Segment:
    """One articulatory target held over [start, end) seconds."""

    symbol: str  # "" for silence
    start: float
    end: float
    is_vowel: bool

    @property
    def centre(self) -> float:
        return 0.5 * (self.start + self.end)


def _units(name: str) -> list[str]:
    """Split an espeak IPA phoneme name into viseme units: 'aɪ' -> ['a', 'ɪ'], 'ɑːɹ' -> ['ɑ', 'ɹ']."""
    name = name.replace("ː", "").replace("ˈ", "").replace("ˌ", "")
    if name in _AFFRICATES:
        return [_AFFRICATES[name]]
    units = [c for c in name if c in VOWEL_CHARS or c in CONSONANTS]
    return units


def segments(phonemes: tuple[tuple[str, float], ...], end_s: float) -> list[Segment]:
    """Timed phoneme events (name, start s) -> viseme segments covering [first start, end_s]."""
    out: list[Segment] = []
    if phonemes and phonemes[0][1] > 0:
        out.append(Segment("", 0.0, phonemes[0][1], False))  # the mouth rests before speech starts
    for k, (name, start) in enumerate(phonemes):
        stop = phonemes[k + 1][1] if k + 1 < len(phonemes) else end_s
        if stop <= start:
            continue
        units = _units(name) if name else [""]
        if not units:
            continue  # an unknown symbol: its neighbours' dominance covers it
        step = (stop - start) / len(units)
        for j, unit in enumerate(units):
            out.append(Segment(unit, start + j * step, start + (j + 1) * step, unit in VOWEL_CHARS))
    return out


def _targets(seg: Segment) -> tuple[dict[str, float], dict[str, float]]:
    """(targets, dominance per key) of one segment."""
    if seg.symbol == "":
        return {k: 0.0 for k in KEYS}, {k: SILENCE_DOMINANCE for k in KEYS}
    if seg.is_vowel:
        t = VOWELS[seg.symbol]
        # A vowel also opens whatever a consonant closed (lips together, bitten lip, tongue up).
        released = {k: 0.0 for k in KEYS if k not in t}
        dom = {k: VOWEL_DOMINANCE for k in t} | {
            k: CONTACT_RELEASE_DOMINANCE if k in CONTACT_KEYS else VOWEL_RELEASE_DOMINANCE for k in released}
        return t | released, dom
    t, alpha = CONSONANTS[seg.symbol]
    dom = {k: alpha for k in t}
    if "jaw-translateY" in dom:
        dom["jaw-translateY"] = min(alpha, CLOSING_JAW_DOMINANCE.get(seg.symbol, CONSONANT_JAW_DOMINANCE))
    if LOWER_LIP_KEY in dom and seg.symbol in LIP_RAISING_DOMINANCE:
        dom[LOWER_LIP_KEY] = LIP_RAISING_DOMINANCE[seg.symbol]
    return t, dom


def articulate(segs: list[Segment], num_frames: int, calibration: Calibration | None = None) -> np.ndarray:
    """Viseme segments -> (num_frames, 174) float32 with only the articulatory rows set.
    `calibration` None uses the shipped one (IDENTITY gives the hand-set targets alone)."""
    cal = shipped_calibration() if calibration is None else calibration
    out = np.zeros((num_frames, rig.NUM_CONTROLS), np.float32)
    if not segs or num_frames == 0:
        return out
    t = np.arange(num_frames) / FPS  # (T,) frame times, s
    centres = np.array([s.centre for s in segs])  # (S,)
    half = np.array([0.5 * (s.end - s.start) for s in segs])  # (S,)
    distance = np.abs(t[None, :] - centres[:, None])  # (S, T)
    soft = np.exp(-(distance / (half + SPREAD_S)[:, None]) ** SHAPE_POWER)  # (S, T)
    sharp = np.exp(-(distance / (half + CONTACT_SPREAD_S)[:, None]) ** CONTACT_SHAPE_POWER)  # (S, T)
    target = np.zeros((len(segs), len(KEYS)))  # (S, K)
    alpha = np.zeros((len(segs), len(KEYS)))  # (S, K)
    col = {k: j for j, k in enumerate(KEYS)}
    for i, seg in enumerate(segs):
        tg, dom = _targets(seg)
        for k, v in tg.items():
            target[i, col[k]] = v
            alpha[i, col[k]] = dom[k]
    contact = np.array([k in CONTACT_KEYS for k in KEYS])  # (K,)
    num = np.where(contact, sharp.T @ (alpha * target), soft.T @ (alpha * target))  # (T, K)
    den = np.where(contact, sharp.T @ alpha, soft.T @ alpha) + REST_DOMINANCE  # (T, K)
    values = num / den  # (T, K)
    for k, j in col.items():
        for r in rows(k):
            out[:, r] = values[:, j] * cal.gain(k)
    jaw = out[:, rows("jaw-translateY")[0]]
    out[:, rows(MOUTH_DROP_KEY)[0]] = cal.mouth_drop_per_jaw * jaw
    return rig.clamp(out)
