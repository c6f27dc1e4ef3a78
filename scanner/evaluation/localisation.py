"""Forgery localisation on held-out makes: the shipped detectors against SRM+SVM heat maps.

Both heat maps come from the same dense code: the SRM+SVM baseline is a one-submodel
:class:`scanner.families.bank.SRMBank` (the paper's descriptor) with the SVM as its head, so the two
are compared on equal terms (same windows, same stride, same pixel mapping, same image rule)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from sklearn.metrics import roc_auc_score

from ..core.constants import MAP_CELL, MIN_AREA, PATCH
from ..core.types import sigmoid
from ..families.bank import SRMBank
from ..families.bank_card import BankCard, CoreRule
from ..families.heads import LinearHeads
from ..processing.manipulations import MANIPULATIONS, all_tasks, task_key
from ..scoring.analysis import analyze
from ..scoring.options import ScanOptions
from ..training.bank import BANK_SUBMODELS
from ..training.bank_data import build_bank
from ..training.calibration import WINDOW_FPR, calibrate_scales, crop_scores
from ..training.photos import camera_make, list_photos, make_split
from ..training.svm import fit_svm
from ..writers.figures import colormap, pixel_map
from .forgeries import Case, all_cases, forgeries, held_out_crops
from .localisation_report import localisation_markdown
from .metrics import localisation_scores


def training_descriptors(root: Path, split: str = "0"):
    """Bank descriptors (:class:`scanner.training.bank_data.BankData`) of the training makes of the make split
    named ``split`` (:func:`scanner.training.photos.make_split`)."""
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
    text = localisation_markdown(results, len(crops), sorted({camera for camera, _ in crops}), rates, lines, detectors.path.parent,
                                 stride, device, command, time.perf_counter() - started)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    return results
