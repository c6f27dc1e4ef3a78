"""Heat maps for people: one compact figure per image, with the original beside each
detector's map, its colour scale, name, score, threshold and region outlines.

Figures are for display only (downscaled, JPEG-encoded); analysis always runs on the stored
pixels, and the raw window probabilities are written as ``.npy`` when asked for.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..core.constants import ANY_MAP, MAP_CELL, PATCH
from ..core.files import write_output
from ..core.types import sigmoid
from ..scoring.analysis import Analysis
from ..scoring.options import ScanOptions
from ..scoring.records import ImageRecord

PANEL = 400
"""Longest side of each panel of a figure, in pixels."""

STOPS = np.array([[0, 0, 4], [87, 16, 110], [188, 55, 84], [249, 142, 9], [252, 255, 164]], dtype=np.float64)
"""Colour ramp black - purple - red - yellow - white (inferno-like, readable in grey print)."""


def colormap(values: np.ndarray) -> np.ndarray:
    """Map values in [0, 1] (any shape) to RGB uint8 (..., 3) along :data:`STOPS`."""
    pos = np.clip(values, 0, 1) * (len(STOPS) - 1)
    lo = np.floor(pos).astype(int).clip(0, len(STOPS) - 2)
    frac = (pos - lo)[..., None]
    return (STOPS[lo] * (1 - frac) + STOPS[lo + 1] * frac).round().astype(np.uint8)


def pixel_map(scores: np.ndarray, stride: int, shape: tuple[int, int], scale: float = 1.0, window: int = PATCH) -> np.ndarray:
    """Values on a grid of ``window``-pixel squares every ``stride`` pixels (rows, cols) -> a map
    of ``shape`` (H, W) pixels drawn at ``scale`` of the image: each pixel takes the square whose
    centre is nearest (a localisation map: ``stride = window`` = its cell)."""
    height, width = shape
    ys = (np.arange(height) + 0.5) / scale
    xs = (np.arange(width) + 0.5) / scale
    rows = np.clip(np.round((ys - window / 2) / stride), 0, scores.shape[0] - 1).astype(int)
    cols = np.clip(np.round((xs - window / 2) / stride), 0, scores.shape[1] - 1).astype(int)
    return scores[rows][:, cols]


def _font(size: int) -> ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def colour_bar(height: int, threshold: float, width: int = 14) -> Image.Image:
    """A vertical colour scale from 1 (top) to 0 (bottom), ticks at 0, 0.5 and 1 and a cyan
    marker at ``threshold``; RGB, ``width + 34`` pixels wide."""
    ramp = colormap(np.linspace(1, 0, height))[:, None, :].repeat(width, axis=1)
    bar = Image.new("RGB", (width + 34, height), "white")
    bar.paste(Image.fromarray(ramp), (0, 0))
    draw = ImageDraw.Draw(bar)
    font = _font(11)
    for value in (0.0, 0.5, 1.0):
        y = round((1 - value) * (height - 1))
        draw.line([(width, y), (width + 4, y)], fill="black")
        draw.text((width + 6, min(max(y - 6, 0), height - 13)), f"{value:g}", fill="black", font=font)
    y = round((1 - threshold) * (height - 1))
    draw.line([(0, y), (width + 4, y)], fill="cyan", width=2)
    return bar


def wrap(text: str, font: ImageFont.ImageFont, width: int) -> list[str]:
    """``text`` in lines no wider than ``width`` pixels in ``font`` (a word longer than a line keeps its own line)."""
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1))).textlength
    lines: list[str] = []
    for word in text.split():
        if lines and measure(f"{lines[-1]} {word}", font=font) <= width:
            lines[-1] += f" {word}"
        else:
            lines.append(word)
    return lines


def detector_panel(gray: np.ndarray, per_pixel: np.ndarray, title: str, subtitle: str, threshold: float,
                   boxes: list[list[int]], scale: float, flagged: bool) -> Image.Image:
    """One detector's panel: the photo in grey (H, W) under a map of values in [0, 1] at the
    same size (the photo stays visible where values are low, and through a 25% veil where they
    are high), cyan outlines where the map exceeds ``threshold``, yellow boxes (image pixels, drawn
    at ``scale``) of the flagged regions, a colour bar marked at ``threshold``, and a title with
    its subtitle wrapped to the panel's width. Not ``flagged``: the map is dimmed to a faint veil
    and not outlined, so that nothing on it looks like a detection."""
    h, w = gray.shape
    alpha = ((0.25 + 0.5 * per_pixel) if flagged else 0.12 + 0.18 * per_pixel)[..., None]
    mixed = (1 - alpha) * gray[..., None] + alpha * colormap(per_pixel)
    if flagged:
        over = per_pixel > threshold
        edge = (over ^ np.roll(over, 1, 0)) | (over ^ np.roll(over, 1, 1))
        edge[0, :] = edge[:, 0] = False
        mixed[edge] = (0, 255, 255)
    panel = Image.fromarray(mixed.round().clip(0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(panel)
    for x0, y0, x1, y1 in boxes:
        draw.rectangle([x0 * scale, y0 * scale, x1 * scale - 1, y1 * scale - 1], outline=(255, 230, 0), width=3)
    bar = colour_bar(h, threshold)
    lines = wrap(subtitle, _font(12), w + bar.width)
    top = 24 + 15 * len(lines)
    framed = Image.new("RGB", (w + bar.width + 6, h + top), "white")
    framed.paste(panel, (0, top))
    framed.paste(bar, (w + 6, top))
    draw = ImageDraw.Draw(framed)
    draw.text((2, 2), title, fill=(200, 0, 0) if flagged else "black", font=_font(15))
    for k, line in enumerate(lines):
        draw.text((2, 21 + 15 * k), line, fill="black", font=_font(12))
    return framed


def figure(rgb: np.ndarray, analysis, stride: int, title: str) -> Image.Image:
    """The figure of one image: the original in colour, then each detector's panel
    (:func:`detector_panel`), then the :data:`scanner.core.constants.ANY_MAP` panel (the map of any
    detector, :func:`scanner.scoring.maps.any_map`, with every flagged region), in a grid of at most three columns under a title line."""
    height, width = rgb.shape[:2]
    scale = min(1.0, PANEL / max(height, width))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BILINEAR))
    gray = small.mean(axis=2)
    original = Image.new("RGB", (size[0] + 54, size[1] + 40), "white")
    original.paste(Image.fromarray(small), (0, 40))
    draw = ImageDraw.Draw(original)
    draw.text((2, 2), "original", fill="black", font=_font(15))
    draw.text((2, 21), f"{width}x{height} px, window {PATCH}, stride {stride}", fill="black", font=_font(12))
    panels = [original]
    for name, d in analysis.detections.items():
        verdict = "FLAGGED" if d.flagged else "not flagged"
        per_pixel = pixel_map(sigmoid(analysis.evidence[name]), MAP_CELL, gray.shape, scale, MAP_CELL)
        shown = ("localisation map over the pristine 0.5% level outlined" if d.flagged
                 else "map dimmed, nothing outlined: no region qualifies")
        spread = "" if d.spread_score is None else f"; spread {d.spread_score:.2f} / {d.spread_threshold:.2f}"
        extent = f" ({d.extent})" if d.flagged else " (explained by its own JPEG compression)" if d.explained else ""
        panel = detector_panel(gray, per_pixel, f"{name}: {verdict}{extent}", f"score {d.score:.3f} / image threshold {d.threshold:.3f}"
                               f"{spread}; {shown}; {len(d.regions)} region(s)",
                               0.5, [r.bbox for r in d.regions], scale, d.flagged)
        panels.append(panel)
    if len(analysis.detections) > 1:
        flagged = [d for d in analysis.detections.values() if d.flagged]
        per_pixel = pixel_map(sigmoid(analysis.combined), MAP_CELL, gray.shape, scale, MAP_CELL)
        named = (f"named: {analysis.naming.label}; every flagged detector's regions boxed" if flagged
                 else "nothing flagged: map dimmed, nothing outlined")
        reading = "" if analysis.stored_as_jpeg else ", relative (not a JPEG)"
        panels.append(detector_panel(gray, per_pixel, f"{ANY_MAP}: map of any detector{reading}", named, 0.5,
                                     [r.bbox for d in flagged for r in d.regions], scale,
                                     bool(flagged)))
    columns = min(3, len(panels))
    cell_w, cell_h = max(p.width for p in panels), max(p.height for p in panels)
    rows = -(-len(panels) // columns)
    canvas = Image.new("RGB", (columns * cell_w, rows * cell_h + 30), "white")
    for k, panel in enumerate(panels):
        canvas.paste(panel, ((k % columns) * cell_w, 30 + (k // columns) * cell_h))
    ImageDraw.Draw(canvas).text((4, 6), title, fill="black", font=_font(16))
    return canvas


THUMBNAIL = 160
"""Longest side of report thumbnails, in pixels."""


def write_heatmaps(record: ImageRecord, analysis: Analysis, display: np.ndarray, stem: Path, options: ScanOptions) -> None:
    """Write the image's figure (its raw window probabilities and localisation maps with ``options.raw_maps``, its
    thumbnail with ``options.thumbnails``) under ``options.heatmaps``, mirroring the input tree; record the paths, or a warning for
    each file that already exists (never overwritten without ``options.overwrite``)."""
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
