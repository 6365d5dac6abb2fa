"""Reference pictures -> 478 face landmarks with MediaPipe's legacy FaceMesh (the `face` extra).

MediaPipe 0.10.14 ships its face detector and landmark models inside the wheel, so this runs
offline; later 1.x releases need a downloaded `.task` file and 0.10.18-0.10.21 need numpy<2.
Every problem with the picture (unreadable, not an image, no face, several faces) is a
FaceImageError: one line for the user, and the caller's guidance state stays as it was.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from ..errors import MedtalkError, MissingDependencyError
from ..image_files import ImageFileError, read_rgb

NUM_LANDMARKS = 478  # 468 mesh points + 10 iris points (refine_landmarks=True)
MAX_SIDE = 1280  # larger pictures are downscaled first: the landmark model sees a 192 px crop anyway
INSTALL_HINT = "pip install 'medtalk-bridge[face]' (mediapipe 0.10.14)"


class FaceImageError(MedtalkError):
    """A reference picture that cannot guide: unreadable, not an image, no face or several faces."""


def load_rgb(image: str | Path | np.ndarray) -> np.ndarray:
    """A path or an HxWx3 / HxWx4 / HxW uint8 array -> HxWx3 uint8 RGB, at most MAX_SIDE a side."""
    if isinstance(image, np.ndarray):
        rgb = _as_rgb(image)
    else:
        rgb = _read(Path(image))
    h, w = rgb.shape[:2]
    if max(h, w) > MAX_SIDE:
        from PIL import Image

        scale = MAX_SIDE / max(h, w)
        rgb = np.asarray(Image.fromarray(rgb).resize((round(w * scale), round(h * scale)), Image.BILINEAR))
    return np.ascontiguousarray(rgb)


def _read(path: Path) -> np.ndarray:
    try:
        return read_rgb(path)
    except ImageFileError as exc:
        raise FaceImageError(str(exc)) from None


def _as_rgb(a: np.ndarray) -> np.ndarray:
    if a.dtype != np.uint8:
        raise FaceImageError(f"a reference image array must be uint8, got {a.dtype}")
    if a.ndim == 2:
        return np.repeat(a[..., None], 3, axis=2)
    if a.ndim == 3 and a.shape[2] in (3, 4):
        return a[..., :3]
    raise FaceImageError(f"a reference image array must be HxWx3 RGB, got shape {a.shape}")


class FaceLandmarker:
    """One FaceMesh, built on first use (about 0.1 s) and reused; safe to call from any thread."""

    def __init__(self) -> None:
        self._mesh = None
        self._lock = threading.Lock()  # FaceMesh is a graph with state: one picture at a time

    def _build(self):
        try:
            from mediapipe.python.solutions import face_mesh
        except ImportError:
            raise MissingDependencyError(f"image guidance without CLIP needs face landmarks: {INSTALL_HINT}") from None
        # max_num_faces=2: we only need to know whether there is more than one face
        return face_mesh.FaceMesh(static_image_mode=True, max_num_faces=2, refine_landmarks=True,
                                  min_detection_confidence=0.5)

    def landmarks(self, image: str | Path | np.ndarray) -> np.ndarray:
        """The one face in the picture -> (478, 3) float64 landmarks in pixels (x right, y down,
        z towards the camera negative, in the same pixel scale as x)."""
        rgb = load_rgb(image)
        name = Path(image).name if not isinstance(image, np.ndarray) else "the image"
        with self._lock:
            if self._mesh is None:
                self._mesh = self._build()
            result = self._mesh.process(rgb)
        faces = result.multi_face_landmarks or []
        if not faces:
            raise FaceImageError(f"no face found in {name}: use a clear, roughly frontal photo of one face")
        if len(faces) > 1:
            raise FaceImageError(f"several faces found in {name}: crop the picture to the one face to follow")
        h, w = rgb.shape[:2]
        pts = np.array([(p.x * w, p.y * h, p.z * w) for p in faces[0].landmark], np.float64)  # (478, 3)
        if pts.shape != (NUM_LANDMARKS, 3):
            raise FaceImageError(f"face landmarks of {name}: expected {NUM_LANDMARKS}, got {pts.shape[0]}")
        return pts
