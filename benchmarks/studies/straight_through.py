"""Does a straight-mode surrogate gradient descend the exact loss? (docs/training-log.md, session 21)

    OMP_NUM_THREADS=2 python -m benchmarks.studies.straight_through --task blur:0.5 \
        --surrogate interpolated boundary --lr 1e-5 1e-4 --steps 600 [--line-search]

Table II's data at the paper's small scale (split 0, the cached patches of ``scanner evaluate
--table2 --scale small``), the recast CNN in straight mode initialised from SRM+SVM as Table II
does, Adam (the paper's weight decay, batch 36, one fixed batch order). Every ``--every`` steps:
the cross-entropy on a fixed sample of 1200 training patches, the loss the network computes
(exact hard-max histograms; soft ones for the separable soft-max); at the end the balanced accuracy on the test makes. A surrogate whose steps
raise that loss is not a descent direction. ``--line-search`` first steps the filter taps against
each surrogate's full-batch gradient on the sample (lengths in the taps' norm) and prints the change
of the loss on the sample and on another 1200 training patches. Exploration on split 0's training side and test makes
(which Table II reports), not a design decision for a shipped detector.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from scanner.evaluation.table2 import Table2Scale
from scanner.families.networks import to_input
from scanner.families.recast import RecastNet
from scanner.families.straight_through import SURROGATES
from scanner.training.networks import TrainConfig, build_network, mean_loss, parameter_groups, predict_scores
from scanner.training.patches import build_task
from scanner.training.photos import default_pristine_dir
from scanner.training.svm import accuracy_by_strength, run_baseline


def surrogate_network(svm, surrogate: str) -> RecastNet:
    """The recast CNN in straight mode from the SVM, its branches training through ``surrogate``."""
    net = build_network("recast", svm, "straight")
    for _, branch in net.branches():
        branch.surrogate = surrogate
    return net


def line_search(net: RecastNet, sample, other, lengths=(1e-4, 3e-4, 1e-3, 3e-3, 1e-2)) -> list[tuple[float, float, float]]:
    """(eta, loss change on ``sample``, on ``other``) after moving the residual taps by eta (in
    their norm) against the surrogate gradient of the mean loss on ``sample``."""
    net.eval()
    for start in range(0, len(sample), 100):
        logits = net(to_input(sample.x[start : start + 100]))
        (torch.nn.functional.cross_entropy(logits, torch.as_tensor(sample.y[start : start + 100]), reduction="sum") / len(sample)).backward()
    taps = [branch.residual.weight for _, branch in net.branches()]
    start_taps, gradient = [t.detach().clone() for t in taps], [t.grad.clone() for t in taps]
    norm = float(torch.sqrt(sum((g**2).sum() for g in gradient)))
    before = mean_loss(net, sample, "cpu"), mean_loss(net, other, "cpu")
    changes = []
    for eta in lengths:
        with torch.no_grad():
            for t, t0, g in zip(taps, start_taps, gradient):
                t.copy_(t0 - eta * g / norm)
        changes.append((eta, round(mean_loss(net, sample, "cpu") - before[0], 6), round(mean_loss(net, other, "cpu") - before[1], 6)))
    return changes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", default="blur:0.5", help="manipulation:strength")
    parser.add_argument("--surrogate", nargs="+", default=["interpolated", "boundary"], choices=list(SURROGATES))
    parser.add_argument("--lr", type=float, nargs="+", default=[1e-5, 1e-4])
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--every", type=int, default=100)
    parser.add_argument("--line-search", action="store_true")
    args = parser.parse_args()
    manip, strength = args.task.split(":")
    scale = Table2Scale.named("small")
    data = build_task(default_pristine_dir(), manip, (float(strength),), scale.patches_per_image,
                      scale.test_patches_per_image, 0, region=scale.region, split="make")
    svm, report = run_baseline(data, 0)
    print(f"{args.task}: SRM+SVM test {report['accuracy']}", flush=True)
    rng = np.random.default_rng(0)
    sample, other = (data.train.subset(np.isin(np.arange(len(data.train)), rng.choice(len(data.train), 1200, replace=False)))
                     for _ in range(2))
    order = torch.randperm(len(data.train), generator=torch.Generator().manual_seed(0))
    labels = torch.as_tensor(data.train.y)
    for surrogate in args.surrogate if args.line_search else ():
        changes = line_search(surrogate_network(svm, surrogate), sample, other)
        print(f"{surrogate}: exact-loss change (sample, other) after a step of length eta against the gradient: {changes}", flush=True)
    for surrogate in args.surrogate:
        for lr in args.lr:
            torch.manual_seed(0)
            net = surrogate_network(svm, surrogate)
            opt = torch.optim.Adam(parameter_groups(net, TrainConfig().weight_decay), lr=lr)
            losses, start = [], time.perf_counter()
            for step in range(args.steps + 1):
                if step % args.every == 0:
                    losses.append(round(mean_loss(net, sample, "cpu"), 5))
                    net.train()
                if step == args.steps:
                    break
                idx = order[(step * 36) % len(order):][:36]
                loss = torch.nn.functional.cross_entropy(net(to_input(data.train.x[idx.numpy()])), labels[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
                net.after_step()
            accuracy = accuracy_by_strength(predict_scores(net, data.test.x), data.test)
            print(f"{surrogate} lr {lr:g}: exact training-sample loss every {args.every} steps {losses}; "
                  f"test {accuracy}; {time.perf_counter() - start:.0f} s", flush=True)


if __name__ == "__main__":
    main()
