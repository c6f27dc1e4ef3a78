"""Typed records shared by the detector families and the scoring: how a detector flags an image,
where its windows lie on pristine photos, and the window scores a detector set returns."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class SpreadRule:
    """When a detector finds processing spread over a whole image: the spread score (the mean of
    its 128-pixel window logits, each clipped to +-:data:`scanner.core.constants.SPREAD_CLIP`)
    exceeds the threshold calibrated on pristine crops of side ``sides[i]`` pixels (ascending;
    ``thresholds[i]``, logits). An image uses the largest side not above the side of a square
    of its area (the smallest for smaller images): thresholds fall as images grow."""

    sides: tuple[int, ...]
    thresholds: tuple[float, ...]

    def threshold(self, shape: tuple[int, int]) -> float:
        """The spread threshold (logit) for an image of ``shape`` (H, W) pixels."""
        side = (shape[0] * shape[1]) ** 0.5
        fitting = [t for s, t in zip(self.sides, self.thresholds) if s <= side]
        return fitting[-1] if fitting else self.thresholds[0]

    def to_dict(self) -> dict:
        return {"sides": list(self.sides), "thresholds": [round(t, 4) for t in self.thresholds]}


@dataclass(frozen=True)
class ImageRule:
    """When a detector flags an image: some connected windows over ``threshold`` (an image
    probability threshold, at least the window threshold) covering ``min_area`` pixels (a
    local finding), or, with a ``spread`` rule, a spread score over its threshold (global)."""

    window_threshold: float
    threshold: float
    min_area: int
    spread: SpreadRule | None = None

    def to_dict(self) -> dict:
        """The rule as the JSON output records it (``spread`` only where the card has one)."""
        out = {"window_threshold": self.window_threshold, "threshold": self.threshold, "min_area": self.min_area}
        return out | ({"spread": self.spread.to_dict()} if self.spread else {})


@dataclass(frozen=True)
class ScaleCalibration:
    """Where a detector's window logits lie on pristine photos at one window size: ``threshold``,
    the logit that 0.5% of pristine windows exceed, and ``spread``, their interquartile range."""

    threshold: float
    spread: float


@dataclass(frozen=True)
class AnyCalibration:
    """How the map of any detector reads each detector's map against its own image
    (:func:`scanner.scoring.maps.any_map`): ``offsets`` maps each detector to the distance from its
    image's median (map units) that 0.5% of pristine cells exceed; ``threshold`` is the level
    that 0.5% of pristine cells' largest distance less offset exceeds."""

    offsets: dict[str, float]
    threshold: float


@dataclass
class WindowScores:
    """Dense results on the window grid: ``tops``/``lefts`` (pixels), detector logits
    (rows, cols) keyed by detector name, operation logits (C, rows, cols), and the resaved
    heads' logits (rows, cols) keyed by map name (maps only, never a verdict)."""

    tops: np.ndarray
    lefts: np.ndarray
    detectors: dict[str, np.ndarray]
    operations: np.ndarray
    operation_names: list[str]
    resaved: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass(frozen=True)
class JpegHistory:
    """What a JPEG file's own coefficients say of its compression history: ``quality``, the IJG
    quality nearest its luminance table (``standard_table``: equal to it); ``double_compression``
    ``evidence`` (an earlier compression with other steps, or on another grid), ``none`` (no trace
    found) or ``undetermined`` (too few coefficients to tell); the aligned grid's ``statistic``
    against ``threshold``; and, with evidence, ``earlier_quality``, the IJG quality whose steps best
    match the earlier steps found (approximate). The shifted-grid test's ``grid_statistic`` against
    ``grid_threshold``, and with evidence on a shifted grid ``earlier_grid`` (row, column): where the
    earlier 8x8 blocks start in the file's grid, in pixels (the photo was cropped between the two
    compressions)."""

    quality: int
    standard_table: bool
    double_compression: str
    statistic: float
    threshold: float
    earlier_quality: int | None = None
    grid_statistic: float = 0.0
    grid_threshold: float = 0.0
    earlier_grid: tuple[int, int] | None = None

    def to_dict(self) -> dict:
        return {"quality": self.quality, "standard_table": self.standard_table, "double_compression": self.double_compression,
                "statistic": round(self.statistic, 2), "threshold": self.threshold, "earlier_quality": self.earlier_quality,
                "grid_statistic": round(self.grid_statistic, 2), "grid_threshold": self.grid_threshold,
                "earlier_grid": list(self.earlier_grid) if self.earlier_grid else None}


def sigmoid(x: np.ndarray | float) -> np.ndarray:
    """Logits to probabilities, without overflow for large negative logits."""
    return 0.5 * (1 + np.tanh(0.5 * x))
