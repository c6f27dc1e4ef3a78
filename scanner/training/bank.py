"""Training of the shipped bank: task heads cross-fitted over make folds and chosen per task by
out-of-fold AUC, the operation head, the resaved heads, and the card (:func:`train_bank`)."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from ..core.constants import MIN_AREA, PATCH
from ..families.bank import SRMBank
from ..families.bank_card import BankCard, CoreRule, TrainingSplit
from ..families.head_fitting import HEAD_CHOICES, OPERATIONS, HeadChoice, fit_operation_head, fit_task_head
from ..families.heads import LinearHeads, detector_of, head_input, histogram_width
from ..features.srm import Submodel
from ..processing.manipulations import all_tasks, task_key
from .bank_data import (
    BANK_POSITIONS,
    RESAVE_QUALITIES,
    RESAVED_MANIPULATIONS,
    BankData,
    build_bank,
    build_resaved_bank,
)
from .calibration import (
    IMAGE_FPR,
    WINDOW_FPR,
    Calibration,
    calibrate,
    calibrate_any_map,
    calibrate_scales,
    calibrate_spread,
    crop_scores,
    photo_logits,
)
from .environment import library_versions
from .photos import Photo, camera_make, list_photos, make_split
from .sampling import default_cache_dir

BANK_SUBMODELS = tuple(Submodel(o, t) for o, t in [(1, 0), (1, 1), (2, 0), (2, 1), (2, 2), (3, 1), (3, 2), (3, 4)])
"""Submodels of the shipped bank: (order, zero band) pairs chosen in docs/training-log.md."""


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
               cache: Path | None = None, progress=None, split: str | None = None,
               photos: list[Photo] | None = None) -> SRMBank:
    """Train the shipped bank on the training and validation makes of the make split ``split``
    (:func:`scanner.training.photos.make_split`: ``"sealed"`` or a seed; default the seed ``seed``), which
    also seeds folds and solvers. The split's test makes are never used. ``photos``: the
    photos of ``root`` when the caller has listed them already (:func:`list_photos`). Raises
    ValueError when the split leaves fewer training makes than ``folds``.

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
    photos = photos if photos is not None else list_photos(root)
    split_name = split or str(seed)
    sides = make_split(photos, split_name)
    training = sides["train"] + sides["validation"]
    makes = {side: sorted({camera_make(p.camera) for p in ps}) for side, ps in sides.items()}
    if len(makes["train"] + makes["validation"]) < folds:
        raise ValueError(f"the bank's calibration needs training photos of at least {folds} camera makes (one per make "
                         f"fold); split {split_name} leaves {len(makes['train'] + makes['validation'])} "
                         f"({', '.join(makes['train'] + makes['validation']) or 'none'})")
    data = build_bank(root, BANK_SUBMODELS, photos, cache_dir=cache, progress=progress is not None)
    train = data.of_makes(makes["train"] + makes["validation"])
    f = {k: head_input(v, histogram_width(BANK_SUBMODELS, chroma=True), feature_transform) for k, v in train.features.items()}
    keys = [task_key(m, s) for m, s in all_tasks()]
    candidates = {k: [c for c in HEAD_CHOICES if c.applies(k)] for k in keys}
    fold_makes = make_folds(training, folds, seed)
    heads, fold = cross_fitted_heads(f, candidates, train.make, fold_makes, seed, say)
    choice = choose_heads(f, heads, fold, candidates)
    pristine_oof = {d: np.max([choice.pristine[k] - choice.offset[k] for k in keys if detector_of(k) == d], axis=0)
                    for d in OPERATIONS[1:]}
    maps: list[dict[str, np.ndarray]] = []
    for i in range(folds):
        say(f"fold {i + 1}/{folds}: scanning its photos")
        fold_heads = {k: heads[i, choice.chosen[k], k] for k in keys}
        fold_bank = shifted_bank(fold_heads, choice.offset, feature_transform, None)
        maps += photo_logits(fold_bank, [p for p in training if camera_make(p.camera) in fold_makes[i]], stride)
    calibration = calibrate(pristine_oof, maps, stride)
    spread, calibration.evidence["spread"] = calibrate_spread(maps, stride)
    save_oof_maps((Path(cache) if cache else default_cache_dir()) / "oof-maps" / f"{split_name}.npz", maps)
    say("final heads on every training make")
    final = {k: fit_task_head(f["pristine"], f[k], choice.chosen[k], BANK_SUBMODELS, seed) for k in keys}
    operations = fit_operation_head({k: v[:: OPERATION_SUBSAMPLE] for k, v in f.items()}, seed=seed)
    bank = shifted_bank(final, choice.offset, feature_transform, operations)
    split_card = TrainingSplit(split_name, tuple(makes["train"] + makes["validation"]), tuple(makes["test"]), {
        "root": str(root), "split_seed": seed, "lossless_sets": makes["lossless"], "n_train_positions": len(train),
        "positions_per_photo": BANK_POSITIONS, "patch": PATCH,
        "manifest_sha256": hashlib.sha256("".join(sorted(p.sha256 for p in training)).encode()).hexdigest()})
    about = bank_about(choice, calibration, fold_makes, feature_transform, stride, time.perf_counter() - start)
    bank.card = BankCard(calibration.thresholds, {n: CoreRule(q, MIN_AREA, spread[n]) for n, q in calibration.image_threshold.items()},
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


def save_oof_maps(path: Path, maps: list[dict[str, np.ndarray]]) -> None:
    """Keep the out-of-fold logit maps of the training photos (``photo{i}/{detector}`` arrays) for
    studies of the image rules, which may read training makes only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **{f"photo{i}/{name}": m for i, photo in enumerate(maps) for name, m in photo.items()})


def load_oof_maps(path: Path) -> list[dict[str, np.ndarray]]:
    """The out-of-fold maps :func:`save_oof_maps` kept: one {detector or ``textured``: (rows, cols)} per photo."""
    with np.load(path) as stored:
        maps: dict[int, dict[str, np.ndarray]] = {}
        for key in stored.files:
            photo, name = key.split("/", 1)
            maps.setdefault(int(photo.removeprefix("photo")), {})[name] = stored[key]
    return [maps[i] for i in sorted(maps)]


@dataclass
class HeadChoices:
    """Each task's chosen head candidate, from out-of-fold scores: ``auc`` {task: {candidate
    label: out-of-fold AUC}}, ``chosen`` {task: candidate}, ``offset`` {task: the logit that
    :data:`WINDOW_FPR` of its out-of-fold pristine windows exceed}, ``pristine`` {task: the chosen
    head's out-of-fold logits of the pristine windows (N,)}."""

    auc: dict[str, dict[str, float]]
    chosen: dict[str, HeadChoice]
    offset: dict[str, float]
    pristine: dict[str, np.ndarray]


def choose_heads(features: dict[str, np.ndarray], heads: dict, fold: np.ndarray,
                 candidates: dict[str, list[HeadChoice]]) -> HeadChoices:
    """Score every row with the heads fitted without its fold (:func:`cross_fitted_heads`), and
    keep per task the candidate of highest out-of-fold AUC, pristine rows against processed."""
    n = len(fold)
    oof = {(c, k): (np.zeros(n), np.zeros(n)) for k, cs in candidates.items() for c in cs}
    for (i, choice, key), (w, b) in heads.items():
        held = fold == i
        oof[choice, key][0][held] = features["pristine"][held] @ w + b
        oof[choice, key][1][held] = features[key][held] @ w + b
    labels = np.r_[np.zeros(n), np.ones(n)]
    auc = {k: {c.label: float(roc_auc_score(labels, np.r_[oof[c, k][0], oof[c, k][1]])) for c in cs} for k, cs in candidates.items()}
    chosen = {k: max(cs, key=lambda c: auc[k][c.label]) for k, cs in candidates.items()}
    offset = {k: float(np.quantile(oof[chosen[k], k][0], 1 - WINDOW_FPR)) for k in candidates}
    return HeadChoices(auc, chosen, offset, {k: oof[chosen[k], k][0] for k in candidates})


def shifted_bank(task_heads: dict[str, tuple[np.ndarray, float]], offset: dict[str, float], feature_transform: str,
                 operations: LinearHeads | None) -> SRMBank:
    """A bank of every submodel, chroma and lattice, whose task heads {task: (weight (F,), bias)}
    are shifted by ``offset`` so that logit 0 is each task's pristine level (no operation head:
    an empty one)."""
    keys = list(task_heads)
    tasks = LinearHeads(keys, np.stack([task_heads[k][0] for k in keys]), np.array([task_heads[k][1] - offset[k] for k in keys]))
    if operations is None:
        operations = LinearHeads([], np.zeros((0, tasks.weight.shape[1])), np.zeros(0))
    return SRMBank(BANK_SUBMODELS, feature_transform, tasks, operations, lattice=True, chroma=True)


def bank_about(choice: HeadChoices, calibration: Calibration, fold_makes: list[set[str]], feature_transform: str,
               stride: int, seconds: float) -> dict:
    """The card's descriptive sections: the tasks, each head's choice, how the bank was calibrated
    and trained, and the library versions."""
    keys = list(choice.chosen)
    return {
        "task": {"manipulations": list(OPERATIONS[1:]), "tasks": keys},
        "heads": {k: {"choice": choice.chosen[k].label, "out_of_fold_auc": choice.auc[k], "offset": choice.offset[k]} for k in keys},
        "calibration": {"method": f"heads cross-fitted over {len(fold_makes)} make folds of the training makes; each task head shifted to "
                                  f"logit 0 at {WINDOW_FPR:.1%} of its out-of-fold pristine windows; detector = largest shifted "
                                  f"logit of its strengths; window threshold at {WINDOW_FPR:.1%} of out-of-fold pristine windows; "
                                  f"image threshold flagging at most {IMAGE_FPR:.0%} of out-of-fold pristine photos (core of {MIN_AREA} px) at stride {stride}; "
                                  f"spread rule on crops of those photos (see spread)",
                        "folds": [sorted(m) for m in fold_makes], **calibration.evidence},
        "training": {"transform": feature_transform, "solver": "logistic regression (lbfgs) on standardised descriptors, folded",
                     "operation_head": f"multinomial, C=0.01, every {OPERATION_SUBSAMPLE}th training position",
                     "seconds": round(seconds, 1)},
        "versions": library_versions(),
    }


RESAVED_CHOICE = HeadChoice(None, 0.01)
"""How every resaved head is fitted: every submodel, no chroma or lattice (docs/training-log.md, run 20)."""


def fit_resaved_heads(data: BankData, feature_transform: str, seed: int = 0) -> tuple[LinearHeads, dict]:
    """One head per :data:`scanner.training.bank_data.RESAVED_MANIPULATIONS` on resaved bank data
    (:func:`scanner.training.bank_data.build_resaved_bank`): the manipulation then a JPEG save against the
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
