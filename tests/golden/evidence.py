"""A small evidence folder made the same way on every machine, for pinning the scanner's records.

Every file is made from a fixed seed, so a scan of it gives the same records wherever the same
versions of numpy, Pillow and torch run. It holds what a scan meets: camera-like JPEG and PNG
photos, each processing operation applied to the whole image or to a region, a grayscale image,
an image too small to score, and two files that are not images."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

from scanner.processing.manipulations import jpeg as jpeg_roundtrip
from scanner.processing.manipulations import jpeg_compress


def photo(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Smoothed noise, a gradient and fine noise: photo-like texture, (height, width, 3) uint8."""
    base = ndimage.gaussian_filter(rng.normal(128, 60, (height, width, 3)), (1.2, 1.2, 0))
    base += np.linspace(-30, 30, width)[None, :, None] + rng.normal(0, 3, base.shape)
    return np.clip(np.round(base), 0, 255).astype(np.uint8)


def build(folder: Path) -> list[Path]:
    """Write the evidence folder under ``folder``; returns the files written, sorted."""
    rng = np.random.default_rng(2017)
    folder.mkdir(parents=True, exist_ok=True)
    camera = jpeg_roundtrip(photo(rng, 448, 512), 95)
    files = {
        "camera.jpg": jpeg_compress(photo(rng, 448, 512), 95),
        "camera-again-at-70.jpg": jpeg_compress(camera, 70),
        "lossless.png": None,
        "gray.png": None,
        "tiny.png": None,
        "not-an-image.jpg": b"this is text, not a photograph\n",
        "truncated.jpg": jpeg_compress(photo(rng, 256, 256), 90)[:600],
    }
    blurred = ndimage.gaussian_filter(camera.astype(np.float64), (1.1, 1.1, 0))
    median = ndimage.median_filter(camera, size=(7, 7, 1))
    noisy = camera + rng.normal(0, 2.0, camera.shape)
    spliced = camera.astype(np.float64).copy()
    spliced[96:352, 128:384] = blurred[96:352, 128:384]
    arrays = {
        "lossless.png": photo(rng, 384, 384),
        "gray.png": photo(rng, 320, 320)[..., 1],
        "tiny.png": photo(rng, 96, 96),
        "blurred.png": blurred,
        "median.png": median,
        "noisy.png": noisy,
        "spliced-blur.png": spliced,
    }
    written = []
    for name, data in files.items():
        if data is not None:
            (folder / name).write_bytes(data)
            written.append(folder / name)
    for name, array in arrays.items():
        Image.fromarray(np.clip(np.round(array), 0, 255).astype(np.uint8)).save(folder / name)
        written.append(folder / name)
    return sorted(written)


def pinned(document: dict, folder: Path, raw_maps: Path | None = None) -> dict:
    """The parts of a ``scanner scan --json`` document that must not change across a refactor:
    every record (paths relative to ``folder``), the summary, the options and each model's
    thresholds; not the tool's version, times, thread count or where the weights lie. With
    ``raw_maps``, each raw map's shape, mean and largest value (4 decimals) too."""
    def relative(value):
        if isinstance(value, dict):
            return {k: relative(v) for k, v in value.items()}
        if isinstance(value, list):
            return [relative(v) for v in value]
        for root, tag in ((folder, ""), (raw_maps, "maps:")):
            if root is not None and isinstance(value, str) and value.startswith(str(root)):
                return tag + value[len(str(root)):].lstrip("/")
        return value

    options = {k: v for k, v in document["options"].items() if k not in ("threads", "heatmaps")}
    models = {name: {k: v for k, v in card.items() if k != "file"} for name, card in document["models"].items()}
    out = {"images": relative(document["images"]), "summary": document["summary"], "options": options, "models": models}
    if raw_maps is not None:
        out["raw_maps"] = {str(p.relative_to(raw_maps)): [list(a.shape), round(float(a.mean()), 4), round(float(a.max()), 4)]
                           for p in sorted(raw_maps.rglob("*.npy")) for a in [np.load(p)]}
    return out


WEIGHTS = Path(__file__).parent / "weights-0.7.1"
"""The bank that shipped with 0.7.1, kept here so that the pin holds the code still whatever
``weights/`` ships (0.8.0 ships a bank retrained on the sealed split)."""


def scan_pinned(work: Path) -> dict:
    """Build the evidence under ``work/in``, scan it with ``scanner scan --json --raw-maps`` in a
    subprocess (one thread, the 0.7.1 bank of :data:`WEIGHTS`) and return what :func:`pinned` keeps."""
    build(work / "in")
    maps = work / "maps"
    command = [sys.executable, "-m", "scanner", "scan", str(work / "in"), "--json", "--threads", "1",
               "--heatmaps", str(maps), "--raw-maps", "--weights", str(WEIGHTS)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    return pinned(json.loads(result.stdout), work / "in", maps)


if __name__ == "__main__":  # python -m tests.golden.evidence OUT.json: write the pinned records anew
    import tempfile

    with tempfile.TemporaryDirectory() as work:
        Path(sys.argv[1]).write_text(json.dumps(scan_pinned(Path(work)), indent=1, sort_keys=True) + "\n")
