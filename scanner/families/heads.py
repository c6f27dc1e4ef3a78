"""The bank's heads as scoring applies them: the feature transform of the pooled histograms, what
the heads read, and named linear heads. How they are fitted (the family's training hooks, with
scikit-learn) is :mod:`scanner.families.head_fitting`, which a scan never imports."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..features import chroma as chroma_codes
from ..features.srm import N_FEATURES as SUBMODEL_FEATURES
from ..features.srm import Submodel

TRANSFORMS = ("identity", "sqrt")
"""Element-wise maps of the pooled histograms before the linear heads."""


def transform(h: np.ndarray, name: str) -> np.ndarray:
    """Apply the named feature transform to histograms h (..., F)."""
    if name == "identity":
        return h
    if name == "sqrt":
        return np.sqrt(h)
    raise ValueError(f"unknown transform {name!r}; use one of {TRANSFORMS}")


def head_input(descriptors: np.ndarray, n_histograms: int, name: str) -> np.ndarray:
    """What the heads read, float64 (N, F): the named transform of the first ``n_histograms``
    columns of raw descriptors (N, F) (the pooled histograms), the rest (lattice features) as they are."""
    descriptors = np.asarray(descriptors, dtype=np.float64)
    return np.hstack([transform(descriptors[:, :n_histograms], name), descriptors[:, n_histograms:]])


def histogram_width(submodels: tuple[Submodel, ...], chroma: bool) -> int:
    """Columns of a bank descriptor taken by histograms: the submodels', then the chroma
    histogram if ``chroma`` (the lattice features follow)."""
    return SUBMODEL_FEATURES * len(submodels) + (chroma_codes.N_FEATURES if chroma else 0)


@dataclass
class LinearHeads:
    """Named linear heads: logits = features @ weight.T + bias. weight float64 (K, F)."""

    names: list[str]
    weight: np.ndarray
    bias: np.ndarray

    def __call__(self, features: np.ndarray) -> np.ndarray:
        """Logits (N, K) of features (N, F)."""
        return features @ self.weight.T + self.bias


def detector_of(task: str) -> str:
    """The manipulation of a task name (``blur:0.5`` -> ``blur``)."""
    return task.split(":")[0]
