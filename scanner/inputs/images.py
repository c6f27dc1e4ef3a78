"""Image input: decode a file into its stored pixel grid and take the green channel.

Forensics analyses the pixels as stored: no EXIF rotation, no resizing, no re-encoding.
Files are recognised by content (Pillow's decoders), never by extension.
"""

from __future__ import annotations

import hashlib
import io
import stat
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

DEFAULT_MAX_PIXELS = 100_000_000
"""Largest image (width x height) decoded by default; larger files are refused as ``too_large``."""


class ImageError(Exception):
    """A file that cannot be analysed. ``code`` is one of :data:`ERROR_CODES`."""

    def __init__(self, code: str, message: str) -> None:
        if code not in ERROR_CODES:
            raise ValueError(f"unknown image error code {code!r}")
        super().__init__(message)
        self.code = code
        self.message = message


ERROR_CODES = {
    "not_found": "the path does not exist",
    "unreadable": "the file cannot be read (permissions or I/O error)",
    "empty": "the file has zero bytes",
    "not_an_image": "no image decoder recognises the content",
    "truncated": "the image data ends early",
    "corrupt": "the image data is damaged",
    "too_large": "the image has more pixels than the configured limit",
    "unsupported": "the pixel format cannot be analysed",
    "worker_failed": "the process scoring the file died, also when retried (distributed engines)",
}


JPEG_FORMATS = frozenset({"JPEG", "MPO"})
"""Pillow format names of JPEG-coded files."""


@dataclass
class ImageInfo:
    """What was decoded: container format, Pillow mode, bits per sample, size in pixels,
    number of frames, and the conversions applied to reach 8-bit green."""

    format: str | None
    mode: str
    bit_depth: int
    width: int
    height: int
    frames: int = 1
    conversions: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def stored_as_jpeg(self) -> bool:
        """Whether the file holds JPEG-coded pixels (JFIF/Exif JPEG, or MPO: a camera JPEG with
        further frames, such as a depth map or a second view)."""
        return self.format in JPEG_FORMATS


def read_bytes(path: str | Path, name: str | None = None) -> bytes:
    """Read a whole file, mapping OS errors to :class:`ImageError` whose messages call it
    ``name`` (default: the path). An empty file is read; it fails in :func:`open_image`."""
    path = Path(path)
    name = name or str(path)
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            raise ImageError("unreadable", f"{name}: not a regular file")
        data = path.read_bytes()
    except FileNotFoundError:
        raise ImageError("not_found", f"{name}: no such file") from None
    except IsADirectoryError:
        raise ImageError("unreadable", f"{name}: is a directory") from None
    except OSError as exc:
        raise ImageError("unreadable", f"{name}: cannot read ({exc.strerror or exc})") from None
    return data


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


_SIXTEEN_BIT_MODES = {"I;16", "I;16B", "I;16L", "I;16N"}


def _wide_to_uint8(values: np.ndarray, kind: str, info: ImageInfo) -> np.ndarray:
    """8-bit pixels from 32-bit integer or float samples, the rule recorded in ``info``:
    integral values in 0..255 are used as they are; integers in 0..65535 are scaled as 16-bit;
    floats in 0..1 are scaled by 255; anything else is stretched linearly from its minimum
    and maximum to 0..255. Non-finite samples cannot be analysed."""
    values = values.astype(np.float64)
    if not np.all(np.isfinite(values)):
        raise ImageError("unsupported", f"{kind} samples include NaN or infinity")
    low, high = float(values.min(initial=0)), float(values.max(initial=0))
    if low >= 0 and high <= 255 and np.all(values == np.round(values)):
        info.conversions.append(f"{kind} samples are integers in 0..255: used as they are")
        return values.astype(np.uint8)
    if kind.startswith("32-bit integer") and low >= 0 and high <= 65535:
        info.conversions.append(f"{kind} samples in 0..65535: scaled as 16-bit (x 255/65535, rounded)")
        return np.round(values * (255.0 / 65535)).astype(np.uint8)
    if kind.startswith("32-bit float") and low >= 0 and high <= 1:
        info.conversions.append(f"{kind} samples in 0..1: scaled by 255 and rounded")
        return np.round(values * 255.0).astype(np.uint8)
    span = high - low if high > low else 1.0
    info.conversions.append(f"{kind} samples in {low:g}..{high:g}: stretched linearly to 0..255 and rounded")
    return np.round((values - low) * (255.0 / span)).astype(np.uint8)


def stored_pixels(im: Image.Image, info: ImageInfo) -> np.ndarray:
    """The pixels analysed, in the stored grid: uint8 (H, W, 3) RGB for colour images, uint8
    (H, W) for single-channel ones; every conversion on the way is appended to ``info.conversions``."""
    mode = im.mode
    if mode == "L":
        return np.asarray(im, dtype=np.uint8)
    if mode == "LA":
        info.conversions.append("alpha channel ignored")
        return np.asarray(im.getchannel("L"), dtype=np.uint8)
    if mode == "1":
        info.conversions.append("bilevel mapped to 0/255")
        return np.asarray(im.convert("L"), dtype=np.uint8)
    if mode in _SIXTEEN_BIT_MODES:
        values = np.asarray(im).astype(np.int64)
        info.conversions.append("16-bit scaled to 8-bit (x 255/65535, rounded)")
        return np.round(values * (255.0 / 65535)).astype(np.uint8)
    if mode == "I":
        return _wide_to_uint8(np.asarray(im), "32-bit integer", info)
    if mode == "F":
        return _wide_to_uint8(np.asarray(im), "32-bit float", info)
    if mode == "RGB":
        return np.asarray(im, dtype=np.uint8)
    if mode in ("RGBA", "RGBX", "RGBa"):
        info.conversions.append("alpha channel ignored")
        return np.asarray(im.convert("RGB"), dtype=np.uint8)
    if mode in ("P", "PA"):
        info.conversions.append("palette expanded to RGB")
        return np.asarray(im.convert("RGB"), dtype=np.uint8)
    if mode in ("CMYK", "YCbCr", "LAB", "HSV"):
        info.conversions.append(f"{mode} converted to RGB by Pillow")
        return np.asarray(im.convert("RGB"), dtype=np.uint8)
    raise ImageError("unsupported", f"pixel mode {mode} cannot be analysed")


def green_of(pixels: np.ndarray) -> np.ndarray:
    """The green channel (H, W) of RGB pixels (H, W, 3); a single channel (H, W) is its own."""
    return pixels[..., 1] if pixels.ndim == 3 else pixels


def open_image(data: bytes, name: str = "<bytes>", max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[Image.Image, ImageInfo]:
    """Decode image bytes fully (first frame) and describe them.

    The pixel limit is checked from the header before any pixel is decoded.
    Raises :class:`ImageError` for anything that cannot be decoded.
    """
    if not data:
        raise ImageError("empty", f"{name}: file is empty (0 bytes)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
        try:
            try:
                im = Image.open(io.BytesIO(data))
            except UnidentifiedImageError:
                raise ImageError("not_an_image", f"{name}: not a recognised image format") from None
            except (OSError, ValueError, SyntaxError) as exc:
                raise ImageError("corrupt", f"{name}: cannot parse image header ({exc})") from None
            width, height = im.size
            if width * height > max_pixels:
                raise ImageError(
                    "too_large",
                    f"{name}: {width}x{height} = {width * height / 1e6:.1f} MP exceeds the limit of "
                    f"{max_pixels / 1e6:.1f} MP (raise it with --max-pixels)",
                )
            if width == 0 or height == 0:
                raise ImageError("corrupt", f"{name}: image has zero size {width}x{height}")
            frames = getattr(im, "n_frames", 1)
            bits = {"I;16": 16, "I;16B": 16, "I;16L": 16, "I;16N": 16, "I": 32, "F": 32, "1": 1}.get(im.mode, 8)
            info = ImageInfo(format=im.format, mode=im.mode, bit_depth=bits, width=width, height=height, frames=frames)
            try:
                im.load()
            except OSError as exc:
                text = str(exc)
                if "truncated" in text or "premature" in text.lower():
                    raise ImageError("truncated", f"{name}: image data is truncated ({text})") from None
                raise ImageError("corrupt", f"{name}: cannot decode ({text})") from None
            except (ValueError, SyntaxError, EOFError, Image.DecompressionBombError) as exc:
                raise ImageError("corrupt", f"{name}: cannot decode ({exc})") from None
            if frames > 1:
                info.conversions.append(f"first frame of {frames} analysed")
            return im, info
        finally:
            Image.MAX_IMAGE_PIXELS = limit


def decode_pixels(data: bytes, name: str = "<bytes>", max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[np.ndarray, ImageInfo]:
    """Decode image bytes into the analysed pixels of the stored grid.

    Returns (pixels, info): uint8 (H, W, 3) RGB for colour images, (H, W) for grayscale.
    16-bit is scaled to 8 bits; palette, CMYK and alpha images are converted, the conversion
    recorded in ``info.conversions``; an animated image gives its first frame.
    Raises :class:`ImageError` for anything that cannot be analysed.
    """
    im, info = open_image(data, name, max_pixels)
    return stored_pixels(im, info), info


def decode_green(data: bytes, name: str = "<bytes>", max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[np.ndarray, ImageInfo]:
    """The green channel (H, W) uint8 of :func:`decode_pixels`, and the info."""
    pixels, info = decode_pixels(data, name, max_pixels)
    return green_of(pixels), info


def display_rgb(im: Image.Image, green: np.ndarray) -> np.ndarray:
    """Colours of a decoded image for figures (display only): RGB uint8 (H, W, 3), or the
    analysed green channel repeated for samples wider than 8 bits."""
    if im.mode in ("1", "L", "LA", "P", "PA", "RGB", "RGBA", "RGBX", "RGBa", "CMYK", "YCbCr", "LAB", "HSV"):
        return np.asarray(im.convert("RGB"), dtype=np.uint8)
    return np.repeat(green[..., None], 3, axis=2)


def load_green(path: str | Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[np.ndarray, ImageInfo]:
    """Read a file and decode its green channel: see :func:`decode_green`."""
    return decode_green(read_bytes(path), str(path), max_pixels)


def load_pixels(path: str | Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> tuple[np.ndarray, ImageInfo]:
    """Read a file and decode its analysed pixels: see :func:`decode_pixels`."""
    return decode_pixels(read_bytes(path), str(path), max_pixels)


def load_rgb(path: str | Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Stored pixels as RGB uint8 (H, W, 3), for building training data and forgeries.
    Raises :class:`ImageError` like :func:`load_green`."""
    im, _ = open_image(read_bytes(path), str(path), max_pixels)
    return np.asarray(im.convert("RGB"), dtype=np.uint8)
