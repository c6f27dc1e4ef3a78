"""Scanning: dense window scores, per-image verdicts, regions and heat maps.

Dense evaluation of a recast network. Its head is linear on the pooled histograms, so
the logit difference of a window equals the window mean of a per-pixel map
z_s = <p_s, u> (p_s the codeword assignments at pixel s, u the head's weight difference).
The image is convolved once, in row strips, into three z maps (across: H + V, along H,
along V); window sums then come from integral images (box filters) at any stride. The
81-channel assignments are never held for more than one chunk of pixels.
"""

from __future__ import annotations

import fnmatch
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

from .data import PATCH
from .detectors import Detector
from .images import DEFAULT_MAX_PIXELS, ImageError, decode_green, read_bytes, sha256_hex
from .model import RecastNet, to_input

STRIP_ROWS = 256
"""Pixel rows per strip in dense evaluation (plus a 6-row overlap)."""

IMAGE_QUANTILE = 0.95
"""An image's score for a detector is this quantile of its window probabilities."""


def _box_sums(z: torch.Tensor, box: tuple[int, int], tops: torch.Tensor, lefts: torch.Tensor, col_chunk: int = 1024) -> torch.Tensor:
    """Sums of z (h, w) over boxes of ``box`` = (rows, cols) at every (top, left): (len(tops), len(lefts)) float64."""
    bh, bw = box
    rows = torch.empty(len(tops), z.shape[1], dtype=torch.float64, device=z.device)
    for c in range(0, z.shape[1], col_chunk):
        part = z[:, c : c + col_chunk].to(torch.float64)
        cum = torch.nn.functional.pad(part.cumsum(0), (0, 0, 1, 0))
        rows[:, c : c + col_chunk] = cum[tops + bh] - cum[tops]
    cum = torch.nn.functional.pad(rows.cumsum(1), (1, 0))
    return cum[:, lefts + bw] - cum[:, lefts]


def grid(height: int, width: int, stride: int, window: int = PATCH) -> tuple[np.ndarray, np.ndarray]:
    """Window tops and lefts (pixels) of the analysis grid: every ``stride`` pixels from 0."""
    return np.arange(0, height - window + 1, stride), np.arange(0, width - window + 1, stride)


@torch.no_grad()
def dense_logits(net: RecastNet, green: np.ndarray, stride: int = 32, device: torch.device | str = "cpu",
                 window: int = PATCH) -> np.ndarray:
    """Logit difference (processed - pristine) of every window on the grid, densely.

    green: uint8 (H, W). Returns float64 (len(tops), len(lefts)) as :func:`grid`.
    Equals scoring each window on its own (:func:`window_logits`) up to float rounding.
    """
    height, width = green.shape
    tops, lefts = (torch.as_tensor(a, device=device) for a in grid(height, width, stride, window))
    d = (net.head.weight[1] - net.head.weight[0]).to(device)
    u = {"across": d[:81].float(), "along": d[81:].float()}
    z_across = torch.empty(height - 3, width - 3, device=device)
    z_along_h = torch.empty(height, width - 6, device=device)
    z_along_v = torch.empty(height - 6, width, device=device)
    mode, alpha = net.mode, net.alpha
    for a in range(0, height, STRIP_ROWS):
        x = to_input(green[a : a + STRIP_ROWS + 6], device)
        xt = x.transpose(-1, -2)
        n = min(STRIP_ROWS, height - 3 - a)
        if n > 0:
            z_across[a : a + n] = (net.across.project(x, u["across"], mode, alpha)[:n]
                                   + net.across.project(xt, u["across"], mode, alpha).T[:n])
        z_along_h[a : a + STRIP_ROWS] = net.along.project(x, u["along"], mode, alpha)[: min(STRIP_ROWS, height - a)]
        n = min(STRIP_ROWS, height - 6 - a)
        if n > 0:
            z_along_v[a : a + n] = net.along.project(xt, u["along"], mode, alpha).T[:n]
    across = _box_sums(z_across, (window - 3, window - 3), tops, lefts) / (window - 3) ** 2
    along = (_box_sums(z_along_h, (window, window - 6), tops, lefts)
             + _box_sums(z_along_v, (window - 6, window), tops, lefts)) / (window * (window - 6))
    bias = float(net.head.bias[1] - net.head.bias[0])
    return ((across + along) / 2 + bias).cpu().numpy()


@torch.no_grad()
def window_logits(net: torch.nn.Module, green: np.ndarray, stride: int = 32, device: torch.device | str = "cpu",
                  window: int = PATCH, batch_size: int = 64) -> np.ndarray:
    """Logit difference of every window on the grid, each window cut out and scored on its own
    (the reference for :func:`dense_logits`; the only path for non-recast networks)."""
    tops, lefts = grid(*green.shape, stride, window)
    corners = [(t, l) for t in tops for l in lefts]
    out = np.empty(len(corners))
    for start in range(0, len(corners), batch_size):
        batch = np.stack([green[t : t + window, l : l + window] for t, l in corners[start : start + batch_size]])
        logits = net(to_input(batch, device))
        out[start : start + len(batch)] = (logits[:, 1] - logits[:, 0]).double().cpu().numpy()
    return out.reshape(len(tops), len(lefts))


def score_map(net: torch.nn.Module, green: np.ndarray, stride: int = 32, device: torch.device | str = "cpu") -> np.ndarray:
    """Window probabilities of being processed, (len(tops), len(lefts)) in [0, 1]."""
    logits = dense_logits(net, green, stride, device) if isinstance(net, RecastNet) else window_logits(net, green, stride, device)
    return 1 / (1 + np.exp(-logits))


@dataclass
class Region:
    """A connected group of windows over the threshold: bounding box in pixels
    [x0, y0, x1, y1) (x1, y1 exclusive), area in pixels covered by its windows, mean and
    max window probability."""

    bbox: list[int]
    area: int
    mean_score: float
    max_score: float
    windows: int
    detector: str

    def to_dict(self) -> dict:
        return {"detector": self.detector, "bbox": self.bbox, "area": self.area,
                "mean_score": round(self.mean_score, 4), "max_score": round(self.max_score, 4), "windows": self.windows}


def regions(scores: np.ndarray, threshold: float, stride: int, detector: str, window: int = PATCH) -> list[Region]:
    """Connected regions (8-connectivity on the window grid) of windows whose probability
    exceeds ``threshold``, largest first. ``area`` counts the pixels covered by the union
    of the region's windows (exact when ``stride`` divides the window size)."""
    from scipy import ndimage

    labels, _ = ndimage.label(scores > threshold, structure=np.ones((3, 3)))
    span = math.ceil(window / stride)
    found = []
    for k, box in enumerate(ndimage.find_objects(labels), start=1):
        mine = labels[box] == k
        rows, cols = np.nonzero(mine)
        r0, c0 = box[0].start, box[1].start
        # union of the windows, counted in stride x stride cells (exact when stride divides the window)
        cells = np.zeros((mine.shape[0] + span, mine.shape[1] + span), dtype=bool)
        for r, c in zip(rows, cols):
            cells[r : r + span, c : c + span] = True
        values = scores[box][mine]
        bbox = [int(c0 * stride), int(r0 * stride), int((c0 + cols.max()) * stride + window), int((r0 + rows.max()) * stride + window)]
        found.append(Region(bbox, int(cells.sum()) * stride * stride, float(values.mean()), float(values.max()), len(rows), detector))
    return sorted(found, key=lambda r: (-r.area, -r.max_score))


def verdict(scores: np.ndarray, threshold: float, stride: int, detector: str) -> dict:
    """Per-image result of one detector: ``score`` (the 0.95 quantile of the window
    probabilities), ``flagged`` (score > threshold), ``flagged_fraction`` (windows over the
    threshold), ``top_region`` (the largest region, else the best window) and ``regions``."""
    found = regions(scores, threshold, stride, detector)
    score = float(np.quantile(scores, IMAGE_QUANTILE))
    if found:
        top = found[0].to_dict()
    else:
        r, c = np.unravel_index(int(np.argmax(scores)), scores.shape)
        top = {"detector": detector, "bbox": [int(c * stride), int(r * stride), int(c * stride + PATCH), int(r * stride + PATCH)],
               "area": PATCH * PATCH, "mean_score": round(float(scores[r, c]), 4), "max_score": round(float(scores[r, c]), 4), "windows": 1}
    return {"score": round(score, 4), "flagged": bool(score > threshold), "threshold": round(threshold, 4),
            "flagged_fraction": round(float(np.mean(scores > threshold)), 4), "top_region": top,
            "regions": [r.to_dict() for r in found]}


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


# ----------------------------------------------------------------------------- heat maps

def colormap(values: np.ndarray) -> np.ndarray:
    """Map [0, 1] to RGB uint8 along black - purple - red - yellow - white (an inferno-like ramp)."""
    stops = np.array([[0, 0, 4], [87, 16, 110], [188, 55, 84], [249, 142, 9], [252, 255, 164]], dtype=np.float64)
    pos = np.clip(values, 0, 1) * (len(stops) - 1)
    lo = np.floor(pos).astype(int).clip(0, len(stops) - 2)
    frac = (pos - lo)[..., None]
    return (stops[lo] * (1 - frac) + stops[lo + 1] * frac).round().astype(np.uint8)


OVERLAY_MAX_SIDE = 2048
"""Overlays are drawn at most this many pixels wide or high (display only; analysis is at full resolution)."""


def render_overlay(green: np.ndarray, scores: np.ndarray, stride: int, threshold: float) -> "Image.Image":
    """Heat-map overlay: the image in gray blended with the window probabilities (each
    pixel coloured by the window centred nearest to it); outlines mark windows over the
    threshold. Downscaled to at most :data:`OVERLAY_MAX_SIDE` for display."""
    from PIL import Image

    height, width = green.shape
    factor = min(1.0, OVERLAY_MAX_SIDE / max(height, width))
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    base = np.asarray(Image.fromarray(green).resize(size, Image.Resampling.BILINEAR), dtype=np.float64)
    ys = (np.arange(size[1]) + 0.5) / factor
    xs = (np.arange(size[0]) + 0.5) / factor
    rows = np.clip(np.round((ys - PATCH / 2) / stride), 0, scores.shape[0] - 1).astype(int)
    cols = np.clip(np.round((xs - PATCH / 2) / stride), 0, scores.shape[1] - 1).astype(int)
    per_pixel = scores[rows][:, cols]
    colour = colormap(per_pixel).astype(np.float64)
    mixed = 0.45 * base[..., None] + 0.55 * colour
    over = per_pixel > threshold
    edge = over ^ np.pad(over, 1, mode="edge")[1:-1, 2:] | over ^ np.pad(over, 1, mode="edge")[2:, 1:-1]
    mixed[edge] = (0, 255, 255)
    return Image.fromarray(mixed.round().clip(0, 255).astype(np.uint8))


# ----------------------------------------------------------------------------- scanning

@dataclass
class ScanOptions:
    """Settings of a scan (see ``scanner scan --help``)."""

    stride: int = 32
    device: str = "cpu"
    threshold: float | None = None
    heatmaps: Path | None = None
    overwrite: bool = False
    max_pixels: int = DEFAULT_MAX_PIXELS


@dataclass
class ImageRecord:
    """The result for one input file (the ``images`` entries of the JSON output)."""

    path: str
    sha256: str | None = None
    status: str = "ok"
    error: dict | None = None
    input: dict | None = None
    detections: dict = field(default_factory=dict)
    regions: list = field(default_factory=list)
    heatmaps: dict | None = None
    warnings: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"path": self.path, "sha256": self.sha256, "status": self.status, "error": self.error,
                "input": self.input, "detections": self.detections, "regions": self.regions,
                "heatmaps": self.heatmaps, "warnings": self.warnings}


def _write_new(path: Path, overwrite: bool, write) -> None:
    if path.exists() and not overwrite:
        raise FileExistsError(str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    write(path)


def analyze(green: np.ndarray, detectors: dict[str, Detector], options: ScanOptions) -> tuple[dict, dict[str, np.ndarray]]:
    """Run every detector on one green channel (H, W). Returns (detections, score maps)."""
    detections, maps = {}, {}
    for name, det in detectors.items():
        scores = score_map(det.net, green, options.stride, options.device)
        threshold = det.threshold if options.threshold is None else options.threshold
        detections[name] = verdict(scores, threshold, options.stride, name)
        maps[name] = scores
    return detections, maps


def scan_file(item: InputFile, stem: Path, detectors: dict[str, Detector], options: ScanOptions) -> ImageRecord:
    """Analyse one file; every failure becomes a record with ``status`` error or skipped."""
    record = ImageRecord(path=str(item.path))
    try:
        data = read_bytes(item.path)
        record.sha256 = sha256_hex(data)
        green, info = decode_green(data, str(item.path), options.max_pixels)
    except ImageError as exc:
        record.status, record.error = "error", {"code": exc.code, "message": exc.message}
        return record
    record.input = info.to_dict()
    if min(green.shape) < PATCH:
        record.status = "skipped"
        record.error = {"code": "too_small", "message": f"{item.path}: {green.shape[1]}x{green.shape[0]} is smaller than one "
                                                        f"{PATCH}x{PATCH} analysis window"}
        return record
    detections, maps = analyze(green, detectors, options)
    for name, det in detections.items():
        record.regions.extend(det.pop("regions"))
    record.detections = detections
    if options.heatmaps is not None:
        record.heatmaps = {}
        for name, scores in maps.items():
            base = options.heatmaps / stem.parent / f"{stem.name}.{name}"
            png, npy = base.with_name(base.name + ".png"), base.with_name(base.name + ".npy")
            try:
                _write_new(npy, options.overwrite, lambda p: np.save(p, scores.astype(np.float32)))
                overlay = render_overlay(green, scores, options.stride, detections[name]["threshold"])
                _write_new(png, options.overwrite, lambda p: overlay.save(p, format="PNG"))
                record.heatmaps[name] = {"overlay": str(png), "scores": str(npy)}
            except FileExistsError as exc:
                record.warnings.append(f"heat map not written: {exc} exists (use --overwrite)")
                record.heatmaps[name] = None
    return record


def scan(paths: list[str | Path], detectors: dict[str, Detector], options: ScanOptions | None = None,
         recursive: bool = True, include_hidden: bool = False, pattern: str | None = None) -> Iterator[ImageRecord]:
    """Scan files and folders, yielding one :class:`ImageRecord` per file in sorted order.
    Paths that do not exist yield error records (code ``not_found``)."""
    options = options or ScanOptions()
    files, missing = collect_inputs(paths, recursive, include_hidden, pattern)
    for path in missing:
        yield ImageRecord(path=path, status="error", error={"code": "not_found", "message": f"{path}: no such file or folder"})
    stems = output_stem(files)
    for item in files:
        yield scan_file(item, stems[item.path], detectors, options)
