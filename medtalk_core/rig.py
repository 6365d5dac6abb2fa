"""The MetaHuman face-board rig: 174 controller channels, index sets, valid ranges, intensity.

Column order is that of every 174-dim rig file of the EmoFace and MEDTalk releases
(`assets/controller_names_174.txt`). `CTRL_C_tongue_tip-translateX/Y` appear twice
(rows 25-28): we keep both copies because every 174-dim file has them.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources
from typing import TypeVar

import numpy as np

NUM_CONTROLS = 174

EMOTIONS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprised")

# S_int, exactly as the MEDTalk release: left/right brow_down, brow_lateral, brow_raiseIn,
# brow_raiseOut, eye_blink, eye_squintInner, mouth_cornerPull.
S_INT: tuple[int, ...] = (29, 30, 31, 32, 98, 99, 100, 101, 36, 43, 105, 112, 53, 122)
INTENSITY_SCALE = 0.1  # the release scales the L1 norm over S_int by 1/10


@lru_cache(maxsize=1)
def controller_names() -> tuple[str, ...]:
    """The 174 channel names in rig column order (with the duplicated tongue_tip rows)."""
    text = resources.files("medtalk_core").joinpath("assets/controller_names_174.txt").read_text(encoding="utf-8")
    names = tuple(line.strip() for line in text.splitlines() if line.strip())
    if len(names) != NUM_CONTROLS:
        raise RuntimeError(f"packaged controller list has {len(names)} names, expected {NUM_CONTROLS}")
    return names


def _control(name: str) -> str:
    """'CTRL_L_mouth_cornerPull-translateY' -> 'L_mouth_cornerPull'."""
    return name.split("-")[0].removeprefix("CTRL_")


def _part(name: str) -> str:
    """The control without its side: 'L_mouth_cornerPull' -> 'mouth_cornerPull'."""
    return re.sub(r"^[CLR]_", "", _control(name))


def _indices(predicate) -> tuple[int, ...]:
    return tuple(i for i, n in enumerate(controller_names()) if predicate(n))


# --- Index sets for the metrics (the paper does not publish them; these are ours, fixed) ---
# S_lip: every control that moves the mouth region: jaw, mouth, lips, teeth and tongue
#        (C_jaw*, C_mouth*, C_teeth*, C_tongue*, L/R_jaw_*, L/R_mouth_*).
# S_up:  upper-face expression: brows, eyelids/blink/squint/cheek raise/scrunch, eyelashes,
#        nose and ears. Gaze direction (C_eye, L/R_eye translate, parallelLook, lookAtSwitch)
#        is left out: it is where the character looks, not what it feels.
# S_emo: S_up plus the mouth controls that carry emotion rather than phonemes (corner pull and
#        depress, sharp corner pull, dimple, stretch, upper-lip raise): a smile or a sneer is
#        emotion even though it sits on the mouth.
_LIP_PREFIXES = ("jaw", "mouth", "teeth", "tongue")
_UP_PREFIXES = ("brow_", "eye_", "eyelashes_", "nose", "ear_")
_EMOTIONAL_MOUTH = ("mouth_cornerPull", "mouth_cornerDepress", "mouth_sharpCornerPull",
                    "mouth_dimple", "mouth_stretch", "mouth_upperLipRaise")


def _is_lip(name: str) -> bool:
    return _part(name).startswith(_LIP_PREFIXES)


def _is_up(name: str) -> bool:
    part = _part(name)
    return part.startswith(_UP_PREFIXES) and part != "eye_parallelLook"


def _is_emo(name: str) -> bool:
    return _is_up(name) or _part(name) in _EMOTIONAL_MOUTH


@lru_cache(maxsize=1)
def index_sets() -> dict[str, tuple[int, ...]]:
    return {
        "lip": _indices(_is_lip),
        "up": _indices(_is_up),
        "emo": _indices(_is_emo),
        "int": S_INT,
    }


def s_lip() -> tuple[int, ...]:
    return index_sets()["lip"]


def s_up() -> tuple[int, ...]:
    return index_sets()["up"]


def s_emo() -> tuple[int, ...]:
    return index_sets()["emo"]


# --- Valid ranges ---
# MetaHuman face-board controls are either one-sided sliders in [0, 1] or two-sided in [-1, 1].
# Two-sided: every translateX (left/right), and the translateY of controls that move both
# ways: gaze, jaw forward/back, mouth and lip shifts, teeth, tongue, blink (negative = eyes
# wide), eyelids, pupils, mouth corners, corner sharpness, lip roll, push/pull, suck/blow,
# lip thickness, nose, and the neck/throat helpers. The real EmoFace sample lies inside these.
_TWO_SIDED_Y = re.compile(
    r"^(eye|eye_parallelLook|jaw_fwdBack|mouth|mouth_lipShift[UD]|teeth.*|tongue.*|eye_blink|"
    r"eye_eyelid[UD]|eye_pupil|mouth_corner|mouth_cornerSharpness[UD]|mouth_lipsRoll[UD]|"
    r"mouth_pushPull[UD]|mouth_suckBlow|mouth_thickness[UD]|nose|neck_digastricUpDown|"
    r"neck_throat.*|eyelashes_tweaker.*)$"
)


def _range(name: str) -> tuple[float, float]:
    if name.endswith("-translateX") or _TWO_SIDED_Y.match(_part(name)):
        return (-1.0, 1.0)
    return (0.0, 1.0)


@lru_cache(maxsize=1)
def valid_ranges() -> tuple[np.ndarray, np.ndarray]:
    """(low, high), each (174,) float32."""
    lows, highs = zip(*(_range(n) for n in controller_names()))
    return np.asarray(lows, np.float32), np.asarray(highs, np.float32)


ArrayT = TypeVar("ArrayT")


def clamp(rig: ArrayT) -> ArrayT:
    """Clip a (..., 174) numpy array or torch tensor to the valid ranges."""
    low, high = valid_ranges()
    if isinstance(rig, np.ndarray):
        return np.clip(rig, low, high).astype(rig.dtype, copy=False)
    import torch  # only when given a tensor

    lo = torch.as_tensor(low, dtype=rig.dtype, device=rig.device)
    hi = torch.as_tensor(high, dtype=rig.dtype, device=rig.device)
    return torch.maximum(torch.minimum(rig, hi), lo)


def pseudo_intensity(rig: ArrayT) -> ArrayT:
    """Paper eq. 8 as released: 0.1 * L1 norm over S_int, per frame. (..., 174) -> (...)."""
    idx = list(S_INT)
    sub = rig[..., idx]
    if isinstance(sub, np.ndarray):
        return INTENSITY_SCALE * np.abs(sub).sum(axis=-1)
    return INTENSITY_SCALE * sub.abs().sum(dim=-1)


@lru_cache(maxsize=1)
def contact_columns() -> tuple[int, ...]:
    """Columns whose value says a lip touches something: lips together (upper and lower, both
    sides) and the lower lip on the upper teeth (lipBiteD)."""
    return tuple(i for i, n in enumerate(controller_names()) if "mouth_lipsTogether" in n or "mouth_lipBiteD" in n)


def lip_contact(rig: ArrayT) -> ArrayT:
    """(..., 174) -> (...) how firmly the lips meet (or the lower lip meets the teeth), 0..1: the
    largest contact control, clipped."""
    sub = rig[..., list(contact_columns())]
    if isinstance(sub, np.ndarray):
        return np.clip(sub.max(axis=-1), 0.0, 1.0)
    return sub.amax(dim=-1).clamp(0.0, 1.0)


@lru_cache(maxsize=1)
def rounding_columns() -> tuple[int, ...]:
    """Columns that round and protrude the lips: purse and towards, upper and lower, both sides."""
    keys = ("mouth_purse", "mouth_towards")
    return tuple(i for i, n in enumerate(controller_names()) if any(k in n for k in keys))


def lip_rounding(rig: ArrayT) -> ArrayT:
    """(..., 174) -> (...) how rounded the lips are, 0..1: the mean of the rounding controls, clipped."""
    sub = rig[..., list(rounding_columns())]
    if isinstance(sub, np.ndarray):
        return np.clip(sub.mean(axis=-1), 0.0, 1.0)
    return sub.mean(dim=-1).clamp(0.0, 1.0)


def emotion_id(label: str | int) -> int:
    """Emotion label (any case, full name or the release's 3-letter prefix) or id -> id."""
    from .errors import MedtalkError

    if isinstance(label, (int, np.integer)):
        if 0 <= int(label) < len(EMOTIONS):
            return int(label)
        raise MedtalkError(f"emotion id {label} out of range 0..{len(EMOTIONS) - 1}")
    text = str(label).strip().lower()
    if text.isdigit():
        return emotion_id(int(text))
    for i, name in enumerate(EMOTIONS):
        if len(text) >= 3 and name.startswith(text):
            return i
    raise MedtalkError(f"unknown emotion {label!r}; use one of {', '.join(EMOTIONS)} (or an id 0-6)")
