"""Localisation in images never stored as JPEG: the map of any detector read with the
detectors' own levels (as for a JPEG) and against the image alone (as the scanner reads a
PNG or TIFF since 0.6.2).

    python -m benchmarks.reports.lossless_localisation --bank 0=weights --n-images 40

Forgeries (as ``scanner evaluate --localization`` makes them: each crop the target once, the
next crop the donor) in central 496-pixel crops of the lossless film scans (Kodak, McMaster:
never in any split's training) and, for comparison, of the held-out photos of the bank's split
(camera JPEGs). For each case: the pixel AUC, the best-threshold F1 and the F1 at 0 (the
pristine 0.5% level) of the map of any detector both ways, and of the case's own detector map;
first, the share of unforged crops' cells over 0. 496 pixels is the McMaster images' size.
"""

from __future__ import annotations

import argparse

import numpy as np

from benchmarks.common import add_bank_arguments, load_bank, split_seed
from scanner.core.threads import use_threads
from scanner.evaluation.forgeries import SMALL_AREA, forgeries, held_out_crops
from scanner.evaluation.metrics import map_scores
from scanner.features.lattice import central_crop
from scanner.inputs.images import load_rgb
from scanner.processing.forgery import copy_move, splice
from scanner.scoring.analysis import analyze
from scanner.scoring.maps import any_map
from scanner.scoring.options import ScanOptions

SIDE = 496
"""Crop side, pixels (the McMaster images are 500 x 500; a multiple of 16). Crops are central, on
the 16-pixel grid as :func:`scanner.evaluation.forgeries.held_out_crops`'s."""

CASES = {
    "splice blur 1.1": ("blur", lambda t, d, s: splice(t, d, "blur", 1.1, s)),
    "splice median 5": ("median", lambda t, d, s: splice(t, d, "median", 5, s)),
    "splice noise 2": ("noise", lambda t, d, s: splice(t, d, "noise", 2.0, s)),
    "splice resize 1.5": ("resize", lambda t, d, s: splice(t, d, "resize", 1.5, s)),
    "splice jpeg 80": ("jpeg", lambda t, d, s: splice(t, d, "jpeg", 80, s)),
    "copy-move resize 1.125": ("resize", lambda t, d, s: copy_move(t, 1.125, s)),
    "small splice blur 0.75": ("blur", lambda t, d, s: splice(t, d, "blur", 0.75, s, SMALL_AREA)),
    "splice, unprocessed": (None, lambda t, d, s: splice(t, d, None, 0, s)),
}

READINGS = {"any, as JPEG": True, "any, as stored": False}
"""The map of any detector with the detectors' own levels (True) or against the image alone."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_bank_arguments(parser, forgeries=True)
    args = parser.parse_args()
    use_threads(1)
    split, bank, root = load_bank(parser, args)
    seed = split_seed(split)
    options = ScanOptions(stride=args.stride)
    sets = {"lossless film scans": [(p.stem, central_crop(load_rgb(p), SIDE, grid=16)) for folder in ("kodak", "mcmaster")
                                    for p in sorted((root / folder).iterdir()) if p.suffix.lower() in (".png", ".tif", ".tiff")],
            f"held-out camera JPEGs (split {split})": [(n, central_crop(c, SIDE, grid=16)) for n, c in held_out_crops(root, split, args.n_images)]}
    print(f"Bank {args.bank.split('=', 1)[1]} (split {split}), {SIDE}-pixel crops, stride {args.stride}.")
    for label, crops in sets.items():
        over = {reading: [] for reading in READINGS}
        for _, crop in crops:
            analysis = analyze(crop, bank, options)
            for reading, absolute in READINGS.items():
                over[reading].append(np.mean(any_map(analysis.evidence, analysis.any_calibration, analysis.resaved, absolute) > 0))
        print(f"\n{label}: {len(crops)} crops; unforged cells over 0: "
              + ", ".join(f"{reading} {np.mean(v):.3f}" for reading, v in over.items()) + "\n")
        print("| case | " + " | ".join(f"{m}: AUC / best F1 / F1 at 0" for m in [*READINGS, "own detector"]) + " |")
        print("|---|---|---|---|")
        means: dict[str, list[float]] = {}
        for case, (manip, make) in CASES.items():
            rows: dict[str, list[dict]] = {}
            for _, forged in forgeries(crops, make, seed):
                analysis = analyze(forged.image, bank, options)
                maps = {r: any_map(analysis.evidence, analysis.any_calibration, analysis.resaved, a) for r, a in READINGS.items()}
                if manip is not None:
                    maps["own detector"] = analysis.evidence[manip]
                for name, cells in maps.items():
                    rows.setdefault(name, []).append(map_scores(cells, forged.mask))
            cells = []
            for name in [*READINGS, "own detector"]:
                if name not in rows:
                    cells.append("-")
                    continue
                auc, best, at0 = (float(np.nanmean([r[k] for r in rows[name]])) for k in ("auc", "best_f1", "f1"))
                means.setdefault(name, []).append(auc)
                cells.append(f"{auc:.3f} / {best:.3f} / {at0:.3f}")
            print(f"| {case} | " + " | ".join(cells) + " |", flush=True)
        print("| **mean AUC** | " + " | ".join(f"**{np.mean(means[m]):.3f}**" + (" (7 cases)" if m == "own detector" else "")
                                           for m in [*READINGS, "own detector"]) + " |")


if __name__ == "__main__":
    main()
