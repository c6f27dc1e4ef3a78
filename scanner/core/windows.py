"""Windows on an image: the analysis grid, and sums over boxes of a map at every window.

Every family scores the same grid (:func:`window_grid`) and pools maps over windows with the one
box sum (:func:`box_sums`), applied per axis."""

from __future__ import annotations

import numpy as np

SLICE_PASSES = 16
"""Cost, in passes over the input, up to which :func:`box_sums` adds shifted slices rather than
reading a running-sum table (16: every window of the default scan, at any stride; measured in
docs/performance.md, 0.6.3)."""


def window_grid(height: int, width: int, stride: int, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Window tops (rows,) and lefts (cols,) in pixels of the analysis grid of an image of
    ``height`` x ``width`` pixels: every ``stride`` pixels from 0, each window inside the image."""
    return np.arange(0, height - window + 1, stride), np.arange(0, width - window + 1, stride)


def box_sums(x: np.ndarray, starts: np.ndarray, k: int, axis: int) -> np.ndarray:
    """Sums of ``k`` consecutive slices of ``x`` along ``axis`` from each index of ``starts``
    (the axis becomes len(starts) long). Adding the k shifted slices (views of x when the starts
    are evenly spaced) costs k * len(starts) slices of work; a running-sum table costs a few
    passes over ``x``, and numpy's running sum holds the interpreter lock. Slices while they cost
    at most :data:`SLICE_PASSES` passes, else the table. On integers either way gives the same
    sums (docs/performance.md, 0.6.1 and 0.6.3); floats should be float64."""
    if k * len(starts) <= SLICE_PASSES * x.shape[axis]:
        out = np.take(x, starts, axis=axis)
        for shift in range(1, k):
            out += _slices(x, starts + shift, axis)
        return out
    shape, after_first = list(x.shape), [slice(None)] * x.ndim
    shape[axis] += 1
    after_first[axis] = slice(1, None)
    table = np.zeros(shape, dtype=x.dtype)  # along the axis, table[i] = the sum of the first i slices
    np.cumsum(x, axis=axis, out=table[tuple(after_first)])
    return np.take(table, starts + k, axis=axis) - np.take(table, starts, axis=axis)


def box_sums_2d(x: np.ndarray, tops: np.ndarray, lefts: np.ndarray, box: tuple[int, int]) -> np.ndarray:
    """Sums of x (H, W, ...) over boxes of ``box`` = (rows, cols) whose top-left corners are every
    (tops[i], lefts[j]): (len(tops), len(lefts), ...). Separable: :func:`box_sums` down, then across."""
    return box_sums(box_sums(x, tops, box[0], axis=0), lefts, box[1], axis=1)


def cell_sums(x: np.ndarray, cell: int) -> np.ndarray:
    """Sums of x (H, W) over the non-overlapping ``cell`` x ``cell`` blocks from the top-left corner:
    (H // cell, W // cell); a partial last row or column of blocks is left out."""
    rows, cols = x.shape[0] // cell, x.shape[1] // cell
    return x[: rows * cell, : cols * cell].reshape(rows, cell, cols, cell).sum(axis=(1, 3))


def window_std(pixels: np.ndarray, stride: int, window: int) -> np.ndarray:
    """Standard deviation (grey levels) of the channel mean of uint8 ``pixels`` (H, W, 3) or
    (H, W) within each window of the analysis grid (:func:`window_grid`): (rows, cols).

    Sums are exact integers: of the channel sum and its square, per ``stride`` cell first when the
    window is a whole number of cells (one pass over the pixels), else per window directly."""
    total = pixels.sum(axis=2, dtype=np.int64) if pixels.ndim == 3 else pixels.astype(np.int64)
    channels = pixels.shape[2] if pixels.ndim == 3 else 1
    tops, lefts = window_grid(total.shape[0], total.shape[1], stride, window)
    if window % stride == 0:
        box = (window // stride, window // stride)
        sums = box_sums_2d(cell_sums(total, stride), tops // stride, lefts // stride, box)
        squares = box_sums_2d(cell_sums(total * total, stride), tops // stride, lefts // stride, box)
    else:
        sums = box_sums_2d(total, tops, lefts, (window, window))
        squares = box_sums_2d(total * total, tops, lefts, (window, window))
    n = window * window
    mean = sums / (n * channels)
    return np.sqrt(np.maximum(squares / (n * channels**2) - mean * mean, 0.0))


def _slices(x: np.ndarray, index: np.ndarray, axis: int) -> np.ndarray:
    """The slices of x along ``axis`` at ``index``: a view when the indices are evenly spaced, else a copy."""
    step = index[1] - index[0] if len(index) > 1 else 1
    if step > 0 and np.all(np.diff(index) == step):
        where = [slice(None)] * x.ndim
        where[axis] = slice(index[0], index[-1] + 1, step)
        return x[tuple(where)]
    return np.take(x, index, axis=axis)
