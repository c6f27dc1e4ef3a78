"""The classic detector: the SRM descriptor (162 bins) with a linear SVM (spec 1.6), its C chosen by
cross-validation grouped by camera, and its balanced accuracy per strength."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, GroupKFold
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from ..core.types import sigmoid
from ..features.srm import srm_features
from .patches import PatchSet, TaskData

SVM_C_GRID = tuple(10.0**k for k in range(-3, 4))
"""Regularisation values tried by cross-validation (spec 1.6)."""


@dataclass
class LinearSVM:
    """Standardised linear SVM on the 162-bin descriptor: score = coef . ((f - mean) / scale) + intercept.
    Positive scores mean processed."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    C: float
    unconverged: int = 0
    """Fits (of the C search and the final one) that stopped at their iteration limit; not saved."""

    def decision(self, features: np.ndarray) -> np.ndarray:
        """Scores (N,) of features (N, 162)."""
        return ((features - self.mean) / self.scale) @ self.coef + self.intercept

    def folded(self) -> tuple[np.ndarray, float]:
        """Weights and bias on the raw features: score = v . f + beta."""
        v = self.coef / self.scale
        return v, float(self.intercept - v @ self.mean)

    def save(self, path: str | Path) -> None:
        """Save as .npz (plain arrays, no pickle)."""
        np.savez(path, mean=self.mean, scale=self.scale, coef=self.coef, intercept=self.intercept, C=self.C)

    @classmethod
    def load(cls, path: str | Path) -> "LinearSVM":
        with np.load(path, allow_pickle=False) as z:
            return cls(z["mean"], z["scale"], z["coef"], float(z["intercept"]), float(z["C"]))


def fit_svm(features: np.ndarray, labels: np.ndarray, groups: np.ndarray, seed: int = 0,
            c_grid: tuple[float, ...] = SVM_C_GRID) -> LinearSVM:
    """Fit StandardScaler + LinearSVC, C by 5-fold cross-validation grouped by camera
    (the folds never share a camera)."""
    scaler = StandardScaler().fit(features)
    scale = np.where(scaler.scale_ > 0, scaler.scale_, 1.0)
    z = (features - scaler.mean_) / scale
    n_folds = min(5, len(np.unique(groups)))
    svc = LinearSVC(dual=False, max_iter=5000, random_state=seed)
    with warnings.catch_warnings(record=True) as caught:  # counted in the result, not printed mid-progress
        warnings.simplefilter("always", ConvergenceWarning)
        if n_folds >= 2:
            search = GridSearchCV(svc, {"C": list(c_grid)}, cv=GroupKFold(n_splits=n_folds), n_jobs=1)
            search.fit(z, labels, groups=groups)
            best = search.best_estimator_
        else:
            best = svc.set_params(C=1.0).fit(z, labels)
    unconverged = sum(issubclass(w.category, ConvergenceWarning) for w in caught)
    for w in caught:
        if not issubclass(w.category, ConvergenceWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return LinearSVM(scaler.mean_.copy(), scale, best.coef_[0].copy(), float(best.intercept_[0]), float(best.C), unconverged)


def accuracy_by_strength(scores: np.ndarray, data: PatchSet, threshold: float = 0.0) -> dict[str, float]:
    """Balanced accuracy (%) on each strength's binary task: the pristine patches against the
    patches processed at that strength, deciding processed when score > threshold."""
    pristine = scores[data.y == 0]
    tnr = float(np.mean(pristine <= threshold))
    result = {}
    for s in sorted(set(data.strength[data.y == 1].tolist()), key=lambda v: -v):
        tpr = float(np.mean(scores[(data.y == 1) & (data.strength == s)] > threshold))
        result[f"{s:g}"] = round(100 * (tnr + tpr) / 2, 2)
    return result


def threshold_at_fpr(pristine_scores: np.ndarray, fpr: float = 0.01) -> float:
    """Smallest threshold leaving at most ``fpr`` of the pristine scores above it."""
    return float(np.quantile(pristine_scores, 1 - fpr, method="higher"))


def svm_scores(svm: LinearSVM, patches: np.ndarray) -> np.ndarray:
    return svm.decision(srm_features(patches))


def run_baseline(data: TaskData, seed: int = 0) -> tuple[LinearSVM, dict]:
    """Fit the SRM + linear SVM on the training cameras; evaluate on the held-out cameras.
    Returns the SVM and a report (accuracy per strength in %, C, sizes)."""
    features = srm_features(data.train.x)
    svm = fit_svm(features, data.train.y, data.train.camera, seed)
    scores = svm_scores(svm, data.test.x)
    threshold = threshold_at_fpr(scores[data.test.y == 0])
    report = {"accuracy": accuracy_by_strength(scores, data.test), "C": svm.C,
              "threshold": {"logit": threshold, "probability": float(sigmoid(threshold)), "false_positive_rate": 0.01},
              "n_train": len(data.train), "n_test": len(data.test), "unconverged_fits": svm.unconverged}
    return svm, report
