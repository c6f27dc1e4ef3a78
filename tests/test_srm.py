"""The descriptor against a deliberately naive second implementation (explicit loops)."""

from __future__ import annotations

import numpy as np
import pytest

from scanner.features import srm


def naive_descriptor(patch: np.ndarray) -> np.ndarray:
    """Spec 1.1-1.4 written out pixel by pixel, with no shared code."""
    x = patch.astype(float)

    def half(img: np.ndarray, direction: str) -> np.ndarray:
        h, w = img.shape
        res = np.zeros((h, w - 3))
        for i in range(h):
            for j in range(w - 3):
                res[i, j] = img[i, j] - 3 * img[i, j + 1] + 3 * img[i, j + 2] - img[i, j + 3]
        q = np.zeros_like(res, dtype=int)
        for i in range(res.shape[0]):
            for j in range(res.shape[1]):
                y = res[i, j] / 4.5
                rounded = np.sign(y) * np.floor(abs(y) + 0.5)
                q[i, j] = int(min(1, max(-1, rounded)))
        counts = np.zeros(81)
        if direction == "along":
            for i in range(q.shape[0]):
                for j in range(q.shape[1] - 3):
                    counts[sum(3**n * (q[i, j + n] + 1) for n in range(4))] += 1
        else:
            for i in range(q.shape[0] - 3):
                for j in range(q.shape[1]):
                    counts[sum(3**n * (q[i + n, j] + 1) for n in range(4))] += 1
        return counts / counts.sum()

    across = (half(x, "across") + half(x.T, "across")) / 2
    along = (half(x, "along") + half(x.T, "along")) / 2
    return np.concatenate([across, along])


def test_matches_naive_loops(rng):
    patches = rng.integers(0, 256, (3, 12, 10), dtype=np.uint8)
    smooth = np.cumsum(rng.integers(-3, 4, (2, 11, 13)), axis=2).clip(0, 255).astype(np.uint8) + 60
    for batch in (patches, smooth):
        fast = srm.srm_features(batch)
        slow = np.stack([naive_descriptor(p) for p in batch])
        np.testing.assert_allclose(fast, slow, atol=1e-15)


def test_shapes_and_sums(rng):
    f = srm.srm_features(rng.integers(0, 256, (5, 128, 128), dtype=np.uint8))
    assert f.shape == (5, 162) and f.dtype == np.float64
    np.testing.assert_allclose(f[:, :81].sum(1), 1.0)
    np.testing.assert_allclose(f[:, 81:].sum(1), 1.0)


def test_constant_patch_is_all_zero_code():
    f = srm.srm_features(np.full((1, 16, 16), 77, np.uint8))
    zero_code = sum(3**n * 1 for n in range(4))  # all q = 0
    assert f[0, zero_code] == 1.0 and f[0, 81 + zero_code] == 1.0


def test_quantize_rounds_half_away_from_zero():
    r = np.array([-5, -3, -2.25, -2, 0, 2, 2.25, 3, 7])
    np.testing.assert_array_equal(srm.quantize(r), [-1, -1, -1, 0, 0, 0, 1, 1, 1])


def test_residual_is_cross_correlation():
    x = np.array([[0, 0, 0, 10, 0, 0]])
    # r[j] = x[j] - 3x[j+1] + 3x[j+2] - x[j+3]
    np.testing.assert_array_equal(srm.residual(x), [[-10, 30, -30]])


def test_codebook_digits_encode_their_index():
    book = srm.codebook()
    assert book.shape == (81, 4)
    np.testing.assert_array_equal((3 ** np.arange(4) * (book + 1)).sum(1), np.arange(81))


def test_rejects_small_patches():
    with pytest.raises(ValueError):
        srm.srm_features(np.zeros((1, 7, 128), np.uint8))



@pytest.mark.parametrize("height, width", [(150, 97), (8 * srm.CELL_ROWS * 2, 40)])
def test_cell_histograms_strip_by_strip_equal_counting_each_pixel(rng, height, width):
    """Cell counts taken a strip of cells at a time, against counting each pixel's code into its
    cell directly, over the whole map."""
    codes = rng.integers(0, srm.N_CODES, (height, width)).astype(np.int16)
    rows, cols = height // 8, width // 8
    expected = np.zeros((rows, cols, srm.N_CODES), dtype=np.int64)
    for i in range(rows * 8):
        np.add.at(expected[i // 8], (np.arange(cols * 8) // 8, codes[i, : cols * 8]), 1)
    np.testing.assert_array_equal(srm.cell_histograms(codes, 8), expected)
