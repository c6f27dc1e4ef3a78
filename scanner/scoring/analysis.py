"""Analysis of one image's stored pixels by a detector set: per-detector results, the named operation
and the localisation maps. It returns results and never writes."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..core.constants import ANY_MAP, PATCH
from ..core.types import AnyCalibration, ImageRule, sigmoid
from ..families.protocol import DetectorSet
from .maps import any_map, localisation_maps, map_grids
from .options import ScanOptions
from .rules import Detection, detect


@dataclass
class Analysis:
    """Everything a scan learns from one image: per-detector results and 128-pixel window
    probabilities (rows, cols), the operation probabilities (C, rows, cols) with their names
    (empty without an operation head), the named operation (None if nothing is flagged), and
    each detector's localisation map (:func:`localisation_maps`), the resaved heads' maps, and
    the calibration of the map of any detector (:func:`any_map`; None: the absolute part alone)."""

    detections: dict[str, Detection]
    probabilities: dict[str, np.ndarray]
    operations: np.ndarray
    operation_names: list[str]
    operation: str | None
    evidence: dict[str, np.ndarray] = field(default_factory=dict)
    any_calibration: AnyCalibration | None = None
    resaved: dict[str, np.ndarray] = field(default_factory=dict)
    stored_as_jpeg: bool = True

    @property
    def flagged(self) -> bool:
        return any(d.flagged for d in self.detections.values())

    @property
    def combined(self) -> np.ndarray | None:
        """The :data:`ANY_MAP` map (:func:`any_map`, same grid and units as the detectors' maps,
        0 = the pristine 0.5% level): where the image was most likely processed, whatever the
        operation; relative to the image alone when it was not stored as JPEG. None without
        localisation maps."""
        return any_map(self.evidence, self.any_calibration, self.resaved, self.stored_as_jpeg) if self.evidence else None

    def maps(self) -> dict[str, np.ndarray]:
        """Every localisation map by name: each detector's, each resaved head's, then, with more
        than one, the :data:`ANY_MAP` one."""
        maps = self.evidence | self.resaved
        return maps | ({ANY_MAP: self.combined} if len(maps) > 1 else {})


def _softmax(logits: np.ndarray, axis: int = 0) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def analyze(pixels: np.ndarray, detectors: DetectorSet, options: ScanOptions, stored_as_jpeg: bool = True) -> Analysis:
    """Run a detector set (:func:`scanner.families.registry.load_shipped`) on one image's stored pixels,
    uint8 RGB (H, W, 3) or one channel (H, W) (:func:`scanner.inputs.images.decode_pixels`).
    ``stored_as_jpeg``: False for pixels of a file stored in another format (PNG, TIFF, ...),
    whose map of any detector then reads each map against the image alone (:func:`any_map`).

    The named operation is, among the detectors that flag the image, the one the operation head
    finds most likely over the windows of their regions (without an operation head: the
    flagged detector of highest score)."""
    shape = pixels.shape[:2]
    grids = list(dict.fromkeys([(PATCH, options.stride)] + map_grids(detectors, shape, options)))
    scored = dict(zip(grids, detectors.dense_grids(pixels, grids, options.device, options.threads)))
    scores = scored[PATCH, options.stride]  # the verdict's windows
    operations = _softmax(scores.operations) if len(scores.operation_names) else scores.operations
    maps = localisation_maps(shape, detectors, scored, options)
    evidence = {name: m for name, m in maps.items() if name in scores.detectors}
    resaved = {name: m for name, m in maps.items() if name not in evidence}
    detections, probabilities = {}, {}
    for name, logits in scores.detectors.items():
        prob = sigmoid(logits)
        rule = detectors.image_rule(name)
        if options.threshold is not None:
            rule = ImageRule(options.threshold, options.threshold, rule.min_area)
        detections[name] = detect(prob, rule, options.stride, name, operations if len(scores.operation_names) else None,
                                  scores.operation_names, shape, evidence[name] > 0 if name in evidence else None)
        probabilities[name] = prob
    flagged = [d for d in detections.values() if d.flagged]
    operation = None
    if flagged and len(scores.operation_names):
        inside = np.zeros(operations.shape[1:], dtype=bool)
        for d in flagged:
            inside |= probabilities[d.detector] > d.window_threshold
        mean = operations[:, inside].mean(axis=1)
        operation = max(flagged, key=lambda d: mean[scores.operation_names.index(d.detector)]).detector
    elif flagged:
        operation = max(flagged, key=lambda d: d.score).detector
    calibration = detectors.any_calibration() if options.window is None else None  # calibrated on the fused maps
    return Analysis(detections, probabilities, operations, scores.operation_names, operation, evidence, calibration, resaved,
                    stored_as_jpeg)
