"""The face on real voices: articulation scores on held-out real speakers and the real EmoFace solve.

On the test split (whole speakers held out of training) of pseudo-rig sets made by
`medtalk synth --corpus` (their ALIGN/ files give the phones), each face is scored with
medtalk_core.articulation_metrics: lip closure on /p b m/, jaw opening on open vs close vowels
(AUC), rounding on rounded vs spread segments (AUC). Faces:
  - each checkpoint offline (`Animator.animate`, neutral, audio-only intensity);
  - each checkpoint as the live daemon streams it (the engine of `--config`, by default the built-in
    defaults, with idle motion off), e.g. `--config configs/low_latency.yaml` for that profile's cost;
  - an audio-energy baseline (jaw = scaled frame loudness, nothing else moves);
  - the articulation driven by the alignment itself (the rig the set holds: the upper reference).
On the real EmoFace sample (Mandarin, angry): mean |error| of the mouth and jaw controllers
against the real solve, beside the sample's own constant mean pose; the same error with every
controller moved to the solve's mean level (how well the face moves, apart from where it rests);
and jaw Pearson r.

    python3 benchmarks/real_speech.py --data /work/data_real/ls /work/data_real/an4 \
        --checkpoint old_default=/work/old_models/default new_default=medtalk_core/assets/default_model ...
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import sys
from pathlib import Path

import numpy as np
import torch
from threadpoolctl import threadpool_limits

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from livelink_bridge.daemon_config import load_daemon_config  # noqa: E402
from livelink_bridge.engine import EngineConfig, StreamingEngine, stream_array  # noqa: E402
from medtalk_core import rig  # noqa: E402
from medtalk_core.articulation_metrics import ArticulationTally  # noqa: E402
from medtalk_core.audio import load_audio, num_frames  # noqa: E402
from medtalk_core.data.pseudo_rig import read_alignment  # noqa: E402
from medtalk_core.data.rigmap import rows  # noqa: E402
from medtalk_core.inference import Animator  # noqa: E402

EMOFACE = REPO.parent / "shared" / "data" / "emoface_sample" / "angry_gd04_001_021"
MOUTH_JAW = [i for i, n in enumerate(rig.controller_names()) if "_mouth" in n or "_jaw" in n]


def test_clips(folders: list[Path], limit: int) -> list[tuple[str, np.ndarray, np.ndarray, list]]:
    """(speaker, audio, alignment-driven rig, phones) of the test split of each set, `limit` per set."""
    out = []
    for folder in folders:
        with open(folder / "manifest.csv", newline="", encoding="utf-8") as fh:
            test = [(r["name"], f"{folder.name}:{r['speaker']}") for r in csv.DictReader(fh) if r["split"] == "test"]
        for name, speaker in test[:limit]:
            audio = load_audio(folder / "WAV" / f"{name}.wav")
            reference = np.loadtxt(folder / "CTR" / f"{name}.txt", delimiter=",", dtype=np.float32)
            out.append((speaker, audio, reference, list(read_alignment(folder / "ALIGN" / f"{name}.tsv").phones)))
    return out


def energy_face(audio: np.ndarray) -> np.ndarray:
    """The baseline: jaw opening proportional to frame loudness (dB above the clip's floor)."""
    frames = num_frames(len(audio))
    hop = len(audio) // max(frames, 1)
    level = np.array([np.sqrt(np.mean(audio[k * hop:(k + 1) * hop] ** 2) + 1e-10) for k in range(frames)])
    db = 20 * np.log10(level)
    face = np.zeros((frames, rig.NUM_CONTROLS), np.float32)
    face[:, rows("jaw-translateY")[0]] = np.clip((db - np.percentile(db, 10)) / 40.0, 0.0, 0.45)
    return face


def score(faces: dict[str, list[tuple[np.ndarray, list]]]) -> dict[str, ArticulationTally]:
    tallies = {}
    for label, items in faces.items():
        tally = ArticulationTally()
        for face, phones in items:
            tally.add(face, phones)
        tallies[label] = tally
    return tallies


def emoface_scores(animators: dict[str, Animator],
                   stream_cfg: EngineConfig) -> list[tuple[str, float, float, float]]:
    """(face, mean |error|, the same with each controller moved to the solve's mean level, jaw r).
    The second error separates the face's movement from its resting level: the constant mean pose
    scores the same on both."""
    wav, ctr = EMOFACE.with_suffix(".wav"), EMOFACE.parent / f"{EMOFACE.name}.ctr.txt"
    if not wav.is_file():
        return []
    audio = load_audio(wav)
    truth = np.loadtxt(ctr, delimiter=",", dtype=np.float32)
    jaw = rows("jaw-translateY")[0]
    constant = float(np.abs(truth[:, MOUTH_JAW] - truth[:, MOUTH_JAW].mean(0)).mean())
    rows_out = [("constant mean pose", constant, constant, float("nan"))]
    for label, animator in animators.items():
        for mode in ("offline", "live"):
            if mode == "offline":
                face = animator.animate(audio, "angry", transcript="")
            else:
                face = stream_array(StreamingEngine(animator, stream_cfg, guidance=animator.guidance("angry")), audio)
            n = min(len(face), len(truth))
            mine, real = face[:n, MOUTH_JAW], truth[:n, MOUTH_JAW]
            err = float(np.abs(mine - real).mean())
            moved = float(np.abs((mine - mine.mean(0)) - (real - real.mean(0))).mean())
            r = float(np.corrcoef(face[:n, jaw], truth[:n, jaw])[0, 1]) if face[:n, jaw].std() > 1e-6 else float("nan")
            rows_out.append((f"{label} {mode}", err, moved, r))
    return rows_out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, nargs="+", required=True, help="pseudo-rig sets (their test split is scored)")
    ap.add_argument("--checkpoint", nargs="+", default=["default=medtalk_core/assets/default_model",
                                                         "live=medtalk_core/assets/live_model"],
                    help="LABEL=FOLDER checkpoints to score")
    ap.add_argument("--clips", type=int, default=60, help="test clips per set")
    ap.add_argument("--no-live", action="store_true", help="score offline output only (faster)")
    ap.add_argument("--config", type=Path, help="daemon YAML whose engine section streams (default: built-in)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    threadpool_limits(limits=1)
    clips = test_clips(args.data, args.clips)
    speakers = sorted({speaker for speaker, *_ in clips})
    animators = {label: Animator.from_checkpoint(path, "cpu")
                 for label, path in (c.split("=", 1) for c in args.checkpoint)}
    engine = load_daemon_config(args.config).engine
    stream_cfg = dataclasses.replace(engine, idle=dataclasses.replace(engine.idle, enabled=False))
    print(f"streamed: window {engine.window_s} s, hop {engine.hop_ms} ms, lookahead {engine.lookahead_ms} ms"
          f" ({args.config or 'built-in defaults'})")
    faces: dict[str, list] = {"alignment-driven articulation (upper reference)": [],
                              "audio-energy baseline": []}
    for label in animators:
        faces[f"{label} offline"] = []
        if not args.no_live:
            faces[f"{label} live"] = []
    for _, audio, reference, phones in clips:
        faces["alignment-driven articulation (upper reference)"].append((reference, phones))
        faces["audio-energy baseline"].append((energy_face(audio), phones))
        for label, animator in animators.items():
            faces[f"{label} offline"].append((animator.animate(audio, "neutral", transcript=""), phones))
            if not args.no_live:
                streamed = stream_array(StreamingEngine(animator, stream_cfg, guidance=animator.guidance("neutral")),
                                        audio)
                faces[f"{label} live"].append((streamed, phones))
    tallies = score(faces)
    upper = tallies["alignment-driven articulation (upper reference)"].closure_rate
    seconds = sum(len(a) for _, a, _, _ in clips) / 16000
    print(f"{len(clips)} held-out clips ({seconds / 60:.1f} min) of {len(speakers)} speakers: {', '.join(speakers)}")
    print("| face | bilabials closed | of upper ref. | open/close AUC | rounded/spread AUC |")
    print("|---|---|---|---|---|")
    for label, t in tallies.items():
        print(f"| {label} | {t.closure_rate:.0%} ({t.closed}/{t.bilabials}) | {t.closure_rate / upper:.0%} | "
              f"{t.open_close_auc:.2f} | {t.round_spread_auc:.2f} |")
    em = emoface_scores(animators, stream_cfg)
    if em:
        print("\nReal EmoFace sample (angry, Mandarin), mouth and jaw controllers:")
        print("| face | mean abs error | at the solve's mean levels | jaw Pearson r |")
        print("|---|---|---|---|")
        for label, err, moved, r in em:
            print(f"| {label} | {err:.4f} | {moved:.4f} | {r:.2f} |")


if __name__ == "__main__":
    main()
