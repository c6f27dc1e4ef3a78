"""JPEG history on held-out makes, aligned and shifted grids -> docs/results-jpeg-history.md.

    python -m benchmarks.reports.jpeg_history_report --split sealed --split 0 --out docs/results-jpeg-history.md

For each split, the camera JPEGs of the makes it holds out: as the camera wrote them, decoded and
saved again at 70-90 (aligned), reduced 3x (a lossless start) then compressed at Q1, cropped by
0-7 pixels and saved at Q2 (shifted, for each pair of :data:`scanner.evaluation.jpeg_history.SHIFTED_PAIRS`),
and decoded, cropped and saved at 70, 80 and 90 (the camera's own compression earlier). Once for
all splits: the lossless Kodak and McMaster scans compressed once at 60-95. No detector weights
are read. Rates count files; intervals are 95% photo bootstrap intervals.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import scanner
from scanner.evaluation import jpeg_history as history
from scanner.training.photos import camera_make, default_pristine_dir, list_photos, make_split


def line(label: str, rate: history.HistoryRate) -> str:
    readings = " / ".join(str(rate.readings.get(k, 0)) for k in ("evidence", "undetermined", "none"))
    right = f"{rate.right_grid}" if rate.right_grid is not None else ""
    return (f"| {label} | {rate.files} | {rate.photos} | {readings} | "
            f"{rate.evidence:.1f} [{rate.interval[0]:.1f}, {rate.interval[1]:.1f}] | {right} |")


HEADER = ["| file | files | photos | evidence / undetermined / none | evidence % [95%] | evidence at the right grid |",
          "|---|---|---|---|---|---|"]


def split_lines(name: str, root: Path) -> list[str]:
    started = time.perf_counter()
    sides = make_split(list_photos(root), name)
    test = [p for p in sides["test"] if p.path.suffix.lower() in (".jpg", ".jpeg")]
    rows = [line("camera JPEG as written", history.as_written(test)),
            line("camera JPEG saved again at 70-90 (aligned)", history.saved_again(test))]
    for earlier, later in history.SHIFTED_PAIRS:
        rows.append(line(f"saved at {earlier}, cropped, saved at {later}", history.cropped_between(test, earlier, later)))
    rows.append(line("camera JPEG cropped, saved at 70/80/90", history.camera_cropped(test)))
    makes = sorted({camera_make(p.camera) for p in test})
    return [f"## Split {name}: {len(test)} held-out camera JPEGs of {len(makes)} makes", "",
            f"Held-out makes: {', '.join(makes)}. Measured in {time.perf_counter() - started:.0f} s.", "",
            *HEADER, *rows, ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=Path, default=None)
    parser.add_argument("--split", action="append", default=None, help="a make split: sealed or a seed (repeat)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    root = args.images or default_pristine_dir()
    splits = args.split or ["sealed", "0"]
    command = "python -m benchmarks.reports.jpeg_history_report " + " ".join(f"--split {s}" for s in splits) + f" --out {args.out}"
    lossless = make_split(list_photos(root), splits[0])["lossless"]
    lines = ["# JPEG history on held-out makes: aligned and shifted grids", "", "Produced by:", "", "```bash", command, "```", "",
             f"scanner {scanner.__version__}. What the test does and how its thresholds were chosen: docs/jpeg-history.md.", "",
             "## Compressed once: Kodak and McMaster (lossless scans) at 60-95", "", *HEADER,
             line("compressed once", history.compressed_once(lossless)), ""]
    for name in splits:
        lines += split_lines(name, root)
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
