"""Linear heads against heads with a hidden layer, on the bank descriptors of make-disjoint
splits (docs/training-log.md, run 23).

    python -m benchmarks.studies.hidden_layer_heads --seeds 0,1,2 [--hidden 64] [--epochs 30]

Per manipulation, on the shipped inputs of its heads (every submodel and the chroma histogram for
median, blur and resizing, the chroma histogram for noise, every submodel and the lattice features
for JPEG): one logistic head per strength (C = 0.01, as shipped), and one network with ``--hidden``
ReLU units and an output per strength. Both are fitted on three of the four make folds of the
split's training makes; the fourth fold shifts each head to its 99.5% pristine quantile and sets the
detector's threshold (the largest shifted head, as shipped) at 99.5% of its pristine windows.
AUC of each head and detector, TNR and TPR at the threshold, on the split's held-out makes. One
JSON line per split, manipulation and kind of head.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings

import numpy as np
import torch

from benchmarks.common import auc
from scanner.families.head_fitting import HeadChoice, fit_logistic
from scanner.families.heads import head_input, histogram_width
from scanner.processing.manipulations import all_tasks, task_key
from scanner.training.bank import BANK_SUBMODELS, make_folds
from scanner.training.bank_data import build_bank
from scanner.training.photos import camera_make, default_pristine_dir, list_photos, split_by_make

INPUTS = {"median": HeadChoice(None, 0.01, chroma=True), "blur": HeadChoice(None, 0.01, chroma=True),
          "resize": HeadChoice(None, 0.01, chroma=True), "noise": HeadChoice((), 0.01, chroma=True),
          "jpeg": HeadChoice(None, 0.01, lattice=True)}


def fit_hidden(pristine: np.ndarray, processed: list[np.ndarray], hidden: int, epochs: int, seed: int):
    """A network (standardised input -> hidden ReLU units -> a logit per strength), each output
    trained on the pristine rows against its strength's rows. Returns x (N, F) -> logits (N, K)."""
    torch.manual_seed(seed)
    mean, std = pristine.mean(0), pristine.std(0) + 1e-6

    def z(x: np.ndarray) -> torch.Tensor:
        return torch.tensor((x - mean) / std, dtype=torch.float32)

    k, n = len(processed), len(pristine)
    x = torch.cat([z(pristine)] + [z(p) for p in processed])
    target, weight = torch.zeros(len(x), k), torch.zeros(len(x), k)
    weight[:n] = 1
    for s in range(k):
        target[n * (s + 1) : n * (s + 2), s] = 1
        weight[n * (s + 1) : n * (s + 2), s] = 1
    net = torch.nn.Sequential(torch.nn.Linear(x.shape[1], hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, k))
    optimiser = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-4)
    for _ in range(epochs):
        for batch in torch.randperm(len(x)).split(512):
            losses = torch.nn.functional.binary_cross_entropy_with_logits(net(x[batch]), target[batch], reduction="none")
            loss = (losses * weight[batch]).sum() / weight[batch].sum()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    net.eval()
    return lambda rows: net(z(rows)).detach().numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    torch.set_num_threads(2)
    root = default_pristine_dir()
    photos = list_photos(root)
    data = build_bank(root, BANK_SUBMODELS, photos)
    n_histograms = histogram_width(BANK_SUBMODELS, chroma=True)
    for seed in [int(s) for s in args.seeds.split(",")]:
        split = split_by_make(photos, seed)
        training = split["train"] + split["validation"]
        calibration_makes = make_folds(training, 4, seed)[0]
        fit = data.of_makes({camera_make(p.camera) for p in training} - calibration_makes)
        calibration = data.of_makes(calibration_makes)
        test = data.of_makes({camera_make(p.camera) for p in split["test"]})
        for manipulation, choice in INPUTS.items():
            columns = choice.columns(BANK_SUBMODELS)
            keys = [task_key(m, s) for m, s in all_tasks() if m == manipulation]

            def rows(d, key: str) -> np.ndarray:
                return head_input(d.features[key], n_histograms, "sqrt")[:, columns]

            started = time.time()
            linear = [fit_logistic(np.r_[rows(fit, "pristine"), rows(fit, k)], np.r_[np.zeros(len(fit)), np.ones(len(fit))],
                                   None, choice.C, seed) for k in keys]
            kinds = {"linear": (lambda x: np.stack([x @ w[0] + b[0] for w, b in linear], 1), time.time() - started)}
            started = time.time()
            network = fit_hidden(rows(fit, "pristine"), [rows(fit, k) for k in keys], args.hidden, args.epochs, seed)
            kinds["hidden"] = (network, time.time() - started)
            for kind, (logits, seconds) in kinds.items():
                offset = np.quantile(logits(rows(calibration, "pristine")), 0.995, axis=0)
                threshold = np.quantile((logits(rows(calibration, "pristine")) - offset).max(1), 0.995)
                pristine = logits(rows(test, "pristine"))
                report = {"seed": seed, "manipulation": manipulation, "heads": kind, "seconds": round(seconds, 1)}
                for j, key in enumerate(keys):
                    processed = logits(rows(test, key))
                    detector, detector_pristine = (processed - offset).max(1), (pristine - offset).max(1)
                    report[key] = {"head_auc": round(auc(pristine[:, j], processed[:, j]), 4),
                                   "detector_auc": round(auc(detector_pristine, detector), 4),
                                   "tnr": round(float(np.mean(detector_pristine <= threshold)), 4),
                                   "tpr": round(float(np.mean(detector > threshold)), 4)}
                print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
