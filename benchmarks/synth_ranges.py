"""Compare value ranges of a synthetic dataset with the real EmoFace sample, per controller group.

    python3 benchmarks/synth_ranges.py /tmp/s50 [--real ../shared/data/emoface_sample]

Groups come from medtalk_core.rig: lip = S_lip, emo = S_emo, up = S_up, other = the rest (gaze,
neck). For each: min, max, mean |value|, mean per-controller std over time, and how many of its
controllers move (std > 0.01). The real sample is one angry clip, so the synthetic statistics
are printed for all clips and for the angry ones alone.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from medtalk_core import rig

REPO = Path(__file__).resolve().parents[1]


def groups() -> dict[str, list[int]]:
    sets = rig.index_sets()
    used = set(sets["lip"]) | set(sets["emo"]) | set(sets["up"])
    return {"lip": list(sets["lip"]), "emo": list(sets["emo"]), "up": list(sets["up"]),
            "other": [i for i in range(rig.NUM_CONTROLS) if i not in used]}


def stats(clips: list[np.ndarray], idx: list[int]) -> tuple[float, float, float, float, str]:
    allv = np.concatenate([c[:, idx] for c in clips])  # (sum T, |group|)
    per_clip_std = np.mean([c[:, idx].std(axis=0) for c in clips], axis=0)  # (|group|,)
    moving = int((per_clip_std > 0.01).sum())
    return allv.min(), allv.max(), np.abs(allv).mean(), per_clip_std.mean(), f"{moving}/{len(idx)}"


def load_rigs(paths: list[Path]) -> list[np.ndarray]:
    return [np.loadtxt(p, delimiter=",", dtype=np.float32, ndmin=2) for p in paths]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("synthetic", type=Path, help="dataset folder written by `medtalk synth`")
    parser.add_argument("--real", type=Path, default=REPO.parent / "shared" / "data" / "emoface_sample",
                        help="folder with real *.ctr.txt (or CTR/*.txt) rig files")
    args = parser.parse_args()
    real_paths = sorted(args.real.glob("*.ctr.txt")) + sorted((args.real / "CTR").glob("*.txt"))
    synth_paths = sorted((args.synthetic / "CTR").glob("*.txt"))
    if not real_paths or not synth_paths:
        raise SystemExit(f"no rig files found (real: {len(real_paths)}, synthetic: {len(synth_paths)})")
    sets = {
        f"real ({len(real_paths)})": load_rigs(real_paths),
        f"synth all ({len(synth_paths)})": load_rigs(synth_paths),
        "synth angry": load_rigs([p for p in synth_paths if p.name.startswith("angry_")]),
    }
    print(f"{'group':6s} {'set':18s} {'min':>7s} {'max':>7s} {'mean|v|':>8s} {'std':>7s} {'moving':>8s}")
    for group, idx in groups().items():
        for label, clips in sets.items():
            lo, hi, mav, sd, moving = stats(clips, idx)
            print(f"{group:6s} {label:18s} {lo:7.3f} {hi:7.3f} {mav:8.4f} {sd:7.4f} {moving:>8s}")
    intensity = {label: np.concatenate([rig.pseudo_intensity(c) for c in clips]) for label, clips in sets.items()}
    print("\npseudo-intensity (eq. 8): mean / std / max")
    for label, v in intensity.items():
        print(f"  {label:18s} {v.mean():.3f} / {v.std():.3f} / {v.max():.3f}")


if __name__ == "__main__":
    main()
