"""Scanning: window scores from a detector set, per-image verdicts, regions and heat maps.

A detector set (:func:`scanner.detectors.load_shipped`) scores every 128x128 window on a
grid (``dense``). Here those scores become per-detector results: an image is flagged when
the windows over a detector's threshold form a connected region covering at least the
detector's ``min_area`` pixels (its image rule), and such regions are what the record lists.
"""

from __future__ import annotations

import fnmatch
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from .core.constants import PATCH
from .images import DEFAULT_MAX_PIXELS, ImageError, display_rgb, green_of, open_image, read_bytes, sha256_hex, stored_pixels
from .core.constants import ANY_MAP, MAP_CELL, WINDOWS
from .core.files import write_output
from .core.types import AnyCalibration, ImageRule, sigmoid


def background_departure(maps: np.ndarray) -> np.ndarray:
    """Localisation maps (D, H, W) -> how far each cell lies from its map's median over the
    image, above or below: the distance from the image's own background, map units (D, H, W)."""
    return np.abs(maps - np.median(maps.reshape(len(maps), -1), axis=1)[:, None, None])


def any_map(evidence: dict[str, np.ndarray], calibration: AnyCalibration | None = None,
            resaved: dict[str, np.ndarray] | None = None, absolute: bool = True) -> np.ndarray:
    """The map of any detector from the detectors' localisation maps ``evidence`` and the
    resaved heads' maps ``resaved`` (same grid, H x W cells): per cell, the largest of

    - the detectors' maps themselves (absolute: 0 is each detector's pristine 0.5% level),
      unless ``absolute`` is False, and, with a ``calibration``,
    - each map's :func:`background_departure` less its offset, less the threshold (relative: 0
      is the level that 0.5% of pristine cells pass, away from their own image's background),
      the resaved maps' included.

    The relative part finds a region that stands out from the rest of its image even where a
    detector sits below its pristine level everywhere, as the JPEG detector does on a camera JPEG
    with a recompressed splice, and a region that sits *below* the rest, as an edited region
    does once the whole forgery is saved as JPEG (the untouched background then carries a double
    compression, the edited region less of one). The absolute part keeps a wholly processed
    image lit. The resaved maps, which read an edit through that final JPEG save, count only
    relative to their own image: their absolute level backs no verdict, and on content unlike
    the training photos' it can sit over 0 everywhere (docs/method.md).

    ``absolute=False`` (with a calibration) keeps the relative part alone: for an image not
    stored as JPEG, whose levels the camera-JPEG calibration does not describe (lossless film
    scans: 47% of cells over 0; docs/results-localization.md)."""
    levels = np.stack(list(evidence.values())).max(axis=0)
    if calibration is None:
        return levels
    everything = evidence | (resaved or {})
    maps = np.stack(list(everything.values()))
    offsets = np.array([calibration.offsets[name] for name in everything])[:, None, None]
    relative = (background_departure(maps) - offsets).max(axis=0) - calibration.threshold
    return np.maximum(levels, relative) if absolute else relative


def scale_stride(window: int, stride: int) -> int:
    """Stride of the windows of size ``window`` in a scan at ``stride``: a quarter window, at
    most ``stride`` and at least one map cell (64 -> 16 and 32 -> 8 at the default 32)."""
    return max(MAP_CELL, min(stride, window // 4))


def coverage_mean(values: np.ndarray, stride: int, window: int, shape: tuple[int, int], cell: int = MAP_CELL) -> np.ndarray:
    """Window values (rows, cols) on a grid of ``window``-pixel windows every ``stride`` pixels
    -> the mean over the windows covering each cell centre of an image of ``shape`` (H, W)
    pixels: (ceil(H / cell), ceil(W / cell)). Pixels past the last window take the last one."""
    out = values.astype(np.float64)
    for axis, n in enumerate(shape):
        centres = np.arange(0, n, cell) + cell // 2
        k = values.shape[axis]
        hi = np.clip(centres // stride, 0, k - 1)
        lo = np.minimum(np.clip(-((window - 1 - centres) // stride), 0, k - 1), hi)  # ceil((c - window + 1) / stride)
        sums = np.cumsum(np.moveaxis(out, axis, 0), axis=0)
        sums = np.concatenate([np.zeros((1,) + sums.shape[1:]), sums])
        out = np.moveaxis((sums[hi + 1] - sums[lo]) / (hi - lo + 1)[:, None], 0, axis)
    return out


@dataclass
class Region:
    """A connected group of windows over a detector's threshold (windows that overlap are
    connected): bounding box in pixels [x0, y0, x1, y1) (x1, y1 exclusive), area in pixels
    covered by its windows, mean and max window probability, the number of windows, and the
    operation the operation head finds most likely there (None without one)."""

    detector: str
    bbox: list[int]
    area: int
    mean_score: float
    max_score: float
    windows: int
    operation: str | None = None

    def to_dict(self) -> dict:
        return {"detector": self.detector, "bbox": self.bbox, "area": self.area, "mean_score": round(self.mean_score, 4),
                "max_score": round(self.max_score, 4), "windows": self.windows, "operation": self.operation}


def footprints(over: np.ndarray, stride: int, window: int = PATCH) -> tuple[np.ndarray, int]:
    """Label the union of the windows marked in ``over`` (rows, cols) on a grid of
    ``stride``-pixel cells: window (r, c) covers cells r..r+span-1, c..c+span-1 with
    span = ceil(window / stride). Returns (labels (rows + span - 1, cols + span - 1), count)."""
    from scipy import ndimage

    span = math.ceil(window / stride)
    padded = np.pad(over.astype(np.int64), ((span, span - 1), (span, span - 1)))
    c = padded.cumsum(0).cumsum(1)
    cover = (c[span:, span:] - c[:-span, span:] - c[span:, :-span] + c[:-span, :-span]) > 0
    return ndimage.label(cover)


def largest_area(over: np.ndarray, stride: int, window: int = PATCH) -> int:
    """Pixels covered by the largest connected group of windows in ``over``."""
    labels, count = footprints(over, stride, window)
    return int(np.bincount(labels.ravel())[1:].max(initial=0)) * stride * stride


def image_score(prob: np.ndarray, stride: int, min_area: int, window: int = PATCH) -> float:
    """The largest q such that the windows with probability >= q include a connected group
    covering at least ``min_area`` pixels (0 if none). An image is flagged exactly when this
    score exceeds the window threshold, and then every flagged region qualifies."""
    values = np.unique(prob)[::-1]
    lo, hi = 0, len(values) - 1
    if largest_area(prob >= values[hi], stride, window) < min_area:
        return 0.0
    while lo < hi:  # smallest index (largest value) that qualifies
        mid = (lo + hi) // 2
        if largest_area(prob >= values[mid], stride, window) >= min_area:
            hi = mid
        else:
            lo = mid + 1
    return float(values[lo])


def regions(prob: np.ndarray, threshold: float, stride: int, detector: str, core_threshold: float | None = None,
            min_area: int = 0, operations: np.ndarray | None = None, operation_names: list[str] | None = None,
            shape: tuple[int, int] | None = None, window: int = PATCH, evidence: np.ndarray | None = None) -> list[Region]:
    """Connected groups of windows whose probability exceeds ``threshold``, largest first.
    With ``evidence`` (bool, a cell every :data:`MAP_CELL` pixels: the localisation map over
    its threshold), a region's box is the box of the evidence inside its windows' footprint.
    With ``core_threshold``, only the groups holding a core (connected windows over
    ``core_threshold``) that covers at least ``min_area`` pixels (hysteresis: the core says
    *whether*, the window threshold says *where*). ``operations`` (C, rows, cols) are operation
    probabilities whose mean over a region's windows names its most likely operation
    (``operation_names[0]``, pristine, is never named). ``shape`` (H, W) clips boxes."""
    over = prob > threshold
    labels, count = footprints(over, stride, window)
    keep = set(range(1, count + 1))
    if core_threshold is not None:
        cores, n_cores = footprints(prob > core_threshold, stride, window)
        sizes = np.bincount(cores.ravel(), minlength=n_cores + 1) * stride * stride
        qualifying = [k for k in np.nonzero(sizes >= min_area)[0] if k > 0]
        keep = {int(k) for k in np.unique(labels[np.isin(cores, qualifying)])} - {0}
    found = []
    for k in sorted(keep):
        cells = labels == k
        mine = over & cells[: over.shape[0], : over.shape[1]]
        rows, cols = np.nonzero(cells)
        x1, y1 = int((cols.max() + 1) * stride), int((rows.max() + 1) * stride)
        if shape is not None:
            y1, x1 = min(y1, shape[0]), min(x1, shape[1])
        box = [int(cols.min() * stride), int(rows.min() * stride), x1, y1]
        if evidence is not None:
            box = _tighten(box, evidence)
        named = None
        if operations is not None and operations.shape[0] > 1:
            mean = operations[:, mine].mean(axis=1)
            named = operation_names[1 + int(np.argmax(mean[1:]))]
        values = prob[mine]
        found.append(Region(detector, box, int(cells.sum()) * stride * stride, float(values.mean()), float(values.max()), int(mine.sum()), named))
    return sorted(found, key=lambda r: (-r.area, -r.max_score))


def _tighten(box: list[int], evidence: np.ndarray) -> list[int]:
    """The box [x0, y0, x1, y1) shrunk to the cells of ``evidence`` inside it (unchanged if none)."""
    x0, y0, x1, y1 = box
    inside = evidence[y0 // MAP_CELL : -(-y1 // MAP_CELL), x0 // MAP_CELL : -(-x1 // MAP_CELL)]
    if not inside.any():
        return box
    rows, cols = np.nonzero(inside)
    top, left = y0 // MAP_CELL + rows.min(), x0 // MAP_CELL + cols.min()
    bottom, right = y0 // MAP_CELL + rows.max() + 1, x0 // MAP_CELL + cols.max() + 1
    return [max(x0, int(left * MAP_CELL)), max(y0, int(top * MAP_CELL)),
            min(x1, int(right * MAP_CELL)), min(y1, int(bottom * MAP_CELL))]


@dataclass
class Detection:
    """One detector's result on one image. ``score`` (:func:`image_score`) is compared with the
    image ``threshold``: ``flagged`` = score > threshold, exactly when ``regions`` is not
    empty. ``window_threshold`` marks the windows a region outlines, ``min_area`` the pixels
    a region's core must cover; ``flagged_fraction`` is the share of windows over the window
    threshold."""

    detector: str
    score: float
    flagged: bool
    threshold: float
    window_threshold: float
    min_area: int
    flagged_fraction: float
    regions: list[Region]

    def to_dict(self) -> dict:
        return {"score": round(self.score, 4), "flagged": self.flagged, "threshold": round(self.threshold, 4),
                "window_threshold": round(self.window_threshold, 4), "min_area": self.min_area,
                "flagged_fraction": round(self.flagged_fraction, 4), "regions": [r.to_dict() for r in self.regions]}


def detect(prob: np.ndarray, rule: ImageRule, stride: int, detector: str, operations: np.ndarray | None = None,
           operation_names: list[str] | None = None, shape: tuple[int, int] | None = None,
           evidence: np.ndarray | None = None) -> Detection:
    """The per-image result of one detector from its window probabilities (rows, cols);
    ``evidence`` (see :func:`regions`) outlines the regions."""
    score = image_score(prob, stride, rule.min_area)
    flagged = score > rule.threshold
    found = regions(prob, rule.window_threshold, stride, detector, rule.threshold, rule.min_area, operations,
                    operation_names, shape, evidence=evidence) if flagged else []
    return Detection(detector, score, flagged, rule.threshold, rule.window_threshold, rule.min_area,
                     float(np.mean(prob > rule.window_threshold)), found)


# ----------------------------------------------------------------------------- inputs

@dataclass
class InputFile:
    """A file to scan and the root it was found under (for mirrored output paths)."""

    path: Path
    root: Path


def collect_inputs(paths: list[str | Path], recursive: bool = True, include_hidden: bool = False,
                   pattern: str | None = None) -> tuple[list[InputFile], list[str]]:
    """Expand files and folders into a sorted, de-duplicated list of files.

    Folders are walked recursively (``recursive``) without following symbolic links to
    folders, so link loops cannot recur; hidden entries (name starting with '.') are
    skipped unless ``include_hidden``; ``pattern`` (fnmatch on the file name) filters
    files found in folders. Returns (files, problems): missing paths appear in problems.
    """
    found: dict[Path, InputFile] = {}
    problems = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            walker = os.walk(p, followlinks=False) if recursive else [(str(p), [], [e.name for e in os.scandir(p) if e.is_file()])]
            for dirpath, dirnames, filenames in walker:
                dirnames[:] = sorted(d for d in dirnames if include_hidden or not d.startswith("."))
                for name in sorted(filenames):
                    if (not include_hidden and name.startswith(".")) or (pattern and not fnmatch.fnmatch(name, pattern)):
                        continue
                    f = Path(dirpath) / name
                    if f.is_dir():
                        continue
                    found.setdefault(f.absolute(), InputFile(f, p))
        elif p.exists() or p.is_symlink():
            found.setdefault(p.absolute(), InputFile(p, p.parent))
        else:
            problems.append(str(p))
    files = sorted(found.values(), key=lambda f: str(f.path))
    return files, problems


def output_stem(files: list[InputFile]) -> dict[Path, Path]:
    """Relative output stem for each file: its path relative to the common folder of all
    inputs, so two files with the same name in different folders never share outputs."""
    absolute = [f.path.absolute() for f in files]
    if not absolute:
        return {}
    common = Path(os.path.commonpath([str(a.parent) for a in absolute]))
    return {f.path: a.relative_to(common) for f, a in zip(files, absolute)}


# ----------------------------------------------------------------------------- scanning

@dataclass
class ScanOptions:
    """Settings of a scan (see ``scanner scan --help``). ``window`` None fuses the maps of
    :data:`WINDOWS` into the localisation map; a size in pixels uses that size alone."""

    stride: int = 32
    device: str = "cpu"
    threshold: float | None = None
    heatmaps: Path | None = None
    raw_maps: bool = False
    thumbnails: bool = False
    overwrite: bool = False
    max_pixels: int = DEFAULT_MAX_PIXELS
    threads: int = 1
    window: int | None = None

    @property
    def map_windows(self) -> tuple[int, ...]:
        """The window sizes of the localisation map: ``window`` alone, else :data:`WINDOWS`."""
        return (self.window,) if self.window else WINDOWS


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


def available_cores() -> int:
    """CPU cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def use_threads(threads: int | None = None) -> int:
    """Limit this process's torch and BLAS threads to ``threads`` (default: every core it may
    use). Returns the number applied."""
    import torch
    from threadpoolctl import threadpool_limits

    n = threads or available_cores()
    torch.set_num_threads(n)
    threadpool_limits(n)
    return n


def _softmax(logits: np.ndarray, axis: int = 0) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def map_grids(detectors, shape: tuple[int, int], options: ScanOptions) -> list[tuple[int, int]]:
    """The (window, stride) grids of the localisation map (``options.window`` alone, or every
    size of :data:`WINDOWS`) that fit an image of ``shape`` and that some detector of the set is
    calibrated for; 128-pixel windows at the scan's stride."""
    grids = []
    for window in options.map_windows:
        if min(shape) >= window and any(window in detectors.scales(n) for n in detectors.names):
            grids.append((window, options.stride if window == PATCH else scale_stride(window, options.stride)))
    return grids


def localisation_maps(shape: tuple[int, int], detectors, scored: dict, options: ScanOptions) -> dict[str, np.ndarray]:
    """Each detector's localisation map, and each resaved head's (:mod:`scanner.bank`): a cell
    every :data:`MAP_CELL` pixels of an image of ``shape`` (H, W), the mean over the grids of
    :func:`map_grids` of the mean logit of the windows covering the cell, less that size's
    pristine threshold, in units of its pristine spread (:class:`ScaleCalibration`). 0 is the
    0.5%-of-pristine-windows level of every size. ``scored`` maps each grid (window, stride) to
    its :class:`scanner.bank.WindowScores`."""
    sums: dict[str, np.ndarray] = {}
    counts: dict[str, int] = {}
    for window, stride in map_grids(detectors, shape, options):
        scores = scored[window, stride]
        for name, logits in (scores.detectors | scores.resaved).items():
            scale = detectors.scales(name).get(window)
            if scale is not None:
                z = (coverage_mean(logits, stride, window, shape) - scale.threshold) / scale.spread
                sums[name] = sums.get(name, 0) + z
                counts[name] = counts.get(name, 0) + 1
    return {name: sums[name] / counts[name] for name in sums}


def analyze(pixels: np.ndarray, detectors, options: ScanOptions, stored_as_jpeg: bool = True) -> Analysis:
    """Run a detector set (:func:`scanner.detectors.load_shipped`) on one image's stored pixels,
    uint8 RGB (H, W, 3) or one channel (H, W) (:func:`scanner.images.decode_pixels`).
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


@dataclass
class ImageRecord:
    """The result for one input file (the ``images`` entries of the JSON output).

    ``flagged`` is true exactly when some detector found a qualifying region; ``operation``
    names the most likely manipulation then; ``verdict`` says the same in words."""

    path: str
    sha256: str | None = None
    status: str = "ok"
    error: dict | None = None
    input: dict | None = None
    flagged: bool = False
    operation: str | None = None
    detections: dict[str, Detection] = field(default_factory=dict)
    heatmaps: dict | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def regions(self) -> list[Region]:
        """Every detector's qualifying regions."""
        return [r for d in self.detections.values() for r in d.regions]

    @property
    def verdict(self) -> str:
        if self.status != "ok":
            return f"not analysed ({self.error['code']})" if self.error else "not analysed"
        if not self.flagged:
            return "no evidence found"
        others = [n for n, d in self.detections.items() if d.flagged and n != self.operation]
        return f"evidence of {self.operation}" + (f" (also flagged: {', '.join(others)})" if others else "")

    def to_dict(self) -> dict:
        return {"path": self.path, "sha256": self.sha256, "status": self.status, "error": self.error,
                "input": self.input, "flagged": self.flagged, "operation": self.operation, "verdict": self.verdict,
                "detections": {n: d.to_dict() for n, d in self.detections.items()},
                "regions": [r.to_dict() for r in self.regions], "heatmaps": self.heatmaps, "warnings": self.warnings}


THUMBNAIL = 160
"""Longest side of report thumbnails, in pixels."""


def write_heatmaps(record: ImageRecord, analysis: Analysis, display: np.ndarray, stem: Path, options: ScanOptions) -> None:
    """Write the image's figure (its raw window probabilities and localisation maps with ``options.raw_maps``, its
    thumbnail with ``options.thumbnails``) under ``options.heatmaps``, mirroring the input tree; record the paths, or a warning for
    each file that already exists (never overwritten without ``options.overwrite``)."""
    from .heatmaps import figure

    folder = options.heatmaps / stem.parent
    record.heatmaps = {"figure": None, "raw": None, "stride": options.stride, "window": PATCH}
    path = folder / f"{stem.name}.figure.jpg"
    try:
        image = figure(display, analysis, options.stride, f"{record.path}: {record.verdict}")
        write_output(path, options.overwrite, lambda p: image.save(p, format="JPEG", quality=85))
        record.heatmaps["figure"] = str(path)
    except FileExistsError:
        record.warnings.append(f"figure not written: {path} exists (use --overwrite)")
    if options.thumbnails:
        from PIL import Image

        path = folder / f"{stem.name}.thumb.jpg"
        thumbnail = Image.fromarray(display)
        thumbnail.thumbnail((THUMBNAIL, THUMBNAIL))
        try:
            write_output(path, options.overwrite, lambda p: thumbnail.save(p, format="JPEG", quality=80))
            record.heatmaps["thumbnail"] = str(path)
        except FileExistsError:
            record.warnings.append(f"thumbnail not written: {path} exists (use --overwrite)")
    if options.raw_maps:
        record.heatmaps |= {"raw": {}, "maps": {}, "map_cell": MAP_CELL}
        for kind, arrays, suffix in (("raw", analysis.probabilities, "npy"), ("maps", analysis.maps(), "map.npy")):
            for name, values in arrays.items():
                path = folder / f"{stem.name}.{name}.{suffix}"
                try:
                    write_output(path, options.overwrite, lambda p: np.save(p, values.astype(np.float32)))
                    record.heatmaps[kind][name] = str(path)
                except FileExistsError:
                    record.warnings.append(f"raw map not written: {path} exists (use --overwrite)")
                    record.heatmaps[kind][name] = None


class Scorer:
    """Turns files into :class:`ImageRecord` s: the one code path of every engine (the local
    ``scanner scan``, Ray workers, any batch framework). Build it once (detectors loaded once),
    then call it on batches of (path, bytes) or on paths.

    >>> scorer = Scorer.shipped()
    >>> records = scorer([("a.jpg", open("a.jpg", "rb").read())])
    """

    def __init__(self, detectors, options: ScanOptions | None = None) -> None:
        self.detectors = detectors
        self.options = options or ScanOptions()
        self.colour = detectors.colour_detectors()
        self.colour_only = detectors.colour_detectors(only=True)

    @classmethod
    def shipped(cls, manips: list[str] | None = None, options: ScanOptions | None = None, weights: str | Path | None = None) -> "Scorer":
        """A scorer of the shipped detectors (or those in ``weights``), restricted to ``manips``."""
        from .detectors import load_shipped

        options = options or ScanOptions()
        return cls(load_shipped(manips, options.device, weights), options)

    def __call__(self, batch: list[tuple[str, bytes]]) -> list[ImageRecord]:
        """Records of a batch of (path, the file's bytes), in order."""
        return [self.score(path, data) for path, data in batch]

    def score(self, path: str, data: bytes, stem: Path | None = None) -> ImageRecord:
        """Analyse one file's bytes; every failure becomes a record with ``status`` error or
        skipped. Heat maps (when the options ask for them) go under ``stem`` (default: the name)."""
        record = ImageRecord(path=path, sha256=sha256_hex(data))
        options = self.options
        try:
            image, info = open_image(data, path, options.max_pixels)
            pixels = stored_pixels(image, info)
        except ImageError as exc:
            record.status, record.error = "error", {"code": exc.code, "message": exc.message}
            return record
        record.input = info.to_dict()
        height, width = pixels.shape[:2]
        if min(height, width) < PATCH:
            record.status = "skipped"
            record.error = {"code": "too_small", "message": f"{path}: {width}x{height} is smaller than one "
                                                            f"{PATCH}x{PATCH} analysis window"}
            return record
        if pixels.ndim == 2 and self.colour:
            verb = "detectors read colour residuals and see" if len(self.colour) > 1 else "detector reads colour residuals and sees"
            record.warnings.append(f"single-channel image: the {_listed(self.colour)} {verb} less here than in a colour photo")
        analysis = analyze(pixels, self.detectors, options, stored_as_jpeg=info.stored_as_jpeg)
        record.detections, record.flagged, record.operation = analysis.detections, analysis.flagged, analysis.operation
        lossless_flags = [d.detector for d in analysis.detections.values() if d.flagged and d.detector in self.colour_only]
        if lossless_flags and pixels.ndim == 3 and not info.stored_as_jpeg:
            record.warnings.append(
                f"{info.format or 'non-JPEG'} file flagged by the {_listed(lossless_flags)} detector, which reads only colour "
                f"residuals, learnt on camera JPEGs, whose colour is smooth: in a file never stored as JPEG, film grain or a "
                f"sensor's colour noise can look the same (lossless film scans: docs/detectors.md)")
        if options.heatmaps is not None:
            write_heatmaps(record, analysis, display_rgb(image, green_of(pixels)), stem or Path(Path(path).name), options)
        return record

    def score_file(self, path: str | Path, stem: Path | None = None) -> ImageRecord:
        """Read and analyse one file; a file that cannot be read becomes an error record."""
        try:
            data = read_bytes(path)
        except ImageError as exc:
            return ImageRecord(path=str(path), status="error", error={"code": exc.code, "message": exc.message})
        return self.score(str(path), data, stem)


def _listed(names: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return " and ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)


def scan(paths: list[str | Path], detectors, options: ScanOptions | None = None,
         recursive: bool = True, include_hidden: bool = False, pattern: str | None = None,
         workers: int = 1) -> Iterator[ImageRecord]:
    """Scan files and folders with a detector set, yielding one :class:`ImageRecord` per
    file in sorted order. Paths that do not exist yield error records (code ``not_found``).
    ``workers`` > 1 scores that many files at once, each in a worker process of its own
    (:func:`score_in_workers`); the records are the same, in the same order."""
    options = options or ScanOptions()
    files, missing = collect_inputs(paths, recursive, include_hidden, pattern)
    for path in missing:
        yield missing_record(path)
    stems = output_stem(files)
    work = [(str(item.path), stems[item.path]) for item in files]
    if workers > 1 and len(work) > 1:
        yield from score_in_workers(work, detectors, options, min(workers, len(work)))
        return
    scorer = Scorer(detectors, options)
    for path, stem in work:
        yield scorer.score_file(path, stem)


_worker_scorer: Scorer | None = None
"""The :class:`Scorer` of a worker process of :func:`score_in_workers`."""


def _start_worker(detectors, options: ScanOptions) -> None:
    import signal
    import threading

    global _worker_scorer
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group: the parent stops the workers
    threading.Thread(target=_exit_with_parent, daemon=True).start()
    use_threads(options.threads)
    _worker_scorer = Scorer(detectors, options)


def _exit_with_parent() -> None:
    """End this worker process when the scan that started it ends, however it ends (killed
    too): an orphaned worker would wait for work forever, holding the scan's stdout open."""
    import multiprocessing
    from multiprocessing.connection import wait

    wait([multiprocessing.parent_process().sentinel])
    os._exit(1)


def _score_in_worker(path: str, stem: Path) -> ImageRecord:
    return _worker_scorer.score_file(path, stem)


def score_in_workers(work: list[tuple[str, Path]], detectors, options: ScanOptions, workers: int) -> Iterator[ImageRecord]:
    """Records of ``work`` ((path, output stem) pairs), in order, scored ``workers`` at a time
    by worker processes that each load the detectors once and use ``options.threads`` threads.

    A worker that dies (out of memory, say) fails the files in flight; each is then scored
    again alone in a fresh worker, and a file that kills that one too becomes an error record
    (``worker_failed``), as on the Ray engine. Stopping early (Ctrl-C, or closing the iterator)
    ends the workers."""
    import multiprocessing
    from collections import deque
    from concurrent.futures import Future, ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    context = multiprocessing.get_context("spawn")  # never fork a process that holds threads
    before = set(multiprocessing.active_children())

    def pool(size: int) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(size, mp_context=context, initializer=_start_worker, initargs=(detectors, options))

    def end(executor: ProcessPoolExecutor) -> None:
        """Stop a pool whose files in flight are abandoned, or that broke: terminate its workers
        ourselves, since a broken pool on Python 3.11 misses a worker it was still starting and
        then waits for it forever, also when the interpreter exits."""
        executor.shutdown(wait=False, cancel_futures=True)
        for child in set(multiprocessing.active_children()) - before:
            child.terminate()
            child.join()
        executor.shutdown(wait=True)

    def alone(path: str, stem: Path, future: Future) -> ImageRecord:
        if future.done() and not future.cancelled() and future.exception() is None:
            return future.result()
        with pool(1) as solo:
            try:
                return solo.submit(_score_in_worker, path, stem).result()
            except BrokenProcessPool:
                return ImageRecord(path=path, status="error", error={
                    "code": "worker_failed", "message": f"{path}: the worker process scoring it died, also when it was scored alone"})

    queue = deque(work)
    running: deque[tuple[str, Path, Future]] = deque()
    executor = None
    try:
        while queue or running:
            executor = executor or pool(workers)
            try:
                while queue and len(running) < 2 * workers:
                    running.append((*queue[0], executor.submit(_score_in_worker, *queue[0])))
                    queue.popleft()
                record = running[0][2].result()
            except BrokenProcessPool:
                end(executor)
                executor = None
                for retry in list(running):
                    yield alone(*retry)
                running.clear()
                continue
            running.popleft()
            yield record
        if executor is not None:
            executor.shutdown()
            executor = None
    finally:
        if executor is not None:  # stopped early: the files in flight are abandoned
            end(executor)


def missing_record(path: str) -> ImageRecord:
    """The record of an input path that does not exist."""
    return ImageRecord(path=path, status="error", error={"code": "not_found", "message": f"{path}: no such file or folder"})
