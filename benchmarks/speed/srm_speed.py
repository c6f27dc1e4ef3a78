"""Speed of the numpy descriptor and of the exact recast network on 1000 patches of 128x128.

    python -m benchmarks.speed.srm_speed [--patches 1000] [--device cpu|cuda|auto] [--repeat 5]

Prints the median wall time of each; numpy runs on one core (it does not multi-thread these
operations), torch on the threads it is given.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from scanner.core.device import resolve_device
from scanner.families.networks import to_input
from scanner.families.recast import RecastNet
from scanner.features.srm import srm_features


def median_time(fn, repeat: int, sync: bool = False) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        if sync:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patches", type=int, default=1000)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    device = resolve_device(args.device)
    patches = np.random.default_rng(0).integers(0, 256, (args.patches, 128, 128), dtype=np.uint8)
    srm_features(patches[:10])
    t_numpy = median_time(lambda: srm_features(patches), args.repeat)
    print(f"srm_features (numpy), {args.patches} patches 128x128: {t_numpy:.3f} s ({t_numpy / args.patches * 1e3:.2f} ms/patch)")
    net = RecastNet.from_srm(exact=True).to(device)
    x = to_input(patches, device)
    with torch.no_grad():
        net.features(x[:10])
        t_net = median_time(lambda: net.features(x), args.repeat, device.type == "cuda")
    print(f"RecastNet.from_srm(exact=True).features on {device} ({torch.get_num_threads()} threads): {t_net:.3f} s")


if __name__ == "__main__":
    main()
