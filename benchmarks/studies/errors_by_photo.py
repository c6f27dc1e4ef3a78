"""Which held-out photos hold a bank's patch errors at its shipped thresholds?

    python -m benchmarks.studies.errors_by_photo --bank 0=weights [--exclude Kodak_PIXPRO_FZ201.jpg ...]

For the strongest strength of each manipulation, on the held-out makes of split SEED (bank
descriptors, as in benchmarks/reports/detectors_report.py): TNR, TPR and balanced accuracy at the
shipped window threshold, the photos holding the false positives and the misses, how many of the
misses are patches of one constant colour (which median filtering, blurring and resizing leave
unchanged, so that no detector can tell them from their pristine twin), the balanced accuracy
without the constant patches, and without the photos named by ``--exclude`` (file names).
"""

from __future__ import annotations

import argparse

import numpy as np

from benchmarks.common import add_bank_arguments, load_bank, split_seed
from scanner.core.constants import PATCH
from scanner.processing import manipulations
from scanner.processing.manipulations import task_key
from scanner.training.bank_data import bank_region, build_bank
from scanner.training.photos import list_photos


def balanced(false_positive: np.ndarray, miss: np.ndarray) -> float:
    return 1 - (false_positive.mean() + miss.mean()) / 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_bank_arguments(parser)
    parser.add_argument("--exclude", nargs="*", default=[], help="photo file names to leave out in the last column")
    args = parser.parse_args()
    split, bank, root = load_bank(parser, args)
    seed = split_seed(split)
    photos = list_photos(root)
    test = build_bank(root, bank.submodels, photos).of_makes(list(bank.trained_on.test_makes))
    names = np.array([photos[i].path.name for i in test.photo])
    keep = ~np.isin(names, args.exclude)
    constant = np.concatenate([[np.ptp(crop[r : r + PATCH, c : c + PATCH]) == 0 for r, c in where]
                               for crop, where in (bank_region(photos[i], seed) for i in dict.fromkeys(test.photo))])
    pristine = bank.patch_logits_from_features(test.features["pristine"])
    print(f"split {split}: {len(set(names))} held-out photos, {len(names)} positions; left out in the last column: "
          f"{', '.join(args.exclude) or 'none'}; {constant.sum()} positions are of one constant colour\n")
    print("| task | TNR | TPR | balanced | photos holding the false positives | photos holding the misses | misses on constant patches "
          "| balanced without constant patches | balanced without the photos |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, spec in manipulations.MANIPULATIONS.items():
        key = task_key(name, spec.strengths[0])
        threshold = bank.card.thresholds[name]
        false_positive = pristine[name] > threshold
        miss = bank.patch_logits_from_features(test.features[key])[name] <= threshold

        def holders(errors: np.ndarray) -> str:
            found, counts = np.unique(names[errors], return_counts=True)
            return ", ".join(f"{f} {c}" for c, f in sorted(zip(counts, found), reverse=True)) or "none"

        print(f"| {key} | {1 - false_positive.mean():.2%} | {1 - miss.mean():.2%} | {balanced(false_positive, miss):.2%} | "
              f"{holders(false_positive)} | {holders(miss)} | {(miss & constant).sum()} | "
              f"{balanced(false_positive[~constant], miss[~constant]):.2%} | {balanced(false_positive[keep], miss[keep]):.2%} |")


if __name__ == "__main__":
    main()
