"""What a detector family gives the scoring: one typed protocol, so that scoring, the writers, the
engines, evaluation and the command line never ask which family they hold.

A family's module owns its build (a loader from a verified card), its dense scoring, its card I/O
and the hooks its training calls (the bank: :mod:`scanner.families.head_fitting`, how each head is
fitted; the networks: ``after_step``, the constraint projected after each optimiser step). The
training runs themselves sit a stage above, in :mod:`scanner.training`, because they need photos,
make splits and calibration on scans, which no family may import."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol, runtime_checkable

import numpy as np

from ..core.types import AnyCalibration, ImageRule, ScaleCalibration, WindowScores
from .cards import TrainingSplit


@runtime_checkable
class DetectorSet(Protocol):
    """A set of detectors, one per manipulation, loaded from a weights folder.

    ``dense_grids`` scores every window of each (window, stride) grid of uint8 pixels, RGB
    (H, W, 3) or one channel (H, W), as logits (rows, cols) per detector; the rest says how to
    read those logits: the image rule of each detector, where its logits lie on pristine photos
    at each window size, and how the map of any detector reads the maps."""

    path: Path | None

    @property
    def names(self) -> list[str]:
        """The detectors, one per manipulation."""

    @property
    def trained_on(self) -> TrainingSplit | None:
        """The make split the set was trained and calibrated on (None when its card names none):
        evaluation reads the held-out makes of this split."""

    def dense_grids(self, pixels: np.ndarray, grids: list[tuple[int, int]], device: str = "cpu",
                    threads: int = 1) -> list[WindowScores]:
        """One :class:`WindowScores` per (window, stride) grid, pixels."""

    def image_rule(self, name: str) -> ImageRule:
        """When detector ``name`` flags an image."""

    def scales(self, name: str) -> dict[int, ScaleCalibration]:
        """Window size (pixels) -> pristine calibration of detector (or map) ``name``."""

    def any_calibration(self) -> AnyCalibration | None:
        """How the map of any detector reads each map against its own image (None: the largest map)."""

    def colour_detectors(self, only: bool = False) -> list[str]:
        """Detectors that read colour residuals (``only``: nothing else)."""

    def describe(self) -> dict[str, dict]:
        """What the JSON output records of each detector: its file, sha256, architecture and rule."""


@dataclass(frozen=True)
class Family:
    """A detector family as the registry knows it: the architecture types its cards name, and the
    loader of a weights folder, ``load(folder, detector names, device) -> DetectorSet``."""

    name: str
    types: tuple[str, ...]
    load: Callable[[Path, list[str], str], DetectorSet]
