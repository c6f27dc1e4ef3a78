"""What the scanner does with edits that no detector was trained on.

    python -m benchmarks.reports.untrained_edits --bank 0=weights [--quality 85]

On crops of held-out photos (as ``scanner evaluate --localization``: same crops, the next photo
the donor), forgeries whose edit is none of the five operations:

- a splice of an unprocessed region of another camera's photo (large: 12-25% of the crop;
  small: 1-5%), the commonest real forgery;
- a copy-move with no processing (the pasted pixels are the image's own: no trace to read);
- a copy-move rotated by 5 or 15 degrees (bicubic), the pasted region 1-5% of the crop.

Optionally the whole forgery is saved as JPEG at ``--quality`` afterwards. For each case: the
pixel AUC and exact best-threshold F1 of the map of any detector and of the detector map that
ranks the region best on average, and how many forgeries and how many unforged crops (saved the
same way) are flagged by some detector.
"""

from __future__ import annotations

import argparse

import numpy as np

from benchmarks.common import add_bank_arguments, final_save, load_bank, split_seed
from scanner.core.threads import use_threads
from scanner.evaluation.forgeries import SMALL_AREA, forgeries, held_out_crops
from scanner.evaluation.metrics import map_scores
from scanner.processing.forgery import copy_move, splice
from scanner.scoring.analysis import analyze
from scanner.scoring.options import ScanOptions

CASES = {
    "splice, unprocessed": lambda target, donor, seed: splice(target, donor, None, 0, seed),
    "small splice, unprocessed": lambda target, donor, seed: splice(target, donor, None, 0, seed, SMALL_AREA),
    "small copy-move, unprocessed": lambda target, donor, seed: copy_move(target, 1.0, seed, SMALL_AREA),
    "small copy-move, rotated 5 degrees": lambda target, donor, seed: copy_move(target, 1.0, seed, SMALL_AREA, angle=5),
    "small copy-move, rotated 15 degrees": lambda target, donor, seed: copy_move(target, 1.0, seed, SMALL_AREA, angle=15),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_bank_arguments(parser, forgeries=True)
    parser.add_argument("--quality", type=int, default=100, help="JPEG quality of a final save (100: none)")
    args = parser.parse_args()
    use_threads(1)
    split, bank, root = load_bank(parser, args)
    seed = split_seed(split)
    crops = held_out_crops(root, split, args.n_images)
    options = ScanOptions(stride=args.stride)

    unforged = sum(analyze(final_save(crop, args.quality), bank, options).flagged for _, crop in crops)
    print(f"Bank {args.bank.split('=', 1)[1]} (split {split}), {len(crops)} held-out photos, stride {args.stride}, "
          f"{'no final save' if args.quality >= 100 else f'whole forgery saved as JPEG {args.quality}'}; "
          f"unforged crops flagged: {unforged} of {len(crops)}.\n")
    print("| case | map of any detector: AUC / best F1 | best detector map: AUC / best F1 | forgeries flagged |")
    print("|---|---|---|---|")
    for label, make in CASES.items():
        scores: dict[str, list[tuple[float, float]]] = {}
        flagged = 0
        for _, forged in forgeries(crops, make, seed):
            analysis = analyze(final_save(forged.image, args.quality), bank, options)
            flagged += analysis.flagged
            for name, cells in {"any": analysis.combined, **analysis.evidence}.items():
                r = map_scores(cells, forged.mask)
                scores.setdefault(name, []).append((r["auc"], r["best_f1"]))
        means = {name: np.mean(v, axis=0) for name, v in scores.items()}
        best = max((n for n in means if n != "any"), key=lambda n: means[n][0])
        print(f"| {label} | {means['any'][0]:.3f} / {means['any'][1]:.3f} | {best}: {means[best][0]:.3f} / "
              f"{means[best][1]:.3f} | {flagged} of {len(crops)} |")


if __name__ == "__main__":
    main()
