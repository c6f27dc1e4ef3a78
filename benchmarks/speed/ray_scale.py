"""Throughput of the Ray engine on a local cluster against the plain CLI, on the same files.

    python -m benchmarks.speed.ray_scale [--images DIR] [--files 16] [--out DIR]

Runs, one after another (never two at once), each as its own ``scanner scan --jsonl`` process:
the local engine with 1 and 2 threads, then ``--engine ray`` with 1 worker and with 2 workers of
1 thread each (a fresh local cluster each time; its start-up is included, and measured alone
on a one-file scan). Inputs: the first ``--files`` photos of ``--images`` (default: the shared
pristine photos when present, else synthetic 12 MP images). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def inputs(folder: Path, images: Path | None, n: int) -> float:
    """Fill ``folder`` with n photos; returns their total megapixels."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    if images is not None:
        photos = sorted(p for p in images.rglob("*.jpg"))[:n]
        for i, p in enumerate(photos):
            shutil.copy(p, folder / f"{i:03d}-{p.name}")
    else:
        rng = np.random.default_rng(0)
        for i in range(n):
            Image.fromarray(rng.integers(0, 256, (3000, 4000, 3), dtype=np.uint8)).save(folder / f"{i:03d}.png")
    return sum(Image.open(p).size[0] * Image.open(p).size[1] for p in folder.iterdir()) / 1e6


def timed_scan(args: list[str]) -> tuple[float, list[dict]]:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "scanner", "scan", *args, "--jsonl", "-q"], capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise RuntimeError(done.stderr)
    return elapsed, [json.loads(line) for line in done.stdout.splitlines()[:-1]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=Path, default=None, help="folder of photos (default: the shared pristine photos)")
    parser.add_argument("--files", type=int, default=16)
    args = parser.parse_args()
    from scanner.training.photos import default_pristine_dir

    images = args.images or default_pristine_dir()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "photos"
        megapixels = inputs(folder, images, args.files)
        one = Path(tmp) / "one"
        one.mkdir()
        shutil.copy(sorted(folder.iterdir())[0], one)
        startup, _ = timed_scan([str(one), "--engine", "ray", "--workers", "1", "--threads", "1", "--shards", str(Path(tmp) / "s0")])
        single, _ = timed_scan([str(one), "--threads", "1"])
        runs = [("local, 1 thread", ["--threads", "1"]), ("local, 2 threads", ["--threads", "2"]),
                ("ray, 1 worker x 1 thread", ["--engine", "ray", "--workers", "1", "--threads", "1", "--batch-size", "1"]),
                ("ray, 2 workers x 1 thread", ["--engine", "ray", "--workers", "2", "--threads", "1", "--batch-size", "1"])]
        rows, baseline, reference = [], None, None
        for k, (label, extra) in enumerate(runs):
            shards = ["--shards", str(Path(tmp) / f"s{k + 1}")] if "ray" in label else []
            elapsed, records = timed_scan([str(folder), *extra, *shards])
            by_path = sorted(records, key=lambda r: r["path"])
            if reference is None:
                reference = by_path
            same = by_path == reference
            baseline = baseline or elapsed
            rows.append(f"| {label} | {elapsed:.1f} | {len(records) / elapsed:.2f} | {megapixels / elapsed:.2f} | "
                        f"{baseline / elapsed:.2f} | {'yes' if same else 'NO'} |")
    print(f"## Ray engine on a local cluster ({args.files} files, {megapixels:.0f} MP, "
          f"{'photos from ' + str(images) if images else 'synthetic 12 MP PNGs'})\n")
    print("| run | seconds | files/s | MP/s | speed-up vs local 1 thread | records equal |")
    print("|---|---|---|---|---|---|")
    print("\n".join(rows))
    print(f"\nOne-file scan: Ray engine {startup:.1f} s against {single:.1f} s locally "
          f"(the difference is the local cluster's start and the workers' model loading).")


if __name__ == "__main__":
    main()
