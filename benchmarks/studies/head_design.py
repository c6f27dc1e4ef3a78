"""Head-design experiments for the SRM bank on make-disjoint splits (docs/training-log.md).

    python -m benchmarks.studies.head_design VARIANTS SEEDS [--side test|validation]

VARIANTS is a JSON list of [label, submodels ("all", "none" or a list of names), transform, mode, C]
or [..., C, extras]: mode ``task`` fits one logistic head per task (and reports, as ``max TASK``,
the largest of a manipulation's task heads, each shifted to its 99.5% training-pristine quantile),
``manip`` one head per manipulation on its three strengths mixed; ``extras`` lists the features
added to the histograms: "chroma" (:mod:`scanner.features.chroma`, transformed like the histograms) and
"lattice" (:mod:`scanner.features.lattice`, as they are). Heads are fitted on the training makes
of each split; per task, AUC is measured on the ``--side`` makes, and TNR and TPR at the head's
99.5% training-pristine quantile on those makes and on the lossless film scans (``film``).
``--tasks`` limits the tasks. One JSON line per variant and seed.
Example: python -m benchmarks.studies.head_design '[["o3t2", ["o3t2"], "identity", "task", 0.1]]' 0,1
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import numpy as np

from benchmarks.common import auc
from scanner.families.head_fitting import HeadChoice, fit_logistic
from scanner.families.heads import head_input, histogram_width
from scanner.processing.manipulations import all_tasks, task_key
from scanner.training.bank import BANK_SUBMODELS
from scanner.training.bank_data import build_bank
from scanner.training.calibration import WINDOW_FPR
from scanner.training.photos import camera_make, default_pristine_dir, list_photos, split_by_make


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("variants")
    parser.add_argument("seeds")
    parser.add_argument("--side", default="validation", choices=["test", "validation"])
    parser.add_argument("--tasks", help="comma-separated task keys (default all 15)")
    args = parser.parse_args()
    tasks = [(m, s) for m, s in all_tasks() if not args.tasks or task_key(m, s) in args.tasks.split(",")]
    warnings.filterwarnings("ignore")
    root = default_pristine_dir()
    photos = list_photos(root)
    data = build_bank(root, BANK_SUBMODELS, photos)
    manips = ["median", "blur", "noise", "resize", "jpeg"]
    for seed in [int(s) for s in args.seeds.split(",")]:
        split = split_by_make(photos, seed)
        makes = {k: {camera_make(p.camera) for p in v} for k, v in split.items()}
        fit_makes = makes["train"] | (makes["validation"] if args.side == "test" else set())
        train, held, film = data.of_makes(fit_makes), data.of_makes(makes[args.side]), data.of_makes(makes["lossless"])
        n_histograms = histogram_width(BANK_SUBMODELS, chroma=True)
        for label, names, tf, mode, C, *extras in json.loads(args.variants):
            extras = extras[0] if extras else []
            choice = HeadChoice(None if names == "all" else () if names == "none" else tuple(names), C,
                                lattice="lattice" in extras, chroma="chroma" in extras)
            columns = choice.columns(BANK_SUBMODELS)
            f = lambda d, k: head_input(d.features[k], n_histograms, tf)[:, columns]
            started, aucs, rates = time.time(), {}, {}
            p, pt, pf = f(train, "pristine"), f(held, "pristine"), f(film, "pristine")
            if mode == "task":
                heads = {}
                for m, s in tasks:
                    k = task_key(m, s)
                    w, b = fit_logistic(np.concatenate([p, f(train, k)]), np.r_[np.zeros(len(p)), np.ones(len(p))], None, C)
                    heads[k] = (w[0], b[0])
                    aucs[k] = auc(pt @ w[0] + b[0], f(held, k) @ w[0] + b[0])
                    t = np.quantile(p @ w[0] + b[0], 1 - WINDOW_FPR)
                    rates[k] = {"tnr": float(np.mean(pt @ w[0] + b[0] <= t)), "tpr": float(np.mean(f(held, k) @ w[0] + b[0] > t)),
                                "film_tnr": float(np.mean(pf @ w[0] + b[0] <= t)), "film_tpr": float(np.mean(f(film, k) @ w[0] + b[0] > t))}
                for m in manips:
                    ks = [task_key(mm, s) for mm, s in tasks if mm == m]
                    if not ks:
                        continue
                    off = {k: np.quantile(p @ heads[k][0] + heads[k][1], 1 - WINDOW_FPR) for k in ks}
                    score = lambda x: np.max([x @ heads[k][0] + heads[k][1] - off[k] for k in ks], axis=0)
                    for k in ks:
                        aucs["max " + k] = auc(score(pt), score(f(held, k)))
            else:
                for m in manips:
                    ks = [task_key(mm, s) for mm, s in tasks if mm == m]
                    if not ks:
                        continue
                    x = np.concatenate([p] + [f(train, k) for k in ks])
                    y = np.r_[np.zeros(len(p)), np.ones(len(ks) * len(p))]
                    w, b = fit_logistic(x, y, np.r_[np.full(len(p), float(len(ks))), np.ones(len(ks) * len(p))], C)
                    for k in ks:
                        aucs[k] = auc(pt @ w[0] + b[0], f(held, k) @ w[0] + b[0])
            print(json.dumps({"seed": seed, "side": args.side, "label": label, "n_train": len(p), "n_held": len(pt),
                              "seconds": round(time.time() - started), "auc": {k: round(v, 4) for k, v in aucs.items()},
                              "rates": {k: {n: round(v, 4) for n, v in r.items()} for k, r in rates.items()}}), flush=True)


if __name__ == "__main__":
    main()
