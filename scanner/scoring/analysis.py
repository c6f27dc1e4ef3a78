"""Analysis of one image's stored pixels by a detector set: per-detector results, the named operation
and the localisation maps. It returns results and never writes."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from ..core.constants import ANY_MAP, FLAT_STD, JPEG_DETECTOR, OWN_JPEG_QUALITY, PATCH
from ..core.types import AnyCalibration, ImageRule, sigmoid
from ..core.windows import window_std
from ..families.protocol import DetectorSet
from .maps import any_map, localisation_maps, map_grids
from .naming import Naming, name_operation
from .options import ScanOptions
from .rules import Detection, detect


@dataclass
class Analysis:
    """Everything a scan learns from one image: per-detector results and 128-pixel window
    probabilities (rows, cols), the operation probabilities (C, rows, cols) with their names
    (empty without an operation head), the naming (:func:`name_operation`: one operation, or the
    ones it cannot tell apart; nothing when nothing is flagged), and
    each detector's localisation map (:func:`localisation_maps`), the resaved heads' maps, and
    the calibration of the map of any detector (:func:`any_map`; None: the absolute part alone)."""

    detections: dict[str, Detection]
    probabilities: dict[str, np.ndarray]
    operations: np.ndarray
    operation_names: list[str]
    naming: Naming
    evidence: dict[str, np.ndarray] = field(default_factory=dict)
    any_calibration: AnyCalibration | None = None
    resaved: dict[str, np.ndarray] = field(default_factory=dict)
    stored_as_jpeg: bool = True

    @property
    def flagged(self) -> bool:
        return any(d.flagged for d in self.detections.values())

    @property
    def operation(self) -> str | None:
        """The one operation named (None when nothing is flagged or the scanner cannot tell)."""
        return self.naming.operation

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


def own_compression_shows(quality: int | None) -> bool:
    """Whether a file stored as JPEG at ``quality`` (None: not a JPEG file) is compressed enough for
    the JPEG detector to see its own compression: below :data:`OWN_JPEG_QUALITY`."""
    return quality is not None and quality < OWN_JPEG_QUALITY


def explained_by_own_compression(detection: Detection, quality: int | None) -> Detection:
    """The JPEG detector's result on a file stored as JPEG at ``quality`` (None: not a JPEG file):
    below :data:`OWN_JPEG_QUALITY`, a finding over the whole image or most of its windows is the
    file's own compression, so it is kept in the record but not counted (``explained``)."""
    if not own_compression_shows(quality) or not detection.flagged:
        return detection
    if detection.extent != "global" and detection.flagged_fraction < 0.5:
        return detection
    return replace(detection, flagged=False, regions=[], explained=f"the file's own JPEG compression (quality {quality}) "
                   f"explains this finding; an earlier compression shows in jpeg.double_compression")


def analyze(pixels: np.ndarray, detectors: DetectorSet, options: ScanOptions, stored_as_jpeg: bool = True,
            jpeg_quality: int | None = None) -> Analysis:
    """Run a detector set (:func:`scanner.families.registry.load_shipped`) on one image's stored pixels,
    uint8 RGB (H, W, 3) or one channel (H, W) (:func:`scanner.inputs.images.decode_pixels`).
    ``stored_as_jpeg``: False for pixels of a file stored in another format (PNG, TIFF, ...),
    whose map of any detector then reads each map against the image alone (:func:`any_map`).
    ``jpeg_quality``: the quality of the file's own JPEG tables, which can explain the JPEG
    detector's finding (:func:`explained_by_own_compression`).

    The operation is named from the windows of the local findings' regions (every textured window
    when all findings are global) by :func:`name_operation`."""
    shape = pixels.shape[:2]
    grids = list(dict.fromkeys([(PATCH, options.stride)] + map_grids(detectors, shape, options)))
    scored = dict(zip(grids, detectors.dense_grids(pixels, grids, options.device, options.threads)))
    scores = scored[PATCH, options.stride]  # the verdict's windows
    has_head = bool(len(scores.operation_names))
    operations = _softmax(scores.operations) if has_head else scores.operations
    maps = localisation_maps(shape, detectors, scored, options)
    evidence = {name: m for name, m in maps.items() if name in scores.detectors}
    resaved = {name: m for name, m in maps.items() if name not in evidence}
    textured = window_std(pixels, options.stride, PATCH) >= FLAT_STD
    detections, probabilities = {}, {}
    for name, logits in scores.detectors.items():
        rule = detectors.image_rule(name)
        if options.threshold is not None:
            rule = ImageRule(options.threshold, options.threshold, rule.min_area, rule.spread)
        detections[name] = detect(logits, rule, options.stride, name, operations if has_head else None,
                                  scores.operation_names, shape, evidence[name] > 0 if name in evidence else None, textured)
        probabilities[name] = sigmoid(logits)
    if JPEG_DETECTOR in detections:
        detections[JPEG_DETECTOR] = explained_by_own_compression(detections[JPEG_DETECTOR], jpeg_quality)
    inside = np.zeros(textured.shape, dtype=bool)
    for d in detections.values():
        if d.extent == "local":
            inside |= probabilities[d.detector] > d.window_threshold
    if not inside.any():  # global findings alone: every textured window
        inside = textured
    naming = name_operation(detections, operations, scores.operation_names if has_head else [], inside)
    calibration = detectors.any_calibration() if options.window is None else None  # calibrated on the fused maps
    return Analysis(detections, probabilities, operations, scores.operation_names, naming, evidence, calibration, resaved,
                    stored_as_jpeg)
