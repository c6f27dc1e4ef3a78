"""Which training photos set the JPEG detector's window threshold?

    python -m benchmarks.studies.jpeg_threshold [--seed 0] [--images ../shared/data/pristine]

Repeats the out-of-fold step of ``scanner train`` (scanner.training.bank.train_bank) for the three JPEG
heads of split ``--seed``: heads cross-fitted over the same make folds
(scanner.training.bank.cross_fitted_heads), each shifted to logit 0
at WINDOW_FPR of its out-of-fold pristine windows, the detector taking the largest. Prints the
detector's window threshold, the photos whose out-of-fold pristine windows pass it (with the
JPEG quality that MANIFEST.tsv gives), and each strength's out-of-fold TPR at that threshold.
Reads the cached bank descriptors (built by ``scanner train`` or
``benchmarks/reports/detectors_report.py``); about a minute.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

from scanner.families.head_fitting import HEAD_CHOICES
from scanner.families.heads import head_input, histogram_width
from scanner.training.bank import BANK_SUBMODELS, cross_fitted_heads, make_folds
from scanner.training.bank_data import build_bank
from scanner.training.calibration import WINDOW_FPR
from scanner.training.photos import camera_make, default_pristine_dir, list_photos, split_by_make

TASKS = ("jpeg:70", "jpeg:80", "jpeg:90")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--images", type=Path, default=None)
    parser.add_argument("--folds", type=int, default=4)
    args = parser.parse_args()
    root = args.images or default_pristine_dir()
    photos = list_photos(root)
    split = split_by_make(photos, args.seed)
    training = split["train"] + split["validation"]
    train = build_bank(root, BANK_SUBMODELS, photos).of_makes({camera_make(p.camera) for p in training})
    width = histogram_width(BANK_SUBMODELS, chroma=True)
    features = {k: head_input(train.features[k], width, "sqrt") for k in ("pristine",) + TASKS}
    (choice,) = [c for c in HEAD_CHOICES if c.applies("jpeg:70") and c.lattice]
    heads, fold = cross_fitted_heads(features, {k: [choice] for k in TASKS}, train.make,
                                     make_folds(training, args.folds, args.seed), args.seed)
    # out-of-fold logits of each head (first key) on the pristine and on each task's patches
    logits = {(h, k): np.zeros(len(train)) for h in TASKS for k in ("pristine",) + TASKS}
    for (i, _, h), (w, b) in heads.items():
        held = fold == i
        for k in ("pristine",) + TASKS:
            logits[h, k][held] = features[k][held] @ w + b
    offset = {h: np.quantile(logits[h, "pristine"], 1 - WINDOW_FPR) for h in TASKS}

    def detector(k: str) -> np.ndarray:
        return np.max([logits[h, k] - offset[h] for h in TASKS], axis=0)

    threshold = np.quantile(detector("pristine"), 1 - WINDOW_FPR)
    quality = {Path(r["path"]).name: r["jpeg_quality"] for r in csv.DictReader(open(root / "MANIFEST.tsv"), delimiter="\t")}
    print(f"split {args.seed}: window threshold {threshold:.3f}; {int(np.sum(detector('pristine') > threshold))} of {len(train)} "
          f"out-of-fold pristine windows over it\n")
    print("| photo | make | JPEG quality | windows over the threshold |")
    print("|---|---|---|---|")
    for index in np.unique(train.photo):
        over = int(np.sum(detector("pristine")[train.photo == index] > threshold))
        if over:
            photo = photos[index]
            print(f"| {photo.path.name} | {camera_make(photo.camera)} | {quality.get(photo.path.name, '?')} | {over} |")
    print("\nout-of-fold TPR of the detector at its window threshold: "
          + ", ".join(f"{k} {np.mean(detector(k) > threshold):.1%}" for k in TASKS))

if __name__ == "__main__":
    main()
