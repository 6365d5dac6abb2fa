"""Emotion intensity on acted speech: does the face's emotion grow when an actor's voice does?

RAVDESS (Livingstone & Russo 2018, CC BY-NC-SA 4.0: evaluation only, never trained on) has 24
actors speak two fixed sentences in eight emotions, each emotion at a normal and a strong
intensity (file name fields: 03-01-EMOTION-INTENSITY-STATEMENT-REPETITION-ACTOR.wav). Each clip
is animated offline with its own emotion label and its sentence as the transcript, as `medtalk
bake` would with a `.txt` beside the file. Per clip, the face's emotion intensity is the paper's
pseudo-intensity (`rig.pseudo_intensity`) averaged over the voiced frames. Scores per face:
- strong > normal: of the pairs (actor, emotion, sentence, repetition) spoken at both levels, the
  share whose strong take gets the more intense face (0.5 = the audio changes nothing);
- strong / normal: the ratio of the mean intensities;
- emotional / neutral: the mean intensity of the strong emotional takes over that of the same
  actors' neutral takes, each animated with the emotional takes' labels (how much the voice,
  not the label, adds);
- per emotion, strong > normal.
RAVDESS's calm is animated as neutral; fearful as fear.

    python benchmarks/acted_intensity.py --ravdess /data/ravdess \\
        --checkpoint old=/path/old_default new=medtalk_core/assets/default_model [--actors 12]
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from md_table import append_rows  # noqa: E402

from medtalk_core.audio import load_audio  # noqa: E402
from medtalk_core.head_eyes import frame_energy_db, speaking_frames  # noqa: E402
from medtalk_core.rig import pseudo_intensity  # noqa: E402

EMOTIONS = {"01": "neutral", "02": "neutral", "03": "happy", "04": "sad", "05": "angry", "06": "fear",
            "07": "disgust", "08": "surprised"}  # RAVDESS code -> our label (02 is calm)
SENTENCES = {"01": "kids are talking by the door", "02": "dogs are sitting by the door"}


@dataclass(frozen=True)
class Take:
    path: Path
    emotion_code: str
    strong: bool
    statement: str
    repetition: str
    actor: str

    @property
    def label(self) -> str:
        return EMOTIONS[self.emotion_code]

    @property
    def pair_key(self) -> tuple[str, str, str, str]:
        return self.actor, self.emotion_code, self.statement, self.repetition


def parse_name(path: Path) -> Take | None:
    """A RAVDESS speech file name -> Take; None for anything else (song, video, other files)."""
    fields = path.stem.split("-")
    if len(fields) != 7 or fields[0] != "03" or fields[1] != "01" or fields[2] not in EMOTIONS:
        return None
    return Take(path, fields[2], fields[3] == "02", fields[4], fields[5], fields[6])


def voiced_intensity(face: np.ndarray, audio: np.ndarray) -> float:
    """Mean pseudo-intensity of the face over the voiced frames (all frames if none are voiced)."""
    voiced = speaking_frames(frame_energy_db(audio))[: face.shape[0]]
    per_frame = pseudo_intensity(face[: voiced.shape[0]])
    return float(per_frame[voiced].mean() if voiced.any() else per_frame.mean())


def score(intensity: dict[Take, float], neutral_as: dict[tuple[Take, str], float]) -> list[str]:
    """The table row's scores (see the module docstring)."""
    by_pair: dict[tuple, dict[bool, float]] = defaultdict(dict)
    for take, value in intensity.items():
        if take.label != "neutral":  # neutral has no strong takes; calm is animated as neutral
            by_pair[take.pair_key][take.strong] = value
    pairs = [(p[True], p[False]) for p in by_pair.values() if len(p) == 2]
    wins = np.mean([s > n for s, n in pairs])
    ratio = np.mean([s for s, _ in pairs]) / max(np.mean([n for _, n in pairs]), 1e-9)
    strong_emotional = [v for t, v in intensity.items() if t.strong and t.label != "neutral"]
    emotional_ratio = np.mean(strong_emotional) / max(np.mean(list(neutral_as.values())), 1e-9)
    per_emotion = []
    for code in ("03", "04", "05", "06", "07", "08"):
        mine = [(p[True], p[False]) for k, p in by_pair.items() if k[1] == code and len(p) == 2]
        per_emotion.append(f"{np.mean([s > n for s, n in mine]):.2f}" if mine else "-")
    return [f"{wins:.2f} ({len(pairs)} pairs)", f"{ratio:.2f}", f"{emotional_ratio:.2f}", *per_emotion]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ravdess", required=True, type=Path, help="folder holding RAVDESS speech wavs (any depth)")
    parser.add_argument("--checkpoint", nargs="+", default=["default=medtalk_core/assets/default_model",
                                                            "live=medtalk_core/assets/live_model"],
                        help="LABEL=FOLDER checkpoints")
    parser.add_argument("--actors", type=int, default=24, help="the first N actors only (faster)")
    parser.add_argument("--out", type=Path, help="append the table to this markdown file")
    parser.add_argument("--label", default="", help="a note for the table's heading")
    args = parser.parse_args(argv)
    import torch

    from medtalk_core.inference import Animator

    torch.set_num_threads(2)
    takes = [t for t in (parse_name(p) for p in sorted(args.ravdess.rglob("*.wav"))) if t is not None]
    actors = sorted({t.actor for t in takes})[: args.actors]
    takes = [t for t in takes if t.actor in actors]
    if not takes:
        print(f"no RAVDESS speech files (03-01-*.wav) under {args.ravdess}", file=sys.stderr)
        return 2
    audio = {t: load_audio(t.path) for t in takes}
    emotional_labels = sorted({t.label for t in takes if t.label != "neutral"})
    neutral_takes = [t for t in takes if t.emotion_code == "01"]
    header = ["face", "strong > normal", "strong / normal", "emotional / neutral voice",
              "happy", "sad", "angry", "fear", "disgust", "surprised"]
    table = []
    for label, folder in (c.split("=", 1) for c in args.checkpoint):
        animator = Animator.from_checkpoint(folder, "cpu")
        intensity = {t: voiced_intensity(animator.animate(audio[t], t.label, transcript=SENTENCES[t.statement]),
                                         audio[t]) for t in takes}
        # The neutral voices under every emotional label: what the label alone gives.
        neutral_as = {(t, e): voiced_intensity(animator.animate(audio[t], e, transcript=SENTENCES[t.statement]),
                                               audio[t]) for t in neutral_takes for e in emotional_labels}
        table.append([label, *score(intensity, neutral_as)])
        print("| " + " | ".join(table[-1]) + " |", flush=True)
    heading = f"{len(takes)} takes of {len(actors)} actors"
    print(f"\n{heading}\n| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    for row in table:
        print("| " + " | ".join(row) + " |")
    if args.out:
        append_rows(args.out, f"Emotion intensity on acted speech (RAVDESS){': ' + args.label if args.label else ''}",
                    header, table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
