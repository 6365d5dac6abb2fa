"""Preview renders without Unreal: the 2-D face beside the waveform and the intensity curve.

- `.mp4`: every frame, audio muxed in, through the `ffmpeg` program (Debian package); when it
  is missing a GIF is written instead (next to the requested name, with a warning).
- `.gif`: every frame at a GIF-friendly rate, no audio (Pillow, which matplotlib brings).
- `.png`: a contact sheet: faces at evenly spaced times above the timeline, marked on it.

The timeline (matplotlib Agg) is drawn once; each video frame copies it and paints a cursor
column, so rendering costs about one face drawing per frame.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator

import numpy as np

from medtalk_core import rig
from medtalk_core.audio import SAMPLE_RATE
from medtalk_core.errors import MedtalkError
from medtalk_core.face_drawing import draw_face

from livelink_bridge.offline.writers import FILE_MODE, resample_fps

logger = logging.getLogger(__name__)

CURSOR = np.array([230, 60, 40], np.uint8)
OUTPUT_SUFFIXES = (".mp4", ".gif", ".png")


@dataclasses.dataclass(frozen=True)
class PreviewOptions:
    size: int = 256  # face picture side in pixels (the timeline is twice as wide)
    fps: float = 0.0  # video frame rate; 0 = 30 for mp4, 20 for gif (GIF delays are in 1/100 s)
    sheet_frames: int = 8  # faces on a png contact sheet
    max_gif_s: float = 120.0  # a GIF holds every frame in memory: longer previews need mp4


@dataclasses.dataclass
class Take:
    """What a preview shows: curves at `fps`, and optionally the audio they were made from."""

    frames: np.ndarray  # (T, 174)
    fps: float
    audio: np.ndarray | None = None  # (n,) mono 16 kHz
    audio_path: Path | None = None  # the file to mux into an mp4
    rotations: np.ndarray | None = None  # (T, 9) head and eye rotation curves, when the take has them

    def rotation(self, index: int) -> np.ndarray | None:
        """Frame `index`'s (9,) rotation curves, None in a take without them."""
        return None if self.rotations is None else self.rotations[index]

    @property
    def duration_s(self) -> float:
        return self.frames.shape[0] / self.fps


class Timeline:
    """Waveform (when there is audio) and pseudo-intensity over time, rendered once to pixels."""

    def __init__(self, take: Take, width: int, height: int, marks: np.ndarray | None = None) -> None:
        import matplotlib

        matplotlib.use("Agg", force=False)
        from matplotlib.figure import Figure
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        dpi = 100
        fig = Figure(figsize=(width / dpi, height / dpi), dpi=dpi, facecolor="#1e2128")
        canvas = FigureCanvasAgg(fig)
        rows = 2 if take.audio is not None else 1
        axes = fig.subplots(rows, 1, sharex=True, squeeze=False)[:, 0]
        fig.subplots_adjust(left=0.08, right=0.98, top=0.92, bottom=0.14, hspace=0.35)
        duration = take.duration_s
        if take.audio is not None:
            ax = axes[0]
            bins = max(1, min(width * 2, take.audio.shape[0]))
            usable = take.audio[: take.audio.shape[0] // bins * bins].reshape(bins, -1)  # (bins, k)
            t = (np.arange(bins) + 0.5) * usable.shape[1] / SAMPLE_RATE
            ax.fill_between(t, usable.min(axis=1), usable.max(axis=1), color="#7fb3d5", linewidth=0)
            ax.set_ylabel("audio", color="w", fontsize=8)
        intensity = rig.pseudo_intensity(take.frames)  # (T,)
        ax = axes[-1]
        ax.plot(np.arange(take.frames.shape[0]) / take.fps, intensity, color="#f5b041", linewidth=1.2)
        ax.set_ylabel("intensity", color="w", fontsize=8)
        ax.set_xlabel("seconds", color="w", fontsize=8)
        for a in axes:
            a.set_facecolor("#2b2f38")
            a.set_xlim(0, max(duration, 1e-3))
            a.tick_params(colors="w", labelsize=7)
            if marks is not None:
                for m in marks:
                    a.axvline(m, color="#e74c3c", linewidth=0.8)
        canvas.draw()
        self.image = np.asarray(canvas.buffer_rgba())[..., :3].copy()  # (H, W, 3)
        # Pixel columns of t = 0 and t = duration, from the axes' box (origin bottom-left).
        box = axes[-1].get_window_extent()
        self._x0, self._x1 = box.x0, box.x1
        self._y0 = int(round(self.image.shape[0] - max(a.get_window_extent().y1 for a in axes)))
        self._y1 = int(round(self.image.shape[0] - box.y0))
        self._duration = max(duration, 1e-3)

    def at(self, seconds: float) -> np.ndarray:
        """The timeline with a cursor at `seconds`, (H, W, 3)."""
        out = self.image.copy()
        x = int(round(self._x0 + (self._x1 - self._x0) * min(max(seconds / self._duration, 0.0), 1.0)))
        out[self._y0: self._y1, max(x - 1, 0): x + 1] = CURSOR
        return out


def video_frames(take: Take, fps: float, size: int) -> Iterator[np.ndarray]:
    """Face + timeline pictures at `fps`, each (size, 3 * size, 3) uint8."""
    width = rig.NUM_CONTROLS
    both = take.frames if take.rotations is None else np.concatenate([take.frames, take.rotations], axis=1)
    both = resample_fps(both, fps, take.fps) if fps != take.fps else both  # (T', 174 [+ 9])
    timeline = Timeline(take, 2 * size, size)
    for j, row in enumerate(both):
        rotations = row[width:] if row.shape[0] > width else None
        yield np.concatenate([draw_face(row[:width], size, rotations=rotations), timeline.at(j / fps)], axis=1)


def contact_sheet(take: Take, options: PreviewOptions) -> np.ndarray:
    """Faces at evenly spaced times above the timeline with those times marked."""
    count = max(1, min(options.sheet_frames, take.frames.shape[0]))
    index = np.linspace(0, take.frames.shape[0] - 1, count).round().astype(int)
    size = options.size
    faces = np.concatenate([draw_face(take.frames[i], size, rotations=take.rotation(i)) for i in index],
                           axis=1)  # (size, count * size, 3)
    timeline = Timeline(take, faces.shape[1], size, marks=index / take.fps).image
    return np.concatenate([faces, timeline], axis=0)


def _even(image: np.ndarray) -> np.ndarray:
    """Pad to even height and width (yuv420p needs both)."""
    h, w = image.shape[:2]
    return np.pad(image, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")


def _atomic_target(out: Path) -> Path:
    fd, tmp = tempfile.mkstemp(prefix=f".{out.stem}.", suffix=out.suffix, dir=out.parent)
    os.close(fd)
    os.chmod(tmp, FILE_MODE)
    return Path(tmp)


def write_mp4(take: Take, out: Path, fps: float, size: int, ffmpeg: str) -> None:
    tmp = _atomic_target(out)
    width, height = _even(np.zeros((size, 3 * size, 3), np.uint8)).shape[1::-1]
    cmd = [ffmpeg, "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}",
           "-r", f"{fps:g}", "-i", "-"]
    if take.audio_path is not None:
        cmd += ["-i", str(take.audio_path), "-map", "0:v", "-map", "1:a", "-c:a", "aac", "-shortest"]
    cmd += ["-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p",
            "-movflags", "+faststart", "-f", "mp4", str(tmp)]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        for picture in video_frames(take, fps, size):
            proc.stdin.write(_even(picture).tobytes())
        proc.stdin.close()
        err = proc.stderr.read().decode(errors="replace")
        if proc.wait() != 0:
            raise MedtalkError(f"ffmpeg failed writing {out}: {err.strip()[-400:]}")
        os.replace(tmp, out)
    except BaseException:
        proc.kill()
        proc.wait()
        tmp.unlink(missing_ok=True)
        raise


def write_gif(take: Take, out: Path, fps: float, size: int, max_s: float) -> None:
    from PIL import Image

    if take.duration_s > max_s:
        raise MedtalkError(f"{take.duration_s:.0f} s is too long for a GIF preview (limit {max_s:.0f} s); "
                           "write an .mp4 instead")
    pictures = [Image.fromarray(p) for p in video_frames(take, fps, size)]
    tmp = _atomic_target(out)
    try:
        pictures[0].save(tmp, format="GIF", save_all=True, append_images=pictures[1:],
                         duration=int(round(1000 / fps)), loop=0)
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def render(take: Take, out: str | Path, options: PreviewOptions = PreviewOptions()) -> Path:
    """Write the preview; returns the path written (a .gif when mp4 was asked without ffmpeg)."""
    from PIL import Image

    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in OUTPUT_SUFFIXES:
        raise MedtalkError(f"preview output must end in {', '.join(OUTPUT_SUFFIXES)}, got {out.name}")
    if take.frames.ndim != 2 or take.frames.shape[1] != rig.NUM_CONTROLS or take.frames.shape[0] == 0:
        raise MedtalkError(f"nothing to preview: frames of shape {take.frames.shape}")
    out.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".png":
        tmp = _atomic_target(out)
        Image.fromarray(contact_sheet(take, options)).save(tmp, format="PNG")
        os.replace(tmp, out)
        return out
    if suffix == ".mp4":
        ffmpeg = shutil.which("ffmpeg")
        if ffmpeg is not None:
            write_mp4(take, out, options.fps or 30.0, options.size, ffmpeg)
            return out
        out = out.with_suffix(".gif")
        logger.warning("ffmpeg not found (Debian: apt install ffmpeg): writing a GIF without audio, %s", out)
    write_gif(take, out, options.fps or 20.0, options.size, options.max_gif_s)
    return out

