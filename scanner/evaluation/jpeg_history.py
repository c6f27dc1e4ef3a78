"""JPEG history on photos with known histories: lossless photos compressed once, camera JPEGs
decoded and saved again, and camera JPEGs as the camera wrote them."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from ..features.double_quantization import jpeg_history
from ..inputs.images import load_rgb
from ..processing.manipulations import jpeg_compress
from ..training.photos import Photo
from .held_out import photo_interval

SINGLE_QUALITIES = (60, 65, 70, 75, 80, 85, 90, 95)
"""Qualities at which lossless photos are compressed once."""

RESAVE_QUALITIES = (70, 75, 80, 85, 90)
"""Qualities at which camera JPEGs are decoded and saved again."""


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


def _rate(rows: list[tuple[str, str]]) -> HistoryRate:
    photo = np.array([p for p, _ in rows])
    hit = np.array([r == "evidence" for _, r in rows], dtype=float)
    return HistoryRate(len(rows), len(set(photo)), dict(Counter(r for _, r in rows)), 100 * float(hit.mean()),
                       photo_interval(lambda k: 100 * float(hit[k].mean()), photo))


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
