"""Fit the procedural articulation's mouth and jaw levels to the real EmoFace solve.

The articulation (medtalk_core/data/visemes.py) is driven by real English phone timings: the
forced alignments of a pseudo-rig set (`medtalk synth --corpus`, its ALIGN/ files). For each
mouth/jaw control the fit compares how far the control goes *when it is used* (the 90th
percentile of its active frames, |v| > 0.05) in the real solve and in the uncalibrated
articulation, and takes the ratio as the control's gain (within 0.5..3). A level, not a mean:
how often lips close depends on the language (the real sample is Mandarin, the phones are
English), how far they close when they do does not. CTRL_C_mouth-translateY, which the targets
never set, gets the slope of its least-squares line against the jaw in the real solve.

    python3 benchmarks/calibrate_articulation.py --pseudo /work/data_real/ls            # print the table
    python3 benchmarks/calibrate_articulation.py --pseudo /work/data_real/ls --write    # and write the
        # asset medtalk_core/assets/articulation_calibration.json and docs/ARTICULATION.md
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from medtalk_core.audio import SAMPLE_RATE, num_frames  # noqa: E402
from medtalk_core.data import visemes  # noqa: E402
from medtalk_core.data.pseudo_rig import read_alignment  # noqa: E402
from medtalk_core.data.rigmap import rows  # noqa: E402

REAL = REPO.parent / "shared" / "data" / "emoface_sample" / "angry_gd04_001_021.ctr.txt"
FIT_KEYS = ("jaw-translateY", "mouth_lowerLipDepress", "mouth_lipsTogetherD", "mouth_lipsTogetherU",
            "mouth_purseD", "mouth_purseU", "mouth_funnelD", "mouth_funnelU", "mouth_towardsD", "mouth_towardsU",
            "mouth_pressD", "mouth_pressU", "mouth_stickyOuterD", "mouth_stickyOuterU", "mouth_stickyInnerD",
            "mouth_stickyInnerU", "mouth_suckBlow", "mouth_lipBiteD", "tongue_press")
REPORT_KEYS = FIT_KEYS[:12] + ("mouth-translateY",)
ACTIVE = 0.05
GAIN_RANGE = (0.5, 3.0)


def active_level(v: np.ndarray) -> float:
    a = np.abs(v[np.abs(v) > ACTIVE])
    return float(np.percentile(a, 90)) if a.size else 0.0


def articulated(folder: Path, clips: int, cal: visemes.Calibration) -> np.ndarray:
    out = []
    for path in sorted((folder / "ALIGN").glob("*.tsv"))[:clips]:
        wav = folder / "WAV" / f"{path.stem}.wav"
        if not wav.is_file():
            continue
        import soundfile as sf

        n = int(round(sf.info(str(wav)).duration * SAMPLE_RATE))
        al = read_alignment(path)
        segs = visemes.segments(tuple((p.ipa, p.start) for p in al.phones), n / SAMPLE_RATE)
        out.append(visemes.articulate(segs, num_frames(n), cal))
    if not out:
        raise SystemExit(f"no aligned clips in {folder}")
    return np.concatenate(out)


def fit(real: np.ndarray, raw: np.ndarray) -> visemes.Calibration:
    gains = {}
    for key in FIT_KEYS:
        r = rows(key)[0]
        have, want = active_level(raw[:, r]), active_level(real[:, r])
        if have > ACTIVE and want > ACTIVE:
            gains[key] = round(float(np.clip(want / have, *GAIN_RANGE)), 3)
    jaw, drop = real[:, rows("jaw-translateY")[0]], real[:, rows(visemes.MOUTH_DROP_KEY)[0]]
    slope = float(np.polyfit(jaw, drop, 1)[0])
    return visemes.Calibration(gains, round(slope, 3))


def table(real: np.ndarray, before: np.ndarray, after: np.ndarray, cal: visemes.Calibration) -> str:
    lines = ["| control | real mean / std / level | before | after | gain |", "|---|---|---|---|---|"]
    for key in REPORT_KEYS:
        r = rows(key)[0]
        cells = [f"{x[:, r].mean():+.3f} / {x[:, r].std():.3f} / {active_level(x[:, r]):.3f}"
                 for x in (real, before, after)]
        gain = f"{cal.mouth_drop_per_jaw:+.2f} x jaw" if key == visemes.MOUTH_DROP_KEY else f"{cal.gain(key):.2f}"
        lines.append(f"| {key} | " + " | ".join(cells) + f" | {gain} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pseudo", type=Path, required=True, help="pseudo-rig dataset with ALIGN/ (medtalk synth --corpus)")
    ap.add_argument("--clips", type=int, default=200, help="aligned clips to articulate")
    ap.add_argument("--write", action="store_true", help="write the calibration asset and docs/ARTICULATION.md")
    args = ap.parse_args()
    real = np.loadtxt(REAL, delimiter=",", dtype=np.float32)
    raw = articulated(args.pseudo, args.clips, visemes.IDENTITY)
    cal = fit(real, raw)
    after = articulated(args.pseudo, args.clips, cal)
    text = table(real, raw, after, cal)
    print(text)
    if args.write:
        asset = REPO / "medtalk_core" / visemes.CALIBRATION_ASSET
        asset.write_text(json.dumps({"source": "benchmarks/calibrate_articulation.py on the real EmoFace sample "
                                               "angry_gd04_001_021 and the forced alignments of " + args.pseudo.name,
                                     "gains": cal.gains, "mouth_drop_per_jaw": cal.mouth_drop_per_jaw},
                                    indent=1) + "\n", encoding="utf-8")
        doc = REPO / "docs" / "ARTICULATION.md"
        body = doc.read_text(encoding="utf-8") if doc.is_file() else ""
        marker = "<!-- calibration table -->"
        if marker in body:
            head, _, rest = body.partition(marker)
            tail = rest.split(marker, 1)[1] if marker in rest else ""
            body = f"{head}{marker}\n{text}\n{marker}{tail}"
        else:
            body += f"\n{marker}\n{text}\n{marker}\n"
        doc.write_text(body, encoding="utf-8")
        print(f"wrote {asset} and {doc}")


if __name__ == "__main__":
    main()
