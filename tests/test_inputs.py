"""Input discovery and output naming for `scanner scan`."""

from __future__ import annotations

import os

import numpy as np

from scanner.core.types import ImageRule
from scanner.inputs.discovery import collect_inputs, output_stem
from scanner.scoring.rules import detect, image_score, largest_area, regions


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


def logit(p: np.ndarray) -> np.ndarray:
    """Window probabilities back to the logits :func:`detect` reads (0 -> -inf, which it maps back to 0)."""
    with np.errstate(divide="ignore"):
        return np.log(p) - np.log1p(-p)


def test_regions_image_score_and_flag_agree():
    scores = np.zeros((7, 10))
    scores[1:3, 1:4] = 0.9  # one 2x3 block of windows over threshold
    scores[6, 9] = 0.8  # and a lone window whose footprint does not touch the block's
    found = regions(scores, 0.5, 32, "blur")
    assert [r.windows for r in found] == [6, 1]
    assert found[0].bbox == [32, 32, 3 * 32 + 128, 2 * 32 + 128]
    assert found[0].area == (3 * 32 + 128 - 32) * (2 * 32 + 128 - 32)  # union of the windows
    assert found[1].area == 128 * 128
    # the image rule: only regions whose core covers min_area count, and the score agrees
    d = detect(logit(scores), ImageRule(0.5, 0.5, 128 * 128 + 1), 32, "blur")
    assert d.flagged and [r.windows for r in d.regions] == [6] and d.score == 0.9
    d = detect(logit(scores), ImageRule(0.5, 0.5, found[0].area + 1), 32, "blur")
    assert not d.flagged and d.regions == [] and d.score < 0.5
    d = detect(logit(scores), ImageRule(0.85, 0.85, 128 * 128), 32, "blur")
    assert d.flagged and d.score == 0.9 and d.flagged_fraction == 6 / 70
    # hysteresis: a strong core flags the image, the window threshold outlines the region around it
    scores[3, 1:4] = 0.6
    d = detect(logit(scores), ImageRule(0.5, 0.85, 128 * 128), 32, "blur")
    assert d.flagged and d.threshold == 0.85 and d.window_threshold == 0.5
    assert [r.windows for r in d.regions] == [9] and d.regions[0].bbox[3] == 3 * 32 + 128
    assert not detect(logit(scores), ImageRule(0.5, 0.95, 128 * 128), 32, "blur").flagged
    # a flagged image always lists its region, whatever the share of the grid the cores cover
    full = np.full((4, 5), 0.99)
    d = detect(logit(full), ImageRule(0.5, 0.9, 128 * 128), 32, "blur")
    assert d.flagged and len(d.regions) == 1 and d.regions[0].windows == 20


def test_image_score_is_the_largest_qualifying_level(rng):
    prob = rng.random((12, 15))
    for min_area in (128 * 128, 5 * 128 * 128, 40 * 128 * 128):
        score = image_score(prob, 32, min_area)
        assert largest_area(prob >= score, 32) >= min_area or score == 0
        above = prob[prob > score]
        if above.size:
            assert largest_area(prob >= above.min(), 32) < min_area
