"""Fine-tuning the bank as one recast network (issue 30, part 3).

Data: for every photo, patches at the bank's positions (:func:`scanner.training.bank_data.bank_region`,
fewer of them, in a smaller crop), pristine and under each of the 15 tasks, each as its green
channel (what the network's branches read) and its side descriptor (chroma histogram and lattice
features, which do not train). Loss: every task head on the pristine patches (label 0) and on its
own task's processed patches (label 1), the two halves weighted alike. The network is the
:class:`~scanner.families.bank_network.BankNetwork` of a bank, in straight-through mode; the state
of lowest validation loss (validation makes) is kept.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..core.progress import progress as show_progress
from ..families.bank import side_descriptors, split_planes
from ..families.bank_network import BankNetwork
from ..families.networks import to_input
from ..processing import manipulations
from ..processing.manipulations import all_tasks
from .bank_data import bank_region
from .patches import PATCH_PROTOCOL
from .photos import Photo, camera_make
from .sampling import cached_photos, cut_patches, default_cache_dir

FINETUNE_POSITIONS = 16
"""Patch positions per photo: 16 x 16 versions of 128 x 128 green patches are 4 MB per photo."""

FINETUNE_REGION = 768
"""Crop of each photo (pixels) in which the positions lie: a quarter of the bank's, so that the 15
operations cost a quarter as much."""

FINETUNE_DATA = "finetune-1"
"""Version of what :func:`build_finetune_set` stores per photo; part of its cache key."""

PRISTINE = -1
"""Task index of a pristine patch."""


def _photo_versions(args: tuple) -> dict:
    """Worker: green patches and side descriptors of one photo's patches, pristine and under
    each task (the bank data's operations, seeds and resize positions)."""
    photo, n, region, seed = args
    crop, positions = bank_region(photo, seed, n, region)
    versions = [("pristine", crop, positions)]
    for k, (name, strength) in enumerate(all_tasks()):
        processed = manipulations.apply(crop, name, strength, seed + 1000 * (k + 1))
        versions.append((f"task{k}", processed, np.round(strength * positions).astype(np.int64) if name == "resize" else positions))
    out = {"positions": positions}
    for key, image, where in versions:
        patches = cut_patches(image, where)
        out[f"{key}-green"] = split_planes(patches, stacked=True)[0]
        out[f"{key}-side"] = side_descriptors(patches, chroma=True, lattice=True).astype(np.float32)
    return out


@dataclass
class FineTuneSet:
    """Patches of photos, each position pristine and under every task: green uint8
    (V, N, 128, 128) and side float32 (V, N, S) with version 0 pristine and version k + 1 task k of
    :func:`scanner.processing.manipulations.all_tasks`; ``make`` and ``photo`` (an index into the
    photos the set was built from) (N,) of each position."""

    green: np.ndarray
    side: np.ndarray
    make: np.ndarray
    photo: np.ndarray

    def of_makes(self, makes) -> "FineTuneSet":
        keep = np.isin(self.make, list(makes))
        return FineTuneSet(self.green[:, keep], self.side[:, keep], self.make[keep], self.photo[keep])


def build_finetune_set(photos: list[Photo], seed: int = 0, positions: int = FINETUNE_POSITIONS, region: int = FINETUNE_REGION,
                       cache_dir: str | Path | None = None, workers: int | None = None, progress: bool = False) -> FineTuneSet:
    """The :class:`FineTuneSet` of ``photos``, cached per photo."""
    cache = (Path(cache_dir) if cache_dir else default_cache_dir()) / "finetune"
    files = cached_photos(photos, cache, lambda p: [PATCH_PROTOCOL, FINETUNE_DATA, p.sha256, positions, region, seed],
                          _photo_versions, lambda p: (p, positions, region, seed),
                          progress, workers, "fine-tuning patches")
    keys = ["pristine"] + [f"task{k}" for k in range(len(all_tasks()))]
    green, side, makes, index = [], [], [], []
    for i, (photo, path) in enumerate(zip(photos, files)):
        with np.load(path) as z:
            green.append(np.stack([z[f"{k}-green"] for k in keys]))
            side.append(np.stack([z[f"{k}-side"] for k in keys]))
            makes.append(np.full(len(z["positions"]), camera_make(photo.camera), dtype=object))
            index.append(np.full(len(z["positions"]), i))
    return FineTuneSet(np.concatenate(green, axis=1), np.concatenate(side, axis=1), np.concatenate(makes), np.concatenate(index))


def epoch_batches(data: FineTuneSet, epoch: int, batch: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """One epoch: every pristine patch and, at each position, one processed version (the task
    cycling with the position and the epoch), shuffled into batches of (versions, positions)."""
    n, tasks = data.green.shape[1], data.green.shape[0] - 1
    versions = np.concatenate([np.zeros(n, np.int64), 1 + (np.arange(n) + epoch) % tasks])
    where = np.concatenate([np.arange(n), np.arange(n)])
    order = np.random.default_rng(seed + epoch).permutation(2 * n)
    return [(versions[order[i : i + batch]], where[order[i : i + batch]]) for i in range(0, 2 * n, batch)]


def multitask_loss(logits: torch.Tensor, versions: torch.Tensor) -> torch.Tensor:
    """Mean over pristine patches of every head's cross-entropy against 0, plus the mean over
    processed patches of their own task head's against 1. logits (B, T), versions (B,) (0: pristine)."""
    pristine = versions == 0
    loss = logits.new_zeros(())
    if pristine.any():
        loss = loss + nn.functional.softplus(logits[pristine]).mean()
    if (~pristine).any():
        own = logits[~pristine].gather(1, (versions[~pristine] - 1)[:, None])
        loss = loss + nn.functional.softplus(-own).mean()
    return loss


@torch.no_grad()
def task_scores(net: BankNetwork, data: FineTuneSet, batch: int = 64) -> np.ndarray:
    """Task logits of every version of every position: (V, N, T) float64."""
    net.eval()
    out = np.empty(data.green.shape[:2] + (len(net.task_names),))
    for v in range(data.green.shape[0]):
        for i in range(0, data.green.shape[1], batch):
            out[v, i : i + batch] = net(to_input(data.green[v, i : i + batch]), torch.as_tensor(data.side[v, i : i + batch])).numpy()
    return out


def validation_loss(net: BankNetwork, data: FineTuneSet) -> float:
    """:func:`multitask_loss` over every version of every position of ``data`` (each task's
    processed patches against the pristine ones)."""
    scores = torch.as_tensor(task_scores(net, data))
    versions = torch.arange(scores.shape[0])[:, None].expand(scores.shape[:2])
    return float(multitask_loss(scores.reshape(-1, scores.shape[-1]), versions.reshape(-1)))


@dataclass
class FineTuneRun:
    """What a fine-tuning run did: training loss per epoch, validation loss before training and
    after each epoch, the epoch kept (0: the starting bank), seconds."""

    losses: list[float] = field(default_factory=list)
    validation: list[float] = field(default_factory=list)
    kept_epoch: int = 0
    seconds: float = 0.0


def fine_tune_bank(net: BankNetwork, train: FineTuneSet, validation: FineTuneSet, epochs: int, lr: dict[str, float],
                   batch: int = 36, seed: int = 0, progress: bool = False) -> FineTuneRun:
    """Adam on the multi-task loss, a learning rate per part (``lr`` keys ``filters``, ``steps``
    (for the logarithm of each step: a relative change), ``heads``), no weight decay; the state of
    lowest validation loss is restored at the end. The residual filters are made high-pass again
    after every step (:meth:`scanner.families.recast.CooccurrenceBranch.project_high_pass`)."""
    groups = {"filters": [p for b in net.branches for p in b.residual.parameters()],
              "steps": [b.log_step for b in net.branches], "heads": list(net.heads.parameters())}
    opt = torch.optim.Adam([{"params": groups[k], "lr": lr[k]} for k in groups if lr.get(k)])
    run = FineTuneRun(validation=[validation_loss(net, validation)])
    best = {k: v.clone() for k, v in net.state_dict().items()}
    start = time.perf_counter()
    for epoch in range(epochs):
        net.train()
        total, batches = 0.0, epoch_batches(train, epoch, batch, seed)
        for versions, where in show_progress(batches, len(batches), f"epoch {epoch + 1}/{epochs}", "batches", progress):
            logits = net(to_input(train.green[versions, where]), torch.as_tensor(train.side[versions, where]))
            loss = multitask_loss(logits, torch.as_tensor(versions))
            opt.zero_grad()
            loss.backward()
            opt.step()
            for branch in net.branches:
                branch.project_high_pass()
            total += loss.item()
        run.losses.append(total / len(batches))
        run.validation.append(validation_loss(net, validation))
        if run.validation[-1] < min(run.validation[:-1]):
            run.kept_epoch, best = epoch + 1, {k: v.clone() for k, v in net.state_dict().items()}
    net.load_state_dict(best)
    run.seconds = time.perf_counter() - start
    return run
