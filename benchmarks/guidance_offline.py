"""Offline guidance (no CLIP): time per reference image and per description on the CPU, and how
well a guidance feature reproduces its pose (decoded with a neutral content embedding).

    python3 benchmarks/guidance_offline.py [--threads 1] [--repeats 5] [--checkpoint DIR]

Image timings need the `face` extra. "first" is a fresh Animator's first call (FaceMesh and the
reference intensity are built then); "warm" is the median of later calls. Round trip: the
largest and the mean |decoded - pose| over S_up (upper face) and S_emo.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from medtalk_core import rig
from medtalk_core.data.expressions import POSE_GAIN, POSES
from medtalk_core.data.rigmap import rows
from medtalk_core.guidance import GuidanceSpec
from medtalk_core.inference import Animator

FACES = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "faces"
DESCRIPTIONS = ("slightly raised eyebrows and a half smile", "furrowed brows, squinting", "a tired, reluctant smile",
                "very happy")


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return 1000 * (time.perf_counter() - start)


def errors(animator: Animator, poses: dict[str, np.ndarray]) -> tuple[float, float, float]:
    pg = animator.offline_guidance.pose_guidance
    up, emo = list(rig.s_up()), list(rig.s_emo())
    diffs = [np.abs(pg.decode(pg.feature(p)) - p) for p in poses.values()]
    return (max(float(d[up].max()) for d in diffs), float(np.mean([d[up].mean() for d in diffs])),
            max(float(d[emo].max()) for d in diffs))


def emotion_poses() -> dict[str, np.ndarray]:
    out = {}
    for emotion, controls in POSES.items():
        for scale in (0.5, 1.0):
            pose = np.zeros(rig.NUM_CONTROLS, np.float32)
            for key, value in controls.items():
                pose[list(rows(key))] = POSE_GAIN * value * scale
            out[f"{emotion}@{scale}"] = rig.clamp(pose)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--repeats", type=int, default=5, help="warm calls per item (default 5)")
    parser.add_argument("--checkpoint", help="checkpoint folder (default: the shipped model)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    rows_out: list[tuple[str, str, str]] = []
    animator = Animator.from_checkpoint(args.checkpoint, device="cpu")
    first = timed(lambda: animator.guidance(GuidanceSpec(text=DESCRIPTIONS[0])))
    rows_out.append(("description, first call", f"{first:.0f}", "reference intensity measured"))
    for text in DESCRIPTIONS:
        warm = statistics.median(timed(lambda: animator.guidance(GuidanceSpec(text=text))) for _ in range(args.repeats))
        rows_out.append((f"description: {text!r}", f"{warm:.0f}", "warm"))
    photo_poses: dict[str, np.ndarray] = {}
    try:
        import mediapipe  # noqa: F401  (the face extra)
    except ImportError:
        rows_out.append(("images", "-", "skipped: pip install -e .[face]"))
    else:
        fresh = Animator.from_checkpoint(args.checkpoint, device="cpu")
        photos = sorted(FACES.glob("*.jpg"))
        first = timed(lambda: fresh.guidance(GuidanceSpec(image=str(photos[0]))))
        rows_out.append((f"image {photos[0].name}, first call", f"{first:.0f}", "FaceMesh built"))
        for photo in photos:
            warm = statistics.median(timed(lambda: fresh.guidance(GuidanceSpec(image=str(photo))))
                                     for _ in range(args.repeats))
            landmarks = timed(lambda: fresh.offline_guidance.image_pose(str(photo)))
            rows_out.append((f"image {photo.name}", f"{warm:.0f}", f"of which landmarks + pose {landmarks:.0f} ms"))
            photo_poses[photo.name] = fresh.offline_guidance.image_pose(str(photo))

    print(f"{'item':<58} {'ms':>6}  note")
    for item, ms, note in rows_out:
        print(f"{item:<58} {ms:>6}  {note}")
    print()
    print(f"{'round trip (decoded vs pose)':<40} {'S_up max':>9} {'S_up mean':>10} {'S_emo max':>10}")
    for name, poses in (("7 emotion poses x 2 strengths", emotion_poses()), ("fixture photos", photo_poses)):
        if poses:
            up_max, up_mean, emo_max = errors(animator, poses)
            print(f"{name:<40} {up_max:>9.3f} {up_mean:>10.3f} {emo_max:>10.3f}")


if __name__ == "__main__":
    main()
