"""The forgery cases of the localisation benchmark, made on central crops of held-out photos:
splices of processed regions and resized copy-moves, large and small."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..features.lattice import central_crop
from ..inputs.images import load_rgb
from ..processing.forgery import Forgery, copy_move, splice
from ..processing.manipulations import MANIPULATIONS
from ..training.photos import list_photos, make_split

CROP = 768
"""Forgeries are made on central crops of CROP x CROP pixels of the held-out photos."""


def forgeries(crops: list[tuple[str, np.ndarray]], make: Callable[[np.ndarray, np.ndarray, int], Forgery],
              seed: int = 0) -> Iterator[tuple[int, Forgery]]:
    """(i, forgery) for each crop i of ``crops``: ``make(target, donor, seed + i)`` with crop i the
    target and the next crop (cyclically) the donor, as every localisation evaluation forges."""
    for i, (_, target) in enumerate(crops):
        yield i, make(target, crops[(i + 1) % len(crops)][1], seed + i)


SMALL_AREA = (0.01, 0.05)
"""Share of the crop that a small forgery's pasted region covers."""


@dataclass
class Case:
    """A kind of forgery: a splice of a processed region, or a resized copy-move; ``small``
    ones paste a region of :data:`SMALL_AREA` of the image."""

    kind: str  # "splice" or "copy-move"
    manip: str
    strength: float
    small: bool = False

    @property
    def label(self) -> str:
        what = f"splice {self.manip} {self.strength:g}" if self.kind == "splice" else f"copy-move resize {self.strength:g}"
        return f"small {what}" if self.small else what

    def make(self, target: np.ndarray, donor: np.ndarray, seed: int) -> Forgery:
        if self.kind == "splice":
            return splice(target, donor, self.manip, self.strength, seed, **({"area": SMALL_AREA} if self.small else {}))
        if self.small:  # the source blob, scaled by strength^2 in area, pastes SMALL_AREA
            return copy_move(target, self.strength, seed, tuple(a / self.strength**2 for a in SMALL_AREA))
        return copy_move(target, self.strength, seed)


def held_out_crops(root: Path, split: str = "0", limit: int | None = None) -> list[tuple[str, np.ndarray]]:
    """Central CROP x CROP crops of the photos of the held-out makes of the make split named
    ``split`` (the split the detectors were trained on), skipping photos smaller than the crop."""
    test = make_split(list_photos(root), split)["test"]
    crops = []
    for photo in test:
        rgb = load_rgb(photo.path)
        if min(rgb.shape[:2]) < CROP:
            continue
        crops.append((photo.camera, central_crop(rgb, CROP, grid=16)))
        if limit and len(crops) >= limit:
            break
    return crops


def all_cases() -> list[Case]:
    """Splices of every manipulation at every strength, copy-moves at the three scales, then
    small forgeries: splices of every manipulation at its middle strength and of blur 0.5, and
    copy-moves resized by 1.125 (the paper's Fig. 6 strengths)."""
    cases = [Case("splice", m, s) for m, spec in MANIPULATIONS.items() for s in spec.strengths]
    cases += [Case("copy-move", "resize", s) for s in MANIPULATIONS["resize"].strengths]
    cases += [Case("splice", m, spec.strengths[1], small=True) for m, spec in MANIPULATIONS.items()]
    return cases + [Case("splice", "blur", 0.5, small=True), Case("copy-move", "resize", 1.125, small=True)]
