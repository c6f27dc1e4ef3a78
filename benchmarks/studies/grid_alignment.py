"""A lead, not shipped: does a map of the local JPEG block grid find plain copy-moves and splices?

    python -m benchmarks.studies.grid_alignment --bank 0=weights [--quality 85]

A camera JPEG keeps its 8x8 block grid in the decoded pixels (the quantisation lattice,
scanner.features.lattice). A region pasted from elsewhere, with no processing, usually brings its own
grid at another offset (63 times in 64 for a random shift), and none of the five detectors reads
that. For every 8x8 block of luma and each of the 64 grid offsets, the lattice strength
(scanner.features.lattice.step_terms summed over the low frequencies and steps 2-8, over
``--blocks`` x ``--blocks`` blocks) is compared with the strength on the image's own grid
(scanner.features.lattice.grid_offset): the map is how much better some other grid fits there, read
against its own median over the image in both directions (as the map of any detector reads the
detectors' maps). On the forgeries of benchmarks/reports/untrained_edits.py (same crops, donors, seeds),
optionally saved as JPEG at ``--quality`` afterwards: mean pixel AUC and exact best-threshold F1,
the per-photo AUCs, and an image AUC: the map's 99th percentile on the forgeries against the
same on the unforged crops (saved the same way), how well a threshold could tell the two apart
with no false alarm budget chosen. The bank only names the split (``--bank``); its detectors are
not used.
"""

from __future__ import annotations

import argparse

import numpy as np
from scipy.ndimage import uniform_filter
from sklearn.metrics import roc_auc_score

from benchmarks.common import add_bank_arguments, final_save, load_bank, split_seed
from benchmarks.reports.untrained_edits import CASES
from scanner.evaluation.forgeries import forgeries, held_out_crops
from scanner.evaluation.metrics import localisation_scores
from scanner.features import lattice
from scanner.writers.figures import pixel_map

STEPS = (2, 3, 4, 5, 6, 8)
"""Lattice steps read (step 1 is what rounding to integers leaves everywhere)."""


def misalignment(rgb: np.ndarray, blocks: int = 4) -> np.ndarray:
    """Per 8x8 block of the image's own grid, (rows, cols): the best lattice strength of the
    other 63 grid offsets less that of the image's own, each averaged over ``blocks`` x
    ``blocks`` blocks around it, then the distance from the image's median (both directions)."""
    y = lattice.luma(rgb)
    own = lattice.grid_offset(y)
    rows, cols = (y.shape[0] - 7) // lattice.BLOCK, (y.shape[1] - 7) // lattice.BLOCK  # blocks of every offset
    strength = {}
    for dy in range(lattice.BLOCK):
        for dx in range(lattice.BLOCK):
            c = lattice.block_coefficients(y, (dy, dx))[:rows, :cols]
            terms = [(s, n) for _, s, n in lattice.step_terms(c, STEPS)]
            total, count = (sum(t[k].sum(axis=-1) for t in terms) for k in (0, 1))
            strength[dy, dx] = uniform_filter(total, blocks) / (uniform_filter(count, blocks) + 1e-3)
    better = np.max([v for offset, v in strength.items() if offset != own], axis=0) - strength[own]
    return np.abs(better - np.median(better))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_bank_arguments(parser, forgeries=True)
    parser.add_argument("--quality", type=int, default=100, help="JPEG quality of a final save (100: none)")
    parser.add_argument("--blocks", type=int, default=4, help="side of the averaging square, blocks")
    args = parser.parse_args()
    split, _, root = load_bank(parser, args)
    seed = split_seed(split)
    crops = held_out_crops(root, split, args.n_images)
    print(f"Split {split}, {len(crops)} held-out photos, "
          f"{'no final save' if args.quality >= 100 else f'whole forgery saved as JPEG {args.quality}'}, "
          f"{args.blocks} x {args.blocks} blocks.\n")
    unforged = [np.percentile(misalignment(final_save(crop, args.quality), args.blocks), 99) for _, crop in crops]
    print("| case | AUC / best F1 | image AUC | AUC per photo |\n|---|---|---|---|")
    for label, make in CASES.items():
        scores, image = [], []
        for _, forged in forgeries(crops, make, seed):
            cells = misalignment(final_save(forged.image, args.quality), args.blocks)
            image.append(np.percentile(cells, 99))
            value = pixel_map(cells, lattice.BLOCK, forged.mask.shape, 1.0, lattice.BLOCK)  # a cell per block
            r = localisation_scores(value, forged.mask, 0.0)
            scores.append((r["auc"], r["best_f1"]))
        auc, f1 = np.mean(scores, axis=0)
        separated = roc_auc_score([1] * len(image) + [0] * len(unforged), image + unforged)
        print(f"| {label} | {auc:.3f} / {f1:.3f} | {separated:.3f} | {', '.join(f'{a:.2f}' for a, _ in scores)} |")


if __name__ == "__main__":
    main()
