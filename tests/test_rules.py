"""scanner.scoring.rules and scanner.scoring.naming: the spread (global) rule beside the core
(local) rule, and naming one operation or the ones the scanner cannot tell apart."""

from __future__ import annotations

import numpy as np
import pytest

from scanner.core.constants import MIN_AREA, SPREAD_CLIP
from scanner.core.types import ImageRule, SpreadRule
from scanner.scoring.naming import Naming, name_operation
from scanner.scoring.rules import Detection, detect, spread_score

RULE = SpreadRule((512, 1024, 2048), (0.5, 0.0, -0.5))


def test_the_spread_threshold_falls_with_the_image_size():
    assert RULE.threshold((300, 300)) == 0.5  # smaller than every crop: the smallest crop's
    assert RULE.threshold((512, 512)) == 0.5
    assert RULE.threshold((700, 1600)) == 0.0  # a 1058-pixel square
    assert RULE.threshold((6000, 8000)) == -0.5


def test_the_spread_score_is_the_clipped_mean_of_the_textured_windows(rng):
    logits = rng.normal(-3, 1, (20, 30))
    logits[0, 0] = 1e6  # one saturated window cannot carry the image
    textured = np.ones(logits.shape, dtype=bool)
    textured[5:, :] = rng.random((15, 30)) > 0.2
    expected = np.mean([min(max(v, -SPREAD_CLIP), SPREAD_CLIP) for v in logits[textured]])
    assert spread_score(logits, textured) == pytest.approx(expected)
    assert spread_score(logits, np.zeros(logits.shape, dtype=bool)) is None  # a flat image has no spread score


def _logits(rng, shape=(40, 40), level=-4.0):
    return rng.normal(level, 0.5, shape)


def test_a_global_finding_flags_the_whole_image_without_a_local_core(rng):
    rule = ImageRule(0.5, 0.999, MIN_AREA, SpreadRule((512,), (-1.0,)))
    shape = (40 * 8 + 120, 40 * 8 + 120)
    textured = np.ones((40, 40), dtype=bool)
    weak = detect(_logits(rng, level=-0.5), rule, 8, "blur", shape=shape, textured=textured)
    assert weak.flagged and weak.extent == "global" and weak.score < weak.threshold  # no window core passes
    assert [r.bbox for r in weak.regions] == [[0, 0, shape[1], shape[0]]] and weak.regions[0].extent == "global"
    assert weak.margin == pytest.approx(weak.spread_score + 1.0)
    quiet = detect(_logits(rng), rule, 8, "blur", shape=shape, textured=textured)
    assert not quiet.flagged and quiet.extent is None and quiet.regions == [] and quiet.margin < 0


def test_a_local_edit_is_local_and_keeps_its_region(rng):
    rule = ImageRule(0.5, 0.9, MIN_AREA, SpreadRule((512,), (0.0,)))
    logits = _logits(rng)
    logits[10:25, 10:25] = 6.0  # a 15 x 15-window square, well over the core rule
    d = detect(logits, rule, 8, "median", shape=(440, 440), textured=np.ones((40, 40), dtype=bool))
    assert d.flagged and d.extent == "local" and d.spread_score < d.spread_threshold
    x0, y0, x1, y1 = d.regions[0].bbox
    assert (x0, y0) == (80, 80) and x1 >= 24 * 8 + 128 - 8 and d.regions[0].extent == "local"


def _detection(name: str, flagged: bool, margin: float = 1.0) -> Detection:
    extent = "local" if flagged else None
    regions = []
    if flagged:
        from scanner.scoring.rules import Region
        regions = [Region(name, [0, 0, 10, 10], 100, 0.9, 0.99, 4, None, extent)]
    p = 1 / (1 + np.exp(-margin))
    return Detection(name, float(p * 0.5 + 0.5 if flagged else 0.1), flagged, 0.5, 0.5, MIN_AREA, 0.1, regions)


NAMES = ["pristine", "median", "blur", "noise", "resize", "jpeg"]


def _head(probabilities: dict[str, float]) -> np.ndarray:
    p = np.array([probabilities.get(n, 0.0) for n in NAMES])
    return np.broadcast_to(p[:, None, None], (len(NAMES), 3, 3)).copy()


def test_one_operation_is_named_only_when_the_head_is_sure():
    both = {n: _detection(n, n in ("blur", "resize")) for n in NAMES[1:]}
    sure = name_operation(both, _head({"blur": 0.85, "resize": 0.1, "pristine": 0.05}), NAMES, None)
    assert sure.operation == "blur" and sure.label == "blur" and [c.operation for c in sure.candidates] == ["blur"]
    unsure = name_operation(both, _head({"blur": 0.5, "resize": 0.4, "pristine": 0.1}), NAMES, None)
    assert unsure.operation is None and unsure.label == "blur or resize"
    assert [c.operation for c in unsure.candidates] == ["blur", "resize"] and all(c.flagged for c in unsure.candidates)


def test_a_lone_detector_the_head_disagrees_with_is_not_named_alone():
    lone = {n: _detection(n, n == "blur") for n in NAMES[1:]}
    naming = name_operation(lone, _head({"blur": 0.2, "resize": 0.7, "pristine": 0.1}), NAMES, None)
    assert naming.operation is None and naming.label == "resize or blur"
    assert [(c.operation, c.flagged) for c in naming.candidates] == [("resize", False), ("blur", True)]
    agreed = name_operation(lone, _head({"blur": 0.6, "resize": 0.3, "pristine": 0.1}), NAMES, None)
    assert agreed.operation == "blur" and len(agreed.candidates) == 1  # the lone detector and the head agree


def test_without_an_operation_head_a_lone_detector_is_named_and_several_are_listed():
    one = {n: _detection(n, n == "noise") for n in NAMES[1:]}
    assert name_operation(one, np.zeros((0, 3, 3)), [], None).operation == "noise"
    two = {n: _detection(n, n in ("noise", "median"), margin=2.0 if n == "median" else 1.0) for n in NAMES[1:]}
    naming = name_operation(two, np.zeros((0, 3, 3)), [], None)
    assert naming.operation is None and naming.label == "median or noise"
    assert name_operation({n: _detection(n, False) for n in NAMES[1:]}, _head({}), NAMES, None) == Naming(None, ())


def test_a_jpeg_finding_over_most_of_a_file_stored_below_95_is_its_own_compression():
    from dataclasses import replace

    from scanner.scoring.analysis import explained_by_own_compression

    whole = replace(_detection("jpeg", True), flagged_fraction=0.8)
    own = explained_by_own_compression(whole, 70)
    assert not own.flagged and own.regions == [] and "quality 70" in own.explained and own.extent is None
    assert explained_by_own_compression(whole, 96) is whole and explained_by_own_compression(whole, None) is whole
    patch = replace(_detection("jpeg", True), flagged_fraction=0.1)  # a region compressed differently from the rest
    assert explained_by_own_compression(patch, 70) is patch
