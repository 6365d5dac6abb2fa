"""Reading a `medtalk bake` CSV for the Unreal editor import script, in plain Python.

Unreal's embedded Python has no numpy, so this module uses the standard library only, and it
does not import `unreal`: our tests run it outside the editor. The CSV is `time` plus one
column per curve: the 174 face-board controls (`--curves board`) or the MetaHuman
`CTRL_expressions_*` curves (`--curves expressions`), then, in a take of format version 2, the
nine head and eye rotation curves (ROTATION_NAMES, Live Link Face's names, degrees / 180).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path

EXPRESSIONS_PREFIX = "CTRL_expressions_"
MAX_KEY_GAP = 240  # frames between kept keys at most: bounds the work per key on long takes
# The rotation curves of a version 2 take: medtalk_core/rotation_curves.py (this file cannot
# import it inside Unreal; a test keeps the two lists equal).
ROTATION_NAMES = ("HeadYaw", "HeadPitch", "HeadRoll", "LeftEyeYaw", "LeftEyePitch",
                  "LeftEyeRoll", "RightEyeYaw", "RightEyePitch", "RightEyeRoll")
ROTATION_UNIT_DEG = 180.0
# Which local axis of the head bone each head angle turns about, with its sign. NOT verified in
# an editor: the guess is that the MetaHuman head bone's X runs up the neck (so turning is about
# X), Z points to the side (nodding) and Y to the front (tilting). `--head-axes` overrides it.
DEFAULT_HEAD_AXES = "yaw=X,pitch=Z,roll=Y"
Quat = tuple[float, float, float, float]  # x, y, z, w, as unreal.Quat takes them


class BakedCsvError(ValueError):
    """The file is not a `medtalk bake` CSV."""


@dataclass
class BakedCurves:
    fps: float  # frames per second, from the time column
    times: list[float]  # seconds, one per frame
    curves: dict[str, list[float]]  # face curve name -> one value per frame, in file column order
    duplicates: list[str] = field(default_factory=list)  # repeated (or `_2`-numbered) columns, first kept
    rotations: dict[str, list[float]] = field(default_factory=dict)  # ROTATION_NAMES -> values; {} in version 1

    @property
    def version(self) -> int:
        """The take format version: 2 with rotation curves, 1 without."""
        return 2 if self.rotations else 1

    @property
    def num_frames(self) -> int:
        return len(self.times)

    @property
    def kind(self) -> str:
        """'expressions' when every curve is a CTRL_expressions_* curve, else 'board'."""
        return "expressions" if all(n.startswith(EXPRESSIONS_PREFIX) for n in self.curves) else "board"


def _copy_of(name: str, earlier: dict[str, int]) -> str | None:
    """The column a numbered copy repeats: bake names the k-th copy of a repeated curve name
    `<name>_k` (k >= 2; medtalk_core/curve_sets.py), e.g. CTRL_C_tongue_tip-translateX_2."""
    stem, sep, k = name.rpartition("_")
    return stem if sep and k.isdigit() and int(k) >= 2 and stem in earlier else None


def read_baked_csv(path: str | Path) -> BakedCurves:
    path = Path(path)
    if not path.is_file():
        raise BakedCsvError(f"CSV not found: {path}")
    with path.open(newline="", encoding="utf-8") as handle:
        rows = csv.reader(handle)
        header = next(rows, None)
        if not header or header[0].strip() != "time" or len(header) < 2:
            raise BakedCsvError(f"{path}: first column must be 'time' followed by curve names")
        names = [h.strip() for h in header[1:]]
        keep: dict[str, int] = {}
        duplicates = []
        for i, name in enumerate(names):
            original = name if name in keep else _copy_of(name, keep)
            if original is not None:
                duplicates.append(original)  # the 174-column layout repeats CTRL_C_tongue_tip
            else:
                keep[name] = i
        times: list[float] = []
        columns: list[list[float]] = [[] for _ in names]
        for line, row in enumerate(rows, start=2):
            if not row:
                continue
            if len(row) != len(header):
                raise BakedCsvError(f"{path} line {line}: {len(row)} values, header has {len(header)}")
            try:
                values = [float(v) for v in row]
            except ValueError as exc:
                raise BakedCsvError(f"{path} line {line}: {exc}") from None
            times.append(values[0])
            for column, value in zip(columns, values[1:]):
                column.append(value)
    if not times:
        raise BakedCsvError(f"{path} holds no frames")
    if any(b <= a for a, b in zip(times, times[1:])):
        raise BakedCsvError(f"{path}: times must increase")
    span = times[-1] - times[0]
    fps = round((len(times) - 1) / span, 3) if len(times) > 1 and span > 0 else 60.0
    rotations = {name: columns[keep.pop(name)] for name in ROTATION_NAMES if name in keep}
    if rotations and len(rotations) != len(ROTATION_NAMES):
        raise BakedCsvError(f"{path}: rotation curves {', '.join(sorted(rotations))} without the rest of "
                            f"{' '.join(ROTATION_NAMES)}")
    return BakedCurves(fps, times, {name: columns[i] for name, i in keep.items()}, duplicates, rotations)


def reduce_keys(times: list[float], values: list[float], tolerance: float = 1e-4) -> list[tuple[float, float]]:
    """Drop keys that linear interpolation between their kept neighbours reproduces within
    `tolerance`; first and last keys always stay, and no gap exceeds MAX_KEY_GAP frames."""
    if len(times) != len(values):
        raise ValueError("times and values differ in length")
    if len(times) <= 2:
        return list(zip(times, values))
    kept = [0]
    for i in range(1, len(times) - 1):
        a = kept[-1]
        # Would a straight line from the last kept key to the next key still pass every frame in between?
        t0, v0, t1, v1 = times[a], values[a], times[i + 1], values[i + 1]
        slope = (v1 - v0) / (t1 - t0)
        if i - a >= MAX_KEY_GAP or any(abs(v0 + slope * (times[j] - t0) - values[j]) > tolerance
                                      for j in range(a + 1, i + 1)):
            kept.append(i)
    kept.append(len(times) - 1)
    return [(times[i], values[i]) for i in kept]


def board_controls(names: list[str]) -> dict[str, dict[str, str]]:
    """Board curve names grouped by Control Rig control: 'CTRL_C_jaw' -> {'X': name, 'Y': name}."""
    out: dict[str, dict[str, str]] = {}
    for name in names:
        control, _, channel = name.partition("-translate")
        if channel not in ("X", "Y"):
            raise BakedCsvError(f"{name!r} is not a face-board control channel (CTRL_...-translateX/Y)")
        out.setdefault(control, {})[channel] = name
    return out


def parse_head_axes(text: str) -> dict[str, tuple[int, float]]:
    """'yaw=X,pitch=-Z,roll=Y' -> {'yaw': (0, 1.0), 'pitch': (2, -1.0), 'roll': (1, 1.0)}:
    each head angle's bone axis (0 = X, 1 = Y, 2 = Z) and sign; all three, on distinct axes."""
    out: dict[str, tuple[int, float]] = {}
    for part in text.split(","):
        angle, _, axis = (p.strip() for p in part.partition("="))
        sign = -1.0 if axis.startswith("-") else 1.0
        axis = axis.lstrip("+-").upper()
        if angle not in ("yaw", "pitch", "roll") or axis not in ("X", "Y", "Z") or angle in out:
            raise ValueError(f"--head-axes: {part.strip()!r} is not yaw|pitch|roll=[-]X|Y|Z")
        out[angle] = ("XYZ".index(axis), sign)
    if len(out) != 3 or len({axis for axis, _ in out.values()}) != 3:
        raise ValueError(f"--head-axes needs yaw, pitch and roll on three different axes, got {text!r}")
    return out


def _multiply(a: Quat, b: Quat) -> Quat:
    """Hamilton product a * b (b applied first, then a), quaternions as (x, y, z, w)."""
    ax, ay, az, aw = a
    bx, by, bz, bw = b
    return (aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
            aw * bw - ax * bx - ay * by - az * bz)


def _about(axis: int, degrees: float) -> Quat:
    half = math.radians(degrees) / 2.0
    xyz = [0.0, 0.0, 0.0]
    xyz[axis] = math.sin(half)
    return (xyz[0], xyz[1], xyz[2], math.cos(half))


def head_bone_rotations(take: BakedCurves, rest: Quat, axes: dict[str, tuple[int, float]]) -> list[Quat]:
    """The head bone's local rotation at every frame: its reference rotation `rest` turned, in its
    own frame, by the take's roll, then pitch, then yaw (degrees from the rotation curves, up =
    positive pitch, as medtalk_core/head_eyes.py has it)."""
    if not take.rotations:
        raise BakedCsvError("this take has no head rotation curves (baked with --no-head-eyes, or before "
                            "take format version 2)")
    signs = {"HeadYaw": 1.0, "HeadPitch": -1.0, "HeadRoll": 1.0}  # the curves carry up as negative pitch
    degrees = {name: [signs[name] * ROTATION_UNIT_DEG * v for v in take.rotations[name]] for name in signs}
    out = []
    for yaw, pitch, roll in zip(degrees["HeadYaw"], degrees["HeadPitch"], degrees["HeadRoll"]):
        turn = (0.0, 0.0, 0.0, 1.0)
        for angle, value in (("yaw", yaw), ("pitch", pitch), ("roll", roll)):
            axis, sign = axes[angle]
            turn = _multiply(turn, _about(axis, sign * value))
        out.append(_multiply(rest, turn))
    return out
