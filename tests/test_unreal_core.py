"""The Unreal plugin's portable C++ core: CTest under sanitizers, and a cross-test in which
the real Python OscFrameTransport sends a file's frames to the C++ receiver built from it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from livelink_bridge.frames import RigFrame
from livelink_bridge.transports.livelink_face import frame_time
from livelink_bridge.transports.osc_frames import OscFrameTransport
from medtalk_core.curve_sets import board_curve_names, curve_names, to_curves
from medtalk_core.expressions import board_to_expressions, expression_names

REPO = Path(__file__).resolve().parents[1]
SOURCE_DIR = REPO / "unreal_plugin" / "core_tests"
BUILD_DIR = REPO / "unreal_plugin" / "build"  # gitignored; kept between runs so rebuilds are incremental


@pytest.fixture(scope="session")
def core_build() -> Path:
    missing = [tool for tool in ("cmake", "ctest", "g++") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (.ci/run installs cmake and g++)")
    subprocess.run(["cmake", "-S", str(SOURCE_DIR), "-B", str(BUILD_DIR), "-DCMAKE_BUILD_TYPE=Debug",
                    "-DMEDTALK_SANITIZE=ON"], check=True, capture_output=True, text=True)
    build = subprocess.run(["cmake", "--build", str(BUILD_DIR), "-j2"], capture_output=True, text=True)
    assert build.returncode == 0, build.stdout + build.stderr
    return BUILD_DIR


def test_ctest_passes_under_sanitizers(core_build):
    result = subprocess.run(["ctest", "--test-dir", str(core_build), "--output-on-failure"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "100% tests passed" in result.stdout
    assert "out of 19" in result.stdout


def _start_dump(build: Path, subject: str | None, frames: int) -> tuple[subprocess.Popen, int]:
    only = ["--subject", subject] if subject else []  # none: every subject, as the plugin's default
    proc = subprocess.Popen([str(build / "medtalk_osc_dump"), *only, "--port", "0",
                             "--frames", str(frames), "--timeout", "30"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ready = proc.stdout.readline().split()
    assert ready[:1] == ["READY"], ready
    return proc, int(ready[1])


def _finish(proc: subprocess.Popen) -> list[str]:
    out, err = proc.communicate(timeout=40)
    assert proc.returncode == 0, out[-2000:] + err[-2000:]
    return out.splitlines()


def _parse(lines: list[str], subject: str = "Ada") -> tuple[list[list[str]], list[tuple[int, float, np.ndarray]]]:
    """One subject's name lists and frames from the dump's output."""
    name_lists: list[list[str]] = []
    frames = []
    current = None
    for line in lines:
        kind, _, rest = line.partition(" ")
        if kind == "NAMES":
            current = rest.split()[0]
            if current == subject:
                name_lists.append([])
        elif kind == "NAME" and current == subject:
            index, name = rest.split(" ", 1)
            assert int(index) == len(name_lists[-1])
            name_lists[-1].append(name)
        elif kind == "FRAME" and rest.split()[0] == subject:
            _, number, when, *bits = rest.split()
            values = np.array([int(b, 16) for b in bits], dtype=np.uint32)
            frames.append((int(number), float.fromhex(when), values))
        elif kind == "REJECT":
            pytest.fail(f"receiver rejected a packet: {rest}")
    return name_lists, frames


def _file_frames(rig: np.ndarray) -> list[RigFrame]:
    start = 1_732_400_000.123456  # a wall-clock capture time: needs float64 to keep microseconds
    return [RigFrame(index=i, capture_time=start + i / 60, values=row) for i, row in enumerate(rig)]


def _sent_through_the_receiver(core_build, frames, curve_sets) -> list[str]:
    """Every frame sent by one OscFrameTransport per curve set, in turn -> the receiver's dump."""
    proc, port = _start_dump(core_build, "Ada", len(frames) * len(curve_sets))
    try:
        for curve_set in curve_sets:
            with OscFrameTransport("127.0.0.1", port, subject="Ada", curve_set=curve_set) as tx:
                for frame in frames:
                    tx.send_frame(frame)
        return _finish(proc)
    finally:
        proc.kill()


@pytest.mark.parametrize("curve_set", ["board", "expressions"])
def test_receiver_decodes_python_frames_float32_exact(core_build, sample_rig, curve_set):
    frames = _file_frames(sample_rig)  # the real EmoFace sample, 202 frames
    lines = _sent_through_the_receiver(core_build, frames, [curve_set])
    name_lists, received = _parse(lines)
    expected_names = list(curve_names(curve_set))
    assert name_lists == [expected_names]
    assert lines[-1] == f"DONE {len(frames)}"
    assert [number for number, _, _ in received] == list(range(len(frames)))
    for frame, (_, when, bits) in zip(frames, received):
        assert when == frame.capture_time
        expected = to_curves(frame.values, curve_set)
        assert np.array_equal(bits, expected.astype(np.float32).view(np.uint32))


def test_receiver_picks_up_a_changed_name_list(core_build, sample_rig):
    frames = _file_frames(sample_rig[:4])
    lines = _sent_through_the_receiver(core_build, frames, ["board", "expressions"])
    name_lists, received = _parse(lines)
    assert name_lists == [list(board_curve_names()), list(expression_names())]
    assert [len(bits) for _, _, bits in received] == [174] * 4 + [len(expression_names())] * 4
    assert [line.split()[3] for line in lines if line.startswith("NAMES")] == ["1", "2"]


def test_one_port_serves_several_subjects(core_build, sample_rig):
    """Two daemons (`medtalk run --subject Ada` / `--subject Bob`) sending to one port, each
    with its own curve set: the receiver keeps them apart by the address's subject."""
    frames = _file_frames(sample_rig[:6])
    proc, port = _start_dump(core_build, None, 2 * len(frames))
    try:
        with OscFrameTransport("127.0.0.1", port, subject="Ada", curve_set="board") as ada, \
                OscFrameTransport("127.0.0.1", port, subject="Bob", curve_set="expressions") as bob:
            for frame in frames:
                ada.send_frame(frame)
                bob.send_frame(frame)
        lines = _finish(proc)
    finally:
        proc.kill()
    for subject, names, convert in (("Ada", board_curve_names(), lambda v: v),
                                    ("Bob", expression_names(), board_to_expressions)):
        name_lists, received = _parse(lines, subject)
        assert name_lists == [list(names)]
        assert [number for number, _, _ in received] == list(range(len(frames)))
        for frame, (_, _, bits) in zip(frames, received):
            assert np.array_equal(bits, convert(frame.values).astype(np.float32).view(np.uint32))


@pytest.mark.parametrize("when", [1_732_400_000.123456, 1_700_000_000.0, 1_750_000_000.9999])
def test_plugin_timecode_matches_live_link_face_route(core_build, when):
    """The plugin stamps frames with the same 60 fps time of day as the Live Link Face packets,
    so Take Recorder lines the two routes up."""
    out = subprocess.run([str(core_build / "medtalk_osc_dump"), "--timecode", repr(when)],
                         capture_output=True, text=True, check=True).stdout.split()
    number, sub = frame_time(when)
    assert int(out[0]) == number
    assert abs(float.fromhex(out[1]) - sub) < 1e-3
