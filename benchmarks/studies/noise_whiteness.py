"""Is film grain different from added noise? A whiteness probe of the noise detector's windows.

    python -m benchmarks.studies.noise_whiteness --bank 0=weights [--images ../shared/data/pristine]

Added Gaussian noise is white: the chroma residual of the 3 x 3 filter K (scanner.features.chroma.RESIDUAL)
and of K dilated by 2 (taps two pixels apart) have the same expected energy, so the ratio of
their mean magnitudes is about 1. Image content and spatially correlated grain raise it. For the
128-pixel windows (stride 32) that the bank's noise detector puts over its window threshold, this
prints the ratio's percentiles on held-out camera photos (1536-pixel central crops), the same
with noise of sigma 2 and 0.5 added, and the lossless Kodak/McMaster film scans, then how many
film windows two gates would clear: ratio <= the sigma-2 detections' 99th percentile, and a
logistic rule on (log energy, log ratio) that keeps 99% of the sigma-0.5 detections.
"""

from __future__ import annotations

import argparse

import numpy as np
from scipy.ndimage import correlate
from sklearn.linear_model import LogisticRegression

from benchmarks.common import add_bank_arguments, load_bank
from scanner.features import chroma
from scanner.inputs.images import load_pixels
from scanner.processing.manipulations import add_noise
from scanner.training.photos import list_photos, make_split

DILATED = np.zeros((5, 5))
DILATED[::2, ::2] = chroma.RESIDUAL


def window_whiteness(rgb: np.ndarray, tops: np.ndarray, lefts: np.ndarray, window: int = 128) -> np.ndarray:
    """(rows, cols, 2): mean 3 x 3 chroma residual magnitude (pixel units) over each window's
    anchored square, and the ratio of the dilated residual's mean magnitude to it."""
    cb, cr = chroma.chroma_planes(rgb)
    near = np.hypot(correlate(cb, chroma.RESIDUAL), correlate(cr, chroma.RESIDUAL))
    far = np.hypot(correlate(cb, DILATED), correlate(cr, DILATED))
    side = window - 8
    out = np.zeros((len(tops), len(lefts), 2))
    for k, plane in enumerate((near, far)):
        c = np.pad(plane.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
        t, l = tops[:, None] + 4, lefts[None, :] + 4
        out[..., k] = (c[t + side, l + side] - c[t, l + side] - c[t + side, l] + c[t, l]) / side**2
    out[..., 1] /= np.maximum(out[..., 0], 1e-9)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_bank_arguments(parser)
    args = parser.parse_args()
    split, bank, root = load_bank(parser, args)
    sides = make_split(list_photos(root), split)
    threshold = bank.card.thresholds["noise"]
    windows: dict[str, list[np.ndarray]] = {}

    def record(tag: str, rgb: np.ndarray) -> None:
        scores = bank.dense(rgb, stride=32)
        w = window_whiteness(rgb, scores.tops, scores.lefts)
        windows.setdefault(tag, []).append(np.dstack([scores.detectors["noise"], w]).reshape(-1, 3))

    for photo in sides["test"]:
        rgb, _ = load_pixels(photo.path)
        if rgb.ndim != 3:
            continue
        h, w = rgb.shape[:2]
        crop = rgb[max(0, h // 2 - 768) : h // 2 + 768, max(0, w // 2 - 768) : w // 2 + 768]
        record("camera", crop)
        record("noise 2", add_noise(crop, 2, seed=1))
        record("noise 0.5", add_noise(crop, 0.5, seed=2))
    for photo in sides["lossless"]:
        record("film", load_pixels(photo.path)[0])
    over = {}
    print("| windows | over the noise window threshold | ratio of those: 1st / 50th / 99th percentile |")
    print("|---|---|---|")
    for tag, parts in windows.items():
        v = np.vstack(parts)
        over[tag] = v[v[:, 0] > threshold]
        q = np.percentile(over[tag][:, 2], [1, 50, 99]) if len(over[tag]) else [np.nan] * 3
        print(f"| {tag} | {len(over[tag]):,} of {len(v):,} | {q[0]:.2f} / {q[1]:.2f} / {q[2]:.2f} |")
    gate = np.percentile(over["noise 2"][:, 2], 99)
    print(f"\nratio gate at {gate:.2f}: clears {np.mean(over['film'][:, 2] > gate):.0%} of the film windows over the "
          f"threshold and {np.mean(over['noise 0.5'][:, 2] > gate):.0%} of the sigma-0.5 ones")
    features = lambda v: np.log(v[:, 1:])  # noqa: E731
    positive, negative = np.vstack([over["noise 2"], over["noise 0.5"]]), over["film"]
    rule = LogisticRegression().fit(np.vstack([features(positive), features(negative)]),
                                    np.r_[np.ones(len(positive)), np.zeros(len(negative))])
    keep = np.quantile(rule.decision_function(features(over["noise 0.5"])), 0.01)
    print(f"logistic rule keeping 99% of the sigma-0.5 windows: clears {np.mean(rule.decision_function(features(negative)) < keep):.0%} "
          f"of the film windows (fitted on the film windows themselves: an upper bound)")


if __name__ == "__main__":
    main()
