"""Pictures are checked for the size they declare before any pixel is decoded: a small file
declaring a huge picture is refused with one line, at the control edge and in every reader."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

from livelink_bridge.control.messages import decode
from medtalk_core.errors import MedtalkError
from medtalk_core.image_files import ImageFileError, check_image_file, read_rgb

FACES = Path(__file__).resolve().parent / "fixtures" / "faces"


def _png_header_only(path: Path, width: int, height: int) -> Path:
    """A tiny PNG that declares width x height (8-bit grey) and holds almost nothing."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 16))
                     + chunk(b"IEND", b""))
    return path


@pytest.mark.parametrize("side", [12000, 20000, 100000])
def test_a_picture_declaring_too_many_pixels_is_refused_before_decoding(tmp_path, side):
    bomb = _png_header_only(tmp_path / f"bomb{side}.png", side, side)
    assert bomb.stat().st_size < 200
    for read in (check_image_file, read_rgb):
        with pytest.raises(ImageFileError, match="pixels"):
            read(bomb)
    with pytest.raises(MedtalkError, match="pixels"):  # one line back to the sender, no traceback
        decode("/medtalk/guidance/image", (str(bomb),))


def test_a_real_photo_still_reads(tmp_path):
    photo = FACES / "london_001_smiling.jpg"
    check_image_file(photo)
    rgb = read_rgb(photo)
    assert rgb.ndim == 3 and rgb.shape[2] == 3 and rgb.dtype == np.uint8
    with pytest.raises(ImageFileError, match="not an image"):
        check_image_file(FACES / "README.md")
