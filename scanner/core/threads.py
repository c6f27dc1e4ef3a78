"""How many threads a process uses: torch's, the BLAS libraries' and the scanner's own."""

from __future__ import annotations

import os

import torch
from threadpoolctl import threadpool_limits


def available_cores() -> int:
    """CPU cores this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def use_threads(threads: int | None = None) -> int:
    """Limit this process's torch and BLAS threads to ``threads`` (default: every core it may
    use). Returns the number applied."""
    n = threads or available_cores()
    torch.set_num_threads(n)
    threadpool_limits(n)
    return n
