"""Shared fixtures. Tests that need the shared photos skip cleanly when they are absent."""

from __future__ import annotations

import signal
from pathlib import Path

import numpy as np
import pytest

from scanner.training.photos import default_pristine_dir


@pytest.fixture(scope="session")
def pristine_dir() -> Path:
    root = default_pristine_dir()
    if root is None:
        pytest.skip("shared pristine photos (../shared/data/pristine) not present")
    return root


def interruptible() -> None:
    """``preexec_fn`` for a child that a test stops with SIGINT: a shell without job control
    starts background jobs with SIGINT ignored, and Python then ignores Ctrl-C too."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def processes_with(marker: bytes) -> set[int]:
    """Ids of this machine's processes whose command line contains ``marker``."""
    found = set()
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker in (entry / "cmdline").read_bytes():
                found.add(int(entry.name))
        except OSError:
            continue
    return found


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


def textured_image(rng: np.random.Generator, height: int, width: int, channels: int = 3, smooth: float = 1.2) -> np.ndarray:
    """A photo-like uint8 image: smoothed noise plus a gradient and fine sensor-like noise."""
    from scipy import ndimage

    base = rng.normal(128, 60, (height, width, channels))
    base = ndimage.gaussian_filter(base, (smooth, smooth, 0))
    base += np.linspace(-30, 30, width)[None, :, None] + rng.normal(0, 3, base.shape)
    return np.clip(np.round(base), 0, 255).astype(np.uint8)


def smooth_photo(rng: np.random.Generator, side: int) -> np.ndarray:
    """A square photo-like uint8 RGB image (side, side, 3): noise smoothed over 1.5 pixels plus fine noise."""
    from scipy import ndimage

    base = ndimage.gaussian_filter(rng.normal(128, 50, (side, side, 3)), (1.5, 1.5, 0)) + rng.normal(0, 4, (side, side, 3))
    return np.clip(np.round(base), 0, 255).astype(np.uint8)
