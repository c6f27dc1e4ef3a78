"""`scanner scan`: bad inputs, JSON output, exit codes, dense evaluation, heat maps.

These run the installed console script in a scratch working directory, so they also
check that the shipped weights are found from anywhere.
"""

from __future__ import annotations

import io
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from scanner.families.registry import load_shipped
from scanner.processing import manipulations
from scanner.scoring.analysis import analyze
from scanner.scoring.options import ScanOptions
from tests.conftest import textured_image

SCANNER = [sys.executable, "-m", "scanner"] if shutil.which("scanner") is None else ["scanner"]


def run_scanner(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """Run `scanner scan ARGS` in ``cwd``."""
    env = dict(os.environ, NO_COLOR="1", COLUMNS="200")
    return subprocess.run(SCANNER + ["scan"] + args, cwd=cwd, capture_output=True, text=True, env=env, timeout=600)


@pytest.fixture(scope="module")
def evidence(tmp_path_factory) -> Path:
    """A folder holding every kind of bad input the scanner must survive."""
    rng = np.random.default_rng(5)
    root = tmp_path_factory.mktemp("evidence")

    def rgb(h: int = 288, w: int = 320) -> Image.Image:
        return Image.fromarray(textured_image(rng, h, w))

    good = io.BytesIO()
    rgb().save(good, format="JPEG", quality=92)
    (root / "truncated.jpg").write_bytes(good.getvalue()[: len(good.getvalue()) // 2])
    (root / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(rng.integers(0, 256, 3000, dtype=np.uint8)))
    (root / "empty.jpg").write_bytes(b"")
    (root / "notes.jpg").write_text("this is a text file, not a photograph\n")
    rgb(100, 100).save(root / "small.png")
    Image.new("1", (12000, 12000)).save(root / "bomb.png")
    Image.fromarray((textured_image(rng, 256, 256, channels=1)[..., 0].astype(np.uint16) * 257)).save(root / "sixteen.png")
    rgb().convert("CMYK").save(root / "cmyk.jpg", quality=95)
    rgb().convert("P").save(root / "palette.gif")
    rgb().convert("RGBA").save(root / "alpha.png")
    frames = [rgb().convert("P") for _ in range(3)]
    frames[0].save(root / "animated.gif", save_all=True, append_images=frames[1:])
    rgb().convert("L").save(root / "gray.png")
    rgb().save(root / "фото-ü.png")
    for sub in ("a", "b"):
        (root / sub).mkdir()
        rgb().save(root / sub / "a.png")
    os.symlink(root / "loop.jpg", root / "loop.jpg")  # unreadable: a symbolic-link loop
    (root / ".hidden.png").write_bytes(b"skipped unless --hidden")
    return root


EXPECTED = {
    "truncated.jpg": ("error", "truncated"), "corrupt.png": ("error", None), "empty.jpg": ("error", "empty"),
    "notes.jpg": ("error", "not_an_image"), "small.png": ("skipped", "too_small"), "bomb.png": ("error", "too_large"),
    "sixteen.png": ("ok", None), "cmyk.jpg": ("ok", None), "palette.gif": ("ok", None), "alpha.png": ("ok", None),
    "animated.gif": ("ok", None), "gray.png": ("ok", None), "фото-ü.png": ("ok", None), "a/a.png": ("ok", None),
    "b/a.png": ("ok", None), "loop.jpg": ("error", "unreadable"),
}


def test_every_bad_input_gets_its_record(evidence, tmp_path):
    result = run_scanner([str(evidence), "--json", "--heatmaps", str(tmp_path / "maps")], tmp_path)
    assert "Traceback" not in result.stderr
    doc = json.loads(result.stdout)  # stdout is one JSON document and nothing else
    assert doc["schema_version"] == 2 and doc["tool"]["name"] == "scanner"
    assert set(doc["models"]) == {"median", "blur", "noise", "resize", "jpeg"}
    records = {Path(r["path"]).relative_to(evidence).as_posix(): r for r in doc["images"]}
    assert set(records) == set(EXPECTED)
    for name, (status, code) in EXPECTED.items():
        r = records[name]
        assert r["status"] == status, (name, r)
        if status == "ok":
            assert r["error"] is None and r["sha256"] and set(r["detections"]) == set(doc["models"])
            for name, d in r["detections"].items():
                assert 0 <= d["score"] <= 1 and 0 <= d["flagged_fraction"] <= 1
                passed = d["score"] > d["threshold"] or d.get("spread_score", 0) > d.get("spread_threshold", 1e9)
                assert d["flagged"] == bool(d["regions"]) == (passed and "explained" not in d)
                assert (d["extent"] is None) != d["flagged"] and (d["margin"] > 0) == passed
            assert r["flagged"] == any(d["flagged"] for d in r["detections"].values()) == bool(r["candidates"])
            assert r["operation"] is None or r["operation"] == r["candidates"][0]["operation"]
        else:
            assert r["error"]["message"] and (code is None or r["error"]["code"] == code), (name, r)
    assert records["sixteen.png"]["input"]["bit_depth"] == 16
    assert any("palette" in c for c in records["palette.gif"]["input"]["conversions"])
    assert records["animated.gif"]["input"]["frames"] == 3
    flagged = any(d["flagged"] for r in doc["images"] for d in r["detections"].values())
    assert result.returncode == (1 if flagged else 3)
    assert doc["summary"]["exit_code"] == result.returncode
    figures = {records[n]["heatmaps"]["figure"] for n in ("a/a.png", "b/a.png")}
    assert len(figures) == 2 and all(Path(p).is_file() for p in figures)  # same name, different folders
    assert all(records[n]["heatmaps"] is None for n in EXPECTED if EXPECTED[n][0] != "ok")


def test_jsonl_streams_records_then_summary(evidence, tmp_path):
    result = run_scanner([str(evidence / "a"), str(evidence / "empty.jpg"), "--jsonl", "-m", "noise"], tmp_path)
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["status"] for r in lines[:-1]] == ["ok", "error"] and "summary" in lines[-1]
    assert lines[-1]["summary"]["files"] == 2


@pytest.mark.slow
def test_human_table_and_exit_codes(evidence, tmp_path):
    table = run_scanner([str(evidence / "gray.png"), "-m", "median"], tmp_path)
    assert table.returncode in (0, 1) and "gray.png" in table.stdout and "Traceback" not in table.stderr
    assert run_scanner([str(tmp_path / "nothing-here")], tmp_path).returncode == 2
    (tmp_path / "empty-dir").mkdir()
    assert run_scanner([str(tmp_path / "empty-dir")], tmp_path).returncode == 2
    missing = run_scanner([str(evidence / "gray.png"), "--weights", str(tmp_path / "empty-dir")], tmp_path)
    assert missing.returncode == 4 and "not found" in missing.stderr
    if not torch.cuda.is_available():
        assert run_scanner([str(evidence / "gray.png"), "--device", "cuda"], tmp_path).returncode == 4
    assert run_scanner([str(evidence / "small.png"), "--exit-zero"], tmp_path).returncode == 0
    assert run_scanner([str(evidence / "small.png")], tmp_path).returncode == 3


@pytest.mark.slow
def test_workers_give_the_records_of_one_process(evidence, tmp_path):
    one = json.loads(run_scanner([str(evidence), "--json", "-m", "median", "--heatmaps", str(tmp_path / "one")], tmp_path).stdout)
    two = run_scanner([str(evidence), "--json", "-m", "median", "--workers", "2", "--heatmaps", str(tmp_path / "two")], tmp_path)
    assert "Traceback" not in two.stderr
    two = json.loads(two.stdout)
    assert two["options"]["engine"] == {"name": "local", "workers": 2} and two["options"]["threads"] >= 1
    assert one["summary"] == two["summary"] and one["summary"]["files"] == len(EXPECTED)

    def without_outputs(record: dict) -> dict:
        return {k: v for k, v in record.items() if k != "heatmaps"}

    assert [without_outputs(r) for r in one["images"]] == [without_outputs(r) for r in two["images"]]  # same order too
    figures = [r["heatmaps"]["figure"] for r in two["images"] if r["status"] == "ok"]
    assert len(set(figures)) == len(figures) == sum(s == "ok" for s, _ in EXPECTED.values())
    assert all(Path(f).is_file() and Path(f).is_relative_to(tmp_path / "two") for f in figures)


class DiesOnWidth:
    """A detector set that kills its process when asked to score an image ``width`` pixels
    wide: a worker that dies on one file (out of memory, say)."""

    def __init__(self, detectors, width: int) -> None:
        self.detectors, self.width = detectors, width

    def __getattr__(self, name: str):
        if name in ("detectors", "width"):
            raise AttributeError(name)
        return getattr(self.detectors, name)

    def dense_grids(self, pixels: np.ndarray, *args, **kwargs):
        if pixels.shape[1] == self.width:
            os._exit(3)
        return self.detectors.dense_grids(pixels, *args, **kwargs)


@pytest.mark.slow
def test_a_file_that_kills_its_worker_gets_an_error_record_and_the_scan_goes_on(tmp_path):
    from scanner.engines.local import scan

    rng = np.random.default_rng(8)
    for name, width in (("a", 300), ("b", 333), ("c", 310), ("d", 320)):
        Image.fromarray(textured_image(rng, 260, width)).save(tmp_path / f"{name}.png")
    records = list(scan([tmp_path], DiesOnWidth(load_shipped(["median"]), 333), ScanOptions(), workers=2))
    assert [Path(r.path).name for r in records] == ["a.png", "b.png", "c.png", "d.png"]
    assert [r.status for r in records] == ["ok", "error", "ok", "ok"]
    assert records[1].error["code"] == "worker_failed" and "b.png" in records[1].error["message"]
    assert not multiprocessing.active_children()  # a worker left behind would hang this process's exit


def test_shipped_dense_scores_equal_window_by_window():
    rng = np.random.default_rng(3)
    green = textured_image(rng, 300, 340, channels=1)[..., 0]
    bank = load_shipped()
    scores = bank.dense(green, 32)
    windows = np.stack([green[t : t + 128, l : l + 128] for t in scores.tops for l in scores.lefts])
    single, _ = bank.patch_logits(windows)
    for name in bank.names:
        assert scores.detectors[name].shape == ((300 - 128) // 32 + 1, (340 - 128) // 32 + 1)
        np.testing.assert_allclose(scores.detectors[name].ravel(), single[name], atol=1e-9)


def test_blurred_copy_scores_higher_on_blur():
    from sklearn.datasets import load_sample_image

    bank = load_shipped(["blur"])
    for name in ("china.jpg", "flower.jpg"):
        rgb = load_sample_image(name)
        original = bank.dense(rgb, 32).detectors["blur"]
        blurred = bank.dense(manipulations.gaussian_blur(rgb, 0.75), 32).detectors["blur"]
        assert np.median(blurred) > np.median(original) + 2, name


def test_recompressed_copy_is_flagged_as_jpeg():
    """Two JPEG photos recompressed at quality 70: the JPEG detector scores nearly every window
    higher than on the photo as stored, and flags the image; it does not flag the photos as stored."""
    from sklearn.datasets import load_sample_image

    bank = load_shipped()
    for name in ("china.jpg", "flower.jpg"):
        rgb = load_sample_image(name)
        recompressed = manipulations.jpeg(rgb, 70)
        original = bank.dense(rgb, 32).detectors["jpeg"]
        assert np.mean(bank.dense(recompressed, 32).detectors["jpeg"] > original) > 0.9, name
        assert analyze(recompressed, bank, ScanOptions()).detections["jpeg"].flagged, name
        assert not analyze(rgb, bank, ScanOptions()).detections["jpeg"].flagged, name


def test_noisy_copy_is_flagged_as_noise_and_the_photo_is_not():
    """Two JPEG photos with noise of sigma 2 added to R, G and B: the noise detector (chroma
    codes) flags them and names noise; it does not flag the photos as stored."""
    from sklearn.datasets import load_sample_image

    bank = load_shipped()
    for name in ("china.jpg", "flower.jpg"):
        rgb = load_sample_image(name)
        noisy = analyze(manipulations.add_noise(rgb, 2.0, seed=3), bank, ScanOptions())
        assert noisy.detections["noise"].flagged and noisy.operation == "noise", name
        assert not analyze(rgb, bank, ScanOptions()).detections["noise"].flagged, name


def test_a_lossless_file_flagged_by_a_colour_detector_carries_a_warning():
    """Film grain looks like added noise to the chroma codes: a PNG flagged by the noise detector
    says so in its record; the same photo, unflagged, does not."""
    import io

    from sklearn.datasets import load_sample_image

    from scanner.engines.local import Scorer

    scorer = Scorer(load_shipped())
    rgb = load_sample_image("china.jpg")

    def record(pixels: np.ndarray, fmt: str):
        buffer = io.BytesIO()
        Image.fromarray(pixels).save(buffer, format=fmt, **({"quality": 95} if fmt == "JPEG" else {}))
        return scorer.score(f"x.{fmt.lower()}", buffer.getvalue())

    noisy = record(manipulations.add_noise(rgb, 2.0, seed=3), "PNG")
    assert noisy.detections["noise"].flagged
    assert any("PNG file flagged by the noise detector" in w and "film grain" in w for w in noisy.warnings)
    clean = record(rgb, "PNG")
    assert not clean.flagged and not any("film grain" in w for w in clean.warnings)


def test_flagged_regions_and_table_agree_on_a_local_edit(tmp_path):
    """A photo with one median-filtered square: the record is flagged exactly when it lists
    regions, the region covers the square, the named operation is median filtering, and the
    table says the same."""
    from sklearn.datasets import load_sample_image

    rgb = load_sample_image("flower.jpg").copy()
    rgb[96:352, 160:416] = manipulations.median(rgb, 5)[96:352, 160:416]
    Image.fromarray(rgb).save(tmp_path / "edited.png")
    analysis = analyze(rgb, load_shipped(), ScanOptions(stride=16))
    median = analysis.detections["median"]
    assert median.flagged and median.regions and analysis.flagged and analysis.operation == "median"
    for d in analysis.detections.values():
        spread = d.spread_score is not None and d.spread_score > d.spread_threshold
        assert d.flagged == bool(d.regions) == (d.score > d.threshold or spread)
    assert median.extent == "local"
    x0, y0, x1, y1 = median.regions[0].bbox
    assert x0 <= 200 and y0 <= 140 and x1 >= 376 and y1 >= 312  # the region holds most of the square
    assert (x1 - x0) * (y1 - y0) < 0.6 * rgb.shape[0] * rgb.shape[1]
    record = json.loads(run_scanner([str(tmp_path / "edited.png"), "--json"], tmp_path).stdout)["images"][0]
    assert record["flagged"] and record["operation"] == "median" and record["verdict"].startswith("evidence of median")
    assert record["regions"] and all(r["detector"] in record["detections"] for r in record["regions"])
    table = run_scanner([str(tmp_path / "edited.png")], tmp_path)
    assert table.returncode == 1 and "evidence of median" in table.stdout


def test_coverage_mean_is_the_mean_of_the_covering_windows(rng):
    from scanner.core.constants import MAP_CELL
    from scanner.scoring.maps import coverage_mean

    height, width, window, stride = 150, 170, 32, 8
    tops, lefts = np.arange(0, height - window + 1, stride), np.arange(0, width - window + 1, stride)
    values = rng.normal(size=(len(tops), len(lefts)))
    got = coverage_mean(values, stride, window, (height, width))
    assert got.shape == (-(-height // MAP_CELL), -(-width // MAP_CELL))
    for i in range(got.shape[0]):
        for j in range(got.shape[1]):
            y, x = i * MAP_CELL + MAP_CELL // 2, j * MAP_CELL + MAP_CELL // 2
            rows = [r for r, t in enumerate(tops) if t <= y < t + window] or [len(tops) - 1]
            cols = [c for c, left in enumerate(lefts) if left <= x < left + window] or [len(lefts) - 1]
            assert got[i, j] == pytest.approx(values[np.ix_(rows, cols)].mean())


def test_a_small_processed_square_is_localised_at_32_pixels_and_a_pristine_photo_gives_nothing():
    from sklearn.datasets import load_sample_image

    from scanner.core.constants import MAP_CELL
    from scanner.families.registry import load_shipped
    from scanner.scoring.analysis import analyze
    from scanner.scoring.options import ScanOptions

    bank = load_shipped(None, "cpu")
    photo = load_sample_image("flower.jpg")  # a real photo, untouched
    pristine = analyze(photo, bank, ScanOptions(stride=16))
    assert not pristine.flagged and not any(d.regions for d in pristine.detections.values())
    assert not (pristine.evidence["median"] > 0).any()
    x, y, side = 240, 160, 96
    forged = photo.copy()
    forged[y : y + side, x : x + side] = manipulations.median(photo, 5)[y : y + side, x : x + side]
    for window in (32, None):
        evidence = analyze(forged, bank, ScanOptions(stride=16, window=window)).evidence["median"] > 0
        rows, cols = np.nonzero(evidence)
        box = np.array([cols.min(), rows.min(), cols.max() + 1, rows.max() + 1]) * MAP_CELL
        if window == 32:  # within a map cell or two of the truth
            assert np.abs(box - [x, y, x + side, y + side]).max() <= 16, box
        assert x - 16 <= box[0] and y - 16 <= box[1] and box[2] <= x + side + 16 and box[3] <= y + side + 16, box


def test_the_map_of_any_detector_reads_each_map_against_its_own_image():
    from scanner.core.types import AnyCalibration
    from scanner.scoring.maps import any_map

    background = {"blur": np.full((20, 30), -2.0), "jpeg": np.full((20, 30), -3.0)}
    spliced = dict(background, jpeg=background["jpeg"].copy())
    spliced["jpeg"][5:9, 10:14] = -1.0  # 2 above its image's median, still below its pristine level
    calibration = AnyCalibration({"blur": 1.0, "jpeg": 1.0}, 0.5)
    assert (any_map(spliced) <= 0).all()  # the largest of the maps alone misses it
    lit = any_map(spliced, calibration) > 0
    assert lit[5:9, 10:14].all() and lit.sum() == 16
    assert not (any_map(background, calibration) > 0).any()
    dipped = dict(background, blur=background["blur"].copy())
    dipped["blur"][12:15, 3:6] = -4.0  # 2 below its image's median: a region that lacks the rest's trace
    lit = any_map(dipped, calibration) > 0
    assert lit[12:15, 3:6].all() and lit.sum() == 9
    wholly = dict(background, blur=np.full((20, 30), 3.0))  # a wholly blurred image stays lit
    assert (any_map(wholly, calibration) == 3.0).all()
    # without the detectors' own levels (an image not stored as JPEG), only what stands out
    # from the image lights: not the level it sits at everywhere
    assert not (any_map(wholly, calibration, absolute=False) > 0).any()
    wholly["blur"][0:4, 0:5] = 6.0
    lit = any_map(wholly, calibration, absolute=False) > 0
    assert lit[0:4, 0:5].all() and lit.sum() == 20
    assert (any_map(wholly, None, absolute=False) == any_map(wholly)).all()  # nothing to read relative to: the levels
    calibration = AnyCalibration({"blur": 1.0, "jpeg": 1.0, "blur-resaved": 1.0}, 0.5)
    level = np.full((20, 30), 2.0)  # a resaved map over 0 everywhere: no region, no light
    assert not (any_map(background, calibration, {"blur-resaved": level}) > 0).any()
    edited = level.copy()
    edited[2:6, 20:25] = 5.0  # a region standing out from the rest of the resaved map lights
    lit = any_map(background, calibration, {"blur-resaved": edited}) > 0
    assert lit[2:6, 20:25].all() and lit.sum() == 20


def test_a_recompressed_square_shows_in_the_map_of_any_detector(rng):
    """The relative part of the map of any detector finds a square saved again at JPEG 70 in a
    synthetic JPEG 92, where the absolute part alone sees little. It checks the map's code with
    0.7.1's bank (tests/golden): 0.8.0's bank, trained on other makes, leaves this synthetic
    texture's square below its map threshold (0 of its cells, against 54% with 0.7.1's bank); how
    the shipped bank localises on real photos is docs/results-localization.md."""
    from scanner.core.constants import MAP_CELL
    from scanner.scoring.maps import any_map
    from tests.golden.evidence import WEIGHTS

    bank = load_shipped(None, "cpu", WEIGHTS)
    photo = manipulations.jpeg(textured_image(rng, 384, 512), 92)  # a camera JPEG
    x, y, side = 192, 128, 128
    forged = photo.copy()
    forged[y : y + side, x : x + side] = manipulations.jpeg(photo, 70)[y : y + side, x : x + side]
    inside = np.zeros((384 // MAP_CELL, 512 // MAP_CELL), dtype=bool)
    inside[y // MAP_CELL : (y + side) // MAP_CELL, x // MAP_CELL : (x + side) // MAP_CELL] = True
    analysis = analyze(forged, bank, ScanOptions(stride=16))
    assert analysis.any_calibration is not None
    lit = analysis.combined > 0
    assert lit[inside].mean() > 0.3 and not lit[~inside].any()
    assert (any_map(analysis.evidence) > 0)[inside].mean() < lit[inside].mean() / 2  # the absolute part alone sees little
    assert not (analyze(photo, bank, ScanOptions(stride=16)).combined > 0).any()


def test_an_output_stopped_mid_write_leaves_nothing_under_its_name(tmp_path):
    from scanner.core.files import write_output

    target = tmp_path / "maps" / "a.figure.jpg"

    def stopped(partial: Path) -> None:
        partial.write_bytes(b"\xff\xd8 half a JPEG")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_output(target, False, stopped)
    assert list(target.parent.iterdir()) == []  # neither a truncated figure nor the partial file
    write_output(target, False, lambda p: p.write_bytes(b"whole"))
    with pytest.raises(FileExistsError):
        write_output(target, False, lambda p: p.write_bytes(b"other"))
    assert target.read_bytes() == b"whole"
    write_output(target, True, lambda p: p.write_bytes(b"other"))
    assert target.read_bytes() == b"other" and list(target.parent.iterdir()) == [target]
