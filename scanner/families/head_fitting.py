"""How the bank's heads are fitted (the family's training hooks): the candidate inputs of a task
head and the standardised logistic regressions (scikit-learn) that fit task and operation heads.
Scoring applies the fitted heads through :mod:`scanner.families.heads` alone."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression

from ..features import chroma as chroma_codes
from ..features import lattice as jpeg_lattice
from ..features.srm import N_FEATURES as SUBMODEL_FEATURES
from ..features.srm import Submodel
from ..processing.manipulations import all_tasks, task_key
from .heads import LinearHeads, detector_of, histogram_width


def fit_logistic(features: np.ndarray, labels: np.ndarray, sample_weight: np.ndarray | None, C: float,
                 seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Standardised (multinomial when > 2 classes) logistic regression; the standardisation
    is folded into the returned (weight (K, F), bias (K,)). Binary: K = 1, logit > 0 = class 1."""
    mean = features.mean(0)
    scale = features.std(0)
    scale = np.where(scale > 1e-12, scale, 1.0)
    z = (features - mean) / scale
    model = LogisticRegression(C=C, max_iter=500, random_state=seed)
    model.fit(z, labels, sample_weight=sample_weight)
    weight = model.coef_ / scale
    bias = model.intercept_ - weight @ mean
    return weight.astype(np.float64), bias.astype(np.float64)


OPERATIONS = ("pristine", "median", "blur", "noise", "resize", "jpeg")
"""Classes of the operation head, pristine first."""


@dataclass(frozen=True)
class HeadChoice:
    """How one task head is fitted: on the submodels named in ``submodels`` (None: all of the
    bank's; (): none), with the chroma histogram if ``chroma`` and the lattice features if ``lattice``,
    with inverse regularisation ``C``; a candidate only for the manipulations in
    ``manipulations`` (None: every one)."""

    submodels: tuple[str, ...] | None
    C: float
    lattice: bool = False
    manipulations: tuple[str, ...] | None = None
    chroma: bool = False

    @property
    def label(self) -> str:
        parts = (["all"] if self.submodels is None else list(self.submodels)) + ["chroma"] * self.chroma + ["lattice"] * self.lattice
        return f"{'+'.join(parts)} C={self.C:g}"

    def applies(self, task: str) -> bool:
        """Whether this is a candidate for ``task`` (e.g. ``jpeg:90``)."""
        return self.manipulations is None or detector_of(task) in self.manipulations

    def columns(self, bank_submodels: tuple[Submodel, ...]) -> np.ndarray:
        """Feature columns this head may use, into a descriptor of ``bank_submodels`` with every
        part (:func:`descriptors` with chroma and lattice, as bank data holds)."""
        names = tuple(s.name for s in bank_submodels) if self.submodels is None else self.submodels
        columns = [SUBMODEL_FEATURES * i + j for i, s in enumerate(bank_submodels) if s.name in names
                   for j in range(SUBMODEL_FEATURES)]
        start = histogram_width(bank_submodels, chroma=False)
        if self.chroma:
            columns += range(start, start + chroma_codes.N_FEATURES)
        start += chroma_codes.N_FEATURES
        if self.lattice:
            columns += range(start, start + jpeg_lattice.N_FEATURES)
        return np.array(columns)


HEAD_CHOICES = (HeadChoice(None, 0.01), HeadChoice(("o3t2",), 0.1),
                HeadChoice(None, 0.01, chroma=True, manipulations=("median", "blur", "resize")),
                HeadChoice((), 0.01, chroma=True, manipulations=("noise",)),
                HeadChoice(None, 0.01, lattice=True, manipulations=("jpeg",)))
"""Candidates for each task head, chosen per task by out-of-fold AUC on other makes: every
submodel (strongly regularised), the paper's single third-order submodel; for median, blur and
resizing also every submodel with the chroma histogram; for noise the chroma histogram alone;
for JPEG every submodel with the lattice features (docs/training-log.md, runs 12 and 14):

- the lattice is also missing from a never-compressed image, so it would teach the other heads
  to flag lossless photos;
- noise heads that read the submodels' histograms together with the chroma rank better but
  inherit the camera's own noise level: their threshold transfers worse to new makes and they flag
  more film grain, so the chroma histogram is a noise candidate only alone (none of it on a
  single-channel image: :meth:`SRMBank.colour_detectors`). Every candidate stays open to every
  task, so a noise strength may still choose a submodel head: 0.8.0's bank chose o3t2 for noise
  0.5 and the chroma alone for noise 2 and 0.25 (its card's ``heads``)."""


def fit_task_head(pristine: np.ndarray, processed: np.ndarray, choice: HeadChoice, submodels: tuple[Submodel, ...],
                  seed: int = 0) -> tuple[np.ndarray, float]:
    """A task head on transformed descriptors (N, F) of pristine and processed patches:
    (weight (F,), zero outside the choice's columns, bias)."""
    columns = choice.columns(submodels)
    x = np.concatenate([pristine[:, columns], processed[:, columns]])
    y = np.r_[np.zeros(len(pristine)), np.ones(len(processed))]
    w, b = fit_logistic(x, y, None, choice.C, seed)
    weight = np.zeros(pristine.shape[1])
    weight[columns] = w[0]
    return weight, float(b[0])


def fit_operation_head(features: dict[str, np.ndarray], C: float = 0.01, seed: int = 0) -> LinearHeads:
    """Multinomial head over :data:`OPERATIONS` on transformed descriptors: ``features`` maps
    ``pristine`` and each task key to (N, F); pristine is weighted x3 so that every class
    weighs the same as a manipulation's three strengths."""
    keys = [task_key(m, s) for m, s in all_tasks()]
    x = np.concatenate([features["pristine"]] + [features[k] for k in keys])
    n = len(features["pristine"])
    labels = np.concatenate([np.zeros(n, int)] + [np.full(n, OPERATIONS.index(detector_of(k))) for k in keys])
    weight, bias = fit_logistic(x, labels, np.where(labels == 0, 3.0, 1.0), C, seed)
    return LinearHeads(list(OPERATIONS), weight, bias)
