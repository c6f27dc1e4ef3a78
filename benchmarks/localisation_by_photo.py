"""Which held-out photos hold a localisation case's misses?

    python benchmarks/localisation_by_photo.py --bank 0=weights --case "small splice blur 0.5"

The forgeries of ``scanner evaluate --localization`` for one case (same crops, donors and
seeds), one line per photo: pixel AUC and exact best-threshold F1 of the fused map of the case's
own detector and of the map of any detector, the region's share of the crop, and the texture
(mean absolute Laplacian of the gray levels, 0..255 units) inside the region and around it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from scanner.data import default_pristine_dir
from scanner.detectors import load_shipped
from scanner.evaluate import all_cases, held_out_crops, localisation_scores
from scanner.heatmaps import pixel_map
from scanner.scan import MAP_CELL, ScanOptions, analyze, use_threads


def texture(image: np.ndarray) -> np.ndarray:
    """Absolute 4-neighbour Laplacian of the mean of the channels, (H, W), zero on the border."""
    g = image.astype(np.float64).mean(axis=2)
    out = np.zeros_like(g)
    out[1:-1, 1:-1] = np.abs(4 * g[1:-1, 1:-1] - g[:-2, 1:-1] - g[2:, 1:-1] - g[1:-1, :-2] - g[1:-1, 2:])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bank", required=True, help="SEED=FOLDER, a bank trained on split SEED")
    parser.add_argument("--case", required=True, help='a case label of the localisation report, e.g. "small splice blur 0.5"')
    parser.add_argument("--images", type=Path, default=None)
    parser.add_argument("--n-images", type=int, default=8)
    parser.add_argument("--stride", type=int, default=16)
    args = parser.parse_args()
    use_threads(1)
    seed, folder = args.bank.split("=", 1)
    seed = int(seed)
    cases = {c.label: c for c in all_cases()}
    if args.case not in cases:
        parser.error(f"unknown case {args.case!r}; choose from: {', '.join(cases)}")
    case = cases[args.case]
    bank = load_shipped(directory=folder)
    root = args.images or default_pristine_dir()
    if root is None:
        parser.error("no pristine photos: pass --images or set SCANNER_PRISTINE")
    crops = held_out_crops(root, seed, args.n_images)
    print(f"{args.case}, bank {folder} (split {seed}), stride {args.stride}")
    print("| photo (target) | donor | region | own AUC | own best F1 | any AUC | any best F1 | texture in / around |")
    print("|---|---|---|---|---|---|---|---|")
    for i, (camera, target) in enumerate(crops):  # as scanner.evaluate.evaluate_case
        donor = crops[(i + 1) % len(crops)][0]
        forged = case.make(target, crops[(i + 1) % len(crops)][1], seed + i)
        analysis = analyze(forged.image, bank, ScanOptions(stride=args.stride))
        rows = [localisation_scores(pixel_map(cells, MAP_CELL, forged.mask.shape, 1.0, MAP_CELL), forged.mask, 0.0)
                for cells in (analysis.evidence[case.manip], analysis.combined)]
        t = texture(forged.image)
        print(f"| {camera} | {donor} | {forged.mask.mean():.1%} | {rows[0]['auc']:.3f} | {rows[0]['best_f1']:.3f} | "
              f"{rows[1]['auc']:.3f} | {rows[1]['best_f1']:.3f} | {t[forged.mask].mean():.1f} / {t[~forged.mask].mean():.1f} |")


if __name__ == "__main__":
    main()
