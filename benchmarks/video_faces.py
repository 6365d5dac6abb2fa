"""Real talking-face video -> per-frame face landmarks, head rotation and the speech's audio, for
the benchmarks that compare us with real people (`head_eyes.py`).

Landmarks: MediaPipe FaceMesh (the `face` extra, mediapipe 0.10.14, models inside the wheel) in
tracking mode, 478 points per frame in pixels (z in the x scale). Head rotation: the rigid part
of the face (forehead, nose bridge, eye corners, cheekbones; no mouth or jaw, which speech moves)
fitted to the clip's median shape by a least-squares rotation (Kabsch), as yaw, pitch and roll in
degrees relative to the clip's median pose. Audio: the clip's soundtrack through `ffmpeg`, mono
16 kHz. Results are cached as .npz beside nothing in the repository (`--cache`).
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

VIDEO_SUFFIXES = (".mp4", ".mpg", ".avi", ".mov", ".webm", ".mkv")
# FaceMesh indices that move with the skull, not with speech: forehead, brow ridge ends, nose
# bridge and tip, eye corners, cheekbones and temples.
RIGID = (10, 151, 9, 8, 168, 6, 197, 195, 5, 4, 1, 33, 133, 362, 263, 226, 446, 127, 356, 234, 454,
         67, 297, 109, 338, 70, 300, 46, 276, 93, 323)


@dataclass
class VideoTrack:
    fps: float  # video frames per second
    landmarks: np.ndarray  # (T, 478, 3) float32 pixels, NaN where no face was found
    audio: np.ndarray  # (n,) float32 mono 16 kHz

    @property
    def found(self) -> np.ndarray:
        """(T,) frames with a face."""
        return ~np.isnan(self.landmarks[:, 0, 0])


def read_audio(path: Path, rate: int = 16000) -> np.ndarray:
    """The video's soundtrack as mono float32 at `rate` (ffmpeg)."""
    out = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-vn", "-ac", "1", "-ar", str(rate),
                          "-f", "f32le", "-"], capture_output=True, check=True).stdout
    return np.frombuffer(out, dtype="<f4").copy()


def track_faces(path: Path) -> tuple[float, np.ndarray]:
    """(fps, (T, 478, 3) landmarks in pixels, NaN rows where FaceMesh found no face)."""
    import cv2
    from mediapipe.python.solutions import face_mesh

    video = cv2.VideoCapture(str(path))
    fps = float(video.get(cv2.CAP_PROP_FPS))
    frames = []
    with face_mesh.FaceMesh(static_image_mode=False, max_num_faces=1, refine_landmarks=True,
                            min_detection_confidence=0.5, min_tracking_confidence=0.5) as mesh:
        while True:
            ok, bgr = video.read()
            if not ok:
                break
            h, w = bgr.shape[:2]
            result = mesh.process(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
            if not result.multi_face_landmarks:
                frames.append(np.full((478, 3), np.nan, np.float32))
                continue
            points = result.multi_face_landmarks[0].landmark
            frames.append(np.array([(p.x * w, p.y * h, p.z * w) for p in points], np.float32))
    video.release()
    if not frames:
        raise ValueError(f"{path}: no video frames could be read")
    return fps, np.stack(frames)


def load_track(path: Path, cache: Path | None) -> VideoTrack:
    """The clip's landmarks and audio, from `cache` when it has them."""
    cached = cache / (path.parent.name + "__" + path.stem + ".npz") if cache else None
    if cached is not None and cached.is_file():
        data = np.load(cached)
        return VideoTrack(float(data["fps"]), data["landmarks"], data["audio"])
    fps, landmarks = track_faces(path)
    track = VideoTrack(fps, landmarks, read_audio(path))
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(cached, fps=fps, landmarks=landmarks, audio=track.audio)
    return track


def _kabsch(reference: np.ndarray, points: np.ndarray) -> np.ndarray:
    """The rotation R (3, 3) that best maps centred `reference` onto centred `points` (R @ ref)."""
    a = reference - reference.mean(axis=0)
    b = points - points.mean(axis=0)
    u, _, vt = np.linalg.svd(b.T @ a)
    d = np.sign(np.linalg.det(u @ vt))
    return u @ np.diag([1.0, 1.0, d]) @ vt


def head_angles(landmarks: np.ndarray) -> np.ndarray:
    """(T, 478, 3) landmarks -> (T, 3) yaw, pitch, roll in degrees about the clip's median pose
    (NaN where there is no face). Image axes: x right, y down, z into the picture; yaw turns about
    y, pitch about x, roll about z (R = Ry Rx Rz)."""
    rigid = landmarks[:, RIGID, :].astype(np.float64)  # (T, k, 3)
    found = ~np.isnan(rigid[:, 0, 0])
    out = np.full((landmarks.shape[0], 3), np.nan)
    if not found.any():
        return out
    reference = np.median(rigid[found], axis=0)  # (k, 3)
    for t in np.flatnonzero(found):
        r = _kabsch(reference, rigid[t])
        yaw = np.degrees(np.arctan2(r[0, 2], r[2, 2]))
        pitch = np.degrees(np.arcsin(np.clip(-r[1, 2], -1.0, 1.0)))
        roll = np.degrees(np.arctan2(r[1, 0], r[1, 1]))
        out[t] = (yaw, pitch, roll)
    return out


def find_videos(folder: Path) -> list[Path]:
    """Every video under `folder`, sorted; the speaker is the clip's folder name."""
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file())
