"""`scanner scan` for analysts and pipelines: output folders, figures, the HTML report, JSON for
chain of custody, messages outside a terminal, exit codes and help. Every test runs the real
command line in a subprocess (stdout and stderr are pipes, not terminals)."""

from __future__ import annotations

import html
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import interruptible, processes_with, textured_image

SCANNER = [sys.executable, "-m", "scanner"]
ROOT = Path(__file__).resolve().parents[1]


def run(args: list[str], cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.setdefault("COLUMNS", "80")
    env.pop("NO_COLOR", None)
    return subprocess.run(SCANNER + args, cwd=cwd, capture_output=True, text=True, env=env, timeout=timeout)


def scan(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return run(["scan", *args], cwd)


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    """Three small photos, one with a long folder name, plus float and 32-bit integer TIFFs."""
    rng = np.random.default_rng(11)
    root = tmp_path_factory.mktemp("photos")
    deep = root / ("a-folder-with-a-rather-long-name-" * 3).strip("-")
    deep.mkdir()
    Image.fromarray(textured_image(rng, 300, 360)).save(root / "one.png")
    Image.fromarray(textured_image(rng, 260, 300)).save(deep / "two.png")
    gray = textured_image(rng, 256, 256, channels=1)[..., 0]
    Image.fromarray(gray.astype(np.float32), mode="F").save(root / "float-integral.tif")
    Image.fromarray((gray / 255.0).astype(np.float32), mode="F").save(root / "float-unit.tif")
    Image.fromarray(gray.astype(np.int32) * 1000 - 30000, mode="I").save(root / "int32.tif")
    return root


def test_float_and_32_bit_images_are_analysed(photos, tmp_path):
    result = scan([str(photos), "--json", "-m", "blur", "--glob", "*.tif"], tmp_path)
    assert "Traceback" not in result.stderr
    records = {Path(r["path"]).name: r for r in json.loads(result.stdout)["images"]}
    assert {r["status"] for r in records.values()} == {"ok"}
    assert "used as they are" in records["float-integral.tif"]["input"]["conversions"][0]
    assert "scaled by 255" in records["float-unit.tif"]["input"]["conversions"][0]
    assert "stretched linearly" in records["int32.tif"]["input"]["conversions"][0]


def test_unusable_output_folders_are_refused_before_scanning(photos, tmp_path):
    (tmp_path / "a-file").write_text("x")
    cases = {"/proc/scanner-maps": "cannot be written", str(tmp_path / "a-file"): "is a file"}
    if os.geteuid() != 0:  # root writes anywhere; a read-only folder only refuses others
        (tmp_path / "locked").mkdir(mode=0o500)
        cases[str(tmp_path / "locked" / "maps")] = "cannot be written"
    for folder, message in cases.items():
        result = scan([str(photos / "one.png"), "--heatmaps", folder], tmp_path)
        assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr, (folder, result.stderr)
        result = scan([str(photos / "one.png"), "--report", folder], tmp_path)
        assert result.returncode == 2 and "Traceback" not in result.stderr


@pytest.mark.slow
def test_figures_one_per_image_compact_and_never_silently_kept(photos, tmp_path):
    maps = tmp_path / "maps"
    first = scan([str(photos), "--glob", "*.png", "--heatmaps", str(maps), "--json"], tmp_path)
    doc = json.loads(first.stdout)
    files = sorted(p for p in maps.rglob("*") if p.is_file())
    assert sorted(p.name for p in files) == ["one.png.figure.jpg", "two.png.figure.jpg"]
    assert all(p.stat().st_size < 400_000 for p in files)
    with Image.open(files[0]) as im:
        assert im.width >= 800  # the original and the detectors side by side
    for r in doc["images"]:
        assert Path(r["heatmaps"]["figure"]).is_file() and r["heatmaps"]["raw"] is None
        assert r["heatmaps"]["stride"] == 32 and r["heatmaps"]["window"] == 128
    # the same folder again: refused up front, nothing replaced
    before = files[0].stat().st_mtime_ns
    again = scan([str(photos), "--glob", "*.png", "--heatmaps", str(maps)], tmp_path)
    assert again.returncode == 2 and "--overwrite" in again.stderr and files[0].stat().st_mtime_ns == before
    # --overwrite replaces them; raw maps only when asked, with their grid recorded
    replaced = scan([str(photos / "one.png"), "--heatmaps", str(maps), "--overwrite", "--raw-maps", "--json"], tmp_path)
    record = json.loads(replaced.stdout)["images"][0]
    raw = np.load(record["heatmaps"]["raw"]["blur"])
    assert raw.shape == ((300 - 128) // 32 + 1, (360 - 128) // 32 + 1)
    localisation = np.load(record["heatmaps"]["maps"]["blur"])  # a cell per 8 pixels
    assert record["heatmaps"]["map_cell"] == 8 and localisation.shape == (300 // 8 + 1, 360 // 8)
    # the map of any detector, recomputed from the card and the nine maps: the five detectors'
    # (absolute, in a JPEG file, and relative) and the four resaved heads' (relative only)
    calibration = json.loads((Path(__file__).parents[1] / "weights" / "bank.json").read_text())["any_map"]
    Image.open(photos / "one.png").save(tmp_path / "one.jpg", quality=95)
    jpeg = scan([str(tmp_path / "one.jpg"), "--heatmaps", str(tmp_path / "jpeg-maps"), "--raw-maps", "--json"], tmp_path)
    for record, stored_as_jpeg in ((record, False), (json.loads(jpeg.stdout)["images"][0], True)):
        names = [name for name in record["heatmaps"]["maps"] if name != "any"]
        maps = np.stack([np.load(record["heatmaps"]["maps"][name]).astype(np.float64) for name in names])
        departure = np.stack([np.abs(m - np.median(m)) - calibration["offsets"][n] for m, n in zip(maps, names)])
        detectors = [not name.endswith("-resaved") for name in names]
        expected = departure.max(axis=0) - calibration["threshold"]
        if stored_as_jpeg:  # the detectors' own levels count only where their calibration holds
            expected = np.maximum(maps[detectors].max(axis=0), expected)
        assert sum(detectors) == 5 and len(names) == 9
        assert np.allclose(np.load(record["heatmaps"]["maps"]["any"]), expected, atol=1e-4)


def test_bracketed_file_names_print_as_they_are(tmp_path):
    folder = tmp_path / "odd"
    folder.mkdir()
    Image.fromarray(textured_image(np.random.default_rng(3), 200, 200)).save(folder / "[x][red]a.png")
    (folder / "[b]bad.jpg").write_bytes(b"not an image")
    done = scan([str(folder), "--stride", "64"], tmp_path)
    assert done.returncode in (0, 1, 3), done.stderr
    assert "[x][red]a.png" in done.stdout and "[b]bad.jpg" in done.stdout and "[b]bad.jpg" in done.stderr


def test_a_map_that_is_not_written_shows_in_every_mode(photos, tmp_path):
    from scanner.engines.local import Scorer
    from scanner.families.registry import load_shipped
    from scanner.scoring.options import ScanOptions

    maps = tmp_path / "maps"
    (maps / "one.png.figure.jpg").parent.mkdir(parents=True)
    (maps / "one.png.figure.jpg").write_bytes(b"old")
    record = Scorer(load_shipped(["blur"]), ScanOptions(heatmaps=maps)).score_file(photos / "one.png", Path("one.png"))
    assert record.heatmaps["figure"] is None and "not written" in record.warnings[0]
    assert (maps / "one.png.figure.jpg").read_bytes() == b"old"


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_html_report_renders_and_sorts_in_headless_chromium(photos, tmp_path):
    from sklearn.datasets import load_sample_image

    from scanner.processing import manipulations

    folder = tmp_path / "images"
    folder.mkdir()
    flower = load_sample_image("flower.jpg")
    for k, sigma in enumerate((0.0, 1.1, 0.6, 0.8)):
        Image.fromarray(manipulations.gaussian_blur(flower, sigma) if sigma else flower).save(folder / f"{k}.png")
    shutil.copy(photos / "float-unit.tif", folder / "4.tif")
    Image.fromarray(flower).save(folder / "5.jpg", quality=85)
    report = tmp_path / "report"
    result = scan([str(folder), "--report", str(report), "--exit-zero", "--json"], tmp_path)
    assert result.returncode == 0 and (report / "index.html").is_file()
    records = json.loads(result.stdout)["images"]
    page = (report / "index.html").as_uri()
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}"]
    shot = tmp_path / "report.png"
    subprocess.run(["chromium", *flags, f"--screenshot={shot}", "--window-size=1400,900", page],
                   capture_output=True, timeout=120, check=True)
    pixels = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert pixels.std() > 10  # not a blank page: table, text and thumbnails
    dom = subprocess.run(["chromium", *flags, "--dump-dom", page + "#sort=score-blur"], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    assert 'data-sorted="' in dom  # the script ran
    scores = [float(v) for v in __import__("re").findall(r'data-value="([0-9.]+)" class="num[^"]*"', dom)]
    blur = scores[1::5]  # five score columns per row, blur second
    assert blur == sorted(blur, reverse=True) and len(blur) == 6 and blur[0] > blur[-1]
    thumbs = [p for p in (report / "figures").rglob("*.thumb.jpg")]
    assert len(thumbs) == 6
    # what an analyst hands on: every region's box and every warning is on the rendered page,
    # and each score stands beside its threshold
    boxes = [",".join(map(str, r["bbox"])) for record in records for r in record["regions"]]
    warnings = [w for record in records for w in record["warnings"]]
    assert boxes and warnings  # the folder holds flagged images and a file that needed a conversion
    for box in boxes:
        assert f'data-bbox="{box}"' in dom, box
    for warning in warnings:
        assert html.escape(warning, quote=False) in dom, warning
    assert '<td data-value="85" class="jpeg">quality 85' in dom  # the JPEG file's own quality
    for record in records:  # the verdict's name, or the operations it cannot tell apart
        for c in record["candidates"]:
            assert f'<li class="candidate">{c["operation"]}' in dom
    flagged = next(r for r in records if r["flagged"])
    d = flagged["detections"][flagged["candidates"][0]["operation"]]
    shown = [(float(t), float(m)) for t, m in __import__("re").findall(r'class="thr">thr ([0-9.]+), ([+-][0-9.]+)<', dom)]
    assert any(abs(t - d["threshold"]) < 6e-4 and abs(m - (d["score"] - d["threshold"])) < 1.2e-3 for t, m in shown)


def test_json_records_what_chain_of_custody_needs_and_validates(photos, tmp_path):
    import jsonschema

    schema = json.loads((ROOT / "scanner" / "schema" / "scan-report.schema.json").read_text())
    result = scan([str(photos), str(tmp_path / "missing.jpg"), "--json", "--threads", "1", "--exit-zero", "-m", "noise"], tmp_path)
    doc = json.loads(result.stdout)
    jsonschema.validate(doc, schema)
    assert doc["schema_version"] == 2 and doc["tool"]["version"]
    assert doc["options"]["threads"] == 1 and doc["options"]["stride"] == 32 and doc["options"]["window"] == 128
    assert set(doc["options"]["image_rules"]) == {"noise"}
    from datetime import datetime

    assert datetime.fromisoformat(doc["started"]) <= datetime.fromisoformat(doc["finished"])
    for r in doc["images"]:
        assert isinstance(r["flagged"], bool) and r["verdict"]
    summary = doc["summary"]
    assert result.returncode == 0 == summary["exit_code"] and summary["exit_zero"] is True
    assert summary["outcome_code"] == (1 if summary["flagged_images"] else 3)
    assert f"error: {tmp_path / 'missing.jpg'}: no such file" in result.stderr  # the user sees it; stdout stays JSON
    lines = scan([str(photos), "--jsonl", "-m", "noise"], tmp_path).stdout.splitlines()
    last = json.loads(lines[-1])
    for line in lines[:-1]:
        jsonschema.validate(json.loads(line), schema["$defs"]["image"] | {"$defs": schema["$defs"]})
    jsonschema.validate(last["summary"], schema["$defs"]["summary"])


def many_photos(folder: Path) -> Path:
    """Twelve 900 x 1200 photos: a scan that lasts long enough to be stopped."""
    folder.mkdir()
    rng = np.random.default_rng(3)
    for k in range(12):
        Image.fromarray(textured_image(rng, 900, 1200)).save(folder / f"{k:02d}.png")
    return folder


@pytest.mark.slow
@pytest.mark.parametrize("workers", ["1", "2"])
def test_interrupted_jsonl_ends_with_an_interrupted_summary(photos, tmp_path, workers):
    many = many_photos(tmp_path / "many")
    before = processes_with(b"multiprocessing.spawn")
    proc = subprocess.Popen(SCANNER + ["scan", str(many), "--jsonl", "--threads", "1", "--workers", workers], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=interruptible)
    first = proc.stdout.readline()
    assert json.loads(first)["status"] == "ok"
    proc.send_signal(signal.SIGINT)
    # read on through the same buffered pipe: readline may already hold the next record (two
    # workers can finish together), which communicate(), reading the raw pipe, would never see
    rest, err = proc.stdout.read(), proc.stderr.read()
    proc.wait(timeout=120)
    lines = [json.loads(line) for line in (first + rest).splitlines()]
    assert proc.returncode == 130 and "Traceback" not in err
    assert lines[-1]["summary"]["interrupted"] is True and lines[-1]["interrupted"] is True
    assert lines[-1]["summary"]["files"] == len(lines) - 1 < 12
    time.sleep(1)
    assert processes_with(b"multiprocessing.spawn") <= before  # no worker outlives the scan


@pytest.mark.slow
def test_workers_end_when_their_scan_is_killed(photos, tmp_path):
    many = many_photos(tmp_path / "many")
    before = processes_with(b"multiprocessing.spawn")
    proc = subprocess.Popen(SCANNER + ["scan", str(many), "--jsonl", "--threads", "1", "--workers", "2"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert json.loads(proc.stdout.readline())["status"] == "ok"
    workers = processes_with(b"multiprocessing.spawn") - before
    assert workers, "no worker process found"
    proc.kill()  # no Ctrl-C, no clean-up in the parent: the workers must notice on their own
    proc.wait()
    for _ in range(50):
        if not workers & processes_with(b"multiprocessing.spawn"):
            break
        time.sleep(0.2)
    assert not workers & processes_with(b"multiprocessing.spawn")
    proc.communicate(timeout=10)  # raises if something still holds the scan's stdout open


def test_messages_outside_a_terminal(photos, tmp_path):
    long_dir = next(p for p in photos.iterdir() if p.is_dir())
    result = scan([str(photos), "--glob", "*.png", "-m", "median"], tmp_path)
    assert "scanning 2 files" in result.stderr and "scanned 2/2 files" in result.stderr
    assert "\r" not in result.stderr and "\x1b[" not in result.stdout
    assert str(long_dir / "two.png") in result.stdout  # the table keeps whole paths when piped
    missing = tmp_path / ("a-very-long-missing-folder-name-" * 4) / "photo.jpg"
    result = scan([str(photos / "one.png"), "--heatmaps", str(missing.parent.parent / "x" / "y"), "--weights", str(missing)], tmp_path)
    error_lines = [line for line in result.stderr.splitlines() if "error" in line]
    assert error_lines and str(missing) in error_lines[0]  # one line, not wrapped at 80 columns


def test_plain_progress_lines_never_use_carriage_returns(capsys):
    from scanner.core import progress as module

    module.EVERY = 0.0
    assert list(module.progress(range(3), 3, "epoch 1/1", "steps")) == [0, 1, 2]
    err = capsys.readouterr().err
    assert "\r" not in err and "epoch 1/1: 3/3 steps done" in err


def test_usage_errors_name_what_went_wrong(photos, tmp_path):
    result = scan([str(photos / "one.png"), "--device", "gpu"], tmp_path)
    assert result.returncode == 2 and "gpu" in result.stderr and "cpu" in result.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    result = scan([str(photos), "--glob", "*.heic"], tmp_path)
    assert result.returncode == 2 and str(photos) in result.stderr and "*.heic" in result.stderr
    result = scan([str(empty)], tmp_path)
    assert result.returncode == 2 and str(empty) in result.stderr


def test_help_is_conventional_and_has_examples(tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")  # one help line per option, for the text checks
    scan = run(["scan", "--help"], tmp_path).stdout
    assert "<bool>" not in scan and "{paths}" not in scan and "Usage: scanner scan [OPTIONS] PATH..." in " ".join(scan.split())
    assert "Examples" in scan and "--threads" in scan and 'pip install "scanner[ray]"' in scan  # not eaten as markup
    for command in ("train", "baseline"):
        text = " ".join(run([command, "--help"], tmp_path).stdout.split())
        assert "No progress or messages on stderr" in text and "<bool>" not in text
    top = " ".join(run(["--help"], tmp_path).stdout.split())
    assert "--version Print the version" in top and "<bool>" not in top
    evaluate = " ".join(run(["evaluate", "--help"], tmp_path).stdout.split())
    assert "scanner-evaluation" in evaluate and "Examples" in evaluate


def test_torch_is_not_capped():
    tomllib = pytest.importorskip("tomllib")
    pins = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    torch = next(p for p in pins if p.startswith("torch"))
    lowest = tuple(int(v) for v in torch.split(">=")[1].split("."))
    assert "<" not in torch and "==" not in torch and lowest <= (2, 13, 0)
