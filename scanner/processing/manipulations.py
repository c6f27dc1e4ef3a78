"""The five processing operations of Table I, with the paper's three strengths each.

Every operation takes a uint8 image, RGB (H, W, 3) or a single channel (H, W), and
returns uint8: computed in float, rounded and clipped to 0..255. Median, blur, noise
and resize act on each channel independently, so applying them to the green channel
alone gives the green channel of the processed RGB image (noise: the same
distribution, not the same draw). JPEG couples the channels through YCbCr and 4:2:0
chroma subsampling, so it is always applied to the RGB image.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
from PIL import Image
from scipy import ndimage


def _check(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim not in (2, 3):
        raise ValueError(f"expected a uint8 image (H, W) or (H, W, C), got {image.dtype} {image.shape}")
    return image


def _to_uint8(values: np.ndarray) -> np.ndarray:
    return np.clip(np.round(values), 0, 255).astype(np.uint8)


def median(image: np.ndarray, size: int) -> np.ndarray:
    """Median filter with a size x size window, borders reflected (scipy 'reflect')."""
    image = _check(image)
    window = (size, size) if image.ndim == 2 else (size, size, 1)
    return ndimage.median_filter(image, size=window, mode="reflect")


def gaussian_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Separable normalised Gaussian of standard deviation ``sigma`` pixels, kernel size
    2*ceil(2*sigma)+1 (7, 5, 3 for sigma 1.1, 0.75, 0.5: MATLAB imgaussfilt), borders
    reflected."""
    image = _check(image)
    radius = math.ceil(2 * sigma)
    sigmas = (sigma, sigma) if image.ndim == 2 else (sigma, sigma, 0.0)
    radii = (radius, radius) if image.ndim == 2 else (radius, radius, 0)
    blurred = ndimage.gaussian_filter(image.astype(np.float64), sigma=sigmas, radius=radii, mode="reflect")
    return _to_uint8(blurred)


def add_noise(image: np.ndarray, sigma: float, seed: int | None = 0) -> np.ndarray:
    """Additive white Gaussian noise of standard deviation ``sigma`` in pixel units (0..255),
    i.i.d. per sample, then rounded and clipped. Seeded for reproducibility."""
    image = _check(image)
    rng = np.random.default_rng(seed)
    return _to_uint8(image + sigma * rng.standard_normal(image.shape))


def resize(image: np.ndarray, scale: float, resample: str = "bicubic") -> np.ndarray:
    """Rescale by ``scale`` to (round(scale*H), round(scale*W)) with Pillow's bicubic
    (Keys a = -0.5, as MATLAB imresize) or ``'bilinear'`` (Bayar 2016)."""
    image = _check(image)
    filters = {"bicubic": Image.Resampling.BICUBIC, "bilinear": Image.Resampling.BILINEAR}
    h, w = image.shape[:2]
    size = (round(scale * w), round(scale * h))
    return np.asarray(Image.fromarray(image).resize(size, filters[resample]), dtype=np.uint8)


def jpeg_compress(image: np.ndarray, quality: int) -> bytes:
    """Baseline JPEG bytes with the IJG tables for ``quality``, Pillow's default 4:2:0
    chroma subsampling for RGB."""
    image = _check(image)
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=int(quality))
    return buffer.getvalue()


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    """JPEG compression at ``quality`` followed by decoding: same shape, uint8."""
    with Image.open(io.BytesIO(jpeg_compress(image, quality))) as im:
        return np.asarray(im, dtype=np.uint8)


@dataclass(frozen=True)
class Manipulation:
    """One operation of Table I: its name, parameter name, the paper's strengths from the
    strongest to the weakest, and the function ``apply(image, strength, seed)``."""

    name: str
    parameter: str
    strengths: tuple[float, ...]
    apply: Callable[[np.ndarray, float, int], np.ndarray]
    per_channel: bool = True

    def label(self, strength: float) -> str:
        """Short task label, e.g. ``blur 0.5``."""
        return f"{self.name} {strength:g}"


MANIPULATIONS: dict[str, Manipulation] = {
    "median": Manipulation("median", "kernel size", (7, 5, 3), lambda im, s, seed: median(im, int(s))),
    "blur": Manipulation("blur", "sigma", (1.1, 0.75, 0.5), lambda im, s, seed: gaussian_blur(im, s)),
    "noise": Manipulation("noise", "sigma", (2.0, 0.5, 0.25), lambda im, s, seed: add_noise(im, s, seed)),
    "resize": Manipulation("resize", "scale", (1.5, 1.125, 1.01), lambda im, s, seed: resize(im, s)),
    "jpeg": Manipulation("jpeg", "quality", (70, 80, 90), lambda im, s, seed: jpeg(im, int(s)), per_channel=False),
}
"""The five manipulation types, keyed by the names used on the command line."""


def get(name: str) -> Manipulation:
    """The manipulation called ``name``; ValueError listing the valid names otherwise."""
    try:
        return MANIPULATIONS[name]
    except KeyError:
        raise ValueError(f"unknown manipulation {name!r}; choose from {', '.join(MANIPULATIONS)}") from None


def apply(image: np.ndarray, name: str, strength: float, seed: int = 0) -> np.ndarray:
    """Apply manipulation ``name`` at ``strength`` to a uint8 image."""
    return get(name).apply(image, strength, seed)


def all_tasks() -> list[tuple[str, float]]:
    """The 15 (manipulation, strength) tasks of Table I, strongest first within each."""
    return [(m.name, float(s)) for m in MANIPULATIONS.values() for s in m.strengths]


def task_key(manip: str, strength: float) -> str:
    """Name of a task, e.g. ``blur:0.5``."""
    return f"{manip}:{strength:g}"
