"""Pseudo-rigs from real speech: a corpus in, an EmoFace-layout training set out.

    OUT/WAV/neutral_<name>.wav     the utterance at 16 kHz
    OUT/CTR/neutral_<name>.txt     T x 174 rig at 60 fps: articulation from the aligned phones, a
                                   neutral upper face with blinks and gaze drift
    OUT/TXT/neutral_<name>.txt     the transcript
    OUT/ALIGN/neutral_<name>.tsv   the forced alignment: kind (phone | word), label, start, end (s)
    OUT/manifest.csv               name, emotion, content_id, speaker, split (drawn per speaker)
    OUT/report.csv                 every utterance: kept or the reason it was skipped, and its score

Each transcript is aligned to its audio offline (align.py); the phone timings drive the same
coarticulated articulation (visemes.py) as the synthetic generator, so real and synthetic rigs
speak one articulatory language. Real speech carries no acted emotion, so every clip is
neutral. Alignment is the slow part (about 9x real time on one core), so an ALIGN/ file that
already exists is read instead of aligning again: re-running after a change to the articulation
rebuilds every rig in seconds.
"""

from __future__ import annotations

import csv
import logging
import multiprocessing
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import rig
from ..audio import SAMPLE_RATE, load_audio, num_frames, write_audio
from ..errors import DatasetError, MedtalkError
from . import expressions, visemes
from .align import Aligner, Alignment, AlignmentError, DEFAULT_MIN_SCORE, Phone, Word
from .corpora import CorpusLayout, SpeechItem, read_corpus
from .synth import MANIFEST_FIELDS, SPLITS

logger = logging.getLogger(__name__)

EMOTION = "neutral"
MAX_SECONDS = 35.0  # longer recordings are skipped: a training window is 3 s and alignment cost grows
REPORT_FIELDS = ("name", "source", "speaker", "status", "score", "seconds", "reason")


@dataclass(frozen=True)
class CorpusOptions:
    """What `medtalk synth --corpus` reads and writes."""

    layout: CorpusLayout = "folder"  # librispeech | folder | an4
    seed: int = 0  # speaker splits, blinks and gaze
    workers: int = 2  # aligning processes
    limit: int | None = None  # at most this many utterances per speaker (None: all)
    min_score: float = DEFAULT_MIN_SCORE  # alignment quality below which an utterance is skipped
    val_fraction: float = 0.1  # share of speakers held out for validation
    test_fraction: float = 0.1  # share of speakers held out for testing
    prefix: str = ""  # put before every clip name (keeps names unique when corpora are merged)


@dataclass(frozen=True)
class CorpusSummary:
    out_dir: Path
    utterances: int
    kept: int
    seconds_kept: float
    wall_seconds: float
    skipped: dict[str, str] = field(default_factory=dict)  # name -> reason
    split_speakers: dict[str, int] = field(default_factory=dict)


def clip_name(item: SpeechItem, prefix: str) -> str:
    return f"{EMOTION}_{prefix}{item.name}"


def write_alignment(path: Path, alignment: Alignment) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, delimiter="\t")
        writer.writerow(("kind", "label", "start", "end"))
        writer.writerow(("score", f"{alignment.score:.3f}", "0", "0"))
        for p in alignment.phones:
            writer.writerow(("phone", p.name, f"{p.start:.3f}", f"{p.end:.3f}"))
        for w in alignment.words:
            writer.writerow(("word", w.text, f"{w.start:.3f}", f"{w.end:.3f}"))


def read_alignment(path: Path) -> Alignment:
    phones, words, score = [], [], 0.0
    with open(path, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            if row["kind"] == "score":
                score = float(row["label"])
            elif row["kind"] == "phone":
                phones.append(Phone(row["label"], float(row["start"]), float(row["end"])))
            elif row["kind"] == "word":
                words.append(Word(row["label"], float(row["start"]), float(row["end"])))
    return Alignment(tuple(phones), tuple(words), score)


def pseudo_rig(alignment: Alignment, audio: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(T, 174) rig for `audio` (16 kHz): articulation from the aligned phones, neutral upper face."""
    frames = num_frames(len(audio))
    end_s = len(audio) / SAMPLE_RATE
    phonemes = tuple((p.ipa, p.start) for p in alignment.phones)
    lips = visemes.articulate(visemes.segments(phonemes, end_s), frames)  # (T, 174)
    words = [expressions.WordSpan(w.text, w.start, max(w.end, w.start + 1 / 60)) for w in alignment.words]
    weights = expressions.word_weights(words, audio)
    intensity = expressions.intensity_curve(words, weights, frames, base=1.0)
    return rig.clamp(lips + expressions.express(EMOTION, intensity, rng))


@dataclass(frozen=True)
class _Job:
    item: SpeechItem
    name: str
    out_dir: str
    seed: int
    min_score: float


_ALIGNER: Aligner | None = None  # one decoder per worker process


def _aligner(min_score: float) -> Aligner:
    global _ALIGNER
    if _ALIGNER is None or _ALIGNER.min_score != min_score:
        _ALIGNER = Aligner(min_score)
    return _ALIGNER


def process(job: _Job) -> dict[str, str]:
    """Align (or reuse the alignment of) one utterance and write its clip; a report row."""
    out = Path(job.out_dir)
    row = {"name": job.name, "source": str(job.item.audio), "speaker": job.item.speaker, "status": "skipped",
           "score": "", "seconds": "", "reason": ""}
    try:
        audio = load_audio(job.item.audio)
        seconds = len(audio) / SAMPLE_RATE
        row["seconds"] = f"{seconds:.2f}"
        if seconds > MAX_SECONDS:
            raise AlignmentError(f"longer than {MAX_SECONDS:.0f} s")
        if not np.isfinite(audio).all():
            raise AlignmentError("audio holds NaN or infinite samples")
        align_path = out / "ALIGN" / f"{job.name}.tsv"
        if not align_path.is_file():
            write_alignment(align_path, _aligner(job.min_score).align(audio, job.item.transcript))
        alignment = read_alignment(align_path)  # as written, so a re-run builds the very same rig
        rng = np.random.default_rng([job.seed, *job.name.encode()])
        face = pseudo_rig(alignment, audio, rng)
    except MedtalkError as exc:
        row["reason"] = str(exc)
        return row
    write_audio(out / "WAV" / f"{job.name}.wav", audio)
    np.savetxt(out / "CTR" / f"{job.name}.txt", face, fmt="%.5f", delimiter=",")
    (out / "TXT" / f"{job.name}.txt").write_text(job.item.transcript + "\n", encoding="utf-8")
    row.update(status="kept", score=f"{alignment.score:.2f}")
    return row


def speaker_splits(speakers: list[str], seed: int, val_fraction: float, test_fraction: float) -> dict[str, str]:
    """Speaker -> split: whole speakers are held out (a single speaker trains)."""
    ids = sorted(set(speakers))
    order = np.random.default_rng([seed, 11]).permutation(len(ids))
    n_test = int(round(test_fraction * len(ids))) if len(ids) >= 3 else 0
    n_val = int(round(val_fraction * len(ids))) if len(ids) >= 3 else 0
    if len(ids) >= 3:
        n_test, n_val = max(1, n_test), max(1, n_val)
    return {ids[k]: "test" if rank < n_test else "val" if rank < n_test + n_val else "train"
            for rank, k in enumerate(order)}


def _select(items: list[SpeechItem], limit: int | None) -> list[SpeechItem]:
    if limit is None:
        return items
    taken: dict[str, int] = {}
    out = []
    for item in items:
        if taken.get(item.speaker, 0) < limit:
            taken[item.speaker] = taken.get(item.speaker, 0) + 1
            out.append(item)
    return out


def generate_from_corpus(corpus: str | Path, out_dir: str | Path, options: CorpusOptions = CorpusOptions()
                         ) -> CorpusSummary:
    """Align every utterance of `corpus` and write the pseudo-rig dataset into `out_dir` (created,
    or reused: existing alignments are read, clips rewritten)."""
    started = time.perf_counter()
    if options.workers < 1:
        raise MedtalkError("--workers must be at least 1")
    items = _select(read_corpus(corpus, options.layout), options.limit)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise DatasetError(f"output path {out} exists and is not a folder")
    for sub in ("WAV", "CTR", "TXT", "ALIGN"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    jobs = [_Job(item, clip_name(item, options.prefix), str(out), options.seed, options.min_score) for item in items]
    ctx = multiprocessing.get_context("forkserver")
    with ctx.Pool(min(options.workers, len(jobs))) as pool:
        rows = list(pool.imap(process, jobs, chunksize=4))
    splits = speaker_splits([item.speaker for item in items], options.seed, options.val_fraction,
                            options.test_fraction)
    kept = [(job, row) for job, row in zip(jobs, rows) if row["status"] == "kept"]
    with open(out / "manifest.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=MANIFEST_FIELDS)
        writer.writeheader()
        for job, _ in kept:
            writer.writerow({"name": job.name, "emotion": EMOTION, "content_id": job.name.split("_", 1)[1],
                             "speaker": job.item.speaker, "split": splits[job.item.speaker]})
    with open(out / "report.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=REPORT_FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    skipped = {row["name"]: row["reason"] for row in rows if row["status"] != "kept"}
    for name, reason in skipped.items():
        logger.warning("skipping %s: %s", name, reason)
    return CorpusSummary(out, len(items), len(kept), sum(float(r["seconds"]) for _, r in kept),
                         time.perf_counter() - started, skipped,
                         {s: sum(1 for v in set(splits.items()) if v[1] == s) for s in SPLITS})
