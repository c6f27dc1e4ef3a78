"""Localisation maps: window scores of several sizes fused into one map per detector, a cell every
:data:`scanner.core.constants.MAP_CELL` pixels, and the map of any detector."""

from __future__ import annotations

import numpy as np

from ..core.constants import MAP_CELL, PATCH
from ..core.types import AnyCalibration
from ..families.protocol import DetectorSet
from .options import ScanOptions


def background_departure(maps: np.ndarray) -> np.ndarray:
    """Localisation maps (D, H, W) -> how far each cell lies from its map's median over the
    image, above or below: the distance from the image's own background, map units (D, H, W)."""
    return np.abs(maps - np.median(maps.reshape(len(maps), -1), axis=1)[:, None, None])


def any_map(evidence: dict[str, np.ndarray], calibration: AnyCalibration | None = None,
            resaved: dict[str, np.ndarray] | None = None, absolute: bool = True) -> np.ndarray:
    """The map of any detector from the detectors' localisation maps ``evidence`` and the
    resaved heads' maps ``resaved`` (same grid, H x W cells): per cell, the largest of

    - the detectors' maps themselves (absolute: 0 is each detector's pristine 0.5% level),
      unless ``absolute`` is False, and, with a ``calibration``,
    - each map's :func:`background_departure` less its offset, less the threshold (relative: 0
      is the level that 0.5% of pristine cells pass, away from their own image's background),
      the resaved maps' included.

    The relative part finds a region that stands out from the rest of its image even where a
    detector sits below its pristine level everywhere, as the JPEG detector does on a camera JPEG
    with a recompressed splice, and a region that sits *below* the rest, as an edited region
    does once the whole forgery is saved as JPEG (the untouched background then carries a double
    compression, the edited region less of one). The absolute part keeps a wholly processed
    image lit. The resaved maps, which read an edit through that final JPEG save, count only
    relative to their own image: their absolute level backs no verdict, and on content unlike
    the training photos' it can sit over 0 everywhere (docs/method.md).

    ``absolute=False`` (with a calibration) keeps the relative part alone: for an image not
    stored as JPEG, whose levels the camera-JPEG calibration does not describe (lossless film
    scans: 47% of cells over 0; docs/results-localization.md)."""
    levels = np.stack(list(evidence.values())).max(axis=0)
    if calibration is None:
        return levels
    everything = evidence | (resaved or {})
    maps = np.stack(list(everything.values()))
    offsets = np.array([calibration.offsets[name] for name in everything])[:, None, None]
    relative = (background_departure(maps) - offsets).max(axis=0) - calibration.threshold
    return np.maximum(levels, relative) if absolute else relative


def scale_stride(window: int, stride: int) -> int:
    """Stride of the windows of size ``window`` in a scan at ``stride``: a quarter window, at
    most ``stride`` and at least one map cell (64 -> 16 and 32 -> 8 at the default 32)."""
    return max(MAP_CELL, min(stride, window // 4))


def coverage_mean(values: np.ndarray, stride: int, window: int, shape: tuple[int, int], cell: int = MAP_CELL) -> np.ndarray:
    """Window values (rows, cols) on a grid of ``window``-pixel windows every ``stride`` pixels
    -> the mean over the windows covering each cell centre of an image of ``shape`` (H, W)
    pixels: (ceil(H / cell), ceil(W / cell)). Pixels past the last window take the last one."""
    out = values.astype(np.float64)
    for axis, n in enumerate(shape):
        centres = np.arange(0, n, cell) + cell // 2
        k = values.shape[axis]
        hi = np.clip(centres // stride, 0, k - 1)
        lo = np.minimum(np.clip(-((window - 1 - centres) // stride), 0, k - 1), hi)  # ceil((c - window + 1) / stride)
        sums = np.cumsum(np.moveaxis(out, axis, 0), axis=0)
        sums = np.concatenate([np.zeros((1,) + sums.shape[1:]), sums])
        out = np.moveaxis((sums[hi + 1] - sums[lo]) / (hi - lo + 1)[:, None], 0, axis)
    return out


def map_grids(detectors: DetectorSet, shape: tuple[int, int], options: ScanOptions) -> list[tuple[int, int]]:
    """The (window, stride) grids of the localisation map (``options.window`` alone, or every
    size of :data:`WINDOWS`) that fit an image of ``shape`` and that some detector of the set is
    calibrated for; 128-pixel windows at the scan's stride."""
    grids = []
    for window in options.map_windows:
        if min(shape) >= window and any(window in detectors.scales(n) for n in detectors.names):
            grids.append((window, options.stride if window == PATCH else scale_stride(window, options.stride)))
    return grids


def localisation_maps(shape: tuple[int, int], detectors: DetectorSet, scored: dict, options: ScanOptions) -> dict[str, np.ndarray]:
    """Each detector's localisation map, and each resaved head's (:mod:`scanner.families.bank`): a cell
    every :data:`MAP_CELL` pixels of an image of ``shape`` (H, W), the mean over the grids of
    :func:`map_grids` of the mean logit of the windows covering the cell, less that size's
    pristine threshold, in units of its pristine spread (:class:`ScaleCalibration`). 0 is the
    0.5%-of-pristine-windows level of every size. ``scored`` maps each grid (window, stride) to
    its :class:`scanner.core.types.WindowScores`."""
    sums: dict[str, np.ndarray] = {}
    counts: dict[str, int] = {}
    for window, stride in map_grids(detectors, shape, options):
        scores = scored[window, stride]
        for name, logits in (scores.detectors | scores.resaved).items():
            scale = detectors.scales(name).get(window)
            if scale is not None:
                z = (coverage_mean(logits, stride, window, shape) - scale.threshold) / scale.spread
                sums[name] = sums.get(name, 0) + z
                counts[name] = counts.get(name, 0) + 1
    return {name: sums[name] / counts[name] for name in sums}
