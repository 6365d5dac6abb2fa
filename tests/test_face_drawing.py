"""The 2-D face drawing: deterministic, and the picture follows the controllers."""

from __future__ import annotations

import numpy as np
import pytest

from medtalk_core import face_drawing as fd
from medtalk_core import rig

NAMES = {name: i for i, name in reversed(list(enumerate(rig.controller_names())))}
JAW = NAMES["CTRL_C_jaw-translateY"]


def frame(**values: float) -> np.ndarray:
    """A neutral frame with some controllers set: frame(C_jaw=0.5) sets CTRL_C_jaw-translateY."""
    out = np.zeros(rig.NUM_CONTROLS, np.float32)
    for short, value in values.items():
        name = f"CTRL_{short}" if "-" in short else f"CTRL_{short}-translateY"
        out[NAMES[name]] = value
    return out


def drawn_mouth_opening(image: np.ndarray) -> int:
    """Pixels of mouth inside or teeth in the centre column, below the nose."""
    size = image.shape[0]
    column = image[int(0.6 * size):, size // 2].astype(np.int32)  # (rows, 3)
    inside = np.abs(column - np.array(fd.PALETTE["mouth_inside"])).sum(axis=1) < 60
    teeth = np.abs(column - np.array(fd.PALETTE["teeth"])).sum(axis=1) < 60
    return int((inside | teeth).sum())


def test_shape_dtype_and_determinism(sample_rig: np.ndarray) -> None:
    a = fd.draw_face(sample_rig[50], size=128)
    b = fd.draw_face(sample_rig[50].copy(), size=128)
    assert a.shape == (128, 128, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b)
    assert fd.draw_face(sample_rig[50], size=224).shape == (224, 224, 3)
    batch = fd.draw_faces(sample_rig[:5], size=64)
    assert batch.shape == (5, 64, 64, 3)
    assert np.array_equal(batch[0], fd.draw_face(sample_rig[0], size=64))
    # Different frames give different pictures.
    assert not np.array_equal(fd.draw_face(sample_rig[0]), fd.draw_face(sample_rig[100]))


@pytest.mark.parametrize("base", ["neutral", "sample"])
def test_mouth_opening_follows_jaw(base: str, sample_rig: np.ndarray) -> None:
    start = np.zeros(rig.NUM_CONTROLS, np.float32) if base == "neutral" else sample_rig[80].copy()
    jaws = np.linspace(0.0, 1.0, 6)
    geometric, drawn = [], []
    for jaw in jaws:
        f = start.copy()
        f[JAW] = jaw
        geometric.append(fd.face_geometry(f, size=128)["mouth_opening_px"])
        drawn.append(drawn_mouth_opening(fd.draw_face(f, size=128)))
    assert np.all(np.diff(geometric) > 1.0), geometric  # strictly opening, more than a pixel a step
    assert np.all(np.diff(drawn) > 0), drawn
    assert geometric[-1] - geometric[0] > 0.1 * 128
    # The picture agrees with the geometry to within the antialiased edge pixels.
    for g, d in zip(geometric[1:], drawn[1:]):
        assert abs(g - d) <= 3, (geometric, drawn)


def test_closed_mouth_shows_no_inside() -> None:
    assert fd.face_geometry(frame(), size=128)["mouth_opening_px"] < 0.5
    assert drawn_mouth_opening(fd.draw_face(frame(), size=128)) <= 1


def test_blink_closes_the_eyes_and_hides_the_iris() -> None:
    size = 128
    open_geo = fd.face_geometry(frame(), size)
    shut = frame(**{"L_eye_blink": 1.0, "R_eye_blink": 1.0})
    shut_geo = fd.face_geometry(shut, size)
    assert open_geo["eye_opening_px"]["L"] > 5
    assert shut_geo["eye_opening_px"]["L"] == pytest.approx(0.0, abs=0.6)
    wide = fd.face_geometry(frame(**{"L_eye_blink": -1.0}), size)
    assert wide["eye_opening_px"]["L"] > open_geo["eye_opening_px"]["L"] + 2
    iris_pixels = lambda img: int((np.abs(img.astype(np.int32) - np.array(fd.PALETTE["iris"])).sum(axis=2) < 30).sum())
    assert iris_pixels(fd.draw_face(frame(), size)) > 20
    assert iris_pixels(fd.draw_face(shut, size)) == 0


def test_gaze_brows_and_smile_move_their_parts() -> None:
    size = 128
    rest = fd.face_geometry(frame(), size)
    right = fd.face_geometry(frame(**{"L_eye-translateX": 1.0, "C_eye-translateX": 0.0}), size)
    assert right["eyes"]["L"]["iris_center"][0] > rest["eyes"]["L"]["iris_center"][0] + 3
    assert right["eyes"]["R"]["iris_center"][0] == pytest.approx(rest["eyes"]["R"]["iris_center"][0])
    raised = fd.face_geometry(frame(L_brow_raiseIn=1.0, L_brow_raiseOut=1.0), size)
    assert raised["brow_height_px"]["L"] < rest["brow_height_px"]["L"] - 3  # up = smaller y
    assert raised["brow_height_px"]["R"] == pytest.approx(rest["brow_height_px"]["R"])
    smile = fd.face_geometry(frame(L_mouth_cornerPull=1.0, R_mouth_cornerPull=1.0), size)
    assert smile["mouth"]["corner_L"][1] < rest["mouth"]["corner_L"][1] - 2
    assert smile["mouth_width_px"] > rest["mouth_width_px"]
    pucker = fd.face_geometry(frame(L_mouth_purseU=1.0, R_mouth_purseU=1.0, L_mouth_purseD=1.0,
                                    R_mouth_purseD=1.0), size)
    assert pucker["mouth_width_px"] < rest["mouth_width_px"] - 5


def test_out_of_range_values_are_clamped_and_bad_shapes_rejected() -> None:
    wild = frame(C_jaw=50.0)
    assert fd.face_geometry(wild)["mouth_opening_px"] == pytest.approx(
        fd.face_geometry(frame(C_jaw=1.0))["mouth_opening_px"])
    with pytest.raises(ValueError):
        fd.draw_face(np.zeros(173, np.float32))
    with pytest.raises(ValueError):
        fd.draw_faces(np.zeros((3, 170), np.float32))


def _rotations(yaw: float = 0.0, pitch: float = 0.0, roll: float = 0.0, eye_yaw: float = 0.0) -> np.ndarray:
    """(9,) rotation curves of a still face with this head and eye motion (degrees)."""
    from medtalk_core.rotation_curves import rotation_curves

    return rotation_curves(np.zeros((1, rig.NUM_CONTROLS), np.float32),
                           np.array([[yaw, pitch, roll, eye_yaw, 0.0, 0.0]], np.float32))[0]


def test_the_head_turns_and_the_eyes_look_where_the_rotation_curves_say() -> None:
    still = np.zeros(rig.NUM_CONTROLS, np.float32)
    front = fd.face_geometry(still, 128)
    assert fd.face_geometry(still, 128, _rotations())["eyes"]["L"]["center"] == pytest.approx(front["eyes"]["L"]["center"])
    left = fd.face_geometry(still, 128, _rotations(yaw=20.0))  # toward the character's left: the viewer's right
    shift = left["eyes"]["L"]["center"][0] - front["eyes"]["L"]["center"][0]
    assert shift > 0.05 * 128
    assert left["nose"]["tip"][0] - front["nose"]["tip"][0] > shift  # the nose stands out: it slides more
    assert left["ears_x"]["L"] < front["ears_x"]["L"]  # the ears sit behind: they slide the other way
    up = fd.face_geometry(still, 128, _rotations(pitch=15.0))
    assert up["mouth"]["upper_inner_y"] < front["mouth"]["upper_inner_y"] - 0.05 * 128
    glance = fd.face_geometry(still, 128, _rotations(eye_yaw=10.0))  # the eyes alone
    assert glance["eyes"]["L"]["iris_center"][0] > front["eyes"]["L"]["iris_center"][0] + 1.0
    assert glance["eyes"]["L"]["center"] == pytest.approx(front["eyes"]["L"]["center"])
    tilted = fd.draw_face(still, 128, rotations=_rotations(roll=15.0))
    plain = fd.draw_face(still, 128)
    assert tilted.shape == plain.shape and np.abs(tilted.astype(int) - plain).mean() > 2.0
    # Toward the character's left shoulder (the viewer's right): the iris on the viewer's right sits lower.
    iris = np.all(np.abs(tilted.astype(int) - fd.PALETTE["iris"]) < 30, axis=-1)  # (128, 128)
    rows, cols = np.nonzero(iris)
    assert rows[cols > 64].mean() > rows[cols < 64].mean() + 3
    rolled = fd.face_geometry(still, 128, _rotations(roll=15.0))
    assert rolled["roll_deg"] == pytest.approx(15.0, abs=1e-3)
