"""MetaHuman `CTRL_expressions_*` curves derived from the 174 face-board controls.

A MetaHuman face is driven by RigLogic, which reads the `CTRL_expressions_*` animation
curves; the face-board controls (`CTRL_L_mouth_cornerPull` ...) are Control Rig handles that
the board's own logic turns into those curves. Live Link curves from our plugin reach the
face Anim Blueprint as animation curves, so the `expressions` curve set is what moves a stock
face; the `board` set is for a Control Rig of your own that reads the controls.

The wiring is Epic's, as data: `assets/face_boards/<board>.csv` (source, licence and generator
in `assets/face_boards/README.md`), one row per linear piece `input,output,from,to,slope,cut`.
It is evaluated with RigLogic's GUI-to-raw rule: every output starts at 0; a row adds
`slope * x + cut` while `from <= x <= to`; of consecutive rows with the same input and output
only the first that matches counts (neighbouring windows share their end points); every output
is clipped to [0, 1]. So `CTRL_C_jaw.tx` +1 is `jawRight`, `CTRL_L_eye_eyelidU.ty` -1 is
`eyeUpperLidUpL` and +1 is `eyeRelaxL`, and `CTRL_C_neck_swallow` plays `neckSwallowPh1..4`
in turn. `CTRL_C_eye` and `CTRL_L_eye` both add to `eyeLookLeftL` (clipped); Maya's own rig
sums their rotations first instead, which differs only when they point opposite ways.

Our 174 columns on each board (`board_inputs`):
- The two `CTRL_C_tongue_tip` pairs (columns 25-26 and 27-28). The 174 names are in ASCII
  order everywhere else, and the classic board has exactly one control missing from them,
  `CTRL_C_tongue_roll`, which sorts where the first pair sits; the second pair is the one the
  real EmoFace sample moves with the tongue (up to 0.26, the first stays under 0.003). So the
  first pair is read as `CTRL_C_tongue_roll` and the second as `CTRL_C_tongue_tip`.
- `CTRL_neckCorrectivesMultiplyer{U,M,D}` and `CTRL_lookAtSwitch` drive no curve: the
  multipliers are gains the rig holds at 0.8/0.5/0.2 for head-turn correctives that come from
  the neck joints (our model has no head motion), and lookAtSwitch switches Maya's gaze rig
  to the aim control. They are listed in `UNMAPPED`.
- `mh4` renames three tongue controls (`_MH4_RENAMES`); its `CTRL_C_tongue_roll` is a slider
  (`tongueRoll`), so only the roll pair's +Y reaches it (`tongueRollUp/Down/Left/Right` are
  gone), and its new controls (`tongue_bendTwist`, `tongue_thickThin`,
  `mouth_thicknessInward[UD]`) have no column in the 174 and stay at rest.
"""

from __future__ import annotations

import csv
from functools import lru_cache
from importlib import resources

import numpy as np

from .errors import ConfigError
from .rig import NUM_CONTROLS, controller_names

PREFIX = "CTRL_expressions_"
FACE_BOARDS: tuple[str, ...] = ("classic", "mh4")  # assets/face_boards/<name>.csv
DEFAULT_FACE_BOARD = "classic"  # the board the 174-column layout was recorded on

# Columns whose name in the 174 layout is not their board control (see the docstring).
_TONGUE_ROLL_COLUMNS = {25: "CTRL_C_tongue_roll-translateX", 26: "CTRL_C_tongue_roll-translateY"}
_MH4_RENAMES = {
    "CTRL_C_tongue": "CTRL_C_tongue_move",
    "CTRL_C_tongue_tip": "CTRL_C_tongue_tipMove",
    "CTRL_C_tongue_narrowWide": "CTRL_C_tongue_wideNarrow",
}

# Board controls that drive no CTRL_expressions curve (see the docstring for why).
UNMAPPED: frozenset[str] = frozenset({
    "CTRL_lookAtSwitch-translateY",
    "CTRL_neckCorrectivesMultiplyerD-translateY",
    "CTRL_neckCorrectivesMultiplyerM-translateY",
    "CTRL_neckCorrectivesMultiplyerU-translateY",
})


def _check_board(board: str) -> str:
    if board not in FACE_BOARDS:
        raise ConfigError(f"unknown face board {board!r}; use one of {', '.join(FACE_BOARDS)}")
    return board


@lru_cache(maxsize=None)
def wiring(board: str = DEFAULT_FACE_BOARD) -> tuple[tuple[str, str, float, float, float, float], ...]:
    """The board's table rows in file order: (input control, output curve, from, to, slope, cut)."""
    path = resources.files("medtalk_core").joinpath(f"assets/face_boards/{_check_board(board)}.csv")
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith("#")]
    reader = csv.DictReader(lines)
    return tuple((r["input"], r["output"], float(r["from"]), float(r["to"]), float(r["slope"]), float(r["cut"]))
                 for r in reader)


@lru_cache(maxsize=None)
def board_inputs(board: str = DEFAULT_FACE_BOARD) -> tuple[str, ...]:
    """The board control each of our 174 columns is, on `board` (unknown to it: kept as is)."""
    names = list(controller_names())
    for column, name in _TONGUE_ROLL_COLUMNS.items():
        names[column] = name
    if _check_board(board) == "mh4":
        names = [_MH4_RENAMES.get(n.split("-")[0], n.split("-")[0]) + "-" + n.split("-")[1] for n in names]
    return tuple(names)


@lru_cache(maxsize=None)
def derivation(board: str = DEFAULT_FACE_BOARD) -> tuple[tuple[int, float, float, float, float, str], ...]:
    """Every table row our columns drive, as (column, from, to, slope, cut, curve), in table order."""
    column_of = {name: i for i, name in enumerate(board_inputs(board))}
    return tuple((column_of[control], lo, hi, slope, cut, output)
                 for control, output, lo, hi, slope, cut in wiring(board) if control in column_of)


@lru_cache(maxsize=None)
def undriven(board: str = DEFAULT_FACE_BOARD) -> tuple[str, ...]:
    """Curves of the board's table that none of our columns drive (they stay at rest)."""
    driven = {curve for *_, curve in derivation(board)}
    return tuple(dict.fromkeys(out for _, out, *_ in wiring(board) if out not in driven))


@lru_cache(maxsize=None)
def expression_names(board: str = DEFAULT_FACE_BOARD) -> tuple[str, ...]:
    """The derived curve names, in first-appearance order of the table."""
    return tuple(dict.fromkeys(curve for *_, curve in derivation(board)))


@lru_cache(maxsize=None)
def _plan(board: str) -> tuple[np.ndarray, ...]:
    """Row arrays plus, per row, its run (consecutive rows of one input and output) and rank in it."""
    rows = derivation(board)
    index = {name: i for i, name in enumerate(expression_names(board))}
    run, rank, previous = [], [], None
    for column, *_, curve in rows:
        key = (column, curve)
        if key == previous:
            rank.append(rank[-1] + 1)
            run.append(run[-1])
        else:
            rank.append(0)
            run.append(run[-1] + 1 if run else 0)
        previous = key
    columns = np.array([r[0] for r in rows], np.int64)
    lo, hi, slope, cut = (np.array([r[k] for r in rows], np.float64) for k in (1, 2, 3, 4))
    targets = np.array([index[r[5]] for r in rows], np.int64)
    return columns, lo, hi, slope, cut, targets, np.array(run, np.int64), np.array(rank, np.int64)


def board_to_expressions(rig: np.ndarray, board: str = DEFAULT_FACE_BOARD) -> np.ndarray:
    """(..., 174) board values -> (..., len(expression_names(board))) float32 curves in [0, 1]."""
    rig = np.asarray(rig, dtype=np.float64)  # the table's windows and slopes are float64 facts
    if rig.shape[-1] != NUM_CONTROLS:
        raise ValueError(f"expected (..., {NUM_CONTROLS}) board values, got shape {rig.shape}")
    columns, lo, hi, slope, cut, targets, run, rank = _plan(board)
    x = rig[..., columns]  # (..., n_rows)
    active = (x >= lo) & (x <= hi)
    # First match of a run wins: a row counts only when no earlier row of its run matched.
    taken = np.zeros(rig.shape[:-1] + (int(run.max()) + 1,), bool)  # (..., n_runs)
    for level in range(int(rank.max()) + 1):
        rows = np.flatnonzero(rank == level)  # at most one row of each run
        active[..., rows] &= ~taken[..., run[rows]]
        taken[..., run[rows]] |= active[..., rows]
    parts = np.where(active, slope * x + cut, 0.0)  # (..., n_rows)
    out = np.zeros(rig.shape[:-1] + (len(expression_names(board)),), np.float64)
    # Move the curve axis first so one unbuffered add covers every leading shape.
    np.add.at(np.moveaxis(out, -1, 0), targets, np.moveaxis(parts, -1, 0))
    return np.clip(out, 0.0, 1.0).astype(np.float32)
