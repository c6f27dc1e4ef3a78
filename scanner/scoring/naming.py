"""Naming the operation of a flagged image honestly: one name where the operation head is sure of
it, otherwise the operations the scanner cannot tell apart, each with its detector's margin."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .rules import Detection

NAME_CONFIDENCE = 0.7
"""Operation-head probability (mean over the flagged windows) above which a single operation is named."""

NAME_RATIO = 3.0
"""A single name also needs this many times the probability of the next candidate; candidates
within this ratio of the most likely one are listed together ("blur or resize")."""


@dataclass(frozen=True)
class Candidate:
    """An operation the image may have undergone: the detector that flags it (None when only the
    operation head proposes it), the detector's ``extent`` and ``margin`` over its threshold
    (logits, :attr:`scanner.scoring.rules.Detection.margin`), and the operation head's mean
    probability over the flagged windows (None without an operation head)."""

    operation: str
    flagged: bool
    extent: str | None
    margin: float | None
    probability: float | None

    def to_dict(self) -> dict:
        return {"operation": self.operation, "flagged": self.flagged, "extent": self.extent,
                "margin": None if self.margin is None else round(self.margin, 4),
                "probability": None if self.probability is None else round(self.probability, 4)}


@dataclass(frozen=True)
class Naming:
    """What a verdict names: ``operation`` when one name is justified, else None; ``candidates``
    the operations it cannot tell apart (one when named), most likely first."""

    operation: str | None
    candidates: tuple[Candidate, ...]

    @property
    def label(self) -> str | None:
        """"blur", or "blur or resize" when the scanner cannot tell; None when nothing is flagged."""
        return self.operation or (" or ".join(c.operation for c in self.candidates) if self.candidates else None)


def name_operation(detections: dict[str, Detection], operations: np.ndarray, operation_names: list[str],
                   inside: np.ndarray | None) -> Naming:
    """Name the operation of an image from its flagged ``detections`` and the operation head's
    probabilities ``operations`` (C, rows, cols; ``operation_names[0]`` is pristine), averaged over
    the windows ``inside`` (bool, rows x cols; None: every window).

    With an operation head, the flagged detectors and the head's own most likely operation are
    the candidates, ranked by its probability; one is named when its probability reaches
    :data:`NAME_CONFIDENCE` and :data:`NAME_RATIO` times the next one's, otherwise every candidate
    within that ratio of the first is listed. Without one, a lone flagged detector is named and
    several are listed by margin."""
    flagged = [d for d in detections.values() if d.flagged]
    if not flagged:
        return Naming(None, ())
    if not operation_names:
        ranked = sorted(flagged, key=lambda d: -d.margin)
        candidates = tuple(Candidate(d.detector, True, d.extent, d.margin, None) for d in ranked)
        return Naming(ranked[0].detector if len(ranked) == 1 else None, candidates)
    mean = operations[:, inside].mean(axis=1) if inside is not None and inside.any() else operations.mean(axis=(1, 2))
    probability = {name: float(p) for name, p in zip(operation_names[1:], mean[1:])}
    names = list(dict.fromkeys([d.detector for d in flagged] + [max(probability, key=probability.get)]))
    names.sort(key=lambda n: -probability.get(n, 0.0))
    first = probability.get(names[0], 0.0)
    rest = [probability.get(n, 0.0) for n in names[1:]]
    sure = len(names) == 1 or first >= NAME_CONFIDENCE and all(first >= NAME_RATIO * p for p in rest) and names[0] in detections \
        and detections[names[0]].flagged
    listed = names[:1] if sure else [names[0]] + [n for n in names[1:] if NAME_RATIO * probability.get(n, 0.0) >= first]
    if not sure and len(listed) == 1:
        listed = names[:2]
    candidates = tuple(Candidate(n, n in detections and detections[n].flagged, detections[n].extent if n in detections else None,
                                 detections[n].margin if n in detections else None, probability.get(n))
                       for n in listed)
    return Naming(names[0] if sure else None, candidates)
