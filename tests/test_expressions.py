"""Board -> CTRL_expressions derivation against Epic's wiring tables, with our own evaluator."""

from __future__ import annotations

import csv
import re
from functools import lru_cache
from importlib import resources

import numpy as np
import pytest

from medtalk_core import rig
from medtalk_core.errors import ConfigError
from medtalk_core.expressions import (FACE_BOARDS, UNMAPPED, board_inputs, board_to_expressions, derivation,
                                      expression_names, undriven)

TOL = 1e-6


# --- An evaluator of the table written here, from the rule, one frame at a time ----------------
@lru_cache(maxsize=None)
def _table(board: str) -> tuple[dict, ...]:
    text = resources.files("medtalk_core").joinpath(f"assets/face_boards/{board}.csv").read_text("utf-8")
    rows = list(csv.DictReader(line for line in text.splitlines() if not line.startswith("#")))
    return tuple({"input": r["input"], "output": r["output"], "lo": float(r["from"]), "hi": float(r["to"]),
                  "slope": float(r["slope"]), "cut": float(r["cut"])} for r in rows)


@lru_cache(maxsize=None)
def _our_controls(board: str) -> tuple[str, ...]:
    """Column -> board control: the first tongue_tip pair is tongue_roll; mh4 renames the tongue."""
    names = list(rig.controller_names())
    names[25], names[26] = "CTRL_C_tongue_roll-translateX", "CTRL_C_tongue_roll-translateY"
    if board == "mh4":
        renames = {"CTRL_C_tongue-": "CTRL_C_tongue_move-", "CTRL_C_tongue_tip-": "CTRL_C_tongue_tipMove-",
                   "CTRL_C_tongue_narrowWide-": "CTRL_C_tongue_wideNarrow-"}
        for i, name in enumerate(names):
            for old, new in renames.items():
                if name.startswith(old):
                    names[i] = new + name[len(old):]
    return tuple(names)


def _reference(frame: np.ndarray, board: str) -> dict[str, float]:
    gui = {name: float(v) for name, v in zip(_our_controls(board), frame)}
    out: dict[str, float] = {}
    previous, matched = None, False
    for row in _table(board):
        key = (row["input"], row["output"])
        if key != previous:
            previous, matched = key, False
        out.setdefault(row["output"], 0.0)
        x = gui.get(row["input"])
        if x is None or matched or not row["lo"] <= x <= row["hi"]:
            continue
        matched = True
        out[row["output"]] += row["slope"] * x + row["cut"]
    return {name: min(max(v, 0.0), 1.0) for name, v in out.items()}


def _compare(frames: np.ndarray, board: str) -> None:
    got = board_to_expressions(frames, board)
    names = expression_names(board)
    resting = sorted(set(_reference(frames[0], board)) - set(names))
    for frame, curves in zip(frames, got):
        expected = _reference(frame, board)
        want = np.array([expected[name] for name in names])
        worst = int(np.argmax(np.abs(curves - want)))
        assert abs(curves[worst] - want[worst]) <= TOL, (names[worst], curves[worst], want[worst])
        assert all(expected[name] == 0.0 for name in resting)  # outputs no column drives stay at rest


@pytest.mark.parametrize("board", FACE_BOARDS)
def test_each_control_alone_over_its_range_matches_the_table(board):
    low, high = rig.valid_ranges()
    ends = sorted({r["lo"] for r in _table(board)} | {r["hi"] for r in _table(board)})
    frames = []
    for column in range(rig.NUM_CONTROLS):
        values = np.concatenate([np.linspace(low[column], high[column], 21), ends, [low[column] - 0.5, 1.5]])
        block = np.zeros((len(values), rig.NUM_CONTROLS), np.float32)
        block[:, column] = values
        frames.append(block)
    _compare(np.concatenate(frames), board)


@pytest.mark.parametrize("board", FACE_BOARDS)
def test_real_emoface_frames_match_the_table(board, sample_rig):
    frames = sample_rig
    assert frames.shape == (202, rig.NUM_CONTROLS)
    _compare(frames, board)


def test_every_curve_the_table_drives_is_emitted():
    table_outputs = [r["output"] for r in _table("classic")]
    assert [name for name in dict.fromkeys(table_outputs) if name not in expression_names()] == []
    assert set(expression_names()) == set(table_outputs)


def test_mh4_leaves_only_its_new_controls_undriven():
    new_controls = ("tongue_bendTwist", "tongue_thickThin", "mouth_thicknessInward")
    missing = {r["output"] for r in _table("mh4")} - set(expression_names("mh4"))
    assert missing == set(undriven("mh4"))
    assert missing == {r["output"] for r in _table("mh4") if any(c in r["input"] for c in new_controls)}
    assert undriven("classic") == ()


def test_mh4_renamed_tongue_controls_drive_the_same_curves():
    for column in range(rig.NUM_CONTROLS):
        if column in (25, 26):  # tongue_roll: a slider on mh4, see below
            continue
        classic = sorted((lo, hi, s, c, out) for col, lo, hi, s, c, out in derivation("classic") if col == column)
        mh4 = sorted((lo, hi, s, c, out) for col, lo, hi, s, c, out in derivation("mh4") if col == column)
        assert classic == mh4, rig.controller_names()[column]
    assert [(col, out) for col, *_, out in derivation("mh4") if col in (25, 26)] == [
        (26, "CTRL_expressions_tongueRoll")]


def _curves(board: str = "classic", **controls: float) -> dict[str, float]:
    values = np.zeros(rig.NUM_CONTROLS, np.float32)
    for name, value in controls.items():
        values[board_inputs(board).index(name.replace("__", "-"))] = value
    out = board_to_expressions(values, board)
    return {n.removeprefix("CTRL_expressions_"): round(float(v), 5)
            for n, v in zip(expression_names(board), out) if abs(v) > 1e-6}


@pytest.mark.parametrize("control, value, expected", [
    # Epic's signs, from the wiring itself (issue 19's sign swaps).
    ("CTRL_C_jaw__translateX", 0.5, {"jawRight": 0.5}),
    ("CTRL_C_jaw__translateX", -0.5, {"jawLeft": 0.5}),
    ("CTRL_C_tongue_inOut__translateY", 0.5, {"tongueIn": 0.5}),
    ("CTRL_C_tongue_inOut__translateY", -0.5, {"tongueOut": 0.5}),
    ("CTRL_L_eye_eyelidU__translateY", -0.5, {"eyeUpperLidUpL": 0.5}),
    ("CTRL_L_eye_eyelidU__translateY", 0.5, {"eyeRelaxL": 0.5}),
    ("CTRL_R_eyelashes_tweakerOut__translateY", 0.5, {"eyelashesDownOUTR": 0.5}),
    ("CTRL_L_mouth_thicknessU__translateY", 0.5, {"mouthLipsThinUL": 0.5}),
    ("CTRL_L_mouth_thicknessD__translateY", -0.5, {"mouthLipsThickDL": 0.5}),
    ("CTRL_C_mouth__translateX", 0.5, {"mouthLeft": 0.5}),
    ("CTRL_C_eye__translateX", 0.5, {"eyeLookLeftL": 0.5, "eyeLookLeftR": 0.5}),
    ("CTRL_R_eye__translateY", -0.25, {"eyeLookDownR": 0.25}),
    # The phased sliders: neighbouring phases cross-fade.
    ("CTRL_L_mouth_lipSticky__translateY", 0.165, {"mouthLipsStickyLPh1": 0.5}),
    ("CTRL_L_mouth_lipSticky__translateY", 0.5, {"mouthLipsStickyLPh1": 0.48485, "mouthLipsStickyLPh2": 0.51515}),
    ("CTRL_C_neck_swallow__translateY", 0.9, {"neckSwallowPh4": 0.5}),
    # The two tongue_tip copies: the second is the tip, the first the roll.
    ("CTRL_C_tongue_tip__translateY", 0.5, {"tongueTipUp": 0.5}),
    ("CTRL_C_tongue_roll__translateX", -0.5, {"tongueRollRight": 0.5}),
    ("CTRL_neckCorrectivesMultiplyerU__translateY", 0.8, {}),
    ("CTRL_lookAtSwitch__translateY", 1.0, {}),
])
def test_single_control(control, value, expected):
    assert _curves(**{control: value}) == expected


def test_tongue_tip_columns_and_mh4_names():
    assert [board_inputs()[c] for c in (25, 26, 27, 28)] == [
        "CTRL_C_tongue_roll-translateX", "CTRL_C_tongue_roll-translateY",
        "CTRL_C_tongue_tip-translateX", "CTRL_C_tongue_tip-translateY"]
    assert _curves("mh4", CTRL_C_tongue_tipMove__translateY=0.5) == {"tongueTipUp": 0.5}
    assert _curves("mh4", CTRL_C_tongue_roll__translateY=0.5) == {"tongueRoll": 0.5}
    assert _curves("mh4", CTRL_C_tongue_roll__translateX=0.5) == {}


def test_sums_clip_to_one():
    got = _curves(CTRL_C_eye__translateY=0.8, CTRL_L_eye__translateY=0.8)
    assert got == {"eyeLookUpL": 1.0, "eyeLookUpR": 0.8}


def test_every_control_drives_a_curve_or_is_listed_and_names_well_formed():
    for board in FACE_BOARDS:
        driven = {board_inputs(board)[c] for c, *_ in derivation(board)}
        listed = {board_inputs(board)[rig.controller_names().index(n)] for n in UNMAPPED}
        assert driven | listed == set(board_inputs(board)) - ({"CTRL_C_tongue_roll-translateX"} if board == "mh4"
                                                              else set())
        names = expression_names(board)
        assert len(names) == len(set(names))
        assert all(re.fullmatch(r"CTRL_expressions_[a-z][A-Za-z0-9]+", n) for n in names)


def test_batch_shape_and_bad_input():
    frames = np.zeros((2, 3, rig.NUM_CONTROLS), np.float32)
    frames[1, 2, rig.controller_names().index("CTRL_C_jaw-translateY")] = 1.0
    out = board_to_expressions(frames)
    assert out.shape == (2, 3, len(expression_names())) and out.dtype == np.float32
    assert out.sum() == 1.0
    with pytest.raises(ValueError):
        board_to_expressions(np.zeros(10))
    with pytest.raises(ConfigError, match="unknown face board"):
        expression_names("mh5")
