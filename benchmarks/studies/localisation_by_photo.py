"""Which held-out photos hold a localisation case's misses?

    python -m benchmarks.studies.localisation_by_photo --bank 0=weights --case "small splice blur 0.5"

The forgeries of ``scanner evaluate --localization`` for one case (same crops, donors and
seeds), one line per photo: pixel AUC and exact best-threshold F1 of the case's own detector's
fused map and 128-pixel map (``--window 128``) and of the map of any detector, the region's
share of the crop, and the texture (mean absolute Laplacian of the gray levels, 0..255 units)
inside the region and around it; last, the means over the photos. ``--n-images 40`` takes every
held-out photo of the split.
"""

from __future__ import annotations

import argparse

import numpy as np

from benchmarks.common import add_bank_arguments, load_bank, split_seed
from scanner.core.threads import use_threads
from scanner.evaluation.forgeries import all_cases, forgeries, held_out_crops
from scanner.evaluation.metrics import map_scores
from scanner.scoring.analysis import analyze
from scanner.scoring.options import ScanOptions


def texture(image: np.ndarray) -> np.ndarray:
    """Absolute 4-neighbour Laplacian of the mean of the channels, (H, W), zero on the border."""
    g = image.astype(np.float64).mean(axis=2)
    out = np.zeros_like(g)
    out[1:-1, 1:-1] = np.abs(4 * g[1:-1, 1:-1] - g[:-2, 1:-1] - g[2:, 1:-1] - g[1:-1, :-2] - g[1:-1, 2:])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_bank_arguments(parser, forgeries=True)
    parser.add_argument("--case", required=True, help='a case label of the localisation report, e.g. "small splice blur 0.5"')
    args = parser.parse_args()
    use_threads(1)
    split, bank, root = load_bank(parser, args)
    seed = split_seed(split)
    cases = {c.label: c for c in all_cases()}
    if args.case not in cases:
        parser.error(f"unknown case {args.case!r}; choose from: {', '.join(cases)}")
    case = cases[args.case]
    crops = held_out_crops(root, split, args.n_images)
    print(f"{args.case}, bank {args.bank.split('=', 1)[1]} (split {split}), stride {args.stride}")
    print("| photo (target) | donor | region | own AUC | own best F1 | own 128 AUC | own 128 best F1 | any AUC | any best F1 "
          "| texture in / around |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    scores = []
    for i, forged in forgeries(crops, case.make, seed):
        camera, donor = crops[i][0], crops[(i + 1) % len(crops)][0]
        fused = analyze(forged.image, bank, ScanOptions(stride=args.stride))
        alone = analyze(forged.image, bank, ScanOptions(stride=args.stride, window=128))
        rows = [map_scores(cells, forged.mask) for cells in (fused.evidence[case.manip], alone.evidence[case.manip], fused.combined)]
        scores.append([v for row in rows for v in (row["auc"], row["best_f1"])])
        t = texture(forged.image)
        print(f"| {camera} | {donor} | {forged.mask.mean():.1%} | " + " | ".join(f"{v:.3f}" for v in scores[-1])
              + f" | {t[forged.mask].mean():.1f} / {t[~forged.mask].mean():.1f} |")
    print(f"| **mean of {len(scores)} photos** | | | " + " | ".join(f"**{v:.3f}**" for v in np.mean(scores, axis=0)) + " | |")


if __name__ == "__main__":
    main()
