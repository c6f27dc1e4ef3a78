"""Scan speed of the shipped detectors on a 12-megapixel photo, with the fused localisation map
and with 128-pixel windows alone, dense against window by window, with 1 and 2 threads, peak
memory, and a folder of copies of the photo scanned by one process and by two worker processes.

    python -m benchmarks.speed.scan_speed [--image PATH] [--memory-mp 50] [--folder-files 6] [--against 8549fe9]

Prints a Markdown report (copy it into docs/performance.md with the command line). Without
--image it uses camera/Canon_EOS_450D.jpg (4272x2848, 12.2 MP) from the shared photos when
present, else a synthetic textured 4000x3000 image. Run it alone: two processes timed at
once on two cores measure each other.

``--against REV`` also times ``scanner scan IMAGE --json --stride 8 --threads 2`` (all detectors, a
whole command: start-up, decoding, scoring, the record) of this checkout and of the commit REV
(8549fe9 is 0.7.1, with its own weights) in a temporary git worktree, taking turns, so both are
measured in one run on the same machine.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from scanner.engines.local import scan
from scanner.families.registry import load_shipped
from scanner.inputs.images import load_pixels
from scanner.scoring.analysis import analyze
from scanner.scoring.options import ScanOptions
from scanner.training.photos import default_pristine_dir


def synthetic(height: int, width: int, seed: int = 0) -> np.ndarray:
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    base = ndimage.gaussian_filter(rng.normal(128, 60, (height, width)), 1.2) + rng.normal(0, 3, (height, width))
    return np.clip(np.round(base), 0, 255).astype(np.uint8)


def timed(fn, repeat: int = 1) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def memory_child(megapixels: float) -> None:
    """All detectors at stride 32 (fused map) on a synthetic RGB image; print size and peak RSS in MB."""
    side = int(np.sqrt(megapixels * 1e6 / 1.5))
    rgb = np.repeat(synthetic(side, int(side * 1.5))[..., None], 3, axis=2)
    analyze(rgb, load_shipped(), ScanOptions(stride=32, threads=2))
    print(f"{rgb.shape[1]}x{rgb.shape[0]} {rgb.shape[0] * rgb.shape[1] / 1e6:.1f} {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--image", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--memory-mp", type=float, default=50.0, help="image size for the peak-memory run (0 skips it)")
    parser.add_argument("--window-sample", type=int, default=200, help="windows scored one by one (extrapolated)")
    parser.add_argument("--folder-files", type=int, default=6, help="copies of the photo in the folder run (0 skips it)")
    parser.add_argument("--against", help="a git revision to time side by side with this checkout (8549fe9: 0.7.1)")
    parser.add_argument("--memory-child", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child)
        return
    path = args.image
    if path is None and default_pristine_dir() is not None:
        path = default_pristine_dir() / "camera/Canon_EOS_450D.jpg"
    pixels = load_pixels(path)[0] if path else synthetic(3000, 4000)
    mp = pixels.shape[0] * pixels.shape[1] / 1e6
    bank = load_shipped()
    print(f"## Scan speed: {path.name if path else 'synthetic'} ({pixels.shape[1]}x{pixels.shape[0]}, {mp:.1f} MP), "
          f"{len(bank.names)} detectors and the operation head in one pass, median of {args.repeat}\n")
    analyze(pixels[:512, :512], bank, ScanOptions(stride=32))  # warm-up
    print("| stride | localisation map | threads | seconds | MP/s |\n|---|---|---|---|---|")
    for stride in (32, 8):
        for window in (None, 128):
            for threads in (1, 2):
                options = ScanOptions(stride=stride, threads=threads, window=window)
                with threadpool_limits(threads):
                    t = timed(lambda: analyze(pixels, bank, options), args.repeat)
                print(f"| {stride} | {'fused 32/64/128 (default)' if window is None else f'--window {window}'} | {threads} | "
                      f"{t:.2f} | {mp / t:.2f} |")
    # window by window at stride 32: a sample of windows, extrapolated to the whole grid
    tops, lefts = np.arange(0, pixels.shape[0] - 127, 32), np.arange(0, pixels.shape[1] - 127, 32)
    corners = [(t, l) for t in tops for l in lefts][: args.window_sample]
    with threadpool_limits(1):
        t_sample = timed(lambda: bank.patch_logits(np.stack([pixels[t : t + 128, l : l + 128] for t, l in corners])))
        t_dense = timed(lambda: bank.dense(pixels, 32))
    t_window = t_sample / len(corners) * len(tops) * len(lefts)
    print(f"\nWindow by window, stride 32, one thread: {len(corners)} windows in {t_sample:.2f} s, {t_window:.1f} s "
          f"extrapolated to the {len(tops) * len(lefts)} windows; dense {t_dense:.2f} s: **{t_window / t_dense:.0f}x** faster.")
    if args.memory_mp:
        out = subprocess.run([sys.executable, __file__, "--memory-child", str(args.memory_mp)],
                             capture_output=True, text=True, check=True).stdout.split()
        print(f"\nPeak memory, all detectors at stride 32, 2 threads, on a synthetic {out[0]} image ({out[1]} MP): "
              f"{out[2]} MB resident.")
    if args.folder_files and path:
        folder_speed(path, bank, args.folder_files)
    if args.against and path:
        side_by_side(path, args.against, args.repeat)


def folder_speed(path: Path, bank, files: int) -> None:
    """Seconds to scan a folder of ``files`` copies of ``path`` at the defaults: one process
    with 2 threads, then 2 worker processes with 1 thread each (their start-up included)."""
    with tempfile.TemporaryDirectory() as folder:
        for k in range(files):
            shutil.copy(path, Path(folder) / f"{k:02d}{path.suffix}")
        print(f"\nA folder of {files} copies, default scan (stride 32, fused map), whole run:\n\n"
              "| processes | threads each | seconds | seconds per photo |\n|---|---|---|---|")
        for workers, threads in ((1, 2), (2, 1)):
            with threadpool_limits(threads):
                t = timed(lambda: list(scan([folder], bank, ScanOptions(threads=threads), workers=workers)))
            print(f"| {workers} | {threads} | {t:.1f} | {t / files:.2f} |")


def side_by_side(path: Path, revision: str, repeat: int) -> None:
    """Seconds of ``scanner scan PATH --json --stride 8 --threads 2`` run by this checkout and by
    ``revision`` (a temporary git worktree, its own weights), in turns, median of ``repeat``."""
    here = Path(__file__).resolve().parents[2]
    command = [sys.executable, "-m", "scanner", "scan", str(Path(path).resolve()), "--json", "--stride", "8", "--threads", "2"]
    with tempfile.TemporaryDirectory() as tmp:
        other = Path(tmp) / "baseline"
        subprocess.run(["git", "-C", str(here), "worktree", "add", "--detach", str(other), revision], check=True, capture_output=True)
        try:
            versions = {name: subprocess.run([sys.executable, "-c", "import scanner; print(scanner.__version__, scanner.__file__)"],
                                             cwd=cwd, capture_output=True, text=True).stdout.strip()
                        for name, cwd in (("this checkout", here), (revision, other))}
            times: dict[str, list[float]] = {"this checkout": [], revision: []}
            # each side scans with its own weights folder: an editable install maps scanner.weights
            # to this checkout's folder, which the other revision's cards may not match
            environments = {"this checkout": os.environ | {"SCANNER_WEIGHTS": str(here / "weights")},
                            revision: os.environ | {"SCANNER_WEIGHTS": str(other / "weights")}}
            for _ in range(repeat):
                for name, cwd in (("this checkout", here), (revision, other)):
                    start = time.perf_counter()
                    run = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=environments[name], check=False)
                    times[name].append(time.perf_counter() - start)
                    if run.returncode != 0 or not run.stdout.strip():
                        raise SystemExit(f"{name}: the scan failed (exit {run.returncode}): {run.stderr.strip()[-500:]}")
        finally:
            subprocess.run(["git", "-C", str(here), "worktree", "remove", "--force", str(other)], check=False)
    print(f"\nSide by side, `scanner scan {path.name} --json --stride 8 --threads 2` (whole command), median of {repeat}, "
          "in turns:\n\n| code | scanner imported | seconds |\n|---|---|---|")
    for name, values in times.items():
        print(f"| {name} | {versions[name]} | {float(np.median(values)):.2f} |")


if __name__ == "__main__":
    main()
