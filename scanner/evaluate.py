"""Evaluations on held-out makes: detectors per task and per image, and forgery localisation
(the shipped detectors against SRM+SVM heat maps).

Both heat maps come from the same dense code: the SRM+SVM baseline is a one-submodel
:class:`scanner.families.bank.SRMBank` (the paper's descriptor) with the SVM as its head, so the two
are compared on equal terms (same windows, same stride, same pixel mapping, same image rule).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw
from sklearn.metrics import roc_auc_score

from . import __version__, manipulations
from .core.constants import MAP_CELL, MIN_AREA, PATCH
from .core.types import sigmoid
from .data import build_bank, build_task, camera_make, list_photos, make_split
from .families.bank import LinearHeads, SRMBank, head_input
from .families.bank_card import BankCard, CoreRule
from .families.registry import load_shipped
from .forgery import Forgery, copy_move, splice
from .inputs.images import load_pixels, load_rgb
from .lattice import central_crop
from .manipulations import MANIPULATIONS, all_tasks, task_key
from .scoring.analysis import analyze
from .scoring.maps import scale_stride
from .scoring.options import ScanOptions
from .train import (
    BANK_SUBMODELS,
    WINDOW_FPR,
    TrainConfig,
    accuracy_by_strength,
    build_network,
    calibrate_scales,
    crop_scores,
    fine_tune,
    fit_svm,
    predict_scores,
    run_baseline,
)
from .writers.figures import colormap, pixel_map

CROP = 768
"""Forgeries are made on central crops of CROP x CROP pixels of the held-out photos."""


def _f1_mcc_of_counts(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray, tn: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """F1 and Matthews correlation (0 where undefined) of confusion counts, elementwise."""
    tp, fp, fn, tn = (np.asarray(c, dtype=np.float64) for c in (tp, fp, fn, tn))
    f1 = np.divide(2 * tp, 2 * tp + fp + fn, out=np.zeros_like(tp), where=tp > 0)
    denom = np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    return f1, np.divide(tp * tn - fp * fn, denom, out=np.zeros_like(tp), where=denom > 0)


def f1_mcc(prediction: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """Pixel F1 and Matthews correlation of boolean maps."""
    tp = np.sum(prediction & truth)
    fp = np.sum(prediction & ~truth)
    fn = np.sum(~prediction & truth)
    f1, mcc = _f1_mcc_of_counts(tp, fp, fn, prediction.size - tp - fp - fn)
    return float(f1), float(mcc)


def threshold_sweep(prob: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixel F1 and Matthews correlation of the prediction ``prob >= v`` for each distinct value v
    of ``prob``, from the largest down (the last marks every pixel): every threshold that changes
    the prediction. Returns (f1, mcc), each (number of distinct values,)."""
    values, inverse = np.unique(prob.ravel(), return_inverse=True)
    positives = np.bincount(inverse, weights=truth.ravel().astype(np.float64), minlength=len(values))[::-1]
    counts = np.bincount(inverse, minlength=len(values))[::-1].astype(np.float64)
    tp = np.cumsum(positives)
    fp = np.cumsum(counts) - tp
    fn = tp[-1] - tp
    return _f1_mcc_of_counts(tp, fp, fn, prob.size - tp - fp - fn)


def localisation_scores(prob: np.ndarray, truth: np.ndarray, threshold: float) -> dict:
    """Pixel AUC; F1 and MCC at ``threshold``, and at the best threshold for this image (the
    largest over every threshold, :func:`threshold_sweep`: an oracle, as usual in the literature)."""
    auc = float(roc_auc_score(truth.ravel(), prob.ravel())) if 0 < truth.mean() < 1 else float("nan")
    f1, mcc = f1_mcc(prob > threshold, truth)
    sweep_f1, sweep_mcc = threshold_sweep(prob, truth)  # marking nothing scores 0, as marking everything does
    return {"auc": auc, "f1": f1, "mcc": mcc, "best_f1": float(sweep_f1.max()), "best_mcc": float(sweep_mcc.max())}


def map_scores(cells: np.ndarray, truth: np.ndarray) -> dict:
    """:func:`localisation_scores` of a localisation map (a cell every
    :data:`scanner.core.constants.MAP_CELL` pixels, 0 = its threshold) against the pixel mask ``truth`` (H, W)."""
    return localisation_scores(pixel_map(cells, MAP_CELL, truth.shape, 1.0, MAP_CELL), truth, 0.0)


def forgeries(crops: list[tuple[str, np.ndarray]], make: Callable[[np.ndarray, np.ndarray, int], Forgery],
              seed: int = 0) -> Iterator[tuple[int, Forgery]]:
    """(i, forgery) for each crop i of ``crops``: ``make(target, donor, seed + i)`` with crop i the
    target and the next crop (cyclically) the donor, as every localisation evaluation forges."""
    for i, (_, target) in enumerate(crops):
        yield i, make(target, crops[(i + 1) % len(crops)][1], seed + i)


SMALL_AREA = (0.01, 0.05)
"""Share of the crop that a small forgery's pasted region covers."""


@dataclass
class Case:
    """A kind of forgery: a splice of a processed region, or a resized copy-move; ``small``
    ones paste a region of :data:`SMALL_AREA` of the image."""

    kind: str  # "splice" or "copy-move"
    manip: str
    strength: float
    small: bool = False

    @property
    def label(self) -> str:
        what = f"splice {self.manip} {self.strength:g}" if self.kind == "splice" else f"copy-move resize {self.strength:g}"
        return f"small {what}" if self.small else what

    def make(self, target: np.ndarray, donor: np.ndarray, seed: int) -> Forgery:
        if self.kind == "splice":
            return splice(target, donor, self.manip, self.strength, seed, **({"area": SMALL_AREA} if self.small else {}))
        if self.small:  # the source blob, scaled by strength^2 in area, pastes SMALL_AREA
            return copy_move(target, self.strength, seed, tuple(a / self.strength**2 for a in SMALL_AREA))
        return copy_move(target, self.strength, seed)


def training_descriptors(root: Path, split: str = "0"):
    """Bank descriptors (:class:`scanner.data.BankData`) of the training makes of the make split
    named ``split`` (:func:`scanner.data.make_split`)."""
    photos = list_photos(root)
    split = make_split(photos, split)
    return build_bank(root, BANK_SUBMODELS, photos).of_makes({camera_make(p.camera) for p in split["train"] + split["validation"]})


def svm_bank(train, manip: str, seed: int = 0):
    """The SRM + linear SVM baseline of one manipulation (its three strengths mixed, as the
    shipped detector sees them) as a one-submodel bank, fitted on ``train``
    (:func:`training_descriptors`); its window threshold passes 0.5% of the training pristine
    windows, and the same threshold with the default core area is its image rule."""
    srm = [i for i, sub in enumerate(BANK_SUBMODELS) if sub.name == "o3t2"][0]
    columns = slice(162 * srm, 162 * srm + 162)
    keys = [task_key(m, st) for m, st in all_tasks() if m == manip]
    # every position once pristine and once processed, its strength cycling through the three
    x = np.concatenate([train.features["pristine"][:, columns]] + [train.features[k][:, columns][i :: len(keys)] for i, k in enumerate(keys)])
    groups = np.concatenate([train.camera] + [train.camera[i :: len(keys)] for i in range(len(keys))])
    n = len(train)
    y = np.r_[np.zeros(n), np.ones(len(x) - n)]
    svm = fit_svm(x.astype(np.float64), y, groups, seed)
    v, beta = svm.folded()
    threshold = float(np.quantile(x[:n].astype(np.float64) @ v + beta, 1 - WINDOW_FPR))
    probability = float(sigmoid(threshold))
    card = BankCard({manip: threshold}, {manip: CoreRule(probability, MIN_AREA)})
    empty = LinearHeads([], np.zeros((0, 162)), np.zeros(0))
    return SRMBank((BANK_SUBMODELS[srm],), "identity", LinearHeads([f"{manip}:all"], v[None], np.array([beta])), empty, card)


def held_out_crops(root: Path, split: str = "0", limit: int | None = None) -> list[tuple[str, np.ndarray]]:
    """Central CROP x CROP crops of the photos of the held-out makes of the make split named
    ``split`` (the split the detectors were trained on), skipping photos smaller than the crop."""
    test = make_split(list_photos(root), split)["test"]
    crops = []
    for photo in test:
        rgb = load_rgb(photo.path)
        if min(rgb.shape[:2]) < CROP:
            continue
        crops.append((photo.camera, central_crop(rgb, CROP, grid=16)))
        if limit and len(crops) >= limit:
            break
    return crops


METHODS = {"fused": ("shipped", None, False), "128": ("shipped", PATCH, False), "svm fused": ("svm", None, False),
           "svm 128": ("svm", PATCH, False), "any fused": ("shipped", None, True)}
"""Localisation maps compared: detector set, map window (None = the fused sizes), and whether
the map is that of any detector (:data:`scanner.core.constants.ANY_MAP`: the operation is unknown) rather
than that of the case's own detector (the operation is known)."""


def evaluate_case(case: Case, crops: list[tuple[str, np.ndarray]], shipped, baseline, stride: int = 16,
                  device: str = "cpu", seed: int = 0) -> tuple[dict, dict]:
    """Metrics for one case over forgeries made from ``crops`` (each crop the target once, the
    next crop the donor), for each of :data:`METHODS`: the shipped detector of the case and the
    SRM+SVM ``baseline`` (:func:`svm_bank`), each with its fused localisation map and its 128-pixel
    one, and the shipped bank's map of any detector (:attr:`scanner.scoring.analysis.Analysis.combined`), read
    from the same analysis as its fused map. Maps are thresholded at 0, the pristine 0.5% level (:func:`scanner.scoring.maps.localisation_maps`).
    Copy-moves also report the share of their source region, and of the rest of the image, over
    that threshold. Returns (metrics by method, an example for the figure)."""
    sets = {"shipped": shipped, "svm": baseline}
    rows: dict[str, list[dict]] = {m: [] for m in METHODS}
    image_scores: dict[str, tuple[list, list]] = {m: ([], []) for m in sets}
    example = None
    for i, forged in forgeries(crops, case.make, seed):
        target = crops[i][1]
        maps, analyses = {}, {}
        for name, (family, window, blind) in METHODS.items():
            options = ScanOptions(stride=stride, device=device, window=window)
            if (family, window) in analyses:
                result = analyses[family, window]
            else:
                result = analyses[family, window] = analyze(forged.image, sets[family], options)
                if window is None:
                    image_scores[family][0].append(result.detections[case.manip].score)
                    image_scores[family][1].append(analyze(target, sets[family], options).detections[case.manip].score)
            cells = result.combined if blind else result.evidence[case.manip]
            value = pixel_map(cells, MAP_CELL, forged.mask.shape, 1.0, MAP_CELL)
            row = localisation_scores(value, forged.mask, 0.0)
            if forged.source is not None:
                elsewhere = ~(forged.mask | forged.source)
                row |= {"source_over": float(np.mean(value[forged.source] > 0)), "elsewhere_over": float(np.mean(value[elsewhere] > 0))}
            rows[name].append(row)
            maps[name] = value
        if example is None or forged.mask.mean() > example["mask"].mean():
            example = {"original": target, "forged": forged.image, "mask": forged.mask, **maps}
    result = {}
    for name in METHODS:
        result[name] = {k: float(np.nanmean([r[k] for r in rows[name]])) for k in rows[name][0]}
    for family, (forged_s, pristine_s) in image_scores.items():
        auc = float(roc_auc_score([1] * len(forged_s) + [0] * len(pristine_s), forged_s + pristine_s))
        for name, (f, _, _) in METHODS.items():
            if f == family:
                result[name]["image_auc"] = auc
    return result, example


def pristine_map_rates(crops: list[tuple[str, np.ndarray]], shipped, stride: int = 16, device: str = "cpu") -> dict:
    """Share of the pixels of unforged ``crops`` over each detector's map threshold (0), and over
    that of the map of any detector (:data:`scanner.core.constants.ANY_MAP`), fused and 128-pixel:
    {map: {"fused": share, "128": share}}."""
    over: dict[str, dict[str, list]] = {}
    for _, crop in crops:
        for name, window in (("fused", None), ("128", PATCH)):
            maps = analyze(crop, shipped, ScanOptions(stride=stride, device=device, window=window)).maps()
            for detector, value in maps.items():
                over.setdefault(detector, {}).setdefault(name, []).append(float(np.mean(value > 0)))
    return {d: {k: float(np.mean(v)) for k, v in m.items()} for d, m in over.items()}


def figure(example: dict, path: Path, title: str) -> None:
    """Original | forgery | mask | SRM+SVM fused map | shipped 128-pixel map | shipped fused map,
    side by side, as a PNG (maps as sigmoid of the map value: 0.5 = the threshold)."""
    tile = 256
    panels = [("original", example["original"]), ("forgery", example["forged"]),
              ("ground truth", np.repeat((example["mask"] * 255).astype(np.uint8)[..., None], 3, 2)),
              ("SRM+SVM fused", colormap(sigmoid(example["svm fused"]))), ("shipped 128 px", colormap(sigmoid(example["128"]))),
              ("shipped fused", colormap(sigmoid(example["fused"])))]
    canvas = Image.new("RGB", (tile * len(panels), tile + 40), "white")
    draw = ImageDraw.Draw(canvas)
    for k, (label, image) in enumerate(panels):
        canvas.paste(Image.fromarray(image).resize((tile, tile), Image.Resampling.BILINEAR), (k * tile, 20))
        draw.text((k * tile + 6, 4), label, fill="black")
    draw.text((6, tile + 24), title, fill="black")
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(path)


FIGURE_CASES = {"splice blur 0.5", "copy-move resize 1.125", "small splice blur 0.5", "small copy-move resize 1.125"}


def all_cases() -> list[Case]:
    """Splices of every manipulation at every strength, copy-moves at the three scales, then
    small forgeries: splices of every manipulation at its middle strength and of blur 0.5, and
    copy-moves resized by 1.125 (the paper's Fig. 6 strengths)."""
    cases = [Case("splice", m, s) for m, spec in MANIPULATIONS.items() for s in spec.strengths]
    cases += [Case("copy-move", "resize", s) for s in MANIPULATIONS["resize"].strengths]
    cases += [Case("splice", m, spec.strengths[1], small=True) for m, spec in MANIPULATIONS.items()]
    return cases + [Case("splice", "blur", 0.5, small=True), Case("copy-move", "resize", 1.125, small=True)]


def run_localisation(root: Path, detectors, out: Path, n_images: int = 8, stride: int = 16,
                     device: str = "cpu", seed: int = 0, command: str = "", progress=None) -> dict:
    """Evaluate every case on ``n_images`` crops of the held-out makes of the split the detectors
    were trained on (split ``seed`` when their card names none; ``seed`` also seeds the
    forgeries); write ``out`` (Markdown) and its figures beside it in ``figures/``. Returns
    {case label: {method: metrics}}."""
    started = time.perf_counter()
    split_name = detectors.trained_on.name if detectors.trained_on else str(seed)
    crops = held_out_crops(root, split_name, n_images)
    split = make_split(list_photos(root), split_name)
    train = training_descriptors(root, split_name)
    baselines = {}
    results, lines = {}, []
    for case in all_cases():
        if case.manip not in baselines:
            baselines[case.manip] = svm_bank(train, case.manip, seed)
            baseline = baselines[case.manip]
            baseline.card.scales = calibrate_scales(baseline, crop_scores(baseline, split["train"] + split["validation"], stride))
        metrics, example = evaluate_case(case, crops, detectors, baselines[case.manip], stride, device, seed)
        results[case.label] = metrics
        if case.label in FIGURE_CASES or (case.kind == "splice" and case.strength == MANIPULATIONS[case.manip].strengths[0]):
            name = case.label.replace(" ", "_") + ".png"
            figure(example, out.parent / "figures" / name,
                   f"{case.label}: original, forgery, mask, SRM+SVM fused, shipped 128 px, shipped fused")
            lines.append(f"\n### {case.label}\n\n![{case.label}](figures/{name})\n")
        if progress:
            progress(case.label, metrics)
    rates = pristine_map_rates(crops, detectors, stride, device)

    def table(labels: list[str]) -> list[str]:
        header = ["case", "fused AUC", "128 AUC", "SVM fused AUC", "SVM 128 AUC", "fused F1@thr", "128 F1@thr",
                  "fused MCC@thr", "128 MCC@thr", "fused best F1", "128 best F1", "SVM fused best F1", "SVM 128 best F1",
                  "fused best MCC", "128 best MCC", "image AUC", "SVM image AUC"]
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for label in labels:
            m = results[label]
            f, c, s, s128 = m["fused"], m["128"], m["svm fused"], m["svm 128"]
            cells = [f["auc"], c["auc"], s["auc"], s128["auc"], f["f1"], c["f1"], f["mcc"], c["mcc"], f["best_f1"], c["best_f1"],
                     s["best_f1"], s128["best_f1"], f["best_mcc"], c["best_mcc"], f["image_auc"], s["image_auc"]]
            lines.append(f"| {label} | " + " | ".join(f"{v:.3f}" for v in cells) + " |")
        return lines

    small = [label for label in results if label.startswith("small ")]
    large = [label for label in results if label not in small]
    moves = [label for label in results if "copy-move" in label]
    source = ["| case | " + " | ".join(f"{m}: source over | {m}: elsewhere over" for m in METHODS) + " |",
              "|" + "---|" * (1 + 2 * len(METHODS))]
    for label in moves:
        source.append(f"| {label} | " + " | ".join(f"{results[label][m]['source_over']:.3f} | {results[label][m]['elsewhere_over']:.3f}"
                                                 for m in METHODS) + " |")
    pristine = ["| detector | fused | 128 |", "|---|---|---|"]
    pristine += [f"| {d} | {r['fused']:.4f} | {r['128']:.4f} |" for d, r in rates.items()]
    blind = ["| case | any fused AUC | any F1@thr | any best F1 | own detector: fused AUC | own: best F1 |", "|---|---|---|---|---|---|"]
    blind += [f"| {label} | {m['any fused']['auc']:.3f} | {m['any fused']['f1']:.3f} | {m['any fused']['best_f1']:.3f} | "
              f"{m['fused']['auc']:.3f} | {m['fused']['best_f1']:.3f} |" for label, m in results.items()]
    wins = sum(results[label]["fused"]["best_f1"] > results[label]["128"]["best_f1"] for label in small)
    cameras = sorted({camera for camera, _ in crops})
    weights_dir = detectors.path.parent
    if weights_dir.resolve().is_relative_to(Path.cwd().resolve()):
        weights_dir = weights_dir.resolve().relative_to(Path.cwd().resolve())
    text = f"""# Localisation results

Produced by:

```bash
{command}
```

Detectors: `{weights_dir}`; forgeries from **{len(crops)} held-out photos**
(cameras never used in training: {', '.join(cameras)}), central {CROP}x{CROP} crops; one forgery per
photo and case (the next photo is the splice donor); 128-pixel windows at stride {stride}, 64 at
{scale_stride(64, stride)} and 32 at {scale_stride(32, stride)}; device {device}; {time.perf_counter() - started:.0f} s.

- Splice: a random blob (12-25% of the crop; **small**: 1-5%) of the donor, processed as a whole image first, pasted into the target.
- Copy-move: a blob (8-16%; **small**: pasted region 1-5%) of the same crop, resized (bicubic) and pasted elsewhere,
  not overlapping its source. Only the pasted region is positive; its source is reported below.
- Maps: the localisation map of `scanner scan` (see the README): for each window size, the mean logit of the windows
  covering each 8x8 cell, less that size's pristine threshold (0.5% of pristine windows), in units of the pristine
  spread; **fused** = the mean over 32, 64 and 128 pixels, **128** = the 128-pixel windows alone (`--window 128`).
- AUC: pixel-level ROC AUC, averaged over forgeries. F1 and MCC **@thr** at the map's threshold (0: the pristine 0.5%
  level, what `scanner scan` outlines); **best**: the best over every threshold per image (an oracle, as usual in the
  literature), averaged. Before 0.5.1 it was the best of 40 quantile thresholds, a grid too coarse for regions of 1-5%.
- Image AUC: the image score (the verdict's, from 128-pixel windows, the same for both maps) of the forgeries against
  the same crops unforged.
- SRM+SVM: the paper's 162-bin descriptor with a linear SVM (three strengths mixed), fitted on the same training
  makes, scored and mapped by the same code (a one-submodel bank, its window sizes calibrated the same way).

Small forgeries: the fused map beats the 128-pixel map in best-threshold F1 in **{wins} of {len(small)}** cases.

## Small forgeries (1-5% of the image)

{chr(10).join(table(small))}

## Large forgeries

{chr(10).join(table(large))}

## When the operation is unknown: the map of any detector

The tables above read the map of the detector of the case's own operation, which an analyst facing a real
forgery does not know. `scanner scan` also draws the map of any detector (`any`, `scanner.scoring.maps.any_map`): per
cell, the largest of the five detectors' fused maps and of their distances from their own image's median (above
or below), each less an offset and a threshold calibrated on training photos (the card's `any_map`), so that a
region standing out from the rest of its image counts even where its detector sits below its pristine level
everywhere; the distances of the resaved heads' maps count too (since 0.6.0). Same forgeries, every shipped
detector:

{chr(10).join(blind)}

## Copy-moves: the untouched source region

Share of the source region's pixels over the map threshold, against the share of the rest of the image (neither
pasted nor source). The source is a true part of the photo; it shows only where the copy's pixels resemble it.

{chr(10).join(source)}

## False alarms on the unforged crops

Share of the pixels of the {len(crops)} unforged held-out crops over each detector's map threshold (`any`: over 0 in
the map of any detector). The verdict
(image rule) does not use the map, so per-image false alarms are those of `docs/detectors.md` whichever map is drawn.

{chr(10).join(pristine)}

## Figures

Original, forgery, ground-truth mask, SRM+SVM fused map, shipped 128-pixel map, shipped fused map (sigmoid of the
map value: black 0, white 1, 0.5 at the threshold).
{''.join(lines)}
"""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    return results


PAPER_TABLE2 = {
    # task: (Bayar small, SRM+SVM small, CNN small, Bayar large, SRM+SVM large, CNN large), accuracy %
    ("median", 7): (98.23, 99.61, 99.07, 99.69, 99.68, 99.55), ("median", 5): (96.66, 99.67, 99.47, 99.78, 99.68, 99.60),
    ("median", 3): (94.56, 99.83, 99.35, 99.80, 99.87, 99.75), ("blur", 1.1): (99.65, 99.93, 99.79, 99.98, 99.97, 99.95),
    ("blur", 0.75): (98.52, 99.90, 99.82, 99.94, 99.77, 99.93), ("blur", 0.5): (83.10, 87.10, 95.70, 94.57, 87.55, 96.56),
    ("noise", 2.0): (97.08, 99.94, 99.95, 99.56, 99.94, 99.94), ("noise", 0.5): (82.93, 99.37, 99.36, 93.83, 99.34, 99.66),
    ("noise", 0.25): (51.83, 85.06, 88.81, 80.28, 84.01, 90.79), ("resize", 1.5): (99.22, 99.99, 100.00, 99.72, 99.87, 100.00),
    ("resize", 1.125): (91.06, 98.94, 99.56, 97.02, 96.00, 99.78), ("resize", 1.01): (80.51, 96.01, 97.81, 98.44, 95.11, 97.20),
    ("jpeg", 70): (96.04, 99.99, 99.99, 99.43, 99.99, 99.94), ("jpeg", 80): (77.01, 99.73, 99.37, 98.12, 99.94, 99.86),
    ("jpeg", 90): (63.77, 90.86, 92.08, 79.69, 90.90, 94.59),
}
"""Table II of the paper (spec 5.1)."""


@dataclass
class Table2Scale:
    """How much of the paper's protocol a run uses. ``small`` is the paper's small training set
    and schedule (about 10800 pristine + 10800 processed training patches, 15 recast epochs, 60
    Bayar epochs); ``reduced`` and ``tiny`` are labelled as what they are. ``recast_positions``
    samples that many positions per training histogram of the recast CNN
    (:attr:`RecastNet.sample_positions`); ``bayar_minutes`` stops Bayar2016's training at that
    wall-clock budget. Both are part of the state's task keys (:attr:`tag`), so runs with other
    settings never mix."""

    name: str
    patches_per_image: int
    test_patches_per_image: int
    recast_epochs: int
    bayar_epochs: int
    max_steps: int | None = None
    region: int = 1024
    recast_positions: int | None = None
    bayar_minutes: float | None = None

    @classmethod
    def named(cls, name: str, recast_epochs: int | None = None, bayar_epochs: int | None = None,
              recast_positions: int | None = None, bayar_minutes: float | None = None) -> "Table2Scale":
        """``small`` (up to 160 non-overlapping positions per training photo in a 2048-pixel region:
        at least the paper's 10800 per class on split 0's 82 training photos, some of which are
        smaller than the region), ``reduced`` (a CPU protocol) or ``tiny`` (a smoke test); the
        epochs, position sampling and Bayar budget can be set (the report says so)."""
        scales = {"small": cls("small", 160, 64, 15, 60, region=2048), "reduced": cls("reduced", 12, 8, 1, 1, 20),
                  "tiny": cls("tiny", 2, 2, 1, 1, 2)}
        if name not in scales:
            raise ValueError(f"unknown scale {name!r}; choose from {', '.join(scales)}")
        scale = scales[name]
        scale.recast_epochs = recast_epochs or scale.recast_epochs
        scale.bayar_epochs = bayar_epochs or scale.bayar_epochs
        scale.recast_positions = recast_positions
        scale.bayar_minutes = bayar_minutes
        return scale

    @property
    def tag(self) -> str:
        """The scale's name plus its settings that differ from the paper's, e.g.
        ``small+positions256+bayar5min``."""
        return (self.name + (f"+positions{self.recast_positions}" if self.recast_positions else "")
                + (f"+bayar{self.bayar_minutes:g}min" if self.bayar_minutes else ""))


def shipped_accuracy(bank, manip: str, data) -> float:
    """Balanced accuracy (%) of the shipped detector of ``manip`` on a task's test patches, at its
    shipped window threshold. The task's patches are green only, so a bank's lattice features see
    the green channel as luma and its chroma codes see no colour: the JPEG and noise cells
    understate the shipped detectors (docs/detectors.md measures them on RGB)."""
    logits = bank.patch_logits(data.x)[0][manip]
    (accuracy,) = accuracy_by_strength(logits, data, bank.card.thresholds[manip]).values()
    return accuracy


TABLE2_METHODS = ("svm", "recast", "bayar", "shipped")
"""The methods of a Table II row, in the order a task computes them."""


def run_table2_task(root: Path, manip: str, strength: float, scale: Table2Scale, device, cache: Path | None,
                    seed: int = 0, progress: bool = False, workers: int | None = None,
                    methods: tuple[str, ...] = TABLE2_METHODS, previous: dict | None = None) -> dict:
    """SRM+SVM, recast CNN and Bayar2016 trained on one task, and the shipped detector, scored on
    the held-out makes of split ``seed``: accuracies (%), minutes, epochs, device and the scanner
    version per method. Only ``methods`` are computed (the recast CNN needs the SVM, which is then
    refitted); the other cells come from ``previous``, a row computed before."""
    data = build_task(root, manip, (strength,), scale.patches_per_image, scale.test_patches_per_image, seed,
                      region=scale.region, cache_dir=cache, split="make", workers=workers)
    train_pristine = int(np.sum(data.train.y == 0))
    result = dict(previous or {})
    result.update({"n_train": len(data.train), "n_test": len(data.test), "n_train_pristine": train_pristine,
                   "manifest_sha256": data.manifest_sha256, "train_makes": data.manifest["train_makes"],
                   "test_makes": data.manifest["test_makes"],
                   "train_cameras": len({p["camera"] for p in data.manifest["train"]}),
                   "test_cameras": len({p["camera"] for p in data.manifest["test"]})})
    svm = None
    if {"svm", "recast"} & set(methods):
        t = time.perf_counter()
        svm, report = run_baseline(data, seed)
        result["svm"] = {"accuracy": report["accuracy"][f"{float(strength):g}"], "minutes": (time.perf_counter() - t) / 60,
                         "device": "cpu", "version": __version__}
    for arch, epochs, limits in (("recast", scale.recast_epochs, {"positions": scale.recast_positions}),
                                 ("bayar", scale.bayar_epochs, {"max_minutes": scale.bayar_minutes})):
        if arch not in methods:
            continue
        t = time.perf_counter()
        torch.manual_seed(seed)
        net = build_network(arch, svm if arch == "recast" else None)
        cfg = TrainConfig.for_arch(arch, epochs=epochs, max_steps_per_epoch=scale.max_steps, seed=seed, **limits)
        trained = fine_tune(net, data.train, cfg, device, progress=progress)
        scores = predict_scores(net, data.test.x, device)
        result[arch] = {"accuracy": accuracy_by_strength(scores, data.test)[f"{float(strength):g}"],
                        "minutes": (time.perf_counter() - t) / 60, "epochs": round(trained.epochs_trained, 2),
                        "steps": trained.steps, "epoch_losses": [round(v, 5) for v in trained.losses],
                        "device": str(device), **{k: v for k, v in limits.items() if v is not None},
                        "device_name": torch.cuda.get_device_name(device) if str(device).startswith("cuda") else "cpu",
                        "version": __version__}
    if "shipped" in methods:
        t = time.perf_counter()
        result["shipped"] = {"accuracy": shipped_accuracy(load_shipped([manip]), manip, data.test),
                             "minutes": (time.perf_counter() - t) / 60, "device": "cpu", "version": __version__}
    return result


def _task_key(scale: Table2Scale, manip: str, strength: float) -> str:
    return f"{scale.tag}/{manip}/{float(strength):g}"


def run_table2(root: Path, scale: Table2Scale, out: Path, state: Path, device, cache: Path | None = None,
               tasks: list[tuple[str, float]] | None = None, command: str = "", seed: int = 0, progress=None,
               workers: int | None = None, redo: tuple[str, ...] = ()) -> dict:
    """Every task of Table II (or ``tasks``), resumable: each finished task is written to
    ``state`` (JSON) at once, and a task already there is never recomputed, so a killed run
    loses at most the task it was on. ``redo`` names methods whose cells in finished tasks are
    recomputed where an older scanner version computed them (after a fix); a cell refreshed once
    is not refreshed again. Writes the Markdown report ``out`` of every task in ``state`` at this
    scale."""
    done = json.loads(state.read_text()) if state.exists() else {}
    for manip, strength in tasks or list(PAPER_TABLE2):
        key = _task_key(scale, manip, strength)
        stale = tuple(m for m in redo if key in done and done[key][m].get("version") != __version__)
        if key not in done or stale:
            done[key] = run_table2_task(root, manip, strength, scale, device, cache, seed, workers=workers,
                                        methods=stale or TABLE2_METHODS, previous=done.get(key))
            state.parent.mkdir(parents=True, exist_ok=True)
            temporary = state.with_suffix(".tmp")
            temporary.write_text(json.dumps(done, indent=1))
            temporary.replace(state)
        if progress:
            progress(key, done[key])
    write_table2(done, scale, out, command, seed)
    return done


def write_table2(done: dict, scale: Table2Scale, out: Path, command: str, seed: int) -> None:
    """The Markdown report of the tasks of ``done`` (a Table II state) at ``scale``, in the paper's order."""
    methods = TABLE2_METHODS
    rows = ["| task | SRM+SVM | recast CNN | Bayar2016 | shipped | paper SRM+SVM | paper CNN | paper Bayar | "
            "train (pristine) / test | minutes SVM / CNN / Bayar | CNN, Bayar: epochs, device |",
            "|---|---|---|---|---|---|---|---|---|---|---|"]
    means: dict[str, list] = {k: [] for k in (*methods, "paper")}
    hard = []
    for manip, strength in PAPER_TABLE2:
        r = done.get(_task_key(scale, manip, strength))
        if r is None:
            rows.append(f"| {manip} {float(strength):g} | not run | | | | | | | | | |")
            continue
        paper = PAPER_TABLE2[(manip, strength)]
        for k in methods:
            means[k].append(r[k]["accuracy"])
        means["paper"].append(paper)
        if (manip, strength) in HARD_TASKS:
            hard.append(r["recast"]["accuracy"] >= r["svm"]["accuracy"])
        rows.append(f"| {manip} {float(strength):g} | {r['svm']['accuracy']:.2f} | {r['recast']['accuracy']:.2f} | "
                    f"{r['bayar']['accuracy']:.2f} | {r['shipped']['accuracy']:.2f} | {paper[1]:.2f} | {paper[2]:.2f} | {paper[0]:.2f} | "
                    f"{r['n_train']} ({r['n_train_pristine']}) / {r['n_test']} | {r['svm']['minutes']:.1f} / "
                    f"{r['recast']['minutes']:.1f} / {r['bayar']['minutes']:.1f} | {r['recast']['epochs']}, "
                    f"{r['bayar']['epochs']}: {r['recast'].get('device_name', r['recast']['device'])} |")
    if means["svm"]:
        paper_mean = np.mean(means["paper"], axis=0)
        rows.append(f"| **mean of the {len(means['svm'])} run** | {np.mean(means['svm']):.2f} | {np.mean(means['recast']):.2f} | {np.mean(means['bayar']):.2f} | "
                    f"{np.mean(means['shipped']):.2f} | {paper_mean[1]:.2f} | {paper_mean[2]:.2f} | {paper_mean[0]:.2f} | | | |")
    makes = next(iter(done.values()), {}) if done else {}
    label = "the paper's small training set and schedule" if scale.name == "small" else f"a **{scale.name}** protocol, not the paper's"
    deviations = "".join([
        f" The recast CNN's training histograms average {scale.recast_positions} random positions of each patch instead of"
        " all ~15 600, with the SRM codes as control variate (an unbiased estimate of each histogram; evaluation uses"
        " every position; docs/method.md)." if scale.recast_positions else "",
        f" Bayar2016's training stops after {scale.bayar_minutes:g} minutes per task (a time budget: the"
        " epochs column gives how far it got)." if scale.bayar_minutes else ""])
    caveat = "" if scale.name == "small" else f"""
**At this scale the table compares the pipelines, not the methods.** The recast CNN takes
{scale.recast_epochs * (scale.max_steps or 0) or 'a few'} Adam steps at lr 1e-6 from its SRM+SVM initialisation, so it stays
close to the SVM, and Bayar2016 takes as many SGD steps from a random start, far too few to leave
chance level. The paper's schedule is `--scale small` (15 recast and 60 Bayar epochs on about 10 900 +
10 900 patches per task): about 3.5 hours of recast training per task on this 2-core CPU, and 2.7
minutes per task on an H100 (docs/performance.md; an attempt on a lent H100 is in docs/training-log.md,
run 11). SRM+SVM is fitted on this scale's patches; "shipped" is the shipped bank, trained at the
paper's data scale on the same makes.
"""
    text = f"""# Table II on unseen camera makes: SRM+SVM vs recast CNN vs Bayar2016 (and what ships)

Produced by:

```bash
{command}
```

Scale: {label}: up to {scale.patches_per_image} training positions per photo of the training makes (each a pristine patch and
one processed at the task's strength), {scale.test_patches_per_image} test positions per photo of the held-out makes
(pristine + processed), recast CNN {scale.recast_epochs} epochs, Bayar2016 {scale.bayar_epochs} epochs{f', at most {scale.max_steps} steps per epoch' if scale.max_steps else ''}.{deviations}
Whole camera makes are held out (split seed {seed}, the shipped bank's): training makes {', '.join(makes.get('train_makes', []))};
test makes {', '.join(makes.get('test_makes', []))}. Balanced accuracy (%) on the test makes. "shipped" is the shipped
detector of the task's manipulation (trained on the same makes, all strengths mixed) at its shipped threshold, on the
green patches of the task (its JPEG lattice features need the luma and its noise heads the chroma, so its JPEG and
noise cells understate it: docs/detectors.md measures the shipped detectors on RGB); the other three are trained per task. Paper columns: Table II, small training set. Every row says its minutes, epochs and
device.

Hard tasks (blur 0.5, noise 0.25, resize 1.125 and 1.01, JPEG 90) with the recast CNN at or above SRM+SVM:
**{sum(hard)} of {len(hard)}** run.
{caveat}
{chr(10).join(rows)}
"""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")


HARD_TASKS = {("blur", 0.5), ("noise", 0.25), ("resize", 1.125), ("resize", 1.01), ("jpeg", 90)}
"""The tasks on which the paper's recast CNN beats SRM+SVM clearly."""


# ----------------------------------------------------------------------------- detectors on held-out makes

@dataclass
class TaskResult:
    """One task of Table I on held-out patches: AUC of the shipped detector (its manipulation's
    score), of the task's own head, and of the task's own SRM+SVM baseline fitted on the same
    training makes; TNR, TPR and balanced accuracy (%) of the detector at its shipped threshold."""

    task: str
    auc: float
    auc_head: float
    auc_svm: float
    tnr: float
    tpr: float

    @property
    def balanced_accuracy(self) -> float:
        return (self.tnr + self.tpr) / 2


@dataclass
class ImageResult:
    """Whole photos of held-out makes: how many pristine photos any detector flags (and which
    detectors), and for each manipulation applied to a whole photo at its strongest strength, how
    many are flagged by the right detector and how many get the right named operation."""

    pristine: int
    pristine_flagged: int
    flagged_by: dict[str, int]
    processed: dict[str, tuple[int, int, int]]


def evaluate_patches(bank, data, train_makes: list[str], held_out: dict[str, list[str]]) -> dict[str, list[TaskResult]]:
    """Patch-level results per task on each named set of held-out makes (``data``:
    :class:`scanner.data.BankData`); each task's SRM+SVM is fitted once on ``train_makes``."""
    train = data.of_makes(train_makes)
    srm = [i for i, s in enumerate(bank.submodels) if s.name == "o3t2"][0]
    columns = slice(162 * srm, 162 * srm + 162)
    sets = {name: data.of_makes(makes) for name, makes in held_out.items()}
    pristine = {name: bank.patch_logits_from_features(test.features["pristine"]) for name, test in sets.items()}
    results: dict[str, list[TaskResult]] = {name: [] for name in sets}
    for manip, strength in all_tasks():
        key = task_key(manip, strength)
        x = np.concatenate([train.features["pristine"][:, columns], train.features[key][:, columns]]).astype(np.float64)
        svm = fit_svm(x, np.r_[np.zeros(len(train)), np.ones(len(train))], np.r_[train.camera, train.camera])
        head = bank.tasks.names.index(key)
        own = lambda f: head_input(f, bank.n_histograms, bank.feature_transform) @ bank.tasks.weight[head] + bank.tasks.bias[head]
        t = bank.card.thresholds[manip]
        for name, test in sets.items():
            p, q = pristine[name][manip], bank.patch_logits_from_features(test.features[key])[manip]
            labels = np.r_[np.zeros(len(p)), np.ones(len(q))]
            svm_scores = svm.decision(np.concatenate([test.features["pristine"][:, columns], test.features[key][:, columns]]).astype(np.float64))
            results[name].append(TaskResult(key, float(roc_auc_score(labels, np.r_[p, q])),
                                            float(roc_auc_score(labels, np.r_[own(test.features["pristine"]), own(test.features[key])])),
                                            float(roc_auc_score(labels, svm_scores)), 100 * float(np.mean(p <= t)),
                                            100 * float(np.mean(q > t))))
    return results


IMAGE_CROP = 1536
"""Photos processed as a whole for the image-level check are central crops of at most this side."""


def evaluate_images(bank, pristine_photos: list, processed_photos: list, stride: int = 32) -> ImageResult:
    """Image-level results: pristine photos scanned whole as stored; ``processed_photos`` cropped
    centrally to :data:`IMAGE_CROP` and processed as a whole at each manipulation's strongest strength."""
    options = ScanOptions(stride=stride)
    flagged_by = {n: 0 for n in bank.names}
    flagged = 0
    for photo in pristine_photos:
        analysis = analyze(load_pixels(photo.path)[0], bank, options)
        flagged += analysis.flagged
        for n, d in analysis.detections.items():
            flagged_by[n] += d.flagged
    processed = {}
    for name in bank.names:
        manip = manipulations.get(name)
        right = named = 0
        for k, photo in enumerate(processed_photos):
            rgb = load_rgb(photo.path)
            h, w = rgb.shape[:2]
            top, left = max(0, (h - IMAGE_CROP) // 2) // 16 * 16, max(0, (w - IMAGE_CROP) // 2) // 16 * 16
            crop = rgb[top : top + IMAGE_CROP, left : left + IMAGE_CROP]
            analysis = analyze(manip.apply(crop, manip.strengths[0], k), bank, options)
            right += analysis.detections[name].flagged
            named += analysis.operation == name
        processed[name] = (len(processed_photos), right, named)
    return ImageResult(len(pristine_photos), flagged, flagged_by, processed)
