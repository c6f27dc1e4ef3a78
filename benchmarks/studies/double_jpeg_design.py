"""How the double-compression test reads its coefficients, chosen on the training makes of the
sealed split only -> docs/jpeg-history.md (design).

    python -m benchmarks.studies.double_jpeg_design [--images ../shared/data/pristine] [--every 2]

For every ``--every``-th camera JPEG of the sealed split's training and validation makes: the
file as the camera wrote it, the photo decoded and saved again at a quality drawn from 70-90, and
the photo reduced 3x (which wipes out its JPEG history) saved once at a quality drawn from 60-95.
Prints, for each reading of the coefficients (least step of the file's own, first |k| read,
degree of the trend removed) and each threshold, the share of each kind read as evidence.
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import numpy as np
from PIL import Image

import scanner.features.double_quantization as dq
from scanner.processing.manipulations import jpeg_compress
from scanner.training.photos import SEALED, default_pristine_dir, list_photos, make_split

READINGS = ((2, 2, 1), (3, 2, 1), (4, 2, 1), (3, 3, 1), (3, 2, 2))
"""(MIN_STEP, FIRST_BIN, TREND) compared; (3, 2, 1) ships."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=Path, default=None)
    parser.add_argument("--every", type=int, default=2)
    args = parser.parse_args()
    root = args.images or default_pristine_dir()
    sides = make_split(list_photos(root), SEALED)
    photos = [p for p in sides["train"] + sides["validation"] if p.path.suffix.lower() in (".jpg", ".jpeg")][:: args.every]
    rng = np.random.default_rng(1)
    shipped = (dq.MIN_STEP, dq.FIRST_BIN, dq.TREND)
    stats = {r: [] for r in READINGS}
    for p in photos:
        data = p.path.read_bytes()
        with Image.open(io.BytesIO(data)) as im:
            rgb = np.asarray(im.convert("RGB"))
            small = np.asarray(im.convert("RGB").reduce(3))
        files = (data, jpeg_compress(rgb, int(rng.choice([70, 75, 80, 85, 90]))), jpeg_compress(small, int(rng.choice([60, 70, 80, 90, 95]))))
        for r in READINGS:
            dq.MIN_STEP, dq.FIRST_BIN, dq.TREND = r
            stats[r].append([dq.jpeg_history(f).statistic for f in files])
    dq.MIN_STEP, dq.FIRST_BIN, dq.TREND = shipped
    print(f"{len(photos)} camera JPEGs of the sealed split's training makes.\n")
    print("| least step, first bin, trend | threshold | as written | saved again 70-90 | reduced, saved once 60-95 |\n|---|---|---|---|---|")
    for r, values in stats.items():
        v = np.array(values)
        for t in (25, 30, 35, 40, 50):
            print(f"| {r} | {t} | " + " | ".join(f"{100 * np.mean(v[:, i] >= t):.1f}%" for i in range(3)) + " |")


if __name__ == "__main__":
    main()
