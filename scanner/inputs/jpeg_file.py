"""A JPEG file's own compression, read from the file with jpeglib: its luminance quantisation
table, the quality that table implies, and its quantised luminance DCT coefficients."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from functools import lru_cache

import jpeglib
import numpy as np
from PIL import Image


@dataclass(frozen=True)
class JpegLuminance:
    """The luminance of a JPEG file as stored: ``table`` (8, 8) quantisation steps and
    ``coefficients`` (block rows, block cols, 8, 8) quantised DCT values (multiply by ``table``
    for DCT units)."""

    table: np.ndarray
    coefficients: np.ndarray


def read_luminance(data: bytes) -> JpegLuminance:
    """Read a JPEG file's luminance table and coefficients from its bytes (jpeglib reads files,
    so the bytes go through a temporary file that is removed afterwards). Raises ValueError
    when libjpeg cannot read them."""
    handle, name = tempfile.mkstemp(suffix=".jpg")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        jpeg = jpeglib.read_dct(name)
        table, coefficients = np.array(jpeg.qt[jpeg.quant_tbl_no[0]]), np.array(jpeg.Y)
    except Exception as exc:  # libjpeg's errors come as several exception types
        raise ValueError(f"libjpeg could not read the DCT coefficients: {exc}") from exc
    finally:
        os.unlink(name)
    return JpegLuminance(table.astype(np.int64), coefficients.astype(np.int64))


LUMINANCE = np.array([
    [16, 11, 10, 16, 24, 40, 51, 61], [12, 12, 14, 19, 26, 58, 60, 55], [14, 13, 16, 24, 40, 57, 69, 56],
    [14, 17, 22, 29, 51, 87, 80, 62], [18, 22, 37, 56, 68, 109, 103, 77], [24, 35, 55, 64, 81, 104, 113, 92],
    [49, 64, 78, 87, 103, 121, 120, 101], [72, 92, 95, 98, 112, 100, 103, 99]])
"""The example luminance table of the JPEG standard (ITU-T T.81, Annex K, table K.1)."""


@lru_cache(maxsize=1)
def ijg_tables() -> np.ndarray:
    """The IJG (libjpeg) luminance tables of qualities 1..100, (100, 8, 8): :data:`LUMINANCE`
    scaled by 5000/q below quality 50 and 200 - 2q from 50, in percent, rounded, within 1..255.
    (jpeglib 1.0.2's ``qf_to_qt`` returns quality 75's table whatever the quality.)"""
    q = np.arange(1, 101)[:, None, None]
    scale = np.where(q < 50, 5000 // q, 200 - 2 * q)
    return np.clip((LUMINANCE[None] * scale + 50) // 100, 1, 255).astype(np.int64)


def ijg_quality(table: np.ndarray) -> tuple[int, bool]:
    """The IJG quality (1-100) whose luminance table is nearest ``table`` (8, 8) in mean absolute
    log step, and whether the two are equal (a standard table)."""
    tables = ijg_tables()
    distance = np.abs(np.log(tables) - np.log(np.maximum(table, 1))[None]).mean(axis=(1, 2))
    best = int(np.argmin(distance))
    return best + 1, bool(np.array_equal(tables[best], table))


def file_quality(path: str | os.PathLike) -> int | None:
    """The quality a scan reads for a stored file (:func:`header_quality` of its header); None for
    a file without JPEG tables (PNG, TIFF, ...)."""
    with Image.open(path) as image:
        return header_quality(image)


def header_quality(image: Image.Image) -> int | None:
    """The IJG quality (:func:`ijg_quality`) of a JPEG's first quantisation table as Pillow read it
    from the header (no coefficient is decoded); None for an image without tables."""
    tables = getattr(image, "quantization", None)
    if not tables or 0 not in tables or len(tables[0]) != 64:
        return None
    return ijg_quality(np.array(tables[0], dtype=np.int64).reshape(8, 8))[0]
