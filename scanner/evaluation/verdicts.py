"""Image verdicts on held-out photos: untouched and processed as a whole (512-pixel crops and whole
photos), locally edited photos, how often each is flagged, and what the verdict names (a
confusion of true operation against named label)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from ..core.constants import JPEG_DETECTOR
from ..features.lattice import central_crop
from ..inputs.images import load_pixels
from ..inputs.jpeg_file import file_quality
from ..processing import manipulations
from ..processing.forgery import splice
from ..scoring.analysis import analyze, own_compression_shows
from ..scoring.options import ScanOptions
from ..training.photos import Photo
from .held_out import rate_interval

CROP = 512
"""Side in pixels of the central crop scanned beside each whole photo."""

UNTOUCHED = "untouched"
"""The truth of a photo scanned as stored."""


@dataclass(frozen=True)
class Verdict:
    """What a scan said of one image: the ``photo`` (file name), the ``size`` scanned (``crop``
    or ``whole``, or ``local`` for a locally edited 1024-pixel crop), the ``truth`` (``untouched``
    or a task key such as ``blur:0.5``), the detectors that flagged it with their extents, the
    naming label (None when nothing is flagged) and the single operation named (None when it
    cannot tell), and each detector's (name, spread score, spread threshold) for studies of the
    spread rule (scores None when the image is too flat)."""

    photo: str
    size: str
    truth: str
    flagged: tuple[tuple[str, str], ...]
    label: str | None
    operation: str | None
    spread: tuple[tuple[str, float | None, float | None], ...] = ()
    jpeg_quality: int | None = None
    """The quality of the JPEG file scanned (None: pixels never stored as JPEG, or held in memory):
    where its own compression shows (:func:`scanner.scoring.analysis.own_compression_shows`), the
    JPEG detector's whole-image finding is explained and not counted."""

    def flagged_by(self, detector: str | None = None, lowered: float = 0.0) -> bool:
        """Whether ``detector`` (None: any detector) flags the image with its spread threshold
        lowered by ``lowered`` logits (>= 0; 0: as scanned). A finding at the shipped thresholds
        stays; a lower threshold adds the images whose spread score passes it."""
        if lowered < 0:
            raise ValueError(f"a spread threshold can only be lowered here, not raised by {-lowered}")
        if any(detector is None or n == detector for n, _ in self.flagged):
            return True
        own = own_compression_shows(self.jpeg_quality)
        return any((detector is None or n == detector) and not (own and n == JPEG_DETECTOR) and score is not None
                   and threshold is not None and score > threshold - lowered for n, score, threshold in self.spread)

    @property
    def manipulation(self) -> str | None:
        return None if self.truth == UNTOUCHED else self.truth.split(":")[0]

    @property
    def named(self) -> str:
        """How the naming reads against the truth: ``right``, ``cannot tell (incl.)`` (a list
        that holds the truth), ``cannot tell (excl.)``, ``wrong`` (a single other name), or
        ``not flagged``."""
        if self.label is None:
            return "not flagged"
        if self.operation is not None:
            return "right" if self.operation == self.manipulation else "wrong"
        return "cannot tell (incl.)" if self.manipulation in self.label.split(" or ") else "cannot tell (excl.)"


def verdict_of(pixels: np.ndarray, detectors, options: ScanOptions, photo: str, size: str, truth: str,
               jpeg_quality: int | None = None) -> Verdict:
    """Scan ``pixels`` (of a JPEG file of ``jpeg_quality``; None: pixels never stored as JPEG, or
    held in memory) and keep what the verdict says."""
    a = analyze(pixels, detectors, options, jpeg_quality=jpeg_quality)
    flagged = tuple((n, d.extent) for n, d in a.detections.items() if d.flagged)
    spread = tuple((n, d.spread_score, d.spread_threshold) for n, d in a.detections.items())
    return Verdict(photo, size, truth, flagged, a.naming.label, a.naming.operation, spread, jpeg_quality)


def processed_verdicts(detectors, photos: list[Photo], tasks: list[tuple[str, float]], stride: int = 32,
                       sizes: tuple[str, ...] = ("crop", "whole")) -> list[Verdict]:
    """Every photo as stored and processed as a whole by every task, at each of ``sizes``: its
    central :data:`CROP` crop and the whole photo. The whole photo as stored is scanned as
    ``scanner scan`` scans its file (the JPEG detector reads the file's own quality); crops and
    processed photos are pixels held in memory, as if saved losslessly."""
    options = ScanOptions(stride=stride)
    out = []
    for k, photo in enumerate(photos):
        stored, quality = load_pixels(photo.path)[0], file_quality(photo.path)
        if stored.ndim == 2:
            stored = np.repeat(stored[..., None], 3, axis=2)
        for size in sizes:
            pixels = central_crop(stored, CROP, grid=16) if size == "crop" else stored
            out.append(verdict_of(pixels, detectors, options, photo.path.name, size, UNTOUCHED,
                                  quality if size == "whole" else None))
            for manip, strength in tasks:
                edited = manipulations.apply(pixels, manip, strength, k)
                out.append(verdict_of(edited, detectors, options, photo.path.name, size, manipulations.task_key(manip, strength)))
    return out


LOCAL_CROP = 1024
"""Side in pixels of the crop a local edit is spliced into (a blob of 12-25% of it)."""


def local_verdicts(detectors, photos: list[Photo], tasks: list[tuple[str, float]], stride: int = 32) -> list[Verdict]:
    """Each photo's central :data:`LOCAL_CROP` crop with a blob of itself processed by each task
    spliced back (:func:`scanner.processing.forgery.splice`, the photo as its own donor)."""
    options = ScanOptions(stride=stride)
    out = []
    for k, photo in enumerate(photos):
        crop = central_crop(load_pixels(photo.path)[0], LOCAL_CROP, grid=16)
        if crop.ndim == 2:
            crop = np.repeat(crop[..., None], 3, axis=2)
        for manip, strength in tasks:
            edited = splice(crop, crop, manip, strength, seed=k).image
            out.append(verdict_of(edited, detectors, options, photo.path.name, "local", manipulations.task_key(manip, strength)))
    return out


def flag_rate(verdicts: list[Verdict], truth: str, size: str, detector: str | None = None,
              lowered: float = 0.0) -> tuple[int, int, tuple[float, float]]:
    """(flagged, photos, 95% photo bootstrap interval in %) of the verdicts of ``truth`` at
    ``size``: flagged by ``detector`` (None: by any detector), every spread threshold lowered by
    ``lowered`` logits (:meth:`Verdict.flagged_by`)."""
    hits = [v.flagged_by(detector, lowered) for v in verdicts if v.truth == truth and v.size == size]
    return sum(hits), len(hits), rate_interval(hits)


def naming_counts(verdicts: list[Verdict], size: str) -> dict[str, Counter]:
    """Per truth (task key), how the verdicts at ``size`` read (:attr:`Verdict.named`)."""
    out: dict[str, Counter] = {}
    for v in verdicts:
        if v.size == size and v.truth != UNTOUCHED:
            out.setdefault(v.truth, Counter())[v.named] += 1
    return out


def label_counts(verdicts: list[Verdict], size: str) -> dict[str, Counter]:
    """Per truth, the labels the verdicts at ``size`` gave ("-" when not flagged): the confusion."""
    out: dict[str, Counter] = {}
    for v in verdicts:
        if v.size == size:
            out.setdefault(v.truth, Counter())[v.label or "-"] += 1
    return out
