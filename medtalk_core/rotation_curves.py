"""The nine head and eye rotation curves every route carries: Live Link Face packets, the
plugin's OSC frames (`transports.osc.rotations`) and baked takes (format version 2).

Names and unit are Live Link Face's, so one Anim Blueprint recipe reads all three: `HeadYaw
HeadPitch HeadRoll LeftEyeYaw LeftEyePitch LeftEyeRoll RightEyeYaw RightEyePitch RightEyeRoll`,
each in degrees / 180 (the engine's ARKit source divides every FRotator angle by 180). Yaw is
positive toward the character's left, looking or tilting up is negative pitch, roll toward the
character's left shoulder is positive. The eye yaw and pitch are the whole eye rotation in the
head: the board's gaze controls (`C_eye`, `L_eye`, `R_eye`) plus the saccades of
`medtalk_core.head_eyes`; eye roll is always 0.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .head_eyes import COLUMNS as HEAD_EYES_COLUMNS
from .rig import NUM_CONTROLS, controller_names

ROTATION_NAMES: tuple[str, ...] = ("HeadYaw", "HeadPitch", "HeadRoll", "LeftEyeYaw", "LeftEyePitch",
                                   "LeftEyeRoll", "RightEyeYaw", "RightEyePitch", "RightEyeRoll")
ROTATION_UNIT_DEG = 180.0  # a curve value of 1 is 180 degrees
GAZE_YAW_DEG = 29.0  # eye yaw of a full-scale horizontal gaze control (translateX = 1)
GAZE_PITCH_DEG = 23.0  # eye pitch of a full-scale vertical gaze control (translateY = 1)
_EYES = {"Left": "L", "Right": "R"}  # the curve names' eye -> the board's side


@lru_cache(maxsize=1)
def _gaze_columns() -> dict[str, tuple[int, int]]:
    """'C' | 'L' | 'R' -> board columns of that gaze control's (translateX, translateY)."""
    names = controller_names()
    return {side: (names.index(f"CTRL_{side}_eye-translateX"), names.index(f"CTRL_{side}_eye-translateY"))
            for side in ("C", "L", "R")}


def rotation_curves(board: np.ndarray, head_eyes: np.ndarray | None = None) -> np.ndarray:
    """(n, 174) board controls and their (n, 6) head_eyes (`medtalk_core.head_eyes.COLUMNS`,
    degrees; None: a still head, the gaze controls alone) -> (n, 9) curves in ROTATION_NAMES order."""
    board = np.asarray(board, dtype=np.float32)
    if board.ndim != 2 or board.shape[1] != NUM_CONTROLS:
        raise ValueError(f"board must be (n, {NUM_CONTROLS}), got shape {board.shape}")
    motion = np.zeros((board.shape[0], len(HEAD_EYES_COLUMNS)), np.float32) if head_eyes is None \
        else np.asarray(head_eyes, dtype=np.float32).reshape(board.shape[0], len(HEAD_EYES_COLUMNS))
    yaw, pitch, roll, eye_yaw, eye_pitch = motion[:, :5].T
    columns = _gaze_columns()
    out = np.zeros((board.shape[0], len(ROTATION_NAMES)), np.float32)
    out[:, 0:3] = np.stack([yaw, -pitch, roll], axis=1) / ROTATION_UNIT_DEG
    for first, side in ((3, "L"), (6, "R")):
        (cx, cy), (sx, sy) = columns["C"], columns[side]
        gaze_x = np.clip(board[:, cx] + board[:, sx], -1.0, 1.0)
        gaze_y = np.clip(board[:, cy] + board[:, sy], -1.0, 1.0)
        out[:, first] = (GAZE_YAW_DEG * gaze_x + eye_yaw) / ROTATION_UNIT_DEG
        out[:, first + 1] = -(GAZE_PITCH_DEG * gaze_y + eye_pitch) / ROTATION_UNIT_DEG
    return out


def head_degrees(rotations: np.ndarray) -> np.ndarray:
    """(..., 9) curves -> (..., 3) head yaw, pitch, roll in degrees, `head_eyes` signs (up > 0)."""
    rotations = np.asarray(rotations, dtype=np.float32)
    return rotations[..., 0:3] * np.array([1.0, -1.0, 1.0], np.float32) * ROTATION_UNIT_DEG


def eye_degrees(rotations: np.ndarray) -> dict[str, np.ndarray]:
    """(..., 9) curves -> {'L': (..., 2), 'R': (..., 2)} each eye's yaw and pitch in the head,
    degrees, `head_eyes` signs (up > 0)."""
    rotations = np.asarray(rotations, dtype=np.float32)
    out = {}
    for eye, side in _EYES.items():
        first = ROTATION_NAMES.index(f"{eye}EyeYaw")
        out[side] = rotations[..., first:first + 2] * np.array([1.0, -1.0], np.float32) * ROTATION_UNIT_DEG
    return out
