"""The shifted-grid double-compression test's threshold, chosen on the training and validation
makes of the sealed split only -> docs/jpeg-history.md (shifted grids).

    python -m benchmarks.studies.shifted_jpeg_design [--images ../shared/data/pristine] [--every 1]

For every ``--every``-th camera JPEG of the sealed split's training and validation makes, with the
photo reduced 3x (which wipes out the camera's JPEG history) as a lossless start:

- compressed once, at a quality drawn from 60-95 (no earlier grid: every finding is false);
- the camera file as written, and saved again at 70-90 without cropping (earlier grid aligned:
  the shifted test should find nothing; the aligned test's business);
- compressed at Q1 in 60-90, decoded, cropped by a random offset that is not a multiple of 8, and
  saved at Q2 in 70-95 (two pairs per photo);
- the camera file cropped the same way and saved at 70-90 (the camera's own compression, usually
  finer than 90, as the earlier one).

Prints the share of each kind whose score reaches each threshold, the share of shifted files whose
earlier grid is found at the right offset, and the detection by (Q1, Q2).
"""

from __future__ import annotations

import argparse
import io
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
from PIL import Image

from scanner.features.shifted_grid import best_shifted_grid, decoded_luminance, grid_statistics
from scanner.inputs.jpeg_file import read_luminance
from scanner.processing.manipulations import jpeg_compress
from scanner.training.photos import SEALED, default_pristine_dir, list_photos, make_split

THRESHOLDS = (0.5, 0.75, 1.0, 1.5, 2.0)
"""Scores in multiples of the shipped thresholds (evidence from 1)."""


def decoded(data: bytes) -> np.ndarray:
    """RGB pixels (H, W, 3) of JPEG bytes."""
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"))


def cropped_resave(rgb: np.ndarray, quality: int, rng: np.random.Generator) -> tuple[bytes, tuple[int, int]]:
    """``rgb`` cropped by a random (rows, columns) offset that is not a multiple of 8 in both, saved
    at ``quality``; and where the earlier grid then starts in the new file's grid."""
    while True:
        dy, dx = (int(v) for v in rng.integers(0, 8, size=2))
        if (dy, dx) != (0, 0):
            break
    return jpeg_compress(rgb[dy:, dx:], quality), ((8 - dy) % 8, (8 - dx) % 8)


def files_of(path: Path, rng: np.random.Generator) -> list[tuple[str, bytes, tuple[int, int] | None]]:
    """The kinds of file made from one camera JPEG: (kind, bytes, the earlier grid's true offset or None)."""
    data = path.read_bytes()
    camera = decoded(data)
    with Image.open(io.BytesIO(data)) as im:
        lossless = np.asarray(im.convert("RGB").reduce(3))
    files = [("once", jpeg_compress(lossless, int(rng.choice([60, 70, 80, 90, 95]))), None),
             ("written", data, None), ("aligned again", jpeg_compress(camera, int(rng.choice([70, 80, 90]))), None)]
    for _ in range(2):
        q1, q2 = int(rng.choice([60, 70, 80, 90])), int(rng.choice([70, 80, 90, 95]))
        resaved, offset = cropped_resave(decoded(jpeg_compress(lossless, q1)), q2, rng)
        files.append((f"shifted {q1}->{q2}", resaved, offset))
    resaved, offset = cropped_resave(camera, int(rng.choice([70, 80, 90])), rng)
    files.append(("camera shifted", resaved, offset))
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=Path, default=None)
    parser.add_argument("--every", type=int, default=1)
    parser.add_argument("--save", type=Path, default=None, help="also write each file's kind, true offset and 8x8 grid totals (JSON)")
    args = parser.parse_args()
    sides = make_split(list_photos(args.images or default_pristine_dir()), SEALED)
    photos = [p for p in sides["train"] + sides["validation"] if p.path.suffix.lower() in (".jpg", ".jpeg")][:: args.every]
    rng = np.random.default_rng(2)
    rows, saved = [], []  # (kind, score, found at the true offset)
    for p in photos:
        for kind, data, truth in files_of(p.path, rng):
            totals, best_step = grid_statistics(decoded_luminance(read_luminance(data)))
            evidence = best_shifted_grid(totals, best_step)
            rows.append((kind, evidence.score, truth is not None and evidence.offset == truth))
            saved.append({"photo": p.path.name, "kind": kind, "truth": truth, "totals": totals.round(2).tolist()})
    if args.save:
        args.save.write_text(json.dumps(saved))
    kinds = defaultdict(list)
    for kind, score, right in rows:
        kinds[kind if not kind.startswith("shifted ") else "shifted, any Q1 -> Q2"].append((score, right))
    print(f"{len(photos)} camera JPEGs of the sealed split's training and validation makes.\n")
    print("| file | files | " + " | ".join(f"score >= {t:g}" for t in THRESHOLDS) + " | evidence at the right grid |")
    print("|---|---|" + "---|" * len(THRESHOLDS) + "---|")
    for kind, values in kinds.items():
        s = np.array([v[0] for v in values])
        right = f"{100 * np.mean([r for sc, r in values if sc >= 1] or [0]):.1f}%" if "shifted" in kind else ""
        print(f"| {kind} | {len(s)} | " + " | ".join(f"{100 * np.mean(s >= t):.1f}%" for t in THRESHOLDS) + f" | {right} |")
    pairs = defaultdict(list)
    for kind, score, right in rows:
        if kind.startswith("shifted "):
            pairs[kind.split(" ", 1)[1]].append(score)
    print("\nShifted, by earlier and later quality: files, median score, share read as evidence (score >= 1).\n")
    print("| Q1 -> Q2 | files | median score | evidence |\n|---|---|---|---|")
    for pair in sorted(pairs, key=lambda k: tuple(int(q) for q in k.split("->"))):
        s = np.array(pairs[pair])
        print(f"| {pair} | {len(s)} | {np.median(s):.1f} | {100 * np.mean(s >= 1):.0f}% |")


if __name__ == "__main__":
    main()
