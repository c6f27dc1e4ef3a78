"""Image rules: from one detector's window probabilities to its regions and its per-image result.

An image is flagged when the windows over a detector's threshold form a connected region covering at
least the detector's ``min_area`` pixels (its image rule); such regions are what the record lists."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ..core.constants import MAP_CELL, PATCH
from ..core.types import ImageRule


@dataclass
class Region:
    """A connected group of windows over a detector's threshold (windows that overlap are
    connected): bounding box in pixels [x0, y0, x1, y1) (x1, y1 exclusive), area in pixels
    covered by its windows, mean and max window probability, the number of windows, and the
    operation the operation head finds most likely there (None without one)."""

    detector: str
    bbox: list[int]
    area: int
    mean_score: float
    max_score: float
    windows: int
    operation: str | None = None

    def to_dict(self) -> dict:
        return {"detector": self.detector, "bbox": self.bbox, "area": self.area, "mean_score": round(self.mean_score, 4),
                "max_score": round(self.max_score, 4), "windows": self.windows, "operation": self.operation}


def footprints(over: np.ndarray, stride: int, window: int = PATCH) -> tuple[np.ndarray, int]:
    """Label the union of the windows marked in ``over`` (rows, cols) on a grid of
    ``stride``-pixel cells: window (r, c) covers cells r..r+span-1, c..c+span-1 with
    span = ceil(window / stride). Returns (labels (rows + span - 1, cols + span - 1), count)."""
    span = math.ceil(window / stride)
    padded = np.pad(over.astype(np.int64), ((span, span - 1), (span, span - 1)))
    c = padded.cumsum(0).cumsum(1)
    cover = (c[span:, span:] - c[:-span, span:] - c[span:, :-span] + c[:-span, :-span]) > 0
    return ndimage.label(cover)


def largest_area(over: np.ndarray, stride: int, window: int = PATCH) -> int:
    """Pixels covered by the largest connected group of windows in ``over``."""
    labels, count = footprints(over, stride, window)
    return int(np.bincount(labels.ravel())[1:].max(initial=0)) * stride * stride


def image_score(prob: np.ndarray, stride: int, min_area: int, window: int = PATCH) -> float:
    """The largest q such that the windows with probability >= q include a connected group
    covering at least ``min_area`` pixels (0 if none). An image is flagged exactly when this
    score exceeds the window threshold, and then every flagged region qualifies."""
    values = np.unique(prob)[::-1]
    lo, hi = 0, len(values) - 1
    if largest_area(prob >= values[hi], stride, window) < min_area:
        return 0.0
    while lo < hi:  # smallest index (largest value) that qualifies
        mid = (lo + hi) // 2
        if largest_area(prob >= values[mid], stride, window) >= min_area:
            hi = mid
        else:
            lo = mid + 1
    return float(values[lo])


def regions(prob: np.ndarray, threshold: float, stride: int, detector: str, core_threshold: float | None = None,
            min_area: int = 0, operations: np.ndarray | None = None, operation_names: list[str] | None = None,
            shape: tuple[int, int] | None = None, window: int = PATCH, evidence: np.ndarray | None = None) -> list[Region]:
    """Connected groups of windows whose probability exceeds ``threshold``, largest first.
    With ``evidence`` (bool, a cell every :data:`MAP_CELL` pixels: the localisation map over
    its threshold), a region's box is the box of the evidence inside its windows' footprint.
    With ``core_threshold``, only the groups holding a core (connected windows over
    ``core_threshold``) that covers at least ``min_area`` pixels (hysteresis: the core says
    *whether*, the window threshold says *where*). ``operations`` (C, rows, cols) are operation
    probabilities whose mean over a region's windows names its most likely operation
    (``operation_names[0]``, pristine, is never named). ``shape`` (H, W) clips boxes."""
    over = prob > threshold
    labels, count = footprints(over, stride, window)
    keep = set(range(1, count + 1))
    if core_threshold is not None:
        cores, n_cores = footprints(prob > core_threshold, stride, window)
        sizes = np.bincount(cores.ravel(), minlength=n_cores + 1) * stride * stride
        qualifying = [k for k in np.nonzero(sizes >= min_area)[0] if k > 0]
        keep = {int(k) for k in np.unique(labels[np.isin(cores, qualifying)])} - {0}
    found = []
    for k in sorted(keep):
        cells = labels == k
        mine = over & cells[: over.shape[0], : over.shape[1]]
        rows, cols = np.nonzero(cells)
        x1, y1 = int((cols.max() + 1) * stride), int((rows.max() + 1) * stride)
        if shape is not None:
            y1, x1 = min(y1, shape[0]), min(x1, shape[1])
        box = [int(cols.min() * stride), int(rows.min() * stride), x1, y1]
        if evidence is not None:
            box = _tighten(box, evidence)
        named = None
        if operations is not None and operations.shape[0] > 1:
            mean = operations[:, mine].mean(axis=1)
            named = operation_names[1 + int(np.argmax(mean[1:]))]
        values = prob[mine]
        found.append(Region(detector, box, int(cells.sum()) * stride * stride, float(values.mean()), float(values.max()), int(mine.sum()), named))
    return sorted(found, key=lambda r: (-r.area, -r.max_score))


def _tighten(box: list[int], evidence: np.ndarray) -> list[int]:
    """The box [x0, y0, x1, y1) shrunk to the cells of ``evidence`` inside it (unchanged if none)."""
    x0, y0, x1, y1 = box
    inside = evidence[y0 // MAP_CELL : -(-y1 // MAP_CELL), x0 // MAP_CELL : -(-x1 // MAP_CELL)]
    if not inside.any():
        return box
    rows, cols = np.nonzero(inside)
    top, left = y0 // MAP_CELL + rows.min(), x0 // MAP_CELL + cols.min()
    bottom, right = y0 // MAP_CELL + rows.max() + 1, x0 // MAP_CELL + cols.max() + 1
    return [max(x0, int(left * MAP_CELL)), max(y0, int(top * MAP_CELL)),
            min(x1, int(right * MAP_CELL)), min(y1, int(bottom * MAP_CELL))]


@dataclass
class Detection:
    """One detector's result on one image. ``score`` (:func:`image_score`) is compared with the
    image ``threshold``: ``flagged`` = score > threshold, exactly when ``regions`` is not
    empty. ``window_threshold`` marks the windows a region outlines, ``min_area`` the pixels
    a region's core must cover; ``flagged_fraction`` is the share of windows over the window
    threshold."""

    detector: str
    score: float
    flagged: bool
    threshold: float
    window_threshold: float
    min_area: int
    flagged_fraction: float
    regions: list[Region]

    def to_dict(self) -> dict:
        return {"score": round(self.score, 4), "flagged": self.flagged, "threshold": round(self.threshold, 4),
                "window_threshold": round(self.window_threshold, 4), "min_area": self.min_area,
                "flagged_fraction": round(self.flagged_fraction, 4), "regions": [r.to_dict() for r in self.regions]}


def detect(prob: np.ndarray, rule: ImageRule, stride: int, detector: str, operations: np.ndarray | None = None,
           operation_names: list[str] | None = None, shape: tuple[int, int] | None = None,
           evidence: np.ndarray | None = None) -> Detection:
    """The per-image result of one detector from its window probabilities (rows, cols);
    ``evidence`` (see :func:`regions`) outlines the regions."""
    score = image_score(prob, stride, rule.min_area)
    flagged = score > rule.threshold
    found = regions(prob, rule.window_threshold, stride, detector, rule.threshold, rule.min_area, operations,
                    operation_names, shape, evidence=evidence) if flagged else []
    return Detection(detector, score, flagged, rule.threshold, rule.window_threshold, rule.min_area,
                     float(np.mean(prob > rule.window_threshold)), found)
