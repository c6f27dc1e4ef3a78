"""JPEG quantisation-lattice features of the luma channel."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.fft import dctn

from scanner.features import lattice
from scanner.processing import manipulations

from .conftest import textured_image


def naive_features(y: np.ndarray) -> np.ndarray:
    """Lattice features of one luma patch by explicit loops over blocks, frequencies and steps,
    with scipy's orthonormal DCT: the independent reference."""
    rows, cols = y.shape[0] // 8, y.shape[1] // 8
    out = []
    for u, v in lattice.FREQUENCIES:
        coefficients = [dctn(y[8 * i : 8 * i + 8, 8 * j : 8 * j + 8] - 128.0, norm="ortho")[u, v]
                        for i in range(rows) for j in range(cols)]
        for q in lattice.STEPS:
            big = [c for c in coefficients if abs(c) >= q / 2]
            out.append(sum(np.cos(2 * np.pi * c / q) for c in big) / (len(big) + lattice.PRIOR))
    return np.array(out)


def test_features_equal_explicit_loops(rng):
    patches = np.stack([lattice.luma(textured_image(rng, 40, 36)), lattice.luma(manipulations.jpeg(textured_image(rng, 40, 36), 70))])
    f = lattice.features(patches)
    assert f.shape == (2, lattice.N_FEATURES)
    for patch, row in zip(patches, f):
        np.testing.assert_allclose(row, naive_features(patch), rtol=0, atol=1e-12)


def test_luma_is_jfif_and_gray_is_its_own():
    rgb = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [10, 10, 10]]], dtype=np.uint8)
    np.testing.assert_allclose(lattice.luma(rgb), [[0.299 * 255, 0.587 * 255, 0.114 * 255, 10.0]])


def test_jpeg_puts_the_coefficients_on_its_steps(rng):
    """JPEG 70 of a never-compressed image: the DC step of the IJG table at quality 70 is 10
    (16 x 0.6), so the DC feature at step 10 is near 1; before compression it is near 0."""
    rgb = textured_image(rng, 256, 256)
    dc10 = list(lattice.FREQUENCIES).index((0, 0)) * len(lattice.STEPS) + list(lattice.STEPS).index(10)
    before = lattice.features(lattice.luma(rgb)[None])[0, dc10]
    after = lattice.features(lattice.luma(manipulations.jpeg(rgb, 70))[None])[0, dc10]
    assert after > 0.8 and abs(before) < 0.3


@pytest.mark.parametrize("offset, window", [((0, 0), 128), ((5, 3), 64), ((1, 7), 32)])
def test_window_features_use_the_whole_blocks_inside_each_window(rng, offset, window):
    y = lattice.luma(manipulations.jpeg(textured_image(rng, 200, 230), 80))
    tops, lefts = np.arange(0, 200 - window + 1, 24), np.arange(0, 230 - window + 1, 20)
    dense = lattice.grid_logits(y, [(tops, lefts, window)], np.eye(lattice.N_FEATURES), offset, chunk=40)[0]
    dy, dx = offset
    expected = []
    for t in tops:
        for l in lefts:
            a, b = (dy - t) % 8, (dx - l) % 8  # first whole block of the window
            rows, cols = (window - a) // 8, (window - b) // 8
            expected.append(lattice.features(y[None, t + a : t + a + 8 * rows, l + b : l + b + 8 * cols])[0])
    np.testing.assert_allclose(dense, np.array(expected), rtol=0, atol=1e-9)


@pytest.mark.parametrize("shift", [(0, 0), (3, 5), (6, 1)])
def test_grid_offset_finds_the_block_grid_of_a_cropped_jpeg(rng, shift):
    compressed = manipulations.jpeg(textured_image(rng, 300, 300), 90)
    dy, dx = shift
    y = lattice.luma(compressed[dy : dy + 256, dx : dx + 256])
    assert lattice.grid_offset(y) == ((8 - dy) % 8, (8 - dx) % 8)


def test_grid_offset_of_a_never_compressed_image_is_the_corner(rng):
    assert lattice.grid_offset(lattice.luma(textured_image(rng, 256, 256))) == (0, 0)


def test_step_terms_equal_their_definition_for_every_step(rng):
    """Cosines got by doubling from the larger steps (2 cos^2 - 1) equal the direct ones."""
    c = rng.normal(0, 30, (20, 20, len(lattice.FREQUENCIES)))
    seen = []
    for j, s, n in lattice.step_terms(c):
        q = lattice.STEPS[j]
        counted = (np.abs(c) >= q / 2).astype(np.float64)
        np.testing.assert_array_equal(n, counted)
        np.testing.assert_allclose(s, counted * np.cos(2 * np.pi * c / q), rtol=0, atol=1e-12)
        seen.append(j)
    assert sorted(seen) == list(range(len(lattice.STEPS)))
