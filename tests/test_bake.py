"""Batch bake: writers, fps resampling, atomic writes, long audio seams, the `medtalk bake` command."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from livelink_bridge.offline import writers
from livelink_bridge.offline.bake import BakeOptions, GuidanceChoice, bake, find_inputs, read_manifest
from livelink_bridge.cli import main
from medtalk_core import audio, rig
from medtalk_core.allowed_paths import AllowedFolders
from medtalk_core.curve_sets import board_curve_names
from medtalk_core.errors import MedtalkError
from medtalk_core.rotation_curves import ROTATION_NAMES
from medtalk_core.long_audio import AudioFileReader, Stitcher, Window, WindowOptions, animate_file, plan_windows

RNG = np.random.default_rng(0)


def speechlike(seconds: float, rate: int = 16000, seed: int = 0) -> np.ndarray:
    """Harmonic 'voice' with a gliding pitch and ~4 Hz syllables, mono float32."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    pitch = 140 + 40 * np.sin(2 * np.pi * 0.3 * t + rng.uniform(0, 6))
    phase = 2 * np.pi * np.cumsum(pitch) / rate
    voice = sum(np.sin(k * phase) / k for k in range(1, 6))
    syllables = np.clip(np.sin(2 * np.pi * 4.0 * t + rng.uniform(0, 6)), 0, None)
    return (0.2 * voice * syllables + 0.003 * rng.standard_normal(t.shape)).astype(np.float32)


def random_take(frames: int) -> np.ndarray:
    low, high = rig.valid_ranges()
    return RNG.uniform(low, high, size=(frames, rig.NUM_CONTROLS)).astype(np.float32)


# --- writers -------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["csv", "json", "txt"])
def test_writers_round_trip_in_blocks(tmp_path: Path, fmt: str) -> None:
    take = random_take(47)
    path = tmp_path / f"take.{fmt}"
    count = writers.get_writer(fmt).write(path, [take[:10], take[10:11], take[11:]], fps=60)
    assert count == 47
    frames, fps, _ = writers.read_rig_file(path)
    assert frames.shape == (47, rig.NUM_CONTROLS)
    assert np.allclose(frames, take, atol=1e-6)
    assert fps == pytest.approx(60.0)
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


def test_csv_and_json_layout(tmp_path: Path) -> None:
    take = random_take(5)
    writers.get_writer("csv").write(tmp_path / "a.csv", take, fps=30)
    header = (tmp_path / "a.csv").read_text().splitlines()[0].split(",")
    assert header == ["time", *board_curve_names()]  # the names the OSC stream carries
    assert len(set(header)) == rig.NUM_CONTROLS + 1  # unique: the repeated tongue_tip pair ends in _2
    rows = np.loadtxt(tmp_path / "a.csv", delimiter=",", skiprows=1)
    assert np.allclose(rows[:, 0], np.arange(5) / 30)
    writers.get_writer("json").write(tmp_path / "a.json", take, fps=30)
    data = json.loads((tmp_path / "a.json").read_text())
    assert data["fps"] == 30 and data["names"] == list(board_curve_names()) and data["num_frames"] == 5
    assert np.allclose(data["frames"], take, atol=1e-6)
    assert (tmp_path / "a.txt").exists() is False
    with pytest.raises(MedtalkError):
        writers.get_writer("fbx")


def test_interrupted_write_leaves_no_file_and_keeps_the_old_one(tmp_path: Path) -> None:
    path = tmp_path / "take.csv"
    path.write_text("old\n")

    def blocks():
        yield random_take(3)
        raise RuntimeError("disk unplugged")

    with pytest.raises(RuntimeError):
        writers.get_writer("csv").write(path, blocks())
    assert path.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["take.csv"]

    with pytest.raises(RuntimeError):
        with writers.OutputSet({"csv": tmp_path / "b.csv", "json": tmp_path / "b.json"}) as out:
            out.push(random_take(4))
            raise RuntimeError("killed")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["take.csv"]


@pytest.mark.parametrize("fps_out", [30, 24, 25])
def test_fps_resampling_is_linear_in_time_and_block_invariant(fps_out: int) -> None:
    t = np.arange(301) / 60.0
    take = np.repeat((0.5 * t)[:, None], rig.NUM_CONTROLS, axis=1).astype(np.float32)  # a ramp
    whole = writers.resample_fps(take, fps_out)
    assert whole.shape[0] == int(np.floor(300 * fps_out / 60)) + 1
    assert np.allclose(whole[:, 0], 0.5 * np.arange(whole.shape[0]) / fps_out, atol=1e-6)
    resampler = writers.FpsResampler(fps_out)
    pieces = [resampler(take[a:b]) for a, b in [(0, 7), (7, 8), (8, 100), (100, 101), (101, 301)]]
    assert np.allclose(np.concatenate(pieces), whole, atol=1e-6)
    nonlinear = random_take(61)
    assert np.allclose(writers.resample_fps(nonlinear, 30), nonlinear[::2])  # 30 fps = every other frame


# --- long audio -----------------------------------------------------------------------------

def test_reader_matches_whole_file_load(tmp_path: Path) -> None:
    stereo = np.stack([speechlike(3.1, 44100, 1), speechlike(3.1, 44100, 2)], axis=1)
    path = tmp_path / "a.wav"
    sf.write(path, stereo, 44100, subtype="FLOAT")
    whole = audio.load_audio(path)
    reader = AudioFileReader(path)
    assert reader.num_samples == whole.shape[0]
    parts = np.concatenate([reader.read(a, a + 7000) for a in range(0, reader.num_samples, 7000)])
    assert np.allclose(parts, whole, atol=1e-5)


def test_window_plan_covers_the_take() -> None:
    options = WindowOptions(window_s=4.0, overlap_s=1.0)
    for seconds in (0.5, 4.0, 4.01, 9.3, 41.7):
        n = int(seconds * 16000)
        windows = plan_windows(n, options)
        assert windows[0].start == 0 and windows[-1].stop == audio.num_frames(n)
        for a, b in zip(windows, windows[1:]):
            assert b.start % 3 == 0 and a.start < b.start < a.stop  # overlapping, in order
            assert a.stop - b.start >= 60  # at least the 1 s overlap
        assert all(w.stop - w.start <= 240 for w in windows)


def test_stitcher_crossfades_linearly() -> None:
    windows = [Window(0, 12), Window(6, 18)]
    stitcher = Stitcher(windows)
    first = stitcher.add(windows[0], np.zeros((12, rig.NUM_CONTROLS), np.float32))
    second = stitcher.add(windows[1], np.ones((12, rig.NUM_CONTROLS), np.float32))
    take = np.concatenate([first, second])[:, 0]
    assert take.shape == (18,)
    assert np.allclose(take[:6], 0) and np.allclose(take[12:], 1)
    assert np.allclose(np.diff(take[5:13]), 1 / 7)  # six overlap frames: seven equal steps


def test_long_audio_seams_are_invisible(tmp_path: Path, animator) -> None:
    seconds = 40.0
    path = tmp_path / "long.wav"
    audio.write_audio(path, speechlike(seconds, 16000, 3))
    options = WindowOptions(window_s=4.0, overlap_s=1.0, batch_size=4)
    reader = AudioFileReader(path)
    take = np.concatenate(list(animate_file(animator, reader, "happy", options, transcript="")))
    assert take.shape == (audio.num_frames(reader.num_samples), rig.NUM_CONTROLS)
    windows = plan_windows(reader.num_samples, options)
    assert len(windows) >= 12
    steps = np.abs(np.diff(take, axis=0)).max(axis=1)  # (T-1,) largest controller change per frame
    at_seam = np.zeros_like(steps, dtype=bool)
    for a, b in zip(windows, windows[1:]):
        at_seam[max(b.start - 2, 0): a.stop + 1] = True
    assert steps[at_seam].max() <= steps[~at_seam].max(), (steps[at_seam].max(), steps[~at_seam].max())
    assert np.percentile(steps[at_seam], 95) <= 1.5 * np.percentile(steps[~at_seam], 95)


# --- the bake -------------------------------------------------------------------------------

@pytest.fixture
def clips(tmp_path: Path) -> Path:
    folder = tmp_path / "lines"
    (folder / "act1").mkdir(parents=True)
    sf.write(folder / "a.wav", speechlike(1.5, 22050, 1), 22050)
    sf.write(folder / "act1" / "b.flac", speechlike(2.2, 16000, 2), 16000)
    sf.write(folder / "act1" / "c.ogg", speechlike(1.0, 16000, 3), 16000)
    sf.write(folder / "silent.wav", np.zeros(16000, np.float32), 16000)
    (folder / "corrupt.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEthis is not audio")
    (folder / "a.yaml").write_text("emotion: happy\nstrength: 0.5\n")
    return folder


def bake_cli(*args: str) -> int:
    return main(["bake", *args, "--no-transcribe", "--no-progress"])


def test_bake_folder_with_a_corrupt_and_a_silent_file(tmp_path: Path, clips: Path, tiny_checkpoint,
                                                     animator, capsys) -> None:
    out = tmp_path / "out"
    code = bake_cli(str(clips), "--out", str(out), "--format", "csv,json,txt", "--checkpoint", str(tiny_checkpoint))
    printed = capsys.readouterr().out
    assert code == 1
    assert "FAILED" in printed and "corrupt.wav" in printed and "silent.wav" in printed
    produced = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert produced == sorted(f"{stem}.{ext}" for stem in ("a", "act1/b", "act1/c")
                              for ext in ("csv", "json", "txt", "rotations.txt"))
    # Sidecar guidance (happy at 0.5) used, same numbers as the animator gives directly.
    frames, fps, rotations = writers.read_rig_file(out / "a.csv")
    assert rotations.shape == (frames.shape[0], 9)
    for fmt in ("json", "txt"):  # every format carries the same take
        same = writers.read_rig_file(out / f"a.{fmt}")
        assert np.allclose(same.frames, frames, atol=2e-6) and np.allclose(same.rotations, rotations, atol=2e-6)
    expected = animator.animate(audio.load_audio(clips / "a.wav"), animator.guidance("happy", 0.5), transcript="")
    assert fps == 60 and frames.shape == expected.shape
    assert np.allclose(frames, expected, atol=2e-5)
    neutral = animator.animate(audio.load_audio(clips / "a.wav"), "neutral", transcript="")
    assert not np.allclose(frames, neutral, atol=1e-3)


def test_skip_existing_then_force(tmp_path: Path, clips: Path, tiny_checkpoint, capsys) -> None:
    for bad in ("silent.wav", "corrupt.wav"):
        (clips / bad).unlink()
    out = tmp_path / "out"
    assert bake_cli(str(clips), "--out", str(out), "--checkpoint", str(tiny_checkpoint)) == 0
    target = out / "act1" / "b.csv"
    os.utime(target, (1_000_000, 1_000_000))
    (out / "a.csv").unlink()
    capsys.readouterr()
    assert bake_cli(str(clips), "--out", str(out), "--checkpoint", str(tiny_checkpoint)) == 0
    assert "baked 1, skipped 2" in capsys.readouterr().out
    assert target.stat().st_mtime == 1_000_000 and (out / "a.csv").exists()
    assert bake_cli(str(clips), "--out", str(out), "--force", "--checkpoint", str(tiny_checkpoint)) == 0
    assert "baked 3, skipped 0" in capsys.readouterr().out
    assert target.stat().st_mtime != 1_000_000


def test_fps_30_output_is_every_other_frame(tmp_path: Path, clips: Path, tiny_checkpoint) -> None:
    wav = clips / "act1" / "b.flac"
    assert bake_cli(str(wav), "--out", str(tmp_path / "60"), "--checkpoint", str(tiny_checkpoint)) == 0
    assert bake_cli(str(wav), "--out", str(tmp_path / "30"), "--fps", "30", "--format", "json",
                    "--checkpoint", str(tiny_checkpoint)) == 0
    f60, _, _ = writers.read_rig_file(tmp_path / "60" / "b.csv")
    f30, fps, _ = writers.read_rig_file(tmp_path / "30" / "b.json")
    assert fps == 30 and f30.shape[0] == (f60.shape[0] - 1) // 2 + 1
    assert np.allclose(f30, f60[::2], atol=2e-6)


def test_manifest_overrides_sidecar_and_flags_conflict(tmp_path: Path, clips: Path, animator, capsys,
                                                       tiny_checkpoint) -> None:
    manifest = clips / "guidance.csv"
    manifest.write_text("file,emotion,strength\na.wav,sad,1.0\nact1/b.flac,ang,0.8\n")
    entries = read_manifest(manifest, AllowedFolders.of([clips]))
    assert entries[(clips / "a.wav").resolve()] == GuidanceChoice(emotion="sad", strength=1.0)
    (clips / "silent.wav").unlink()
    (clips / "corrupt.wav").unlink()
    report = bake(animator, [clips], tmp_path / "out", BakeOptions(transcribe=False), manifest=manifest)
    assert not report.failed and len(report.baked) == 3
    frames, _, _ = writers.read_rig_file(tmp_path / "out" / "a.csv")
    sad = animator.animate(audio.load_audio(clips / "a.wav"), animator.guidance("sad"), transcript="")
    assert np.allclose(frames, sad, atol=2e-5)

    with pytest.raises(SystemExit) as exit_info:
        main(["bake", str(clips), "--out", str(tmp_path), "--emotion", "happy", "--text", "a smile"])
    assert exit_info.value.code == 2
    with pytest.raises(SystemExit):
        main(["bake", str(clips), "--out", str(tmp_path), "--guidance-file", str(manifest), "--emotion", "sad"])
    capsys.readouterr()
    assert bake_cli(str(clips), "--out", str(tmp_path), "--emotion", "grumpy", "--checkpoint",
                    str(tiny_checkpoint)) == 2
    assert "unknown emotion" in capsys.readouterr().err
    (clips / "guidance.csv").write_text("file,mood\na.wav,sad\n")
    with pytest.raises(MedtalkError, match="unknown column"):
        read_manifest(clips / "guidance.csv", AllowedFolders.of([clips]))
    (clips / "a.yaml").write_text("emotoin: happy\n")
    report = bake(animator, [clips / "a.wav"], tmp_path / "o2", BakeOptions(transcribe=False))
    assert report.failed and "emotoin" in report.failed[0][1]


def test_inputs_are_found_recursively_and_collisions_rejected(clips: Path, tmp_path: Path) -> None:
    found, clashes = find_inputs([clips])
    assert sorted(str(stem) for _, stem in found) == ["a", "act1/b", "act1/c", "corrupt", "silent"] and not clashes
    other = tmp_path / "x"
    other.mkdir()
    sf.write(other / "a.wav", speechlike(0.5), 16000)
    found, clashes = find_inputs([clips / "a.wav", other / "a.wav", clips / "silent.wav"])
    assert [stem for _, stem in found] == [Path("silent")]  # the two that clash fail alone
    assert [p for p, _ in clashes] == [clips / "a.wav", other / "a.wav"]
    assert all("both be baked" in reason for _, reason in clashes)
    with pytest.raises(MedtalkError, match="not found"):
        find_inputs([tmp_path / "missing.wav"])


def test_expressions_curve_set(tmp_path: Path, clips: Path, tiny_checkpoint) -> None:
    from medtalk_core.expressions import board_to_expressions, expression_names

    wav = clips / "act1" / "c.ogg"
    assert bake_cli(str(wav), "--out", str(tmp_path / "board"), "--checkpoint", str(tiny_checkpoint)) == 0
    assert bake_cli(str(wav), "--out", str(tmp_path / "expr"), "--curves", "expressions",
                    "--checkpoint", str(tiny_checkpoint)) == 0
    board, _, _ = writers.read_rig_file(tmp_path / "board" / "c.csv")
    with (tmp_path / "expr" / "c.csv").open() as handle:
        header = handle.readline().strip().split(",")
    assert header == ["time", *expression_names(), *ROTATION_NAMES]
    expr = np.loadtxt(tmp_path / "expr" / "c.csv", delimiter=",", skiprows=1)[:, 1:-len(ROTATION_NAMES)]
    assert np.allclose(expr, board_to_expressions(board), atol=2e-6)
    assert bake_cli(str(wav), "--out", str(tmp_path / "mh4"), "--curves", "expressions", "--face-board", "mh4",
                    "--checkpoint", str(tiny_checkpoint)) == 0
    with (tmp_path / "mh4" / "c.csv").open() as handle:
        assert handle.readline().strip().split(",") == ["time", *expression_names("mh4"), *ROTATION_NAMES]


def test_script_lines_feed_the_text_branch(tmp_path: Path, clips: Path, animator) -> None:
    """A `<name>.txt` beside the audio, or a manifest `transcript`, is used instead of transcribing."""
    (clips / "silent.wav").unlink()
    (clips / "corrupt.wav").unlink()
    (clips / "act1" / "b.txt").write_text("I told you never to come back here\n")
    manifest = clips / "guidance.csv"
    manifest.write_text("file,emotion,transcript\nact1/c.ogg,sad,what a lovely surprise\n")
    report = bake(animator, [clips], tmp_path / "out", BakeOptions(transcribe=False), manifest=manifest)
    assert not report.failed and len(report.baked) == 3
    for stem, text, guidance in (("act1/b", "I told you never to come back here", "neutral"),
                                 ("act1/c", "what a lovely surprise", "sad")):
        frames, _, _ = writers.read_rig_file(tmp_path / "out" / f"{stem}.csv")
        wav = next(clips.glob(f"{stem}.*[!t]"))
        with_text = animator.animate(audio.load_audio(wav), animator.guidance(guidance), transcript=text)
        audio_only = animator.animate(audio.load_audio(wav), animator.guidance(guidance), transcript="")
        assert np.allclose(frames, with_text, atol=2e-5)
        assert not np.allclose(frames, audio_only, atol=1e-4)


# --- head and eyes in takes (format version 2) -------------------------------------------------

@pytest.mark.parametrize("fmt", ["csv", "json", "txt"])
def test_a_take_with_rotations_round_trips_and_resamples(tmp_path: Path, fmt: str) -> None:
    from medtalk_core.rotation_curves import rotation_curves

    take = random_take(31)
    motion = np.zeros((31, 6), np.float32)
    motion[:, 0] = np.linspace(-10, 10, 31)  # yaw sweeps: a line, so 30 fps keeps every other value
    motion[:, 3] = 3.0
    path = tmp_path / f"take.{fmt}"
    with writers.OutputSet({fmt: path}, fps=30, rotations=True) as out:
        for first in (0, 7, 8, 20):  # blocks of 7, 1, 12, 11
            last = {0: 7, 7: 8, 8: 20, 20: 31}[first]
            out.push(take[first:last], motion[first:last])
    frames, fps, rotations = writers.read_rig_file(path, txt_fps=30)
    expected = rotation_curves(take, motion)[::2]  # (16, 9)
    assert fps == 30 and frames.shape == (16, 174) and np.allclose(frames, take[::2], atol=2e-6)
    assert np.allclose(rotations, expected, atol=2e-6)
    if fmt == "json":
        assert json.loads(path.read_text())["version"] == writers.TAKE_VERSION
    if fmt == "txt":  # the release's layout untouched: 174 columns, the rotations beside it
        assert np.loadtxt(path, delimiter=",").shape == (16, 174)
        assert writers.rotations_path(path).name == "take.rotations.txt"


def test_version_1_takes_still_read_and_others_fail_in_one_line(tmp_path: Path) -> None:
    old = tmp_path / "old.csv"  # what bakes wrote before head motion, and --no-head-eyes writes now
    old.write_text("time," + ",".join(board_curve_names()) + "\n0.0," + ",".join(["0.1"] * 174) + "\n")
    frames, fps, rotations = writers.read_rig_file(old)
    assert frames.shape == (1, 174) and rotations is None
    old_json = tmp_path / "old.json"
    old_json.write_text(json.dumps({"fps": 60, "names": list(board_curve_names()), "frames": [[0.0] * 174],
                                    "num_frames": 1}))
    assert writers.read_rig_file(old_json).rotations is None
    odd = tmp_path / "odd.csv"
    odd.write_text("time,a,b\n0,1,2\n")
    with pytest.raises(MedtalkError, match="expected the 174 board curves, optionally followed by HeadYaw") as err:
        writers.read_rig_file(odd)
    assert "\n" not in str(err.value)
    txt = tmp_path / "t.txt"
    np.savetxt(txt, np.zeros((3, 174)), delimiter=",")
    np.savetxt(writers.rotations_path(txt), np.zeros((2, 9)), delimiter=",")  # a row short
    with pytest.raises(MedtalkError, match="t.rotations.txt holds"):
        writers.read_rig_file(txt)


def test_bake_head_motion_is_seeded_switchable_and_moves_with_speech(tmp_path: Path, tiny_checkpoint) -> None:
    clip = tmp_path / "in" / "line.wav"
    clip.parent.mkdir()
    voice = speechlike(3.0, seed=4)
    voice[int(1.8 * 16000):] *= 0.0005  # speech, then a pause
    sf.write(clip, voice, 16000)

    def baked(name: str, *flags: str) -> writers.RigTake:
        assert bake_cli(str(clip), "--out", str(tmp_path / name), "--checkpoint", str(tiny_checkpoint),
                        "--emotion", "angry", *flags) == 0
        return writers.read_rig_file(tmp_path / name / "line.csv")

    first, again, other = baked("a"), baked("b"), baked("c", "--head-seed", "7")
    assert np.array_equal(first.rotations, again.rotations)  # the same input and seed: the same motion
    assert not np.allclose(first.rotations, other.rotations)
    head_yaw = first.rotations[:, 0] * 180
    assert head_yaw[:100].std() > 0.5  # the head moves while the speech plays
    assert np.abs(np.diff(head_yaw[-20:])).max() < np.abs(np.diff(head_yaw[:100])).max()  # and calms in the pause
    off = baked("d", "--no-head-eyes")
    assert off.rotations is None and np.array_equal(off.frames, first.frames)  # off: today's take, face untouched
    calm = baked("e", "--head-scale", "0.25")
    assert calm.rotations[:, 0].std() < first.rotations[:, 0].std()


def test_a_long_file_gets_the_motion_of_the_whole_file(tmp_path: Path, monkeypatch) -> None:
    from livelink_bridge.offline import bake as bake_module
    from medtalk_core.head_eyes import frame_energy_db

    path = tmp_path / "long.wav"
    samples = speechlike(2.3, seed=5)
    sf.write(path, samples, 16000)
    monkeypatch.setattr(bake_module, "_ENERGY_BLOCK", 800 * 7)  # 0.35 s blocks: many block edges
    reader = AudioFileReader(path)
    energy = bake_module.file_energy_db(reader)
    assert np.allclose(energy, frame_energy_db(reader.read(0, reader.num_samples)), atol=1e-4)  # blocks = whole
    assert energy.shape == (audio.num_frames(samples.shape[0]),)
