"""The CSV parsing of the Unreal import script (unreal_plugin/editor_scripts/medtalk_csv.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from livelink_bridge.offline import writers
from medtalk_core import rig
from script_modules import load_script

SCRIPT_DIR = Path(__file__).resolve().parents[1] / "unreal_plugin" / "editor_scripts"


@pytest.fixture(scope="module")
def medtalk_csv():
    return load_script(SCRIPT_DIR / "medtalk_csv.py")


def test_reads_a_baked_board_csv(tmp_path: Path, medtalk_csv) -> None:
    take = np.random.default_rng(1).uniform(-1, 1, (37, rig.NUM_CONTROLS)).astype(np.float32)
    path = tmp_path / "line.csv"
    writers.get_writer("csv").write(path, take, fps=30)
    baked = medtalk_csv.read_baked_csv(path)
    assert baked.fps == 30 and baked.num_frames == 37 and baked.kind == "board"
    assert baked.duplicates == ["CTRL_C_tongue_tip-translateX", "CTRL_C_tongue_tip-translateY"]
    assert len(baked.curves) == rig.NUM_CONTROLS - 2
    jaw = rig.controller_names().index("CTRL_C_jaw-translateY")
    assert np.allclose(baked.curves["CTRL_C_jaw-translateY"], take[:, jaw], atol=1e-6)
    assert np.allclose(baked.times, np.arange(37) / 30, atol=1e-6)
    controls = medtalk_csv.board_controls(list(baked.curves))
    assert controls["CTRL_C_jaw"] == {"X": "CTRL_C_jaw-translateX", "Y": "CTRL_C_jaw-translateY"}
    assert controls["CTRL_L_mouth_cornerPull"] == {"Y": "CTRL_L_mouth_cornerPull-translateY"}


def test_expressions_csv_kind(tmp_path: Path, medtalk_csv) -> None:
    from medtalk_core.expressions import expression_names

    path = tmp_path / "expr.csv"
    with writers.OutputSet({"csv": path}, fps=60, curves="expressions") as out:
        out.push(np.zeros((5, rig.NUM_CONTROLS), np.float32))
    baked = medtalk_csv.read_baked_csv(path)
    assert baked.kind == "expressions" and list(baked.curves) == list(expression_names())
    assert baked.fps == 60 and not baked.duplicates


def test_key_reduction_stays_within_tolerance(medtalk_csv) -> None:
    times = [i / 60 for i in range(200)]
    ramp = [0.5 * t for t in times]
    assert medtalk_csv.reduce_keys(times, ramp, 1e-6) == [(times[0], ramp[0]), (times[-1], ramp[-1])]
    long_still = medtalk_csv.reduce_keys([i / 60 for i in range(1000)], [0.0] * 1000, 1e-6)
    assert [round(t * 60) for t, _ in long_still] == [0, 240, 480, 720, 960, 999]
    wiggly = list(np.sin(np.arange(200) / 7.0) * np.linspace(0, 1, 200))
    keys = medtalk_csv.reduce_keys(times, wiggly, 1e-3)
    assert 2 < len(keys) < 200
    kt, kv = zip(*keys)
    assert np.abs(np.interp(times, kt, kv) - np.array(wiggly)).max() <= 1e-3 + 1e-12
    assert medtalk_csv.reduce_keys(times, wiggly, 0.0) == list(zip(times, wiggly))


def test_bad_files_are_rejected(tmp_path: Path, medtalk_csv) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("frame,a\n0,1\n")
    with pytest.raises(medtalk_csv.BakedCsvError, match="time"):
        medtalk_csv.read_baked_csv(bad)
    bad.write_text("time,a,b\n0,1,2\n0.1,1\n")
    with pytest.raises(medtalk_csv.BakedCsvError, match="line 3"):
        medtalk_csv.read_baked_csv(bad)
    bad.write_text("time,a\n")
    with pytest.raises(medtalk_csv.BakedCsvError, match="no frames"):
        medtalk_csv.read_baked_csv(bad)
    with pytest.raises(medtalk_csv.BakedCsvError, match="not a face-board"):
        medtalk_csv.board_controls(["CTRL_expressions_jawOpen"])


def test_editor_script_has_no_stray_imports() -> None:
    source = (SCRIPT_DIR / "import_medtalk_csv.py").read_text()
    compile(source, "import_medtalk_csv.py", "exec")
    assert "import numpy" not in source and "import numpy" not in (SCRIPT_DIR / "medtalk_csv.py").read_text()


class _FakeUnreal:
    """Just enough of the editor's `unreal` module to run import_csv's control flow: records the
    undo bracket and saves; cancels after `cancel_after` curves, raises on curve `fail_on`."""

    def __init__(self, cancel_after: int | None = None, fail_on: int | None = None,
                 bones: tuple[str, ...] = ("root", "neck_02", "head"), rest=(0.0, 0.0, 0.0, 1.0)) -> None:
        self.calls: list[str] = []
        self.curves: list[str] = []  # float curves added, in order
        self.bone_keys: dict[str, tuple] = {}  # bone -> (positions, rotations, scales)
        self.warnings: list[str] = []
        fake = self
        added = []

        class Controller:
            def open_bracket(self, *_): fake.calls.append("open")
            def close_bracket(self, *_): fake.calls.append("close")
            def set_frame_rate(self, *_): pass
            def set_number_of_frames(self, *_): pass
            def add_bone_curve(self, bone, *_): fake.calls.append(f"bone {bone}")
            def set_bone_track_keys(self, bone, positions, rotations, scales, *_):
                fake.bone_keys[bone] = (positions, rotations, scales)

        class Anim:
            def get_editor_property(self, _): return Controller()
            def get_path_name(self): return "/Game/MEDTalk/line"

        class Task:
            def __init__(self, *_): pass
            def __enter__(self): return self
            def __exit__(self, *_): return False
            def make_dialog(self, *_): pass
            def should_cancel(self): return cancel_after is not None and len(added) >= cancel_after
            def enter_progress_frame(self, *_): pass

        class AnimationLibrary:
            @staticmethod
            def add_curve(_anim, name, *_):
                if fail_on is not None and len(added) == fail_on:
                    raise RuntimeError("add_curve failed")
                added.append(1)
                fake.curves.append(name)

            @staticmethod
            def add_float_curve_keys(*_): pass

        class Tools:
            def create_asset(self, *_): return Anim()

        self.Text = self.FrameRate = self.FrameNumber = lambda *a: a
        self.AnimSequenceFactory = type("F", (), {"set_editor_property": lambda *_: None})
        self.AssetToolsHelpers = type("H", (), {"get_asset_tools": staticmethod(lambda: Tools())})
        self.AnimSequence = object
        self.ScopedSlowTask = Task
        self.AnimationLibrary = AnimationLibrary
        self.RawCurveTrackTypes = type("R", (), {"RCT_FLOAT": 0})
        self.EditorAssetLibrary = type("E", (), {"save_loaded_asset": staticmethod(lambda _: fake.calls.append("save"))})
        self.load_asset = lambda _: object()
        self.log = lambda _: None
        self.log_warning = self.warnings.append
        Quat = type("Quat", (), {"__init__": lambda q, x, y, z, w: q.__dict__.update(x=x, y=y, z=z, w=w)})
        self.Quat = Quat
        transform = type("Transform", (), {"rotation": Quat(*rest), "translation": (0.0, 0.0, 5.0),
                                            "scale3d": (1.0, 1.0, 1.0)})()
        self.AnimPoseSpaces = type("S", (), {"LOCAL": "local"})
        self.AnimPoseExtensions = type("P", (), {
            "get_reference_pose": staticmethod(lambda _skeleton: "pose"),
            "get_bone_names": staticmethod(lambda _pose: list(bones)),
            "get_ref_bone_pose": staticmethod(lambda _pose, _bone, _space: transform)})


def _run_import(tmp_path: Path, monkeypatch, fake: _FakeUnreal, medtalk_csv, head_eyes: np.ndarray | None = None,
                **options) -> None:
    """Import a 5-frame take; a version 2 take (with rotation curves) when `head_eyes` is given."""
    take = np.random.default_rng(2).uniform(-1, 1, (5, rig.NUM_CONTROLS)).astype(np.float32)
    path = tmp_path / "line.csv"
    with writers.OutputSet({"csv": path}, fps=60, rotations=head_eyes is not None) as out:
        out.push(take, head_eyes)
    monkeypatch.setitem(sys.modules, "unreal", fake)
    module = load_script(SCRIPT_DIR / "import_medtalk_csv.py")  # run afresh against this fake `unreal`
    module.import_csv(str(path), "/Game/Skeleton", "/Game/MEDTalk", None, 0.0, **options)


def test_editor_script_saves_a_complete_import_only(tmp_path, monkeypatch, medtalk_csv) -> None:
    done = _FakeUnreal()
    _run_import(tmp_path, monkeypatch, done, medtalk_csv)
    assert done.calls == ["open", "close", "save"]
    cancelled = _FakeUnreal(cancel_after=3)
    _run_import(tmp_path, monkeypatch, cancelled, medtalk_csv)
    assert cancelled.calls == ["open", "close"]  # bracket closed, nothing saved
    failing = _FakeUnreal(fail_on=2)
    with pytest.raises(RuntimeError, match="add_curve failed"):
        _run_import(tmp_path, monkeypatch, failing, medtalk_csv)
    assert failing.calls == ["open", "close"]


def test_rotation_names_match_the_library(medtalk_csv) -> None:
    from medtalk_core.rotation_curves import ROTATION_NAMES, ROTATION_UNIT_DEG

    assert medtalk_csv.ROTATION_NAMES == ROTATION_NAMES and medtalk_csv.ROTATION_UNIT_DEG == ROTATION_UNIT_DEG


def _yaw_pitch_roll(frames: int) -> np.ndarray:
    """(frames, 6) head_eyes: yaw 0, 10, 20 ..., pitch 5 (up), roll -3, eyes still."""
    motion = np.zeros((frames, 6), np.float32)
    motion[:, 0], motion[:, 1], motion[:, 2] = 10.0 * np.arange(frames), 5.0, -3.0
    return motion


def test_a_version_2_take_splits_face_and_rotation_curves(tmp_path: Path, medtalk_csv) -> None:
    path = tmp_path / "v2.csv"
    with writers.OutputSet({"csv": path}, fps=60, curves="expressions", rotations=True) as out:
        out.push(np.zeros((4, rig.NUM_CONTROLS), np.float32), _yaw_pitch_roll(4))
    baked = medtalk_csv.read_baked_csv(path)
    assert baked.version == 2 and baked.kind == "expressions"  # the rotations do not make it a board take
    assert list(baked.rotations) == list(medtalk_csv.ROTATION_NAMES)
    assert np.allclose(np.array(baked.rotations["HeadYaw"]) * 180, [0, 10, 20, 30], atol=1e-3)
    assert np.allclose(np.array(baked.rotations["HeadPitch"]) * 180, -5, atol=1e-3)  # up is negative pitch
    old = tmp_path / "v1.csv"
    writers.get_writer("csv").write(old, np.zeros((3, rig.NUM_CONTROLS), np.float32))
    assert medtalk_csv.read_baked_csv(old).version == 1
    with pytest.raises(medtalk_csv.BakedCsvError, match="has no head rotation"):
        medtalk_csv.head_bone_rotations(medtalk_csv.read_baked_csv(old), (0, 0, 0, 1), medtalk_csv.parse_head_axes("yaw=X,pitch=Z,roll=Y"))


def _rotate(q, v):
    """Rotate vector v by quaternion q = (x, y, z, w)."""
    x, y, z, w = q
    u = np.array([x, y, z])
    v = np.asarray(v, dtype=np.float64)
    return v + 2.0 * np.cross(u, np.cross(u, v) + w * v)


def test_head_bone_rotation_turns_about_the_named_axes(medtalk_csv) -> None:
    take = medtalk_csv.BakedCurves(60.0, [0.0], {}, rotations={n: [0.0] for n in medtalk_csv.ROTATION_NAMES})
    take.rotations["HeadYaw"] = [90.0 / 180]
    (q,) = medtalk_csv.head_bone_rotations(take, (0.0, 0.0, 0.0, 1.0), medtalk_csv.parse_head_axes("yaw=Z,pitch=Y,roll=X"))
    assert np.allclose(_rotate(q, [1, 0, 0]), [0, 1, 0], atol=1e-9)  # 90 degrees about +Z
    (flipped,) = medtalk_csv.head_bone_rotations(take, (0, 0, 0, 1), medtalk_csv.parse_head_axes("yaw=-Z,pitch=Y,roll=X"))
    assert np.allclose(_rotate(flipped, [1, 0, 0]), [0, -1, 0], atol=1e-9)
    take.rotations["HeadYaw"], take.rotations["HeadPitch"] = [0.0], [-30.0 / 180]  # 30 degrees up
    rest = (np.sin(np.pi / 4), 0.0, 0.0, np.cos(np.pi / 4))  # the bone's reference: 90 degrees about X
    (q,) = medtalk_csv.head_bone_rotations(take, rest, medtalk_csv.parse_head_axes("yaw=Z,pitch=Y,roll=X"))
    # The turn is in the bone's own frame: first 30 degrees about the bone's Y, then the rest pose.
    expected = _rotate(rest, _rotate((0.0, np.sin(np.radians(15)), 0.0, np.cos(np.radians(15))), [1, 0, 0]))
    assert np.allclose(_rotate(q, [1, 0, 0]), expected, atol=1e-9)
    for bad in ("yaw=X,pitch=X,roll=Y", "yaw=X,pitch=Z", "yaw=W,pitch=Z,roll=Y", "nod=X,pitch=Z,roll=Y"):
        with pytest.raises(ValueError, match="head-axes"):
            medtalk_csv.parse_head_axes(bad)


def test_editor_script_imports_rotation_curves_and_keys_the_head(tmp_path, monkeypatch, medtalk_csv) -> None:
    fake = _FakeUnreal()
    _run_import(tmp_path, monkeypatch, fake, medtalk_csv, head_eyes=_yaw_pitch_roll(5))
    assert fake.calls == ["open", "bone head", "close", "save"]
    assert fake.curves[-9:] == list(medtalk_csv.ROTATION_NAMES)  # the curves an Anim Blueprint reads
    positions, rotations, scales = fake.bone_keys["head"]
    assert len(positions) == len(rotations) == len(scales) == 5  # one key per frame
    axes = medtalk_csv.parse_head_axes(medtalk_csv.DEFAULT_HEAD_AXES)
    yaw_axis, yaw_sign = axes["yaw"]
    last = (rotations[-1].x, rotations[-1].y, rotations[-1].z, rotations[-1].w)
    # frame 4: yaw 40 about the yaw axis, pitch 5, roll -3: mostly the yaw
    angle = 2 * np.degrees(np.arccos(np.clip(abs(last[3]), 0, 1)))
    assert 40 < angle < 41 and yaw_sign * last[yaw_axis] > 0.3
    no_head = _FakeUnreal(bones=("root", "spine"))
    _run_import(tmp_path, monkeypatch, no_head, medtalk_csv, head_eyes=_yaw_pitch_roll(5))
    assert no_head.calls == ["open", "close", "save"] and "no bone 'head'" in no_head.warnings[0]
    skipped = _FakeUnreal()
    _run_import(tmp_path, monkeypatch, skipped, medtalk_csv, head_eyes=_yaw_pitch_roll(5), head_bone="")
    assert skipped.calls == ["open", "close", "save"] and skipped.curves[-1] == "RightEyeRoll"
