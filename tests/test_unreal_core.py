"""The Unreal plugin's portable C++ core: CTest under sanitizers, and a cross-test in which
the real Python OscFrameTransport sends a file's frames to the C++ receiver built from it."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from livelink_bridge.frames import RigFrame
from livelink_bridge.transports.osc_frames import OscFrameTransport
from medtalk_core.curve_sets import board_curve_names, curve_names, to_curves
from medtalk_core.expressions import expression_names

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
    assert "out of 10" in result.stdout


def _start_dump(build: Path, subject: str, frames: int) -> tuple[subprocess.Popen, int]:
    proc = subprocess.Popen([str(build / "medtalk_osc_dump"), "--subject", subject, "--port", "0",
                             "--frames", str(frames), "--timeout", "30"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ready = proc.stdout.readline().split()
    assert ready[:1] == ["READY"], ready
    return proc, int(ready[1])


def _finish(proc: subprocess.Popen) -> list[str]:
    out, err = proc.communicate(timeout=40)
    assert proc.returncode == 0, out[-2000:] + err[-2000:]
    return out.splitlines()


def _parse(lines: list[str]) -> tuple[list[list[str]], list[tuple[int, float, np.ndarray]]]:
    name_lists: list[list[str]] = []
    frames = []
    for line in lines:
        kind, _, rest = line.partition(" ")
        if kind == "NAMES":
            name_lists.append([])
        elif kind == "NAME":
            index, name = rest.split(" ", 1)
            assert int(index) == len(name_lists[-1])
            name_lists[-1].append(name)
        elif kind == "FRAME":
            number, when, *bits = rest.split()
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
    assert [line.split()[2] for line in lines if line.startswith("NAMES")] == ["1", "2"]
