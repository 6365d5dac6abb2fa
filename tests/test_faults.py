"""Faults that once stopped a bake or a run (issue 12): bad side files, clashing names, NaN and
mislabelled audio (read by its content), SIGTERM during a long bake, a script line beside a long file, recordings
that preview could not read, and bad configs that printed a traceback."""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from livelink_bridge.offline import writers
from livelink_bridge.offline.bake import BakeOptions, bake
from livelink_bridge.cli import main
from livelink_bridge.daemon import Daemon
from livelink_bridge.frames import RigFrame
from livelink_bridge.transports.recorder import RecorderTransport
from medtalk_core.long_audio import WindowOptions
from medtalk_core.rotation_curves import ROTATION_NAMES
from test_bake import speechlike
from test_daemon import config
from udp_receivers import OscCollector

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    d = tmp_path / "in"
    d.mkdir()
    for name in ("good", "script", "sidecar", "x", "locked"):
        sf.write(d / f"{name}.wav", speechlike(0.6, seed=len(name)), 16000)
    sf.write(d / "x.ogg", speechlike(0.6, seed=9), 16000)
    (d / "script.txt").write_bytes(b"caf\xe9 au lait\n")  # cp1252
    (d / "sidecar.yaml").write_bytes(b"text: caf\xe9 smile\n")
    (d / "locked.txt").write_text("words\n")
    nan = speechlike(0.6, seed=3)
    nan[[10, 4000]] = np.nan, np.inf
    sf.write(d / "nan.wav", nan, 16000, subtype="FLOAT")
    sf.write(d / "mp3.wav", speechlike(0.6, seed=4), 16000, format="MP3")  # mp3 data named .wav: read as mp3
    return d


def test_bad_side_files_clashes_and_bad_audio_fail_alone(folder, tmp_path, animator, monkeypatch):
    real_read = Path.read_text

    def read_text(self, *args, **kw):  # root reads any file: make one unreadable the way EACCES would
        if self.name == "locked.txt":
            raise PermissionError(13, "Permission denied", str(self))
        return real_read(self, *args, **kw)

    monkeypatch.setattr(Path, "read_text", read_text)
    report = bake(animator, [folder], tmp_path / "out", BakeOptions())
    failed = {p.name: reason for p, reason in report.failed}
    assert sorted(p.name for p in report.baked) == ["good.wav", "mp3.wav"]
    assert set(failed) == {"script.wav", "sidecar.wav", "locked.wav", "x.wav", "x.ogg", "nan.wav"}
    assert "script.txt is not UTF-8" in failed["script.wav"] and "sidecar.yaml is not UTF-8" in failed["sidecar.wav"]
    assert "Permission denied" in failed["locked.wav"]
    assert "both be baked to x.*" in failed["x.wav"] and "both be baked to x.*" in failed["x.ogg"]
    assert "NaN or infinite samples" in failed["nan.wav"] and "silent" not in failed["nan.wav"]
    assert (tmp_path / "out" / "good.csv").is_file() and not (tmp_path / "out" / "x.csv").exists()


def test_a_script_line_beside_a_long_file_is_not_used_and_the_log_says_so(tmp_path, animator, caplog):
    d = tmp_path / "in"
    d.mkdir()
    sf.write(d / "long.wav", speechlike(5.0), 16000)
    options = BakeOptions(window=WindowOptions(window_s=2.0, overlap_s=0.5))
    bake(animator, [d], tmp_path / "plain", options)
    (d / "long.txt").write_text("a line that cannot be split over windows\n")
    caplog.set_level(logging.INFO)
    report = bake(animator, [d], tmp_path / "script", options)
    assert not report.failed
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "script line is not used" in logged and "audio-only intensity head" in logged
    assert "transcribing each window" not in logged
    plain, _, _ = writers.read_rig_file(tmp_path / "plain" / "long.csv")
    scripted, _, _ = writers.read_rig_file(tmp_path / "script" / "long.csv")
    assert np.array_equal(plain, scripted)  # what the log says is what was baked


def test_sigterm_during_a_long_bake_leaves_no_part_files(tmp_path, tiny_checkpoint):
    sf.write(tmp_path / "long.wav", speechlike(900.0), 16000)
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "livelink_bridge.cli", "bake", str(tmp_path / "long.wav"),
                             "--out", str(out), "--checkpoint", str(tiny_checkpoint), "--no-progress",
                             "--format", "csv,json"], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        deadline = time.monotonic() + 120
        while not list(out.glob(".*.part")) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert list(out.glob(".*.part")), "the bake started writing"
    finally:
        proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "interrupted" in err and "Traceback" not in err
    assert not list(out.iterdir())  # neither a .part file nor half a take under the real name


def test_a_recording_is_a_take_that_preview_and_the_readers_read(animator, tmp_path, capsys):
    rec = RecorderTransport(tmp_path / "rec", stem="take").open()
    values = np.random.default_rng(0).uniform(0, 0.5, (8, 174)).astype(np.float32)
    motion = np.zeros((8, 6), np.float32)
    motion[:, 0] = np.arange(8)  # head yaw 0..7 degrees
    for i, index in enumerate((0, 1, 2, 6, 7, 8, 9, 10)):  # 3..5 skipped after a stall
        # index 8 is a clock stand-in: no head_eyes of its own, the head holds where it was
        rec.send_frame(RigFrame(index, 100.0 + index / 60, values[i], head_eyes=None if index == 8 else motion[i]))
    assert not rec.csv_path.exists() and list((tmp_path / "rec").glob(".take.csv.*.part"))  # atomic
    rec.close()
    frames, fps, rotations = writers.read_rig_file(rec.csv_path)
    assert fps == 60.0 and frames.shape == (11, 174) and rotations.shape == (11, 9)
    assert np.allclose(frames[[0, 1, 2, 6, 7, 8, 9, 10]], values, atol=1e-6)
    assert np.allclose(frames[3:6], values[2], atol=1e-6)  # the last pose held over the skipped indices
    head_yaw = rotations[:, ROTATION_NAMES.index("HeadYaw")] * 180
    assert np.allclose(head_yaw, [0, 1, 2, 2, 2, 2, 3, 4, 4, 6, 7], atol=1e-3)  # held over skips and the stand-in
    txt, _, txt_rotations = writers.read_rig_file(rec.txt_path)  # with its .rotations.txt
    assert np.allclose(txt, frames) and np.allclose(txt_rotations, rotations)
    assert not list((tmp_path / "rec").glob("*.part"))
    # and one from a real run
    wav = tmp_path / "clip.wav"
    sf.write(wav, speechlike(1.0), 16000)
    osc = OscCollector()
    try:
        with Daemon(config(wav, osc.port, realtime=False, record=tmp_path / "live"), animator=animator) as daemon:
            assert daemon.run() == 0
    finally:
        osc.close()
    (take,) = (tmp_path / "live").glob("*.csv")
    live = writers.read_rig_file(take)
    assert live.frames.shape == (60, 174) and live.rotations.shape == (60, 9)
    assert main(["preview", str(take), "--out", str(tmp_path / "take.png"), "--size", "64"]) == 0
    assert (tmp_path / "take.png").stat().st_size > 0


@pytest.mark.parametrize("text, reason", [
    ("engine:\n  idle:\n    blink_interval_s: 5\n", "blink_interval_s must be a list of 2 values"),
    ("engine:\n  idle:\n    blink_interval_s: [1, 2, 3]\n", "blink_interval_s must be a list of 2 values"),
    ("engine:\n  window_s: .nan\n", "window_s must be a finite number"),
    ("control:\n  port: 99999\n", "control.port must be a UDP port"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe", "not UTF-8 text"),
    (b"\x00\x01\x02binary\x00", "not valid YAML"),
])
def test_bad_configs_are_one_line_and_exit_2(tmp_path, capsys, text, reason):
    path = tmp_path / "bad.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    assert main(["run", "--config", str(path), "--source", "example", "--osc", "off", "--control", "off"]) == 2
    err = capsys.readouterr().err
    assert reason in err and err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a CUDA GPU")
def test_cuda_without_a_gpu_is_one_line_and_exit_2(tmp_path, capsys, tiny_checkpoint):
    path = tmp_path / "gpu.yaml"
    path.write_text("model:\n  device: cuda\n")
    assert main(["run", "--config", str(path), "--checkpoint", str(tiny_checkpoint), "--source", "example",
                 "--osc", "off", "--control", "off"]) == 2
    err = capsys.readouterr().err
    assert "CUDA is not available" in err and err.count("\n") == 1
