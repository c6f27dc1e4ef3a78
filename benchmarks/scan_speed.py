"""Scan speed on a 12-megapixel photo, dense against window-by-window, and peak memory.

    python benchmarks/scan_speed.py [--image PATH] [--device cpu|cuda|auto] [--memory-mp 50]

Prints a Markdown report (copy it into docs/performance.md with the command line).
Without --image it uses camera/Canon_EOS_450D.jpg (4272x2848, 12.2 MP) from the shared
photos when present, else a synthetic textured 4000x3000 image.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from scanner.data import default_pristine_dir
from scanner.detectors import load_shipped
from scanner.images import load_green
from scanner.scan import analyze, ScanOptions, window_logits
from scanner.train import resolve_device


def synthetic(height: int, width: int, seed: int = 0) -> np.ndarray:
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    base = ndimage.gaussian_filter(rng.normal(128, 60, (height, width)), 1.2) + rng.normal(0, 3, (height, width))
    return np.clip(np.round(base), 0, 255).astype(np.uint8)


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - start


def memory_child(megapixels: float, device: str) -> None:
    """Run all five detectors at stride 32 on a synthetic image; print peak RSS in MB."""
    side = int(np.sqrt(megapixels * 1e6 / 1.5))
    green = synthetic(side, int(side * 1.5))
    dets = load_shipped(device=device)
    analyze(green, dets, ScanOptions(stride=32, device=device))
    peak_cpu = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    peak_gpu = torch.cuda.max_memory_allocated() / 2**20 if device == "cuda" else 0
    print(f"{green.shape[1]}x{green.shape[0]} {green.size / 1e6:.1f} {peak_cpu:.0f} {peak_gpu:.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--image", type=Path)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--memory-mp", type=float, default=50.0, help="image size for the peak-memory run (0 skips it)")
    parser.add_argument("--window-sample", type=int, default=256, help="windows timed one by one (extrapolated)")
    parser.add_argument("--memory-child", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    device = str(resolve_device(args.device))
    if args.memory_child:
        memory_child(args.memory_child, device)
        return
    path = args.image
    if path is None and default_pristine_dir() is not None:
        path = default_pristine_dir() / "camera/Canon_EOS_450D.jpg"
    green = load_green(path)[0] if path else synthetic(3000, 4000)
    mp = green.size / 1e6
    dets = load_shipped(device=device)
    print(f"## Scan speed: {path.name if path else 'synthetic'} ({green.shape[1]}x{green.shape[0]}, {mp:.1f} MP), "
          f"device {device}, torch threads {torch.get_num_threads()}\n")
    analyze(green[:512, :512], dets, ScanOptions(stride=32, device=device))  # warm-up
    print("| detectors | stride | seconds | MP/s |\n|---|---|---|---|")
    for stride in (32, 8):
        for name, det in dets.items():
            t = timed(lambda: analyze(green, {name: det}, ScanOptions(stride=stride, device=device)))
            print(f"| {name} | {stride} | {t:.2f} | {mp / t:.2f} |")
        t = timed(lambda: analyze(green, dets, ScanOptions(stride=stride, device=device)))
        print(f"| all five | {stride} | {t:.2f} | {mp / t:.2f} |")
    # window by window at stride 32: time a sample of windows, extrapolate to the whole grid
    det = dets["blur"]
    crop = green[: 128 + 32 * 15, : 128 + 32 * (args.window_sample // 16 - 1)]
    n_sample = ((crop.shape[0] - 128) // 32 + 1) * ((crop.shape[1] - 128) // 32 + 1)
    t_sample = timed(lambda: window_logits(det.net, crop, 32, device))
    n_full = ((green.shape[0] - 128) // 32 + 1) * ((green.shape[1] - 128) // 32 + 1)
    t_window = t_sample / n_sample * n_full
    t_dense = timed(lambda: analyze(green, {"blur": det}, ScanOptions(stride=32, device=device)))
    print(f"\nWindow by window, stride 32, one detector: {n_sample} windows in {t_sample:.2f} s, "
          f"{t_window:.1f} s extrapolated to the {n_full} windows; dense {t_dense:.2f} s: "
          f"**{t_window / t_dense:.0f}x** faster.")
    if args.memory_mp:
        out = subprocess.run([sys.executable, __file__, "--device", device, "--memory-child", str(args.memory_mp)],
                             capture_output=True, text=True, check=True).stdout.split()
        print(f"\nPeak memory, all five detectors at stride 32 on a synthetic {out[0]} image ({out[1]} MP): "
              f"{out[2]} MB resident" + (f", {out[3]} MB on the GPU" if device == "cuda" else "") + ".")


if __name__ == "__main__":
    main()
