"""The single-model SRM descriptor (162 bins) of Cozzolino, Poggi and Verdoliva (2017).

Pipeline (spec section 1): third-order residual ``w = [1, -3, 3, -1]`` applied as a
cross-correlation along rows (and on the transpose), scalar quantisation with three
levels and step 4.5 in pixel units (0..255), co-occurrence codes of four consecutive
quantised residuals *across* and *along* the filter direction, normalised histograms.

All functions work on integer pixel arrays in 0..255 and broadcast over leading
batch axes; the last two axes are (rows, columns).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import comb

import numpy as np

RESIDUAL_FILTER = np.array([1, -3, 3, -1], dtype=np.int32)
"""Third-order residual filter w, applied as cross-correlation (taps at offsets 0..3)."""

QUANT_STEP = 4.5
"""Quantisation step Delta in pixel units (0..255)."""

ORDER = 4
"""Number of consecutive quantised residuals that form one co-occurrence code."""

LEVELS = 3
"""Quantisation levels {-1, 0, +1}."""

N_CODES = LEVELS**ORDER
"""Bins of one co-occurrence histogram (81)."""

N_FEATURES = 2 * N_CODES
"""Length of the descriptor: across half (bins 0..80), then along half (81..161)."""

DIRECTIONS = ("across", "along")


def _window(a: np.ndarray, axis: int, start: int, length: int) -> np.ndarray:
    """View of ``a`` restricted to ``start:start + length`` along ``axis``."""
    index = [slice(None)] * a.ndim
    index[axis] = slice(start, start + length)
    return a[tuple(index)]


def residual(x: np.ndarray, axis: int = -1, kernel: np.ndarray = RESIDUAL_FILTER) -> np.ndarray:
    """Residual along ``axis`` (-1: rows, the horizontal residual; -2: columns, the residual
    of the transpose in image coordinates) of the 1-D filter ``kernel`` (default the
    third-order w).

    ``r[..., i, j] = sum_t w[t] * x[..., i, j + t]`` (valid crop) when axis = -1.
    x: integer array (..., H, W) in pixel units. Returns int16, the axis shortened by
    ``len(kernel) - 1``.
    """
    x = np.asarray(x, dtype=np.int16)
    n_out = x.shape[axis] - (len(kernel) - 1)
    r = np.zeros(x.shape[:axis % x.ndim] + (n_out,) + x.shape[axis % x.ndim + 1 :], dtype=np.int16)
    for t, w in enumerate(kernel):
        if w:
            r += np.int16(w) * _window(x, axis, t, n_out)
    return r


def quantize(r: np.ndarray, step: float = QUANT_STEP) -> np.ndarray:
    """Three-level quantiser ``clip(round_half_away_from_zero(r / step), -1, 1)``.

    r: residual in pixel units, any shape. Returns int8 in {-1, 0, 1}, same shape.
    Rounding half away from zero maps r to +1 exactly when r >= step / 2.
    """
    r = np.asarray(r)
    half = step / 2
    return ((r >= half).astype(np.int8) - (r <= -half).astype(np.int8)).astype(np.int8)


def cooccurrence_codes(q: np.ndarray, direction: str, axis: int = -1) -> np.ndarray:
    """Codes of four consecutive quantised residuals, least significant digit first.

    ``code = sum_n 3**n * (q_n + 1)`` where q_n runs along the residual's filter ``axis``
    (``along``) or along the other spatial axis (``across``). For axis = -1: along uses
    q[i, j + n], across uses q[i + n, j].

    q: int array (..., h, w) in {-1, 0, 1}. Returns int16 with the scanned axis shortened by 3,
    values in 0..80.
    """
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be 'across' or 'along', not {direction!r}")
    rows, cols = q.ndim - 2, q.ndim - 1
    filter_axis = axis % q.ndim
    other_axis = rows if filter_axis == cols else cols
    scan = filter_axis if direction == "along" else other_axis
    q = np.asarray(q, dtype=np.int16) + 1
    n_out = q.shape[scan] - (ORDER - 1)
    code = np.zeros(q.shape[:scan] + (n_out,) + q.shape[scan + 1 :], dtype=np.int16)
    for n in range(ORDER):
        code += np.int16(LEVELS**n) * _window(q, scan, n, n_out)
    return code


def code_histogram(codes: np.ndarray) -> np.ndarray:
    """Normalised histogram of codes per batch item.

    codes: int array (N, h, w) in 0..80. Returns float64 (N, 81), each row summing to 1.
    """
    n = codes.shape[0]
    flat = codes.reshape(n, -1).astype(np.int64)
    offsets = (np.arange(n, dtype=np.int64) * N_CODES)[:, None]
    counts = np.bincount((flat + offsets).ravel(), minlength=n * N_CODES).reshape(n, N_CODES)
    return counts / flat.shape[1]


def srm_features(patches: np.ndarray, step: float = QUANT_STEP, kernel: np.ndarray = RESIDUAL_FILTER) -> np.ndarray:
    """The 162-bin SRM descriptor of each patch.

    patches: uint8 array (N, H, W) with H, W >= 8 (green channel, pixel units), or a
    single (H, W) patch. Returns float64 (N, 162): bins 0..80 the across co-occurrence,
    bins 81..161 the along co-occurrence, each half the mean of the histograms of the
    image (horizontal residual) and of its transpose (vertical residual), summing to 1.
    ``kernel`` and ``step`` select another submodel (default: the paper's).
    """
    x = np.asarray(patches)
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3 or min(x.shape[-2:]) < 2 * ORDER:
        raise ValueError(f"patches must be (N, H, W) with H, W >= {2 * ORDER}, got shape {x.shape}")
    quantized = {axis: quantize(residual(x, axis, kernel), step) for axis in (-1, -2)}
    halves = [(code_histogram(cooccurrence_codes(quantized[-1], d, -1)) + code_histogram(cooccurrence_codes(quantized[-2], d, -2))) / 2
              for d in DIRECTIONS]
    return np.concatenate(halves, axis=1)


def codebook() -> np.ndarray:
    """Digits of every co-occurrence code: int8 (81, 4), row k holds d_k in {-1, 0, 1}^4
    with ``k = sum_n 3**n * (d_k[n] + 1)``."""
    k = np.arange(N_CODES)
    return np.stack([(k // LEVELS**n) % LEVELS - 1 for n in range(ORDER)], axis=1).astype(np.int8)


# ----------------------------------------------------------------------------- the submodel bank

@dataclass(frozen=True)
class Submodel:
    """One SRM submodel: the binomial difference of ``order`` (1: [1, -1], 2: [1, -2, 1],
    3: [1, -3, 3, -1]) quantised to three levels with a zero band ``|r| <= threshold``
    (step ``2 * threshold + 1`` in pixel units), then across/along co-occurrences of four.

    The paper's descriptor is ``Submodel(3, 2)`` (step 5 equals step 4.5 on integer pixels).
    """

    order: int
    threshold: int

    def __post_init__(self) -> None:
        if self.order not in (1, 2, 3) or self.threshold < 0:
            raise ValueError(f"submodel needs order 1..3 and threshold >= 0, got {self}")

    @property
    def kernel(self) -> np.ndarray:
        """Filter taps ``(-1)**k * binom(order, k)``, int32 (order + 1,)."""
        return np.array([(-1) ** k * comb(self.order, k) for k in range(self.order + 1)], dtype=np.int32)

    @property
    def step(self) -> float:
        """Quantisation step in pixel units: q = 0 exactly when |r| <= threshold."""
        return 2.0 * self.threshold + 1.0

    @property
    def name(self) -> str:
        return f"o{self.order}t{self.threshold}"


ANCHOR_MARGIN = 8
"""A window of P pixels pools the codes anchored in its top-left (P - 8) x (P - 8) pixels.
Every code's support (at most 7 pixels along, 4 across, for order 3) then lies inside the
window, and the anchor square is a whole number of 8-pixel cells for P = 128 (15 cells),
which is what lets dense scanning add up cell histograms exactly."""

MAX_EXTENT = 6
"""Largest reach of a code beyond its anchor (the along code of order 3: 4 + 3 - 1)."""


def code_maps(x: np.ndarray, submodel: Submodel) -> dict[tuple[str, str], np.ndarray]:
    """The four co-occurrence code maps of ``submodel`` on image(s) x (..., H, W) uint8,
    keyed (direction, orientation) with orientation ``H`` (filter along rows) or ``V``
    (along columns). Every map is anchored at its top-left support pixel and cropped to
    the common (H - 6, W - 6), so maps of every submodel line up pixel for pixel.
    Returns int16 maps in 0..80."""
    height, width = x.shape[-2] - MAX_EXTENT, x.shape[-1] - MAX_EXTENT
    maps = {}
    for orientation, axis in (("H", -1), ("V", -2)):
        q = quantize(residual(x, axis, submodel.kernel), submodel.step)
        for direction in DIRECTIONS:
            maps[direction, orientation] = cooccurrence_codes(q, direction, axis)[..., :height, :width]
    return maps


def bank_features(patches: np.ndarray, submodels: tuple[Submodel, ...] | list[Submodel]) -> np.ndarray:
    """Descriptor of each patch under a bank of submodels: for each submodel, the across
    and along histograms (each the mean of the H and V histograms) of the codes anchored in
    the top-left (P - 8) x (P - 8) pixels (:data:`ANCHOR_MARGIN`).

    patches: uint8 (N, P, P) or (P, P), P >= 16. Returns float64 (N, 162 * len(submodels)),
    submodel after submodel, across (81) then along (81) in each.
    """
    x = np.asarray(patches)
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3 or min(x.shape[-2:]) < 2 * ANCHOR_MARGIN:
        raise ValueError(f"patches must be (N, P, P) with P >= {2 * ANCHOR_MARGIN}, got shape {x.shape}")
    rows, cols = x.shape[-2] - ANCHOR_MARGIN, x.shape[-1] - ANCHOR_MARGIN
    out = []
    for submodel in submodels:
        maps = code_maps(x, submodel)
        for direction in DIRECTIONS:
            out.append((code_histogram(maps[direction, "H"][:, :rows, :cols])
                        + code_histogram(maps[direction, "V"][:, :rows, :cols])) / 2)
    return np.concatenate(out, axis=1)


CELL_ROWS = 4
"""Rows of cells that :func:`cell_histograms` counts at a time (so its index stays in cache)."""


def cell_histograms(codes: np.ndarray, cell: int) -> np.ndarray:
    """Code counts in each ``cell`` x ``cell`` block of a code map (h, w): int32
    (h // cell, w // cell, 81); the incomplete last row and column of cells are dropped.
    Counted :data:`CELL_ROWS` rows of cells at a time."""
    rows, cols = codes.shape[0] // cell, codes.shape[1] // cell
    # offset in a flat (CELL_ROWS, cols, 81) count array of the histogram of each pixel's cell
    index = ((np.arange(CELL_ROWS * cell) // cell)[:, None] * cols + (np.arange(cols * cell) // cell)[None, :]) * N_CODES
    counts = np.empty((rows, cols, N_CODES), dtype=np.int32)
    for r0 in range(0, rows, CELL_ROWS):
        n = min(CELL_ROWS, rows - r0)
        strip = codes[r0 * cell : (r0 + n) * cell, : cols * cell]
        counts[r0 : r0 + n] = np.bincount((index[: n * cell] + strip).ravel(), minlength=n * cols * N_CODES).reshape(n, cols, N_CODES)
    return counts
