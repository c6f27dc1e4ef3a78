"""What lowering the spread thresholds costs on the training makes: out-of-fold untouched photos
and crops whose spread score would pass -> docs/verdicts.md (the basis for keeping the thresholds).

    python -m benchmarks.studies.spread_tradeoff --split 0 --split sealed [--cache DIR]

Reads the out-of-fold window logit maps that ``scanner train --split SPLIT`` keeps in its cache
(``oof-maps/SPLIT.npz``: training and validation makes only, each photo scored by heads that never
saw its make), sets each detector's spread threshold from them as training does
(:func:`scanner.training.calibration.calibrate_spread`), and counts the whole photos and the
512- and 1024-pixel crops tiling them whose score passes that threshold lowered by 0.5, 1 and 2
logits. The held-out side of the same trade-off (what the lower thresholds would find) is in
docs/verdicts.md; this study reads no test make.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from scanner.scoring.rules import spread_score
from scanner.training.bank import load_oof_maps
from scanner.training.calibration import TEXTURED, calibrate_spread, crop_spread_scores
from scanner.training.sampling import default_cache_dir

LOWERED = (0.0, 0.5, 1.0, 2.0)
STRIDE = 32
"""The stride of the out-of-fold maps (``scanner train``'s default)."""


def table(maps: list[dict[str, np.ndarray]]) -> list[str]:
    rules, _ = calibrate_spread(maps, STRIDE)
    lines = ["| detector | threshold (logit) | lowered by | whole photos passing | 512-pixel crops passing | 1024-pixel crops passing |",
             "|---|---|---|---|---|---|"]
    for name, rule in rules.items():
        threshold = rule.thresholds[0]
        whole = np.array([s for s in (spread_score(m[name], m[TEXTURED]) for m in maps) if s is not None])
        crops = {side: np.concatenate([crop_spread_scores(m[name], m[TEXTURED], STRIDE, side) for m in maps]) for side in (512, 1024)}
        for lowered in LOWERED:
            cut = threshold - lowered
            cells = [f"{int((whole > cut).sum())}/{len(whole)}"] + [
                f"{100 * float(np.mean(c > cut)):.2f}% of {len(c)}" for c in crops.values()]
            lines.append(f"| {name} | {threshold:.3f} | {lowered:g} | " + " | ".join(cells) + " |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", action="append", required=True, help="a split whose bank was trained with this cache")
    parser.add_argument("--cache", type=Path, default=None, help="scanner train's --cache (default: its default)")
    args = parser.parse_args()
    for split in args.split:
        path = (args.cache or default_cache_dir()) / "oof-maps" / f"{split}.npz"
        if not path.exists():
            parser.error(f"no out-of-fold maps at {path}: run scanner train --split {split} with this cache first")
        maps = load_oof_maps(path)
        print(f"## Split {split}: {len(maps)} out-of-fold training photos\n")
        print("\n".join(table(maps)) + "\n")


if __name__ == "__main__":
    main()
