"""Reading reference pictures from disk, bounded: the size a file declares is checked from its
header before a single pixel is decoded.

A 140 KB PNG can declare 12000 x 12000 pixels (1.5 GB decoded) and a 62-byte one 100000^2:
every reader of a picture (the control server's check, the face-landmark reader, CLIP's image
loader) opens it here, so none of them decodes more than `MAX_PIXELS`, and each problem is one
clear `ImageFileError`.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np

from .errors import MedtalkError

MAX_PIXELS = 40_000_000  # a 50-megapixel camera's frame is 8192 x 5464 = 45 MP; a face needs far fewer


class ImageFileError(MedtalkError):
    """A picture that cannot be used: missing, not an image, unreadable or too large."""


@contextmanager
def open_image(path: str | Path, max_pixels: int = MAX_PIXELS) -> Iterator["PIL.Image.Image"]:  # noqa: F821
    """The picture at `path`, opened lazily (header only) and checked for its declared size."""
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:  # Pillow comes with matplotlib; say so if it is missing anyway
        raise ImageFileError("reference pictures need Pillow: pip install pillow") from None
    path = Path(path)
    if not path.is_file():
        raise ImageFileError(f"image file not found: {path}")
    try:
        img = Image.open(path)
    except UnidentifiedImageError:
        raise ImageFileError(f"{path.name} is not an image (PNG, JPEG, ... expected)") from None
    except Image.DecompressionBombError:
        raise ImageFileError(f"{path.name} declares more than {max_pixels:,} pixels") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageFileError(f"{path.name} is not a readable image: {exc}") from None
    with img:
        width, height = img.size
        if width * height > max_pixels:
            raise ImageFileError(f"{path.name} declares {width} x {height} pixels, more than {max_pixels:,}")
        yield img


def check_image_file(path: str | Path, max_pixels: int = MAX_PIXELS) -> None:
    """ImageFileError unless `path` is a picture of at most `max_pixels` that Pillow can read."""
    with open_image(path, max_pixels) as img:
        try:
            img.verify()
        except (OSError, SyntaxError, ValueError) as exc:
            raise ImageFileError(f"{Path(path).name} is not a readable image: {exc}") from None


def read_rgb(path: str | Path, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """The picture at `path` as HxWx3 uint8 RGB."""
    with open_image(path, max_pixels) as img:
        try:
            return np.asarray(img.convert("RGB"))
        except (OSError, SyntaxError, ValueError) as exc:
            raise ImageFileError(f"{Path(path).name} is not a readable image: {exc}") from None
