"""Double compression on shifted grids: an earlier JPEG compression whose 8x8 block grid does not
line up with the file's own, as when a JPEG is cropped by a number of pixels that is not a
multiple of 8 before it is saved again.

The earlier compression rounded the DCT coefficients of its own blocks to multiples of its steps.
The later one adds a noise to the pixels, but on the earlier grid the coefficients still cluster
around a lattice of step ``q1``; on any other grid they are mixtures with no lattice. The test
computes the DCT of the decoded luminance on all 64 grids (``offset`` = where the earlier blocks
start, in pixels, rows then columns), reads how strongly each coefficient's histogram is periodic
(:func:`lattice_statistic`), and asks whether one of the shifted grids stands out from the
others (:func:`best_shifted_grid`). The file's own grid (offset (0, 0)) is the aligned test's
(:mod:`scanner.features.double_quantization`).

The later compression's noise hides earlier steps smaller than about twice its own standard
deviation: the test finds an earlier compression coarser than the later one, sometimes one as
coarse, almost never a finer one (docs/jpeg-history.md measures where)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..inputs.jpeg_file import JpegLuminance

FREQUENCIES = ((0, 1), (1, 0), (2, 0), (1, 1), (0, 2), (0, 3), (1, 2), (2, 1), (3, 0), (4, 0), (3, 1), (2, 2))
"""The low AC coefficients (vertical u, horizontal v) read on every grid: enough counts away from zero."""

STEPS = np.arange(3, 23)
"""Candidate earlier steps (DCT units): finer ones are lost in the later compression's noise."""

RESOLUTION = 0.2
"""Histogram bin width (DCT units)."""

LARGEST = 64.0
"""Largest |coefficient| read (DCT units)."""

LIMIT = 1024
"""Side (pixels) of the central region read: about 16 000 blocks per grid, enough for the test
and bounded in time on large photos."""

INTERIOR_EVIDENCE = 15.0
"""Robust z-score from which a grid shifted in both directions shows an earlier compression
(chosen on the sealed split's training makes: docs/jpeg-history.md)."""

MIRROR_EVIDENCE = 2.0
"""Log ratio to its mirror grid from which a grid shifted in one direction shows an earlier
compression (chosen likewise)."""

EVIDENCE = 1.0
"""A file's ``score`` is the larger of its two tests' statistics in multiples of their thresholds:
evidence from 1."""

MIN_BLOCKS = 1024
"""Least blocks per grid for the test to read a file (a 256x256 region)."""


@dataclass(frozen=True)
class GridEvidence:
    """The shifted grid that stands out most: ``offset`` (row, column) in pixels of the earlier
    blocks' top-left corner within the file's grid, its ``score`` (:func:`best_shifted_grid`:
    evidence from :data:`EVIDENCE`), and ``steps`` {(u, v): step} the earlier steps that fit best on
    it. ``offset`` is None when the file is too small to read."""

    offset: tuple[int, int] | None
    score: float
    steps: dict[tuple[int, int], int]


def dct_matrix() -> np.ndarray:
    """The orthonormal 8-point DCT-II (8, 8): row u is frequency u over pixels 0..7 (JPEG's transform)."""
    k = np.arange(8)
    d = np.cos(np.pi * (2 * k[None, :] + 1) * k[:, None] / 16) * np.sqrt(2 / 8)
    d[0] /= np.sqrt(2)
    return d


def decoded_luminance(stored: JpegLuminance, limit: int = LIMIT) -> np.ndarray:
    """The luminance (H, W) in 0..255 a decoder gives for the central region of at most ``limit``
    pixels a side (whole blocks) of a file's stored coefficients: inverse DCT of the coefficients
    times their steps, plus 128, rounded and clipped."""
    blocks = limit // 8
    rows, cols = stored.coefficients.shape[:2]
    r0, c0 = max((rows - blocks) // 2, 0), max((cols - blocks) // 2, 0)
    coefficients = stored.coefficients[r0 : r0 + blocks, c0 : c0 + blocks] * stored.table
    d = dct_matrix()
    pixels = d.T @ coefficients.astype(np.float64) @ d  # per block (rows, cols, 8, 8)
    pixels = pixels.transpose(0, 2, 1, 3).reshape(coefficients.shape[0] * 8, coefficients.shape[1] * 8) + 128
    return np.clip(np.round(pixels), 0, 255)


def dct_on_grid(luminance: np.ndarray, offset: tuple[int, int], size: int = 5) -> np.ndarray:
    """DCT coefficients (size, size, n, m) in DCT units, frequencies (u, v) below ``size``, of the
    n x m whole 8x8 blocks of ``luminance`` (H, W) on the grid whose blocks start at ``offset``
    (row, column) pixels."""
    return _along_rows(_down_columns(luminance, offset[0], size), offset[1])


def _down_columns(luminance: np.ndarray, row: int, size: int = 5) -> np.ndarray:
    """The DCT down the columns (size, n, W) of the n whole blocks that start at ``row``: one matrix product."""
    n = (luminance.shape[0] - row) // 8
    return np.tensordot(dct_matrix()[:size], luminance[row : row + 8 * n].reshape(n, 8, -1), axes=([1], [1]))


def _along_rows(vertical: np.ndarray, column: int) -> np.ndarray:
    """The 2-D coefficients (size, size, n, m) of the blocks that start at ``column`` from
    :func:`_down_columns`' output (size, n, W): one matrix product along the rows."""
    size, n, width = vertical.shape
    m = (width - column) // 8
    blocks = vertical[:, :, column : column + 8 * m].reshape(size, n, m, 8) @ dct_matrix()[:size].T  # (u, n, m, v)
    return np.moveaxis(blocks, 3, 1)


def _period_mean(values: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean of ``values`` (N, B) over ``width`` bins centred on each bin, and where that window fits (B,)."""
    n_bins = values.shape[1]
    cumulative = np.concatenate([np.zeros((len(values), 1)), np.cumsum(values, axis=1)], axis=1)
    low = np.clip(np.arange(n_bins) - width // 2, 0, n_bins - width)
    fits = (np.arange(n_bins) - width // 2 >= 0) & (np.arange(n_bins) - width // 2 + width <= n_bins)
    return (cumulative[:, low + width] - cumulative[:, low]) / width, fits


def lattice_statistic(histograms: np.ndarray, steps: np.ndarray = STEPS, resolution: float = RESOLUTION) -> np.ndarray:
    """How periodic each histogram of |coefficient| (N, B) (bin width ``resolution``) is with each
    period in ``steps`` (S,): a Rayleigh statistic (N, S), about 1 on average for a smooth histogram
    and large for a lattice. Each count h is divided by the mean count m over one period around it;
    the ratio less its own one-period mean is periodic only where the histogram is (an exponential
    decay gives a constant ratio), and its Fourier component at the period, weighted by m, is
    compared with its Poisson noise. Bins below one period (the peak at zero) are left out."""
    x = (np.arange(histograms.shape[1]) + 0.5) * resolution
    out = np.zeros((len(histograms), len(steps)))
    for i, step in enumerate(steps):
        width = int(round(step / resolution))
        mean, fits = _period_mean(histograms, width)
        ratio = np.divide(histograms, mean, out=np.zeros_like(histograms), where=mean > 0)
        ratio_mean, _ = _period_mean(ratio, width)
        kept = fits & (x >= step)
        periodic = mean[:, kept] * (ratio[:, kept] - ratio_mean[:, kept])
        noise = np.sum(histograms[:, kept], axis=1)
        phase = np.exp(2j * np.pi * x[kept] / step)
        out[:, i] = np.divide(np.abs(periodic @ phase) ** 2, noise, out=np.zeros(len(histograms)), where=noise > 0)
    return out


def grid_statistics(luminance: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each of the 64 grids (a, b): the sum over :data:`FREQUENCIES` of each frequency's best
    :func:`lattice_statistic` (8, 8), and the best step's index per grid and frequency (8, 8, F)."""
    n_bins = int(round(LARGEST / RESOLUTION))
    histograms = np.zeros((8, 8, len(FREQUENCIES), n_bins))
    rows, cols = np.array(FREQUENCIES).T
    offsets = (np.arange(len(FREQUENCIES)) * (n_bins + 1))[:, None]  # one bincount for every frequency, the last bin for overflow
    for a in range(8):
        vertical = _down_columns(luminance, a)
        for b in range(8):
            coefficients = _along_rows(vertical, b)[rows, cols].reshape(len(FREQUENCIES), -1)
            index = np.minimum(np.abs(coefficients) / RESOLUTION, n_bins).astype(np.int64) + offsets
            histograms[a, b] = np.bincount(index.ravel(), minlength=offsets[-1, 0] + n_bins + 1).reshape(-1, n_bins + 1)[:, :n_bins]
    statistic = lattice_statistic(histograms.reshape(-1, n_bins)).reshape(8, 8, len(FREQUENCIES), len(STEPS))
    return statistic.max(axis=3).sum(axis=2), statistic.argmax(axis=3)


def shifted_grid_evidence(stored: JpegLuminance, limit: int = LIMIT) -> GridEvidence:
    """The shifted grid whose coefficients are most periodic in the central ``limit`` pixels of a
    file (:func:`best_shifted_grid`); evidence of an earlier compression on it from :data:`EVIDENCE`.
    No offset when the region holds fewer than :data:`MIN_BLOCKS` blocks."""
    luminance = decoded_luminance(stored, limit)
    if (luminance.shape[0] // 8) * (luminance.shape[1] // 8) < MIN_BLOCKS:
        return GridEvidence(None, 0.0, {})
    return best_shifted_grid(*grid_statistics(luminance))


def best_shifted_grid(totals: np.ndarray, best_step: np.ndarray) -> GridEvidence:
    """The shifted grid that stands out in ``totals`` (8, 8) (:func:`grid_statistics`), by two tests:

    - a grid shifted in both directions against the other 48 such grids, as a robust z-score
      (best - median) / (1.4826 x median absolute deviation), evidence from :data:`INTERIOR_EVIDENCE`;
    - a grid shifted in one direction only (these share rows or columns with the file's own grid,
      whose lattice leaks into them) against its mirror image (shift b against 8 - b), as the log of
      their ratio, evidence from :data:`MIRROR_EVIDENCE`.

    ``score`` is the larger of the two in multiples of its threshold (evidence from 1); the offset is
    the mirror test's where it reaches its threshold, else the interior test's. Shifts of half a
    block in one direction only ((0, 4), (4, 0)) have no mirror and are not tested."""
    totals = totals.astype(float)
    interior = [(a, b) for a in range(1, 8) for b in range(1, 8)]
    values = np.array([totals[o] for o in interior])
    best = int(np.argmax(values))
    others = np.delete(values, best)
    median = float(np.median(others))
    z = (values[best] - median) / max(1.4826 * float(np.median(np.abs(others - median))), 1e-9)
    mirrored = [pair for b in (1, 2, 3, 5, 6, 7) for pair in (((0, b), (0, 8 - b)), ((b, 0), (8 - b, 0)))]
    ratios = [np.log(max(totals[grid], 1e-9) / max(totals[mirror], 1e-9)) for grid, mirror in mirrored]
    edge = int(np.argmax(ratios))
    score = max(z / INTERIOR_EVIDENCE, ratios[edge] / MIRROR_EVIDENCE)
    a, b = mirrored[edge][0] if ratios[edge] >= MIRROR_EVIDENCE else interior[best]
    steps = {f: int(STEPS[best_step[a, b, i]]) for i, f in enumerate(FREQUENCIES)}
    return GridEvidence((int(a), int(b)), float(score), steps)
