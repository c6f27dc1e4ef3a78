"""Each operation changes the image the way it should."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from scanner.processing import manipulations as M
from tests.conftest import textured_image


def test_median_of_constant_is_constant_and_removes_impulses(rng):
    flat = np.full((40, 50, 3), 91, np.uint8)
    assert np.array_equal(M.median(flat, 5), flat)
    speckled = flat.copy()
    speckled[10, 10] = 255
    assert M.median(speckled, 3)[10, 10, 0] == 91
    img = textured_image(rng, 30, 30)
    from scipy import ndimage

    assert np.array_equal(M.median(img, 7)[..., 1], ndimage.median_filter(img[..., 1], size=7, mode="reflect"))


def test_blur_matches_explicit_kernel_and_preserves_constants(rng):
    img = textured_image(rng, 40, 40, channels=1)[..., 0]
    for sigma, size in ((1.1, 7), (0.75, 5), (0.5, 3)):
        t = np.arange(size) - size // 2
        k = np.exp(-t**2 / (2 * sigma**2))
        k /= k.sum()
        padded = np.pad(img.astype(float), size // 2, mode="symmetric")
        rows = np.apply_along_axis(lambda v: np.convolve(v, k, mode="valid"), 1, padded)
        ref = np.apply_along_axis(lambda v: np.convolve(v, k, mode="valid"), 0, rows)
        out = M.gaussian_blur(img, sigma)
        assert np.abs(out.astype(int) - np.clip(np.round(ref), 0, 255)).max() <= 1
    assert np.array_equal(M.gaussian_blur(np.full((9, 9, 3), 50, np.uint8), 1.1), np.full((9, 9, 3), 50))


def test_noise_has_requested_standard_deviation():
    gray = np.full((400, 400), 128, np.uint8)
    diff = M.add_noise(gray, 2.0, seed=1).astype(float) - 128
    assert abs(diff.std() - np.sqrt(2.0**2 + 1 / 12)) < 0.03  # sigma before rounding plus rounding noise
    changed = np.mean(M.add_noise(gray, 0.25, seed=2) != gray)
    assert abs(changed - 0.0455) < 0.005  # P(|N(0, 0.25)| >= 0.5)
    assert np.array_equal(M.add_noise(gray, 0.5, seed=3), M.add_noise(gray, 0.5, seed=3))
    assert not np.array_equal(M.add_noise(gray, 0.5, seed=3), M.add_noise(gray, 0.5, seed=4))


@pytest.mark.parametrize("scale", [1.5, 1.125, 1.01])
def test_resize_changes_size_by_factor(rng, scale):
    img = textured_image(rng, 80, 120)
    out = M.resize(img, scale)
    assert out.shape == (round(80 * scale), round(120 * scale), 3)


def standard_luminance_table(quality: int) -> list[int]:
    """IJG formula on the JPEG Annex K luminance table (natural order)."""
    base = [16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
            14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
            49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99]
    scale = 5000 // quality if quality < 50 else 200 - 2 * quality
    return [min(255, max(1, (b * scale + 50) // 100)) for b in base]


@pytest.mark.parametrize("quality", [70, 80, 90])
def test_jpeg_uses_the_requested_quality_tables(rng, quality):
    img = textured_image(rng, 64, 64)
    with Image.open(io.BytesIO(M.jpeg_compress(img, quality))) as im:
        table = list(im.quantization[0])
        assert im.format == "JPEG"
    # Pillow reports tables in zig-zag order: compare as sorted multisets and by DC term
    expected = standard_luminance_table(quality)
    assert sorted(table) == sorted(expected) and table[0] == expected[0]
    out = M.jpeg(img, quality)
    assert out.shape == img.shape and not np.array_equal(out, img)


def test_registry_has_table_one():
    assert {m: M.MANIPULATIONS[m].strengths for m in M.MANIPULATIONS} == {
        "median": (7, 5, 3), "blur": (1.1, 0.75, 0.5), "noise": (2.0, 0.5, 0.25),
        "resize": (1.5, 1.125, 1.01), "jpeg": (70, 80, 90)}
    with pytest.raises(ValueError):
        M.get("sharpen")
