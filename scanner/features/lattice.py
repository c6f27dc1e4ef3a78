"""JPEG quantisation-lattice features of the luma channel.

A JPEG stores each 8x8 block of luma (Y, JFIF weights of R, G, B) as DCT coefficients rounded
to multiples of a step per frequency. Decoding keeps that lattice: the DCT of the decoded
block sits within rounding noise (std about 0.35) of integer multiples of the steps. A new
compression at quality 70-90 imposes steps of 2-40 that a camera's own high-quality table
(steps of 1-3) does not have, so the lattice tells a recompressed block from a camera's, and
does not depend on the camera's noise level or content the way residual statistics do.

For each of :data:`FREQUENCIES` (the 21 lowest in zigzag order, DC included) and each
candidate step q of :data:`STEPS`, a window's feature is

    sum over its blocks of  1{|c| >= q/2} cos(2 pi c / q)   /   (count of |c| >= q/2  +  PRIOR)

with c the coefficient of the block's luma minus 128 (orthonormal 8x8 DCT, as JPEG's). It is
near 1 when coefficients lie on multiples of q, near 0 (or below, for steep coefficient
distributions) otherwise; PRIOR shrinks windows with few such coefficients towards 0. Values
lie in [-1, 1]; the feature vector has ``len(FREQUENCIES) * len(STEPS)`` = 252 entries,
frequency-major. Blocks are on the grid found by :func:`grid_offset` (training patches are cut
on the stored grid, offset (0, 0)); a window uses the blocks that lie wholly inside it.

A never-compressed image has no lattice at all, which is also what most processing (noise,
blur, resizing) leaves behind; so these features are offered to the JPEG heads only (see
:data:`scanner.families.head_fitting.HEAD_CHOICES` and docs/training-log.md).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

BLOCK = 8
"""Side of a JPEG block, pixels."""


def _zigzag() -> list[tuple[int, int]]:
    return sorted(((u, v) for u in range(BLOCK) for v in range(BLOCK)),
                  key=lambda p: (p[0] + p[1], p[1] if (p[0] + p[1]) % 2 else p[0]))


FREQUENCIES: tuple[tuple[int, int], ...] = tuple(_zigzag()[:21])
"""(vertical, horizontal) DCT frequencies used, the 21 lowest in JPEG's zigzag order."""

STEPS = np.array([1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16], dtype=np.float64)
"""Candidate quantisation steps (units of the orthonormal DCT of 0..255 luma)."""

PRIOR = 8.0
"""Pseudo-count added to a window's count of coefficients at least q/2 in size."""

N_FEATURES = len(FREQUENCIES) * len(STEPS)
"""Length of a window's lattice feature vector (252)."""


def _dct_matrix() -> np.ndarray:
    k = np.arange(BLOCK)
    m = np.cos(np.pi * (2 * k[None, :] + 1) * k[:, None] / (2 * BLOCK)) * np.sqrt(2.0 / BLOCK)
    m[0] /= np.sqrt(2.0)
    return m


DCT = _dct_matrix()
"""Orthonormal 8-point DCT-II matrix (rows: frequencies)."""


def luma(rgb: np.ndarray) -> np.ndarray:
    """JFIF luma Y = 0.299 R + 0.587 G + 0.114 B, float64 (...) (units of 0..255), of RGB
    uint8 (..., 3). A single-channel image is its own luma."""
    rgb = np.asarray(rgb, dtype=np.float64)
    return 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]


def block_coefficients(y: np.ndarray, offset: tuple[int, int] = (0, 0)) -> np.ndarray:
    """DCT coefficients (rows, cols, K) at :data:`FREQUENCIES` of the whole 8x8 blocks of luma
    y (H, W) minus 128, on the grid whose first block starts at pixel ``offset`` (dy, dx)."""
    dy, dx = offset
    y = y[dy:, dx:]
    rows, cols = y.shape[0] // BLOCK, y.shape[1] // BLOCK
    blocks = (y[: rows * BLOCK, : cols * BLOCK] - 128.0).reshape(rows, BLOCK, cols, BLOCK).transpose(0, 2, 1, 3)
    coefficients = DCT @ blocks @ DCT.T
    u, v = np.array(FREQUENCIES).T
    return coefficients[:, :, u, v]


def step_terms(coefficients: np.ndarray, steps: np.ndarray = STEPS) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """For each step q = steps[j], in no fixed order, (j, 1{|c| >= q/2} cos(2 pi c / q), 1{|c| >= q/2})
    per coefficient c (any shape): the terms whose sums over blocks give the lattice feature of
    step q (float64, same shape). Where 2q is also a step, cos(2 pi c / q) is got from it as
    2 cos^2 - 1 (equal up to rounding; one cosine per chain 16, 8, 4, 2, 1 of :data:`STEPS`)."""
    index = {float(q): j for j, q in enumerate(steps)}
    magnitude = np.abs(coefficients)
    for top in sorted(q for q in index if 2 * q not in index):
        q, cosine = top, np.cos(2 * np.pi * coefficients / top)
        while True:
            counted = (magnitude >= q / 2).astype(np.float64)
            yield index[q], counted * cosine, counted
            if q / 2 not in index:
                break
            q, cosine = q / 2, 2 * cosine * cosine - 1


def features(y: np.ndarray) -> np.ndarray:
    """Lattice features (N, 252) of luma patches y (N, P, P) (grid at the patch's corner;
    P need not be a multiple of 8, partial blocks are left out)."""
    c = np.stack([block_coefficients(p) for p in np.asarray(y, dtype=np.float64)]) if len(y) else np.zeros((0, 1, 1, len(FREQUENCIES)))
    out = np.empty((len(c), len(FREQUENCIES), len(STEPS)))
    for j, s, n in step_terms(c):
        out[:, :, j] = s.sum(axis=(1, 2)) / (n.sum(axis=(1, 2)) + PRIOR)
    return out.reshape(len(c), -1)


def grid_logits(y: np.ndarray, grids: list[tuple[np.ndarray, np.ndarray, int]], weight: np.ndarray,
                offset: tuple[int, int] = (0, 0), *, chunk: int) -> list[np.ndarray]:
    """Linear read-out of the lattice features of the windows of several grids of luma y (H, W),
    each grid given as (tops, lefts, window) in pixels: per grid, ``features @ weight.T``
    (len(tops) * len(lefts), K), rows first, for ``weight`` (K, 252) (the identity gives the
    features themselves). Each window's features equal :func:`features` of the window cut out
    when its corner is on the block grid at ``offset``.

    Box sums of per-block terms read from running-sum tables, a step at a time and about
    ``chunk`` windows at a time, so the (windows, 252) features are never held whole."""
    dy, dx = offset
    c = block_coefficients(y, offset)
    spans = []
    for tops, lefts, window in grids:  # blocks wholly inside [t, t + window): ceil((t - dy) / 8) .. floor((t + window - dy) / 8)
        spans.append((np.clip(-((dy - tops) // BLOCK), 0, c.shape[0]), np.clip((tops + window - dy) // BLOCK, 0, c.shape[0]),
                      np.clip(-((dx - lefts) // BLOCK), 0, c.shape[1]), np.clip((lefts + window - dx) // BLOCK, 0, c.shape[1])))
    out = [np.zeros((len(t), len(l), len(weight))) for t, l, _ in grids]
    for j, *terms in step_terms(c):
        step_weight = weight[:, j :: len(STEPS)].T  # (21, K): step j's columns, frequency after frequency
        tables = []  # per term, table[u, v] = the sum over the blocks above row u and left of column v
        for term in terms:
            table = np.zeros((c.shape[0] + 1, c.shape[1] + 1, c.shape[2]))
            np.cumsum(term, axis=0, out=table[1:, 1:])
            np.cumsum(table[1:, 1:], axis=1, out=table[1:, 1:])
            tables.append(table)
        for (r0, r1, c0, c1), logits in zip(spans, out):
            rows = max(1, chunk // len(c0))
            for a in range(0, len(r0), rows):
                s, n = (table[r1[a : a + rows]] - table[r0[a : a + rows]] for table in tables)  # the windows' rows of blocks
                logits[a : a + rows] += ((s[:, c1] - s[:, c0]) / (n[:, c1] - n[:, c0] + PRIOR)) @ step_weight
    return [o.reshape(-1, len(weight)) for o in out]


GRID_SAMPLE = 512
"""Side of the central crop on which :func:`grid_offset` looks for the block grid, pixels."""


def central_crop(image: np.ndarray, side: int = GRID_SAMPLE, grid: int = BLOCK) -> np.ndarray:
    """The central crop of at most side x side pixels of an image (H, W, ...), its corner on
    the ``grid``-pixel grid of the image (default 8, so block offsets in the crop are offsets in
    the image; 16 also keeps a 4:2:0 JPEG's chroma blocks)."""
    h, w = image.shape[:2]
    top, left = (h - min(h, side)) // 2 // grid * grid, (w - min(w, side)) // 2 // grid * grid
    return image[top : top + side, left : left + side]


def grid_offset(y: np.ndarray, margin: float = 0.02) -> tuple[int, int]:
    """The 8x8 grid (dy, dx), each 0..7, on which luma y (H, W) shows the strongest lattice:
    the mean lattice feature over steps 2 and up, on the :func:`central_crop`. (0, 0), the grid
    of an uncropped JPEG, unless another offset beats it by more than ``margin``."""
    crop = central_crop(y)
    steps = STEPS[STEPS >= 2]
    score = np.full((BLOCK, BLOCK), -np.inf)
    for dy in range(BLOCK):
        for dx in range(BLOCK):
            c = block_coefficients(crop, (dy, dx))
            if c.size:
                score[dy, dx] = np.mean([s.sum() / (n.sum() + PRIOR) for _, s, n in step_terms(c, steps)])
    best = np.unravel_index(int(np.argmax(score)), score.shape)
    return (int(best[0]), int(best[1])) if score[best] > score[0, 0] + margin else (0, 0)
