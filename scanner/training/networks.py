"""Training of a single network for one task: the recast CNN, initialised from the SRM descriptor
and the SVM and fine-tuned (spec 2.3), or Bayar2016 (spec 3), with checkpoints, resume and
held-out evaluation; :func:`train_detector` writes its model card."""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..core.files import write_output
from ..core.progress import progress as show_progress
from ..core.types import sigmoid
from ..families.bayar import BayarNet
from ..families.netset import save_detector
from ..families.networks import to_input
from ..families.recast import RecastNet
from ..features.srm import srm_features
from .environment import library_versions
from .patches import PatchSet, TaskData
from .photos import camera_make
from .svm import LinearSVM, accuracy_by_strength, fit_svm, run_baseline, threshold_at_fpr


def init_head_from_svm(net: RecastNet, svm: LinearSVM) -> None:
    """FC from the SVM (spec 2.3): class-1 row v/2, bias beta/2; class-0 row -v/2, -beta/2,
    so logit_1 - logit_0 equals the SVM score on the pooled histograms."""
    v, beta = svm.folded()
    with torch.no_grad():
        w = torch.as_tensor(v / 2, dtype=net.head.weight.dtype)
        net.head.weight.copy_(torch.stack([-w, w]))
        net.head.bias.copy_(torch.tensor([-beta / 2, beta / 2], dtype=net.head.bias.dtype))


@torch.no_grad()
def network_features(net: RecastNet, patches: np.ndarray, device: torch.device | str = "cpu", batch_size: int = 64) -> np.ndarray:
    """Pooled histograms (N, 162) float64 of uint8 patches (N, H, W) through ``net``."""
    net.to(device).eval()
    out = [net.features(to_input(patches[s : s + batch_size], device)).cpu().numpy() for s in range(0, len(patches), batch_size)]
    return np.concatenate(out) if out else np.zeros((0, 162))


@torch.no_grad()
def predict_scores(net: nn.Module, patches: np.ndarray, device: torch.device | str = "cpu", batch_size: int = 64) -> np.ndarray:
    """Logit difference (logit_1 - logit_0) for uint8 patches (N, H, W): > 0 means processed."""
    net.eval()
    out = []
    for start in range(0, len(patches), batch_size):
        logits = net(to_input(patches[start : start + batch_size], device))
        out.append((logits[:, 1] - logits[:, 0]).double().cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0)


RELAXATIONS = ("soft", "straight", "boundary")
"""How the recast CNN trains: the soft-max relaxation, or exact histograms (straight mode) with the
interpolated straight-through gradient or the boundary surrogate."""


@dataclass
class TrainConfig:
    """Optimisation settings. Recast defaults are the paper's (Adam, lr 1e-6, L2 decay 5e-4,
    batch 36, 15 epochs). ``head_init`` (recast only): ``svm`` = FC from the SVM on the exact
    SRM features (spec 2.3); ``svm-soft`` = FC from an SVM refitted on the initial network's
    own soft-max features. The validation makes of a make split (``validation_makes`` of the
    task's manifest), else ``validation_fraction`` of the training cameras, are held out for
    early stopping and the threshold: the state with the lowest validation loss, checked every ``eval_every``
    steps and at the start, is kept. Bayar defaults follow spec 3.2 (SGD momentum 0.9, lr 1e-3 halved
    every 3 epochs, decay 5e-4, batch 64, 60 epochs). ``positions`` (recast only): each training
    histogram averages this many random positions (:attr:`RecastNet.sample_positions`), not all.
    ``relaxation`` (recast only, :data:`RELAXATIONS`): ``soft`` trains the soft-max relaxation (spec 2.2), ``straight``
    the exact hard-max histograms with the straight-through gradient (spec 8), filters and
    quantisation steps, at every position; ``boundary`` the same with the boundary surrogate
    (:mod:`scanner.families.straight_through`). ``max_minutes``: training stops after the first step that ends past this wall-clock budget."""

    arch: str = "recast"
    epochs: int = 15
    lr: float = 1e-6
    weight_decay: float = 5e-4
    batch_size: int = 36
    max_steps_per_epoch: int | None = None
    head_init: str = "svm"
    validation_fraction: float = 0.2
    eval_every: int = 30
    seed: int = 0
    positions: int | None = None
    relaxation: str = "soft"
    max_minutes: float | None = None

    @classmethod
    def for_arch(cls, arch: str, **overrides) -> "TrainConfig":
        base = cls(arch="bayar", epochs=60, lr=1e-3, batch_size=64) if arch == "bayar" else cls(arch="recast")
        for key, value in overrides.items():
            if value is not None:
                setattr(base, key, value)
        return base


@dataclass
class TrainResult:
    """Mean training loss per epoch, validation losses as (step, loss), the step whose state
    was kept (None without validation), epochs completed, optimiser steps taken in this call,
    epochs' worth of steps (fractional when a time budget stopped an epoch) and wall time."""

    losses: list[float] = field(default_factory=list)
    validation: list[tuple[int, float]] = field(default_factory=list)
    best_step: int | None = None
    epochs_done: int = 0
    steps: int = 0
    epochs_trained: float = 0.0
    seconds: float = 0.0


def validation_split(data: TaskData, cfg: TrainConfig) -> tuple[PatchSet, PatchSet | None]:
    """(training, validation) patches of a task's training side: the split's validation makes
    when the task was split by make, else ``cfg.validation_fraction`` of its cameras (none at 0)."""
    makes = data.manifest.get("validation_makes")
    if makes:
        held = np.isin([camera_make(c) for c in data.train.camera], makes)
        return data.train.subset(~held), data.train.subset(held)
    if cfg.validation_fraction > 0:
        return split_by_camera_fraction(data.train, cfg.validation_fraction, cfg.seed)
    return data.train, None


def split_by_camera_fraction(data: PatchSet, fraction: float, seed: int = 0) -> tuple[PatchSet, PatchSet]:
    """Split patches into (rest, held) with whole cameras in ``held`` (about ``fraction`` of the patches)."""
    cameras = sorted(set(data.camera.tolist()))
    order = np.random.default_rng(seed + 1).permutation(len(cameras))
    held: set[str] = set()
    for idx in order:
        if np.isin(data.camera, list(held)).mean() >= fraction:
            break
        held.add(cameras[idx])
    mask = np.isin(data.camera, list(held))
    return data.subset(~mask), data.subset(mask)


@torch.no_grad()
def mean_loss(net: nn.Module, data: PatchSet, device: torch.device | str, batch_size: int = 64) -> float:
    """Mean cross-entropy of ``net`` on ``data``."""
    net.eval()
    total = 0.0
    for start in range(0, len(data), batch_size):
        logits = net(to_input(data.x[start : start + batch_size], device))
        labels = torch.as_tensor(data.y[start : start + batch_size], device=device)
        total += float(nn.functional.cross_entropy(logits, labels, reduction="sum"))
    return total / len(data)


def _optimizer(net: nn.Module, cfg: TrainConfig) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler | None]:
    if cfg.arch == "bayar":
        opt = torch.optim.SGD(net.parameters(), lr=cfg.lr, momentum=0.9, weight_decay=cfg.weight_decay)
        floor = 1e-6 / cfg.lr
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda e: max(0.5 ** (e // 3), floor))
        return opt, sched
    return torch.optim.Adam(parameter_groups(net, cfg.weight_decay), lr=cfg.lr), None


def parameter_groups(net: nn.Module, weight_decay: float) -> list[dict]:
    """The optimiser's parameter groups: every parameter with ``weight_decay`` but the
    quantisation steps' logarithms (``log_step``), which take none: decay would pull each step
    towards one (256 pixels), and with Adam's normalised updates that pull alone moves a step
    whose gradient is small by the learning rate at every step."""
    steps = [p for name, p in net.named_parameters() if name.endswith("log_step")]
    rest = [p for name, p in net.named_parameters() if not name.endswith("log_step")]
    return [{"params": rest, "weight_decay": weight_decay}] + ([{"params": steps, "weight_decay": 0.0}] if steps else [])


def fine_tune(net: nn.Module, data: PatchSet, cfg: TrainConfig, device: torch.device,
              checkpoint: Path | None = None, resume: bool = False, progress: bool = True,
              validation: PatchSet | None = None) -> TrainResult:
    """Train ``net`` on ``data`` with cross-entropy. After every epoch the state (net,
    optimiser, epoch, losses, best state) is written to ``checkpoint`` (atomically); ``resume``
    restarts from it. A KeyboardInterrupt leaves the last complete checkpoint in place and
    re-raises. The Bayar constraint is projected after every optimiser step. With
    ``validation``, the state of lowest validation loss (step 0 included) is restored at the end.
    Denormal floats are flushed to zero while training (the soft-max gradients of far codewords
    fall below 1e-38, and the CPU's slow path for them halved the recast CNN's speed)."""
    supported = torch.set_flush_denormal(True)
    try:
        return _fine_tune(net, data, cfg, device, checkpoint, resume, progress, validation)
    finally:
        if supported:
            torch.set_flush_denormal(False)


@dataclass
class _Run:
    """One fine-tuning run's state: the network, its optimiser and schedule, the result so far,
    and the state of lowest validation loss (``best``, None without validation)."""

    net: nn.Module
    opt: torch.optim.Optimizer
    sched: torch.optim.lr_scheduler.LRScheduler | None
    device: torch.device
    validation: PatchSet | None
    result: TrainResult = field(default_factory=TrainResult)
    best: dict | None = None
    best_loss: float = math.inf

    def check(self, step: int) -> None:
        """Record the validation loss after ``step`` optimiser steps; keep the state if it is the lowest."""
        loss = mean_loss(self.net, self.validation, self.device)
        self.result.validation.append((step, loss))
        if loss < self.best_loss:
            self.best_loss, self.result.best_step = loss, step
            self.best = {k: v.detach().clone() for k, v in self.net.state_dict().items()}

    def restore(self, checkpoint: Path) -> None:
        """Continue from a checkpoint written by :meth:`save`."""
        state = torch.load(checkpoint, map_location=self.device, weights_only=True)
        self.net.load_state_dict(state["net"])
        self.opt.load_state_dict(state["optimizer"])
        if self.sched is not None:
            self.sched.load_state_dict(state["scheduler"])
        self.result.epochs_done = int(state["epoch"])
        self.result.losses = [float(v) for v in state["losses"]]
        self.result.validation = [(int(a), float(b)) for a, b in state["validation"]]
        if state["best"]:
            self.best, self.best_loss, self.result.best_step = state["best"], float(state["best_loss"]), int(state["best_step"])

    def save(self, checkpoint: Path) -> None:
        """Write the state after a completed epoch, atomically (:func:`scanner.core.files.write_output`)."""
        state = {"net": self.net.state_dict(), "optimizer": self.opt.state_dict(), "epoch": self.result.epochs_done,
                 "losses": self.result.losses, "scheduler": self.sched.state_dict() if self.sched is not None else {},
                 "validation": self.result.validation, "best": self.best or {}, "best_loss": self.best_loss,
                 "best_step": self.result.best_step if self.result.best_step is not None else -1}
        write_output(checkpoint, True, lambda partial: torch.save(state, partial))

    def epoch(self, data: PatchSet, labels: torch.Tensor, order: torch.Tensor, steps: int, epoch: int, cfg: TrainConfig,
              progress: bool, deadline: float) -> tuple[float, int]:
        """One epoch of at most ``steps`` batches in ``order``: (summed loss, steps taken, fewer
        than ``steps`` when the clock passed ``deadline``, a time.perf_counter() value)."""
        self.net.train()
        total, taken = 0.0, 0
        for step in show_progress(range(steps), steps, f"epoch {epoch + 1}/{cfg.epochs}", "steps", progress):
            idx = order[step * cfg.batch_size : (step + 1) * cfg.batch_size]
            loss = nn.functional.cross_entropy(self.net(to_input(data.x[idx.numpy()], self.device)), labels[idx].to(self.device))
            self.opt.zero_grad()
            loss.backward()
            self.opt.step()
            self.net.after_step()
            total += loss.item()
            self.result.steps += 1
            taken += 1
            if self.validation is not None and ((epoch * steps + step + 1) % cfg.eval_every == 0 or step == steps - 1):
                self.check(epoch * steps + step + 1)
                self.net.train()
            if time.perf_counter() > deadline:
                break
        return total, taken


def _fine_tune(net: nn.Module, data: PatchSet, cfg: TrainConfig, device: torch.device, checkpoint: Path | None,
               resume: bool, progress: bool, validation: PatchSet | None) -> TrainResult:
    net.to(device)
    if cfg.positions is not None:
        net.sample_positions = cfg.positions
    run = _Run(net, *_optimizer(net, cfg), device, validation)
    result = run.result
    if resume and checkpoint is not None and checkpoint.exists():
        run.restore(checkpoint)
    elif validation is not None:
        run.check(0)
    result.epochs_trained = result.epochs_done
    generator = torch.Generator().manual_seed(cfg.seed)
    for _ in range(result.epochs_done):  # keep the shuffles of a resumed run identical
        torch.randperm(len(data), generator=generator)
    labels = torch.as_tensor(data.y)
    start_time = time.perf_counter()
    deadline = start_time + 60 * cfg.max_minutes if cfg.max_minutes is not None else math.inf
    steps = math.ceil(len(data) / cfg.batch_size)
    if cfg.max_steps_per_epoch:
        steps = min(steps, cfg.max_steps_per_epoch)
    for epoch in range(result.epochs_done, cfg.epochs):
        total, taken = run.epoch(data, labels, torch.randperm(len(data), generator=generator), steps, epoch, cfg, progress, deadline)
        if taken < steps:  # out of time within the epoch
            result.epochs_trained = result.epochs_done + taken / steps
            result.losses.append(total / taken)
            break
        if run.sched is not None:
            run.sched.step()
        result.losses.append(total / steps)
        result.epochs_done = result.epochs_trained = epoch + 1
        if checkpoint is not None:
            run.save(checkpoint)
        if time.perf_counter() > deadline:
            break
    if run.best is not None:
        net.load_state_dict(run.best)
    result.seconds = time.perf_counter() - start_time
    return result


def build_network(arch: str, svm: LinearSVM | None = None, relaxation: str = "soft") -> nn.Module:
    """A fresh network: ``recast`` = SRM-initialised, in soft-max (alpha 2^16) or straight mode
    (``relaxation`` straight or boundary, :data:`RELAXATIONS`), with the FC from the SVM when given; ``bayar`` = Bayar2016 with default initialisation."""
    if arch == "bayar":
        return BayarNet()
    if arch != "recast":
        raise ValueError(f"unknown architecture {arch!r}; use recast or bayar")
    if relaxation not in RELAXATIONS:
        raise ValueError(f"relaxation must be one of {', '.join(RELAXATIONS)}, not {relaxation!r}")
    net = RecastNet.from_srm(mode="soft" if relaxation == "soft" else "straight",
                             surrogate="boundary" if relaxation == "boundary" else "interpolated")
    if svm is not None:
        init_head_from_svm(net, svm)
    return net


def architecture_card(net: nn.Module, cfg: TrainConfig) -> dict:
    """The card's ``architecture`` of a trained single network: its type, and how it was built and initialised."""
    if cfg.arch != "recast":
        return {"type": "bayar", "patch": 128, "input_unit": BayarNet.INPUT_UNIT,
                "initialisation": "constrained off-centre taps uniform in [0, 1), projected; other layers PyTorch default"}
    head = ("the linear SVM on the exact SRM features" if cfg.head_init == "svm"
            else "a linear SVM refitted on the initial network's soft-max features")
    return {"type": "recast", "mode": net.mode, "alpha": net.alpha, "pooling": "mean",
            "branches": {"across": "conv 4x(4x4) -> codewords 81", "along": "conv 4x(1x7) -> codewords 81"},
            "transpose": "tied weights, histograms averaged", "head": "Linear(162, 2)",
            "initialisation": f"conv1 and codewords from the SRM descriptor; FC from {head} (standardisation folded in)"}


def training_card(cfg: TrainConfig, result: TrainResult, validation: PatchSet | None, device: torch.device) -> dict:
    """The card's ``training`` of a single network: the schedule asked for and what the run did."""
    return {"optimizer": "adam" if cfg.arch == "recast" else "sgd", "lr": cfg.lr, "weight_decay": cfg.weight_decay,
            "batch_size": cfg.batch_size, "epochs": cfg.epochs, "max_steps_per_epoch": cfg.max_steps_per_epoch,
            "head_init": cfg.head_init if cfg.arch == "recast" else None,
            "sampled_positions": cfg.positions, "relaxation": cfg.relaxation if cfg.arch == "recast" else None,
            "max_minutes": cfg.max_minutes,
            "epochs_trained": round(result.epochs_trained, 3),
            "epoch_losses": [round(v, 5) for v in result.losses], "seconds": round(result.seconds, 1),
            "validation_cameras": sorted(set(validation.camera.tolist())) if validation is not None else [],
            "validation_losses": [[k, round(v, 5)] for k, v in result.validation], "kept_step": result.best_step,
            "device": str(device)}


def train_detector(data: TaskData, cfg: TrainConfig, device: torch.device, out_dir: Path, name: str,
                   checkpoint_dir: Path | None = None, resume: bool = False, progress: bool = True,
                   fpr: float = 0.01) -> dict:
    """Baseline, initialisation, fine-tuning, held-out evaluation and model card for one task.

    Writes ``name.safetensors``, ``name.json`` and the baseline ``name.svm.npz`` into ``out_dir``;
    returns the card.
    """
    svm, baseline = run_baseline(data, cfg.seed)
    torch.manual_seed(cfg.seed)
    train, validation = validation_split(data, cfg)
    net = build_network(cfg.arch, relaxation=cfg.relaxation)
    if cfg.arch == "recast":
        if cfg.head_init == "svm-soft":
            features = network_features(net, train.x, device)
        elif cfg.head_init == "svm":
            features = srm_features(train.x)
        else:
            raise ValueError(f"head_init must be svm or svm-soft, not {cfg.head_init!r}")
        init_head_from_svm(net, fit_svm(features, train.y, train.camera, cfg.seed))
    checkpoint = None
    if checkpoint_dir is not None:
        checkpoint_dir.mkdir(parents=True, exist_ok=True)
        checkpoint = checkpoint_dir / f"{name}.{data.manifest_sha256[:12]}.ckpt"
    result = fine_tune(net, train, cfg, device, checkpoint, resume, progress, validation)
    net.cpu()
    scores = predict_scores(net, data.test.x)
    held = validation if validation is not None else train
    logit_threshold = threshold_at_fpr(predict_scores(net, held.x[held.y == 0]), fpr)
    out_dir.mkdir(parents=True, exist_ok=True)
    svm.save(out_dir / f"{name}.svm.npz")
    task = data.manifest
    card = {
        "architecture": architecture_card(net, cfg),
        "task": {"manipulation": task["manipulation"], "strengths": task["strengths"]},
        "data": {"manifest_sha256": data.manifest_sha256, "n_train": len(data.train), "n_test": len(data.test),
                 "train_cameras": sorted({p["camera"] for p in task["train"]}),
                 "test_cameras": sorted({p["camera"] for p in task["test"]}),
                 "patches_per_image": task["patches_per_image"], "region": task["region"]},
        "training": training_card(cfg, result, validation, device),
        "seed": cfg.seed,
        "versions": library_versions(),
        "accuracy": {"cnn": accuracy_by_strength(scores, data.test), "svm": baseline["accuracy"],
                     "cnn_at_threshold": accuracy_by_strength(scores, data.test, logit_threshold),
                     "note": "balanced accuracy (%) per strength on held-out cameras; cnn and svm at their own decision boundary (0)"},
        "baseline": {"file": f"{name}.svm.npz", "C": baseline["C"], "threshold": baseline["threshold"]},
        "threshold": {"logit": logit_threshold, "probability": float(sigmoid(logit_threshold)),
                      "false_positive_rate": fpr,
                      "chosen_on": ("pristine patches of the validation makes" if data.manifest.get("validation_makes")
                                    else "pristine patches of the validation cameras" if validation is not None
                                    else "pristine training patches")},
    }
    card_path = save_detector(net, card, out_dir, name)
    return json.loads(card_path.read_text(encoding="utf-8"))
