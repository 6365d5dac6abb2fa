"""`medtalk preview`: face + timeline renders as png, gif and mp4; the mouth follows the jaw."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from livelink_bridge.offline import preview, writers
from livelink_bridge.cli import main
from medtalk_core import face_drawing, rig
from medtalk_core.errors import MedtalkError

JAW = rig.controller_names().index("CTRL_C_jaw-translateY")
SIZE = 96


def jaw_ramp(frames: int = 120) -> np.ndarray:
    """A take whose jaw opens steadily from 0 to 1, everything else at rest."""
    take = np.zeros((frames, rig.NUM_CONTROLS), np.float32)
    take[:, JAW] = np.linspace(0.0, 1.0, frames)
    return take


def mouth_opening(picture: np.ndarray, size: int, tolerance: int = 60) -> int:
    """Mouth-inside or teeth pixels in the centre column of the face (left `size` columns)."""
    column = picture[int(0.6 * size): size, size // 2].astype(np.int32)  # (rows, 3)
    near = lambda colour: np.abs(column - np.array(colour)).sum(axis=1) < tolerance
    return int((near(face_drawing.PALETTE["mouth_inside"]) | near(face_drawing.PALETTE["teeth"])).sum())


def tone(path: Path, seconds: float, rate: int = 16000) -> None:
    t = np.arange(int(seconds * rate)) / rate
    sf.write(path, (0.2 * np.sin(2 * np.pi * 150 * t) * np.clip(np.sin(2 * np.pi * 3 * t), 0, None)), rate)


def test_video_frames_mouth_follows_jaw() -> None:
    take = preview.Take(jaw_ramp(), 60.0)
    pictures = list(preview.video_frames(take, 30.0, SIZE))
    assert len(pictures) == 60 and pictures[0].shape == (SIZE, 3 * SIZE, 3)
    openings = [mouth_opening(p, SIZE) for p in pictures]
    assert openings[0] <= 1 and openings[-1] >= 0.1 * SIZE
    # Never closes by more than an antialiased pixel while the jaw opens, and tracks it closely.
    assert all(b >= a - 1 for a, b in zip(openings, openings[1:])), openings
    jaw = take.frames[::2, JAW]
    assert np.corrcoef(jaw, openings)[0, 1] > 0.98
    # The face in the video is exactly the face drawing of the resampled frame.
    assert np.array_equal(pictures[10][:, :SIZE], face_drawing.draw_face(take.frames[20], SIZE))


def test_gif_preview_and_its_mouth(tmp_path: Path) -> None:
    take = preview.Take(jaw_ramp(90), 60.0)
    out = preview.render(take, tmp_path / "jaw.gif", preview.PreviewOptions(size=SIZE))
    assert out == tmp_path / "jaw.gif"
    gif = Image.open(out)
    assert gif.n_frames == 30  # 1.5 s at 20 fps
    assert gif.info["duration"] == 50
    first, last = [np.asarray(_frame(gif, i)) for i in (0, gif.n_frames - 1)]
    assert mouth_opening(last, SIZE, tolerance=90) > mouth_opening(first, SIZE, tolerance=90) + 0.08 * SIZE
    assert [p.name for p in tmp_path.iterdir()] == ["jaw.gif"]  # no temporary left


def _frame(gif: Image.Image, index: int) -> Image.Image:
    gif.seek(index)
    return gif.convert("RGB")


def test_png_contact_sheet_from_a_baked_csv(tmp_path: Path) -> None:
    csv_path = tmp_path / "take.csv"
    writers.get_writer("csv").write(csv_path, jaw_ramp(), fps=60)
    wav = tmp_path / "take.wav"
    tone(wav, 2.0)
    code = main(["preview", str(csv_path), "--audio", str(wav), "--out", str(tmp_path / "sheet.png"),
                 "--size", str(SIZE)])
    assert code == 0
    sheet = np.asarray(Image.open(tmp_path / "sheet.png").convert("RGB"))
    assert sheet.shape == (2 * SIZE, 8 * SIZE, 3)
    openings = [mouth_opening(sheet[:SIZE, k * SIZE:(k + 1) * SIZE], SIZE) for k in range(8)]
    assert openings == sorted(openings) and openings[-1] > openings[0] + 0.1 * SIZE


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg (Debian package) not installed")
def test_mp4_from_wav_with_audio_muxed(tmp_path: Path, tiny_checkpoint) -> None:
    wav = tmp_path / "line.wav"
    tone(wav, 1.5, rate=22050)
    out = tmp_path / "line.mp4"
    code = main(["preview", str(wav), "--out", str(out), "--checkpoint", str(tiny_checkpoint), "--no-transcribe",
                 "--size", str(SIZE), "--emotion", "happy"])
    assert code == 0 and out.is_file()
    probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "stream=codec_type,width,height,nb_frames",
                            "-of", "json", str(out)], capture_output=True, text=True, check=True)
    streams = {s["codec_type"]: s for s in json.loads(probe.stdout)["streams"]}
    assert set(streams) == {"video", "audio"}
    assert (streams["video"]["width"], streams["video"]["height"]) == (3 * SIZE, SIZE)
    assert int(streams["video"]["nb_frames"]) == 45  # 1.5 s at 30 fps


def test_mp4_without_ffmpeg_falls_back_to_gif(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(preview.shutil, "which", lambda name: None)
    written = preview.render(preview.Take(jaw_ramp(30), 60.0), tmp_path / "x.mp4", preview.PreviewOptions(size=64))
    assert written == tmp_path / "x.gif" and written.is_file()
    assert not (tmp_path / "x.mp4").exists()


def test_user_mistakes_are_one_line_errors(tmp_path: Path, capsys) -> None:
    csv_path = tmp_path / "take.csv"
    writers.get_writer("csv").write(csv_path, jaw_ramp(10), fps=60)
    assert main(["preview", str(csv_path), "--out", str(tmp_path / "x.avi")]) == 2
    assert main(["preview", str(tmp_path / "take.mov"), "--out", str(tmp_path / "x.png")]) == 2
    assert main(["preview", str(tmp_path / "missing.csv"), "--out", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert err.count("medtalk preview: error:") == 3 and "Traceback" not in err
    with pytest.raises(MedtalkError, match="too long for a GIF"):
        preview.render(preview.Take(jaw_ramp(600), 60.0), tmp_path / "long.gif",
                       preview.PreviewOptions(size=32, max_gif_s=5.0))


def test_a_take_with_rotations_previews_the_head_turning(tmp_path: Path) -> None:
    frames = np.zeros((120, rig.NUM_CONTROLS), np.float32)
    motion = np.zeros((120, 6), np.float32)
    motion[:, 0] = np.linspace(0, 25, 120)  # the head turns toward the character's left (the viewer's right)
    path = tmp_path / "turn.csv"
    with writers.OutputSet({"csv": path}, rotations=True) as out:
        out.push(frames, motion)
    assert main(["preview", str(path), "--out", str(tmp_path / "turn.png"), "--size", str(SIZE)]) == 0
    sheet = np.asarray(Image.open(tmp_path / "turn.png").convert("RGB"))
    pupil = np.array(face_drawing.PALETTE["pupil"])

    def pupil_x(face: np.ndarray) -> float:
        _, cols = np.nonzero(np.all(np.abs(face.astype(int) - pupil) < 40, axis=-1))
        return float(cols.mean())

    xs = [pupil_x(sheet[:SIZE, k * SIZE:(k + 1) * SIZE]) for k in range(8)]
    assert np.corrcoef(xs, np.arange(8))[0, 1] > 0.9 and xs[-1] > xs[0] + 0.05 * SIZE  # they slide as it turns
    frames_only = preview.Take(frames, 60.0)
    turning = preview.Take(frames, 60.0, rotations=writers.read_rig_file(path).rotations)
    still, moving = (list(preview.video_frames(t, 30.0, SIZE)) for t in (frames_only, turning))
    assert len(still) == len(moving) == 60 and np.array_equal(still[0][:, :SIZE], moving[0][:, :SIZE])
    assert not np.array_equal(still[-1][:, :SIZE], moving[-1][:, :SIZE])
