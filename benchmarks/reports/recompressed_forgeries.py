"""Localisation when the whole forgery is saved as JPEG afterwards, as real forgeries often are.

    python -m benchmarks.reports.recompressed_forgeries --bank 0=weights --quality 85

The forgeries of ``scanner evaluate --localization`` for a few cases (same crops, donors and
seeds), each compressed as a whole at ``--quality`` after the edit. Pixel AUC and exact
best-threshold F1, averaged over the photos, of four maps: the case's own detector's fused map,
its resaved head's map where the bank has one (``-`` otherwise), the largest of the detectors'
maps (the map of any detector without its relative part), and the shipped
map of any detector (:func:`scanner.scoring.maps.any_map`); and the share of the unforged crops' cells
(compressed the same way) over 0 in the last two.
"""

from __future__ import annotations

import argparse

import numpy as np

from benchmarks.common import add_bank_arguments, final_save, load_bank, split_seed
from scanner.core.threads import use_threads
from scanner.evaluation.forgeries import all_cases, forgeries, held_out_crops
from scanner.evaluation.metrics import map_scores
from scanner.families.bank import resaved_name
from scanner.scoring.analysis import analyze
from scanner.scoring.maps import any_map
from scanner.scoring.options import ScanOptions

CASES = ("small splice blur 0.75", "small splice median 5", "small copy-move resize 1.125", "small splice jpeg 80",
         "splice blur 0.75", "splice resize 1.125")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_bank_arguments(parser, forgeries=True)
    parser.add_argument("--quality", type=int, default=85, help="JPEG quality of the final save (100: no final save)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    use_threads(args.threads)
    split, bank, root = load_bank(parser, args)
    seed = split_seed(split)
    crops = held_out_crops(root, split, args.n_images)

    options = ScanOptions(stride=args.stride)

    over = {"largest": [], "shipped": []}
    for _, crop in crops:
        analysis = analyze(final_save(crop, args.quality), bank, options)
        over["largest"].append(float(np.mean(any_map(analysis.evidence) > 0)))
        over["shipped"].append(float(np.mean(analysis.combined > 0)))
    print(f"Bank {args.bank.split('=', 1)[1]} (split {split}), {len(crops)} held-out photos, whole forgery saved as JPEG {args.quality}, "
          f"stride {args.stride}. Unforged crops' cells over 0: largest map {np.mean(over['largest']):.2%}, "
          f"shipped map of any detector {np.mean(over['shipped']):.2%}.\n")
    print("| case | own detector AUC / best F1 | own resaved map | largest map | shipped map of any detector |")
    print("|---|---|---|---|---|")
    cases = {c.label: c for c in all_cases()}
    for label in CASES:
        case = cases[label]
        rows: dict[str, list] = {"own": [], "resaved": [], "largest": [], "shipped": []}
        for _, forged in forgeries(crops, case.make, seed):
            analysis = analyze(final_save(forged.image, args.quality), bank, options)
            maps = {"own": analysis.evidence[case.manip], "resaved": analysis.resaved.get(resaved_name(case.manip)),
                    "largest": any_map(analysis.evidence), "shipped": analysis.combined}
            for name, cells in maps.items():
                if cells is not None:
                    r = map_scores(cells, forged.mask)
                    rows[name].append((r["auc"], r["best_f1"]))
        cells = [" / ".join(f"{v:.3f}" for v in np.mean(rows[name], axis=0)) if rows[name] else "-"
                 for name in ("own", "resaved", "largest", "shipped")]
        print(f"| {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
