"""JPEG history on photos with known histories: lossless photos compressed once, camera JPEGs
decoded and saved again, camera JPEGs as the camera wrote them, and photos cropped between two
compressions (the earlier grid shifted)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from ..features.double_quantization import jpeg_history
from ..inputs.images import load_rgb
from ..processing.manipulations import jpeg, jpeg_compress
from ..training.photos import Photo
from .held_out import photo_interval

SINGLE_QUALITIES = (60, 65, 70, 75, 80, 85, 90, 95)
"""Qualities at which lossless photos are compressed once."""

RESAVE_QUALITIES = (70, 75, 80, 85, 90)
"""Qualities at which camera JPEGs are decoded and saved again."""

SHIFTED_PAIRS = ((60, 80), (70, 90), (80, 95), (80, 80), (90, 70))
"""(earlier, later) qualities of the photos cropped between two compressions: three where the
earlier is coarser (the shifted-grid test's domain), one equal, one finer."""

REDUCTION = 3
"""Factor by which a camera photo is reduced (box filter) to wipe out its own JPEG history."""


@dataclass(frozen=True)
class HistoryRate:
    """How often files of one known history were read as ``evidence`` of double compression:
    ``files`` files of ``photos`` distinct photos, the count of each reading, and the share of
    ``evidence`` (%) with its 95% photo bootstrap interval."""

    files: int
    photos: int
    readings: dict[str, int]
    evidence: float
    interval: tuple[float, float]
    right_grid: int | None = None
    """Of the files read as evidence, those whose ``earlier_grid`` is the true one (shifted files only)."""


def _rate(rows: list[tuple[str, str]], right_grid: int | None = None) -> HistoryRate:
    photo = np.array([p for p, _ in rows])
    hit = np.array([r == "evidence" for _, r in rows], dtype=float)
    return HistoryRate(len(rows), len(set(photo)), dict(Counter(r for _, r in rows)), 100 * float(hit.mean()),
                       photo_interval(lambda k: 100 * float(hit[k].mean()), photo), right_grid)


def compressed_once(photos: list[Photo], qualities: tuple[int, ...] = SINGLE_QUALITIES) -> HistoryRate:
    """Lossless ``photos`` compressed once at each quality: every evidence is a false alarm."""
    return _rate([(p.path.name, jpeg_history(jpeg_compress(load_rgb(p.path), q)).double_compression)
                  for p in photos for q in qualities])


def saved_again(photos: list[Photo], qualities: tuple[int, ...] = RESAVE_QUALITIES) -> HistoryRate:
    """Camera JPEG ``photos`` decoded and saved again at each quality: every evidence is a detection."""
    return _rate([(p.path.name, jpeg_history(jpeg_compress(load_rgb(p.path), q)).double_compression)
                  for p in photos for q in qualities])


def as_written(photos: list[Photo]) -> HistoryRate:
    """Camera JPEG ``photos`` as stored: as far as anyone knows compressed once, by the camera."""
    return _rate([(p.path.name, jpeg_history(p.path.read_bytes()).double_compression) for p in photos])


def _cropped(rgb: np.ndarray, offset: tuple[int, int], quality: int) -> tuple[bytes, tuple[int, int]]:
    """``rgb`` cropped by ``offset`` (rows, columns) and saved at ``quality``; and where the earlier
    8x8 grid then starts in the new file's grid."""
    dy, dx = offset
    return jpeg_compress(rgb[dy:, dx:], quality), ((8 - dy) % 8, (8 - dx) % 8)


def _offset(rng: np.random.Generator) -> tuple[int, int]:
    """A crop (rows, columns) of 0-7 pixels each, not 0 in both."""
    while True:
        offset = (int(rng.integers(0, 8)), int(rng.integers(0, 8)))
        if offset != (0, 0):
            return offset


def _shifted_rate(files: list[tuple[str, bytes, tuple[int, int]]]) -> HistoryRate:
    histories = [(p, jpeg_history(data), truth) for p, data, truth in files]
    right = sum(h.double_compression == "evidence" and h.earlier_grid == truth for _, h, truth in histories)
    return _rate([(p, h.double_compression) for p, h, _ in histories], right)


def cropped_between(photos: list[Photo], earlier: int, later: int, seed: int = 0) -> HistoryRate:
    """Camera ``photos`` reduced :data:`REDUCTION` times (a lossless start), compressed at quality
    ``earlier``, decoded, cropped by a random 0-7 pixels (not 0 in both directions) and saved at
    ``later``: every evidence is a detection; ``right_grid`` counts the earlier grids found where they are."""
    rng = np.random.default_rng(seed)
    files = []
    for p in photos:
        rgb = load_rgb(p.path)
        start = rgb[: rgb.shape[0] // REDUCTION * REDUCTION, : rgb.shape[1] // REDUCTION * REDUCTION]
        start = start.reshape(start.shape[0] // REDUCTION, REDUCTION, start.shape[1] // REDUCTION, REDUCTION, 3).mean(axis=(1, 3))
        data, truth = _cropped(jpeg(np.round(start).astype(np.uint8), earlier), _offset(rng), later)
        files.append((p.path.name, data, truth))
    return _shifted_rate(files)


def camera_cropped(photos: list[Photo], qualities: tuple[int, ...] = (70, 80, 90), seed: int = 0) -> HistoryRate:
    """Camera JPEG ``photos`` decoded, cropped by a random 0-7 pixels and saved at each quality: the
    camera's own compression, usually finer, is the earlier one."""
    rng = np.random.default_rng(seed)
    files = []
    for p in photos:
        rgb = load_rgb(p.path)
        for q in qualities:
            data, truth = _cropped(rgb, _offset(rng), q)
            files.append((p.path.name, data, truth))
    return _shifted_rate(files)
