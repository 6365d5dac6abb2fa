"""Readers for real speech corpora in their standard layouts: audio files with transcripts.

    librispeech  ROOT/<speaker>/<chapter>/<speaker>-<chapter>-<n>.flac  + <speaker>-<chapter>.trans.txt
                 (each line: "<utterance id> WORDS IN CAPITALS")
    folder       ROOT/**/<name>.<audio>  with <name>.txt or <name>.lab beside it (CMU ARCTIC style);
                 the speaker is the audio file's parent folder name
    an4          ROOT/etc/*.transcription ("<s> WORDS </s> (<utterance id>)" per line), audio at
                 ROOT/wav/**/<utterance id>.sph|.wav; the speaker is the id's middle field

Every reader yields `SpeechItem`s sorted by name, so a corpus reads the same everywhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Literal

from ..errors import DatasetError
from .emoface import AUDIO_SUFFIXES

CorpusLayout = Literal["librispeech", "folder", "an4"]
LAYOUTS: tuple[CorpusLayout, ...] = ("librispeech", "folder", "an4")
SPEECH_SUFFIXES = AUDIO_SUFFIXES + (".sph",)  # AN4 ships NIST SPHERE, which libsndfile reads
TRANSCRIPT_SUFFIXES = (".txt", ".lab")
_AN4_LINE = re.compile(r"^(?:<s>)?\s*(?P<text>.*?)\s*(?:</s>)?\s*\((?P<id>[^()\s]+)\)\s*$")


@dataclass(frozen=True)
class SpeechItem:
    """One utterance of a corpus."""

    name: str  # unique within the corpus; used for the output clip name
    audio: Path
    transcript: str
    speaker: str


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:  # older corpora are Latin-1
        return path.read_text(encoding="latin-1")


def read_librispeech(root: Path) -> Iterator[SpeechItem]:
    for trans in sorted(root.rglob("*.trans.txt")):
        for line in _read_text(trans).splitlines():
            uid, _, text = line.strip().partition(" ")
            if not uid or not text:
                continue
            audio = next((trans.parent / f"{uid}{s}" for s in SPEECH_SUFFIXES if (trans.parent / f"{uid}{s}").is_file()),
                         None)
            if audio is not None:
                yield SpeechItem(uid, audio, text.strip(), uid.split("-", 1)[0])


def read_folder(root: Path) -> Iterator[SpeechItem]:
    for audio in sorted(p for p in root.rglob("*") if p.suffix.lower() in SPEECH_SUFFIXES and p.is_file()):
        transcript = next((audio.with_suffix(s) for s in TRANSCRIPT_SUFFIXES if audio.with_suffix(s).is_file()), None)
        if transcript is None:
            continue
        text = " ".join(_read_text(transcript).split())
        if text:
            yield SpeechItem(audio.stem, audio, text, audio.parent.name)


def read_an4(root: Path) -> Iterator[SpeechItem]:
    audio_by_id = {p.stem: p for p in (root / "wav").rglob("*") if p.suffix.lower() in SPEECH_SUFFIXES}
    for listing in sorted((root / "etc").glob("*.transcription")):
        for line in _read_text(listing).splitlines():
            match = _AN4_LINE.match(line.strip())
            if match is None or not match["text"]:
                continue
            uid = match["id"]
            if uid in audio_by_id:
                parts = uid.split("-")
                yield SpeechItem(uid, audio_by_id[uid], match["text"], parts[1] if len(parts) > 2 else uid)


_READERS: dict[str, Callable[[Path], Iterator[SpeechItem]]] = {
    "librispeech": read_librispeech, "folder": read_folder, "an4": read_an4}


def read_corpus(root: str | Path, layout: CorpusLayout) -> list[SpeechItem]:
    """Every utterance under `root` read with `layout`, sorted by name; DatasetError when none."""
    root = Path(root)
    if layout not in _READERS:
        raise DatasetError(f"unknown corpus layout {layout!r}; use one of {', '.join(LAYOUTS)}")
    if not root.is_dir():
        raise DatasetError(f"corpus folder not found: {root}")
    items = sorted(_READERS[layout](root), key=lambda item: item.name)
    if not items:
        raise DatasetError(f"no utterances with transcripts found in {root} as a {layout} corpus")
    names = [item.name for item in items]
    if len(set(names)) != len(names):
        raise DatasetError(f"{root}: utterance names repeat; each must be unique in a {layout} corpus")
    return items
