"""Training loss and held-out accuracy along fine-tuning of the blur detector (docs/method.md).

    python -m benchmarks.studies.finetune_curve [--lr 1e-6] [--steps 150] > docs/logs/finetune-curve.log

Initialisation as the shipped detectors (SRM conv1 and codewords, soft-max alpha 2^16, FC from
the SVM on exact features), Adam with weight decay 5e-4, batch 36. Every 30 steps: mean loss on
600 training patches and balanced accuracy on 900 held-out patches (logit 0 and the 1%-FPR threshold).
Exploration only: the shipped detectors choose their step on validation cameras, not on these.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from scanner.families.networks import to_input
from scanner.training.networks import build_network, predict_scores
from scanner.training.patches import build_task
from scanner.training.photos import default_pristine_dir
from scanner.training.svm import accuracy_by_strength, run_baseline, threshold_at_fpr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lr", type=float, nargs="+", default=[1e-6])
    parser.add_argument("--steps", type=int, default=150)
    args = parser.parse_args()
    torch.manual_seed(0)
    task = build_task(default_pristine_dir(), "blur")
    svm, report = run_baseline(task)
    print("svm", report["accuracy"], flush=True)
    rng = np.random.default_rng(0)
    test = task.test.subset(np.isin(np.arange(len(task.test)), rng.choice(len(task.test), 900, replace=False)))
    train_sample = task.train.subset(np.isin(np.arange(len(task.train)), rng.choice(len(task.train), 600, replace=False)))
    labels = torch.as_tensor(task.train.y)
    for lr in args.lr:
        net = build_network("recast", svm)
        opt = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=5e-4)
        order = torch.randperm(len(task.train), generator=torch.Generator().manual_seed(0))
        for step in range(args.steps + 1):
            if step % 30 == 0:
                s, st = predict_scores(net, test.x), predict_scores(net, train_sample.x)
                loss = float(np.mean(np.log1p(np.exp(-np.where(train_sample.y == 1, st, -st)))))
                print(f"lr {lr} step {step} train-loss {loss:.4f} test acc@0 {accuracy_by_strength(s, test)} "
                      f"acc@1%FPR {accuracy_by_strength(s, test, threshold_at_fpr(s[test.y == 0]))}", flush=True)
            net.train()
            idx = order[(step * 36) % len(order) : (step * 36) % len(order) + 36]
            loss = torch.nn.functional.cross_entropy(net(to_input(task.train.x[idx.numpy()])), labels[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()


if __name__ == "__main__":
    main()
