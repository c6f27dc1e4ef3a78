"""Image rules: from one detector's window probabilities to its regions and its per-image result.

A detector flags an image *locally* when the windows over its threshold form a connected region covering at
least the detector's ``min_area`` pixels (its core rule); such regions are what the record lists. It flags it
*globally* when its spread score, the mean of its window logits over the whole image, exceeds its spread
threshold (:class:`scanner.core.types.SpreadRule`); the record then lists one region, the whole image."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ..core.constants import MAP_CELL, MIN_TEXTURED, PATCH, SPREAD_CLIP
from ..core.types import ImageRule, sigmoid


@dataclass
class Region:
    """A connected group of windows over a detector's threshold (windows that overlap are
    connected): bounding box in pixels [x0, y0, x1, y1) (x1, y1 exclusive), area in pixels
    covered by its windows, mean and max window probability, the number of windows, the
    operation the operation head finds most likely there (None without one), and its
    ``extent``: ``local`` (connected windows) or ``global`` (the whole image, by the spread rule)."""

    detector: str
    bbox: list[int]
    area: int
    mean_score: float
    max_score: float
    windows: int
    operation: str | None = None
    extent: str = "local"

    def to_dict(self) -> dict:
        return {"detector": self.detector, "extent": self.extent, "bbox": self.bbox, "area": self.area,
                "mean_score": round(self.mean_score, 4), "max_score": round(self.max_score, 4), "windows": self.windows,
                "operation": self.operation}


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


def spread_score(logits: np.ndarray, textured: np.ndarray) -> float | None:
    """The mean of the logits (rows, cols) of the ``textured`` windows (bool, rows x cols; flat
    windows carry no evidence), each clipped to +-:data:`SPREAD_CLIP`: how far a whole image
    sits from pristine, whatever its size (:class:`scanner.core.types.SpreadRule`). None when
    fewer than :data:`MIN_TEXTURED` of the windows are textured."""
    if textured.mean() < MIN_TEXTURED:
        return None
    return float(np.mean(np.clip(logits[textured], -SPREAD_CLIP, SPREAD_CLIP)))


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
    image ``threshold`` (the local, core rule); ``spread_score`` (:func:`spread_score`) with
    ``spread_threshold`` (the global rule; None without one). ``flagged`` when either passes,
    exactly when ``regions`` is not empty; ``extent`` says which: ``global`` when the spread
    rule passes, else ``local`` (None when not flagged). ``explained``: why a finding that passed
    is not counted (the file's own JPEG compression), else None. ``window_threshold`` marks the windows a
    region outlines, ``min_area`` the pixels a region's core must cover; ``flagged_fraction`` is
    the share of windows over the window threshold."""

    detector: str
    score: float
    flagged: bool
    threshold: float
    window_threshold: float
    min_area: int
    flagged_fraction: float
    regions: list[Region]
    spread_score: float | None = None
    spread_threshold: float | None = None
    explained: str | None = None

    @property
    def extent(self) -> str | None:
        if not self.flagged:
            return None
        return "global" if any(r.extent == "global" for r in self.regions) else "local"

    @property
    def margin(self) -> float:
        """How far the deciding rule's score passes its threshold, in logits (negative when
        neither passes): the larger of the core rule's and the spread rule's margins."""
        p = np.clip([self.score, self.threshold], 1e-9, 1 - 1e-9)
        core = float(np.log(p[0] / (1 - p[0])) - np.log(p[1] / (1 - p[1])))
        if self.spread_score is None or self.spread_threshold is None:
            return core
        return max(core, self.spread_score - self.spread_threshold)

    def to_dict(self) -> dict:
        spread = {} if self.spread_score is None else {"spread_score": round(self.spread_score, 4),
                                                       "spread_threshold": round(self.spread_threshold, 4)}
        return {"score": round(self.score, 4), "flagged": self.flagged, "extent": self.extent, "threshold": round(self.threshold, 4),
                "window_threshold": round(self.window_threshold, 4), "min_area": self.min_area, **spread,
                "margin": round(self.margin, 4), "flagged_fraction": round(self.flagged_fraction, 4),
                "regions": [r.to_dict() for r in self.regions], **({"explained": self.explained} if self.explained else {})}


def detect(logits: np.ndarray, rule: ImageRule, stride: int, detector: str, operations: np.ndarray | None = None,
           operation_names: list[str] | None = None, shape: tuple[int, int] | None = None,
           evidence: np.ndarray | None = None, textured: np.ndarray | None = None) -> Detection:
    """The per-image result of one detector from its window logits (rows, cols) on an image of
    ``shape`` (H, W); ``evidence`` (see :func:`regions`) outlines the local regions; the spread
    rule reads the ``textured`` windows (:func:`spread_score`; None: no spread rule)."""
    prob = sigmoid(logits)
    score = image_score(prob, stride, rule.min_area)
    local = score > rule.threshold
    found = regions(prob, rule.window_threshold, stride, detector, rule.threshold, rule.min_area, operations,
                    operation_names, shape, evidence=evidence) if local else []
    spread = threshold = None
    if rule.spread is not None and shape is not None and textured is not None:
        spread, threshold = spread_score(logits, textured), rule.spread.threshold(shape)
        if spread is not None and spread > threshold:
            found.insert(0, whole_image(prob, stride, detector, shape, operations, operation_names))
    return Detection(detector, score, bool(found), rule.threshold, rule.window_threshold, rule.min_area,
                     float(np.mean(prob > rule.window_threshold)), found, spread, threshold)


def whole_image(prob: np.ndarray, stride: int, detector: str, shape: tuple[int, int], operations: np.ndarray | None = None,
                operation_names: list[str] | None = None) -> Region:
    """The region of a global finding: the whole image, every window, and the operation the
    operation head finds most likely over all of them."""
    named = None
    if operations is not None and operations.shape[0] > 1:
        named = operation_names[1 + int(np.argmax(operations[1:].mean(axis=(1, 2))))]
    return Region(detector, [0, 0, int(shape[1]), int(shape[0])], int(shape[0] * shape[1]), float(prob.mean()),
                  float(prob.max()), int(prob.size), named, "global")
