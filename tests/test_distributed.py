"""The Ray engine against the local one, on a local Ray cluster (skipped without the Ray extra)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import interruptible, processes_with, textured_image
from tests.test_scan import SCANNER

pytestmark = pytest.mark.slow  # each test starts a local Ray cluster: about 60 s in all

ENV = dict(os.environ, NO_COLOR="1", COLUMNS="200", RAY_DEDUP_LOGS="0")


def records(stdout: str) -> list[dict]:
    """The image records of a --jsonl run, sorted by path (the summary line dropped)."""
    lines = [json.loads(line) for line in stdout.splitlines()]
    assert "summary" in lines[-1]
    return sorted(lines[:-1], key=lambda r: r["path"])


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """Good and bad files, two of them named alike in different folders."""
    rng = np.random.default_rng(7)
    root = tmp_path_factory.mktemp("corpus")
    (root / "a").mkdir()
    (root / "b").mkdir()
    for i in range(6):
        Image.fromarray(textured_image(rng, 480, 640)).save(root / f"photo{i}.png")
    Image.fromarray(textured_image(rng, 160, 160)).save(root / "a" / "same.png")
    Image.fromarray(textured_image(rng, 170, 150)).save(root / "b" / "same.png")
    (root / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a JPEG")
    (root / "empty.png").write_bytes(b"")
    (root / "notes.txt").write_text("not an image")
    Image.fromarray(textured_image(rng, 60, 90)).save(root / "tiny.png")
    return root


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(SCANNER + ["scan"] + args, cwd=cwd, capture_output=True, text=True, env=ENV, timeout=600)


def test_missing_ray_is_explained(corpus, tmp_path):
    blocker = tmp_path / "blocker" / "ray"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('blocked for the test')\n")
    env = dict(ENV, PYTHONPATH=str(blocker.parent) + os.pathsep + ENV.get("PYTHONPATH", ""))
    done = subprocess.run(SCANNER + ["scan", str(corpus), "--engine", "ray", "--shards", str(tmp_path / "out")],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 4 and 'pip install "scanner[ray]"' in done.stderr and done.stdout == ""


def test_ray_engine_usage_errors(corpus, tmp_path):
    assert run([str(corpus), "--engine", "spark"], tmp_path).returncode == 2
    assert "--shards" in run([str(corpus), "--engine", "ray"], tmp_path).stderr
    assert run([str(corpus), "--shards", str(tmp_path / "s")], tmp_path).returncode == 2  # --shards without ray
    assert run([str(corpus), "--engine", "ray", "--shards", str(tmp_path / "s"), "--heatmaps", str(tmp_path / "m")],
               tmp_path).returncode == 2


def test_ray_records_equal_the_local_engine_bad_files_included(corpus, tmp_path):
    pytest.importorskip("ray")
    from scanner.engines.ray import read_records

    args = [str(corpus), str(corpus / "missing.jpg"), "--jsonl", "--threads", "1"]
    local = run(args, tmp_path)
    ray = run(args + ["--engine", "ray", "--workers", "2", "--shards", str(tmp_path / "shards")], tmp_path)
    assert ray.returncode == local.returncode == 1, ray.stderr
    expected = records(local.stdout)
    assert len(expected) == 13 and {r["status"] for r in expected} == {"ok", "error", "skipped"}
    assert records(ray.stdout) == expected  # same schema, same scores, bit for bit
    assert sorted(read_records(tmp_path / "shards"), key=lambda r: r["path"]) == expected
    summary = json.loads(ray.stdout.splitlines()[-1])
    assert summary["options"]["engine"]["name"] == "ray" and summary["summary"]["files"] == 13

    again = run(args + ["--engine", "ray", "--shards", str(tmp_path / "shards")], tmp_path)
    assert records(again.stdout) == [] and "13 files already recorded" in again.stderr
    assert len(read_records(tmp_path / "shards")) == 13


def _shard_lines(folder: Path) -> list[dict]:
    return [json.loads(line) for shard in sorted(folder.glob("part-*.jsonl")) for line in shard.read_text().splitlines()]


def _wait_for_shard(process: subprocess.Popen, folder: Path) -> None:
    deadline = time.monotonic() + 240
    while not list(folder.glob("part-*.jsonl")):
        assert process.poll() is None, "the scan ended before any shard was written"
        assert time.monotonic() < deadline, "no shard written in time"
        time.sleep(0.2)


def _complete_and_unique(folder: Path, expected: list[dict]) -> None:
    lines = _shard_lines(folder)
    keys = [(r["path"], r["sha256"]) for r in lines]
    assert len(keys) == len(set(keys)), "a record was written twice"
    assert sorted(lines, key=lambda r: r["path"]) == expected, "a record is lost or differs from the local engine's"


@pytest.fixture(scope="module")
def local_records(corpus, tmp_path_factory) -> list[dict]:
    """The local engine's records of the corpus, once for the module."""
    return records(run([str(corpus), "--jsonl", "--threads", "1"], tmp_path_factory.mktemp("local")).stdout)


def start_ray_scan(args: list[str], cwd: Path, shards: Path) -> subprocess.Popen:
    """A Ray scan as a child process, returned once it has written its first shard."""
    process = subprocess.Popen(SCANNER + ["scan"] + args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env=ENV, preexec_fn=interruptible)
    _wait_for_shard(process, shards)
    return process


def test_a_killed_worker_loses_and_duplicates_nothing(corpus, local_records, tmp_path):
    pytest.importorskip("ray")
    shards = tmp_path / "shards"
    args = [str(corpus), "--jsonl", "--threads", "1", "--engine", "ray", "--workers", "2", "--batch-size", "1", "--shards", str(shards)]
    process = start_ray_scan(args, tmp_path, shards)
    workers = processes_with(b"ScoreWorker")  # Ray scoring actors: their command line names the class
    assert workers, "no Ray worker process found"
    os.kill(min(workers), signal.SIGKILL)
    process.communicate(timeout=600)
    rerun = run(args, tmp_path)
    assert rerun.returncode in (0, 1), rerun.stderr
    _complete_and_unique(shards, local_records)


def test_ctrl_c_leaves_whole_shards_and_a_rerun_completes_them(corpus, local_records, tmp_path):
    pytest.importorskip("ray")
    shards = tmp_path / "shards"
    args = [str(corpus), "--jsonl", "--threads", "1", "--engine", "ray", "--workers", "1", "--batch-size", "2", "--shards", str(shards)]
    process = start_ray_scan(args, tmp_path, shards)
    process.send_signal(signal.SIGINT)
    out, _ = process.communicate(timeout=300)
    interrupted = [json.loads(line) for line in out.splitlines()][-1]  # stdout holds data only, even as Ray stops
    assert process.returncode == 130 and interrupted["summary"]["interrupted"]
    assert len(_shard_lines(shards)) < len(local_records)  # stopped part-way
    rerun = run(args, tmp_path)
    assert rerun.returncode == 1, rerun.stderr
    _complete_and_unique(shards, local_records)
