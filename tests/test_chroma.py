"""Chroma-residual codes and their window histograms."""

from __future__ import annotations

import numpy as np
from scipy.ndimage import correlate

from scanner.features import chroma
from scanner.features.srm import ANCHOR_MARGIN, code_maps
from scanner.processing import manipulations
from scanner.training.bank import BANK_SUBMODELS

from .conftest import textured_image


def naive_codes(rgb: np.ndarray) -> np.ndarray:
    """Codes by scipy's correlation and an explicit loop over pixels and bin edges: the
    independent reference (full-size maps, then the valid part anchored at the top-left)."""
    r, g, b = (rgb[..., k].astype(np.float64) for k in range(3))
    planes = {"y": 0.299 * r + 0.587 * g + 0.114 * b,
              "cb": -0.168736 * r - 0.331264 * g + 0.5 * b,
              "cr": 0.5 * r - 0.418688 * g - 0.081312 * b}
    kernel = np.array([[-1, 2, -1], [2, -4, 2], [-1, 2, -1]]) / 4.0
    res = {k: correlate(v, kernel, mode="constant")[1:-1, 1:-1] for k, v in planes.items()}  # centre (i+1, j+1) -> anchor (i, j)
    h, w = rgb.shape[0] - 6, rgb.shape[1] - 6
    out = np.zeros((h, w), int)
    for i in range(h):
        for j in range(w):
            luma = sum(abs(res["y"][i, j]) >= e for e in chroma.LUMA_EDGES)
            magnitude = np.sqrt(res["cb"][i, j] ** 2 + res["cr"][i, j] ** 2)
            out[i, j] = 9 * luma + sum(magnitude >= e for e in chroma.CHROMA_EDGES)
    return out


def test_codes_equal_an_explicit_computation(rng):
    rgb = manipulations.jpeg(textured_image(rng, 30, 27), 90).copy()
    rgb[4:12, 3:20] = (90, 140, 60)  # flat: luma and chroma bin 0
    codes = chroma.codes(rgb)
    assert codes.shape == code_maps(rgb[..., 1], BANK_SUBMODELS[0])["across", "H"].shape == (24, 21)
    np.testing.assert_array_equal(codes, naive_codes(rgb))
    assert codes[5, 5] == 0 and len(np.unique(codes)) > 10


def test_codes_in_strips_equal_codes_in_one_piece(rng, monkeypatch):
    import scanner.features.chroma

    rgb = manipulations.jpeg(textured_image(rng, 31, 26), 90)
    whole = chroma.codes(rgb)
    monkeypatch.setattr(scanner.features.chroma, "STRIP", 4)  # 8 strips, the last one short
    np.testing.assert_array_equal(chroma.codes(rgb), whole)
    np.testing.assert_array_equal(chroma.codes(rgb[..., 1]), naive_codes(np.repeat(rgb[..., 1:2], 3, axis=2)))
    np.testing.assert_array_equal(chroma.codes(np.stack([rgb, rgb[::-1]]))[1], naive_codes(rgb[::-1]))


def test_a_gray_image_has_no_chroma(rng):
    gray = textured_image(rng, 24, 24, 1)[..., 0]
    codes = chroma.codes(gray)
    np.testing.assert_array_equal(codes % 9, 0)
    np.testing.assert_array_equal(codes, naive_codes(np.repeat(gray[..., None], 3, axis=2)))


def test_features_pool_the_anchor_square(rng):
    patches = np.stack([textured_image(rng, 40, 40) for _ in range(3)])
    f = chroma.features(patches)
    assert f.shape == (3, chroma.N_FEATURES)
    a = 40 - ANCHOR_MARGIN
    np.testing.assert_allclose(f[2], np.bincount(chroma.codes(patches[2])[:a, :a].ravel(), minlength=81) / (a * a))


def test_noise_added_to_rgb_moves_mass_to_high_chroma(rng):
    """A JPEG with subsampled chroma holds little chroma residual; independent noise of 2 grey
    levels on R, G and B puts most pixels in the top chroma bins, whatever the luma texture."""
    texture = textured_image(rng, 136, 136, 1).astype(np.float64)
    photo = manipulations.jpeg(np.clip(texture * [1.0, 0.85, 0.7] + [0, 10, 20], 0, 255).astype(np.uint8), 95)  # tinted luma detail
    chroma_bins = lambda image: chroma.features(image[None])[0].reshape(9, 9).sum(0)  # rows: luma bin, columns: chroma bin
    pristine, noisy = chroma_bins(photo), chroma_bins(manipulations.add_noise(photo, 2.0, seed=1))
    assert pristine[:5].sum() > 0.8
    assert noisy[6:].sum() > 0.6 and noisy[:4].sum() < 0.1
