"""Reader for the EmoFace dataset layout, real or synthetic (`medtalk synth` writes the same).

    ROOT/WAV/<name>.wav                 speech, any rate (resampled to 16 kHz)
    ROOT/CTR/<name>.txt                 rig, T x 174 comma-separated at 60 fps
      or ROOT/VALID_CTR/<name>.txt      (the release's validation folder name)
    ROOT/TXT/<name>.txt                 optional transcript
    ROOT/manifest.csv                   optional: name, emotion, content_id, speaker, split

The emotion comes from the name's first `_`-separated token (angry/ang, disgust/disg/dis, ...).
The pairing key of a clip is its name with that token removed: `happy_s0042_v1` and
`sad_s0042_v1` are the same utterance in two emotions, which is what cross-reconstruction swaps.
A clip whose audio and rig lengths disagree by more than `MAX_FRAME_MISMATCH` frames is reported
by name and left out at scan time, so it can never stop an epoch.
"""

from __future__ import annotations

import csv
import logging
import random
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Literal, Sequence

import numpy as np

from ..audio import AUDIO_SUFFIXES, FPS, SAMPLE_RATE, load_audio, num_frames, samples_for_frames
from ..errors import DatasetError, MedtalkError
from ..rig import EMOTIONS, NUM_CONTROLS

logger = logging.getLogger(__name__)

MAX_FRAME_MISMATCH = 2  # frames of audio/rig disagreement still taken as the same clip
RIG_FOLDERS = ("CTR", "VALID_CTR")

# Name prefixes of the EmoFace release and of our generator, longest first so "disg" wins over "dis".
_EMOTION_PREFIXES = {
    "angry": 0, "ang": 0,
    "disgust": 1, "disg": 1, "dis": 1,
    "fear": 2, "fea": 2,
    "happy": 3, "hap": 3,
    "neutral": 4, "neu": 4,
    "sad": 5,
    "surprised": 6, "surprise": 6, "surp": 6, "sur": 6,
}

PairKind = Literal["same_content", "same_emotion", "arbitrary"]


def emotion_from_name(name: str) -> int:
    """Emotion id from a clip name's first `_`-separated token; DatasetError if none matches."""
    token = name.split("_", 1)[0].lower()
    if token in _EMOTION_PREFIXES:
        return _EMOTION_PREFIXES[token]
    raise DatasetError(f"cannot tell the emotion of clip {name!r}: its name must start with one of {', '.join(EMOTIONS)}")


def content_key(name: str) -> str:
    """The name without its emotion token: equal keys mean the same utterance."""
    parts = name.split("_", 1)
    return parts[1] if len(parts) == 2 else ""


@dataclass(frozen=True)
class ClipInfo:
    """What the scan learns of a clip without loading it."""

    name: str
    root: Path  # the dataset folder the clip belongs to
    audio_path: Path
    rig_path: Path
    transcript_path: Path | None
    emotion: int
    content_key: str  # pairing key: same utterance, frame-aligned across emotions
    content_id: str  # sentence id (manifest) or the pairing key
    speaker: str | None
    split: str | None
    num_frames: int  # aligned length: min(audio frames, rig rows)


@dataclass(frozen=True)
class Clip:
    """One loaded clip, audio and rig cut to the same length."""

    name: str
    audio: np.ndarray  # (n,) float32 at 16 kHz, num_frames(n) == T
    rig: np.ndarray  # (T, 174) float32
    emotion: int
    transcript: str | None
    content_id: str
    content_key: str
    speaker: str | None


def cut_to(clip: Clip, frames: int) -> Clip:
    """`clip` shortened to its first `frames` rig frames and the matching audio."""
    frames = min(frames, clip.rig.shape[0])
    return Clip(
        name=clip.name,
        audio=clip.audio[: samples_for_frames(frames)],
        rig=clip.rig[:frames],
        emotion=clip.emotion,
        transcript=clip.transcript,
        content_id=clip.content_id,
        content_key=clip.content_key,
        speaker=clip.speaker,
    )


def cut_pair(a: Clip, b: Clip) -> tuple[Clip, Clip]:
    """Both clips cut to the shorter one's length (the release does the same)."""
    frames = min(a.rig.shape[0], b.rig.shape[0])
    return cut_to(a, frames), cut_to(b, frames)


def _count_rows(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(1 for line in handle if line.strip())


def _audio_frames(path: Path) -> int:
    import soundfile as sf

    info = sf.info(str(path))
    return num_frames(int(info.frames * SAMPLE_RATE / info.samplerate))


def _read_manifest(root: Path) -> dict[str, dict[str, str]]:
    path = root / "manifest.csv"
    if not path.is_file():
        return {}
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    if rows and "name" not in rows[0]:
        raise DatasetError(f"{path}: manifest needs a 'name' column")
    return {row["name"]: row for row in rows}


class EmoFaceDataset:
    """Clips of one EmoFace-layout folder, optionally one split of its manifest.

    Loading is lazy; `cache=True` keeps loaded clips in memory (training reads them every epoch).
    """

    def __init__(self, root: str | Path | Sequence[str | Path], split: str | None = None, cache: bool = True) -> None:
        # Several folders train as one set (synthetic plus pseudo-labelled real speech); `root` is the first.
        self.roots = [Path(r) for r in ([root] if isinstance(root, (str, Path)) else root)]
        if not self.roots:
            raise DatasetError("no dataset folder given")
        self.root = self.roots[0]
        self.split = split
        self.cache = cache
        self.skipped: list[tuple[str, str]] = []  # (name, reason) of every clip left out
        self.clips: list[ClipInfo] = self._scan()
        self._loaded: dict[int, Clip] = {}
        self._by_content: dict[str, list[int]] = defaultdict(list)
        self._by_emotion: dict[int, list[int]] = defaultdict(list)
        for index, info in enumerate(self.clips):
            self._by_content[info.content_key].append(index)
            self._by_emotion[info.emotion].append(index)

    def _scan(self) -> list[ClipInfo]:
        clips = [info for root in self.roots for info in self._scan_root(root)]
        if not clips:
            where = ", ".join(map(str, self.roots))
            raise DatasetError(f"{where}: no clips in split {self.split!r}" if self.split is not None
                               else f"{where}: no usable clips")
        names = [info.name for info in clips]
        if len(set(names)) != len(names):
            raise DatasetError(f"clip names repeat across {', '.join(map(str, self.roots))}: each must be unique")
        return clips

    def _scan_root(self, root: Path) -> list[ClipInfo]:
        wav_dir = root / "WAV"
        if not wav_dir.is_dir():
            raise DatasetError(f"{root} is not an EmoFace-layout dataset: no WAV/ folder")
        rig_dirs = [root / d for d in RIG_FOLDERS if (root / d).is_dir()]
        if not rig_dirs:
            raise DatasetError(f"{root} has no rig folder ({' or '.join(RIG_FOLDERS)})")
        manifest = _read_manifest(root)
        if self.split is not None and not manifest:
            logger.warning("%s has no manifest.csv: split %r cannot be selected, using every clip", root, self.split)
        clips = []
        skipped_before = len(self.skipped)
        for audio_path in sorted(p for p in wav_dir.iterdir() if p.suffix.lower() in AUDIO_SUFFIXES):
            name = audio_path.stem
            row = manifest.get(name, {})
            if self.split is not None and manifest and row.get("split") != self.split:
                continue
            info = self._scan_clip(root, name, audio_path, rig_dirs, row)
            if info is not None:
                clips.append(info)
        skipped = len(self.skipped) - skipped_before
        if skipped:
            logger.warning("%s: skipped %d clip(s) of %d", root, skipped, len(clips) + skipped)
        return clips

    def _skip(self, name: str, reason: str) -> None:
        logger.warning("skipping clip %s: %s", name, reason)
        self.skipped.append((name, reason))

    def _scan_clip(self, root: Path, name: str, audio_path: Path, rig_dirs: list[Path],
                   row: dict[str, str]) -> ClipInfo | None:
        rig_path = next((d / f"{name}.txt" for d in rig_dirs if (d / f"{name}.txt").is_file()), None)
        if rig_path is None:
            self._skip(name, "no rig file")
            return None
        try:
            emotion = emotion_from_name(name)
        except DatasetError as exc:
            self._skip(name, str(exc))
            return None
        try:
            audio_frames = _audio_frames(audio_path)
        except Exception as exc:  # libsndfile raises several types for corrupt files
            self._skip(name, f"unreadable audio ({exc})")
            return None
        rig_frames = _count_rows(rig_path)
        if abs(audio_frames - rig_frames) > MAX_FRAME_MISMATCH:
            self._skip(name, f"audio is {audio_frames} frames but rig is {rig_frames}")
            return None
        if min(audio_frames, rig_frames) == 0:
            self._skip(name, "empty clip")
            return None
        transcript_path = root / "TXT" / f"{name}.txt"
        key = content_key(name)
        return ClipInfo(
            name=name,
            root=root,
            audio_path=audio_path,
            rig_path=rig_path,
            transcript_path=transcript_path if transcript_path.is_file() else None,
            emotion=emotion,
            content_key=key,
            content_id=row.get("content_id") or key,
            speaker=row.get("speaker") or None,
            split=row.get("split") or None,
            num_frames=min(audio_frames, rig_frames),
        )

    def __len__(self) -> int:
        return len(self.clips)

    def __iter__(self) -> Iterator[Clip]:
        return (self[i] for i in range(len(self)))

    def __getitem__(self, index: int) -> Clip:
        if index in self._loaded:
            return self._loaded[index]
        clip = self._load(self.clips[index])
        if self.cache:
            self._loaded[index] = clip
        return clip

    def _load(self, info: ClipInfo) -> Clip:
        audio = load_audio(info.audio_path)
        try:
            rig = np.loadtxt(info.rig_path, delimiter=",", dtype=np.float32, ndmin=2)
        except ValueError as exc:
            raise DatasetError(f"cannot read rig file {info.rig_path}: {exc}") from None
        if rig.shape[1] != NUM_CONTROLS:
            raise DatasetError(f"rig file {info.rig_path} has {rig.shape[1]} columns, expected {NUM_CONTROLS}")
        transcript = info.transcript_path.read_text(encoding="utf-8").strip() if info.transcript_path else None
        clip = Clip(
            name=info.name,
            audio=audio,
            rig=rig,
            emotion=info.emotion,
            transcript=transcript or None,
            content_id=info.content_id,
            content_key=info.content_key,
            speaker=info.speaker,
        )
        return cut_to(clip, min(num_frames(audio.shape[0]), rig.shape[0]))

    def load_pair(self, i: int, j: int) -> tuple[Clip, Clip]:
        return cut_pair(self[i], self[j])

    def pairs(self, kind: PairKind, rng: random.Random | None = None) -> list[tuple[int, int]]:
        """Index pairs for one cross-reconstruction phase, shuffled by `rng` when given.

        same_content: same utterance, different emotion (every ordered pair);
        same_emotion: same emotion, different utterance (one random partner per clip);
        arbitrary: one random partner per clip, any emotion and content.
        """
        rng = rng or random.Random(0)
        result: list[tuple[int, int]] = []
        if kind == "same_content":
            for members in self._by_content.values():
                result += [(a, b) for a in members for b in members if self.clips[a].emotion != self.clips[b].emotion]
        elif kind == "same_emotion":
            for index, info in enumerate(self.clips):
                partners = [j for j in self._by_emotion[info.emotion] if self.clips[j].content_key != info.content_key]
                if partners:
                    result.append((index, rng.choice(partners)))
        elif kind == "arbitrary":
            for index in range(len(self.clips)):
                result.append((index, rng.randrange(len(self.clips))))
        else:
            raise MedtalkError(f"unknown pair kind {kind!r}: use same_content, same_emotion or arbitrary")
        rng.shuffle(result)
        return result

    def summary(self) -> str:
        seconds = sum(info.num_frames for info in self.clips) / FPS
        counts = ", ".join(f"{EMOTIONS[e]} {len(v)}" for e, v in sorted(self._by_emotion.items()))
        text = f"{len(self.clips)} clips, {seconds / 60:.1f} min ({counts})"
        if self.skipped:
            text += f"; {len(self.skipped)} skipped"
        return text
