"""scanner.inputs.jpeg_file and scanner.features.double_quantization: a JPEG file's own
quality, and the trace of an earlier compression in its coefficient histograms."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from scanner.features.double_quantization import (
    EVIDENCE,
    jpeg_history,
    periodic_evidence,
    predicted_counts,
)
from scanner.inputs.jpeg_file import file_quality, header_quality, ijg_quality, ijg_tables, read_luminance
from scanner.processing.manipulations import jpeg_compress
from tests.conftest import smooth_photo


@pytest.mark.parametrize("quality", [20, 50, 75, 90, 97])
def test_the_quality_read_is_the_one_saved_and_the_table_is_pillows(rng, quality):
    data = jpeg_compress(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8), quality)
    stored = read_luminance(data)
    pillow_table = np.array(Image.open(io.BytesIO(data)).quantization[0]).reshape(8, 8)  # Pillow stores it row by row
    assert np.array_equal(stored.table, pillow_table) and np.array_equal(ijg_tables()[quality - 1], pillow_table)
    assert ijg_quality(stored.table) == (quality, True)
    assert header_quality(Image.open(io.BytesIO(data))) == quality  # from the header alone, as a scan reads it
    assert stored.coefficients.shape == (8, 8, 8, 8)


def test_a_stored_file_reads_its_own_quality_and_a_lossless_file_none(rng, tmp_path):
    pixels = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    (tmp_path / "a.jpg").write_bytes(jpeg_compress(pixels, 83))
    Image.fromarray(pixels).save(tmp_path / "b.png")
    assert file_quality(tmp_path / "a.jpg") == 83 and file_quality(tmp_path / "b.png") is None


def test_a_table_off_the_ijg_scale_gets_the_nearest_quality_and_is_not_standard():
    table = ijg_tables()[79].copy()
    table[0, 0] += 1
    assert ijg_quality(table) == (80, False)


def test_predicted_counts_of_a_fine_first_step_are_a_smooth_laplacian():
    counts = predicted_counts(0.05, 6, -0.1, 12)
    log = np.log(counts[1:])
    assert np.allclose(np.diff(log, 2), 0, atol=1e-3)  # log-linear in |k| beyond the zero bin


def test_double_quantisation_stands_out_and_single_does_not(rng):
    x = rng.laplace(0, 12, 200_000)
    single = periodic_evidence(np.round(x / 5), 5)
    assert single.z < 4
    for q1 in (3, 7):  # a finer and a coarser first step
        twice = np.round((np.round(x / q1) * q1 + rng.normal(0, 0.4, x.size)) / 5)
        found = periodic_evidence(twice, 5)
        assert found.z > 20 and found.q1 == q1
    divides = np.round((np.round(x / 2) * 2 + rng.normal(0, 0.4, x.size)) / 4)  # 4 is a multiple of 2: no pattern
    assert periodic_evidence(divides, 4).z < 4


def test_a_file_saved_twice_shows_evidence_and_once_does_not(rng):
    rgb = smooth_photo(rng, 1088)
    once = jpeg_history(jpeg_compress(rgb, 80))
    assert once.quality == 80 and once.double_compression == "none" and once.statistic < EVIDENCE
    decoded = np.asarray(Image.open(io.BytesIO(jpeg_compress(rgb, 60))).convert("RGB"))
    twice = jpeg_history(jpeg_compress(decoded, 80))
    assert twice.quality == 80 and twice.double_compression == "evidence" and twice.statistic >= EVIDENCE
    assert twice.earlier_quality is not None and abs(twice.earlier_quality - 60) <= 5


def test_a_small_or_very_fine_file_is_undetermined(rng):
    assert jpeg_history(jpeg_compress(smooth_photo(rng, 768), 80)).double_compression == "undetermined"  # too few blocks
    assert jpeg_history(jpeg_compress(smooth_photo(rng, 1088), 99)).double_compression == "undetermined"  # steps of 1 and 2


def test_bytes_libjpeg_cannot_read_raise_value_error():
    with pytest.raises(ValueError):
        read_luminance(b"\xff\xd8\xff\xe0 not really a jpeg")
