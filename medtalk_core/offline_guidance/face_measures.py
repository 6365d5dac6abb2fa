"""Face landmarks -> expression measures -> a pose on the face-board controls.

Measures are taken in a head frame built from rigid points (eye corners, nose ridge), so they
do not change with where the face is in the picture, how large it is, or how the head is
turned: x from the subject's right eye to the left, y up along the nose ridge, unit length =
the distance between the outer eye corners. Each measure is a signed distance or gap in that
frame; the pose reads its change from a neutral face (NEUTRAL) divided by the change a full
expression makes (FULL), so 1.0 is about the strongest the action gets.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np

from .. import rig

# MediaPipe FaceMesh indices. R/L are the subject's right/left (R is on the picture's left).
EYE_OUTER = {"R": 33, "L": 263}
EYE_INNER = {"R": 133, "L": 362}
LID_UPPER = {"R": 159, "L": 386}
LID_LOWER = {"R": 145, "L": 374}
BROW_INNER = {"R": 107, "L": 336}
BROW_MID = {"R": 105, "L": 334}
BROW_OUTER = {"R": 70, "L": 300}
CHEEK = {"R": 50, "L": 280}
ALA = {"R": 98, "L": 327}  # outer edge of each nostril
MOUTH_CORNER = {"R": 61, "L": 291}
NOSE_RIDGE = (168, 6, 197, 195)  # between the eyes down to the nose: moves with the head only
NOSE_TIP = 4
# Points that move with the head but hardly with expression: nose ridge, eye corners, temples,
# cheekbones and the sides of the face above the mouth. Brows and forehead are left out on purpose.
RIGID = (168, 6, 197, 195, 5, 4, 33, 133, 263, 362, 234, 454, 127, 356, 162, 389, 93, 323, 132, 361)
# Five neutral frontal photos (001-005) of the Face Research Lab London Set (CC BY 4.0; see
# tests/fixtures/faces/README.md), Procrustes-averaged by mean_face: the neutral face every
# picture is compared to.
NEUTRAL_ASSET = "assets/neutral_face_478.npy"
DEAD_ZONE = 0.25  # control values below this are read as a resting face (people differ at rest)
LIP_UPPER_OUT, LIP_UPPER_IN, LIP_LOWER_IN, LIP_LOWER_OUT = 0, 13, 14, 17
SIDES = ("L", "R")


def head_frame(pts: np.ndarray) -> np.ndarray:
    """(478, 3) landmarks -> the same in a frontal head frame: origin between the eyes, x to the
    subject's left, y up, z out of the face; unit = the distance between the outer eye corners."""
    origin = pts[[EYE_OUTER["L"], EYE_OUTER["R"], EYE_INNER["L"], EYE_INNER["R"]]].mean(axis=0)
    x = pts[EYE_OUTER["L"]] - pts[EYE_OUTER["R"]]
    scale = np.linalg.norm(x)
    x = x / scale
    # Up is along the nose ridge (rigid, in front of the eyes): a direction fixed in the head, so
    # the frame turns with the head; the Procrustes fit in `align` takes out the rest.
    down = pts[list(NOSE_RIDGE)].mean(axis=0) - origin
    y = -(down - (down @ x) * x)
    y = y / np.linalg.norm(y)
    z = np.cross(x, y)
    rot = np.stack([x, y, z])
    return (pts - origin) @ rot.T / scale


def _similarity(src: np.ndarray, dst: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Least-squares scale, rotation, translation taking src (N, 3) onto dst (Umeyama 1991)."""
    mu_s, mu_d = src.mean(axis=0), dst.mean(axis=0)
    s0, d0 = src - mu_s, dst - mu_d
    u, sv, vt = np.linalg.svd(d0.T @ s0)
    d = np.diag([1.0, 1.0, np.sign(np.linalg.det(u @ vt))])
    rot = u @ d @ vt
    scale = float((sv * np.diag(d)).sum() / (s0**2).sum())
    return scale, rot, mu_d - scale * rot @ mu_s


def align(pts: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Landmarks in the head frame, then fitted onto the neutral reference over the rigid points
    only, so that what remains is expression, not head pose or face size."""
    f = head_frame(pts)
    scale, rot, shift = _similarity(f[list(RIGID)], reference[list(RIGID)])
    return (scale * (rot @ f.T)).T + shift


@lru_cache(maxsize=1)
def neutral_reference() -> np.ndarray:
    """(478, 3) the shipped neutral face in the head frame (see NEUTRAL_ASSET)."""
    with resources.files("medtalk_core").joinpath(NEUTRAL_ASSET).open("rb") as fh:
        return np.load(fh).astype(np.float64)


def mean_face(landmark_sets: list[np.ndarray], rounds: int = 3) -> np.ndarray:
    """Generalised Procrustes mean of several faces' landmarks, in the head frame (how the
    shipped neutral reference was made from neutral photos)."""
    ref = np.mean([head_frame(p) for p in landmark_sets], axis=0)
    for _ in range(rounds):
        ref = np.mean([align(p, ref) for p in landmark_sets], axis=0)
    return ref


@dataclass(frozen=True)
class Measures:
    """Expression measures of one face, in head-frame units; per side where the face has two."""

    values: dict[str, float]

    def delta(self, neutral: "Measures") -> dict[str, float]:
        return {k: v - neutral.values[k] for k, v in self.values.items()}


def measure(pts: np.ndarray, reference: np.ndarray | None = None) -> Measures:
    """(478, 3) picture landmarks -> Measures (aligned onto `reference`, default the shipped neutral face)."""
    f = align(pts, neutral_reference() if reference is None else reference)
    y = f[:, 1]
    v: dict[str, float] = {}
    for s in SIDES:
        eye_y = 0.5 * (y[EYE_OUTER[s]] + y[EYE_INNER[s]])
        v[f"brow_inner_{s}"] = y[BROW_INNER[s]] - y[EYE_INNER[s]]
        v[f"brow_mid_{s}"] = y[BROW_MID[s]] - eye_y
        v[f"brow_outer_{s}"] = y[BROW_OUTER[s]] - y[EYE_OUTER[s]]
        v[f"eye_open_{s}"] = y[LID_UPPER[s]] - y[LID_LOWER[s]]
        v[f"lower_lid_{s}"] = y[LID_LOWER[s]] - eye_y
        v[f"cheek_{s}"] = y[CHEEK[s]] - eye_y
        v[f"ala_{s}"] = y[ALA[s]] - eye_y
        v[f"corner_up_{s}"] = y[MOUTH_CORNER[s]] - y[NOSE_TIP]
    v["brow_gap"] = abs(f[BROW_INNER["L"], 0] - f[BROW_INNER["R"], 0])
    v["mouth_width"] = float(np.linalg.norm(f[MOUTH_CORNER["L"], :2] - f[MOUTH_CORNER["R"], :2]))
    v["lip_thickness"] = (y[LIP_UPPER_OUT] - y[LIP_UPPER_IN]) + (y[LIP_LOWER_IN] - y[LIP_LOWER_OUT])
    v["mouth_open"] = max(0.0, y[LIP_UPPER_IN] - y[LIP_LOWER_IN])
    return Measures({k: float(x) for k, x in v.items()})


@lru_cache(maxsize=1)
def neutral_measures() -> Measures:
    return measure(neutral_reference(), neutral_reference())


# Control <- (change of a measure from neutral) / (the change a full expression makes). The full
# changes are set from the fixture photos (tests/fixtures/faces): a broad smile lifts the mouth
# corners about 0.09 eye-widths, a surprised face the inner brows about 0.05, a scowl lowers the
# brows about 0.05 and draws them 0.03 together; so those expressions read 0.7-0.9.
def _per_side(d: dict[str, float], s: str) -> dict[str, float]:
    corner = d[f"corner_up_{s}"]
    eye = d[f"eye_open_{s}"]
    return {
        f"{s}_brow_raiseIn": d[f"brow_inner_{s}"] / 0.06,
        f"{s}_brow_raiseOut": 0.5 * (d[f"brow_mid_{s}"] + d[f"brow_outer_{s}"]) / 0.04,
        f"{s}_brow_down": -d[f"brow_mid_{s}"] / 0.06,
        f"{s}_brow_lateral": -d["brow_gap"] / 0.06,  # resting brow gaps differ most between people
        # two-sided: negative = eyes wide open; closing is half as sensitive (squints close a bit)
        f"{s}_eye_blink": -eye / (0.03 if eye > 0 else 0.06),
        f"{s}_eye_squintInner": d[f"lower_lid_{s}"] / 0.02,
        f"{s}_eye_cheekRaise": d[f"cheek_{s}"] / 0.06,
        # a smile lifts the nostrils with the cheeks; only what rises beyond that is a wrinkle
        f"{s}_nose_wrinkleUpper": (d[f"ala_{s}"] - 0.7 * d[f"cheek_{s}"]) / 0.03,
        f"{s}_mouth_cornerPull": corner / 0.12,
        f"{s}_mouth_cornerDepress": -corner / 0.08,
        # a smile widens the mouth too; stretch is the widening the corner lift does not explain
        f"{s}_mouth_stretch": (d["mouth_width"] - 1.5 * max(corner, 0.0)) / 0.10,
        f"{s}_mouth_pressU": -d["lip_thickness"] / 0.03,
        f"{s}_mouth_pressD": -d["lip_thickness"] / 0.03,
    }


def pose_from_measures(m: Measures) -> np.ndarray:
    """Measures -> (174,) pose, clamped to the valid ranges; controls not read stay at rest."""
    d = m.delta(neutral_measures())
    values = {**_per_side(d, "L"), **_per_side(d, "R"), "C_jaw": d["mouth_open"] / 0.25}
    pose = np.zeros(rig.NUM_CONTROLS, np.float32)
    names = rig.controller_names()
    for control, value in values.items():
        # resting faces differ: the neutral photos read up to about DEAD_ZONE on single controls
        pose[names.index(f"CTRL_{control}-translateY")] = np.sign(value) * max(abs(value) - DEAD_ZONE, 0.0) / (1 - DEAD_ZONE)
    return rig.clamp(pose)


def pose_from_landmarks(pts: np.ndarray) -> np.ndarray:
    """(478, 3) picture landmarks -> (174,) pose."""
    return pose_from_measures(measure(pts))
