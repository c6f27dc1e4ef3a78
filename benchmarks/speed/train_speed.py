"""Training throughput: the shipped bank against the recast CNN that shipped before it.

    python -m benchmarks.speed.train_speed [--patches 2000] [--steps 5] [--device cpu|cuda] [--batch 36] [--positions 256]

- recast CNN (the previous shipped architecture): forward + backward + Adam of a batch of 36
  patches of 128x128 with 2 torch threads and then 1, as `scanner train --arch recast` runs it
  (denormals flushed, as :func:`scanner.training.networks.fine_tune` does): the straight-through
  relaxation at every position (``--relaxation straight``), the same with the boundary surrogate
  (``--relaxation boundary``) and with the separable soft-max over the step's lattice
  (:func:`scanner.families.soft_histogram.separable_soft_histogram`), then soft-max at every position,
  then soft-max on ``--positions`` sampled positions per histogram (Table II's CPU setting);
- SRM bank (what ships now): its eight branches do not train, so each patch goes through them
  once (exact numpy descriptor, one process per core) and only the heads are fitted, on the
  cached descriptors. Throughput = patches / (descriptor time on 2 cores + head fitting time)
  for one Table II task at the paper's scale (10800 pristine + 10800 processed patches);
  the fitting time is measured on this many descriptors, not extrapolated.
- with ``--device cuda`` the two trainable networks (recast CNN and Bayar2016) are also timed on
  the GPU, forward + backward at ``--batch``; the bank's descriptors stay on the CPU.

Prints a Markdown report. Run it alone (two timed processes on two cores measure each other).
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import torch


def patches(n: int, seed: int = 0) -> np.ndarray:
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    base = ndimage.gaussian_filter(rng.normal(128, 50, (n, 128, 128)), (0, 1.0, 1.0)) + rng.normal(0, 3, (n, 128, 128))
    return np.clip(np.round(base), 0, 255).astype(np.uint8)


def _descriptors(x: np.ndarray) -> np.ndarray:
    from scanner.features.srm import bank_features
    from scanner.training.bank import BANK_SUBMODELS

    return bank_features(x, BANK_SUBMODELS)


def gpu_rate(net: torch.nn.Module, batch: int, steps: int, device: str) -> float:
    """Training patches per second of one forward + backward + Adam step on the GPU (float32)."""
    from scanner.families.networks import to_input

    opt = torch.optim.Adam(net.parameters(), lr=1e-4)
    x = to_input(patches(batch, 3), device)
    y = torch.randint(0, 2, (batch,), device=device)
    step = lambda: (opt.zero_grad(), torch.nn.functional.cross_entropy(net(x), y).backward(), opt.step())
    for _ in range(3):  # warm-up: kernels, allocator, cuDNN autotuning
        step()
    torch.cuda.synchronize(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    torch.cuda.synchronize(device)
    return batch * steps / (time.perf_counter() - start)


def recast_rate(relaxation: str, positions: int | None, steps: int, surrogate: str = "interpolated") -> float:
    """Patches per second of forward + backward + Adam steps of the recast CNN in ``relaxation``
    (soft or straight, with straight mode's ``surrogate``) on a fixed batch of 36 patches, after one warm-up step."""
    from scanner.families.networks import to_input
    from scanner.families.recast import RecastNet

    net = RecastNet.from_srm(mode=relaxation, surrogate=surrogate)
    torch.nn.init.normal_(net.head.weight, std=10.0)  # a gradient that reaches every layer, as after SVM initialisation
    net.sample_positions = positions
    opt = torch.optim.Adam(net.parameters(), lr=1e-6)
    x = to_input(patches(36))
    y = torch.randint(0, 2, (36,), generator=torch.Generator().manual_seed(0))
    step = lambda: (opt.zero_grad(), torch.nn.functional.cross_entropy(net(x), y).backward(), opt.step())
    step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return 36 * steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patches", type=int, default=2000, help="patches for the descriptor timing")
    parser.add_argument("--steps", type=int, default=5, help="recast CNN training steps timed")
    parser.add_argument("--device", default="cpu", help="cpu, or cuda to time the networks on the GPU too")
    parser.add_argument("--batch", type=int, default=36, help="batch size of the GPU timings")
    parser.add_argument("--positions", type=int, default=256, help="sampled positions per histogram for the second recast timing")
    args = parser.parse_args()
    from scanner.families.bayar import BayarNet
    from scanner.families.head_fitting import HeadChoice, fit_task_head
    from scanner.families.heads import transform
    from scanner.families.networks import to_input
    from scanner.families.recast import RecastNet
    from scanner.training.bank import BANK_SUBMODELS

    print("## Training throughput (2 CPU cores)\n")
    torch.set_flush_denormal(True)
    rates = {}
    for threads in (2, 1):
        torch.set_num_threads(threads)
        for relaxation, surrogate, positions, steps in (
                ("straight", "interpolated", None, 10 * args.steps), ("straight", "boundary", None, 10 * args.steps),
                ("straight", "separable", None, 10 * args.steps), ("soft", "", None, args.steps),
                ("soft", "", args.positions, 10 * args.steps)):
            rate = recast_rate(relaxation, positions, steps, surrogate or "interpolated")
            rates[threads, relaxation, positions] = rates.get((threads, relaxation, positions), rate)
            where = "every position" if positions is None else f"{positions} sampled positions per histogram"
            name = {"interpolated": "straight-through", "boundary": "hard histograms, boundary surrogate",
                    "separable": "separable soft-max over the step's lattice", "": "soft-max"}[surrogate]
            print(f"- recast CNN, {name}, forward + backward + Adam, "
                  f"batch 36, {threads} thread{'s' * (threads > 1)}, {where}: "
                  f"**{rate:.1f} patches/s** ({steps} steps); 15 epochs of 21600 patches: {15 * 21600 / rate / 60:.0f} min per task")
    bayar = BayarNet()
    opt = torch.optim.SGD(bayar.parameters(), lr=1e-3, momentum=0.9)
    x, y = to_input(patches(64, 4)), torch.randint(0, 2, (64,), generator=torch.Generator().manual_seed(0))
    step = lambda: (opt.zero_grad(), torch.nn.functional.cross_entropy(bayar(x), y).backward(), opt.step())
    step()
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    rate = 64 * args.steps / (time.perf_counter() - start)
    print(f"- Bayar2016, forward + backward + SGD, batch 64, 1 thread: **{rate:.1f} patches/s**; "
          f"one epoch of 21600 patches: {21600 / rate / 60:.1f} min, the paper's 60: {60 * 21600 / rate / 3600:.1f} h per task")
    torch.set_num_threads(2)
    recast = rates[2, "soft", None]

    if args.device.startswith("cuda"):
        for name, make in (("recast CNN, soft-max", lambda: RecastNet.from_srm(exact=False)),
                           ("recast CNN, straight-through", lambda: RecastNet.from_srm(mode="straight")), ("Bayar2016", BayarNet)):
            rate = gpu_rate(make().to(args.device), args.batch, args.steps, args.device)
            print(f"- {name} on {torch.cuda.get_device_name(args.device)}, forward + backward, batch {args.batch}: "
                  f"**{rate:.0f} patches/s**; 15 epochs of 21600 patches: {15 * 21600 / rate / 60:.1f} min per task, "
                  f"60 epochs: {60 * 21600 / rate / 60:.1f} min")

    data = patches(args.patches, 1)
    start = time.perf_counter()
    with ProcessPoolExecutor(2) as pool:
        list(pool.map(_descriptors, np.array_split(data, 8)))
    extract = args.patches / (time.perf_counter() - start)
    print(f"- SRM bank, descriptors of {len(BANK_SUBMODELS)} branches (numpy, 2 processes): **{extract:.0f} patches/s**")

    rng = np.random.default_rng(2)
    features = transform(np.abs(rng.normal(1 / 81, 0.01, (21600, 162 * len(BANK_SUBMODELS)))), "sqrt")
    start = time.perf_counter()
    fit_task_head(features[:10800], features[10800:] + 0.001, HeadChoice(None, 0.01), BANK_SUBMODELS)
    fit = time.perf_counter() - start
    total = 21600 / extract + fit
    print(f"- SRM bank, one task head on 10800 + 10800 cached descriptors: {fit:.1f} s")
    print(f"- SRM bank, one Table II task from patches to head: {total:.0f} s, **{21600 / total:.0f} training patches/s**, "
          f"{21600 / total / recast:.0f}x the soft-max recast CNN's one epoch ({15 * 21600 / total / recast:.0f}x its 15 epochs), "
          f"{15 * 21600 / total / rates[2, 'straight', None]:.1f}x the straight-through one's 15 epochs")


if __name__ == "__main__":
    main()
