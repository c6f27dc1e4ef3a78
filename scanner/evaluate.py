"""Evaluations on held-out makes: detectors per task and per image, and forgery localisation
(the shipped detectors against SRM+SVM heat maps).

Both heat maps come from the same dense code: the SRM+SVM baseline is a one-submodel
:class:`scanner.bank.SRMBank` (the paper's descriptor) with the SVM as its head, so the two
are compared on equal terms (same windows, same stride, same pixel mapping, same image rule).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .data import PATCH, list_photos, split_by_make
from .forgery import Forgery, copy_move, splice
from .heatmaps import pixel_map
from .images import load_rgb

CROP = 768
"""Forgeries are made on central crops of CROP x CROP pixels of the held-out photos."""


def f1_mcc(prediction: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """Pixel F1 and Matthews correlation of boolean maps."""
    tp = float(np.sum(prediction & truth))
    fp = float(np.sum(prediction & ~truth))
    fn = float(np.sum(~prediction & truth))
    tn = float(prediction.size - tp - fp - fn)
    f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    denom = np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    return f1, float((tp * tn - fp * fn) / denom) if denom else 0.0


def localisation_scores(prob: np.ndarray, truth: np.ndarray, threshold: float) -> dict:
    """Pixel AUC; F1 and MCC at ``threshold`` and at the best threshold for this image
    (among 40 quantiles of ``prob`` and ``threshold`` itself)."""
    from sklearn.metrics import roc_auc_score

    auc = float(roc_auc_score(truth.ravel(), prob.ravel())) if 0 < truth.mean() < 1 else float("nan")
    f1, mcc = f1_mcc(prob > threshold, truth)
    best_f1, best_mcc = 0.0, -1.0
    for t in np.unique(np.append(np.quantile(prob, np.linspace(0, 1, 41)[:-1]), threshold)):
        bf, bm = f1_mcc(prob > t, truth)
        best_f1, best_mcc = max(best_f1, bf), max(best_mcc, bm)
    return {"auc": auc, "f1": f1, "mcc": mcc, "best_f1": best_f1, "best_mcc": best_mcc}


@dataclass
class Case:
    """A kind of forgery: a splice of a processed region, or a resized copy-move."""

    kind: str  # "splice" or "copy-move"
    manip: str
    strength: float

    @property
    def label(self) -> str:
        return f"splice {self.manip} {self.strength:g}" if self.kind == "splice" else f"copy-move resize {self.strength:g}"

    def make(self, target: np.ndarray, donor: np.ndarray, seed: int) -> Forgery:
        if self.kind == "splice":
            return splice(target, donor, self.manip, self.strength, seed)
        return copy_move(target, self.strength, seed)


def training_descriptors(root: Path, seed: int = 0):
    """Bank descriptors (:class:`scanner.data.BankData`) of the training makes of split ``seed``."""
    from .data import build_bank, camera_make
    from .train import BANK_SUBMODELS

    photos = list_photos(root)
    split = split_by_make(photos, seed)
    return build_bank(root, BANK_SUBMODELS, photos).of_makes({camera_make(p.camera) for p in split["train"] + split["validation"]})


def svm_bank(train, manip: str, seed: int = 0):
    """The SRM + linear SVM baseline of one manipulation (its three strengths mixed, as the
    shipped detector sees them) as a one-submodel bank, fitted on ``train``
    (:func:`training_descriptors`); its window threshold passes 0.5% of the training pristine
    windows, and the same threshold with the default core area is its image rule."""
    from .bank import LinearHeads, SRMBank
    from .data import all_tasks, task_key
    from .scan import MIN_AREA, sigmoid
    from .train import BANK_SUBMODELS, WINDOW_FPR, fit_svm

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
    card = {"thresholds": {manip: {"logit": threshold, "probability": probability}},
            "image_rule": {manip: {"threshold": probability, "min_area": MIN_AREA}}}
    empty = LinearHeads([], np.zeros((0, 162)), np.zeros(0))
    return SRMBank((BANK_SUBMODELS[srm],), "identity", LinearHeads([f"{manip}:all"], v[None], np.array([beta])), empty, card)


def held_out_crops(root: Path, seed: int = 0, limit: int | None = None) -> list[tuple[str, np.ndarray]]:
    """Central CROP x CROP crops of the photos of the held-out makes of split ``seed`` (the
    split the shipped detectors were trained with), skipping photos smaller than the crop."""
    test = split_by_make(list_photos(root), seed)["test"]
    crops = []
    for photo in test:
        rgb = load_rgb(photo.path)
        h, w = rgb.shape[:2]
        if min(h, w) < CROP:
            continue
        top, left = (h - CROP) // 2 // 16 * 16, (w - CROP) // 2 // 16 * 16
        crops.append((photo.camera, rgb[top : top + CROP, left : left + CROP]))
        if limit and len(crops) >= limit:
            break
    return crops


def evaluate_case(case: Case, crops: list[tuple[str, np.ndarray]], shipped, baseline, stride: int = 16,
                  device: str = "cpu", seed: int = 0) -> tuple[dict, dict]:
    """Metrics for one case over forgeries made from ``crops`` (each crop the target once, the
    next crop the donor), for the ``shipped`` detector set and the SRM+SVM ``baseline``
    (:func:`svm_bank`). Returns (metrics by method, an example for the figure)."""
    from sklearn.metrics import roc_auc_score

    from .scan import ScanOptions, analyze

    methods = {"cnn": shipped.select([case.manip]), "svm": baseline}
    options = ScanOptions(stride=stride, device=device)
    rows: dict[str, list[dict]] = {m: [] for m in methods}
    image_scores: dict[str, tuple[list, list]] = {m: ([], []) for m in methods}
    example = None
    for i, (_, target) in enumerate(crops):
        forged = case.make(target, crops[(i + 1) % len(crops)][1], seed + i)
        maps = {}
        for name, detectors in methods.items():
            forged_result = analyze(forged.image[..., 1], detectors, options)
            pristine_result = analyze(target[..., 1], detectors, options)
            prob = pixel_map(forged_result.probabilities[case.manip], stride, forged.mask.shape)
            rows[name].append(localisation_scores(prob, forged.mask, forged_result.detections[case.manip].threshold))
            image_scores[name][0].append(forged_result.detections[case.manip].score)
            image_scores[name][1].append(pristine_result.detections[case.manip].score)
            maps[name] = prob
        if example is None or forged.mask.mean() > example["mask"].mean():
            example = {"original": target, "forged": forged.image, "mask": forged.mask, **maps}
    result = {}
    for name in methods:
        table = {k: float(np.nanmean([r[k] for r in rows[name]])) for k in rows[name][0]}
        forged_s, pristine_s = image_scores[name]
        table["image_auc"] = float(roc_auc_score([1] * len(forged_s) + [0] * len(pristine_s), forged_s + pristine_s))
        result[name] = table
    return result, example


def figure(example: dict, path: Path, title: str) -> None:
    """Original | forgery | mask | SRM+SVM map | shipped map, side by side, as a PNG."""
    from PIL import Image, ImageDraw

    from .heatmaps import colormap

    tile = 256
    panels = [("original", example["original"]), ("forgery", example["forged"]),
              ("ground truth", np.repeat((example["mask"] * 255).astype(np.uint8)[..., None], 3, 2)),
              ("SRM+SVM", colormap(example["svm"])), ("shipped", colormap(example["cnn"]))]
    canvas = Image.new("RGB", (tile * len(panels), tile + 40), "white")
    draw = ImageDraw.Draw(canvas)
    for k, (label, image) in enumerate(panels):
        canvas.paste(Image.fromarray(image).resize((tile, tile), Image.Resampling.BILINEAR), (k * tile, 20))
        draw.text((k * tile + 6, 4), label, fill="black")
    draw.text((6, tile + 24), title, fill="black")
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(path)


FIGURE_CASES = {"splice blur 0.5", "copy-move resize 1.125"}


def all_cases() -> list[Case]:
    """Splices of every manipulation at every strength, then copy-moves at the three scales."""
    from .manipulations import MANIPULATIONS

    cases = [Case("splice", m, s) for m, spec in MANIPULATIONS.items() for s in spec.strengths]
    return cases + [Case("copy-move", "resize", s) for s in MANIPULATIONS["resize"].strengths]


def run_localisation(root: Path, detectors, out: Path, n_images: int = 8, stride: int = 16,
                     device: str = "cpu", seed: int = 0, command: str = "", progress=None) -> dict:
    """Evaluate every case on ``n_images`` held-out crops; write ``out`` (Markdown) and its
    figures beside it in ``figures/``. Returns {case label: {method: metrics}}."""
    import time

    crops = held_out_crops(root, seed, n_images)
    results, lines = {}, []
    started = time.perf_counter()
    from .manipulations import MANIPULATIONS

    train = training_descriptors(root, seed)
    baselines = {}
    for case in all_cases():
        if case.manip not in baselines:
            baselines[case.manip] = svm_bank(train, case.manip, seed)
        metrics, example = evaluate_case(case, crops, detectors, baselines[case.manip], stride, device, seed)
        results[case.label] = metrics
        if case.label in FIGURE_CASES or (case.kind == "splice" and case.strength == MANIPULATIONS[case.manip].strengths[0]):
            name = case.label.replace(" ", "_") + ".png"
            figure(example, out.parent / "figures" / name, f"{case.label}: original, forgery, mask, SRM+SVM, shipped")
            lines.append(f"\n### {case.label}\n\n![{case.label}](figures/{name})\n")
        if progress:
            progress(case.label, metrics)
    header = ["case", "shipped AUC", "SVM AUC", "shipped F1@thr", "SVM F1@thr", "shipped MCC@thr", "SVM MCC@thr",
              "shipped best F1", "SVM best F1", "shipped best MCC", "SVM best MCC", "shipped image AUC", "SVM image AUC"]
    table = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for label, m in results.items():
        c, s = m["cnn"], m["svm"]
        cells = [c["auc"], s["auc"], c["f1"], s["f1"], c["mcc"], s["mcc"], c["best_f1"], s["best_f1"],
                 c["best_mcc"], s["best_mcc"], c["image_auc"], s["image_auc"]]
        table.append(f"| {label} | " + " | ".join(f"{v:.3f}" for v in cells) + " |")
    cameras = sorted({camera.strip(' \x00') for camera, _ in crops})  # EXIF names carry NUL padding
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
photo and case (the next photo is the splice donor); heat maps at stride {stride}, device {device}; {time.perf_counter() - started:.0f} s.

- Splice: a random blob (12-25% of the crop) of the donor, processed as a whole image first, pasted into the target.
- Copy-move: a blob (8-16%) of the same crop, resized (bicubic) and pasted elsewhere, not overlapping its source.
- Pixel maps: each pixel takes the probability of the 128x128 window centred nearest to it.
- AUC: pixel-level ROC AUC, averaged over forgeries. F1 and MCC **@thr** at each detector's window threshold
  (shipped: model card; SVM: 0.5% of its training pristine windows); **best**: the best of 40 quantile
  thresholds per image (an oracle, as usual in the literature), averaged.
- Image AUC: the image score (see the README: the highest window probability whose windows form a region as
  large as the image rule asks) of the forgeries against the same crops unforged.
- SRM+SVM maps are computed with the same dense code as the shipped detectors' (a one-submodel bank with the SVM
  as its head), so both see the same windows.

"shipped" = the shipped detector of the case's manipulation (the SRM bank); SVM = the SRM + linear SVM baseline
(the paper's 162-bin descriptor, three strengths mixed) fitted on the same training makes.

{chr(10).join(table)}

## Figures

Original, forgery, ground-truth mask, SRM+SVM map, shipped detector's map (probability, black = 0, white = 1).
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
    """How much of the paper's protocol a run uses. ``full`` is the paper's small-set schedule
    (15 recast epochs, 60 Bayar epochs); ``reduced`` is the CPU protocol, labelled as such."""

    name: str
    patches_per_image: int
    test_patches_per_image: int
    recast_epochs: int
    bayar_epochs: int
    max_steps: int | None = None
    region: int = 1024

    @classmethod
    def named(cls, name: str) -> "Table2Scale":
        """``full`` (108 positions per photo: about the paper's 10800 per class on ~100 photos),
        ``reduced`` (the CPU protocol) or ``tiny`` (a smoke test)."""
        scales = {"full": cls("full", 108, 16, 15, 60, region=1536), "reduced": cls("reduced", 12, 8, 1, 1, 20),
                  "tiny": cls("tiny", 2, 2, 1, 1, 2)}
        if name not in scales:
            raise ValueError(f"unknown scale {name!r}; choose from {', '.join(scales)}")
        return scales[name]


def run_table2_task(root: Path, manip: str, strength: float, scale: Table2Scale, device, cache: Path | None,
                    seed: int = 0, progress: bool = False) -> dict:
    """SRM+SVM, recast CNN and Bayar2016 on one task; accuracies (%) on held-out cameras and wall times."""
    import time

    import torch

    from .data import build_task
    from .train import (TrainConfig, accuracy_by_strength, build_network, fine_tune, predict_scores, run_baseline)

    data = build_task(root, manip, (strength,), scale.patches_per_image, scale.test_patches_per_image, seed,
                      region=scale.region, cache_dir=cache)
    result = {"n_train": len(data.train), "n_test": len(data.test), "manifest_sha256": data.manifest_sha256,
              "train_cameras": len({p["camera"] for p in data.manifest["train"]}),
              "test_cameras": len({p["camera"] for p in data.manifest["test"]})}
    t = time.perf_counter()
    svm, report = run_baseline(data, seed)
    result["svm"] = {"accuracy": report["accuracy"][f"{float(strength):g}"], "seconds": time.perf_counter() - t}
    for arch, epochs in (("recast", scale.recast_epochs), ("bayar", scale.bayar_epochs)):
        t = time.perf_counter()
        torch.manual_seed(seed)
        net = build_network(arch, svm if arch == "recast" else None)
        cfg = TrainConfig.for_arch(arch, epochs=epochs, max_steps_per_epoch=scale.max_steps, seed=seed)
        fine_tune(net, data.train, cfg, device, progress=progress)
        scores = predict_scores(net, data.test.x, device)
        result[arch] = {"accuracy": accuracy_by_strength(scores, data.test)[f"{float(strength):g}"],
                        "seconds": time.perf_counter() - t, "epochs": epochs}
    return result


def run_table2(root: Path, scale: Table2Scale, out: Path, state: Path, device, cache: Path | None = None,
               tasks: list[tuple[str, float]] | None = None, command: str = "", seed: int = 0, progress=None) -> dict:
    """Every task of Table II (or ``tasks``), resumable: results are kept in ``state`` (JSON) and a
    task already there is not recomputed. Writes the Markdown report ``out``."""
    import json
    import platform

    done = json.loads(state.read_text()) if state.exists() else {}
    key_of = lambda m, s: f"{scale.name}/{m}/{float(s):g}"  # noqa: E731
    for manip, strength in tasks or list(PAPER_TABLE2):
        key = key_of(manip, strength)
        if key not in done:
            done[key] = run_table2_task(root, manip, strength, scale, device, cache, seed)
            state.parent.mkdir(parents=True, exist_ok=True)
            state.write_text(json.dumps(done, indent=1))
        if progress:
            progress(key, done[key])
    rows = ["| task | SRM+SVM | recast CNN | Bayar2016 | paper SRM+SVM | paper CNN | paper Bayar | n train / test | s SVM / CNN / Bayar |",
            "|---|---|---|---|---|---|---|---|---|"]
    means = {"svm": [], "recast": [], "bayar": [], "paper": []}
    for manip, strength in tasks or list(PAPER_TABLE2):
        r = done[key_of(manip, strength)]
        paper = PAPER_TABLE2.get((manip, strength), PAPER_TABLE2.get((manip, int(strength)), (float("nan"),) * 6))
        for k in ("svm", "recast", "bayar"):
            means[k].append(r[k]["accuracy"])
        means["paper"].append(paper)
        rows.append(f"| {manip} {float(strength):g} | {r['svm']['accuracy']:.2f} | {r['recast']['accuracy']:.2f} | {r['bayar']['accuracy']:.2f} "
                    f"| {paper[1]:.2f} | {paper[2]:.2f} | {paper[0]:.2f} | {r['n_train']} / {r['n_test']} "
                    f"| {r['svm']['seconds']:.0f} / {r['recast']['seconds']:.0f} / {r['bayar']['seconds']:.0f} |")
    paper_mean = np.mean(means["paper"], axis=0)
    rows.append(f"| **mean of these tasks** | {np.mean(means['svm']):.2f} | {np.mean(means['recast']):.2f} | {np.mean(means['bayar']):.2f} "
                f"| {paper_mean[1]:.2f} | {paper_mean[2]:.2f} | {paper_mean[0]:.2f} | | |")
    label = "the paper's small-set schedule" if scale.name == "full" else f"a **{scale.name}** protocol, not the paper's"
    caveat = "" if scale.name == "full" else (
        "\n**At this scale the table tests the pipeline, not the methods.** The recast CNN gets a few dozen Adam steps at "
        "lr 1e-6 from its SRM+SVM initialisation (its FC comes from the SVM on exact features while the network computes "
        "soft-max features, which costs accuracy at the start), and Bayar2016 gets the same number of SGD steps from a "
        "random initialisation, far too few to leave chance level. Run `--scale full` on a GPU for the paper's protocol.\n")
    text = f"""# Table II on unseen cameras: SRM+SVM vs recast CNN vs Bayar2016

Produced by:

```bash
{command}
```

Scale: {label}: {scale.patches_per_image} training positions per photo (pristine + processed),
{scale.test_patches_per_image} test positions per held-out photo, recast CNN {scale.recast_epochs} epoch(s), Bayar2016
{scale.bayar_epochs} epoch(s){f', at most {scale.max_steps} steps per epoch' if scale.max_steps else ''}. Device: {device}
({platform.processor() or platform.machine()}, torch threads {__import__('torch').get_num_threads()}). Balanced accuracy (%) on
cameras never seen in training; the camera split is the detectors' (seed {seed}). Paper columns: Table II, small training set.
{caveat}
{chr(10).join(rows)}
"""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    return done


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
    from sklearn.metrics import roc_auc_score

    from .bank import transform
    from .data import all_tasks, task_key
    from .train import fit_svm

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
        own = lambda f: transform(f.astype(np.float64), bank.feature_transform) @ bank.tasks.weight[head] + bank.tasks.bias[head]
        t = bank.card["thresholds"][manip]["logit"]
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
    from . import manipulations
    from .images import load_green, load_rgb
    from .scan import ScanOptions, analyze

    options = ScanOptions(stride=stride)
    flagged_by = {n: 0 for n in bank.names}
    flagged = 0
    for photo in pristine_photos:
        analysis = analyze(load_green(photo.path)[0], bank, options)
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
            out = manip.apply(crop[..., 1] if manip.per_channel else crop, manip.strengths[0], k)
            analysis = analyze(out[..., 1] if out.ndim == 3 else out, bank, options)
            right += analysis.detections[name].flagged
            named += analysis.operation == name
        processed[name] = (len(processed_photos), right, named)
    return ImageResult(len(pristine_photos), flagged, flagged_by, processed)
