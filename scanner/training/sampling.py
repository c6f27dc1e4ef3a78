"""Where training data is cut from a photo, and the per-photo cache that keeps it: regions
aligned to the JPEG grid, patch positions, patches, per-photo seeds, and results cached under a
hash of what made them (with a probe that catches any change of the stored values)."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from ..core.constants import PATCH
from ..core.files import write_output
from ..core.progress import progress as show_progress
from ..inputs.images import read_bytes, sha256_hex
from .photos import Photo

MARGIN = 16
"""Distance in pixels between a region's border and the nearest patch (filter borders)."""


def default_cache_dir() -> Path:
    """``$SCANNER_CACHE`` or ``~/.cache/scanner``."""
    return Path(os.environ.get("SCANNER_CACHE", Path.home() / ".cache" / "scanner"))


def patch_positions(height: int, width: int, size: int = PATCH, margin: int = MARGIN) -> np.ndarray:
    """Top-left corners (K, 2) of a non-overlapping grid of size x size patches, at least
    ``margin`` pixels inside a height x width region."""
    rows = np.arange(margin, height - margin - size + 1, size)
    cols = np.arange(margin, width - margin - size + 1, size)
    return np.array([(r, c) for r in rows for c in cols], dtype=np.int64).reshape(-1, 2)


def cut_patches(image: np.ndarray, positions: np.ndarray, size: int = PATCH) -> np.ndarray:
    """The ``size`` x ``size`` patches (N, size, size[, C]) of ``image`` at (top, left) ``positions`` (N, 2), pixels."""
    return np.stack([image[r : r + size, c : c + size] for r, c in positions]) if len(positions) else np.zeros((0, size, size), np.uint8)


def random_region(rgb: np.ndarray, region: int, rng: np.random.Generator) -> tuple[np.ndarray, int, int]:
    """A crop of at most ``region`` x ``region`` pixels at a random offset, both aligned to the
    16-pixel JPEG MCU grid: (crop, top, left)."""
    h, w = rgb.shape[:2]
    rh, rw = min(region, h) // 16 * 16, min(region, w) // 16 * 16
    top = int(rng.integers(0, (h - rh) // 16 + 1)) * 16
    left = int(rng.integers(0, (w - rw) // 16 + 1)) * 16
    return rgb[top : top + rh, left : left + rw], top, left


PROBE_SIDE = 320
"""Side in pixels of the synthetic photo of :func:`probe_fingerprint` (room for a few patch
positions at every resizing scale)."""


def probe_photo(folder: Path) -> Photo:
    """A fixed synthetic RGB photo (:data:`PROBE_SIDE` square: smooth gradients, edges and
    sensor-like noise), saved as PNG in ``folder``."""
    rng = np.random.default_rng(20170101)
    rows, cols = np.mgrid[0:PROBE_SIDE, 0:PROBE_SIDE] / PROBE_SIDE
    shade = 90 + 80 * np.sin(7 * rows + 3 * cols) + 60 * (cols > 0.6) - 40 * ((rows - 0.4) ** 2 + (cols - 0.3) ** 2 < 0.04)
    rgb = shade[..., None] * np.array([1.0, 0.9, 0.75]) + rng.normal(0, 3, (PROBE_SIDE, PROBE_SIDE, 3))
    path = folder / "probe.png"
    Image.fromarray(np.clip(np.round(rgb), 0, 255).astype(np.uint8)).save(path)
    return Photo(path, "probe", sha256_hex(read_bytes(path)))


def probe_fingerprint(worker, args) -> str:
    """A short hash of everything ``worker(args(photo))`` returns for :func:`probe_photo`: part of
    every cache key, so that a change of any code behind a cached value (a descriptor, a
    manipulation, a rounding) makes the cache miss instead of serving stale values. Runs the
    worker once in this process, on a few patches."""
    with tempfile.TemporaryDirectory(prefix="scanner-probe-") as folder:
        result = worker(args(probe_photo(Path(folder))))
    digest = hashlib.sha256()
    for name in sorted(result):
        value = np.ascontiguousarray(result[name])
        digest.update(f"{name}:{value.dtype.str}:{value.shape}".encode())
        digest.update(value.tobytes())
    return digest.hexdigest()[:16]


def cached_photos(photos: list[Photo], cache: Path, spec, worker, args, progress: bool, workers: int | None,
                   label: str) -> list[Path]:
    """Run ``worker(args(photo))`` on every photo whose result is not cached yet (``workers``
    processes) and save it as an npz named by the hash of ``spec(photo)`` and of the worker's
    :func:`probe_fingerprint` under ``cache``; returns each photo's npz path."""
    cache.mkdir(parents=True, exist_ok=True)
    fingerprint = probe_fingerprint(worker, args)

    def key(photo: Photo) -> Path:
        return cache / f"{hashlib.sha256(json.dumps([fingerprint, *spec(photo)]).encode()).hexdigest()[:24]}.npz"

    todo = [p for p in photos if not key(p).exists()]
    if todo:
        with ProcessPoolExecutor(max_workers=workers or min(2, os.cpu_count() or 1)) as pool:
            results = show_progress(pool.map(worker, [args(p) for p in todo]), len(todo), label, "photos", progress)
            for p, result in zip(todo, results):
                write_output(key(p), True, lambda partial: np.savez(partial, **result))
    return [key(p) for p in photos]


def photo_seed(photo: Photo, seed: int) -> int:
    """The seed of a photo's bank data: the run's ``seed`` offset by the photo's hash."""
    return seed + int(photo.sha256[:8], 16) % 100_000
