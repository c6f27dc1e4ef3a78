"""Forgeries with exact ground truth: splices of a processed (or unprocessed) region, and
resized (and rotated) copy-moves.

Everything is deterministic under ``seed``. Images are RGB uint8 (H, W, 3); masks are
bool (H, W), True where pixels were replaced.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from . import manipulations


@dataclass
class Forgery:
    """A forged image, its ground-truth mask, a one-line description and, for a copy-move,
    the mask of the untouched region it was copied from."""

    image: np.ndarray
    mask: np.ndarray
    description: str
    source: np.ndarray | None = None


def blob_mask(height: int, width: int, rng: np.random.Generator, area: tuple[float, float] = (0.12, 0.25)) -> np.ndarray:
    """A random smooth blob (an ellipse with a wavy border) covering a fraction of the
    height x width frame drawn from ``area``, at a random place. bool (height, width)."""
    target = rng.uniform(*area) * height * width
    aspect = rng.uniform(0.6, 1.6)
    ry = np.sqrt(target / (np.pi * aspect))
    rx = ry * aspect
    ry, rx = min(ry, 0.45 * height), min(rx, 0.45 * width)
    cy, cx = rng.uniform(ry, height - ry), rng.uniform(rx, width - rx)
    yy, xx = np.mgrid[0:height, 0:width]
    angle = np.arctan2((yy - cy) / ry, (xx - cx) / rx)
    wobble = 1 + 0.12 * np.sin(3 * angle + rng.uniform(0, 2 * np.pi)) + 0.06 * np.sin(5 * angle + rng.uniform(0, 2 * np.pi))
    return ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= wobble**2


def splice(target: np.ndarray, donor: np.ndarray, manip: str | None, strength: float, seed: int = 0,
           area: tuple[float, float] = (0.12, 0.25)) -> Forgery:
    """Paste a random blob of the processed ``donor`` (``manip`` at ``strength``; ``None``: the
    donor as it is) into ``target``.

    The donor is processed as a whole image first, then a window of the target's size is
    taken from it at a random offset; donor (after processing) must be at least as large
    as the target.
    """
    rng = np.random.default_rng(seed)
    processed = manipulations.apply(donor, manip, strength, seed) if manip else donor
    h, w = target.shape[:2]
    if processed.shape[0] < h or processed.shape[1] < w:
        raise ValueError(f"donor {processed.shape[:2]} is smaller than the target {(h, w)}")
    dy = int(rng.integers(0, processed.shape[0] - h + 1))
    dx = int(rng.integers(0, processed.shape[1] - w + 1))
    mask = blob_mask(h, w, rng, area)
    out = target.copy()
    out[mask] = processed[dy : dy + h, dx : dx + w][mask]
    return Forgery(out, mask, f"splice of a {manipulations.get(manip).label(strength)} region" if manip
                   else "splice of an unprocessed region")


def _bounds(mask: np.ndarray) -> tuple[slice, slice]:
    ys, xs = np.nonzero(mask)
    return slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1)


def _rotate(image: np.ndarray, angle: float, centre: tuple[float, float]) -> np.ndarray:
    """``image`` (H, W[, 3]) uint8 rotated by ``angle`` degrees counter-clockwise about ``centre``
    (x, y pixels), bicubic, same frame."""
    return np.asarray(Image.fromarray(image).rotate(angle, Image.Resampling.BICUBIC, center=centre), dtype=np.uint8)


def copy_move(image: np.ndarray, scale: float, seed: int = 0, area: tuple[float, float] = (0.08, 0.16),
              angle: float = 0.0) -> Forgery:
    """Copy a random blob of ``image``, rotate it by ``angle`` degrees counter-clockwise (bicubic,
    about the centre of its bounding box, its surroundings interpolated with it), resize it by
    ``scale`` (bicubic) and paste it elsewhere in the same image, not overlapping its source."""
    rng = np.random.default_rng(seed)
    h, w = image.shape[:2]
    for _ in range(100):
        source = blob_mask(h, w, rng, area)
        copied, blob = image, source
        if angle:
            rows, cols = _bounds(source)
            centre = ((cols.start + cols.stop) / 2, (rows.start + rows.stop) / 2)
            copied, blob = _rotate(image, angle, centre), _rotate(source.astype(np.uint8) * 255, angle, centre) > 127
        rows, cols = _bounds(blob)
        block = manipulations.resize(copied[rows, cols], scale)
        shape = manipulations.resize(blob[rows, cols].astype(np.uint8) * 255, scale) > 127
        bh, bw = shape.shape
        if bh >= h or bw >= w:
            continue
        ty, tx = int(rng.integers(0, h - bh + 1)), int(rng.integers(0, w - bw + 1))
        mask = np.zeros((h, w), dtype=bool)
        mask[ty : ty + bh, tx : tx + bw] = shape
        if not (mask & source).any():
            out = image.copy()
            out[ty : ty + bh, tx : tx + bw][shape] = block[shape]
            turned = f", rotated by {angle:g} degrees" if angle else ""
            return Forgery(out, mask, f"copy-move resized by {scale:g}{turned}", source)
    raise ValueError("image too small for a non-overlapping copy-move")
