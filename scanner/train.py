"""Training: the SRM + linear SVM baseline, and fine-tuning of the recast CNN (spec 1.6, 2.3)
or of Bayar2016 (spec 3), with checkpoints, resume and held-out evaluation."""

from __future__ import annotations

import hashlib
import json
import math
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import PIL
import sklearn
import torch
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GridSearchCV, GroupKFold
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC
from torch import nn

from . import __version__
from .core.constants import MIN_AREA, PATCH, WINDOWS
from .core.types import AnyCalibration, ScaleCalibration, sigmoid
from .data import (
    BANK_POSITIONS,
    RESAVE_QUALITIES,
    RESAVED_MANIPULATIONS,
    BankData,
    PatchSet,
    Photo,
    TaskData,
    build_bank,
    build_resaved_bank,
    camera_make,
    list_photos,
    make_split,
    resave_quality,
)
from .families.bank import (
    HEAD_CHOICES,
    OPERATIONS,
    HeadChoice,
    LinearHeads,
    SRMBank,
    detector_of,
    fit_operation_head,
    fit_task_head,
    head_input,
    histogram_width,
    resaved_name,
)
from .families.bank_card import BankCard, CoreRule, TrainingSplit
from .families.netset import save_detector
from .families.networks import BayarNet, RecastNet, to_input
from .inputs.images import load_pixels
from .lattice import central_crop
from .manipulations import all_tasks, jpeg, task_key
from .progress import progress as show_progress
from .scoring.maps import background_departure, localisation_maps, scale_stride
from .scoring.options import ScanOptions
from .scoring.rules import image_score
from .srm import Submodel, srm_features

SVM_C_GRID = tuple(10.0**k for k in range(-3, 4))
"""Regularisation values tried by cross-validation (spec 1.6)."""


@dataclass
class LinearSVM:
    """Standardised linear SVM on the 162-bin descriptor: score = coef . ((f - mean) / scale) + intercept.
    Positive scores mean processed."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    C: float

    def decision(self, features: np.ndarray) -> np.ndarray:
        """Scores (N,) of features (N, 162)."""
        return ((features - self.mean) / self.scale) @ self.coef + self.intercept

    def folded(self) -> tuple[np.ndarray, float]:
        """Weights and bias on the raw features: score = v . f + beta."""
        v = self.coef / self.scale
        return v, float(self.intercept - v @ self.mean)

    def save(self, path: str | Path) -> None:
        """Save as .npz (plain arrays, no pickle)."""
        np.savez(path, mean=self.mean, scale=self.scale, coef=self.coef, intercept=self.intercept, C=self.C)

    @classmethod
    def load(cls, path: str | Path) -> "LinearSVM":
        with np.load(path, allow_pickle=False) as z:
            return cls(z["mean"], z["scale"], z["coef"], float(z["intercept"]), float(z["C"]))


def fit_svm(features: np.ndarray, labels: np.ndarray, groups: np.ndarray, seed: int = 0,
            c_grid: tuple[float, ...] = SVM_C_GRID) -> LinearSVM:
    """Fit StandardScaler + LinearSVC, C by 5-fold cross-validation grouped by camera
    (the folds never share a camera)."""
    scaler = StandardScaler().fit(features)
    scale = np.where(scaler.scale_ > 0, scaler.scale_, 1.0)
    z = (features - scaler.mean_) / scale
    n_folds = min(5, len(np.unique(groups)))
    svc = LinearSVC(dual=False, max_iter=5000, random_state=seed)
    if n_folds >= 2:
        search = GridSearchCV(svc, {"C": list(c_grid)}, cv=GroupKFold(n_splits=n_folds), n_jobs=1)
        search.fit(z, labels, groups=groups)
        best = search.best_estimator_
    else:
        best = svc.set_params(C=1.0).fit(z, labels)
    return LinearSVM(scaler.mean_.copy(), scale, best.coef_[0].copy(), float(best.intercept_[0]), float(best.C))


def init_head_from_svm(net: RecastNet, svm: LinearSVM) -> None:
    """FC from the SVM (spec 2.3): class-1 row v/2, bias beta/2; class-0 row -v/2, -beta/2,
    so logit_1 - logit_0 equals the SVM score on the pooled histograms."""
    v, beta = svm.folded()
    with torch.no_grad():
        w = torch.as_tensor(v / 2, dtype=net.head.weight.dtype)
        net.head.weight.copy_(torch.stack([-w, w]))
        net.head.bias.copy_(torch.tensor([-beta / 2, beta / 2], dtype=net.head.bias.dtype))


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` (CUDA when present), ``cpu`` or ``cuda``. TF32 is switched off on CUDA so that
    results match the CPU. Raises RuntimeError when CUDA is asked for but absent."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise RuntimeError("--device cuda was asked for but no CUDA device is available")
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    elif name != "cpu":
        raise RuntimeError(f"unknown device {name!r}; use auto, cpu or cuda")
    return torch.device(name)


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


def accuracy_by_strength(scores: np.ndarray, data: PatchSet, threshold: float = 0.0) -> dict[str, float]:
    """Balanced accuracy (%) on each strength's binary task: the pristine patches against the
    patches processed at that strength, deciding processed when score > threshold."""
    pristine = scores[data.y == 0]
    tnr = float(np.mean(pristine <= threshold))
    result = {}
    for s in sorted(set(data.strength[data.y == 1].tolist()), key=lambda v: -v):
        tpr = float(np.mean(scores[(data.y == 1) & (data.strength == s)] > threshold))
        result[f"{s:g}"] = round(100 * (tnr + tpr) / 2, 2)
    return result


def threshold_at_fpr(pristine_scores: np.ndarray, fpr: float = 0.01) -> float:
    """Smallest threshold leaving at most ``fpr`` of the pristine scores above it."""
    return float(np.quantile(pristine_scores, 1 - fpr, method="higher"))


@dataclass
class TrainConfig:
    """Optimisation settings. Recast defaults are the paper's (Adam, lr 1e-6, L2 decay 5e-4,
    batch 36, 15 epochs). ``head_init`` (recast only): ``svm`` = FC from the SVM on the exact
    SRM features (spec 2.3); ``svm-soft`` = FC from an SVM refitted on the initial network's
    own soft-max features. ``validation_fraction`` of the training cameras are held out for
    early stopping: the state with the lowest validation loss, checked every ``eval_every``
    steps and at the start, is kept. Bayar defaults follow spec 3.2 (SGD momentum 0.9, lr 1e-3 halved
    every 3 epochs, decay 5e-4, batch 64, 60 epochs). ``positions`` (recast only): each training
    histogram averages this many random positions (:attr:`RecastNet.sample_positions`), not all.
    ``max_minutes``: training stops after the first step that ends past this wall-clock budget."""

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
    return torch.optim.Adam(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay), None


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


def _fine_tune(net: nn.Module, data: PatchSet, cfg: TrainConfig, device: torch.device, checkpoint: Path | None,
               resume: bool, progress: bool, validation: PatchSet | None) -> TrainResult:
    net.to(device)
    if cfg.positions is not None:
        net.sample_positions = cfg.positions
    opt, sched = _optimizer(net, cfg)
    result = TrainResult()
    best: dict | None = None
    best_loss = math.inf

    def check(step: int) -> None:
        nonlocal best, best_loss
        loss = mean_loss(net, validation, device)
        result.validation.append((step, loss))
        if loss < best_loss:
            best_loss, result.best_step = loss, step
            best = {k: v.detach().clone() for k, v in net.state_dict().items()}

    if resume and checkpoint is not None and checkpoint.exists():
        state = torch.load(checkpoint, map_location=device, weights_only=True)
        net.load_state_dict(state["net"])
        opt.load_state_dict(state["optimizer"])
        if sched is not None:
            sched.load_state_dict(state["scheduler"])
        result.epochs_done = int(state["epoch"])
        result.losses = [float(v) for v in state["losses"]]
        result.validation = [(int(a), float(b)) for a, b in state["validation"]]
        if state["best"]:
            best, best_loss, result.best_step = state["best"], float(state["best_loss"]), int(state["best_step"])
    elif validation is not None:
        check(0)
    result.epochs_trained = result.epochs_done
    generator = torch.Generator().manual_seed(cfg.seed)
    for _ in range(result.epochs_done):  # keep the shuffles of a resumed run identical
        torch.randperm(len(data), generator=generator)
    labels = torch.as_tensor(data.y)
    start_time = time.perf_counter()
    steps = math.ceil(len(data) / cfg.batch_size)
    if cfg.max_steps_per_epoch:
        steps = min(steps, cfg.max_steps_per_epoch)

    out_of_time = False
    for epoch in range(result.epochs_done, cfg.epochs):
        net.train()
        order = torch.randperm(len(data), generator=generator)
        total = 0.0
        taken = 0
        for step in show_progress(range(steps), steps, f"epoch {epoch + 1}/{cfg.epochs}", "steps", progress):
            idx = order[step * cfg.batch_size : (step + 1) * cfg.batch_size]
            x = to_input(data.x[idx.numpy()], device)
            loss = nn.functional.cross_entropy(net(x), labels[idx].to(device))
            opt.zero_grad()
            loss.backward()
            opt.step()
            net.after_step()
            total += loss.item()
            result.steps += 1
            taken += 1
            if validation is not None and ((epoch * steps + step + 1) % cfg.eval_every == 0 or step == steps - 1):
                check(epoch * steps + step + 1)
                net.train()
            if cfg.max_minutes is not None and time.perf_counter() - start_time > 60 * cfg.max_minutes:
                out_of_time = True
                break
        if out_of_time and taken < steps:
            result.epochs_trained = result.epochs_done + taken / steps
            result.losses.append(total / taken)
            break
        if sched is not None:
            sched.step()
        result.losses.append(total / steps)
        result.epochs_done = epoch + 1
        result.epochs_trained = result.epochs_done
        if checkpoint is not None:
            state = {"net": net.state_dict(), "optimizer": opt.state_dict(), "epoch": result.epochs_done,
                     "losses": result.losses, "scheduler": sched.state_dict() if sched is not None else {},
                     "validation": result.validation, "best": best or {}, "best_loss": best_loss,
                     "best_step": result.best_step if result.best_step is not None else -1}
            tmp = checkpoint.with_suffix(".tmp")
            torch.save(state, tmp)
            tmp.replace(checkpoint)
        if out_of_time:
            break
    if best is not None:
        net.load_state_dict(best)
    result.seconds = time.perf_counter() - start_time
    return result


def build_network(arch: str, svm: LinearSVM | None = None) -> nn.Module:
    """A fresh network: ``recast`` = SRM-initialised soft-max (alpha 2^16) with the FC from
    the SVM when given; ``bayar`` = Bayar2016 with default initialisation."""
    if arch == "bayar":
        return BayarNet()
    if arch != "recast":
        raise ValueError(f"unknown architecture {arch!r}; use recast or bayar")
    net = RecastNet.from_srm(exact=False)
    if svm is not None:
        init_head_from_svm(net, svm)
    return net


def library_versions() -> dict[str, str]:
    return {"scanner": __version__, "torch": torch.__version__, "numpy": np.__version__,
            "scikit-learn": sklearn.__version__, "pillow": PIL.__version__}


def svm_scores(svm: LinearSVM, patches: np.ndarray) -> np.ndarray:
    return svm.decision(srm_features(patches))


def run_baseline(data: TaskData, seed: int = 0) -> tuple[LinearSVM, dict]:
    """Fit the SRM + linear SVM on the training cameras; evaluate on the held-out cameras.
    Returns the SVM and a report (accuracy per strength in %, C, sizes)."""
    features = srm_features(data.train.x)
    svm = fit_svm(features, data.train.y, data.train.camera, seed)
    scores = svm_scores(svm, data.test.x)
    threshold = threshold_at_fpr(scores[data.test.y == 0])
    report = {"accuracy": accuracy_by_strength(scores, data.test), "C": svm.C,
              "threshold": {"logit": threshold, "probability": float(sigmoid(threshold)), "false_positive_rate": 0.01},
              "n_train": len(data.train), "n_test": len(data.test)}
    return svm, report


def train_detector(data: TaskData, cfg: TrainConfig, device: torch.device, out_dir: Path, name: str,
                   checkpoint_dir: Path | None = None, resume: bool = False, progress: bool = True,
                   fpr: float = 0.01) -> dict:
    """Baseline, initialisation, fine-tuning, held-out evaluation and model card for one task.

    Writes ``name.safetensors``, ``name.json`` and the baseline ``name.svm.npz`` into ``out_dir``;
    returns the card.
    """
    svm, baseline = run_baseline(data, cfg.seed)
    torch.manual_seed(cfg.seed)
    train, validation = (split_by_camera_fraction(data.train, cfg.validation_fraction, cfg.seed)
                         if cfg.validation_fraction > 0 else (data.train, None))
    net = build_network(cfg.arch)
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
    pristine = scores[data.test.y == 0]
    logit_threshold = threshold_at_fpr(pristine, fpr)
    out_dir.mkdir(parents=True, exist_ok=True)
    svm.save(out_dir / f"{name}.svm.npz")
    task = data.manifest
    card = {
        "architecture": ({"type": "recast", "mode": "soft", "alpha": net.alpha, "pooling": "mean",
                          "branches": {"across": "conv 4x(4x4) -> codewords 81", "along": "conv 4x(1x7) -> codewords 81"},
                          "transpose": "tied weights, histograms averaged", "head": "Linear(162, 2)",
                          "initialisation": "conv1 and codewords from the SRM descriptor; FC from "
                                            + ("the linear SVM on the exact SRM features" if cfg.head_init == "svm" else
                                               "a linear SVM refitted on the initial network's soft-max features")
                                            + " (standardisation folded in)"}
                         if cfg.arch == "recast" else {"type": "bayar", "patch": 128, "input_unit": BayarNet.INPUT_UNIT,
                                                   "initialisation": "constrained off-centre taps uniform in [0, 1), "
                                                                     "projected; other layers PyTorch default"}),
        "task": {"manipulation": task["manipulation"], "strengths": task["strengths"]},
        "data": {"manifest_sha256": data.manifest_sha256, "n_train": len(data.train), "n_test": len(data.test),
                 "train_cameras": sorted({p["camera"] for p in task["train"]}),
                 "test_cameras": sorted({p["camera"] for p in task["test"]}),
                 "patches_per_image": task["patches_per_image"], "region": task["region"]},
        "training": {"optimizer": "adam" if cfg.arch == "recast" else "sgd", "lr": cfg.lr, "weight_decay": cfg.weight_decay,
                     "batch_size": cfg.batch_size, "epochs": cfg.epochs, "max_steps_per_epoch": cfg.max_steps_per_epoch,
                     "head_init": cfg.head_init if cfg.arch == "recast" else None,
                     "sampled_positions": cfg.positions, "max_minutes": cfg.max_minutes,
                     "epochs_trained": round(result.epochs_trained, 3),
                     "epoch_losses": [round(v, 5) for v in result.losses], "seconds": round(result.seconds, 1),
                     "validation_cameras": sorted(set(validation.camera.tolist())) if validation is not None else [],
                     "validation_losses": [[k, round(v, 5)] for k, v in result.validation], "kept_step": result.best_step,
                     "device": str(device)},
        "seed": cfg.seed,
        "versions": library_versions(),
        "accuracy": {"cnn": accuracy_by_strength(scores, data.test), "svm": baseline["accuracy"],
                     "cnn_at_threshold": accuracy_by_strength(scores, data.test, logit_threshold),
                     "note": "balanced accuracy (%) per strength on held-out cameras; cnn and svm at their own decision boundary (0)"},
        "baseline": {"file": f"{name}.svm.npz", "C": baseline["C"], "threshold": baseline["threshold"]},
        "threshold": {"logit": logit_threshold, "probability": float(sigmoid(logit_threshold)),
                      "false_positive_rate": fpr, "chosen_on": "held-out pristine patches"},
    }
    card_path = save_detector(net, card, out_dir, name)
    return json.loads(card_path.read_text(encoding="utf-8"))


# ----------------------------------------------------------------------------- the shipped bank

BANK_SUBMODELS = tuple(Submodel(o, t) for o, t in [(1, 0), (1, 1), (2, 0), (2, 1), (2, 2), (3, 1), (3, 2), (3, 4)])
"""Submodels of the shipped bank: (order, zero band) pairs chosen in docs/training-log.md."""

WINDOW_FPR = 0.005
"""Share of pristine windows of out-of-fold cameras allowed over a detector's window threshold."""

IMAGE_FPR = 0.01
"""Share of pristine out-of-fold photos a detector may flag (five detectors: at most 5% any)."""

OPERATION_SUBSAMPLE = 6
"""The operation head is fitted on every 6th training position (16 versions each): as accurate
on held-out makes as every 3rd in docs/training-log.md, in a third of the time."""


def make_folds(photos: list[Photo], k: int, seed: int = 0) -> list[set[str]]:
    """Deal the makes of ``photos`` into ``k`` folds of about equal photo counts (largest first)."""
    count: dict[str, int] = {}
    for p in photos:
        count[camera_make(p.camera)] = count.get(camera_make(p.camera), 0) + 1
    rng = np.random.default_rng(seed)
    makes = sorted(count, key=lambda m: (-count[m], rng.random()))
    folds: list[set[str]] = [set() for _ in range(k)]
    sizes = [0] * k
    for make in makes:
        i = int(np.argmin(sizes))
        folds[i].add(make)
        sizes[i] += count[make]
    return folds


def _photo_detector_logits(args: tuple) -> dict[str, np.ndarray]:
    bank, path, stride = args
    return bank.dense(load_pixels(path)[0], stride).detectors


def photo_logits(bank: SRMBank, photos: list[Photo], stride: int, workers: int = 2) -> list[dict[str, np.ndarray]]:
    """Detector logit maps of whole photos as stored, ``workers`` photos at a time."""
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(_photo_detector_logits, [(bank, p.path, stride) for p in photos]))


SCALE_CROP = 1024
"""Side in pixels of the central crop of each training photo on which the window sizes of
the localisation map and the map of any detector are calibrated (:func:`crop_scores`)."""

CropScores = tuple[tuple[int, int], dict]
"""A central crop's shape (H, W) and its window scores by grid (window, stride)
(:class:`scanner.core.types.WindowScores`)."""


def _crop_scores(args: tuple) -> CropScores:
    bank, path, stride, quality = args
    crop = central_crop(load_pixels(path)[0], SCALE_CROP)
    if quality is not None:
        crop = jpeg(crop, quality)
    grids = [(w, stride if w == PATCH else scale_stride(w, stride)) for w in WINDOWS if min(crop.shape[:2]) >= w]
    return crop.shape[:2], dict(zip(grids, bank.dense_grids(crop, grids)))


def crop_scores(bank: SRMBank, photos: list[Photo], stride: int, workers: int = 2, resave: bool = False) -> list[CropScores]:
    """Window scores of the central :data:`SCALE_CROP` crop of each of ``photos`` (``resave``:
    saved as JPEG at the photo's :func:`scanner.data.resave_quality` first) at every window
    size of the localisation map, at the strides of a scan at ``stride``, ``workers`` photos at
    a time: what :func:`calibrate_scales` and :func:`calibrate_any_map` read."""
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(_crop_scores, [(bank, p.path, stride, resave_quality(p.sha256) if resave else None)
                                            for p in photos]))


def calibrate_scales(bank: SRMBank, crops: list[CropScores], window_fpr: float = WINDOW_FPR,
                     resaved: bool = False) -> dict[str, dict[int, ScaleCalibration]]:
    """For each detector (``resaved``: each resaved head's map instead) and window size of the
    localisation map, the logit that ``window_fpr`` of the windows of pristine ``crops``
    (:func:`crop_scores`) exceed (``threshold``) and their interquartile range (``spread``):
    {name: {window: ScaleCalibration}}.

    The crops are the bank's own training photos, on which its logits sit lower than on new
    makes; so every size of a detector has its threshold raised by the gap between the card's
    out-of-fold 128-pixel window threshold and the 128-pixel one found here (128 then equals the
    card's). Resaved heads have no out-of-fold threshold and keep the one found here."""
    scales: dict[str, dict[int, ScaleCalibration]] = {}
    for name in ([resaved_name(n) for n in bank.resaved.names] if resaved else bank.names):
        found = {}
        for window in sorted({w for _, scored in crops for w, _ in scored}):
            v = np.concatenate([(s.resaved if resaved else s.detectors)[name].ravel()
                                for _, scored in crops for (w, _), s in scored.items() if w == window])
            q1, q3 = np.quantile(v, [0.25, 0.75])
            found[window] = (float(np.quantile(v, 1 - window_fpr)), float(q3 - q1))
        shift = 0.0 if resaved else bank.scales(name)[PATCH].threshold - found[PATCH][0]
        scales[name] = {window: ScaleCalibration(t + shift, spread) for window, (t, spread) in found.items()}
    return scales


def calibrate_any_map(bank: SRMBank, crops: list[CropScores], stride: int,
                      cell_fpr: float = WINDOW_FPR) -> tuple[AnyCalibration, dict[str, Any]]:
    """The relative part of the map of any detector (:func:`scanner.scoring.maps.any_map`), on the fused
    localisation maps of pristine ``crops`` (:func:`crop_scores`, scored for a scan at
    ``stride``): each detector's offset passes ``cell_fpr`` of the cells' distance from their
    image's median, and the threshold ``cell_fpr`` of the cells' largest distance less offset.
    Returns the calibration and how it was found (for the card); needs the card's ``scales``."""
    options = ScanOptions(stride=stride)
    departure = []
    for shape, scored in crops:
        maps = localisation_maps(shape, bank, scored, options)
        names = list(maps)
        departure.append(background_departure(np.stack([maps[name] for name in names])))
    cells = np.concatenate([d.reshape(len(d), -1) for d in departure], axis=1)
    offsets = np.quantile(cells, 1 - cell_fpr, axis=1)
    threshold = float(np.quantile((cells - offsets[:, None]).max(axis=0), 1 - cell_fpr))
    return AnyCalibration({name: float(v) for name, v in zip(names, offsets)}, threshold), {
            "method": f"fused maps of {len(crops)} central {SCALE_CROP}-pixel crops of training photos (as stored, and saved as "
                      f"JPEG where the bank has resaved heads) at stride {stride}; "
                      f"offsets and threshold each passed by {cell_fpr:.1%} of the cells",
            "crops": len(crops)}


@dataclass
class Calibration:
    """Window thresholds (logits) and image rules per detector, with what they were chosen on."""

    thresholds: dict[str, float]
    image_threshold: dict[str, float]
    evidence: dict = field(default_factory=dict)


def calibrate(pristine_logits: dict[str, np.ndarray], photo_maps: list[dict[str, np.ndarray]], stride: int,
              window_fpr: float = WINDOW_FPR, image_fpr: float = IMAGE_FPR, min_area: int = MIN_AREA) -> Calibration:
    """Each detector's window threshold passes ``window_fpr`` of the pristine windows; its image
    threshold (a probability, at least the window threshold) is the smallest that flags at
    most ``image_fpr`` of the pristine photos under the core-area rule (:func:`scanner.scoring.rules.image_score`)."""
    thresholds, image_threshold, scores = {}, {}, {}
    allowed = int(np.floor(image_fpr * len(photo_maps)))
    for name, logits in pristine_logits.items():
        t = float(np.quantile(logits, 1 - window_fpr, method="higher"))
        window_p = float(sigmoid(t))
        s = np.sort([image_score(sigmoid(m[name]), stride, min_area) for m in photo_maps])[::-1]
        worst = float(s[allowed]) if allowed < len(s) else 0.0
        thresholds[name] = t
        image_threshold[name] = max(window_p, worst)
        scores[name] = [round(float(v), 4) for v in s[:10]]
    return Calibration(thresholds, image_threshold, {"window_fpr": window_fpr, "image_fpr": image_fpr, "photos": len(photo_maps),
                                                     "photos_allowed_over": allowed, "min_area": min_area,
                                                     "highest_pristine_image_scores": scores})


def cross_fitted_heads(features: dict[str, np.ndarray], candidates: dict[str, list[HeadChoice]], makes: np.ndarray,
                       fold_makes: list[set[str]], seed: int = 0, say=None
                       ) -> tuple[dict[tuple[int, HeadChoice, str], tuple[np.ndarray, float]], np.ndarray]:
    """Task heads fitted without each fold of makes, for out-of-fold scores. ``features`` maps
    ``pristine`` and each task key to head inputs (N, F); ``candidates`` maps the task keys to
    fit to their head choices; ``makes`` (N,) is each row's make. Returns ({(fold, choice, task):
    (weight (F,), bias)}, each row's fold (N,))."""
    fold = np.array([next(i for i, fm in enumerate(fold_makes) if m in fm) for m in makes])
    heads = {}
    for i, held_makes in enumerate(fold_makes):
        fit_rows = fold != i
        if say:
            say(f"fold {i + 1}/{len(fold_makes)}: task heads without {', '.join(sorted(held_makes))}")
        for key, choices in candidates.items():
            for choice in choices:
                heads[i, choice, key] = fit_task_head(features["pristine"][fit_rows], features[key][fit_rows], choice,
                                                      BANK_SUBMODELS, seed)
    return heads, fold


def train_bank(root: Path, seed: int = 0, folds: int = 4, stride: int = 32, feature_transform: str = "sqrt",
               cache: Path | None = None, progress=None, split: str | None = None) -> SRMBank:
    """Train the shipped bank on the training and validation makes of the make split ``split``
    (:func:`scanner.data.make_split`: ``"sealed"`` or a seed; default the seed ``seed``), which
    also seeds folds and solvers. The split's test makes are never used.

    1. Task heads for every :data:`HEAD_CHOICES` candidate are cross-fitted over ``folds`` make
       folds; each task keeps the candidate of highest out-of-fold AUC.
    2. Each task head is shifted so that logit 0 passes :data:`WINDOW_FPR` of its out-of-fold
       pristine windows; a detector takes the largest shifted logit of its strengths.
    3. Thresholds and the image rule come from out-of-fold windows and whole photos (:func:`calibrate`).
    4. The final heads are fitted on every training make.
    5. The resaved heads (:func:`fit_resaved_heads`) are fitted on every training make.
    6. The window sizes of the localisation map (:func:`calibrate_scales`) are calibrated on the
       training photos as stored (detectors) and as stored and resaved (resaved heads), the map
       of any detector (:func:`calibrate_any_map`) on both.
    """
    say = progress or (lambda message: None)
    start = time.perf_counter()
    photos = list_photos(root)
    split_name = split or str(seed)
    sides = make_split(photos, split_name)
    training = sides["train"] + sides["validation"]
    makes = {side: sorted({camera_make(p.camera) for p in ps}) for side, ps in sides.items()}
    data = build_bank(root, BANK_SUBMODELS, photos, cache_dir=cache, progress=progress is not None)
    train = data.of_makes(makes["train"] + makes["validation"])
    f = {k: head_input(v, histogram_width(BANK_SUBMODELS, chroma=True), feature_transform) for k, v in train.features.items()}
    keys = [task_key(m, s) for m, s in all_tasks()]
    candidates = {k: [c for c in HEAD_CHOICES if c.applies(k)] for k in keys}
    fold_makes = make_folds(training, folds, seed)
    heads, fold = cross_fitted_heads(f, candidates, train.make, fold_makes, seed, say)
    oof = {(c, k): (np.zeros(len(train)), np.zeros(len(train))) for k in keys for c in candidates[k]}
    for (i, choice, key), (w, b) in heads.items():
        held = fold == i
        oof[choice, key][0][held] = f["pristine"][held] @ w + b
        oof[choice, key][1][held] = f[key][held] @ w + b
    labels = np.r_[np.zeros(len(train)), np.ones(len(train))]
    auc = {k: {c.label: float(roc_auc_score(labels, np.r_[oof[c, k][0], oof[c, k][1]])) for c in candidates[k]} for k in keys}
    chosen = {k: max(candidates[k], key=lambda c: auc[k][c.label]) for k in keys}
    offset = {k: float(np.quantile(oof[chosen[k], k][0], 1 - WINDOW_FPR)) for k in keys}
    detectors = list(OPERATIONS[1:])
    pristine_oof = {d: np.max([oof[chosen[k], k][0] - offset[k] for k in keys if detector_of(k) == d], axis=0) for d in detectors}
    no_operations = LinearHeads([], np.zeros((0, f["pristine"].shape[1])), np.zeros(0))
    maps: list[dict[str, np.ndarray]] = []
    for i in range(folds):
        say(f"fold {i + 1}/{folds}: scanning its photos")
        tasks = LinearHeads(keys, np.stack([heads[i, chosen[k], k][0] for k in keys]),
                            np.array([heads[i, chosen[k], k][1] - offset[k] for k in keys]))
        fold_bank = SRMBank(BANK_SUBMODELS, feature_transform, tasks, no_operations, lattice=True, chroma=True)
        maps += photo_logits(fold_bank, [p for p in training if camera_make(p.camera) in fold_makes[i]], stride)
    calibration = calibrate(pristine_oof, maps, stride)
    say("final heads on every training make")
    final = [fit_task_head(f["pristine"], f[k], chosen[k], BANK_SUBMODELS, seed) for k in keys]
    tasks = LinearHeads(keys, np.stack([w for w, _ in final]), np.array([b - offset[k] for (_, b), k in zip(final, keys)]))
    operations = fit_operation_head({k: v[:: OPERATION_SUBSAMPLE] for k, v in f.items()}, seed=seed)
    bank = SRMBank(BANK_SUBMODELS, feature_transform, tasks, operations, lattice=True, chroma=True)
    split_card = TrainingSplit(split_name, tuple(makes["train"] + makes["validation"]), tuple(makes["test"]), {
        "root": str(root), "split_seed": seed, "lossless_sets": makes["lossless"], "n_train_positions": len(train),
        "positions_per_photo": BANK_POSITIONS, "patch": PATCH,
        "manifest_sha256": hashlib.sha256("".join(sorted(p.sha256 for p in training)).encode()).hexdigest()})
    about = {
        "task": {"manipulations": detectors, "tasks": keys},
        "heads": {k: {"choice": chosen[k].label, "out_of_fold_auc": auc[k], "offset": offset[k]} for k in keys},
        "calibration": {"method": f"heads cross-fitted over {folds} make folds of the training makes; each task head shifted to "
                                  f"logit 0 at {WINDOW_FPR:.1%} of its out-of-fold pristine windows; detector = largest shifted "
                                  f"logit of its strengths; window threshold at {WINDOW_FPR:.1%} of out-of-fold pristine windows; "
                                  f"image threshold flagging at most {IMAGE_FPR:.0%} of out-of-fold pristine photos (core of {MIN_AREA} px) at stride {stride}",
                        "folds": [sorted(m) for m in fold_makes], **calibration.evidence},
        "training": {"transform": feature_transform, "solver": "logistic regression (lbfgs) on standardised descriptors, folded",
                     "operation_head": f"multinomial, C=0.01, every {OPERATION_SUBSAMPLE}th training position",
                     "seconds": round(time.perf_counter() - start, 1)},
        "versions": library_versions(),
    }
    bank.card = BankCard(calibration.thresholds, {n: CoreRule(q, MIN_AREA) for n, q in calibration.image_threshold.items()},
                         split=split_card, about=about)
    say("resaved heads on every training make")
    resaved = build_resaved_bank(root, BANK_SUBMODELS, photos, cache_dir=cache, progress=progress is not None)
    bank.resaved, bank.card.about["resaved"] = fit_resaved_heads(resaved.of_makes(makes["train"] + makes["validation"]),
                                                           feature_transform, seed)
    say("window sizes of the localisation map and the map of any detector")
    crops = crop_scores(bank, training, stride)
    resaved_crops = crop_scores(bank, training, stride, resave=True)
    bank.card.scales = calibrate_scales(bank, crops) | calibrate_scales(bank, crops + resaved_crops, resaved=True)
    bank.card.any_map, bank.card.about["any_map"] = calibrate_any_map(bank, crops + resaved_crops, stride)
    return bank


RESAVED_CHOICE = HeadChoice(None, 0.01)
"""How every resaved head is fitted: every submodel, no chroma or lattice (docs/training-log.md, run 20)."""


def fit_resaved_heads(data: BankData, feature_transform: str, seed: int = 0) -> tuple[LinearHeads, dict]:
    """One head per :data:`scanner.data.RESAVED_MANIPULATIONS` on resaved bank data
    (:func:`scanner.data.build_resaved_bank`): the manipulation then a JPEG save against the
    JPEG save alone (:data:`RESAVED_CHOICE`), shifted so that logit 0 passes
    :data:`WINDOW_FPR` of the resaved pristine patches. Returns the heads and their card entry."""
    f = {k: head_input(v, histogram_width(BANK_SUBMODELS, chroma=True), feature_transform) for k, v in data.features.items()}
    weights, biases = [], []
    for name in RESAVED_MANIPULATIONS:
        w, b = fit_task_head(f["pristine"], f[name], RESAVED_CHOICE, BANK_SUBMODELS, seed)
        weights.append(w)
        biases.append(b - float(np.quantile(f["pristine"] @ w + b, 1 - WINDOW_FPR)))
    card = {"manipulations": list(RESAVED_MANIPULATIONS), "choice": RESAVED_CHOICE.label, "qualities": list(RESAVE_QUALITIES),
            "strengths": "one of the manipulation's two strongest per photo", "n_train_positions": len(data),
            "use": "localisation maps and the map of any detector only, never the verdict"}
    return LinearHeads(list(RESAVED_MANIPULATIONS), np.stack(weights), np.array(biases)), card
