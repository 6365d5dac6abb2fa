"""Hostile and unusual files ("Hostile clients and files, round two", the file side): SPHERE audio
in a .wav, pictures and archives named .wav, headers claiming hours, YAML and JSON nested
thousands deep, sidecar image paths leading out of the bake's folders, --out naming a file, and
emotion2vec folders that lack a key or ask funasr to run their code. Each is one line; in a bake
the file fails alone and the rest are baked."""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml

from livelink_bridge.cli import main
from livelink_bridge.offline import writers
from medtalk_core import audio, long_audio, rig
from medtalk_core.allowed_paths import AllowedFolders, PathNotAllowedError
from medtalk_core.errors import AudioLoadError, ConfigError
from test_bake import speechlike

FACES = Path(__file__).resolve().parent / "fixtures" / "faces"
DEEP_LIST = "[" * 5000 + "]" * 5000
DEEP_MAPPING = "emotion: " + "{a: " * 5000 + "1" + "}" * 5000


def bake_cli(*args: str) -> int:
    return main(["bake", *args, "--no-transcribe", "--no-progress"])


def failures(printed: str) -> dict[str, str]:
    """`  FAILED <path>: <reason>` lines of a bake summary -> {file name: reason}."""
    lines = [line.strip()[len("FAILED "):] for line in printed.splitlines() if line.strip().startswith("FAILED ")]
    return {Path(path).name: reason for path, reason in (line.split(": ", 1) for line in lines)}


def long_wav(path: Path, hours: float) -> Path:
    """A real 1 s wav whose header claims `hours` of 16-bit mono 16 kHz audio, the rest of the
    claim a sparse (unwritten) tail: what a 2 GB file from a crashed recorder looks like."""
    sf.write(path, speechlike(1.0), 16000, subtype="PCM_16")
    data_bytes = int(hours * 3600) * 16000 * 2
    with path.open("r+b") as f:
        head = f.read(44)
        assert head[:4] == b"RIFF" and head[36:40] == b"data"
        f.seek(4)
        f.write(struct.pack("<I", 36 + data_bytes))
        f.seek(40)
        f.write(struct.pack("<I", data_bytes))
        f.truncate(44 + data_bytes)
    return path


# --- audio read by its content ----------------------------------------------------------------

@pytest.mark.parametrize("writer", ["soundfile", "sox"])
def test_sphere_audio_in_a_wav_is_read_and_baked(tmp_path: Path, tiny_checkpoint, capsys, writer: str) -> None:
    voice = speechlike(1.2, 16000, 5)
    folder = tmp_path / "timit"
    folder.mkdir()
    path = folder / "x.wav"
    if writer == "soundfile":
        sf.write(path, voice, 16000, format="NIST", subtype="PCM_16")
    else:
        if shutil.which("sox") is None:
            pytest.skip("sox is not installed")
        sf.write(tmp_path / "plain.wav", voice, 16000, subtype="PCM_16")
        subprocess.run(["sox", str(tmp_path / "plain.wav"), "-t", "sph", str(path)], check=True)
    assert path.read_bytes().startswith(b"NIST_1A")  # a SPHERE header, as in TIMIT's .wav files
    loaded = audio.load_audio(path)
    assert loaded.shape == voice.shape and np.abs(loaded - voice).max() < 2 / 2**15  # 16-bit quantisation

    out = tmp_path / "out"
    assert bake_cli(str(folder), "--out", str(out), "--checkpoint", str(tiny_checkpoint)) == 0
    frames, fps, _ = writers.read_rig_file(out / "x.csv")
    assert fps == 60 and frames.shape == (audio.num_frames(voice.shape[0]), rig.NUM_CONTROLS)
    assert capsys.readouterr().out.startswith("baked 1, skipped 0 (already there; --force rewrites), failed 0;")


def test_a_picture_or_an_archive_named_wav_fails_alone_in_one_line(tmp_path: Path, tiny_checkpoint, capsys) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    sf.write(folder / "good.wav", speechlike(0.8), 16000)
    shutil.copy(FACES / "london_001_smiling.jpg", folder / "photo.wav")
    with zipfile.ZipFile(folder / "bundle.wav", "w") as archive:
        archive.writestr("line.txt", "hello " * 100)
    with pytest.raises(AudioLoadError, match="photo.wav is not audio: its content is in no format libsndfile reads"):
        audio.load_audio(folder / "photo.wav")

    code = bake_cli(str(folder), "--out", str(tmp_path / "out"), "--checkpoint", str(tiny_checkpoint))
    captured = capsys.readouterr()
    failed = failures(captured.out)
    assert code == 1 and set(failed) == {"photo.wav", "bundle.wav"}
    assert all("is not audio: its content is in no format libsndfile reads" in r for r in failed.values())
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["good.csv"] and "Traceback" not in captured.err


# --- input duration cap -----------------------------------------------------------------------

def test_a_header_claiming_hours_fails_alone_before_it_is_decoded(tmp_path: Path, tiny_checkpoint, capsys,
                                                                  monkeypatch) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    sf.write(folder / "good.wav", speechlike(1.5), 16000)
    long_wav(folder / "long.wav", hours=2)
    assert sf.info(str(folder / "long.wav")).duration == 7200.0
    read = []
    real_read = long_audio.read_native
    monkeypatch.setattr(long_audio, "read_native", lambda path, *a: read.append(Path(path).name) or real_read(path, *a))

    out = tmp_path / "out"
    code = bake_cli(str(folder), "--out", str(out), "--checkpoint", str(tiny_checkpoint))
    failed = failures(capsys.readouterr().out)
    assert code == 1 and list(failed) == ["long.wav"]
    assert failed["long.wav"].endswith("holds 7200 s of audio by its header, over the 3600 s cap; "
                                       "--max-duration SECONDS raises it (0 = no cap)")
    assert "long.wav" not in read and "good.wav" in read  # refused from the header, never decoded
    assert sorted(p.name for p in out.iterdir()) == ["good.csv"]  # and no .part file

    # The flag sets the cap: 1 s refuses the 1.5 s file too.
    code = bake_cli(str(folder / "good.wav"), "--out", str(tmp_path / "out1"), "--max-duration", "1",
                    "--checkpoint", str(tiny_checkpoint))
    assert code == 1 and "over the 1 s cap" in failures(capsys.readouterr().out)["good.wav"]
    assert bake_cli(str(folder), "--out", str(out), "--max-duration", "-1") == 2
    assert capsys.readouterr().err == "medtalk bake: error: --max-duration must be a number of seconds >= 0 (0 = no cap)\n"


def test_preview_caps_the_audio_it_reads(tmp_path: Path, tiny_checkpoint, capsys) -> None:
    long = long_wav(tmp_path / "long.wav", hours=2)
    code = main(["preview", str(long), "--out", str(tmp_path / "a.png"), "--checkpoint", str(tiny_checkpoint),
                 "--no-transcribe", "--size", "64"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "over the 3600 s cap; --max-duration" in err

    take = tmp_path / "take.csv"
    writers.get_writer("csv").write(take, np.zeros((30, rig.NUM_CONTROLS), np.float32), fps=60)
    code = main(["preview", str(take), "--audio", str(long), "--out", str(tmp_path / "b.png"), "--size", "64"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "over the 3600 s cap" in err
    assert not (tmp_path / "a.png").exists() and not (tmp_path / "b.png").exists()


# --- YAML and JSON nested too deeply ----------------------------------------------------------

def test_sidecars_nested_thousands_deep_fail_alone(tmp_path: Path, tiny_checkpoint, capsys) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("good", "lists", "mappings", "typed"):
        sf.write(folder / f"{name}.wav", speechlike(0.8, seed=len(name)), 16000)
    (folder / "lists.yaml").write_text(DEEP_LIST)
    (folder / "mappings.yaml").write_text(DEEP_MAPPING)
    (folder / "typed.yaml").write_text("emotion: [[1]]\n")  # parses, but is no emotion
    out = tmp_path / "out"
    code = bake_cli(str(folder), "--out", str(out), "--checkpoint", str(tiny_checkpoint))
    captured = capsys.readouterr()
    failed = failures(captured.out)
    assert code == 1 and set(failed) == {"lists.wav", "mappings.wav", "typed.wav"}
    assert failed["lists.wav"] == f"config file {folder / 'lists.yaml'} is not valid YAML: nested too deeply"
    assert failed["mappings.wav"] == f"config file {folder / 'mappings.yaml'} is not valid YAML: nested too deeply"
    assert failed["typed.wav"] == "emotion must be a label name or an id 0-6, got a list"
    assert sorted(p.name for p in out.iterdir()) == ["good.csv"] and "Traceback" not in captured.err


def test_run_with_a_hostile_config_prints_one_line(tmp_path: Path, capsys) -> None:
    deep = tmp_path / "deep.yaml"
    deep.write_text("engine: " + "{a: " * 5000 + "1" + "}" * 5000 + "\n")
    assert main(["run", "--config", str(deep)]) == 2
    assert capsys.readouterr().err == f"medtalk run: error: config file {deep} is not valid YAML: nested too deeply\n"
    # An alias bomb: tiny as parsed, 9**9 strings when printed whole; the error shows a bounded excerpt.
    levels = ['&a0 [' + ", ".join(['"lol"'] * 9) + "]"]
    levels += [f"&a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 9)]
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("engine:\n  window_s: [" + ", ".join(levels) + "]\n")
    assert main(["run", "--config", str(bomb)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("medtalk run: error: config key engine.window_s must be float, got [[")
    assert err.count("\n") == 1 and len(err) < 200


def test_json_nested_thousands_deep_is_one_line(tmp_path: Path, capsys) -> None:
    checkpoint = tmp_path / "ckpt"
    checkpoint.mkdir()
    (checkpoint / "config.json").write_text(DEEP_LIST)
    sf.write(tmp_path / "a.wav", speechlike(0.5), 16000)
    assert bake_cli(str(tmp_path / "a.wav"), "--out", str(tmp_path / "out"), "--checkpoint", str(checkpoint)) == 2
    err = capsys.readouterr().err
    assert err == f"medtalk bake: error: {checkpoint / 'config.json'} is not valid JSON: nested too deeply\n"
    take = tmp_path / "take.json"
    take.write_text(DEEP_LIST)
    assert main(["preview", str(take), "--out", str(tmp_path / "t.png")]) == 2
    assert capsys.readouterr().err == f"medtalk preview: error: cannot read animation file {take}: nested too deeply\n"


# --- sidecar and manifest image paths ---------------------------------------------------------

def test_allowed_folders_resolve_symlinks_and_dot_dots(tmp_path: Path) -> None:
    root = tmp_path / "in"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "out").symlink_to("/etc")
    allowed = AllowedFolders.of([root])
    assert allowed.resolve("../face.png", root / "sub") == (root / "face.png").resolve()
    for text in ("sub/out/hostname", "../in2/x.png", "/etc/hostname", "~/x.png", "~root/x.png", "a\0b"):
        with pytest.raises(PathNotAllowedError) as info:
            allowed.resolve(text, root, what="image path")
        assert str(info.value) == f"image path outside the allowed folders: {text}"


def test_sidecar_images_outside_the_bake_folders_are_refused_alike(tmp_path: Path, tiny_checkpoint, capsys,
                                                                   monkeypatch) -> None:
    work = tmp_path / "work"  # the current folder is allowed: one with nothing else in it
    work.mkdir()
    monkeypatch.chdir(work)
    folder = tmp_path / "lines"
    folder.mkdir()
    (folder / "link.png").symlink_to("/etc/hostname")
    escape = "../" * len(folder.parts) + "etc/hostname"
    paths = {"abs": "/etc/hostname", "up": escape, "home": "~/.bashrc", "missing": "/nonexistent/face.png",
             "link": "link.png"}
    for name, path in {"good": None, **paths}.items():
        sf.write(folder / f"{name}.wav", speechlike(0.8, seed=len(name)), 16000)
        if path:
            (folder / f"{name}.yaml").write_text(f"image: {path}\n")
    out = tmp_path / "out"
    code = bake_cli(str(folder), "--out", str(out), "--checkpoint", str(tiny_checkpoint))
    captured = capsys.readouterr()
    failed = failures(captured.out)
    assert code == 1 and set(failed) == {f"{name}.wav" for name in paths}
    for name, path in paths.items():  # exists or not, the same words: no oracle for the disk
        assert failed[f"{name}.wav"] == f"image path outside the allowed folders: {path}"
    assert sorted(p.name for p in out.iterdir()) == ["good.csv"] and "Traceback" not in captured.err

    manifest = folder / "guidance.csv"
    manifest.write_text("file,image\ngood.wav,/etc/hostname\n")
    assert bake_cli(str(folder), "--out", str(out), "--guidance-file", str(manifest),
                    "--checkpoint", str(tiny_checkpoint)) == 2
    assert capsys.readouterr().err == (f"medtalk bake: error: guidance manifest {manifest} line 2: "
                                       "image path outside the allowed folders: /etc/hostname\n")


def test_a_malformed_manifest_is_one_line(tmp_path: Path) -> None:
    from livelink_bridge.offline.bake import read_manifest
    from medtalk_core.errors import MedtalkError

    manifest = tmp_path / "guidance.csv"
    allowed = AllowedFolders.of([tmp_path])
    for content, reason in ((b"file,emotion\na.wav,sad,extra\n", "line 2: 3 fields, the header has 2"),
                            (b"file,text\na.wav,caf\xe9\n", "is not UTF-8 text; save it as UTF-8"),
                            (b"file,text\na.wav," + b"x" * 200_000 + b"\n", "field larger than field limit")):
        manifest.write_bytes(content)
        with pytest.raises(MedtalkError, match=re.escape(reason)) as info:
            read_manifest(manifest, allowed)
        assert "\n" not in str(info.value)


def test_a_sidecar_image_inside_the_input_folder_guides_the_bake(tmp_path: Path, tiny_checkpoint, animator,
                                                                 monkeypatch) -> None:
    pytest.importorskip("mediapipe", reason="photo guidance needs the face extra: pip install -e .[face]")
    from medtalk_core.guidance import GuidanceSpec

    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "lines"
    (folder / "refs").mkdir(parents=True)
    (folder / "act1").mkdir()
    face = shutil.copy(FACES / "pexels_surprised.jpg", folder / "refs" / "face.jpg")
    sf.write(folder / "act1" / "b.wav", speechlike(1.0, seed=2), 16000)
    (folder / "act1" / "b.yaml").write_text("image: ../refs/face.jpg\n")  # `..` that stays inside is fine
    out = tmp_path / "out"
    assert bake_cli(str(folder), "--out", str(out), "--checkpoint", str(tiny_checkpoint)) == 0
    frames, _, _ = writers.read_rig_file(out / "act1" / "b.csv")
    wav = audio.load_audio(folder / "act1" / "b.wav")
    expected = animator.animate(wav, animator.guidance(GuidanceSpec(image=str(face))), transcript="")
    assert np.allclose(frames, expected, atol=2e-5)
    assert not np.allclose(frames, animator.animate(wav, "neutral", transcript=""), atol=1e-3)


# --- --out naming a file ----------------------------------------------------------------------

def test_out_naming_a_file_is_one_line_before_the_model_loads(tmp_path: Path, capsys, monkeypatch) -> None:
    import medtalk_core.model_choice

    def no_model(*args: object) -> None:
        raise AssertionError("the model loaded before --out was checked")

    monkeypatch.setattr(medtalk_core.model_choice, "load_animator", no_model)
    sf.write(tmp_path / "a.wav", speechlike(0.5), 16000)
    taken = tmp_path / "baked.csv"
    taken.write_text("not a folder\n")
    for out in (taken, taken / "act1"):
        assert bake_cli(str(tmp_path / "a.wav"), "--out", str(out)) == 2
        assert capsys.readouterr().err == f"medtalk bake: error: --out must be a folder; {taken} is a file\n"


# --- emotion2vec folders ----------------------------------------------------------------------

@pytest.fixture
def emotion2vec_dir(tmp_path: Path) -> Path:
    pytest.importorskip("funasr")
    from tiny_emotion2vec import write_tiny_emotion2vec

    return write_tiny_emotion2vec(tmp_path / "emotion2vec", embed_dim=32, depth=2, channels=32, mlp_ratio=2.0,
                                  conv_pos_groups=4, prenet_depth=1)


def edit_config(folder: Path, **changes: object) -> None:
    config = yaml.safe_load((folder / "config.yaml").read_text())
    config.update(changes)
    (folder / "config.yaml").write_text(yaml.safe_dump(config))


def emotion2vec(folder: Path):
    from medtalk_core.backbones.pretrained import Emotion2vecEmotion, Emotion2vecSettings
    from medtalk_core.backbones.pretrained.loading import LoadOptions

    return Emotion2vecEmotion(Emotion2vecSettings(model=str(folder)), LoadOptions(device="cpu"))


def test_emotion2vec_folder_without_embed_dim(emotion2vec_dir: Path) -> None:
    config = yaml.safe_load((emotion2vec_dir / "config.yaml").read_text())
    del config["model_conf"]["embed_dim"]
    (emotion2vec_dir / "config.yaml").write_text(yaml.safe_dump(config))
    expected = (f"emotion2vec folder {emotion2vec_dir}: config.yaml has no model_conf.embed_dim "
                "(a positive integer, 768 for emotion2vec_base)")
    for use in (lambda b: b.dim, lambda b: b.load()):
        with pytest.raises(ConfigError) as info:
            use(emotion2vec(emotion2vec_dir))
        assert str(info.value) == expected


def test_emotion2vec_folder_asking_to_run_its_code_never_runs_it(emotion2vec_dir: Path, tmp_path: Path,
                                                                 monkeypatch) -> None:
    from medtalk_core.backbones.pretrained import emotion2vec as module

    marker = tmp_path / "code_ran"
    evil = emotion2vec_dir / "medtalk_test_evil.py"
    evil.write_text(f"from pathlib import Path\nPath({str(marker)!r}).write_text('ran')\n")
    edit_config(emotion2vec_dir, trust_remote_code=True, remote_code=str(evil))
    with pytest.raises(ConfigError) as info:
        emotion2vec(emotion2vec_dir).load()
    assert str(info.value) == (f"emotion2vec folder {emotion2vec_dir}: config.yaml asks funasr to run code from the "
                               "folder (trust_remote_code); a model folder may hold weights and settings only: "
                               "remove the key")
    assert not marker.exists()

    # Past our check, our trust_remote_code=False still wins over the folder's: the model loads, the code never runs.
    monkeypatch.setattr(module, "_remote_code_key", lambda data: None)
    backbone = emotion2vec(emotion2vec_dir)
    assert backbone.frame_features(np.zeros((1, 16000), np.float32)).shape == (1, 49, 32)
    assert not marker.exists()

    # What funasr does with that folder on its own: this test's folder is a real threat.
    from funasr import AutoModel

    AutoModel(model=str(emotion2vec_dir), device="cpu", disable_update=True, disable_log=True, disable_pbar=True)
    assert marker.read_text() == "ran"


def test_emotion2vec_folder_naming_a_sub_model_never_builds_it(emotion2vec_dir: Path, tmp_path: Path) -> None:
    """funasr builds a `vad_model` the config names, reading that folder with its own
    trust_remote_code: our loader tells AutoModel there are no sub-models."""
    marker = tmp_path / "code_ran"
    sub = shutil.copytree(emotion2vec_dir, tmp_path / "sub")
    evil = sub / "medtalk_test_sub_evil.py"
    evil.write_text(f"from pathlib import Path\nPath({str(marker)!r}).write_text('ran')\n")
    edit_config(sub, trust_remote_code=True, remote_code=str(evil))
    edit_config(emotion2vec_dir, vad_model=str(sub))
    backbone = emotion2vec(emotion2vec_dir)
    assert backbone.frame_features(np.zeros((1, 16000), np.float32)).shape == (1, 49, 32)
    assert not marker.exists()

    from funasr import AutoModel  # on its own, trust_remote_code=False does not reach the sub-model

    AutoModel(model=str(emotion2vec_dir), device="cpu", disable_update=True, disable_log=True, disable_pbar=True,
              trust_remote_code=False)
    assert marker.read_text() == "ran"
