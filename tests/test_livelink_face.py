"""Live Link Face transport: packets decoded by a parser written here from Unreal's
AppleARKit Live Link source layout, received over real UDP; and the 174 -> ARKit mapping."""

from __future__ import annotations

import datetime
import struct

import numpy as np
import pytest

from livelink_bridge.frames import RigFrame
from medtalk_core.rotation_curves import GAZE_PITCH_DEG as EYE_PITCH_DEG, GAZE_YAW_DEG as EYE_YAW_DEG
from livelink_bridge.transports.livelink_face import (ARKIT_FROM_BOARD, ARKIT_NAMES,
                                                      LiveLinkFaceTransport, board_to_arkit)
from medtalk_core.rig import controller_names
from udp_receivers import RawCollector, wait_for

NAMES = controller_names()


def decode(packet: bytes) -> dict:
    """FAppleARKitLiveLinkRemoteListener's reading order, big-endian (FNboSerializeFromBuffer)."""
    pos = 0

    def take(fmt: str):
        nonlocal pos
        size = struct.calcsize(fmt)
        value = struct.unpack_from(fmt, packet, pos)
        pos += size
        return value

    def string() -> str:
        nonlocal pos
        (n,) = take(">i")
        text = packet[pos:pos + n].decode("utf-8")
        pos += n
        return text

    (version,) = take(">B")
    device_id = string()
    subject = string()
    frame, sub, num, den = take(">ifii")
    (count,) = take(">B")
    values = np.array(take(f">{count}f"), np.float32)
    assert pos == len(packet), "no trailing bytes"
    return {"version": version, "device_id": device_id, "subject": subject, "frame": frame, "sub": sub,
            "rate": (num, den), "count": count, "values": values}


def _frame(index: int, **controls: float) -> RigFrame:
    values = np.zeros(174, np.float32)
    for name, v in controls.items():
        values[NAMES.index(name)] = v
    return RigFrame(index, 1_700_000_000.0 + index / 60, values)


def test_packets_over_udp_decode_with_the_unreal_layout():
    rx = RawCollector()
    try:
        with LiveLinkFaceTransport("127.0.0.1", rx.port, subject="Ada", device_id="medtalk-test") as tx:
            frames = [_frame(i, **{"CTRL_C_jaw-translateY": i / 10}) for i in range(10)]
            for f in frames:
                tx.send_frame(f)
            assert wait_for(lambda: len(rx.packets) == 10, timeout=5)
    finally:
        rx.close()
    decoded = [decode(p) for _, p in rx.packets]
    for f, d in zip(frames, decoded):
        assert d["version"] == 6 and d["count"] == 61 and d["rate"] == (60, 1)
        assert d["subject"] == "Ada" and d["device_id"] == "medtalk-test"
        assert np.allclose(d["values"], board_to_arkit(f.values))
        assert np.all((d["values"][:52] >= 0) & (d["values"][:52] <= 1))
        moment = datetime.datetime.fromtimestamp(f.capture_time)
        seconds = moment.hour * 3600 + moment.minute * 60 + moment.second + moment.microsecond / 1e6
        assert d["frame"] + d["sub"] == pytest.approx(seconds * 60, abs=1e-3)
        assert 0 <= d["sub"] < 1
    jaw = [d["values"][ARKIT_NAMES.index("JawOpen")] for d in decoded]
    assert np.allclose(jaw, [i / 10 for i in range(10)], atol=1e-6)


def test_mapping_table_names_real_controls_and_covers_every_shape():
    assert len(ARKIT_NAMES) == 61 and set(ARKIT_FROM_BOARD) == set(ARKIT_NAMES[:52])
    for shape, terms in ARKIT_FROM_BOARD.items():
        for control, side, weight in terms:
            name = "CTRL_" + control if control.endswith("-translateX") else f"CTRL_{control}-translateY"
            assert name in NAMES, f"{shape}: unknown control {name}"
            assert side in "+-" and weight > 0


@pytest.mark.parametrize("control,value,shape", [
    ("CTRL_L_eye_blink-translateY", 1.0, "EyeBlinkLeft"),
    ("CTRL_R_eye_blink-translateY", -0.8, "EyeWideRight"),
    ("CTRL_L_mouth_cornerPull-translateY", 0.7, "MouthSmileLeft"),
    ("CTRL_R_mouth_cornerDepress-translateY", 0.6, "MouthFrownRight"),
    ("CTRL_L_brow_raiseOut-translateY", 0.9, "BrowOuterUpLeft"),
    ("CTRL_C_tongue_inOut-translateY", -0.5, "TongueOut"),
    ("CTRL_C_jaw-translateX", -0.5, "JawLeft"),
    ("CTRL_C_jaw-translateX", 0.5, "JawRight"),
    ("CTRL_L_eye_eyelidU-translateY", -0.6, "EyeWideLeft"),
])
def test_single_controls_drive_the_expected_shape(control, value, shape):
    out = board_to_arkit(_frame(0, **{control: value}).values)
    i = ARKIT_NAMES.index(shape)
    assert out[i] == pytest.approx(abs(value))
    others = np.delete(out[:52], i)
    assert others.max() < abs(value)


# ARKit shapes and the MetaHuman curve each is (Epic's wiring gives the board's signs).
_COUNTERPARTS = [
    ("JawLeft", "jawLeft"), ("JawRight", "jawRight"), ("JawForward", "jawFwd"), ("JawOpen", "jawOpen"),
    ("TongueOut", "tongueOut"), ("MouthLeft", "mouthLeft"), ("MouthRight", "mouthRight"),
    ("EyeBlinkLeft", "eyeBlinkL"), ("EyeWideLeft", "eyeWidenL"), ("EyeWideLeft", "eyeUpperLidUpL"),
    ("EyeWideRight", "eyeUpperLidUpR"), ("EyeLookUpLeft", "eyeLookUpL"), ("EyeLookDownRight", "eyeLookDownR"),
    ("EyeLookOutLeft", "eyeLookLeftL"), ("EyeLookInLeft", "eyeLookRightL"),
    ("EyeLookOutRight", "eyeLookRightR"), ("EyeLookInRight", "eyeLookLeftR"),
    ("CheekPuff", "mouthCheekBlowL"), ("MouthRollLower", "mouthLowerLipRollInL"),
    ("MouthRollUpper", "mouthUpperLipRollInR"), ("MouthSmileLeft", "mouthCornerPullL"),
]


@pytest.mark.parametrize("shape,curve", _COUNTERPARTS)
def test_arkit_shapes_fire_with_their_metahuman_curve(shape, curve):
    """Each control, alone at -0.5 and +0.5: where Epic's wiring drives the curve, ARKit's shape moves."""
    from medtalk_core.expressions import board_to_expressions, expression_names

    frames = np.zeros((2 * len(NAMES), len(NAMES)), np.float32)
    for column in range(len(NAMES)):
        frames[2 * column, column], frames[2 * column + 1, column] = -0.5, 0.5
    metahuman = board_to_expressions(frames)[:, expression_names().index("CTRL_expressions_" + curve)]
    arkit = np.array([board_to_arkit(f)[ARKIT_NAMES.index(shape)] for f in frames])
    assert metahuman.max() > 0
    assert np.all(arkit[metahuman > 0] > 0), [NAMES[i // 2] for i in np.flatnonzero((metahuman > 0) & (arkit == 0))]


def test_gaze_becomes_eye_rotation_and_head_stays_still():
    out = board_to_arkit(_frame(0, **{"CTRL_C_eye-translateX": 0.5, "CTRL_C_eye-translateY": 0.5}).values)
    assert out[ARKIT_NAMES.index("LeftEyeYaw")] > 0 and out[ARKIT_NAMES.index("RightEyeYaw")] > 0
    assert out[ARKIT_NAMES.index("LeftEyePitch")] < 0  # looking up
    assert np.all(out[52:55] == 0)
    assert out[ARKIT_NAMES.index("EyeLookUpLeft")] == pytest.approx(0.5)
    assert out[ARKIT_NAMES.index("EyeLookOutLeft")] == pytest.approx(0.5)
    assert out[ARKIT_NAMES.index("EyeLookInRight")] == pytest.approx(0.5)


def test_eye_rotations_are_degrees_over_180_as_the_engine_sends():
    """Unreal's ARKit conversion sends each angle as degrees / 180 (-1..1), not radians."""
    full = board_to_arkit(_frame(0, **{"CTRL_C_eye-translateX": 1.0, "CTRL_C_eye-translateY": -1.0}).values)
    assert full[ARKIT_NAMES.index("LeftEyeYaw")] == pytest.approx(EYE_YAW_DEG / 180)
    assert full[ARKIT_NAMES.index("RightEyeYaw")] == pytest.approx(EYE_YAW_DEG / 180)
    assert full[ARKIT_NAMES.index("LeftEyePitch")] == pytest.approx(EYE_PITCH_DEG / 180)  # looking down
    half = board_to_arkit(_frame(0, **{"CTRL_C_eye-translateX": 0.5}).values)
    assert half[ARKIT_NAMES.index("LeftEyeYaw")] * 180 == pytest.approx(EYE_YAW_DEG / 2)
    saturated = board_to_arkit(_frame(0, **{"CTRL_C_eye-translateX": 1.0, "CTRL_L_eye-translateX": 1.0}).values)
    assert np.all(np.abs(saturated[52:]) <= 1) and saturated[ARKIT_NAMES.index("LeftEyeYaw")] * 180 == pytest.approx(EYE_YAW_DEG)


def test_each_transport_has_its_own_device_id_unless_given():
    """Unreal keys static data by device id: two daemons with one id would swap subjects."""
    rx = RawCollector()
    try:
        with LiveLinkFaceTransport("127.0.0.1", rx.port, subject="Ada") as ada, \
                LiveLinkFaceTransport("127.0.0.1", rx.port, subject="Bob") as bob, \
                LiveLinkFaceTransport("127.0.0.1", rx.port, subject="Cy", device_id="stage-left") as cy:
            for tx in (ada, bob, cy):
                tx.send_frame(_frame(0))
            assert wait_for(lambda: len(rx.packets) == 3, timeout=5)
    finally:
        rx.close()
    ids = {decode(p)["subject"]: decode(p)["device_id"] for _, p in rx.packets}
    assert ids["Cy"] == "stage-left"
    assert ids["Ada"] != ids["Bob"] and ids["Ada"].startswith("medtalk-") and len(ids["Ada"]) == len("medtalk-") + 36
    assert LiveLinkFaceTransport(subject="Ada").device_id != LiveLinkFaceTransport(subject="Ada").device_id


def test_head_and_eye_motion_fill_the_rotations_in_unreal_order_and_units():
    values = _frame(0, **{"CTRL_C_eye-translateX": 0.3}).values
    head_eyes = np.array([9.0, 4.5, -1.8, 3.6, 1.8, 0.7], np.float32)  # degrees (medtalk_core.head_eyes)
    plain, moved = board_to_arkit(values), board_to_arkit(values, head_eyes)
    assert np.array_equal(moved[:52], plain[:52])  # blendshapes untouched (blinks come from the face)
    assert np.allclose(moved[52:55], [9.0 / 180, -4.5 / 180, -1.8 / 180])  # head: yaw, pitch (up < 0), roll
    for base in (55, 58):  # both eyes: the gaze controls' rotation plus the saccades'
        assert moved[base] == pytest.approx(plain[base] + 3.6 / 180)
        assert moved[base + 1] == pytest.approx(plain[base + 1] - 1.8 / 180)
    assert np.all(plain[52:55] == 0)


def test_a_stand_in_frame_keeps_the_last_head_pose():
    rx = RawCollector()
    try:
        with LiveLinkFaceTransport("127.0.0.1", rx.port, device_id="medtalk-test") as tx:
            pose = np.array([6.0, 3.0, 1.0, 0.0, 0.0, 0.0], np.float32)
            tx.send_frame(RigFrame(0, 1_700_000_000.0, np.zeros(174, np.float32), head_eyes=pose))
            tx.send_frame(RigFrame(1, 1_700_000_000.0 + 1 / 60, np.zeros(174, np.float32)))  # provisional
            assert wait_for(lambda: len(rx.packets) == 2, timeout=5)
    finally:
        rx.close()
    first, second = (decode(p)["values"] for _, p in rx.packets)
    assert np.allclose(first[52:55], [6 / 180, -3 / 180, 1 / 180]) and np.array_equal(first[52:55], second[52:55])
