"""Could the double-compression reading flag a verdict? Camera JPEGs as their cameras wrote them,
on the training and validation makes of the sealed split only -> docs/jpeg-history.md.

    python -m benchmarks.studies.camera_tables [--images ../shared/data/pristine]

For each camera JPEG: whether its luminance table is an IJG table (what Pillow and libjpeg write
when a photo is saved again) or the camera's own, and the file's double-compression reading.
Every ``evidence`` here would be a false alarm if the reading flagged the verdict; a gate on
IJG tables would keep only the files with both.
"""

from __future__ import annotations

import argparse
from collections import Counter
from pathlib import Path

from scanner.features.double_quantization import jpeg_history
from scanner.inputs.jpeg_file import ijg_quality, read_luminance
from scanner.training.photos import SEALED, default_pristine_dir, list_photos, make_split


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=Path, default=None)
    args = parser.parse_args()
    sides = make_split(list_photos(args.images or default_pristine_dir()), SEALED)
    photos = [p for p in sides["train"] + sides["validation"] if p.path.suffix.lower() in (".jpg", ".jpeg")]
    counts: Counter = Counter()
    for p in photos:
        data = p.path.read_bytes()
        _, standard = ijg_quality(read_luminance(data).table)
        counts["IJG table" if standard else "camera's own table", jpeg_history(data).double_compression] += 1
    print(f"{len(photos)} camera JPEGs as written (sealed split, training and validation makes)\n")
    print("| table | files | evidence | undetermined | none |\n|---|---|---|---|---|")
    for kind in ("camera's own table", "IJG table"):
        row = [counts[kind, r] for r in ("evidence", "undetermined", "none")]
        print(f"| {kind} | {sum(row)} | " + " | ".join(f"{n} ({100 * n / len(photos):.1f}%)" for n in row) + " |")
    evidence = sum(n for (_, r), n in counts.items() if r == "evidence")
    print(f"\nevidence on {evidence} of {len(photos)} files ({100 * evidence / len(photos):.1f}%)")


if __name__ == "__main__":
    main()
