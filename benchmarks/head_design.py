"""Head-design experiments for the SRM bank on make-disjoint splits (docs/training-log.md).

    python benchmarks/head_design.py VARIANTS SEEDS [--side test|validation]

VARIANTS is a JSON list of [label, submodels ("all" or a list of names), transform, mode, C]:
mode ``task`` fits one logistic head per task (and reports, as ``max TASK``, the largest of a
manipulation's task heads, each shifted to its 99.5% training-pristine quantile), ``manip`` one
head per manipulation on its three strengths mixed. Heads are fitted on the training makes of
each split; AUC is measured per task on the ``--side`` makes. One JSON line per variant and seed.
Example: python benchmarks/head_design.py '[["o3t2", ["o3t2"], "identity", "task", 0.1]]' 0,1
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import numpy as np
from sklearn.metrics import roc_auc_score

from scanner.bank import fit_logistic, transform
from scanner.data import all_tasks, build_bank, camera_make, default_pristine_dir, list_photos, split_by_make, task_key
from scanner.train import BANK_SUBMODELS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("variants")
    parser.add_argument("seeds")
    parser.add_argument("--side", default="validation", choices=["test", "validation"])
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    root = default_pristine_dir()
    photos = list_photos(root)
    data = build_bank(root, BANK_SUBMODELS, photos)
    manips = ["median", "blur", "noise", "resize", "jpeg"]
    for seed in [int(s) for s in args.seeds.split(",")]:
        split = split_by_make(photos, seed)
        makes = {k: {camera_make(p.camera) for p in v} for k, v in split.items()}
        fit_makes = makes["train"] | (makes["validation"] if args.side == "test" else set())
        train, held = data.of_makes(fit_makes), data.of_makes(makes[args.side])
        for label, names, tf, mode, C in json.loads(args.variants):
            columns = np.array([162 * i + j for i, s in enumerate(BANK_SUBMODELS) if names == "all" or s.name in names for j in range(162)])
            f = lambda d, k: transform(d.features[k][:, columns].astype(np.float64), tf)
            started, aucs = time.time(), {}
            p, pt = f(train, "pristine"), f(held, "pristine")
            auc = lambda neg, pos: roc_auc_score(np.r_[np.zeros(len(neg)), np.ones(len(pos))], np.r_[neg, pos])
            if mode == "task":
                heads = {}
                for m, s in all_tasks():
                    k = task_key(m, s)
                    w, b = fit_logistic(np.concatenate([p, f(train, k)]), np.r_[np.zeros(len(p)), np.ones(len(p))], None, C)
                    heads[k] = (w[0], b[0])
                    aucs[k] = auc(pt @ w[0] + b[0], f(held, k) @ w[0] + b[0])
                for m in manips:
                    ks = [task_key(mm, s) for mm, s in all_tasks() if mm == m]
                    off = {k: np.quantile(p @ heads[k][0] + heads[k][1], 0.995) for k in ks}
                    score = lambda x: np.max([x @ heads[k][0] + heads[k][1] - off[k] for k in ks], axis=0)
                    for k in ks:
                        aucs["max " + k] = auc(score(pt), score(f(held, k)))
            else:
                for m in manips:
                    ks = [task_key(mm, s) for mm, s in all_tasks() if mm == m]
                    x = np.concatenate([p] + [f(train, k) for k in ks])
                    y = np.r_[np.zeros(len(p)), np.ones(len(ks) * len(p))]
                    w, b = fit_logistic(x, y, np.r_[np.full(len(p), float(len(ks))), np.ones(len(ks) * len(p))], C)
                    for k in ks:
                        aucs[k] = auc(pt @ w[0] + b[0], f(held, k) @ w[0] + b[0])
            print(json.dumps({"seed": seed, "side": args.side, "label": label, "n_train": len(p), "n_held": len(pt),
                              "seconds": round(time.time() - started), "auc": {k: round(v, 4) for k, v in aucs.items()}}), flush=True)


if __name__ == "__main__":
    main()
