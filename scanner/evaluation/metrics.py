"""Pixel-level localisation metrics: F1 and Matthews correlation of a map against a forgery's mask,
at one threshold or swept over all of them."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score

from ..core.constants import MAP_CELL
from ..writers.figures import pixel_map


def _f1_mcc_of_counts(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray, tn: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """F1 and Matthews correlation (0 where undefined) of confusion counts, elementwise."""
    tp, fp, fn, tn = (np.asarray(c, dtype=np.float64) for c in (tp, fp, fn, tn))
    f1 = np.divide(2 * tp, 2 * tp + fp + fn, out=np.zeros_like(tp), where=tp > 0)
    denom = np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    return f1, np.divide(tp * tn - fp * fn, denom, out=np.zeros_like(tp), where=denom > 0)


def f1_mcc(prediction: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """Pixel F1 and Matthews correlation of boolean maps."""
    tp = np.sum(prediction & truth)
    fp = np.sum(prediction & ~truth)
    fn = np.sum(~prediction & truth)
    f1, mcc = _f1_mcc_of_counts(tp, fp, fn, prediction.size - tp - fp - fn)
    return float(f1), float(mcc)


def threshold_sweep(prob: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixel F1 and Matthews correlation of the prediction ``prob >= v`` for each distinct value v
    of ``prob``, from the largest down (the last marks every pixel): every threshold that changes
    the prediction. Returns (f1, mcc), each (number of distinct values,)."""
    values, inverse = np.unique(prob.ravel(), return_inverse=True)
    positives = np.bincount(inverse, weights=truth.ravel().astype(np.float64), minlength=len(values))[::-1]
    counts = np.bincount(inverse, minlength=len(values))[::-1].astype(np.float64)
    tp = np.cumsum(positives)
    fp = np.cumsum(counts) - tp
    fn = tp[-1] - tp
    return _f1_mcc_of_counts(tp, fp, fn, prob.size - tp - fp - fn)


def localisation_scores(prob: np.ndarray, truth: np.ndarray, threshold: float) -> dict:
    """Pixel AUC; F1 and MCC at ``threshold``, and at the best threshold for this image (the
    largest over every threshold, :func:`threshold_sweep`: an oracle, as usual in the literature)."""
    auc = float(roc_auc_score(truth.ravel(), prob.ravel())) if 0 < truth.mean() < 1 else float("nan")
    f1, mcc = f1_mcc(prob > threshold, truth)
    sweep_f1, sweep_mcc = threshold_sweep(prob, truth)  # marking nothing scores 0, as marking everything does
    return {"auc": auc, "f1": f1, "mcc": mcc, "best_f1": float(sweep_f1.max()), "best_mcc": float(sweep_mcc.max())}


def map_scores(cells: np.ndarray, truth: np.ndarray) -> dict:
    """:func:`localisation_scores` of a localisation map (a cell every
    :data:`scanner.core.constants.MAP_CELL` pixels, 0 = its threshold) against the pixel mask ``truth`` (H, W)."""
    return localisation_scores(pixel_map(cells, MAP_CELL, truth.shape, 1.0, MAP_CELL), truth, 0.0)
