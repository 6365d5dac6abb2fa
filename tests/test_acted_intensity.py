"""benchmarks/acted_intensity.py: RAVDESS file names read right, and the scores computed as stated,
on intensities set by hand and on a real (tiny) model run end to end over written wav files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from script_modules import load_script

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def acted():
    return load_script(BENCHMARKS / "acted_intensity.py")


def test_ravdess_names_are_read_and_others_skipped(acted) -> None:
    take = acted.parse_name(Path("Actor_12/03-01-05-02-01-01-12.wav"))
    assert take.label == "angry" and take.strong and take.statement == "01" and take.actor == "12"
    assert acted.parse_name(Path("03-01-02-01-02-02-05.wav")).label == "neutral"  # calm plays as neutral
    assert acted.parse_name(Path("03-02-05-02-01-01-12.wav")) is None  # song
    assert acted.parse_name(Path("01-01-05-02-01-01-12.wav")) is None  # video
    assert acted.parse_name(Path("notes.wav")) is None


def test_scores_count_pairs_where_the_strong_take_is_more_intense(acted) -> None:
    def take(emotion: str, strong: bool, actor: str) -> object:
        return acted.parse_name(Path(f"03-01-{emotion}-{'02' if strong else '01'}-01-01-{actor}.wav"))

    intensity = {take("05", True, "01"): 0.3, take("05", False, "01"): 0.2,  # angry: strong wins
                 take("04", True, "01"): 0.1, take("04", False, "01"): 0.2,  # sad: strong loses
                 take("05", True, "02"): 0.4, take("05", False, "02"): 0.1,  # angry: strong wins
                 take("01", False, "01"): 0.15}  # neutral: no pair
    neutral_voice = {(take("01", False, "01"), "angry"): 0.2, (take("01", False, "01"), "sad"): 0.2}
    row = acted.score(intensity, neutral_voice)
    assert row[0] == "0.67 (3 pairs)"
    assert row[1] == f"{(0.3 + 0.1 + 0.4) / (0.2 + 0.2 + 0.1):.2f}"
    assert row[2] == f"{np.mean([0.3, 0.1, 0.4]) / 0.2:.2f}"
    assert row[3:] == ["-", "0.00", "1.00", "-", "-", "-"]  # happy sad angry fear disgust surprised


def test_a_run_over_written_takes_prints_its_table(acted, tiny_checkpoint, tmp_path, capsys) -> None:
    from medtalk_core.audio import SAMPLE_RATE, write_audio

    rng = np.random.default_rng(0)
    (tmp_path / "Actor_01").mkdir()
    for name in ("03-01-05-01-01-01-01", "03-01-05-02-01-01-01", "03-01-01-01-01-01-01"):
        loud = 0.3 if name.split("-")[3] == "02" else 0.1  # the strong take is louder
        t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
        voice = loud * np.sin(2 * np.pi * 140 * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 3 * t))
        write_audio(tmp_path / "Actor_01" / f"{name}.wav",
                    (voice + 0.001 * rng.standard_normal(t.shape)).astype(np.float32))
    out = tmp_path / "table.md"
    assert acted.main(["--ravdess", str(tmp_path), "--checkpoint", f"tiny={tiny_checkpoint}", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "3 takes of 1 actors" in printed and "| tiny | " in printed and "(1 pairs)" in printed
    assert "Emotion intensity on acted speech" in out.read_text()
    assert acted.main(["--ravdess", str(tmp_path / "Actor_01" / "none")]) == 2
