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
from ..families.bank import LinearHeads, SRMBank
from ..families.bank_card import BankCard, CoreRule
from ..processing.manipulations import MANIPULATIONS, all_tasks, task_key
from ..scoring.analysis import analyze
from ..scoring.maps import scale_stride
from ..scoring.options import ScanOptions
from ..training.bank import BANK_SUBMODELS
from ..training.bank_data import build_bank
from ..training.calibration import WINDOW_FPR, calibrate_scales, crop_scores
from ..training.photos import camera_make, list_photos, make_split
from ..training.svm import fit_svm
from ..writers.figures import colormap, pixel_map
from .forgeries import CROP, Case, all_cases, forgeries, held_out_crops
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
