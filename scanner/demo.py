"""``scanner demo``: an evidence folder built from the two photographs that ship inside
scikit-learn (``china.jpg``, ``flower.jpg``, 640x427), scanned with the shipped detectors.

No network and no shared data are needed. The folder holds pristine copies (the stored
pixels, saved losslessly), globally processed copies, and forgeries with their masks.
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from rich.console import Console
from sklearn.datasets import load_sample_image

from .engines.local import scan
from .families.registry import load_shipped
from .processing import forgery, manipulations
from .scoring.options import ScanOptions
from .writers.report import Report


@dataclass
class Exhibit:
    """One file of the demo: where it is, what was done to it, which detector should fire
    (None for pristine), and the ground-truth mask for a forgery."""

    path: Path
    description: str
    expected: str | None
    mask: np.ndarray | None = None


def sample_photos() -> dict[str, np.ndarray]:
    """scikit-learn's bundled sample photographs as RGB uint8 (427, 640, 3)."""
    return {"china": load_sample_image("china.jpg"), "flower": load_sample_image("flower.jpg")}


def build_evidence(folder: Path) -> list[Exhibit]:
    """Write the evidence files under ``folder`` (evidence/ and truth/); returns the exhibits."""
    photos = sample_photos()
    evidence, truth = folder / "evidence", folder / "truth"
    for sub in ("pristine", "processed", "forged"):
        (evidence / sub).mkdir(parents=True, exist_ok=True)
    truth.mkdir(parents=True, exist_ok=True)
    exhibits = []

    def save(rgb: np.ndarray, rel: str, description: str, expected: str | None, mask: np.ndarray | None = None) -> None:
        path = evidence / rel
        Image.fromarray(rgb).save(path)
        if mask is not None:
            Image.fromarray(mask.astype(np.uint8) * 255).save(truth / (Path(rel).stem + ".mask.png"))
        exhibits.append(Exhibit(path, description, expected, mask))

    for name, rgb in photos.items():
        save(rgb, f"pristine/{name}.png", "stored pixels of the sample photo, unchanged", None)
    china, flower = photos["china"], photos["flower"]
    save(manipulations.gaussian_blur(china, 1.1), "processed/china_blurred.png", "whole image blurred (sigma 1.1)", "blur")
    save(manipulations.median(flower, 5), "processed/flower_median.png", "whole image median-filtered (5x5)", "median")
    save(manipulations.add_noise(china, 2.0, seed=1), "processed/china_noisy.png", "white noise added (sigma 2)", "noise")
    save(manipulations.resize(flower, 1.5), "processed/flower_upscaled.png", "whole image upscaled x1.5", "resize")
    path = evidence / "processed/china_recompressed.jpg"
    path.write_bytes(manipulations.jpeg_compress(china, 70))
    exhibits.append(Exhibit(path, "re-compressed as JPEG quality 70", "jpeg"))
    f = forgery.splice(china, flower, "blur", 1.1, seed=7, area=(0.2, 0.25))
    save(f.image, "forged/china_splice_blurred.png", f.description, "blur", f.mask)
    f = forgery.copy_move(flower, 1.5, seed=3, area=(0.1, 0.12))
    save(f.image, "forged/flower_copymove_upscaled.png", f.description, "resize", f.mask)
    return exhibits


def run_demo(folder: Path, device, overwrite: bool, console, threads: int = 1) -> int:
    """Build the evidence, scan it with heat maps, print the table and where to look.
    Returns the process exit code (0 once the demo has run)."""
    folder = Path(folder)
    if folder.exists():
        if not overwrite:
            raise FileExistsError(str(folder))
        shutil.rmtree(folder)
    console.print(f"building the demo evidence in {folder}/evidence from scikit-learn's sample photos")
    exhibits = build_evidence(folder)
    detectors = load_shipped(device=device)
    options = ScanOptions(stride=16, device=device, heatmaps=folder / "heatmaps", thumbnails=True, threads=threads)
    report = Report(detectors, None, console, options, html=folder / "report")
    report.run(scan([folder / "evidence"], detectors, options), total=len(exhibits))
    by_path = {Path(r.path).resolve(): r for r in report.records}

    out = Console(soft_wrap=not sys.stdout.isatty())
    out.print("\n[bold]What was done, and what the scan says[/]")
    for ex in exhibits:
        record = by_path[ex.path.resolve()]
        line = f"- {ex.path.relative_to(folder)}: {ex.description} -> {record.verdict}"
        if record.jpeg is not None:
            line += f" [stored as JPEG quality {record.jpeg.quality}; double compression: {record.jpeg.double_compression}]"
        if ex.mask is not None:
            ys, xs = np.nonzero(ex.mask)
            line += f"; truth x{xs.min()}-{xs.max() + 1} y{ys.min()}-{ys.max() + 1}"
            found = [r for r in record.regions if r.detector == ex.expected]
            if found:
                x0, y0, x1, y1 = found[0].bbox
                line += f", {ex.expected} region found at x{x0}-{x1} y{y0}-{y1}"
        out.print(line, highlight=False)
    out.print("\nReading this: each detector answers 'pristine, or processed by X?'. Blurring, resizing and JPEG "
              "compression all remove fine detail, so their detectors often fire together; the verdict names one operation "
              "only where the scanner's operation head is sure of it, and otherwise the ones it cannot tell apart. A JPEG "
              "file's own compression is not counted as processing: its quality, and any trace of an earlier compression, "
              "are its JPEG history (too small a file leaves that undetermined). The 'pristine' copies are the "
              "sample photos as scikit-learn ships them: web images that were already downscaled and JPEG-compressed "
              "before they were saved here, so a detection on them can be a real trace of that history, not a false "
              "alarm. A detector flags an image when a whole region (at least 192x192 pixels) is over its image "
              "threshold, or when the mean of its window scores over the whole image is over its spread threshold (a "
              "'global' finding); both were set on untouched camera photos of other makes. Weaker traces can show in the "
              "heat map without flagging the image.",
              highlight=False)
    out.print(f"\nFigures (original and each detector's map): {folder / 'heatmaps'}\n"
              f"HTML report (sortable, with thumbnails): {folder / 'report' / 'index.html'}\n"
              f"Ground-truth masks of the forgeries: {folder / 'truth'}\n"
              f"Scan it yourself: scanner scan {folder / 'evidence'} --heatmaps {folder / 'my-heatmaps'}", highlight=False)
    return 0
