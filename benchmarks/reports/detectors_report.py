"""Held-out accuracy of SRM banks against per-task SRM+SVM baselines -> docs/detectors.md.

    python -m benchmarks.reports.detectors_report --bank 0=weights --bank 1=models/seed1 --bank 2=models/seed2 \
        [--images ../shared/data/pristine] [--out docs/detectors.md]

or one split at a time, then together:

    python -m benchmarks.reports.detectors_report --bank 1=models/seed1 --save split1.json
    python -m benchmarks.reports.detectors_report --load split0.json --load split1.json --load split2.json

Each ``SPLIT=FOLDER`` is a bank trained by ``scanner train --split SPLIT --out FOLDER`` (SPLIT: a seed, or
``sealed``: benchmarks/reports/status_report.py reports that one); it is
evaluated on the makes its split held out (never seen in training or calibration), and on the
lossless Kodak and McMaster film scans as a second check:

- patches: per task, AUC of the detector (its manipulation's score), of the task's own head and
  of the task's SRM+SVM (the paper's 162-bin descriptor, LinearSVC, C by grouped CV, fitted on the
  same training makes); TNR, TPR and balanced accuracy at the shipped threshold;
- images: pristine photos flagged by any detector (whole photos as stored), and photos processed
  as a whole at the strongest strength (central crops of at most 1536 px) flagged by the right
  detector and given the right named operation.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

import scanner
from scanner.evaluation.held_out import evaluate_images, evaluate_patches
from scanner.families.registry import load_shipped
from scanner.training.bank_data import build_bank
from scanner.training.photos import camera_make, default_pristine_dir, list_photos, make_split


def evaluate_split(root: Path, split: str, folder: Path) -> dict:
    """Held-out results of the bank in ``folder`` on the test makes of the make split ``split``
    (``sealed`` or a seed), which must be the split the bank was trained on."""
    bank = load_shipped(directory=folder)
    trained = bank.trained_on.name if bank.trained_on else None
    if trained != split:
        raise SystemExit(f"{folder}: trained on split {trained}, not {split}")
    photos = list_photos(root)
    sides = make_split(photos, split)
    data = build_bank(root, bank.submodels, photos)
    test_makes = list(bank.trained_on.test_makes)
    started = time.perf_counter()
    held = evaluate_patches(bank, data, list(bank.trained_on.train_makes),
                            {"test": test_makes, "lossless": sorted({camera_make(p.camera) for p in sides["lossless"]})})
    images = evaluate_images(bank, sides["test"], sides["test"])
    lossless_images = evaluate_images(bank, sides["lossless"], [])
    card = bank.card.to_json()
    return {"split": split, "folder": str(folder), "version": scanner.__version__, "test_makes": test_makes,
            "n_test_photos": len(sides["test"]), "n_test_positions": int(np.isin(data.make, test_makes).sum()),
            "patches": [vars(r) for r in held["test"]], "lossless": [vars(r) for r in held["lossless"]], "images": vars(images),
            "lossless_images": vars(lossless_images), "seconds": round(time.perf_counter() - started),
            "card": {k: card[k] for k in ("thresholds", "image_rule", "heads")}}


def markdown(results: list[dict], command: str) -> str:
    lines = ["# Detectors: held-out makes", "", "Produced by:", "", "```bash", command, "```", ""]
    lines += ["Every number is measured on camera makes that the bank never saw in training or calibration "
              "(the split's `test` side; see `scanner.training.photos.split_by_make`). These banks serve design decisions; what ships since 0.8.0 is trained on the sealed split and measured in docs/status.md.", ""]
    tasks = [r["task"] for r in results[0]["patches"]]
    lines += ["## Patches: AUC per task, per split", "",
              "| task | " + " | ".join(f"split {r['split']}: detector / head / SRM+SVM" for r in results) + " | detector >= SVM |",
              "|---|" + "---|" * (len(results) + 1)]
    for i, task in enumerate(tasks):
        cells = [f"{r['patches'][i]['auc']:.4f} / {r['patches'][i]['auc_head']:.4f} / {r['patches'][i]['auc_svm']:.4f}" for r in results]
        wins = sum(r["patches"][i]["auc"] >= r["patches"][i]["auc_svm"] for r in results)
        lines.append(f"| {task} | " + " | ".join(cells) + f" | {wins}/{len(results)} |")
    lines += ["", "## Patches: at the shipped threshold (TNR / TPR / balanced accuracy, %), mean and spread over splits", "",
              "| task | TNR | TPR | balanced accuracy | lossless sets: AUC, balanced accuracy |", "|---|---|---|---|---|"]
    for i, task in enumerate(tasks):
        def spread(key: str, side: str = "patches") -> str:
            values = [r[side][i][key] if key != "balanced" else (r[side][i]["tnr"] + r[side][i]["tpr"]) / 2 for r in results]
            return f"{np.mean(values):.1f} ({min(values):.1f}-{max(values):.1f})" if key != "auc" else f"{np.mean(values):.4f}"
        lines.append(f"| {task} | {spread('tnr')} | {spread('tpr')} | {spread('balanced')} | {spread('auc', 'lossless')}, "
                     f"{spread('balanced', 'lossless')} |")
    lines += ["", "## Whole photos", "",
              "| split | held-out makes | pristine photos flagged (any detector) | by detector | lossless film scans flagged |"
              " processed as a whole at the strongest strength: right detector flags / right operation named |",
              "|---|---|---|---|---|---|"]
    for r in results:
        im, li = r["images"], r["lossless_images"]
        processed = ", ".join(f"{m} {right}/{n}, {named}/{n}" for m, (n, right, named) in im["processed"].items())
        by = lambda flagged: ", ".join(f"{k} {v}" for k, v in flagged.items() if v) or "none"
        lines.append(f"| {r['split']} | {', '.join(r['test_makes'])} | {im['pristine_flagged']}/{im['pristine']} | {by(im['flagged_by'])} | "
                     f"{li['pristine_flagged']}/{li['pristine']} ({by(li['flagged_by'])}) | {processed} |")
    lines += ["", "## Calibration of the shipped bank (split 0)", "", "```json",
              json.dumps({k: results[0]["card"][k] for k in ("thresholds", "image_rule")}, indent=1), "```", "",
              "Head chosen per task (out-of-fold AUC on the training makes):", "",
              "| task | chosen | out-of-fold AUC of each candidate |", "|---|---|---|"]
    for task, head in results[0]["card"]["heads"].items():
        lines.append(f"| {task} | {head['choice']} | " + ", ".join(f"{k} {v:.4f}" for k, v in head["out_of_fold_auc"].items()) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bank", action="append", default=[], help="SEED=FOLDER, repeat for each split")
    parser.add_argument("--load", action="append", default=[], type=Path, help="results saved by --save, repeat")
    parser.add_argument("--save", type=Path, default=None, help="write the raw results of the --bank splits here, no Markdown")
    parser.add_argument("--images", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=Path("docs/detectors.md"))
    args = parser.parse_args()
    root = args.images or default_pristine_dir()
    results = [r for path in args.load for r in json.loads(path.read_text())]
    for spec in args.bank:
        split, folder = spec.split("=", 1)
        results.append(evaluate_split(root, split, Path(folder)))
        print(f"split {split}: {results[-1]['seconds']} s", flush=True)
    if args.save:
        args.save.write_text(json.dumps(results, indent=1), encoding="utf-8")
        return
    results.sort(key=lambda r: r["split"])
    commands = [f"python -m benchmarks.reports.detectors_report --bank {r['split']}={r['folder']} --save split{r['split']}.json" for r in results]
    commands.append("python -m benchmarks.reports.detectors_report " + " ".join(f"--load split{r['split']}.json" for r in results))
    args.out.write_text(markdown(results, "\n".join(commands)), encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
