"""Chroma-residual codes: how much high-frequency colour a region holds for its luma texture.

A camera photo's fine detail is almost all luma. Demosaicing interpolates the colour planes
from shared samples, and JPEG stores chroma at half resolution (4:2:0 or 4:2:2), so after
decoding, the high-pass residual of the chroma channels is small (a rounding floor of the
decoder's integer RGB, about 0.3 in pixel units) even where the luma residual is large. Noise
added to each of R, G and B independently puts the same energy into the chroma residual as into
the luma's, in absolute pixel units, whatever the camera's own noise level. That is the cue the
green-channel SRM submodels lack: they see the added noise on top of a camera noise that differs
from make to make, so a noise threshold learnt on some makes does not transfer to others
(docs/detectors.md, 0.4.0).

Per pixel, with Y, Cb, Cr the JFIF transform of R, G, B (pixel units) and K the 3 x 3 residual
filter :data:`RESIDUAL` (the product of two second differences, /4), the code is

    code = 9 * bin(|K * Y|, LUMA_EDGES) + bin(hypot(K * Cb, K * Cr), CHROMA_EDGES)     (0..80)

anchored at the filter's top-left pixel, like :func:`scanner.features.srm.code_maps`, so the same cell
counts and window sums serve it. A window's 81 features are the normalised histogram of the codes
anchored in its top-left (P - 8) x (P - 8) pixels (:data:`scanner.features.srm.ANCHOR_MARGIN`). A
single-channel image has no chroma: every code has chroma bin 0.
"""

from __future__ import annotations

import numpy as np

from .lattice import luma as jpeg_luma
from .srm import ANCHOR_MARGIN, MAX_EXTENT, N_CODES, code_histogram

RESIDUAL = np.outer([-1.0, 2.0, -1.0], [-1.0, 2.0, -1.0]) / 4.0
"""3 x 3 high-pass filter (cross-correlation) applied to Y, Cb and Cr; gain 1.5 on white noise."""

LUMA_EDGES = np.array([0.3, 0.6, 1.1, 1.6, 2.6, 4.1, 7.1, 12.1])
"""Bin edges of |K * Y|, pixel units (9 bins; a value on an edge goes to the upper bin). The
residual of a gray image is a multiple of 1/4, so the edges lie between multiples of 1/4: a
rounding error of the colour transform never moves a gray pixel across one."""

CHROMA_EDGES = np.array([0.1, 0.2, 0.3, 0.45, 0.65, 0.9, 1.3, 2.0])
"""Bin edges of the chroma residual's magnitude hypot(K * Cb, K * Cr), pixel units (9 bins)."""

N_FEATURES = N_CODES
"""Length of a window's chroma feature vector (81)."""

_CHROMA = np.array([[-0.168736, -0.331264, 0.5],
                    [0.5, -0.418688, -0.081312]])
"""JFIF Cb and Cr (less their offset of 128) of R, G, B; the luma is :func:`scanner.features.lattice.luma`."""


def chroma_planes(pixels: np.ndarray) -> np.ndarray:
    """JFIF Cb and Cr, less their offset of 128, of uint8 RGB pixels (..., H, W, 3): float64
    (2, ..., H, W), pixel units."""
    return np.einsum("...c,kc->k...", pixels.astype(np.float64), _CHROMA)


def _filtered(plane: np.ndarray) -> np.ndarray:
    """Valid 3 x 3 cross-correlation of plane (..., H, W) with :data:`RESIDUAL`: (..., H - 2, W - 2)."""
    h, w = plane.shape[-2] - 2, plane.shape[-1] - 2
    out = np.zeros(plane.shape[:-2] + (h, w))
    for a in range(3):
        for b in range(3):
            out += RESIDUAL[a, b] * plane[..., a : a + h, b : b + w]
    return out


STRIP = 256
"""Rows of residuals computed at a time by :func:`codes`, so that memory stays bounded on wide images."""


def _strip_codes(pixels: np.ndarray, rgb: bool) -> np.ndarray:
    """Codes of every 3 x 3 support of uint8 pixels (..., h, w[, 3]): int16 (..., h - 2, w - 2)."""
    luma = _filtered(jpeg_luma(pixels) if rgb else pixels.astype(np.float64))
    if rgb:
        cb, cr = chroma_planes(pixels)
        chroma = np.hypot(_filtered(cb), _filtered(cr))
    else:
        chroma = np.zeros_like(luma)
    return (9 * np.digitize(np.abs(luma), LUMA_EDGES) + np.digitize(chroma, CHROMA_EDGES)).astype(np.int16)


def codes(pixels: np.ndarray) -> np.ndarray:
    """Chroma-residual codes of uint8 pixels, RGB (..., H, W, 3) or one channel (..., H, W):
    int16 (..., H - 6, W - 6) in 0..80, anchored at the top-left pixel of each code's 3 x 3
    support and cropped like :func:`scanner.features.srm.code_maps`. Computed :data:`STRIP` rows at a time."""
    pixels = np.asarray(pixels)
    rgb = pixels.ndim >= 3 and pixels.shape[-1] == 3
    rows = (slice(None),) * (pixels.ndim - (3 if rgb else 2))  # leading axes, then the row axis
    height = pixels.shape[-3 if rgb else -2] - 2
    code = np.concatenate([_strip_codes(pixels[rows + (slice(r0, min(r0 + STRIP, height) + 2),)], rgb)
                           for r0 in range(0, height, STRIP)], axis=-2)
    return code[..., : code.shape[-2] - (MAX_EXTENT - 2), : code.shape[-1] - (MAX_EXTENT - 2)]


def features(patches: np.ndarray) -> np.ndarray:
    """Chroma features (N, 81) of uint8 patches, RGB (N, P, P, 3) or one channel (N, P, P):
    the normalised histogram of the codes anchored in each patch's top-left (P - 8)^2 pixels."""
    c = codes(patches)
    if c.ndim != 3:
        raise ValueError("features takes a stack of patches (N, P, P[, 3])")
    rows, cols = c.shape[-2] + MAX_EXTENT - ANCHOR_MARGIN, c.shape[-1] + MAX_EXTENT - ANCHOR_MARGIN
    return code_histogram(c[:, :rows, :cols])
