"""Board -> CTRL_expressions derivation: the table's rule on chosen controls."""

from __future__ import annotations

import re

import numpy as np
import pytest

from medtalk_core import rig
from medtalk_core.expressions import UNMAPPED, board_to_expressions, derivation, expression_names


def _curves(**board: float) -> dict[str, float]:
    values = np.zeros(rig.NUM_CONTROLS, np.float32)
    names = rig.controller_names()
    for name, value in board.items():
        values[names.index(name.replace("__", "-"))] = value
    out = board_to_expressions(values)
    return {n: float(v) for n, v in zip(expression_names(), out) if v != 0.0}


@pytest.mark.parametrize("control, value, expected", [
    ("CTRL_C_jaw__translateY", 0.4, {"CTRL_expressions_jawOpen": 0.4}),
    ("CTRL_L_mouth_cornerPull__translateY", 0.7, {"CTRL_expressions_mouthCornerPullL": 0.7}),
    ("CTRL_R_brow_raiseOut__translateY", 0.25, {"CTRL_expressions_browRaiseOuterR": 0.25}),
    ("CTRL_L_eye_blink__translateY", 0.5, {"CTRL_expressions_eyeBlinkL": 0.5}),
    ("CTRL_L_eye_blink__translateY", -0.5, {"CTRL_expressions_eyeWidenL": 0.5}),
    ("CTRL_C_jaw_fwdBack__translateY", -0.5, {"CTRL_expressions_jawFwd": 0.5}),
    ("CTRL_R_mouth_purseU__translateY", 0.5, {"CTRL_expressions_mouthLipsPurseUR": 0.5}),
    ("CTRL_C_eye__translateX", 0.5, {"CTRL_expressions_eyeLookLeftL": 0.5, "CTRL_expressions_eyeLookLeftR": 0.5}),
    ("CTRL_C_neck_swallow__translateY", 0.9, {}),
])
def test_single_control(control, value, expected):
    got = _curves(**{control: value})
    assert got.keys() == expected.keys()
    for name, v in expected.items():
        assert got[name] == pytest.approx(v)


def test_sums_clip_to_one():
    got = _curves(CTRL_C_eye__translateY=0.8, CTRL_L_eye__translateY=0.8)
    assert got["CTRL_expressions_eyeLookUpL"] == 1.0
    assert got["CTRL_expressions_eyeLookUpR"] == pytest.approx(0.8)


def test_every_control_mapped_or_listed_and_names_well_formed():
    mapped = {rig.controller_names()[c] for c, _, _ in derivation()}
    assert mapped | UNMAPPED == set(rig.controller_names())
    names = expression_names()
    assert len(names) == len(set(names))
    assert all(re.fullmatch(r"CTRL_expressions_[a-z][A-Za-z]+", n) for n in names)


def test_batch_shape():
    frames = np.zeros((2, 3, rig.NUM_CONTROLS), np.float32)
    frames[1, 2, rig.controller_names().index("CTRL_C_jaw-translateY")] = 1.0
    out = board_to_expressions(frames)
    assert out.shape == (2, 3, len(expression_names()))
    assert out.sum() == 1.0
    with pytest.raises(ValueError):
        board_to_expressions(np.zeros(10))
