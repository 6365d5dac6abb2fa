"""Our head and eye motion (`medtalk_core.head_eyes`) against real people.

Head: real talking-face videos (sources and licences in `benchmarks/talking_video_sources.md`; the
videos stay outside the repository, `--videos DIR`, one folder per speaker) -> MediaPipe
landmarks -> head yaw, pitch and roll (`video_faces.py`). Our generator is run on each clip's own
soundtrack. Both go through the same measurement: sampled at the video's frame times and
smoothed over 3 video frames (landmark jitter would otherwise pass for motion), then, for speaking
and for pause frames apart (the generator's own speech detector on the soundtrack):
- rotation standard deviation per axis within each clip,
- peak angular velocity per axis: the 95th percentile of |d angle / dt| within each clip,
- the correlation of head speed with speech energy (dB) over each clip,
averaged per speaker, then over speakers, for each group apart (conversational addresses; read
sentences, GRID) and each half of its speakers (alternate speakers in name order), so the spread
between people shows beside the means.
Eyes and blinks: our saccades and blinks over all the soundtracks against published figures.

    python benchmarks/head_eyes.py --videos /data/talking_video [--cache /tmp/vcache] [--out FILE.md]
"""

from __future__ import annotations

import argparse
import ast
import math
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from md_table import append_rows  # noqa: E402
from video_faces import find_videos, head_angles, load_track  # noqa: E402

from medtalk_core.audio import FPS  # noqa: E402
from medtalk_core.head_eyes import HeadEyes, HeadEyesConfig, frame_energy_db, speaking_frames  # noqa: E402
from medtalk_core.head_eyes_stats import motion_statistics  # noqa: E402

AXES = ("yaw", "pitch", "roll")
SMOOTH_FRAMES = 3  # video frames averaged: ~0.1 s at 25 fps
SEEDS = 5
# Which speakers a group holds, by folder name prefix (licences: benchmarks/talking_video_sources.md).
GROUPS = {"addresses": ("hdtf_", "vrt_"), "read sentences (GRID)": ("grid_",)}
# Published figures (approximate; see medtalk_core/head_eyes.py for the references).
PUBLISHED = {
    "main-sequence slope ms/deg": (2.0, 3.0, "Carpenter 1988: 2.2; reviews ~2-3"),
    "main-sequence intercept ms": (20.0, 30.0, "Carpenter 1988: 21; reviews ~20-30"),
    "saccades/min speaking": (40.0, 200.0, "fixations of ~0.3-1.5 s between saccades in conversation"),
    "saccades/min pauses": (40.0, 200.0, "as above"),
    "blinks/min speaking": (11.0, 41.0, "Bentivoglio 1997: 26 +- 15 in conversation"),
    "blinks/min pauses": (8.0, 30.0, "Bentivoglio 1997: 17 +- ~11 at rest"),
}


@dataclass
class Clip:
    speaker: str
    group: str
    fps: float
    head: np.ndarray  # (T, 3) degrees at the video frames, NaN without a face
    energy: np.ndarray  # (T,) dB at the video frames
    speaking: np.ndarray  # (T,) bool
    energy60: np.ndarray  # (frames,) dB at 60 fps: what the generator hears


def group_of(speaker: str) -> str | None:
    return next((g for g, prefixes in GROUPS.items() if speaker.startswith(prefixes)), None)


def at_video_frames(values60: np.ndarray, count: int, fps: float) -> np.ndarray:
    """(frames, ...) at 60 fps -> (count, ...) at the video's frame times (linear)."""
    t60 = np.arange(values60.shape[0]) / FPS
    times = np.arange(count) / fps
    flat = values60.reshape(values60.shape[0], -1)
    out = np.stack([np.interp(times, t60, flat[:, k]) for k in range(flat.shape[1])], axis=1)
    return out.reshape((count,) + values60.shape[1:])


def smooth(angles: np.ndarray) -> np.ndarray:
    """Centred moving average over SMOOTH_FRAMES frames, per axis (edges: what is there)."""
    kernel = np.ones(SMOOTH_FRAMES)
    out = np.empty_like(angles)
    for k in range(angles.shape[1]):
        num = np.convolve(np.nan_to_num(angles[:, k]), kernel, mode="same")
        den = np.convolve((~np.isnan(angles[:, k])).astype(float), kernel, mode="same")
        out[:, k] = np.where(den > 0, num / np.maximum(den, 1), np.nan)
    return out


def load_clips(folder: Path, cache: Path | None) -> list[Clip]:
    clips = []
    for path in find_videos(folder):
        group = group_of(path.parent.name)
        if group is None:
            continue
        track = load_track(path, cache)
        energy60 = frame_energy_db(track.audio)
        count = min(track.landmarks.shape[0], int(energy60.shape[0] * track.fps / FPS))
        speaking60 = speaking_frames(energy60).astype(float)
        clips.append(Clip(path.parent.name, group, track.fps, smooth(head_angles(track.landmarks[:count])),
                          at_video_frames(energy60, count, track.fps),
                          at_video_frames(speaking60, count, track.fps) > 0.5, energy60))
    return clips


def clip_stats(head: np.ndarray, energy: np.ndarray, speaking: np.ndarray, fps: float) -> dict[str, float]:
    """std and p95 speed per axis for speaking and pause frames, and r(head speed, energy)."""
    out: dict[str, float] = {}
    speed = np.abs(np.diff(head, axis=0)) * fps  # (T-1, 3)
    for name, mask in (("speaking", speaking), ("pauses", ~speaking)):
        pairs = mask[1:] & mask[:-1]
        for k, axis in enumerate(AXES):
            values = head[mask, k]
            values = values[~np.isnan(values)]
            out[f"{name} {axis} std"] = float(values.std()) if values.size >= 5 else math.nan
            s = speed[pairs, k]
            s = s[~np.isnan(s)]
            out[f"{name} {axis} p95 speed"] = float(np.percentile(s, 95)) if s.size >= 5 else math.nan
    total = np.linalg.norm(speed, axis=1)
    ok = ~np.isnan(total)
    e = energy[1:][ok]
    out["r(head speed, energy)"] = float(np.corrcoef(total[ok], e)[0, 1]) if ok.sum() > 5 and e.std() > 0 else math.nan
    return out


def ours(clips: list[Clip], cfg: HeadEyesConfig, seed: int) -> list[np.ndarray]:
    """Our (frames, 6) motion for every clip at 60 fps: all soundtracks streamed one after the other,
    twice, keeping the second pass, so every clip meets the generator in its running state."""
    stream = np.concatenate([c.energy60 for c in clips])
    motion = HeadEyes(replace(cfg, seed=seed)).step(np.concatenate([stream, stream]))[stream.shape[0]:]
    bounds = np.cumsum([0] + [c.energy60.shape[0] for c in clips])
    return [motion[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


def speaker_mean(rows: list[tuple[str, dict[str, float]]]) -> dict[str, float]:
    """Average per speaker, then over speakers (NaN-aware)."""
    speakers = sorted({s for s, _ in rows})
    keys = rows[0][1].keys()
    per = [{k: np.nanmean([r[k] for s, r in rows if s == sp]) for k in keys} for sp in speakers]
    return {k: float(np.nanmean([p[k] for p in per])) for k in keys}


def split(speakers: list[str]) -> tuple[set[str], set[str]]:
    """(half A, half B): alternate speakers in name order, so both halves mix sources."""
    ordered = sorted(speakers)
    return set(ordered[0::2]), set(ordered[1::2])


def compare(clips: list[Clip], cfg: HeadEyesConfig) -> dict[str, tuple[dict[str, float], dict[str, float], tuple]]:
    """group/half -> (real means, our means, real per-clip r range)."""
    motions = [ours(clips, cfg, seed) for seed in range(SEEDS)]
    out = {}
    for group in GROUPS:
        members = [i for i, c in enumerate(clips) if c.group == group]
        if not members:
            continue
        tune, held = split(sorted({clips[i].speaker for i in members}))
        for half, speakers in (("half A", tune), ("half B", held), ("all", tune | held)):
            chosen = [i for i in members if clips[i].speaker in speakers]
            if not chosen:
                continue
            real_rows = [(clips[i].speaker, clip_stats(clips[i].head, clips[i].energy, clips[i].speaking, clips[i].fps))
                         for i in chosen]
            our_rows = []
            for motion in motions:
                for i in chosen:
                    c = clips[i]
                    head = smooth(at_video_frames(motion[i][:, :3], c.head.shape[0], c.fps))
                    our_rows.append((c.speaker, clip_stats(head, c.energy, c.speaking, c.fps)))
            rs = [r["r(head speed, energy)"] for _, r in real_rows]
            out[f"{group}, {half} ({len(speakers)} speakers, {len(chosen)} clips)"] = (
                speaker_mean(real_rows), speaker_mean(our_rows), (float(np.nanmin(rs)), float(np.nanmax(rs))))
    return out


def eye_figures(clips: list[Clip], cfg: HeadEyesConfig) -> dict[str, float]:
    """Our saccade and blink figures over every soundtrack, averaged over the seeds."""
    stream = np.concatenate([c.energy60 for c in clips])
    speaking = speaking_frames(stream, cfg)
    figures = []
    for seed in range(SEEDS):
        stats = motion_statistics(HeadEyes(replace(cfg, seed=seed)).step(stream), speaking)
        figures.append({
            "main-sequence slope ms/deg": stats["main_sequence_slope_ms_per_deg"],
            "main-sequence intercept ms": stats["main_sequence_intercept_ms"],
            "saccades/min speaking": stats["speaking"]["saccades_per_min"],
            "saccades/min pauses": stats["silent"]["saccades_per_min"],
            "blinks/min speaking": stats["speaking"]["blinks_per_min"],
            "blinks/min pauses": stats["silent"]["blinks_per_min"],
        })
    return {k: float(np.nanmean([f[k] for f in figures])) for k in figures[0]}


def _within(ours_value: float, real: float, tolerance: float = 0.3) -> str:
    if math.isnan(ours_value) or math.isnan(real) or real == 0:
        return "-"
    return "yes" if abs(ours_value - real) <= tolerance * abs(real) else "no"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", required=True, type=Path, help="folder of real talking videos, one folder per speaker")
    parser.add_argument("--cache", type=Path, help="folder for the landmark cache (outside the repository)")
    parser.add_argument("--head-scale", type=float, default=HeadEyesConfig.head_scale)
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                        help="try another HeadEyesConfig value, e.g. drift_tau_s=0.8 or nod_s=(0.2,0.4)")
    parser.add_argument("--out", type=Path, help="append the tables to this markdown file")
    args = parser.parse_args(argv)
    clips = load_clips(args.videos, args.cache)
    if not clips:
        print(f"no videos under {args.videos}")
        return 1
    cfg = HeadEyesConfig(head_scale=args.head_scale)
    for item in args.set:
        name, _, value = item.partition("=")
        cfg = replace(cfg, **{name: ast.literal_eval(value)})
    header = ["set", "measure", "real", "ours", "ours within 30%"]
    rows = []
    for name, (real, mine, r_range) in compare(clips, cfg).items():
        for key in real:
            if key.startswith("r("):
                inside = "yes" if r_range[0] <= mine[key] <= r_range[1] and mine[key] > 0 else "no"
                rows.append([name, f"{key} (real clips {r_range[0]:+.2f}..{r_range[1]:+.2f})",
                             f"{real[key]:+.2f}", f"{mine[key]:+.2f}", f"positive, in range: {inside}"])
            else:
                unit = "deg/s" if "speed" in key else "deg"
                rows.append([name, f"{key} {unit}", f"{real[key]:.2f}", f"{mine[key]:.2f}", _within(mine[key], real[key])])
    eye_rows = [[k, f"{v:.1f}", f"{PUBLISHED[k][0]:g}-{PUBLISHED[k][1]:g}",
                 "yes" if PUBLISHED[k][0] <= v <= PUBLISHED[k][1] else "no", PUBLISHED[k][2]]
                for k, v in eye_figures(clips, cfg).items()]
    eye_header = ["measure", "ours", "published range", "within", "source"]
    print(f"head_scale {args.head_scale:g} {' '.join(args.set)}; {len(clips)} clips, "
          f"{len({c.speaker for c in clips})} speakers")
    for table_header, table in ((header, rows), (eye_header, eye_rows)):
        print("| " + " | ".join(table_header) + " |")
        print("|" + "---|" * len(table_header))
        for row in table:
            print("| " + " | ".join(str(c) for c in row) + " |")
        print()
    if args.out:
        append_rows(args.out, f"Head motion against real talking video (head_scale {args.head_scale:g})", header, rows)
        append_rows(args.out, f"Saccades and blinks against published figures (head_scale {args.head_scale:g})",
                    eye_header, eye_rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
