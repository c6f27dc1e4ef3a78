"""Calibration of a bank on pristine photos it trained on or held out: window thresholds and the
image rule (out-of-fold photos), the window sizes of the localisation map, and the map of any
detector."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..core.constants import FLAT_STD, MIN_AREA, PATCH, SPREAD_SIDES, WINDOWS
from ..core.types import AnyCalibration, ScaleCalibration, SpreadRule, sigmoid
from ..core.windows import window_std
from ..families.bank import SRMBank, resaved_name
from ..features.lattice import central_crop
from ..inputs.images import load_pixels
from ..processing.manipulations import jpeg
from ..scoring.maps import background_departure, localisation_maps, scale_stride
from ..scoring.options import ScanOptions
from ..scoring.rules import image_score, spread_score
from .bank_data import (
    resave_quality,
)
from .photos import Photo

WINDOW_FPR = 0.005
"""Share of pristine windows of out-of-fold cameras allowed over a detector's window threshold."""


IMAGE_FPR = 0.01
"""Share of pristine out-of-fold photos a detector may flag (five detectors: at most 5% any)."""


SPREAD_FPR = 0.005
"""Share of pristine out-of-fold crops of each size whose spread score may pass a detector's
spread threshold (:class:`scanner.core.types.SpreadRule`)."""


TEXTURED = "textured"
"""Key of the textured-window mask (bool, rows x cols) beside the detectors' maps of :func:`photo_logits`."""


def _photo_detector_logits(args: tuple) -> dict[str, np.ndarray]:
    bank, path, stride = args
    pixels = load_pixels(path)[0]
    return bank.dense(pixels, stride).detectors | {TEXTURED: window_std(pixels, stride, PATCH) >= FLAT_STD}


def photo_logits(bank: SRMBank, photos: list[Photo], stride: int, workers: int = 2) -> list[dict[str, np.ndarray]]:
    """Detector logit maps of whole photos as stored, with their :data:`TEXTURED` window masks,
    ``workers`` photos at a time."""
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(_photo_detector_logits, [(bank, p.path, stride) for p in photos]))


SCALE_CROP = 1024
"""Side in pixels of the central crop of each training photo on which the window sizes of
the localisation map and the map of any detector are calibrated (:func:`crop_scores`)."""


CropScores = tuple[tuple[int, int], dict]
"""A central crop's shape (H, W) and its window scores by grid (window, stride)
(:class:`scanner.core.types.WindowScores`)."""


def _crop_scores(args: tuple) -> CropScores:
    bank, path, stride, quality = args
    crop = central_crop(load_pixels(path)[0], SCALE_CROP)
    if quality is not None:
        crop = jpeg(crop, quality)
    grids = [(w, stride if w == PATCH else scale_stride(w, stride)) for w in WINDOWS if min(crop.shape[:2]) >= w]
    return crop.shape[:2], dict(zip(grids, bank.dense_grids(crop, grids)))


def crop_scores(bank: SRMBank, photos: list[Photo], stride: int, workers: int = 2, resave: bool = False) -> list[CropScores]:
    """Window scores of the central :data:`SCALE_CROP` crop of each of ``photos`` (``resave``:
    saved as JPEG at the photo's :func:`scanner.training.bank_data.resave_quality` first) at every window
    size of the localisation map, at the strides of a scan at ``stride``, ``workers`` photos at
    a time: what :func:`calibrate_scales` and :func:`calibrate_any_map` read."""
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(_crop_scores, [(bank, p.path, stride, resave_quality(p.sha256) if resave else None)
                                            for p in photos]))


def calibrate_scales(bank: SRMBank, crops: list[CropScores], window_fpr: float = WINDOW_FPR,
                     resaved: bool = False) -> dict[str, dict[int, ScaleCalibration]]:
    """For each detector (``resaved``: each resaved head's map instead) and window size of the
    localisation map, the logit that ``window_fpr`` of the windows of pristine ``crops``
    (:func:`crop_scores`) exceed (``threshold``) and their interquartile range (``spread``):
    {name: {window: ScaleCalibration}}.

    The crops are the bank's own training photos, on which its logits sit lower than on new
    makes; so every size of a detector has its threshold raised by the gap between the card's
    out-of-fold 128-pixel window threshold and the 128-pixel one found here (128 then equals the
    card's). Resaved heads have no out-of-fold threshold and keep the one found here."""
    scales: dict[str, dict[int, ScaleCalibration]] = {}
    for name in ([resaved_name(n) for n in bank.resaved.names] if resaved else bank.names):
        found = {}
        for window in sorted({w for _, scored in crops for w, _ in scored}):
            v = np.concatenate([(s.resaved if resaved else s.detectors)[name].ravel()
                                for _, scored in crops for (w, _), s in scored.items() if w == window])
            q1, q3 = np.quantile(v, [0.25, 0.75])
            found[window] = (float(np.quantile(v, 1 - window_fpr)), float(q3 - q1))
        shift = 0.0 if resaved else bank.scales(name)[PATCH].threshold - found[PATCH][0]
        scales[name] = {window: ScaleCalibration(t + shift, spread) for window, (t, spread) in found.items()}
    return scales


def calibrate_any_map(bank: SRMBank, crops: list[CropScores], stride: int,
                      cell_fpr: float = WINDOW_FPR) -> tuple[AnyCalibration, dict[str, Any]]:
    """The relative part of the map of any detector (:func:`scanner.scoring.maps.any_map`), on the fused
    localisation maps of pristine ``crops`` (:func:`crop_scores`, scored for a scan at
    ``stride``): each detector's offset passes ``cell_fpr`` of the cells' distance from their
    image's median, and the threshold ``cell_fpr`` of the cells' largest distance less offset.
    Returns the calibration and how it was found (for the card); needs the card's ``scales``."""
    options = ScanOptions(stride=stride)
    departure = []
    for shape, scored in crops:
        maps = localisation_maps(shape, bank, scored, options)
        names = list(maps)
        departure.append(background_departure(np.stack([maps[name] for name in names])))
    cells = np.concatenate([d.reshape(len(d), -1) for d in departure], axis=1)
    offsets = np.quantile(cells, 1 - cell_fpr, axis=1)
    threshold = float(np.quantile((cells - offsets[:, None]).max(axis=0), 1 - cell_fpr))
    return AnyCalibration({name: float(v) for name, v in zip(names, offsets)}, threshold), {
            "method": f"fused maps of {len(crops)} central {SCALE_CROP}-pixel crops of training photos (as stored, and saved as "
                      f"JPEG where the bank has resaved heads) at stride {stride}; "
                      f"offsets and threshold each passed by {cell_fpr:.1%} of the cells",
            "crops": len(crops)}


@dataclass
class Calibration:
    """Window thresholds (logits) and image rules per detector, with what they were chosen on."""

    thresholds: dict[str, float]
    image_threshold: dict[str, float]
    evidence: dict = field(default_factory=dict)


def calibrate(pristine_logits: dict[str, np.ndarray], photo_maps: list[dict[str, np.ndarray]], stride: int,
              window_fpr: float = WINDOW_FPR, image_fpr: float = IMAGE_FPR, min_area: int = MIN_AREA) -> Calibration:
    """Each detector's window threshold passes ``window_fpr`` of the pristine windows; its image
    threshold (a probability, at least the window threshold) is the smallest that flags at
    most ``image_fpr`` of the pristine photos under the core-area rule (:func:`scanner.scoring.rules.image_score`)."""
    thresholds, image_threshold, scores = {}, {}, {}
    allowed = int(np.floor(image_fpr * len(photo_maps)))
    for name, logits in pristine_logits.items():
        t = float(np.quantile(logits, 1 - window_fpr, method="higher"))
        window_p = float(sigmoid(t))
        s = np.sort([image_score(sigmoid(m[name]), stride, min_area) for m in photo_maps])[::-1]
        worst = float(s[allowed]) if allowed < len(s) else 0.0
        thresholds[name] = t
        image_threshold[name] = max(window_p, worst)
        scores[name] = [round(float(v), 4) for v in s[:10]]
    return Calibration(thresholds, image_threshold, {"window_fpr": window_fpr, "image_fpr": image_fpr, "photos": len(photo_maps),
                                                     "photos_allowed_over": allowed, "min_area": min_area,
                                                     "highest_pristine_image_scores": scores})


def crop_spread_scores(logits: np.ndarray, textured: np.ndarray, stride: int, side: int) -> list[float]:
    """Spread scores (:func:`scanner.scoring.rules.spread_score`) of the ``side``-pixel square
    crops that tile a photo, from its window logits and textured mask (rows, cols) on a
    ``stride``-pixel grid (``side`` a multiple of ``stride``): each crop reads the windows inside
    it; crops too flat for a score are left out."""
    span = (side - PATCH) // stride + 1
    step = side // stride
    scores = [spread_score(logits[r : r + span, c : c + span], textured[r : r + span, c : c + span])
              for r in range(0, logits.shape[0] - span + 1, step) for c in range(0, logits.shape[1] - span + 1, step)]
    return [s for s in scores if s is not None]


def calibrate_spread(photo_maps: list[dict[str, np.ndarray]], stride: int, fpr: float = SPREAD_FPR,
                     sides: tuple[int, ...] = SPREAD_SIDES) -> tuple[dict[str, SpreadRule], dict[str, Any]]:
    """Each detector's spread rule from the window logit maps (and :data:`TEXTURED` masks) of
    out-of-fold pristine photos at ``stride`` (:func:`photo_logits`): one threshold for every
    image size, the largest of the spread scores that ``fpr`` of the tiled crops of each side
    pass (:func:`crop_spread_scores`) and of the highest whole-photo score. The mean over a large
    image does not average away a camera's own offset, and few photos hold a 2048-pixel crop, so
    thresholds that fell with the size flagged 6 of 84 out-of-fold whole photos (docs/method.md).
    Returns the rules and the evidence for the card, with each side's own quantile."""
    rules, evidence = {}, {"method": f"spread score (mean window logit over textured windows, clipped) of square crops tiling "
                                     f"{len(photo_maps)} out-of-fold pristine photos at stride {stride}, and of the whole photos; "
                                     f"one threshold for every size: the largest of each side's score passed by {fpr:.1%} of its "
                                     "crops and of the highest whole-photo score", "fpr": fpr, "crops": {}, "by_side": {}, "highest": {}}
    for name in [n for n in photo_maps[0] if n != TEXTURED]:
        found = {}
        for side in sides:
            scores = np.sort(np.concatenate([crop_spread_scores(m[name], m[TEXTURED], stride, side) for m in photo_maps]))[::-1]
            found[str(side)] = float(np.quantile(scores, 1 - fpr, method="higher"))
            evidence["crops"][str(side)] = len(scores)
            evidence["highest"].setdefault(name, {})[str(side)] = [round(float(v), 3) for v in scores[:5]]
        whole = [s for s in (spread_score(m[name], m[TEXTURED]) for m in photo_maps) if s is not None]
        found["whole"] = float(max(whole))
        evidence["highest"][name]["whole"] = [round(float(v), 3) for v in sorted(whole, reverse=True)[:5]]
        evidence["by_side"][name] = {k: round(v, 4) for k, v in found.items()}
        rules[name] = SpreadRule((min(sides),), (max(found.values()),))
    return rules, evidence
