"""A Fig. 4-like picture of one clip: waveform with word boundaries, the main lip, brow and eye
controller curves, and the pseudo-intensity curve (paper eq. 8), on one time axis."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from .. import rig
from ..audio import FPS, SAMPLE_RATE, load_audio
from ..errors import DatasetError
from .rigmap import rows

LIP_CURVES = ("jaw-translateY", "mouth_lipsTogetherD", "mouth_purseD", "mouth_lowerLipDepress")
BROW_EYE_CURVES = ("brow_down", "brow_raiseIn", "brow_raiseOut", "eye_blink", "eye_squintInner",
                   "eye_cheekRaise", "mouth_cornerPull", "mouth_cornerDepress")
_RIG_DIRS = ("CTR", "VALID_CTR")


def resolve_clip(clip: str | Path) -> tuple[Path, str]:
    """A clip's dataset root and name from its WAV/CTR/TXT path, or from DATASET/NAME."""
    path = Path(clip)
    if path.is_file() and path.parent.name in (*_RIG_DIRS, "WAV", "TXT", "ALIGN"):
        return path.parent.parent, path.stem
    root, name = path.parent, path.name.removesuffix(".wav").removesuffix(".txt")
    if any((root / d / f"{name}.txt").is_file() for d in _RIG_DIRS):
        return root, name
    raise DatasetError(f"no clip found at {clip}: give its CTR/<name>.txt or WAV/<name>.wav path, or DATASET/NAME")


def read_alignment(path: Path) -> list[tuple[str, float, float]]:
    """Word spans (word, start s, end s) from an ALIGN/<name>.tsv written by the generator."""
    if not path.is_file():
        return []
    with open(path, encoding="utf-8", newline="") as fh:
        return [(r["word"], float(r["start"]), float(r["end"])) for r in csv.DictReader(fh, delimiter="\t")]


def plot_clip(clip: str | Path, out_png: str | Path) -> Path:
    """Draw `clip` to `out_png`; returns the written path."""
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    root, name = resolve_clip(clip)
    rig_path = next(root / d / f"{name}.txt" for d in _RIG_DIRS if (root / d / f"{name}.txt").is_file())
    face = np.loadtxt(rig_path, delimiter=",", dtype=np.float32, ndmin=2)  # (T, 174)
    wav = root / "WAV" / f"{name}.wav"
    audio = load_audio(wav) if wav.is_file() else np.zeros(int(len(face) * SAMPLE_RATE / FPS), np.float32)
    words = read_alignment(root / "ALIGN" / f"{name}.tsv")
    transcript = root / "TXT" / f"{name}.txt"
    title = f"{name}: {transcript.read_text(encoding='utf-8').strip()}" if transcript.is_file() else name

    t_rig = np.arange(len(face)) / FPS
    t_audio = np.arange(len(audio)) / SAMPLE_RATE
    fig, axes = plt.subplots(4, 1, figsize=(12, 9), sharex=True, gridspec_kw={"height_ratios": [1.2, 1.4, 1.6, 1]})
    axes[0].plot(t_audio, audio, color="0.3", linewidth=0.5)
    axes[0].set_ylabel("audio")
    for word, start, end in words:
        axes[0].text(0.5 * (start + end), 0.9 * max(float(np.abs(audio).max()), 1e-3), word, ha="center",
                     va="top", fontsize=8)
    for ax, keys, label in ((axes[1], LIP_CURVES, "lip / jaw"), (axes[2], BROW_EYE_CURVES, "brow / eye / corner")):
        for key in keys:
            ax.plot(t_rig, face[:, rows(key)[0]], label=key, linewidth=1.2)
        ax.set_ylabel(label)
        ax.legend(loc="upper right", fontsize=7, ncol=2)
    axes[3].plot(t_rig, rig.pseudo_intensity(face), color="crimson", linewidth=1.5)
    axes[3].set_ylabel("intensity (eq. 8)")
    axes[3].set_xlabel("time (s)")
    for ax in axes:
        for _, start, end in words:
            ax.axvline(start, color="0.75", linewidth=0.6, linestyle="--")
            ax.axvline(end, color="0.85", linewidth=0.4, linestyle=":")
    axes[0].set_title(title, fontsize=10, loc="left")
    fig.tight_layout()
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out_png, dpi=110)
    plt.close(fig)
    return out_png
