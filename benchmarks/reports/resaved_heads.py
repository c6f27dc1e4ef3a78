"""How well do the resaved heads read an operation through a later JPEG save, on held-out makes?

    python -m benchmarks.reports.resaved_heads --bank 0=weights

On the held-out makes of split SEED, resaved bank data (:func:`scanner.training.bank_data.build_resaved_bank`:
each photo processed at one of the two strongest strengths, then saved as JPEG at its own
quality, against the photo saved alone): the AUC of each manipulation's shipped detector (trained
on images not saved afterwards) and of its resaved head, over every photo and per quality, and
the share of saved-only patches over the resaved head's logit 0.
"""

from __future__ import annotations

import argparse

import numpy as np

from benchmarks.common import add_bank_arguments, auc, load_bank
from scanner.families.heads import head_input
from scanner.training.bank_data import RESAVE_QUALITIES, build_resaved_bank, resave_quality
from scanner.training.photos import list_photos


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_bank_arguments(parser)
    args = parser.parse_args()
    split, bank, root = load_bank(parser, args)
    if bank.resaved is None:
        parser.error(f"{args.bank}: the bank has no resaved heads (scanner 0.6.0 and later train them)")
    photos = list_photos(root)
    test = build_resaved_bank(root, bank.submodels, photos).of_makes(list(bank.trained_on.test_makes))
    quality = np.array([resave_quality(photos[i].sha256) for i in test.photo])
    detectors = {k: bank.patch_logits_from_features(v) for k, v in test.features.items()}
    resaved = {k: bank.resaved(head_input(v, bank.n_histograms, bank.feature_transform)) for k, v in test.features.items()}
    print(f"split {split}: {len(set(test.photo))} held-out photos, {len(test)} positions, "
          f"qualities {dict(zip(*(v.tolist() for v in np.unique(quality, return_counts=True))))}\n")
    print("| manipulation | detector AUC | resaved head AUC | " + " | ".join(f"Q{q}: detector / resaved" for q in RESAVE_QUALITIES)
          + " | saved-only over 0 |")
    print("|---|---|---|" + "---|" * len(RESAVE_QUALITIES) + "---|")
    for i, name in enumerate(bank.resaved.names):
        d0, d1 = detectors["pristine"][name], detectors[name][name]
        r0, r1 = resaved["pristine"][:, i], resaved[name][:, i]
        per_quality = [f"{auc(d0[quality == q], d1[quality == q]):.3f} / {auc(r0[quality == q], r1[quality == q]):.3f}"
                       if np.any(quality == q) else "-" for q in RESAVE_QUALITIES]
        print(f"| {name} | {auc(d0, d1):.4f} | {auc(r0, r1):.4f} | " + " | ".join(per_quality) + f" | {np.mean(r0 > 0):.2%} |")


if __name__ == "__main__":
    main()
