"""scanner.training.calibration: the spread rule is calibrated on crops tiling out-of-fold photos."""

from __future__ import annotations

import numpy as np
import pytest

from scanner.core.constants import PATCH
from scanner.scoring.rules import spread_score
from scanner.training.bank import load_oof_maps, save_oof_maps
from scanner.training.calibration import TEXTURED, calibrate_spread, crop_spread_scores


def test_crops_tile_the_photo_and_read_the_windows_inside_them(rng):
    logits = rng.normal(-3, 1, (50, 70))  # a 1696 x 2336-pixel photo at stride 32
    textured = np.ones(logits.shape, dtype=bool)
    scores = crop_spread_scores(logits, textured, 32, 512)
    assert len(scores) == 3 * 4  # 512-pixel crops: rows 0, 512, 1024; cols 0 .. 1536
    span = (512 - PATCH) // 32 + 1
    assert scores[1] == pytest.approx(spread_score(logits[0:span, 16 : 16 + span], textured[0:span, 16 : 16 + span]))
    flat = textured.copy()
    flat[:16, :16] = False  # the first crop is flat: left out
    assert len(crop_spread_scores(logits, flat, 32, 512)) == 11


def test_each_side_passes_its_share_of_pristine_crops(rng):
    maps = [{"blur": rng.normal(-3, 1, (60, 80)), TEXTURED: np.ones((60, 80), dtype=bool)} for _ in range(40)]
    rules, evidence = calibrate_spread(maps, 32, fpr=0.05, sides=(512, 1024))
    found = evidence["by_side"]["blur"]
    for side in (512, 1024):
        scores = np.concatenate([crop_spread_scores(m["blur"], m[TEXTURED], 32, side) for m in maps])
        assert np.mean(scores > found[str(side)]) <= 0.05 < np.mean(scores >= found[str(side)]) + 0.05
        assert evidence["crops"][str(side)] == len(scores)
    whole = [spread_score(m["blur"], m[TEXTURED]) for m in maps]
    assert found["whole"] == pytest.approx(max(whole), abs=1e-4) and found["1024"] < found["512"]  # larger crops average more windows
    # one threshold for every size, the largest: a whole image does not average a camera's offset away
    assert rules["blur"].sides == (512,) and rules["blur"].thresholds[0] == pytest.approx(max(found.values()), abs=1e-4)
    assert rules["blur"].threshold((6000, 8000)) == rules["blur"].threshold((512, 512))


def test_out_of_fold_maps_come_back_as_saved_photo_by_photo(rng, tmp_path):
    maps = [{"blur": rng.normal(size=(3 + i, 4)), TEXTURED: rng.random((3 + i, 4)) > 0.5} for i in range(12)]
    save_oof_maps(tmp_path / "oof.npz", maps)
    back = load_oof_maps(tmp_path / "oof.npz")
    assert len(back) == 12 and all(b.keys() == m.keys() for b, m in zip(back, maps))
    assert all(np.array_equal(b[k], m[k]) for b, m in zip(back, maps) for k in m)  # photo 10 after photo 9, not photo 1
