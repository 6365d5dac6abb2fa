"""The curve sets a take is baked, recorded and streamed as: their names and their values.

One module owns them, so every file format and transport writes the same names:
- `board`: the 174 face-board controls in rig column order. The 174-column layout repeats the
  `CTRL_C_tongue_tip` pair (see medtalk_core.rig), but Live Link properties, CSV columns and
  JSON names must be unique: the second copy of a repeated name gets `_2` (174 unique names).
- `expressions`: the `CTRL_expressions_*` curves a stock MetaHuman face reads, derived from the
  board through Epic's wiring of a face board (medtalk_core.expressions: "classic", the board
  the 174 columns follow, or "mh4", the newer MetaHuman board).
"""

from __future__ import annotations

import typing
from functools import lru_cache
from typing import Iterable, Literal

import numpy as np

from .errors import ConfigError
from .expressions import DEFAULT_FACE_BOARD, board_to_expressions, expression_names
from .rig import controller_names

CurveSet = Literal["board", "expressions"]
CURVE_SETS: tuple[CurveSet, ...] = typing.get_args(CurveSet)


def unique_names(names: Iterable[str]) -> tuple[str, ...]:
    """The uniqueness rule: the k-th copy (k >= 2) of a repeated name gets the suffix `_k`."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    return tuple(out)


@lru_cache(maxsize=1)
def board_curve_names() -> tuple[str, ...]:
    """The 174 controller names, made unique (`CTRL_C_tongue_tip-translateX_2`, ...)."""
    return unique_names(controller_names())


def check_curve_set(curve_set: str) -> CurveSet:
    """`curve_set` itself when it names a curve set, else a ConfigError listing them."""
    if curve_set not in CURVE_SETS:
        raise ConfigError(f"unknown curve set {curve_set!r}; use one of {', '.join(CURVE_SETS)}")
    return typing.cast(CurveSet, curve_set)


def curve_names(curve_set: str, face_board: str = DEFAULT_FACE_BOARD) -> tuple[str, ...]:
    """The names of a curve set, one per value of `to_curves`."""
    return board_curve_names() if check_curve_set(curve_set) == "board" else expression_names(face_board)


def to_curves(board: np.ndarray, curve_set: str, face_board: str = DEFAULT_FACE_BOARD) -> np.ndarray:
    """(..., 174) board values -> (..., len(curve_names(curve_set))) float32 values of the set."""
    if check_curve_set(curve_set) == "board":
        return np.asarray(board, dtype=np.float32)
    return board_to_expressions(board, face_board)
