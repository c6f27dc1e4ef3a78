"""What the README's Status states: the shipped bank on the sealed split's held-out makes, with
photo-level bootstrap intervals -> docs/status.md.

    python -m benchmarks.reports.status_report [--weights weights] [--images ../shared/data/pristine] [--out docs/status.md]

The bank must have been trained on the sealed split (``scanner train --split sealed``): its test
makes (:data:`scanner.training.photos.SEALED_TEST_MAKES`) were read by no design decision. Every
rate counts distinct photos, and every interval resamples photos, not windows
(:func:`scanner.evaluation.held_out.photo_interval`, 1000 resamples, 95%).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import scanner
from benchmarks.reports.detectors_report import evaluate_split
from scanner.families.cards import shipped_dir
from scanner.training.photos import SEALED, default_pristine_dir


def interval(pair) -> str:
    return f"[{pair[0]:.1f}, {pair[1]:.1f}]"


def by(images: dict) -> str:
    """Which detectors flagged the untouched photos of an image result (a photo may count for several)."""
    return "by " + (", ".join(f"{k} {v}" for k, v in images["flagged_by"].items() if v) or "none")


def markdown(r: dict, command: str) -> str:
    """The page of one sealed-split result of :func:`evaluate_split`."""
    lines = [f"# Status: the shipped detectors on makes no decision has read (scanner {r['version']})", "",
             "Produced by:", "", "```bash", command, "```", "",
             f"Test side of the sealed split: **{r['n_test_photos']} photos** of {len(r['test_makes'])} makes "
             f"({', '.join(r['test_makes'])}), {r['n_test_positions']} window positions; the bank in `{r['folder']}` "
             "never saw them in training or calibration. Intervals: 95% percentile bootstrap over photos (1000 resamples).", "",
             "## Windows: each task at the shipped threshold", "",
             "| task | photos | AUC [95%] | SRM+SVM AUC | TNR % [95%] | TPR % [95%] |", "|---|---|---|---|---|---|"]
    for t in r["patches"]:
        a = t["auc_interval"]
        lines.append(f"| {t['task']} | {t['photos']} | {t['auc']:.4f} [{a[0]:.4f}, {a[1]:.4f}] | {t['auc_svm']:.4f} | "
                     f"{t['tnr']:.1f} {interval(t['tnr_interval'])} | {t['tpr']:.1f} {interval(t['tpr_interval'])} |")
    im, li = r["images"], r["lossless_images"]
    lines += ["", "## Whole photos", "",
              "| photos | flagged | % [95%] |", "|---|---|---|",
              f"| untouched, as stored ({im['pristine']} photos) | {im['pristine_flagged']} ({by(im)}) | "
              f"{100 * im['pristine_flagged'] / max(1, im['pristine']):.1f} {interval(im['pristine_interval'])} |",
              f"| lossless film scans (Kodak, McMaster; {li['pristine']} scans) | {li['pristine_flagged']} ({by(li)}) | "
              f"{100 * li['pristine_flagged'] / max(1, li['pristine']):.1f} {interval(li['pristine_interval'])} |"]
    for name, (n, right, named) in im["processed"].items():
        lines.append(f"| processed as a whole by {name} at its strongest strength ({n} photos): right detector flags | "
                     f"{right} | {100 * right / max(1, n):.1f} {interval(im['processed_interval'][name])} |")
    lines += ["", "The operation head names the right operation on the processed photos: "
              + ", ".join(f"{name} {named}/{n}" for name, (n, _, named) in im["processed"].items()) + ".", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=Path, default=None, help="the bank (default: the shipped one)")
    parser.add_argument("--images", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=Path("docs/status.md"))
    args = parser.parse_args()
    root = args.images or default_pristine_dir()
    if root is None:
        parser.error("no pristine photos: pass --images")
    folder = args.weights or shipped_dir()
    result = evaluate_split(Path(root), SEALED, folder)
    result["folder"] = str(args.weights or "weights (shipped)")
    command = "python -m benchmarks.reports.status_report" + (f" --weights {args.weights}" if args.weights else "") + f" --out {args.out}"
    args.out.write_text(markdown(result, command), encoding="utf-8")
    print(f"wrote {args.out} (scanner {scanner.__version__}, {result['seconds']} s)")


if __name__ == "__main__":
    main()
