"""Lips against real talking-face video: does our mouth open and close when a real speaker's does?

Ground truth per video frame, from MediaPipe FaceMesh (`video_faces.py`): the inner-lip gap (the
mean of three upper/lower inner-lip point pairs) and the mouth width (corner to corner), both over
the distance between the outer eye corners, resampled to 60 fps. Faces scored on each clip's own
soundtrack (neutral guidance, audio-only intensity, as `benchmarks/real_speech.py` runs them):
- each checkpoint offline (`Animator.animate`, what `medtalk bake` writes) and, unless
  `--no-live`, as the live daemon streams it (built-in engine settings, idle motion off);
- the articulation the training rigs are made with, driven by the forced alignment of the clip's
  words (GRID clips, whose file names spell their sentences): the upper reference;
- a loudness baseline (frame RMS in dB).
A face's opening is jaw + lower-lip depress - lips together, floored at 0 (`opening`), its rounding
purse + towards + funnel. Scores, over each clip's speech (first to last voiced frame, 0.1 s either side):
- opening r: Pearson r with the lip gap at the best lag within +-10 frames (and that lag);
- closed frames: a series is "closed" below 20% of its clip's p2..p98 range; recall and precision
  of the face's closed frames against the video's, at lag 0;
- closures caught: runs of >= 2 video-closed frames, caught when the face is closed within 2 frames
  of the run;
- opening at closed frames: the face's mean opening, as a share of its range, where the video's
  lips are closed (the video's own level beside it);
- rounding r: Pearson r of rounding with minus the mouth width.
Clips are split by speaker: `--calibration-speakers` (default GRID talker s1) are left out of
every score, so that they can tune the articulation without touching what is reported.

    python benchmarks/video_lips.py --videos /data/talking_video [--cache /tmp/vcache]
        [--checkpoint default=medtalk_core/assets/default_model live=medtalk_core/assets/live_model]
    python benchmarks/video_lips.py --videos ... --calibration | --phones   # tune on s1 only
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from md_table import append_rows  # noqa: E402
from video_faces import VideoTrack, find_videos, load_track  # noqa: E402

from medtalk_core.audio import FPS, SAMPLE_RATE, num_frames  # noqa: E402
from medtalk_core.data.rigmap import rows  # noqa: E402
from medtalk_core.head_eyes import frame_energy_db, speaking_frames  # noqa: E402

CLOSED_SHARE = 0.2  # below this share of its range a series counts as closed
MAX_LAG = 10  # frames searched either way for the opening's best lag
MARGIN = 6  # frames kept either side of the speech
GAP_PAIRS = ((13, 14), (82, 87), (312, 317))  # FaceMesh upper / lower inner-lip points
CORNERS, EYE_CORNERS = (61, 291), (33, 263)
GRID_WORDS = (  # position in the 6-letter GRID sentence id -> letter -> word
    {"b": "bin", "l": "lay", "p": "place", "s": "set"},
    {"b": "blue", "g": "green", "r": "red", "w": "white"},
    {"a": "at", "b": "by", "i": "in", "w": "with"},
    None,  # the letter itself
    {"z": "zero", "1": "one", "2": "two", "3": "three", "4": "four", "5": "five", "6": "six", "7": "seven",
     "8": "eight", "9": "nine"},
    {"a": "again", "n": "now", "p": "please", "s": "soon"},
)
LETTER_WORDS = {"a": "a", "b": "bee", "c": "see", "d": "dee", "e": "e", "f": "ef", "g": "gee", "h": "aitch",
                "i": "i", "j": "jay", "k": "kay", "l": "el", "m": "em", "n": "en", "o": "o", "p": "pee",
                "q": "cue", "r": "are", "s": "ess", "t": "tee", "u": "you", "v": "vee", "x": "ex", "y": "why",
                "z": "zed"}


def grid_sentence(clip_id: str) -> str | None:
    """'bbaf2n' -> 'bin blue at ef two now'; None for a name that is not a GRID sentence id."""
    if len(clip_id) != 6:
        return None
    words = []
    for table, char in zip(GRID_WORDS, clip_id.lower()):
        word = LETTER_WORDS.get(char) if table is None else table.get(char)
        if word is None:
            return None
        words.append(word)
    return " ".join(words)


@dataclass
class Clip:
    speaker: str
    name: str
    audio: np.ndarray  # (n,) 16 kHz
    gap: np.ndarray  # (frames,) at 60 fps
    width: np.ndarray  # (frames,)
    span: slice  # the speech
    sentence: str | None


def _distance(landmarks: np.ndarray, a: int, b: int) -> np.ndarray:
    return np.linalg.norm(landmarks[:, a] - landmarks[:, b], axis=-1)


def to_60fps(values: np.ndarray, fps: float, frames: int) -> np.ndarray:
    """(T,) at `fps` (NaN where unmeasured) -> (frames,) at 60 fps, linear in time."""
    times = np.arange(values.shape[0]) / fps
    ok = ~np.isnan(values)
    return np.interp(np.arange(frames) / FPS, times[ok], values[ok])


def clip_from_track(speaker: str, name: str, track: VideoTrack) -> Clip | None:
    """The lip gap and mouth width of a tracked clip at 60 fps; None without speech or a face."""
    lm = track.landmarks
    scale = _distance(lm, *EYE_CORNERS)
    gap = np.mean([_distance(lm, a, b) for a, b in GAP_PAIRS], axis=0) / scale
    width = _distance(lm, *CORNERS) / scale
    frames = num_frames(track.audio.shape[0])
    voiced = np.flatnonzero(speaking_frames(frame_energy_db(track.audio)))
    if voiced.size == 0 or not track.found.any():
        return None
    span = slice(max(0, voiced[0] - MARGIN), min(frames, voiced[-1] + MARGIN + 1))
    return Clip(speaker, name, track.audio, to_60fps(gap, track.fps, frames), to_60fps(width, track.fps, frames),
                span, grid_sentence(name))


def load_clips(folder: Path, cache: Path | None) -> list[Clip]:
    clips = [clip_from_track(path.parent.name, path.stem, load_track(path, cache)) for path in find_videos(folder)]
    return [c for c in clips if c is not None]


def opening(face: np.ndarray) -> np.ndarray:
    """(T, 174) -> (T,) jaw + lower-lip depress - lips together (both sides' means), at least 0:
    lips pressed together are no more closed than lips that just meet, and without the floor a
    firm /p b m/ would stretch the range so far down that every other closure looked half open."""
    jaw = face[:, rows("jaw-translateY")[0]]
    depress = face[:, rows("mouth_lowerLipDepress")].mean(axis=1)
    together = face[:, rows("mouth_lipsTogetherU") + rows("mouth_lipsTogetherD")].mean(axis=1)
    return np.maximum(jaw + depress - together, 0.0)


def rounding(face: np.ndarray) -> np.ndarray:
    """(T, 174) -> (T,) purse + towards + funnel, means over the sides and lips."""
    keys = ("mouth_purseU", "mouth_purseD", "mouth_towardsU", "mouth_towardsD", "mouth_funnelU", "mouth_funnelD")
    return sum(face[:, rows(k)].mean(axis=1) for k in keys)


def _share(x: np.ndarray) -> np.ndarray:
    """A series as a share of its p2..p98 range."""
    lo, hi = np.percentile(x, [2, 98])
    return (x - lo) / max(hi - lo, 1e-9)


def _runs(mask: np.ndarray, shortest: int = 2) -> list[tuple[int, int]]:
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return [(a, b) for a, b in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)) if b - a >= shortest]


def _r(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a, b)[0, 1]) if a.std() > 1e-9 and b.std() > 1e-9 else math.nan


@dataclass
class Tally:
    """Scores of one face over many clips."""

    r: list[float] = field(default_factory=list)
    lags: list[int] = field(default_factory=list)
    rounding_r: list[float] = field(default_factory=list)
    both_closed: int = 0
    video_closed: int = 0
    face_closed: int = 0
    events: int = 0
    caught: int = 0
    level_sum: float = 0.0
    video_level_sum: float = 0.0

    def add(self, clip: Clip, face_opening: np.ndarray, face_rounding: np.ndarray | None) -> None:
        n = min(face_opening.shape[0], clip.gap.shape[0])
        span = slice(clip.span.start, min(clip.span.stop, n))
        gap, mine = clip.gap[span], face_opening[span]
        best = max(range(-MAX_LAG, MAX_LAG + 1), key=lambda lag: _lagged_r(gap, mine, lag))
        self.r.append(_lagged_r(gap, mine, best))
        self.lags.append(best)
        video_share, face_share = _share(gap), _share(mine)
        video, face = video_share < CLOSED_SHARE, face_share < CLOSED_SHARE
        self.both_closed += int((video & face).sum())
        self.video_closed += int(video.sum())
        self.face_closed += int(face.sum())
        self.level_sum += float(face_share[video].sum())
        self.video_level_sum += float(video_share[video].sum())
        for a, b in _runs(video):
            self.events += 1
            self.caught += int(face[max(0, a - 2): b + 2].any())
        if face_rounding is not None:
            self.rounding_r.append(_r(face_rounding[span], -clip.width[span]))

    def row(self) -> list[str]:
        recall = self.both_closed / max(self.video_closed, 1)
        precision = self.both_closed / max(self.face_closed, 1)
        rr = np.nanmean(self.rounding_r) if self.rounding_r else math.nan
        return [f"{np.nanmean(self.r):.2f}", f"{np.median(self.lags) * 1000 / FPS:+.0f} ms", f"{recall:.2f} / {precision:.2f}",
                f"{self.caught} of {self.events}", f"{self.level_sum / max(self.video_closed, 1):.2f}",
                f"{self.video_level_sum / max(self.video_closed, 1):.2f}", "-" if math.isnan(rr) else f"{rr:.2f}"]


def _lagged_r(gap: np.ndarray, face: np.ndarray, lag: int) -> float:
    """r of gap[t] with face[t + lag]."""
    if lag > 0:
        a, b = gap[:-lag], face[lag:]
    elif lag < 0:
        a, b = gap[-lag:], face[:lag]
    else:
        a, b = gap, face
    r = _r(a, b)
    return -1.0 if math.isnan(r) else r


class Reference:
    """The training rigs' articulation on a clip: its words forced onto its audio."""

    def __init__(self) -> None:
        from medtalk_core.data.align import Aligner

        self.aligner = Aligner(min_score=-1e9)  # score what the aligner gives, however poor

    def phones(self, clip: Clip) -> tuple | None:
        """The clip's aligned phones, None without a sentence or an alignment."""
        from medtalk_core.errors import MedtalkError

        if clip.sentence is None:
            return None
        try:
            return self.aligner.align(clip.audio, clip.sentence).phones
        except MedtalkError:
            return None

    def face(self, clip: Clip, calibration=None) -> np.ndarray | None:
        phones = self.phones(clip)
        return None if phones is None else self.articulation(clip, phones, calibration)

    @staticmethod
    def articulation(clip: Clip, phones: tuple, calibration=None) -> np.ndarray:
        """(T, 174): the articulation the training rigs are made with, on these phones."""
        from medtalk_core.data import visemes

        phonemes = tuple((p.ipa, p.start) for p in phones)
        frames = num_frames(clip.audio.shape[0])
        return visemes.articulate(visemes.segments(phonemes, clip.audio.shape[0] / SAMPLE_RATE), frames, calibration)


def phone_table(clips: list[Clip], reference: Reference) -> list[list[str]]:
    """Per phone, at its centre frame: the video's lip gap and the articulation's opening (each a
    share of its clip's range), and minus the mouth width (z-scored per clip) beside the
    articulation's rounding; sorted by how much more open the articulation is. The table the
    articulation's targets are checked against (docs/ARTICULATION.md)."""
    video: dict[str, list[float]] = {}
    face: dict[str, list[float]] = {}
    narrow: dict[str, list[float]] = {}
    rounded: dict[str, list[float]] = {}
    for clip in clips:
        phones = reference.phones(clip)
        if phones is None:
            continue
        ref = reference.articulation(clip, phones)
        span = slice(clip.span.start, min(clip.span.stop, ref.shape[0], clip.gap.shape[0]))
        gap, mine = _share(clip.gap[span]), _share(opening(ref)[span])
        width = clip.width[span]
        minus_width_z = -(width - width.mean()) / max(width.std(), 1e-9)
        lip_round = rounding(ref)[span]
        for p in phones:
            centre = int(round(0.5 * (p.start + p.end) * FPS)) - span.start
            if not 0 <= centre < gap.shape[0]:
                continue
            for table, value in ((video, gap), (face, mine), (narrow, minus_width_z), (rounded, lip_round)):
                table.setdefault(p.ipa or "(silence)", []).append(float(value[centre]))
    order = sorted(video, key=lambda k: np.mean(face[k]) - np.mean(video[k]), reverse=True)
    return [[k, str(len(video[k])), f"{np.mean(video[k]):.2f}", f"{np.mean(face[k]):.2f}",
             f"{np.mean(face[k]) - np.mean(video[k]):+.2f}", f"{np.mean(narrow[k]):+.2f}", f"{np.mean(rounded[k]):.2f}"]
            for k in order]


def loudness(audio: np.ndarray) -> np.ndarray:
    return frame_energy_db(audio).astype(np.float64)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", required=True, type=Path, help="folder of real talking videos, one folder per speaker")
    parser.add_argument("--cache", type=Path, help="landmark cache folder (outside the repository)")
    parser.add_argument("--checkpoint", nargs="*", default=["default=medtalk_core/assets/default_model",
                                                            "live=medtalk_core/assets/live_model"],
                        help="LABEL=FOLDER checkpoints")
    parser.add_argument("--calibration-speakers", nargs="*", default=["grid_s1"],
                        help="speakers left out of every score (they may tune the articulation)")
    parser.add_argument("--calibration", action="store_true",
                        help="score the calibration speakers alone, articulation and loudness only (for tuning "
                             "medtalk_core/data/visemes.py without touching the scored speakers)")
    parser.add_argument("--phones", action="store_true",
                        help="the calibration speakers' per-phone table the articulation's targets are checked against")
    parser.add_argument("--no-live", action="store_true", help="offline output only")
    parser.add_argument("--out", type=Path, help="append the table to this markdown file")
    parser.add_argument("--label", default="", help="a note for the table's heading")
    args = parser.parse_args(argv)
    import torch

    from livelink_bridge.daemon_config import load_daemon_config
    from livelink_bridge.engine import StreamingEngine, stream_array
    from medtalk_core.inference import Animator

    torch.set_num_threads(2)
    calibrating = set(args.calibration_speakers)
    calibration_only = args.calibration or args.phones  # the per-phone table never reads a scored speaker
    clips = [c for c in load_clips(args.videos, args.cache) if (c.speaker in calibrating) == calibration_only]
    checkpoints = [] if calibration_only else args.checkpoint
    animators = {label: Animator.from_checkpoint(path, "cpu") for label, path in (c.split("=", 1) for c in checkpoints)}
    engine = load_daemon_config(None).engine
    stream_cfg = dataclasses.replace(engine, idle=dataclasses.replace(engine.idle, enabled=False))
    reference = Reference()
    if args.phones:
        header = ["phone", "n", "video lip gap", "articulation opening", "difference", "minus width (z)",
                  "articulation rounding"]
        print("| " + " | ".join(header) + " |\n|" + "---|" * len(header))
        for row in phone_table(clips, reference):
            print("| " + " | ".join(row) + " |")
        return 0
    groups = {"GRID (CC BY 4.0)": [c for c in clips if c.speaker.startswith("grid_")],
              "addresses (evaluation only)": [c for c in clips if not c.speaker.startswith("grid_")]}
    header = ["clips", "face", "opening r", "lag", "closed frames recall / precision", "closures caught",
              "face opening where closed (share of range)", "video there", "rounding r"]
    table = []
    for group, members in groups.items():
        if not members:
            continue
        tallies: dict[str, Tally] = {}
        for clip in members:
            faces: dict[str, tuple[np.ndarray, np.ndarray | None]] = {}
            ref = reference.face(clip)
            if ref is not None:
                faces["articulation from the aligned words (upper reference)"] = (opening(ref), rounding(ref))
            faces["loudness (RMS dB)"] = (loudness(clip.audio), None)
            for label, animator in animators.items():
                face = animator.animate(clip.audio, "neutral", transcript="")
                faces[f"{label}, bake"] = (opening(face), rounding(face))
                if not args.no_live:
                    streamed = stream_array(StreamingEngine(animator, stream_cfg, guidance=animator.guidance("neutral")),
                                            clip.audio)
                    faces[f"{label}, streamed"] = (opening(streamed), rounding(streamed))
            for label, (o, rnd) in faces.items():
                tallies.setdefault(label, Tally()).add(clip, o, rnd)
        speakers = len({c.speaker for c in members})
        seconds = sum(c.span.stop - c.span.start for c in members) / FPS
        for label, tally in tallies.items():
            table.append([f"{group}: {len(members)} clips, {speakers} speakers, {seconds:.0f} s", label, *tally.row()])
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in table:
        print("| " + " | ".join(row) + " |")
    if args.out:
        append_rows(args.out, f"Lips against real talking video{': ' + args.label if args.label else ''}", header, table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
