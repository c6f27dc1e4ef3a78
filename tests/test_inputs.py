"""Input discovery and output naming for `scanner scan`."""

from __future__ import annotations

import os

from scanner.scan import collect_inputs, output_stem, regions, verdict

import numpy as np


def make_tree(root):
    (root / "b" / "deep").mkdir(parents=True)
    (root / "a").mkdir()
    for rel in ("z.jpg", "a/x.png", "b/x.png", "b/deep/y.tif", ".secret.jpg", "a/notes.txt"):
        (root / rel).write_bytes(b"x")
    (root / ".hidden").mkdir()
    (root / ".hidden" / "h.jpg").write_bytes(b"x")
    os.symlink(root, root / "b" / "loop")  # a link back to the top: must not recurse


def test_folders_are_walked_sorted_without_hidden_or_link_loops(tmp_path):
    make_tree(tmp_path)
    files, missing = collect_inputs([tmp_path])
    names = [f.path.relative_to(tmp_path).as_posix() for f in files]
    assert names == ["a/notes.txt", "a/x.png", "b/deep/y.tif", "b/x.png", "z.jpg"] and missing == []
    hidden = [f.path.name for f in collect_inputs([tmp_path], include_hidden=True)[0]]
    assert ".secret.jpg" in hidden and "h.jpg" in hidden


def test_glob_non_recursive_and_missing_paths(tmp_path):
    make_tree(tmp_path)
    assert [f.path.name for f in collect_inputs([tmp_path], pattern="*.png")[0]] == ["x.png", "x.png"]
    assert [f.path.name for f in collect_inputs([tmp_path], recursive=False)[0]] == ["z.jpg"]
    files, missing = collect_inputs([tmp_path / "z.jpg", tmp_path / "z.jpg", tmp_path / "nope.jpg"])
    assert len(files) == 1 and missing == [str(tmp_path / "nope.jpg")]


def test_output_stems_never_collide(tmp_path):
    make_tree(tmp_path)
    files, _ = collect_inputs([tmp_path / "a" / "x.png", tmp_path / "b"])
    stems = output_stem(files)
    assert len(set(stems.values())) == len(files)
    assert {s.as_posix() for s in stems.values()} >= {"a/x.png", "b/x.png"}


def test_regions_and_verdict_from_a_score_map():
    scores = np.zeros((6, 8))
    scores[1:3, 1:4] = 0.9  # one 2x3 block of windows over threshold
    scores[5, 7] = 0.8  # and a lone window
    found = regions(scores, 0.5, 32, "blur")
    assert [r.windows for r in found] == [6, 1]
    assert found[0].bbox == [32, 32, 3 * 32 + 128, 2 * 32 + 128]
    assert found[0].area == (3 * 32 + 128 - 32) * (2 * 32 + 128 - 32)  # union of the windows
    v = verdict(scores, 0.5, 32, "blur")
    assert v["flagged_fraction"] == round(7 / 48, 4) and v["top_region"]["windows"] == 6
    assert v["score"] == round(float(np.quantile(scores, 0.95)), 4) and v["flagged"] == (v["score"] > 0.5)
