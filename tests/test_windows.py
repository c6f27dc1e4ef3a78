"""scanner.core.windows: the analysis grid and the one box sum, against explicit loops."""

import numpy as np
import pytest

from scanner.core.windows import box_sums, box_sums_2d, window_grid, window_std


@pytest.mark.parametrize("height, width, stride, window", [(128, 128, 32, 128), (200, 290, 16, 64), (130, 500, 7, 32)])
def test_grid_covers_the_image_with_whole_windows(height, width, stride, window):
    tops, lefts = window_grid(height, width, stride, window)
    assert tops[0] == 0 and lefts[0] == 0
    assert np.all(np.diff(tops) == stride) and np.all(np.diff(lefts) == stride)
    assert tops[-1] + window <= height < tops[-1] + window + stride
    assert lefts[-1] + window <= width < lefts[-1] + window + stride


def test_an_image_smaller_than_a_window_has_no_window():
    tops, lefts = window_grid(100, 300, 16, 128)
    assert len(tops) == 0 and len(lefts) > 0


@pytest.mark.parametrize("box, stride", [((5, 9), 3), ((40, 33), 1), ((12, 12), 12)])
def test_float_boxes_of_unequal_sides_equal_explicit_sums(box, stride):
    """Rectangular float64 boxes, as the recast network pools its maps, through both ways of
    box_sums (a 40-row box at stride 1 reads the running-sum table)."""
    z = np.random.default_rng(1).normal(size=(60, 70))
    tops, lefts = np.arange(0, 60 - box[0] + 1, stride), np.arange(0, 70 - box[1] + 1, stride)
    expected = np.array([[z[t : t + box[0], l : l + box[1]].sum() for l in lefts] for t in tops])
    np.testing.assert_allclose(box_sums_2d(z, tops, lefts, box), expected, rtol=1e-12, atol=1e-9)


def test_both_ways_agree_on_integers():
    x = np.random.default_rng(2).integers(0, 9, size=(300, 4)).astype(np.int64)
    starts = np.arange(0, 300 - 50 + 1)
    few = box_sums(x, starts[::50], 50, axis=0)  # slices
    many = box_sums(x, starts, 50, axis=0)  # the table
    np.testing.assert_array_equal(many[::50], few)


@pytest.mark.parametrize("shape", [(300, 517, 3), (400, 333)])
@pytest.mark.parametrize("stride, window", [(8, 128), (32, 128), (48, 128), (32, 64)])
def test_window_std_equals_numpy_std_of_each_window(shape, stride, window):
    """Cell sums (window a whole number of strides) and direct sums (48 does not divide 128)
    both give numpy's standard deviation of the channel mean of every window."""
    pixels = np.random.default_rng(1).integers(0, 256, shape).astype(np.uint8)
    grey = pixels.mean(axis=2) if pixels.ndim == 3 else pixels.astype(np.float64)
    tops, lefts = window_grid(grey.shape[0], grey.shape[1], stride, window)
    expected = np.array([[grey[a : a + window, b : b + window].std() for b in lefts] for a in tops])
    np.testing.assert_allclose(window_std(pixels, stride, window), expected, rtol=0, atol=1e-9)


def test_flat_window_has_zero_std():
    pixels = np.full((256, 256, 3), 77, np.uint8)
    assert np.all(window_std(pixels, 32, 128) == 0)
