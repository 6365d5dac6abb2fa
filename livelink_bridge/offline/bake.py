"""Batch bake: audio files or folders in, animation files out, batched through the model.

A bake never stops for one bad file: a corrupt, silent or too-short file is recorded in the
report and the rest are baked. Outputs that already exist are skipped unless `force`; each is
written atomically (`writers.OutputSet`), so an interrupted bake leaves no half-written file.

Guidance for each file, first match wins: its row in the CSV manifest (`--guidance-file`), its
sidecar `<name>.yaml` next to the audio, the command-line choice, then neutral. An image path in
a sidecar or the manifest is followed only into the folders `allowed_folders` names.
The line's words, when a cinematics team has its script, come from the manifest's or sidecar's
`transcript`, else a `<name>.txt` beside the audio; only files with neither are transcribed.
Head and eye motion (`medtalk_core.head_eyes`, from the file's loudness, shaped by an emotion
label's style) is written as rotation curves beside the face (take format version 2) unless
`BakeOptions.head_eyes.enabled` is off, which writes version 1 files, face curves alone.
"""

from __future__ import annotations

import csv
import dataclasses
import logging
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from medtalk_core.allowed_paths import AllowedFolders
from medtalk_core.config import from_mapping, parse_yaml
from medtalk_core.curve_sets import CurveSet
from medtalk_core.errors import MedtalkError
from medtalk_core.head_eyes import HeadEyes, HeadEyesConfig, frame_energy_db
from medtalk_core.rig import EMOTIONS, emotion_id
from medtalk_core.protocols import BakeAnimator, GuidanceEncoder
from medtalk_core.long_audio import SILENCE_PEAK, AudioFileReader, WindowOptions, animate_file, plan_windows
from medtalk_core.audio import AUDIO_SUFFIXES, MAX_INPUT_S, num_frames

from livelink_bridge.offline.writers import OutputSet, parse_formats

logger = logging.getLogger(__name__)

@dataclasses.dataclass(frozen=True)
class GuidanceChoice:
    """How one file is guided: exactly one of emotion, text or image (none = neutral)."""

    emotion: str | int | None = None  # label name, 3-letter prefix or id 0-6
    text: str | None = None  # a description for CLIP text guidance ("a tired, reluctant smile")
    image: str | None = None  # path of a reference face picture for CLIP image guidance
    strength: float = 1.0  # how strongly the guidance is applied
    transcript: str | None = None  # the line's words (FIM text branch); not guidance, kept per file

    def __post_init__(self) -> None:
        given = [k for k in ("emotion", "text", "image") if getattr(self, k) not in (None, "")]
        if len(given) > 1:
            raise MedtalkError(f"give only one of emotion, text or image guidance, got {', '.join(given)}")
        if isinstance(self.emotion, bool) or not isinstance(self.emotion, (str, int, type(None))):
            raise MedtalkError(f"emotion must be a label name or an id 0-6, got a {type(self.emotion).__name__}")

    def resolved(self, base: Path, allowed: AllowedFolders) -> "GuidanceChoice":
        """The image path, written relative to `base` (the folder of the sidecar or manifest), made
        absolute; refused when it leads outside the `allowed` folders."""
        if not self.image:
            return self
        return dataclasses.replace(self, image=str(allowed.resolve(self.image, base, what="image path")))


NEUTRAL = GuidanceChoice(emotion="neutral")

_ENERGY_BLOCK = 800 * 60 * 20  # samples read at a time for the loudness: a minute at 16 kHz, a whole
# number of 3-frame steps (800 samples), so the frames of each block are the file's own frames


def file_energy_db(reader: AudioFileReader) -> np.ndarray:
    """The (frames,) loudness of a whole file, `frame_energy_db` read a block at a time."""
    blocks = [frame_energy_db(reader.read(start, min(start + _ENERGY_BLOCK, reader.num_samples)))
              for start in range(0, reader.num_samples, _ENERGY_BLOCK)]
    return np.concatenate([np.zeros(0, np.float32), *blocks])[:num_frames(reader.num_samples)]


def head_eyes_of(energy_db: np.ndarray, cfg: HeadEyesConfig, emotion: str | int | None) -> np.ndarray:
    """The (frames, 6) head and eye motion of a take from its frame loudness; an emotion label
    (name, prefix or id) shapes it, None moves it as neutral (text and image guidance)."""
    label = EMOTIONS[emotion_id(emotion)] if emotion not in (None, "") else "neutral"
    return HeadEyes(cfg).step(energy_db, label)


@dataclasses.dataclass(frozen=True)
class BakeOptions:
    formats: tuple[str, ...] = ("csv",)  # output formats, each one file per input
    fps: float = 60.0  # output frame rate; other than 60 resamples the curves linearly in time
    force: bool = False  # rewrite outputs that already exist
    batch_size: int = 0  # clips (or windows) per model call; 0 = 16 on CPU, 32 on CUDA
    curves: CurveSet = "board"  # "board" (174 controls) or "expressions" (CTRL_expressions_* curves)
    face_board: str = "classic"  # board whose wiring derives the expressions: "classic" | "mh4"
    transcribe: bool = False  # transcribe files with no script line (slow); off: the audio-only intensity head
    window: WindowOptions = WindowOptions()  # how long files are cut into overlapping windows
    max_duration_s: float = MAX_INPUT_S  # a longer file (by its header) fails before decoding; 0 = no cap
    head_eyes: HeadEyesConfig = HeadEyesConfig()  # head and eye motion; enabled=False: no rotation curves


@dataclasses.dataclass
class BakeJob:
    audio: Path
    targets: dict[str, Path]  # format -> output path (only the ones to write)
    guidance: GuidanceChoice
    reader: AudioFileReader | None = None
    transcript: str | None = None  # known words; None = transcribe (or audio-only head)


@dataclasses.dataclass
class BakeReport:
    baked: list[Path] = dataclasses.field(default_factory=list)
    skipped: list[Path] = dataclasses.field(default_factory=list)
    failed: list[tuple[Path, str]] = dataclasses.field(default_factory=list)
    audio_s: float = 0.0  # seconds of audio baked
    wall_s: float = 0.0

    @property
    def realtime_factor(self) -> float:
        return self.audio_s / self.wall_s if self.wall_s > 0 else 0.0


def find_inputs(paths: Sequence[str | Path]) -> tuple[list[tuple[Path, Path]], list[tuple[Path, str]]]:
    """Files and folders (recursive) -> ([(audio file, output stem relative to the out dir)],
    [(audio file, reason)] for files that cannot be baked apart: two inputs with one output stem,
    such as `x.wav` beside `x.ogg`, fail alone, and the rest are baked)."""
    found: list[tuple[Path, Path]] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
            if not files:
                logger.warning("no audio files (%s) under %s", ", ".join(AUDIO_SUFFIXES), path)
            found += [(f, f.relative_to(path).with_suffix("")) for f in files]
        elif path.is_file():
            found.append((path, Path(path.stem)))
        else:
            raise MedtalkError(f"input not found: {path}")
    unique = list({a.resolve(): (a, s) for a, s in found}.values())
    by_stem: dict[Path, list[Path]] = {}
    for audio, stem in unique:
        by_stem.setdefault(stem, []).append(audio)
    clashes = {stem: files for stem, files in by_stem.items() if len(files) > 1}
    failed = [(audio, f"{' and '.join(map(str, files))} would {'both' if len(files) == 2 else 'all'} be baked "
                      f"to {stem}.*; rename one or bake them separately")
              for stem, files in clashes.items() for audio in files]
    return [(a, s) for a, s in unique if s not in clashes], failed


def allowed_folders(inputs: Iterable[str | Path], manifest: str | Path | None,
                    default: GuidanceChoice) -> AllowedFolders:
    """Where sidecar and manifest image paths may lead: the input folders (a file's own folder),
    the manifest's folder, the current folder and the folder of a command-line --image."""
    folders = [Path(p) if Path(p).is_dir() else Path(p).parent for p in inputs]
    folders += [Path(manifest).parent] if manifest else []
    folders += [Path(default.image).parent] if default.image else []
    return AllowedFolders.of([*folders, Path.cwd()])


def read_manifest(path: str | Path, allowed: AllowedFolders) -> dict[Path, GuidanceChoice]:
    """CSV with a header: file, and any of emotion, text, image, strength. Paths relative to it;
    images only under the `allowed` folders."""
    path = Path(path)
    if not path.is_file():
        raise MedtalkError(f"guidance manifest not found: {path}")
    columns = {f.name for f in dataclasses.fields(GuidanceChoice)}
    out: dict[Path, GuidanceChoice] = {}
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            header = reader.fieldnames or []
            if "file" not in header:
                raise MedtalkError(f"guidance manifest {path} needs a 'file' column (and emotion, text or image)")
            unknown = [c for c in header if c != "file" and c not in columns]
            if unknown:
                raise MedtalkError(f"guidance manifest {path}: unknown column(s) {', '.join(unknown)}")
            for line, row in enumerate(reader, start=2):
                try:
                    if None in row:  # DictReader puts fields past the header under None
                        raise MedtalkError(f"{len(header) + len(row[None])} fields, the header has {len(header)}")
                    values: dict[str, Any] = {k: v.strip() for k, v in row.items() if k != "file" and v and v.strip()}
                    if "strength" in values:
                        values["strength"] = float(values["strength"])
                    choice = GuidanceChoice(**values).resolved(path.parent, allowed)
                except (ValueError, MedtalkError) as exc:
                    raise MedtalkError(f"guidance manifest {path} line {line}: {exc}") from None
                out[(path.parent / (row["file"] or "").strip()).resolve()] = choice
    except UnicodeDecodeError:
        raise MedtalkError(f"guidance manifest {path} is not UTF-8 text; save it as UTF-8") from None
    except (csv.Error, OSError) as exc:  # a field over csv's size limit, an unreadable file
        raise MedtalkError(f"cannot read guidance manifest {path}: {exc}") from None
    return out


def read_side_file(path: Path) -> str | None:
    """The text of a side file (script line, sidecar) beside an audio file; None when there is
    none. Unreadable or not UTF-8: MedtalkError, which fails that audio file alone."""
    if not path.is_file():
        return None
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise MedtalkError(f"{path} is not UTF-8 text (byte {exc.start}: {exc.object[exc.start:exc.start + 1]!r}); "
                           "save it as UTF-8") from None
    except OSError as exc:
        raise MedtalkError(f"cannot read {path}: {exc.strerror or exc}") from None


def script_line(audio: Path) -> str | None:
    """The words of a line from `<name>.txt` beside its audio, if there is one."""
    text = read_side_file(audio.with_suffix(".txt"))
    return (text or "").strip() or None


def sidecar_guidance(audio: Path, allowed: AllowedFolders) -> GuidanceChoice | None:
    """`<name>.yaml` beside the audio (keys: emotion | text | image, strength), if there is one;
    its image only under the `allowed` folders."""
    sidecar = audio.with_suffix(".yaml")
    text = read_side_file(sidecar)
    if text is None:
        return None
    choice = from_mapping(GuidanceChoice, parse_yaml(text, sidecar), where=sidecar.name)
    return choice.resolved(sidecar.parent, allowed)


class GuidanceCache:
    """Guidance features from the animator, computed once per distinct choice."""

    def __init__(self, animator: GuidanceEncoder) -> None:
        self._animator = animator
        self._features: dict[GuidanceChoice, tuple[Any, str]] = {}  # choice -> (feature, path)

    def __call__(self, choice: GuidanceChoice) -> Any:
        return self._resolve(choice)[0]

    def path(self, choice: GuidanceChoice) -> str:
        """The guidance path of a choice ("label" | "clip"), which the feature alone no longer says."""
        return self._resolve(choice)[1]

    def _resolve(self, choice: GuidanceChoice) -> tuple[Any, str]:
        choice = dataclasses.replace(choice, transcript=None)  # words do not change the feature
        if choice not in self._features:
            from medtalk_core.inference import GuidanceSpec

            if choice.text:
                spec: Any = GuidanceSpec(text=choice.text)
            elif choice.image:
                if not Path(choice.image).is_file():
                    raise MedtalkError(f"guidance image not found: {choice.image}")
                spec = GuidanceSpec(image=choice.image)
            else:
                spec = choice.emotion if choice.emotion is not None else NEUTRAL.emotion
            self._features[choice] = (self._animator.guidance(spec, strength=choice.strength),
                                      self._animator.guidance_path(spec))
        return self._features[choice]


class Baker:
    """Runs bake jobs through one animator and writes their outputs."""

    def __init__(self, animator: BakeAnimator, options: BakeOptions) -> None:
        self.animator = animator
        self.options = options
        self.guidance = GuidanceCache(animator)
        self.formats = parse_formats(",".join(options.formats))
        batch = options.batch_size or (32 if str(animator.device).startswith("cuda") else 16)
        self.window = dataclasses.replace(options.window, batch_size=batch)
        self._transcript = None if options.transcribe else ""  # "" = audio-only intensity head

    def plan(self, inputs: Sequence[tuple[Path, Path]], out_dir: Path, default: GuidanceChoice,
             manifest: dict[Path, GuidanceChoice] | None, allowed: AllowedFolders,
             report: BakeReport) -> list[BakeJob]:
        """Jobs for every input that has something to write; skips and sidecar errors go to `report`."""
        jobs = []
        for audio, stem in inputs:
            targets = {fmt: out_dir / stem.with_suffix(f".{fmt}") for fmt in self.formats}
            if not self.options.force:
                targets = {fmt: p for fmt, p in targets.items() if not p.exists()}
            if not targets:
                report.skipped.append(audio)
                continue
            try:  # the side files are part of this input: a bad one fails it alone
                choice = (manifest or {}).get(audio.resolve()) or sidecar_guidance(audio, allowed) or default
                transcript = choice.transcript or script_line(audio)
            except MedtalkError as exc:
                report.failed.append((audio, str(exc)))
                continue
            jobs.append(BakeJob(audio, targets, choice, transcript=transcript))
        return jobs

    def run(self, jobs: Sequence[BakeJob], report: BakeReport,
            on_progress: Callable[[BakeJob, float], None] | None = None) -> BakeReport:
        """Bake every job: short clips batched across files, long ones window by window."""
        start = time.perf_counter()
        window_frames, _ = self.window.frames()
        short: list[BakeJob] = []
        long: list[BakeJob] = []
        for job in jobs:
            try:
                job.reader = AudioFileReader(job.audio, self.window.read_margin_s, self.animator.resampler,
                                             self.options.max_duration_s)
                if num_frames(job.reader.num_samples) < 1:
                    raise MedtalkError(f"audio file {job.audio} is shorter than one frame")
            except MedtalkError as exc:
                self._fail(job, exc, report, on_progress)
                continue
            (short if num_frames(job.reader.num_samples) <= window_frames else long).append(job)
        short.sort(key=lambda j: j.reader.num_samples)  # similar lengths together: less padding
        for first in range(0, len(short), self.window.batch_size):
            self._bake_short(short[first: first + self.window.batch_size], report, on_progress)
        for job in long:
            self._bake_long(job, report, on_progress)
        report.wall_s += time.perf_counter() - start
        return report

    def _bake_short(self, group: Sequence[BakeJob], report: BakeReport,
                    on_progress: Callable[[BakeJob, float], None] | None) -> None:
        ready: list[tuple[BakeJob, np.ndarray, Any]] = []  # job, its (N,) audio, its guidance
        for job in group:
            try:
                audio = job.reader.read(0, job.reader.num_samples)  # (N,) 16 kHz
                if job.reader.peak < SILENCE_PEAK:
                    raise MedtalkError(f"audio file {job.audio} is silent (peak {job.reader.peak:.1e})")
                ready.append((job, audio, self.guidance(job.guidance)))
            except MedtalkError as exc:
                self._fail(job, exc, report, on_progress)
        if not ready:
            return
        try:
            transcripts = [job.transcript if job.transcript else self._transcript for job, _, _ in ready]
            rigs = self.animator.animate_batch([a for _, a, _ in ready], [g for _, _, g in ready], transcripts,
                                               paths=[self.guidance.path(job.guidance) for job, _, _ in ready])
        except Exception:  # one bad clip must not sink the batch: retry them one by one
            if len(ready) == 1:
                raise
            logger.warning("batch of %d failed; baking its files one at a time", len(ready), exc_info=True)
            for job, _, _ in ready:
                self._bake_short([job], report, on_progress)
            return
        for (job, audio, _), frames in zip(ready, rigs):
            try:
                with self._outputs(job) as out:
                    out.push(frames, self._head_eyes(job, lambda: frame_energy_db(audio)))
                self._done(job, report, on_progress)
            except OSError as exc:
                self._fail(job, exc, report, on_progress)

    def _bake_long(self, job: BakeJob, report: BakeReport,
                   on_progress: Callable[[BakeJob, float], None] | None) -> None:
        try:
            guidance = self.guidance(job.guidance)
            windows = len(plan_windows(job.reader.num_samples, self.window))
            logger.info("%s: %.0f s in %d windows", job.audio, job.reader.duration_s, windows)
            # One policy for a long file: its script line cannot be split over windows (nothing says
            # which words fall in which), so it is not used; each window is transcribed with
            # --transcribe, else the audio-only head animates it, and the log says which.
            if job.transcript:
                logger.warning("%s: the script line is not used for a file longer than one window (%.0f s); %s",
                               job.audio, self.window.window_s,
                               "transcribing each window" if self.options.transcribe else "audio-only intensity head")
            motion = self._head_eyes(job, lambda: file_energy_db(job.reader))  # (frames, 6) or None
            first = 0
            with self._outputs(job) as out:
                for block in animate_file(self.animator, job.reader, guidance, self.window, self._transcript,
                                          path=self.guidance.path(job.guidance)):
                    out.push(block, None if motion is None else motion[first: first + block.shape[0]])
                    first += block.shape[0]
            self._done(job, report, on_progress)
        except (MedtalkError, OSError) as exc:
            self._fail(job, exc, report, on_progress)

    def _outputs(self, job: BakeJob) -> OutputSet:
        o = self.options
        return OutputSet(job.targets, o.fps, o.curves, o.face_board, rotations=o.head_eyes.enabled)

    def _head_eyes(self, job: BakeJob, energy_db: Callable[[], np.ndarray]) -> np.ndarray | None:
        """The job's head and eye motion, None when the bake writes none."""
        cfg = self.options.head_eyes
        return head_eyes_of(energy_db(), cfg, job.guidance.emotion) if cfg.enabled else None

    def _done(self, job: BakeJob, report: BakeReport,
              on_progress: Callable[[BakeJob, float], None] | None) -> None:
        report.baked.append(job.audio)
        report.audio_s += job.reader.duration_s
        if on_progress:
            on_progress(job, job.reader.duration_s)

    def _fail(self, job: BakeJob, exc: Exception, report: BakeReport,
              on_progress: Callable[[BakeJob, float], None] | None) -> None:
        logger.debug("%s failed", job.audio, exc_info=exc)
        report.failed.append((job.audio, str(exc)))
        if on_progress:
            on_progress(job, job.reader.duration_s if job.reader else 0.0)


def bake(animator: BakeAnimator, inputs: Iterable[str | Path], out_dir: str | Path, options: BakeOptions,
         default: GuidanceChoice = NEUTRAL, manifest: str | Path | None = None,
         show_progress: bool = False) -> BakeReport:
    """Bake every audio file under `inputs` into `out_dir`; see the module docstring."""
    report = BakeReport()
    baker = Baker(animator, options)
    baker.guidance(default)  # a bad --emotion / --text / --image is a user mistake: fail before baking
    paths = list(inputs)
    allowed = allowed_folders(paths, manifest, default)
    entries = read_manifest(manifest, allowed) if manifest else None
    found, clashes = find_inputs(paths)
    report.failed.extend(clashes)
    jobs = baker.plan(found, Path(out_dir), default, entries, allowed, report)
    if entries is not None:
        _warn_unlisted(jobs, entries)
    if not show_progress:
        return baker.run(jobs, report)
    from rich.progress import (BarColumn, Progress, TextColumn,
                               TimeElapsedColumn, TimeRemainingColumn)

    totals = _probe_seconds(jobs, options.max_duration_s)
    columns = (TextColumn("[bold]bake"), BarColumn(), TextColumn("{task.fields[files]}"),
               TextColumn("{task.percentage:>3.0f}% of audio"), TimeElapsedColumn(), TextColumn("ETA"),
               TimeRemainingColumn())
    with Progress(*columns, transient=False) as progress:
        task = progress.add_task("bake", total=max(totals, 1e-9), files=f"0/{len(jobs)} files")
        done = 0

        def advance(job: BakeJob, seconds: float) -> None:
            nonlocal done
            done += 1
            progress.update(task, advance=seconds, files=f"{done}/{len(jobs)} files")

        return baker.run(jobs, report, on_progress=advance)


def _probe_seconds(jobs: Sequence[BakeJob], max_s: float) -> float:
    """Total audio seconds from the file headers, for the progress bar's ETA (files over the
    `max_s` cap fail unread: they count for nothing)."""
    import soundfile as sf

    total = 0.0
    for job in jobs:
        try:
            seconds = float(sf.info(str(job.audio)).duration)
        except Exception:  # unreadable files fail later with their own message
            continue
        total += seconds if not max_s or seconds <= max_s else 0.0
    return total


def _warn_unlisted(jobs: Sequence[BakeJob], manifest: dict[Path, GuidanceChoice]) -> None:
    listed = set(manifest)
    baked = {job.audio.resolve() for job in jobs}
    for path in sorted(listed - baked):
        if not path.exists():
            logger.warning("guidance manifest names %s, which does not exist", path)
    for job in jobs:
        if job.audio.resolve() not in listed:
            logger.info("%s is not in the guidance manifest: using %s", job.audio,
                        "its sidecar" if job.audio.with_suffix(".yaml").is_file() else "the default guidance")
