"""The bank fine-tuned as one recast network against the bank it starts from (issue 30, part 3).

    python -m benchmarks.studies.bank_finetune --bank 0=FOLDER [--images DIR] [--epochs 8]
        [--lr-filters 1e-5] [--lr-steps 1e-4] [--lr-heads 1e-5] [--positions 16] [--threads 2] [--save NPZ]

FOLDER holds a bank trained on split 0 (0.7.1's: ``git show 8549fe9:weights/bank.json`` and
``bank.safetensors``). The network (:class:`scanner.families.bank_network.BankNetwork`) starts from
it exactly, trains its filters, quantisation steps and task heads with the straight-through
gradient on the split's training makes (the chroma and lattice parts stay fixed), keeps the epoch
of lowest loss on its validation makes, and both are scored on its test makes: AUC per task of
the task head, pristine patches against the task's processed ones, with photo-level bootstrap
95% intervals of the difference. Prints a Markdown report.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from benchmarks.common import add_bank_arguments, auc, load_bank
from scanner.evaluation.held_out import photo_interval
from scanner.families.bank_network import BankNetwork
from scanner.processing.manipulations import all_tasks
from scanner.training.bank_finetune import build_finetune_set, fine_tune_bank, task_scores
from scanner.training.photos import camera_make, list_photos, make_split

HARD = ("blur:0.5", "noise:0.25", "resize:1.125", "resize:1.01", "jpeg:90")


def task_aucs(scores: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
    """AUC (T,) of each task head: pristine rows against its task's processed rows. scores (V, N, T)."""
    rows = np.arange(scores.shape[1]) if rows is None else rows
    return np.array([auc(scores[0, rows, t], scores[t + 1, rows, t]) for t in range(scores.shape[2])])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_bank_arguments(parser)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--lr-filters", type=float, default=1e-5)
    parser.add_argument("--lr-steps", type=float, default=1e-4, help="for the logarithm of each step")
    parser.add_argument("--lr-heads", type=float, default=1e-5)
    parser.add_argument("--positions", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--cache", default=None)
    parser.add_argument("--save", default=None, help="also write the test scores before and after (npz) here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    split, bank, root = load_bank(parser, args)
    sides = make_split([p for p in list_photos(root)], split)
    makes = {side: sorted({camera_make(p.camera) for p in sides[side]}) for side in ("train", "validation", "test")}
    photos = sides["train"] + sides["validation"] + sides["test"]
    start = time.perf_counter()
    data = build_finetune_set(photos, positions=args.positions, cache_dir=args.cache, workers=args.threads)
    built = time.perf_counter() - start
    train, validation, test = (data.of_makes(makes[s]) for s in ("train", "validation", "test"))
    net = BankNetwork.from_bank(bank)
    before = task_scores(net, test)
    lr = {"filters": args.lr_filters, "steps": args.lr_steps, "heads": args.lr_heads}
    run = fine_tune_bank(net, train, validation, args.epochs, lr, seed=0)
    after = task_scores(net, test)
    if args.save:
        np.savez(args.save, before=before, after=after, photo=test.photo, losses=run.losses, validation=run.validation)
    names = [f"{m}:{s:g}" for m, s in all_tasks()]
    a0, a1 = task_aucs(before), task_aucs(after)
    print(f"## The bank fine-tuned as one network, split {split}\n")
    print(f"`python -m benchmarks.studies.bank_finetune --bank {args.bank} --epochs {args.epochs} --lr-filters {args.lr_filters:g} "
          f"--lr-steps {args.lr_steps:g} --lr-heads {args.lr_heads:g} --positions {args.positions} --threads {args.threads}`\n")
    print(f"Training makes {', '.join(makes['train'])} ({train.green.shape[1]} positions of {len(set(train.photo))} photos); "
          f"validation makes {', '.join(makes['validation'])} ({validation.green.shape[1]} positions, {len(set(validation.photo))} photos); "
          f"test makes {', '.join(makes['test'])} ({test.green.shape[1]} positions, {len(set(test.photo))} photos). "
          f"Patches built in {built / 60:.1f} min; fine-tuning {run.seconds / 60:.1f} min.\n")
    print(f"Training loss per epoch: {', '.join(f'{v:.4f}' for v in run.losses)}; validation loss (start, then per epoch): "
          f"{', '.join(f'{v:.4f}' for v in run.validation)}; kept epoch {run.kept_epoch}.\n")
    steps = {f"{net.submodels[i // 2].name}-{b.direction}": float(b.step.detach()) * 256 for i, b in enumerate(net.branches)}
    print("Quantisation steps after fine-tuning (pixels): " + ", ".join(f"{k} {v:.3f}" for k, v in steps.items()) + "\n")
    print("| task | AUC start | AUC fine-tuned | difference (95% interval over test photos) |")
    print("|---|---|---|---|")
    for t, name in enumerate(names):
        low, high = photo_interval(lambda rows: task_aucs(after, rows)[t] - task_aucs(before, rows)[t], test.photo, resamples=400)
        mark = " (hard)" if name in HARD else ""
        print(f"| {name}{mark} | {a0[t]:.4f} | {a1[t]:.4f} | {a1[t] - a0[t]:+.4f} ({low:+.4f}, {high:+.4f}) |")
    hard = [names.index(h) for h in HARD]
    print(f"\nMean AUC {a0.mean():.4f} -> {a1.mean():.4f}; hard tasks improved by 0.01 or more: "
          f"{sum(a1[t] - a0[t] >= 0.01 for t in hard)} of 5; tasks where the fine-tuned AUC is lower: "
          f"{sum(a1 < a0)} of {len(names)}.")


if __name__ == "__main__":
    main()
