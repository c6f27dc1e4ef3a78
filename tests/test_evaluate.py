"""Forgeries, localisation metrics, the Table II runner and the demo."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from scanner.evaluation.metrics import f1_mcc, localisation_scores, threshold_sweep
from scanner.evaluation.table2 import Table2Scale, run_table2
from scanner.processing import forgery
from scanner.writers.figures import pixel_map
from tests.conftest import textured_image


def test_splice_replaces_exactly_the_mask(rng):
    target, donor = textured_image(rng, 200, 240), textured_image(rng, 260, 300)
    f = forgery.splice(target, donor, "blur", 0.75, seed=3)
    assert f.mask.dtype == bool and 0.1 < f.mask.mean() < 0.3
    assert np.array_equal(f.image[~f.mask], target[~f.mask])
    assert np.mean(np.any(f.image[f.mask] != target[f.mask], axis=-1)) > 0.9
    again = forgery.splice(target, donor, "blur", 0.75, seed=3)
    assert np.array_equal(again.image, f.image) and np.array_equal(again.mask, f.mask)
    assert not np.array_equal(forgery.splice(target, donor, "blur", 0.75, seed=4).mask, f.mask)


def test_copy_move_pastes_a_resized_copy_elsewhere(rng):
    image = textured_image(rng, 300, 300)
    f = forgery.copy_move(image, 1.125, seed=1)
    assert np.array_equal(f.image[~f.mask], image[~f.mask]) and f.mask.any()
    assert "1.125" in f.description


def test_unprocessed_splice_pastes_the_donor_as_it_is(rng):
    target, donor = textured_image(rng, 200, 240), textured_image(rng, 200, 240)  # same size: the donor's window is at (0, 0)
    f = forgery.splice(target, donor, None, 0, seed=2)
    assert 0.1 < f.mask.mean() < 0.3 and "unprocessed" in f.description
    assert np.array_equal(f.image[f.mask], donor[f.mask]) and np.array_equal(f.image[~f.mask], target[~f.mask])


def test_rotated_copy_move_turns_the_gradient_of_a_ramp_by_the_angle():
    from scipy import ndimage

    yy, xx = np.mgrid[0:300, 0:300]
    image = np.repeat(np.round(0.3 * xx + 0.2 * yy + 20)[..., None], 3, axis=2).astype(np.uint8)
    for seed, angle in ((1, 15.0), (2, -40.0)):
        f = forgery.copy_move(image, 1.0, seed=seed, area=(0.05, 0.08), angle=angle)
        assert np.array_equal(f.image[~f.mask], image[~f.mask]) and not (f.mask & f.source).any()
        assert f.mask.sum() == pytest.approx(f.source.sum(), rel=0.05) and f"rotated by {angle:g}" in f.description
        inner = ndimage.binary_erosion(f.mask, iterations=3)  # bicubic reproduces a plane away from the border
        gx, gy, _ = np.linalg.lstsq(np.c_[xx[inner], yy[inner], np.ones(inner.sum())], f.image[..., 0][inner].astype(float),
                                    rcond=None)[0]
        assert np.hypot(gx, gy) == pytest.approx(np.hypot(0.3, 0.2), rel=0.01)
        # counter-clockwise on the screen, whose y axis points down: the gradient's angle falls by ``angle``
        assert np.degrees(np.arctan2(gy, gx) - np.arctan2(0.2, 0.3)) == pytest.approx(-angle, abs=0.5)


def test_forgeries_take_each_crop_as_target_and_the_next_as_donor(rng):
    from scanner.evaluation.forgeries import forgeries

    crops = [(f"camera {k}", textured_image(rng, 64, 64)) for k in range(3)]
    calls = []

    def make(target, donor, seed):
        calls.append((target, donor, seed))
        return forgery.Forgery(target, np.zeros((64, 64), bool), "none")

    assert [i for i, _ in forgeries(crops, make, seed=10)] == [0, 1, 2]
    for k, (target, donor, seed) in enumerate(calls):
        assert target is crops[k][1] and donor is crops[(k + 1) % 3][1] and seed == 10 + k


def test_map_scores_read_each_cell_as_its_pixels(rng):
    from scanner.core.constants import MAP_CELL
    from scanner.evaluation.metrics import map_scores

    cells = rng.normal(size=(6, 5))
    truth = np.zeros((6 * MAP_CELL, 5 * MAP_CELL), bool)
    truth[MAP_CELL : 3 * MAP_CELL, 2 * MAP_CELL :] = True
    expected = localisation_scores(np.kron(cells, np.ones((MAP_CELL, MAP_CELL))), truth, 0.0)
    assert map_scores(cells, truth) == pytest.approx(expected)


def test_metrics_match_scikit_learn(rng):
    from sklearn.metrics import f1_score, matthews_corrcoef, roc_auc_score

    truth = rng.random((40, 50)) < 0.3
    prob = np.clip(truth * 0.3 + rng.random((40, 50)) * 0.8, 0, 1)
    f1, mcc = f1_mcc(prob > 0.5, truth)
    assert f1 == pytest.approx(f1_score(truth.ravel(), (prob > 0.5).ravel()))
    assert mcc == pytest.approx(matthews_corrcoef(truth.ravel(), (prob > 0.5).ravel()))
    scores = localisation_scores(prob, truth, 0.5)
    assert scores["auc"] == pytest.approx(roc_auc_score(truth.ravel(), prob.ravel()))
    assert scores["best_f1"] >= scores["f1"] and scores["best_mcc"] >= scores["mcc"]


def test_threshold_sweep_equals_every_threshold_one_by_one(rng):
    truth = rng.random((40, 50)) < 0.02  # a small region: a coarse grid of thresholds would miss its best
    prob = np.round(truth * 0.4 + rng.random((40, 50)) * 0.8, 2)  # ties, as on a map of cells
    f1, mcc = threshold_sweep(prob, truth)
    brute = [f1_mcc(prob >= v, truth) for v in np.unique(prob)[::-1]]
    assert np.allclose(f1, [b[0] for b in brute]) and np.allclose(mcc, [b[1] for b in brute])
    scores = localisation_scores(prob, truth, 2.0)  # a threshold above every value: nothing marked
    assert scores["f1"] == 0 and scores["best_f1"] == pytest.approx(max(b[0] for b in brute))


def test_pixel_map_assigns_nearest_window():
    scores = np.arange(6, dtype=float).reshape(2, 3)
    m = pixel_map(scores, 32, (160, 192))
    assert m.shape == (160, 192)
    assert m[0, 0] == 0 and m[159, 191] == 5 and m[64, 64 + 32] == 1


@pytest.mark.slow
def test_tiny_table2_runs_end_to_end_on_disjoint_makes(pristine_dir, tmp_path):
    from scanner.training.photos import camera_make

    out = tmp_path / "table2.md"
    state = tmp_path / "state.json"
    tasks = [("blur", 0.5), ("noise", 0.25)]
    done = run_table2(pristine_dir, Table2Scale.named("tiny"), out, state, torch.device("cpu"), tmp_path / "cache", tasks, "test")
    assert set(done) == {"tiny/blur/0.5", "tiny/noise/0.25"}
    for result in done.values():
        for method in ("svm", "recast", "bayar", "shipped"):
            assert 0 <= result[method]["accuracy"] <= 100
        assert result["train_makes"] and result["test_makes"] and not set(result["train_makes"]) & set(result["test_makes"])
    text = out.read_text()
    assert "| blur 0.5 |" in text and "87.10" in text and "tiny" in text and "| median 7 | not run |" in text
    mtime = state.stat().st_mtime_ns
    run_table2(pristine_dir, Table2Scale.named("tiny"), out, state, torch.device("cpu"), tmp_path / "cache", tasks, "test")
    assert state.stat().st_mtime_ns == mtime  # resumed: nothing recomputed
    from scanner.training.patches import build_task

    data = build_task(pristine_dir, "blur", (0.5,), 1, 1, 0, region=256, cache_dir=tmp_path / "cache", split="make")
    train = {p["camera"] for p in data.manifest["train"]}
    test = {p["camera"] for p in data.manifest["test"]}
    assert train and test and not train & test
    assert not {camera_make(c) for c in train} & {camera_make(c) for c in test}
    assert set(data.test.camera) <= test and set(data.train.camera) <= train


def test_table2_skips_finished_tasks_and_reports_them(tmp_path, monkeypatch):
    import json

    import scanner.evaluation.table2

    cell = lambda a: {"accuracy": a, "minutes": 1.5, "epochs": 15, "device": "cuda", "device_name": "GPU"}  # noqa: E731
    finished = {"n_train": 21760, "n_train_pristine": 10880, "n_test": 2000, "train_makes": ["canon"], "test_makes": ["kodak"],
                "svm": cell(91.0), "recast": cell(93.5), "bayar": cell(80.25), "shipped": cell(88.0)}
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"small/blur/0.5": finished}))
    calls = []
    monkeypatch.setattr(scanner.evaluation.table2, "run_table2_task", lambda *a, **k: calls.append(a[1:3]) or finished)
    done = run_table2(tmp_path, Table2Scale.named("small"), tmp_path / "t2.md", state, "cpu",
                      tasks=[("blur", 0.5), ("noise", 2.0)], command="test")
    assert calls == [("noise", 2.0)]  # the finished task was skipped, the other one run once
    assert set(json.loads(state.read_text())) == {"small/blur/0.5", "small/noise/2"} == set(done)
    text = (tmp_path / "t2.md").read_text()
    assert "| blur 0.5 | 91.00 | 93.50 | 80.25 | 88.00 | 87.10 | 95.70 | 83.10 |" in text
    assert "**1 of 1** run" in text and "| jpeg 90 | not run |" in text

    sampled = Table2Scale.named("small", recast_positions=256, bayar_minutes=5)
    assert sampled.tag == "small+positions256+bayar5min"
    done = run_table2(tmp_path, sampled, tmp_path / "t2s.md", state, "cpu", tasks=[("blur", 0.5)], command="test")
    assert calls[-1] == ("blur", 0.5)  # the exact schedule's result does not stand in for the sampled one
    assert "small+positions256+bayar5min/blur/0.5" in done and "small/blur/0.5" in done
    text = (tmp_path / "t2s.md").read_text()
    assert "256 random positions" in text and "after 5 minutes per task" in text

    straight = Table2Scale.named("small", recast_relaxation="straight")
    assert straight.tag == "small+straight"
    assert Table2Scale.named("small", recast_relaxation="straight", recast_lr=1e-5).tag == "small+straight+lr1e-05"
    done = run_table2(tmp_path, straight, tmp_path / "t2t.md", state, "cpu", tasks=[("blur", 0.5)], command="test")
    assert calls[-1] == ("blur", 0.5) and "small+straight/blur/0.5" in done  # its own cells, computed anew
    assert "straight-through gradient" in (tmp_path / "t2t.md").read_text()
    with pytest.raises(ValueError):
        Table2Scale.named("small", recast_positions=256, recast_relaxation="straight")


def test_table2_redo_recomputes_stale_cells_once(tmp_path, monkeypatch):
    import json

    import scanner
    import scanner.evaluation.table2

    cell = lambda a, v: {"accuracy": a, "minutes": 1.0, "epochs": 1, "device": "cpu", "version": v}  # noqa: E731
    row = {"n_train": 10, "n_train_pristine": 5, "n_test": 4, "train_makes": ["canon"], "test_makes": ["kodak"],
           "svm": cell(91.0, "0.0.1"), "recast": cell(93.5, "0.0.1"), "bayar": cell(50.0, "0.0.1"), "shipped": cell(88.0, "0.0.1")}
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"small/blur/0.5": row, "small/noise/2": {**row, "bayar": cell(70.0, scanner.__version__)}}))
    calls = []

    def fake(root, manip, strength, *args, methods, previous, **kwargs):
        calls.append((manip, methods))
        return {**previous, **{m: cell(80.0, scanner.__version__) for m in methods}}

    monkeypatch.setattr(scanner.evaluation.table2, "run_table2_task", fake)
    tasks = [("blur", 0.5), ("noise", 2.0)]
    done = run_table2(tmp_path, Table2Scale.named("small"), tmp_path / "t2.md", state, "cpu", tasks=tasks, redo=("bayar",))
    assert calls == [("blur", ("bayar",))]  # noise 2's Bayar cell is already this version's
    assert done["small/blur/0.5"]["bayar"]["accuracy"] == 80.0 and done["small/blur/0.5"]["svm"]["accuracy"] == 91.0
    assert json.loads(state.read_text()) == done
    run_table2(tmp_path, Table2Scale.named("small"), tmp_path / "t2.md", state, "cpu", tasks=tasks, redo=("bayar",))
    assert len(calls) == 1  # a refreshed cell is not refreshed again


def test_table2_redo_names_a_method(tmp_path):
    from typer.testing import CliRunner

    from scanner.cli import app

    result = CliRunner().invoke(app, ["evaluate", "--table2", "--redo", "cnn", "--images", str(tmp_path)])
    assert result.exit_code == 2 and "--redo takes svm, recast, bayar, shipped, not cnn" in result.output


def test_table2_report_echoes_the_device_seed_and_state(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    import scanner.evaluation.table2
    from scanner.cli import app

    seen = []
    monkeypatch.setattr(scanner.evaluation.table2, "run_table2", lambda *args, **kwargs: seen.append(args[7]))
    state, out = tmp_path / "s.json", tmp_path / "t.md"
    result = CliRunner().invoke(app, ["evaluate", "--table2", "--task", "blur:0.5", "--bayar-minutes", "2", "--device", "cpu",
                                      "--seed", "1", "--state", str(state), "--images", str(tmp_path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert seen == [f"scanner evaluate --table2 --scale small --task blur:0.5 --bayar-minutes 2 --seed 1 --device cpu --state {state} --out {out}"]


@pytest.mark.slow
def test_demo_names_what_was_done(tmp_path):
    env = dict(os.environ, NO_COLOR="1", COLUMNS="220")
    result = subprocess.run([sys.executable, "-m", "scanner", "demo", str(tmp_path / "demo")], capture_output=True,
                            text=True, env=env, timeout=300, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = {line.split(":")[0].strip("- "): line for line in result.stdout.splitlines() if line.startswith("- ")}
    # the operation named is the one applied, for every whole-image operation
    for name, operation in (("china_blurred", "blur"), ("flower_median", "median"), ("china_noisy", "noise"),
                            ("flower_upscaled", "resize")):
        line = next(v for k, v in lines.items() if name in k)
        assert f"evidence of {operation}" in line.split("->")[1], line
    # forgeries: the right detector flags them and outlines a region over the pasted blob
    for name, detector in (("china_splice_blurred", "blur"), ("flower_copymove_upscaled", "resize")):
        line = next(v for k, v in lines.items() if name in k)
        verdict = line.split("->")[1]
        assert detector in verdict.split(";")[0], line  # named, among the candidates, or also flagged
        assert f"{detector} region found" in line, line
    assert any((tmp_path / "demo" / "heatmaps").rglob("*.figure.jpg")) and (tmp_path / "demo" / "report" / "index.html").is_file()
    # the JPEG re-compression is too weak here to flag the small image (the demo says so), but
    # the JPEG detector scores it far above the untouched copy
    scan = subprocess.run([sys.executable, "-m", "scanner", "scan", str(tmp_path / "demo" / "evidence"), "--json", "-m", "jpeg",
                           "--stride", "16"], capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    scores = {Path(r["path"]).name: r["detections"]["jpeg"]["score"] for r in json.loads(scan.stdout)["images"]}
    assert scores["china_recompressed.jpg"] > scores["china.png"] + 0.5


def test_patch_evaluation_reads_lattice_descriptors(rng):
    """Held-out patch results of a bank with lattice features: the detector's AUC equals one
    computed from the heads directly (histograms square-rooted, lattice features, which can be
    negative, as they are)."""
    from sklearn.metrics import roc_auc_score

    from scanner.evaluation.held_out import evaluate_patches
    from scanner.features.lattice import N_FEATURES
    from scanner.processing.manipulations import all_tasks, task_key
    from scanner.training.bank import BANK_SUBMODELS
    from scanner.training.bank_data import BankData
    from tests.test_bank import random_bank

    bank = random_bank(rng, submodels=BANK_SUBMODELS[5:7], lattice=True)  # (3,1) and the paper's (3,2)
    n = 120

    def descriptors(shift: float) -> np.ndarray:
        return np.hstack([rng.random((n, 2 * 162)) + shift, rng.uniform(-1, 1, (n, N_FEATURES))]).astype(np.float32)

    features = {"pristine": descriptors(0.0)} | {task_key(m, s): descriptors(0.05) for m, s in all_tasks()}
    makes = np.array(["a", "b", "c", "d"] * (n // 4), dtype=object)
    data = BankData(features, np.arange(n) // 10, np.array([f"cam{i % 6}" for i in range(n)], dtype=object), makes)
    results = evaluate_patches(bank, data, ["a", "b"], {"test": ["c", "d"]})["test"]
    test = np.isin(makes, ["c", "d"])
    key = task_key("jpeg", 90)
    row = next(r for r in results if r.task == key)
    heads = lambda f: np.hstack([np.sqrt(f[:, : 2 * 162].astype(np.float64)), f[:, 2 * 162 :]]) @ bank.tasks.weight.T + bank.tasks.bias
    own = bank.tasks.names.index(key)
    expected = roc_auc_score(np.r_[np.zeros(test.sum()), np.ones(test.sum())],
                             np.r_[heads(features["pristine"][test])[:, own], heads(features[key][test])[:, own]])
    assert row.auc_head == pytest.approx(expected)
    assert np.isfinite([r.auc for r in results]).all()


def test_localisation_reads_the_held_out_makes_of_the_detectors_own_split(tmp_path, monkeypatch):
    """Evaluated on another split's held-out makes, a bank would be scored on makes it trained
    on: whatever ``seed`` seeds the forgeries, the crops come from the split on the card."""
    import scanner.evaluation.localisation
    from scanner.evaluation.localisation import run_localisation
    from scanner.families.registry import load_shipped

    asked = []

    def record(root, split, limit=None):
        asked.append(split)
        raise LookupError("stop here")

    monkeypatch.setattr(scanner.evaluation.localisation, "held_out_crops", record)
    bank = load_shipped()
    with pytest.raises(LookupError):
        run_localisation(tmp_path, bank, tmp_path / "out.md", seed=int(bank.trained_on.name) + 1 if bank.trained_on.name.isdigit() else 7)
    assert asked == [bank.trained_on.name]
    assert not (tmp_path / "out.md").exists()


def test_photo_intervals_resample_photos_not_rows():
    from scanner.evaluation.held_out import photo_interval, rate_interval

    photo = np.repeat(np.arange(40), 5)  # 40 photos of 5 rows each
    same = photo_interval(lambda rows: float(len(rows)), photo, resamples=200)
    assert same == (200.0, 200.0)  # every resample draws 40 photos, each with its 5 rows
    flat = np.where(photo < 20, 1.0, 0.0)
    low, high = photo_interval(lambda rows: float(flat[rows].mean()), photo, resamples=2000)
    half = 1.96 * np.sqrt(0.25 / 40)  # the binomial interval of 40 photos, not of 200 rows
    assert low == pytest.approx(0.5 - half, abs=0.05) and high == pytest.approx(0.5 + half, abs=0.05)
    assert rate_interval([True] * 10) == (100.0, 100.0)
    low, high = rate_interval([True, False] * 50)
    assert low < 50 < high and high - low == pytest.approx(2 * 100 * 1.96 * np.sqrt(0.25 / 100), abs=4)
