"""Detectors on held-out makes, per task (patches) and per image (whole photos)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from sklearn.metrics import roc_auc_score

from ..families.heads import head_input
from ..features.lattice import central_crop
from ..inputs.images import load_pixels, load_rgb
from ..inputs.jpeg_file import file_quality
from ..processing import manipulations
from ..processing.manipulations import all_tasks, task_key
from ..scoring.analysis import analyze
from ..scoring.options import ScanOptions
from ..training.svm import fit_svm

BOOTSTRAP = 1000
"""Resamples of the held-out photos behind every interval."""


def photo_interval(statistic: Callable[[np.ndarray], float], photo: np.ndarray, resamples: int = BOOTSTRAP,
                   seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of ``statistic(rows)`` over photos: each resample draws the
    distinct photos of ``photo`` (N,) (a photo id per row) with replacement and passes the rows
    of every drawn photo (repeated as often as it was drawn) to ``statistic``."""
    ids = np.unique(photo)
    rows = [np.flatnonzero(photo == i) for i in ids]
    rng = np.random.default_rng(seed)
    values = [statistic(np.concatenate([rows[k] for k in rng.integers(0, len(ids), len(ids))])) for _ in range(resamples)]
    low, high = np.nanquantile(values, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)


@dataclass
class TaskResult:
    """One task of Table I on held-out patches of ``photos`` distinct photos: AUC of the shipped
    detector (its manipulation's score), of the task's own head, and of the task's own SRM+SVM
    baseline fitted on the same training makes; TNR, TPR and balanced accuracy (%) of the
    detector at its shipped threshold; photo-level 95% bootstrap intervals of the detector's AUC,
    TNR and TPR (:func:`photo_interval`)."""

    task: str
    auc: float
    auc_head: float
    auc_svm: float
    tnr: float
    tpr: float
    photos: int = 0
    auc_interval: tuple[float, float] = (float("nan"), float("nan"))
    tnr_interval: tuple[float, float] = (float("nan"), float("nan"))
    tpr_interval: tuple[float, float] = (float("nan"), float("nan"))

    @property
    def balanced_accuracy(self) -> float:
        return (self.tnr + self.tpr) / 2


@dataclass
class ImageResult:
    """Whole photos of held-out makes: how many pristine photos any detector flags (and which
    detectors), and for each manipulation applied to a whole photo at its strongest strength, how
    many are flagged by the right detector and how many get the right named operation; with
    photo-level 95% bootstrap intervals (%) of the pristine photos flagged and, per
    manipulation, of the processed photos the right detector flags."""

    pristine: int
    pristine_flagged: int
    flagged_by: dict[str, int]
    processed: dict[str, tuple[int, int, int]]
    pristine_interval: tuple[float, float] = (float("nan"), float("nan"))
    processed_interval: dict[str, tuple[float, float]] = field(default_factory=dict)


def rate_interval(hits: list[bool]) -> tuple[float, float]:
    """Photo-level bootstrap interval (%) of the share of photos in ``hits`` (one per photo)."""
    if not hits:
        return float("nan"), float("nan")
    hits_array = np.asarray(hits, dtype=float)
    return photo_interval(lambda rows: 100 * float(hits_array[rows].mean()), np.arange(len(hits_array)))


def evaluate_patches(bank, data, train_makes: list[str], held_out: dict[str, list[str]]) -> dict[str, list[TaskResult]]:
    """Patch-level results per task on each named set of held-out makes (``data``:
    :class:`scanner.training.bank_data.BankData`); each task's SRM+SVM is fitted once on ``train_makes``."""
    train = data.of_makes(train_makes)
    srm = [i for i, s in enumerate(bank.submodels) if s.name == "o3t2"][0]
    columns = slice(162 * srm, 162 * srm + 162)
    sets = {name: data.of_makes(makes) for name, makes in held_out.items()}
    pristine = {name: bank.patch_logits_from_features(test.features["pristine"]) for name, test in sets.items()}
    results: dict[str, list[TaskResult]] = {name: [] for name in sets}
    for manip, strength in all_tasks():
        key = task_key(manip, strength)
        x = np.concatenate([train.features["pristine"][:, columns], train.features[key][:, columns]]).astype(np.float64)
        svm = fit_svm(x, np.r_[np.zeros(len(train)), np.ones(len(train))], np.r_[train.camera, train.camera])
        head = bank.tasks.names.index(key)
        own = lambda f: head_input(f, bank.n_histograms, bank.feature_transform) @ bank.tasks.weight[head] + bank.tasks.bias[head]
        t = bank.card.thresholds[manip]
        for name, test in sets.items():
            p, q = pristine[name][manip], bank.patch_logits_from_features(test.features[key])[manip]
            labels = np.r_[np.zeros(len(p)), np.ones(len(q))]
            svm_scores = svm.decision(np.concatenate([test.features["pristine"][:, columns], test.features[key][:, columns]]).astype(np.float64))
            own_scores = np.r_[own(test.features["pristine"]), own(test.features[key])]
            results[name].append(TaskResult(
                key, float(roc_auc_score(labels, np.r_[p, q])), float(roc_auc_score(labels, own_scores)),
                float(roc_auc_score(labels, svm_scores)), 100 * float(np.mean(p <= t)), 100 * float(np.mean(q > t)),
                len(np.unique(test.photo)),
                photo_interval(lambda rows: float(roc_auc_score(labels[np.r_[rows, rows + len(p)]], np.r_[p[rows], q[rows]])), test.photo),
                photo_interval(lambda rows: 100 * float(np.mean(p[rows] <= t)), test.photo),
                photo_interval(lambda rows: 100 * float(np.mean(q[rows] > t)), test.photo)))
    return results


IMAGE_CROP = 1536
"""Photos processed as a whole for the image-level check are central crops of at most this side."""


def evaluate_images(bank, pristine_photos: list, processed_photos: list, stride: int = 32) -> ImageResult:
    """Image-level results: pristine photos scanned whole as ``scanner scan`` scans their files (the
    JPEG detector reads the file's own quality); ``processed_photos`` cropped
    centrally to :data:`IMAGE_CROP` and processed as a whole at each manipulation's strongest strength."""
    options = ScanOptions(stride=stride)
    flagged_by = {n: 0 for n in bank.names}
    pristine_hits = []
    for photo in pristine_photos:
        analysis = analyze(load_pixels(photo.path)[0], bank, options, jpeg_quality=file_quality(photo.path))
        pristine_hits.append(analysis.flagged)
        for n, d in analysis.detections.items():
            flagged_by[n] += d.flagged
    processed, intervals = {}, {}
    for name in bank.names:
        manip = manipulations.get(name)
        right, named = [], 0
        for k, photo in enumerate(processed_photos):
            crop = central_crop(load_rgb(photo.path), IMAGE_CROP, grid=16)
            analysis = analyze(manip.apply(crop, manip.strengths[0], k), bank, options)
            right.append(analysis.detections[name].flagged)
            named += analysis.operation == name
        processed[name] = (len(processed_photos), sum(right), named)
        intervals[name] = rate_interval(right)
    return ImageResult(len(pristine_photos), sum(pristine_hits), flagged_by, processed, rate_interval(pristine_hits), intervals)
