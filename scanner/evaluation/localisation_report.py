"""The Markdown page of the localisation benchmark (:func:`scanner.evaluation.localisation.run_localisation`):
per-case metrics of the shipped maps against SRM+SVM, the map of any detector, copy-move sources,
false alarms on unforged crops, and the figures."""

from __future__ import annotations

from pathlib import Path

from ..scoring.maps import scale_stride
from .forgeries import CROP


def case_table(results: dict[str, dict], labels: list[str]) -> list[str]:
    """Markdown rows of the metrics of the cases ``labels``, each method's maps side by side."""
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


PAGE = """# Localisation results

Produced by:

```bash
{command}
```

Detectors: `{weights_dir}`; forgeries from **{n_photos} held-out photos**
(cameras never used in training: {cameras}), central {crop}x{crop} crops; one forgery per
photo and case (the next photo is the splice donor); 128-pixel windows at stride {stride}, 64 at
{stride64} and 32 at {stride32}; device {device}; {seconds:.0f} s.

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

Older measurements (three splits, every held-out photo, forgeries saved as JPEG after the edit,
files never stored as JPEG, edits no detector was trained on), on 0.5.2-0.7.1's weights:
[localization-older.md](localization-older.md).

Small forgeries: the fused map beats the 128-pixel map in best-threshold F1 in **{wins} of {n_small}** cases.

## Small forgeries (1-5% of the image)

{small_table}

## Large forgeries

{large_table}

## When the operation is unknown: the map of any detector

The tables above read the map of the detector of the case's own operation, which an analyst facing a real
forgery does not know. `scanner scan` also draws the map of any detector (`any`, `scanner.scoring.maps.any_map`): per
cell, the largest of the five detectors' fused maps and of their distances from their own image's median (above
or below), each less an offset and a threshold calibrated on training photos (the card's `any_map`), so that a
region standing out from the rest of its image counts even where its detector sits below its pristine level
everywhere; the distances of the resaved heads' maps count too (since 0.6.0). Same forgeries, every shipped
detector:

{blind}

## Copy-moves: the untouched source region

Share of the source region's pixels over the map threshold, against the share of the rest of the image (neither
pasted nor source). The source is a true part of the photo; it shows only where the copy's pixels resemble it.

{source}

## False alarms on the unforged crops

Share of the pixels of the {n_photos} unforged held-out crops over each detector's map threshold (`any`: over 0 in
the map of any detector). The verdict
(image rule) does not use the map, so per-image false alarms are those of `docs/status.md` whichever map is drawn.

{pristine}

## Figures

Original, forgery, ground-truth mask, SRM+SVM fused map, shipped 128-pixel map, shipped fused map (sigmoid of the
map value: black 0, white 1, 0.5 at the threshold).
{figures}
"""
"""The page, its fields filled by :func:`localisation_markdown`."""


def localisation_markdown(results: dict[str, dict], n_photos: int, cameras: list[str], rates: dict[str, dict[str, float]],
                          figures: list[str], detectors_folder: Path, stride: int, device: str, command: str, seconds: float) -> str:
    """The page: ``results`` {case label: {method: metrics}} on crops of ``n_photos`` photos of
    ``cameras``, ``rates`` of pristine pixels over each detector's map threshold, ``figures``
    (Markdown sections), the detectors' folder, the stride (pixels), device, command and run time (s)."""
    methods = list(next(iter(results.values())))  # the maps compared, as evaluate_case names them
    small = [label for label in results if label.startswith("small ")]
    large = [label for label in results if label not in small]
    moves = [label for label in results if "copy-move" in label]
    source = ["| case | " + " | ".join(f"{m}: source over | {m}: elsewhere over" for m in methods) + " |",
              "|" + "---|" * (1 + 2 * len(methods))]
    for label in moves:
        source.append(f"| {label} | " + " | ".join(f"{results[label][m]['source_over']:.3f} | {results[label][m]['elsewhere_over']:.3f}"
                                                 for m in methods) + " |")
    pristine = ["| detector | fused | 128 |", "|---|---|---|"]
    pristine += [f"| {d} | {r['fused']:.4f} | {r['128']:.4f} |" for d, r in rates.items()]
    blind = ["| case | any fused AUC | any F1@thr | any best F1 | own detector: fused AUC | own: best F1 |", "|---|---|---|---|---|---|"]
    blind += [f"| {label} | {m['any fused']['auc']:.3f} | {m['any fused']['f1']:.3f} | {m['any fused']['best_f1']:.3f} | "
              f"{m['fused']['auc']:.3f} | {m['fused']['best_f1']:.3f} |" for label, m in results.items()]
    wins = sum(results[label]["fused"]["best_f1"] > results[label]["128"]["best_f1"] for label in small)
    weights_dir = detectors_folder
    if weights_dir.resolve().is_relative_to(Path.cwd().resolve()):
        weights_dir = weights_dir.resolve().relative_to(Path.cwd().resolve())
    return PAGE.format(
        command=command, weights_dir=weights_dir, n_photos=n_photos, cameras=", ".join(cameras), crop=CROP, stride=stride,
        stride64=scale_stride(64, stride), stride32=scale_stride(32, stride), device=device, seconds=seconds, wins=wins,
        n_small=len(small), small_table="\n".join(case_table(results, small)), large_table="\n".join(case_table(results, large)),
        blind="\n".join(blind), source="\n".join(source), pristine="\n".join(pristine), figures="".join(figures))
