"""How good are the forced alignments the pseudo-rigs are built on?

1. Share of utterances kept per pseudo-rig set (its report.csv: kept, or skipped with a reason).
2. Boundary error against boundaries labelled by hand from spectrogram plots
   (benchmarks/results/hand_labels_real_speech_sample.tsv, on ../shared/data/real_speech_sample):
   each hand-labelled bilabial is matched to the aligned phone of that name nearest in time,
   each word onset to the aligned word.

    python3 benchmarks/alignment_quality.py [--sets DIR ...]
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from medtalk_core.audio import load_audio  # noqa: E402
from medtalk_core.data.align import Aligner  # noqa: E402

LABELS = REPO / "benchmarks" / "results" / "hand_labels_real_speech_sample.tsv"
SAMPLE = REPO.parent / "shared" / "data" / "real_speech_sample"


def kept_share(folder: Path) -> tuple[int, int, dict[str, int]]:
    with open(folder / "report.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    reasons: dict[str, int] = {}
    for r in rows:
        if r["status"] != "kept":
            key = r["reason"].split(":")[0].split("(")[0].strip()
            reasons[key] = reasons.get(key, 0) + 1
    return sum(r["status"] == "kept" for r in rows), len(rows), reasons


def boundary_errors() -> list[tuple[str, str, float]]:
    lines = [ln.split("\t") for ln in LABELS.read_text(encoding="utf-8").splitlines() if ln and not ln.startswith("#")]
    aligner = Aligner()
    alignments = {}
    out = []
    for utt, label, start, end in lines:
        if utt not in alignments:
            audio = load_audio(SAMPLE / f"{utt}.wav")
            alignments[utt] = aligner.align(audio, (SAMPLE / f"{utt}.txt").read_text(encoding="utf-8"))
        al = alignments[utt]
        if label.isupper():
            phone = min((p for p in al.phones if p.name == label), key=lambda p: abs(p.start - float(start)))
            out.append((utt, f"{label} closure", phone.start - float(start)))
            out.append((utt, f"{label} release", phone.end - float(end)))
        else:
            word = min((w for w in al.words if w.text == label), key=lambda w: abs(w.start - float(start)))
            out.append((utt, f"'{label}' onset", word.start - float(start)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sets", type=Path, nargs="*", default=[], help="pseudo-rig sets (medtalk synth --corpus)")
    args = ap.parse_args()
    if args.sets:
        print("| set | kept | of | share | skipped because |")
        print("|---|---|---|---|---|")
        for folder in args.sets:
            kept, total, reasons = kept_share(folder)
            why = ", ".join(f"{k} ({v})" for k, v in sorted(reasons.items())) or "-"
            print(f"| {folder.name} | {kept} | {total} | {kept / total:.1%} | {why} |")
    errors = boundary_errors()
    print("\n| utterance | boundary | aligner - hand (ms) |")
    print("|---|---|---|")
    for utt, what, err in errors:
        print(f"| {utt[-4:]} | {what} | {1000 * err:+.0f} |")
    bil = np.array([e for _, w, e in errors if "closure" in w or "release" in w]) * 1000
    print(f"\nbilabial boundaries: mean |error| {np.abs(bil).mean():.0f} ms, max {np.abs(bil).max():.0f} ms "
          f"({len(bil)} boundaries); word onsets after silence: "
          + ", ".join(f"{1000 * e:+.0f} ms" for _, w, e in errors if "onset" in w))


if __name__ == "__main__":
    main()
