"""The synthetic seven-emotion dataset, in the EmoFace layout (what `medtalk synth` writes).

    OUT/WAV/<name>.wav   16 kHz mono speech        name = <emotion>_s<sentence>_v<voice>
    OUT/CTR/<name>.txt   T x 174 rig at 60 fps     T = int(samples * 60 / 16000)
    OUT/TXT/<name>.txt   the transcript
    OUT/ALIGN/<name>.tsv word, start, end (s), intensity weight: for plots and inspection
    OUT/manifest.csv     name, emotion, content_id, speaker, split

Every sentence is spoken by espeak-ng seven times per voice, once per emotion, with its own
rate, pitch, pitch range, amplitude and voice variant (plus seeded jitter). The neutral
rendition is the reference timeline: every rendition's audio is time-warped (WSOLA, pitch kept)
phoneme by phoneme onto it, so all seven have the same length and the same phoneme times, and
one articulation track (visemes.py) drives the lips of all seven. Emotion (expressions.py) is
layered on S_emo rows only, so rigmap.articulatory_rows() are identical across the seven
renditions frame for frame, while brows, eyes, cheeks, nose and mouth corners differ.
Splits are drawn per sentence, so no sentence appears in two splits.
"""

from __future__ import annotations

import csv
import logging
import multiprocessing
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from .. import rig
from ..audio import SAMPLE_RATE, num_frames, resample, write_audio
from ..errors import DatasetError, MedtalkError
from . import espeak, expressions, visemes
from .timewarp import anchors, wsola

logger = logging.getLogger(__name__)

MANIFEST_FIELDS = ("name", "emotion", "content_id", "speaker", "split")
SPLITS = ("train", "val", "test")
PAD_S = 0.15  # silence before and after each utterance, so the face starts and ends at rest


@dataclass(frozen=True)
class Prosody:
    """How one emotion changes the speaker's voice."""

    rate: float  # multiplier of the speaker's rate
    pitch: int  # espeak pitch 0..100 (50 = the voice's own)
    pitch_range: int  # espeak intonation range 0..100
    volume: int  # espeak amplitude 0..200
    variant_shift: int  # step within the speaker's variant family (0 = the speaker's own variant)


PROSODY: dict[str, Prosody] = {
    "angry": Prosody(rate=1.12, pitch=46, pitch_range=85, volume=165, variant_shift=2),
    "disgust": Prosody(rate=0.86, pitch=40, pitch_range=40, volume=105, variant_shift=1),
    "fear": Prosody(rate=1.18, pitch=70, pitch_range=72, volume=85, variant_shift=3),
    "happy": Prosody(rate=1.08, pitch=64, pitch_range=88, volume=125, variant_shift=0),
    "neutral": Prosody(rate=1.00, pitch=50, pitch_range=50, volume=100, variant_shift=0),
    "sad": Prosody(rate=0.80, pitch=36, pitch_range=18, volume=70, variant_shift=4),
    "surprised": Prosody(rate=1.04, pitch=72, pitch_range=98, volume=130, variant_shift=0),
}
_VARIANTS = {"m": ("m1", "m2", "m3", "m4", "m5", "m6", "m7"), "f": ("f1", "f2", "f3", "f4", "f5")}
# Speaker k: (variant family, index of its own variant, base rate wpm). All American English so
# that every rendition of a sentence has the same phonemes.
SPEAKERS: tuple[tuple[str, int, int], ...] = (
    ("m", 2, 170), ("f", 1, 175), ("m", 0, 165), ("f", 3, 180), ("m", 5, 172), ("f", 4, 168),
    ("m", 3, 178), ("f", 0, 172),
)


@dataclass(frozen=True)
class SynthOptions:
    """What `medtalk synth` generates."""

    sentences: int | None = None  # how many sentences to speak (None = all of the source)
    seed: int = 0  # fixes sentence choice, voice jitter, blinks and splits
    voices: int = 1  # speaker voices per sentence (each speaks all seven emotions)
    workers: int = 2  # rendering processes at a time (a fresh one per sentence and voice)
    text_file: Path | None = None  # one sentence per line; None = the shipped sentences
    val_fraction: float = 0.1  # share of sentences in the validation split
    test_fraction: float = 0.1  # share of sentences in the test split
    espeak_library: str | None = None  # libespeak-ng file name; None = found on the system


@dataclass(frozen=True)
class _Job:
    content_id: str
    text: str
    speaker: int
    seed: int
    out_dir: str
    library: str | None


@dataclass(frozen=True)
class SynthSummary:
    """What a run wrote."""

    out_dir: Path
    clips: int
    sentences: int
    voices: int
    seconds_of_audio: float
    wall_seconds: float
    split_sentences: dict[str, int] = field(default_factory=dict)


def load_sentences(text_file: Path | None = None) -> list[tuple[str, str]]:
    """(content id, sentence) pairs: the shipped list or one sentence per non-empty line of a file."""
    if text_file is None:
        text = resources.files("medtalk_core").joinpath("assets/sentences.txt").read_text(encoding="utf-8")
    else:
        path = Path(text_file)
        if not path.is_file():
            raise DatasetError(f"text file not found: {path}")
        text = path.read_text(encoding="utf-8")
    lines = [ln.strip() for ln in text.splitlines()]
    sentences = [(f"s{i:04d}", ln) for i, ln in enumerate(lines) if ln and not ln.startswith("#")]
    if not sentences:
        raise DatasetError(f"no sentences in {text_file or 'the shipped list'}")
    return sentences


def _voice(speaker: int, emotion: str, rng: np.random.Generator) -> espeak.Voice:
    family, own, base_rate = SPEAKERS[speaker % len(SPEAKERS)]
    p = PROSODY[emotion]
    variants = _VARIANTS[family]
    jitter = rng.normal(0.0, 1.0, size=4)  # drawn for every emotion so the stream stays aligned
    return espeak.Voice(
        name=f"en-us+{variants[(own + p.variant_shift) % len(variants)]}",
        rate=int(np.clip(base_rate * p.rate * (1 + 0.04 * jitter[0]), 90, 400)),
        pitch=int(np.clip(p.pitch + 3 * jitter[1], 0, 100)),
        pitch_range=int(np.clip(p.pitch_range + 5 * jitter[2], 0, 100)),
        volume=int(np.clip(p.volume * (1 + 0.05 * jitter[3]), 10, 200)),
    )


def _timeline(utt: espeak.Utterance) -> np.ndarray:
    """Phoneme start times plus the end of the audio, in seconds."""
    return np.array([t for _, t in utt.phonemes] + [len(utt.audio) / utt.sample_rate])


def _words(text: str, utt: espeak.Utterance) -> list[expressions.WordSpan]:
    """Word spans on `utt`'s timeline; a word ends at the next word or at the pause after it."""
    pauses = [t for name, t in utt.phonemes if name == ""]
    end_s = len(utt.audio) / utt.sample_rate
    spans = []
    for k, (pos, length, start) in enumerate(utt.words):
        stop = utt.words[k + 1][2] if k + 1 < len(utt.words) else end_s
        stop = min([p for p in pauses if p > start] + [stop])
        spans.append(expressions.WordSpan(text[pos:pos + length], start, max(stop, start + 1 / 60)))
    return spans


def _warp_to(utt: espeak.Utterance, ref: espeak.Utterance, out_len: int, lead_s: float) -> np.ndarray:
    """`utt`'s audio at 16 kHz, warped onto `ref`'s phoneme timeline delayed by `lead_s` of silence,
    exactly `out_len` samples."""
    audio = resample(utt.audio, utt.sample_rate, SAMPLE_RATE)
    if [n for n, _ in utt.phonemes] == [n for n, _ in ref.phonemes]:
        src, dst = _timeline(utt), _timeline(ref)
    else:  # espeak chose other phonemes (rare): align the words instead
        logger.debug("phonemes differ between renditions; aligning by words")
        n = min(len(utt.words), len(ref.words))
        src = np.array([0.0] + [w[2] for w in utt.words[:n]] + [len(utt.audio) / utt.sample_rate])
        dst = np.array([0.0] + [w[2] for w in ref.words[:n]] + [len(ref.audio) / ref.sample_rate])
    src, dst = anchors(src * SAMPLE_RATE, (dst + lead_s) * SAMPLE_RATE)
    warped = wsola(audio, src, dst, out_len)
    peak = float(np.abs(warped).max()) if warped.size else 0.0
    return warped / peak * 0.98 if peak > 0.98 else warped  # never clip the 16-bit file


def render(job: _Job) -> list[dict[str, str]]:
    """Speak one sentence with one voice in all seven emotions and write the 7 clips."""
    rng = np.random.default_rng([job.seed, int(job.content_id[1:]), job.speaker])
    eng = espeak.engine(job.library)
    utts = {emo: eng.synthesize(job.text, _voice(job.speaker, emo, rng)) for emo in rig.EMOTIONS}
    ref = utts["neutral"]
    out_len = len(resample(ref.audio, ref.sample_rate, SAMPLE_RATE)) + 2 * int(PAD_S * SAMPLE_RATE)
    frames = num_frames(out_len)
    phonemes = tuple((name, t + PAD_S) for name, t in ref.phonemes)
    lips = visemes.articulate(visemes.segments(phonemes, out_len / SAMPLE_RATE), frames)  # (T, 174)
    words = [expressions.WordSpan(w.text, w.start + PAD_S, w.end + PAD_S) for w in _words(job.text, ref)]
    out = Path(job.out_dir)
    rows = []
    for emo in rig.EMOTIONS:
        audio = _warp_to(utts[emo], ref, out_len, PAD_S)  # (out_len,)
        weights = expressions.word_weights(words, audio)
        intensity = expressions.intensity_curve(words, weights, frames, base=1.0 + 0.08 * rng.standard_normal())
        face = rig.clamp(lips + expressions.express(emo, intensity, rng))  # disjoint rows: a plain sum
        name = f"{emo}_{job.content_id}_v{job.speaker}"
        write_audio(out / "WAV" / f"{name}.wav", audio)
        np.savetxt(out / "CTR" / f"{name}.txt", face, fmt="%.5f", delimiter=",")
        (out / "TXT" / f"{name}.txt").write_text(job.text + "\n", encoding="utf-8")
        _write_alignment(out / "ALIGN" / f"{name}.tsv", words, weights)
        rows.append({"name": name, "emotion": emo, "content_id": job.content_id, "speaker": f"v{job.speaker}"})
    return rows


def _write_alignment(path: Path, words: list[expressions.WordSpan], weights: np.ndarray) -> None:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, delimiter="\t")
        writer.writerow(("word", "start", "end", "weight"))
        for w, g in zip(words, weights):
            writer.writerow((w.text, f"{w.start:.4f}", f"{w.end:.4f}", f"{g:.4f}"))


def assign_splits(content_ids: list[str], seed: int, val_fraction: float, test_fraction: float) -> dict[str, str]:
    """Sentence -> split, drawn per sentence (never per clip) with at least one val and test
    sentence when there are three or more."""
    ids = sorted(content_ids)
    order = np.random.default_rng([seed, 7]).permutation(len(ids))
    n_val = int(round(val_fraction * len(ids)))
    n_test = int(round(test_fraction * len(ids)))
    if len(ids) >= 3:
        n_val, n_test = max(1, n_val), max(1, n_test)
    split = {}
    for rank, k in enumerate(order):
        split[ids[k]] = "test" if rank < n_test else "val" if rank < n_test + n_val else "train"
    return split


def _prepare_out(out_dir: Path, force: bool) -> None:
    if out_dir.exists() and not out_dir.is_dir():
        raise DatasetError(f"output path {out_dir} exists and is not a folder")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not force:
        raise DatasetError(f"output folder {out_dir} is not empty; choose another or pass --force to write into it")
    for sub in ("WAV", "CTR", "TXT", "ALIGN"):
        (out_dir / sub).mkdir(parents=True, exist_ok=True)


def generate(out_dir: str | Path, options: SynthOptions = SynthOptions(), force: bool = False) -> SynthSummary:
    """Write the dataset; `force` lets it write into a non-empty folder (files are overwritten
    by name, nothing else is deleted)."""
    started = time.perf_counter()
    out_dir = Path(out_dir)
    if options.voices < 1 or options.workers < 1:
        raise MedtalkError("--voices and --workers must be at least 1")
    if options.voices > len(SPEAKERS):
        raise MedtalkError(f"--voices can be at most {len(SPEAKERS)}")
    pool_sentences = load_sentences(options.text_file)
    count = len(pool_sentences) if options.sentences is None else options.sentences
    if not 1 <= count <= len(pool_sentences):
        raise MedtalkError(f"--sentences must be between 1 and {len(pool_sentences)} (sentences available)")
    pick = np.sort(np.random.default_rng([options.seed, 1]).permutation(len(pool_sentences))[:count])
    chosen = [pool_sentences[i] for i in pick]
    # Fail fast, in this process, if espeak-ng is missing: one clear message, not one per worker.
    espeak.check_library(options.espeak_library)
    _prepare_out(out_dir, force)
    jobs = [_Job(cid, text, v, options.seed, str(out_dir), options.espeak_library)
            for cid, text in chosen for v in range(options.voices)]
    rows: list[dict[str, str]] = []
    # libespeak-ng carries state from one utterance to the next (its output for the same text drifts
    # by a few samples), so every sentence is rendered in a fresh process: forked from a clean
    # forkserver (which never initialises espeak-ng), it initialises the library once and exits.
    # That makes the output independent of --workers and of what ran before.
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload([__name__, "scipy.signal", "soundfile"])  # imported once, not per sentence
    with ctx.Pool(min(options.workers, len(jobs)), maxtasksperchild=1) as pool:
        for clip_rows in pool.imap(render, jobs, chunksize=1):
            rows.extend(clip_rows)
    splits = assign_splits([cid for cid, _ in chosen], options.seed, options.val_fraction, options.test_fraction)
    with open(out_dir / "manifest.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=MANIFEST_FIELDS)
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, "split": splits[row["content_id"]]})
    seconds = sum(_wav_seconds(out_dir / "WAV" / f"{r['name']}.wav") for r in rows)
    return SynthSummary(out_dir, len(rows), len(chosen), options.voices, seconds, time.perf_counter() - started,
                        {s: sum(1 for v in splits.values() if v == s) for s in SPLITS})


def _wav_seconds(path: Path) -> float:
    import soundfile as sf

    return sf.info(str(path)).duration
