"""Typed records shared by the detector families and the scoring: how a detector flags an image,
where its windows lie on pristine photos, and the window scores a detector set returns."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class ImageRule:
    """When a detector flags an image: some connected windows over ``threshold`` (an image
    probability threshold, at least the window threshold) covering ``min_area`` pixels."""

    window_threshold: float
    threshold: float
    min_area: int


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


def sigmoid(x: np.ndarray | float) -> np.ndarray:
    """Logits to probabilities, without overflow for large negative logits."""
    return 0.5 * (1 + np.tanh(0.5 * x))
