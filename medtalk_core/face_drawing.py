"""A simple front-view 2-D face drawn from one 174-dim rig frame.

Used for previews (`medtalk preview`) and as synthetic reference images for CLIP guidance
training, so it has to be fast (about a millisecond per 128 px frame on one CPU core) and deterministic
(same frame, same pixels). Drawing is Pillow's `ImageDraw` (a matplotlib dependency, so always
present) at `supersample` times the size, box-filtered down for smooth edges.

The geometry is computed once, in pixels, by `face_geometry`, and the rasteriser only draws
what it returns, so tests can check the picture against the numbers (for instance that the
mouth opening follows `CTRL_C_jaw-translateY`).

Conventions: image x grows to the viewer's right, y grows downwards. The character's left (L_)
side is drawn on the viewer's right, as in a mirror-free front view. Controllers that move the
drawing: brows (down, lateral, raiseIn, raiseOut), eyelids (blink, squintInner, lidPress,
cheekRaise, eyelidU/D), gaze (C_eye and L/R_eye translateX/Y), pupils, ears, nose (translate,
wrinkleUpper, nasolabialDeepen), jaw (translateX/Y, openExtreme), mouth (translateX/Y, corners,
cornerPull, sharpCornerPull, cornerDepress, dimple, stretch, purse, funnel, towards,
lipsTogether, upperLipRaise, lowerLipDepress, lip thickness and roll, suckBlow for the cheeks).
With a frame's nine rotation curves (`medtalk_core.rotation_curves`) the head turns too: yaw and
pitch slide the features across the face as on a turning ball (the nose most, the ears the other
way), roll tilts the whole picture about the neck, and the eyes look where the curves say.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from . import rig
from .rotation_curves import GAZE_PITCH_DEG, GAZE_YAW_DEG, eye_degrees, head_degrees

Color = tuple[int, int, int]

# The drawing's colours (the browser panel draws with the same, sent from here).
PALETTE: dict[str, Color] = {
    "background": (58, 64, 76), "skin": (226, 186, 160), "skin_dark": (120, 78, 62),
    "blush": (222, 128, 120), "eye_white": (246, 246, 242), "iris": (70, 110, 150),
    "pupil": (12, 12, 16), "brow": (72, 48, 36), "lid_line": (60, 36, 30),
    "lip": (178, 82, 84), "mouth_inside": (62, 14, 22), "teeth": (240, 238, 228),
}

# Neutral layout in units of the image side (0..1).
_EYE_Y = 0.42
_EYE_DX = 0.15  # eye centre distance from the midline
_EYE_HALF_W = 0.07
_EYE_OPEN_U = 0.035  # upper lid height above the eye centre at rest
_EYE_OPEN_D = 0.028
_IRIS_R = 0.028
_BROW_Y = 0.325
_MOUTH_Y = 0.72
_MOUTH_HALF_W = 0.11
_JAW_GAP = 0.16  # lip gap at CTRL_C_jaw-translateY = 1
_CURVE_POINTS = 10  # samples per half lip / lid curve
_HEAD_RADIUS = 0.3  # features slide by this times sin(angle) as the head turns (a ball of the face's width)
_NOSE_DEPTH, _EAR_DEPTH = 1.4, -0.5  # the nose tip stands out, the ears sit behind: more, and opposite, slide
_NECK = (0.5, 0.95)  # the point the head tilts (rolls) about
_Y_KEYS = frozenset({"upper_inner_y", "lower_inner_y", "box_top", "box_bottom"})  # lone y coordinates


@lru_cache(maxsize=1)
def _index() -> dict[str, int]:
    """Short name -> column: 'C_jaw-translateY' and, for translateY, also 'C_jaw'.

    First occurrence wins (the duplicated tongue_tip rows are not drawn).
    """
    out: dict[str, int] = {}
    for i, name in enumerate(rig.controller_names()):
        short = name.removeprefix("CTRL_")
        out.setdefault(short, i)
        if short.endswith("-translateY"):
            out.setdefault(short.removesuffix("-translateY"), i)
    return out


class _Controls:
    """Reads controller values by short name from one clamped frame."""

    def __init__(self, frame: np.ndarray) -> None:
        self._frame = frame
        self._index = _index()

    def __call__(self, name: str) -> float:
        return float(self._frame[self._index[name]])

    def side(self, side: str, name: str) -> float:
        return self(f"{side}_{name}")


def _mix(a: Color, b: Color, w: float) -> Color:
    w = float(np.clip(w, 0.0, 1.0))
    return tuple(int(round(x + (y - x) * w)) for x, y in zip(a, b))  # type: ignore[return-value]


def _curve(x0: float, x1: float, y_mid: float, y_end: float, n: int) -> np.ndarray:
    """Parabola from (x0, y_mid) at t=0 to (x1, y_end) at t=1; (n, 2)."""
    t = np.linspace(0.0, 1.0, n)
    return np.stack([x0 + (x1 - x0) * t, y_mid + (y_end - y_mid) * t * t], axis=1)


def _mouth(c: _Controls, gap: float) -> dict[str, Any]:
    cx = 0.5 + 0.04 * c("C_mouth-translateX")
    cy = _MOUTH_Y - 0.02 * c("C_mouth-translateY")
    upper_raise = 0.5 * (c("L_mouth_upperLipRaise") + c("R_mouth_upperLipRaise"))
    lower_depress = 0.5 * (c("L_mouth_lowerLipDepress") + c("R_mouth_lowerLipDepress"))
    upper_inner_y = cy - 0.15 * gap - 0.014 * upper_raise
    lower_inner_y = cy + 0.85 * gap + 0.014 * lower_depress
    thick_u = 0.02 * (1 + 0.5 * c("L_mouth_thicknessU") - 0.6 * c("L_mouth_lipsRollU")
                      + 0.4 * c("L_mouth_purseU"))
    thick_d = 0.026 * (1 + 0.5 * c("L_mouth_thicknessD") - 0.6 * c("L_mouth_lipsRollD")
                       + 0.4 * c("L_mouth_purseD"))
    corners = {}
    for side, sign in (("L", 1.0), ("R", -1.0)):
        def s(name: str) -> float:
            return c.side(side, name)
        narrow = 0.35 * 0.5 * (s("mouth_purseU") + s("mouth_purseD")) \
            + 0.25 * 0.5 * (s("mouth_funnelU") + s("mouth_funnelD")) \
            + 0.2 * 0.5 * (s("mouth_towardsU") + s("mouth_towardsD"))
        widen = 0.25 * s("mouth_stretch") + 0.15 * s("mouth_cornerPull") + 0.1 * s("mouth_dimple")
        half_w = max(0.02, _MOUTH_HALF_W * (1.0 + widen - narrow)
                     + 0.02 * sign * s("mouth_corner-translateX"))
        lift = 0.035 * s("mouth_cornerPull") + 0.02 * s("mouth_sharpCornerPull") \
            - 0.035 * s("mouth_cornerDepress") + 0.02 * s("mouth_corner-translateY")
        corners[side] = (cx + sign * half_w, cy + 0.35 * gap - lift)
    halves = {}
    for side in ("L", "R"):
        xc, yc = corners[side]
        bow = 0.006  # cupid's bow: the upper outline dips at the middle
        halves[side] = {
            "upper_outer": _curve(cx, xc, upper_inner_y - thick_u + bow, yc, _CURVE_POINTS),
            "upper_inner": _curve(cx, xc, upper_inner_y, yc, _CURVE_POINTS),
            "lower_inner": _curve(cx, xc, lower_inner_y, yc, _CURVE_POINTS),
            "lower_outer": _curve(cx, xc, lower_inner_y + thick_d, yc, _CURVE_POINTS),
        }

    def loop(key: str) -> np.ndarray:  # right corner -> centre -> left corner
        return np.concatenate([halves["R"][key][::-1], halves["L"][key][1:]])

    return {
        "center": (cx, cy),
        "corner_L": corners["L"],
        "corner_R": corners["R"],
        "upper_inner_y": upper_inner_y,
        "lower_inner_y": lower_inner_y,
        "outer": np.concatenate([loop("upper_outer"), loop("lower_outer")[::-1]]),
        "inner": np.concatenate([loop("upper_inner"), loop("lower_inner")[::-1]]),
        "upper_inner_curve": loop("upper_inner"),
    }


def _eye(c: _Controls, side: str, sign: float, look: tuple[float, float] | None = None) -> dict[str, Any]:
    """`look`: the eye's yaw and pitch in degrees, when rotation curves say it (else the gaze controls)."""
    def s(name: str) -> float:
        return c.side(side, name)
    cx, cy = 0.5 + sign * _EYE_DX, _EYE_Y
    blink = s("eye_blink-translateY")  # -1 wide open .. 1 shut
    open_u = _EYE_OPEN_U * (1.0 - blink) - 0.012 * s("eye_squintInner-translateY") \
        - 0.008 * s("eye_lidPress-translateY") + 0.012 * s("eye_eyelidU-translateY")
    open_d = _EYE_OPEN_D * (1.0 - max(blink, 0.0)) - 0.014 * s("eye_cheekRaise-translateY") \
        - 0.008 * s("eye_squintInner-translateY") - 0.01 * s("eye_eyelidD-translateY")
    open_u, open_d = max(open_u, 0.0), max(open_d, 0.0)
    look_x = s("eye-translateX") + c("C_eye-translateX") if look is None else look[0] / GAZE_YAW_DEG
    look_y = s("eye-translateY") + c("C_eye-translateY") if look is None else look[1] / GAZE_PITCH_DEG
    reach_x = _EYE_HALF_W - _IRIS_R
    iris = (cx + float(np.clip(look_x, -1, 1)) * reach_x, cy - float(np.clip(look_y, -1, 1)) * 0.025)
    x0, x1 = cx - _EYE_HALF_W, cx + _EYE_HALF_W
    upper = np.concatenate([_curve(cx, x0, cy - open_u, cy, _CURVE_POINTS)[::-1],
                            _curve(cx, x1, cy - open_u, cy, _CURVE_POINTS)[1:]])
    lower = np.concatenate([_curve(cx, x0, cy + open_d, cy, _CURVE_POINTS)[::-1],
                            _curve(cx, x1, cy + open_d, cy, _CURVE_POINTS)[1:]])
    return {
        "center": (cx, cy),
        "opening": open_u + open_d,
        "upper_lid": upper,
        "lower_lid": lower,
        "iris_center": iris,
        "iris_radius": _IRIS_R,
        "pupil_radius": 0.011 * (1.0 + 0.5 * s("eye_pupil-translateY")),
        "box_top": cy - 0.09,
        "box_bottom": cy + 0.075,
    }


def _brow(c: _Controls, side: str, sign: float) -> np.ndarray:
    def s(name: str) -> float:
        return c.side(side, name)
    down, lateral = s("brow_down-translateY"), s("brow_lateral-translateY")
    inner = (0.5 + sign * (0.05 - 0.015 * lateral),
             _BROW_Y + 0.045 * down + 0.01 * lateral - 0.05 * s("brow_raiseIn-translateY"))
    mid = (0.5 + sign * 0.13, _BROW_Y - 0.012 + 0.03 * down
           - 0.02 * (s("brow_raiseIn-translateY") + s("brow_raiseOut-translateY")))
    outer = (0.5 + sign * 0.21, _BROW_Y + 0.005 + 0.02 * down - 0.05 * s("brow_raiseOut-translateY"))
    return np.array([inner, mid, outer])


def _head(c: _Controls, gap: float) -> np.ndarray:
    """Head outline: the lower half follows the jaw (drops with the gap, shifts with translateX)."""
    theta = np.linspace(0.0, 2.0 * np.pi, 48, endpoint=False)
    sin, cos = np.sin(theta), np.cos(theta)
    lower = sin > 0
    ry = np.where(lower, 0.40 + 0.6 * gap, 0.42)
    rx = np.where(lower, 0.33, 0.35)
    x = 0.5 + rx * cos + np.where(lower, 0.03 * c("C_jaw-translateX") * sin, 0.0)
    y = 0.47 + ry * sin
    return np.stack([x, y], axis=1)


def _shifted(value: Any, dx: float, dy: float, key: str = "") -> Any:
    """Points (arrays of (x, y), (x, y) tuples, lone y coordinates under _Y_KEYS) moved by (dx, dy);
    lengths and weights unchanged."""
    if isinstance(value, dict):
        return {k: _shifted(v, dx, dy, k) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return value + np.array([dx, dy])
    if isinstance(value, tuple):
        return (value[0] + dx, value[1] + dy)
    return value + dy if key in _Y_KEYS else value


def face_geometry(frame: np.ndarray, size: int = 128, rotations: np.ndarray | None = None) -> dict[str, Any]:
    """Every shape of the drawing in pixels for a `size` x `size` image.

    `frame` is one (174,) rig frame (clamped to the valid ranges first); `rotations`, its (9,)
    rotation curves, turn the head and aim the eyes. Scalars of note:
    `mouth_opening_px` (inner lip gap at the mouth centre), `mouth_width_px`,
    `eye_opening_px` {"L", "R"}, `brow_height_px` {"L", "R"} (from the image top to the mean brow).
    """
    frame = np.asarray(frame, dtype=np.float32)
    if frame.shape != (rig.NUM_CONTROLS,):
        raise ValueError(f"face_geometry needs one ({rig.NUM_CONTROLS},) frame, got shape {frame.shape}")
    c = _Controls(rig.clamp(np.nan_to_num(frame)))
    together = 0.5 * (c("L_mouth_lipsTogetherU") + c("L_mouth_lipsTogetherD"))
    gap = (_JAW_GAP * max(c("C_jaw-translateY"), 0.0) + 0.05 * c("C_jaw_openExtreme-translateY")) \
        * (1.0 - 0.8 * together)
    mouth = _mouth(c, gap)
    looks = {"L": None, "R": None} if rotations is None else \
        {k: tuple(v.tolist()) for k, v in eye_degrees(np.nan_to_num(rotations)).items()}
    eyes = {"L": _eye(c, "L", 1.0, looks["L"]), "R": _eye(c, "R", -1.0, looks["R"])}
    brows = {"L": _brow(c, "L", 1.0), "R": _brow(c, "R", -1.0)}
    puff = -0.5 * (c("L_mouth_suckBlow-translateY") + c("R_mouth_suckBlow-translateY"))  # negative = blow
    cheeks = {}
    for side, sign in (("L", 1.0), ("R", -1.0)):
        raise_ = c.side(side, "eye_cheekRaise-translateY")
        cheeks[side] = {
            "center": (0.5 + sign * (0.2 + 0.02 * puff), 0.62 - 0.04 * raise_),
            "radius": 0.045 + 0.02 * raise_ + 0.015 * max(puff, 0.0),
            "strength": 0.15 + 0.6 * raise_,
        }
    nose_up = 0.5 * (c("L_nose-translateY") + c("R_nose-translateY"))
    nose_wide = 0.5 * (c("L_nose-translateX") + c("R_nose-translateX"))
    nose = {
        "tip": (0.5, 0.585 - 0.01 * nose_up),
        "nostril_dx": 0.035 + 0.01 * nose_wide,
        "wrinkle": 0.5 * (c("L_nose_wrinkleUpper-translateY") + c("R_nose_wrinkleUpper-translateY")),
        "fold": {s: c.side(s, "nose_nasolabialDeepen-translateY") + 0.5 * c.side(s, "mouth_cornerPull-translateY")
                 for s in ("L", "R")},
    }
    ears = {s: 0.44 - 0.03 * c.side(s, "ear_up-translateY") for s in ("L", "R")}
    ears_x = {s: 0.5 + sign * 0.34 for s, sign in (("L", 1.0), ("R", -1.0))}
    yaw, pitch, roll = (0.0, 0.0, 0.0) if rotations is None else head_degrees(np.nan_to_num(rotations)).tolist()
    # Yaw toward the character's left (drawn on the viewer's right) slides the features right; up, up.
    dx, dy = _HEAD_RADIUS * np.sin(np.radians(yaw)), -_HEAD_RADIUS * np.sin(np.radians(pitch))
    mouth, eyes, brows, cheeks = (_shifted(v, dx, dy) for v in (mouth, eyes, brows, cheeks))
    nose = _shifted(nose, _NOSE_DEPTH * dx, _NOSE_DEPTH * dy)
    ears = {k: v + _EAR_DEPTH * dy for k, v in ears.items()}
    ears_x = {k: v + _EAR_DEPTH * dx for k, v in ears_x.items()}

    scale = float(size)

    def px(value: Any) -> Any:
        if isinstance(value, np.ndarray):
            return value * scale
        if isinstance(value, tuple):
            return tuple(v * scale for v in value)
        if isinstance(value, dict):
            return {k: px(v) if k not in ("strength", "wrinkle", "fold") else v for k, v in value.items()}
        return float(value) * scale

    return {
        "size": size,
        "head": px(_head(c, gap)),
        "ears_y": px(ears),
        "ears_x": px(ears_x),
        "roll_deg": roll,  # the picture tilts by this about "neck" (> 0: toward the character's left shoulder)
        "neck": px(_NECK),
        "eyes": {k: px(v) for k, v in eyes.items()},
        "brows": {k: px(v) for k, v in brows.items()},
        "cheeks": {k: px(v) for k, v in cheeks.items()},
        "nose": px(nose),
        "mouth": px(mouth),
        "eye_line_px": (_EYE_Y + dy) * scale,  # the eyes' resting height: the nose bridge starts below it
        "mouth_opening_px": (mouth["lower_inner_y"] - mouth["upper_inner_y"]) * scale,
        "mouth_width_px": (mouth["corner_L"][0] - mouth["corner_R"][0]) * scale,
        "eye_opening_px": {k: v["opening"] * scale for k, v in eyes.items()},
        "brow_height_px": {k: float(v[:, 1].mean()) * scale for k, v in brows.items()},
    }


def _points(array: np.ndarray, ss: int) -> list[tuple[float, float]]:
    return [(float(x) * ss, float(y) * ss) for x, y in array]


def _circle(draw: Any, center: tuple[float, float], radius: float, ss: int, fill: Color) -> None:
    x, y, r = center[0] * ss, center[1] * ss, radius * ss
    draw.ellipse([x - r, y - r, x + r, y + r], fill=fill)


def render_geometry(geo: dict[str, Any], supersample: int = 2) -> np.ndarray:
    """Rasterise `face_geometry` output -> (size, size, 3) uint8 RGB."""
    from PIL import Image, ImageDraw

    size, ss = int(geo["size"]), int(supersample)
    image = Image.new("RGB", (size * ss, size * ss), PALETTE["background"])
    draw = ImageDraw.Draw(image)
    line = max(1, round(size * ss / 128))

    for side in ("L", "R"):  # ears behind the head
        _circle(draw, (geo["ears_x"][side], geo["ears_y"][side]), size * 0.045, ss,
                _mix(PALETTE["skin"], PALETTE["skin_dark"], 0.15))
    draw.polygon(_points(geo["head"], ss), fill=PALETTE["skin"])

    for side in ("L", "R"):
        eye = geo["eyes"][side]
        upper, lower = eye["upper_lid"], eye["lower_lid"]
        if eye["opening"] > 0.5:  # less than half a pixel open reads as shut
            draw.polygon(_points(np.concatenate([upper, lower[::-1]]), ss), fill=PALETTE["eye_white"])
            _circle(draw, eye["iris_center"], eye["iris_radius"], ss, PALETTE["iris"])
            _circle(draw, eye["iris_center"], eye["pupil_radius"], ss, PALETTE["pupil"])
        # Skin above the upper lid and below the lower lid hides the iris outside the opening.
        pad = 0.03 * size
        x0, y0 = upper[0]
        x1, y1 = upper[-1]
        top = np.concatenate([upper, [[x1 + pad, y1], [x1 + pad, eye["box_top"]],
                                      [x0 - pad, eye["box_top"]], [x0 - pad, y0]]])
        bottom = np.concatenate([lower, [[x1 + pad, y1], [x1 + pad, eye["box_bottom"]],
                                         [x0 - pad, eye["box_bottom"]], [x0 - pad, y0]]])
        draw.polygon(_points(top, ss), fill=PALETTE["skin"])
        draw.polygon(_points(bottom, ss), fill=PALETTE["skin"])
        draw.line(_points(upper, ss), fill=PALETTE["lid_line"], width=2 * line, joint="curve")
        draw.line(_points(lower, ss), fill=_mix(PALETTE["skin"], PALETTE["lid_line"], 0.5), width=line)

    for side in ("L", "R"):
        cheek = geo["cheeks"][side]
        _circle(draw, cheek["center"], cheek["radius"], ss, _mix(PALETTE["skin"], PALETTE["blush"], cheek["strength"]))
        draw.line(_points(geo["brows"][side], ss), fill=PALETTE["brow"], width=max(2, round(size * ss * 0.022)),
                  joint="curve")

    nose = geo["nose"]
    tx, ty = nose["tip"]
    nose_color = _mix(PALETTE["skin"], PALETTE["skin_dark"], 0.55)
    draw.line(_points(np.array([[tx - 0.012 * size, geo["eye_line_px"] + 0.02 * size],
                                [tx - 0.02 * size, ty - 0.01 * size]]), ss), fill=nose_color, width=line)
    for sign in (1.0, -1.0):
        _circle(draw, (tx + sign * nose["nostril_dx"] * 0.6, ty), 0.011 * size, ss, nose_color)
    draw.line(_points(np.array([[tx - nose["nostril_dx"], ty - 0.005 * size], [tx, ty + 0.01 * size],
                                [tx + nose["nostril_dx"], ty - 0.005 * size]]), ss),
              fill=nose_color, width=line, joint="curve")
    if nose["wrinkle"] > 0.05:
        wy = geo["eye_line_px"] + 0.015 * size
        for k in range(3):
            y = wy + k * 0.012 * size
            draw.line([((tx - 0.025 * size) * ss, y * ss), ((tx + 0.025 * size) * ss, y * ss)],
                      fill=_mix(PALETTE["skin"], PALETTE["skin_dark"], nose["wrinkle"]), width=line)

    mouth = geo["mouth"]
    for side, sign in (("L", 1.0), ("R", -1.0)):  # nasolabial folds: nostril wing to mouth corner
        if nose["fold"][side] < 0.05:
            continue
        corner = mouth[f"corner_{side}"]
        fold = np.array([[tx + sign * nose["nostril_dx"] * 1.4, ty - 0.01 * size],
                         [corner[0] + sign * 0.03 * size, (ty + corner[1]) / 2],
                         [corner[0] + sign * 0.015 * size, corner[1] + 0.01 * size]])
        draw.line(_points(fold, ss), fill=_mix(PALETTE["skin"], PALETTE["skin_dark"], 0.1 + 0.6 * nose["fold"][side]),
                  width=line, joint="curve")

    draw.polygon(_points(mouth["outer"], ss), fill=PALETTE["lip"])
    if geo["mouth_opening_px"] > 0.5:
        draw.polygon(_points(mouth["inner"], ss), fill=PALETTE["mouth_inside"])
        # Upper teeth: a band under the upper lip, at most a third of the opening deep.
        teeth_depth = min(0.02 * size, geo["mouth_opening_px"] / 3)
        upper = mouth["upper_inner_curve"]
        middle = upper[len(upper) // 4: 3 * len(upper) // 4 + 1]
        teeth = np.concatenate([middle, (middle + [0.0, teeth_depth])[::-1]])
        draw.polygon(_points(teeth, ss), fill=PALETTE["teeth"])
        draw.polygon(_points(mouth["inner"], ss), outline=_mix(PALETTE["lip"], PALETTE["mouth_inside"], 0.5))
    else:
        draw.line(_points(mouth["upper_inner_curve"], ss), fill=PALETTE["mouth_inside"], width=line)

    if geo["roll_deg"]:
        # The character's left shoulder is on the viewer's right: tilting toward it is clockwise.
        pivot = (geo["neck"][0] * ss, geo["neck"][1] * ss)
        image = image.rotate(-geo["roll_deg"], resample=Image.BICUBIC, center=pivot, fillcolor=PALETTE["background"])
    if ss > 1:
        image = image.reduce(ss)
    return np.asarray(image, dtype=np.uint8)


def draw_face(frame: np.ndarray, size: int = 128, supersample: int = 2,
              rotations: np.ndarray | None = None) -> np.ndarray:
    """One (174,) rig frame (and its (9,) rotation curves) -> (size, size, 3) uint8 RGB face."""
    return render_geometry(face_geometry(frame, size, rotations), supersample)


def draw_faces(frames: np.ndarray, size: int = 128, supersample: int = 2) -> np.ndarray:
    """(T, 174) rig frames -> (T, size, size, 3) uint8."""
    frames = np.asarray(frames, dtype=np.float32)
    if frames.ndim != 2 or frames.shape[1] != rig.NUM_CONTROLS:
        raise ValueError(f"draw_faces needs (T, {rig.NUM_CONTROLS}) frames, got shape {frames.shape}")
    out = np.empty((frames.shape[0], size, size, 3), dtype=np.uint8)
    for t, frame in enumerate(frames):  # (size, size, 3) each
        out[t] = draw_face(frame, size, supersample)
    return out
