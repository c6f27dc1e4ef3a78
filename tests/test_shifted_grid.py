"""scanner.features.shifted_grid: an earlier JPEG compression on a grid shifted from the file's own
(a crop between two compressions)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.fft import dctn

from scanner.core.types import JpegHistory
from scanner.features.double_quantization import jpeg_history
from scanner.features.shifted_grid import (
    EVIDENCE,
    STEPS,
    dct_on_grid,
    decoded_luminance,
    lattice_statistic,
    shifted_grid_evidence,
)
from scanner.inputs.jpeg_file import read_luminance
from scanner.processing.manipulations import jpeg as jpeg_roundtrip
from scanner.processing.manipulations import jpeg_compress
from scanner.scoring.records import ImageRecord
from scanner.writers.html import jpeg_cell
from tests.conftest import smooth_photo


@pytest.mark.parametrize("offset", [(0, 0), (3, 5), (7, 1)])
def test_dct_on_a_grid_is_scipys_orthonormal_block_dct(rng, offset):
    luminance = rng.uniform(0, 255, (45, 53))
    coefficients = dct_on_grid(luminance, offset)
    a, b = offset
    n, m = (45 - a) // 8, (53 - b) // 8
    assert coefficients.shape == (5, 5, n, m)
    for i, j in ((0, 0), (n - 1, m - 1), (1, 2)):
        block = luminance[a + 8 * i : a + 8 * i + 8, b + 8 * j : b + 8 * j + 8]
        assert np.allclose(coefficients[:, :, i, j], dctn(block, norm="ortho")[:5, :5])


def test_the_decoded_luminance_on_the_files_grid_gives_back_its_coefficients(rng):
    stored = read_luminance(jpeg_compress(smooth_photo(rng, 256), 75))
    luminance = decoded_luminance(stored)
    assert luminance.shape == (256, 256)
    again = dct_on_grid(luminance - 128, (0, 0))  # pixel rounding moves each coefficient by well under a step
    stored_values = np.transpose(stored.coefficients * stored.table, (2, 3, 0, 1))[:5, :5]
    assert np.mean(np.abs(again - stored_values)) < 0.5


def _histogram(values: np.ndarray, resolution: float = 0.2, largest: float = 100.0) -> np.ndarray:
    values = np.abs(values)
    return np.bincount((values[values < largest] / resolution).astype(int), minlength=int(largest / resolution))[None, :500].astype(float)


def test_a_smooth_law_is_not_periodic_and_a_lattice_is_at_its_step(rng):
    smooth = lattice_statistic(_histogram(rng.laplace(0, 8, 40_000)))[0]
    assert smooth.mean() < 4 and smooth.max() < 15  # a Rayleigh statistic: about 2 on average
    lattice = lattice_statistic(_histogram(np.round(rng.laplace(0, 8, 40_000) / 6) * 6 + rng.normal(0, 1, 40_000)))[0]
    assert STEPS[np.argmax(lattice)] == 6 and lattice.max() > 100


def test_a_crop_between_two_compressions_is_found_on_its_shifted_grid(rng):
    rgb = smooth_photo(rng, 1032)
    earlier = jpeg_roundtrip(rgb, 70)
    data = jpeg_compress(earlier[3:, 5:], 90)  # earlier blocks now start at row 5, column 3
    found = shifted_grid_evidence(read_luminance(data))
    assert found.offset == (5, 3) and found.score >= EVIDENCE
    history = jpeg_history(data)
    assert history.double_compression == "evidence" and history.earlier_grid == (5, 3)
    assert history.earlier_quality is not None and abs(history.earlier_quality - 70) <= 5
    once = jpeg_history(jpeg_compress(rgb[3:, 5:], 90))
    assert once.grid_statistic < EVIDENCE and once.earlier_grid is None and once.double_compression != "evidence"


def test_a_file_too_small_for_the_shifted_test_is_not_read(rng):
    found = shifted_grid_evidence(read_luminance(jpeg_compress(smooth_photo(rng, 128), 80)))
    assert found.offset is None and found.score == 0.0


def test_a_crop_in_columns_only_is_found_against_its_mirror_grid(rng):
    earlier = jpeg_roundtrip(smooth_photo(rng, 1032), 70)
    found = shifted_grid_evidence(read_luminance(jpeg_compress(earlier[:, 3:], 90)))  # earlier blocks start at column 5
    assert found.offset == (0, 5) and found.score >= EVIDENCE


def test_the_verdict_and_the_report_say_where_the_earlier_grid_is():
    history = JpegHistory(quality=90, standard_table=True, double_compression="evidence", statistic=3.0, threshold=35.0,
                          earlier_quality=70, grid_statistic=4.2, grid_threshold=EVIDENCE, earlier_grid=(5, 3))
    record = ImageRecord(path="cropped.jpg", jpeg=history)
    assert "compressed twice" in record.verdict and "shifted by 5,3 px" in record.verdict
    assert "shifted by 5 rows, 3 columns" in jpeg_cell(record)
    assert history.to_dict()["earlier_grid"] == [5, 3]
    aligned = ImageRecord(path="resaved.jpg", jpeg=JpegHistory(90, True, "evidence", 80.0, 35.0, 70))
    assert "shifted" not in aligned.verdict and aligned.jpeg.to_dict()["earlier_grid"] is None
