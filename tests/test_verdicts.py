"""scanner.evaluation.verdicts: how a verdict reads against the truth, and rates per photo."""

from __future__ import annotations

import pytest

from scanner.evaluation.verdicts import UNTOUCHED, Verdict, flag_rate, label_counts, naming_counts


def _v(photo: str, truth: str, flagged=(), label=None, operation=None, size="crop") -> Verdict:
    return Verdict(photo, size, truth, tuple(flagged), label, operation)


def test_a_verdict_reads_right_honest_wrong_or_missed():
    assert _v("a", "blur:0.5", [("blur", "global")], "blur", "blur").named == "right"
    assert _v("a", "blur:0.5", [("blur", "local")], "blur or resize").named == "cannot tell (incl.)"
    assert _v("a", "blur:0.5", [("resize", "local")], "resize or jpeg").named == "cannot tell (excl.)"
    assert _v("a", "blur:0.5", [("resize", "local")], "resize", "resize").named == "wrong"
    assert _v("a", "blur:0.5").named == "not flagged"


def test_rates_count_photos_of_one_truth_and_size():
    verdicts = [_v("a", UNTOUCHED), _v("b", UNTOUCHED, [("jpeg", "global")], "jpeg", "jpeg"),
                _v("a", UNTOUCHED, size="whole"), _v("a", "blur:0.5", [("blur", "global")], "blur", "blur")]
    hits, n, (low, high) = flag_rate(verdicts, UNTOUCHED, "crop")
    assert (hits, n) == (1, 2) and 0 <= low <= 50 <= high <= 100
    assert flag_rate(verdicts, UNTOUCHED, "crop", "blur")[0] == 0 and flag_rate(verdicts, UNTOUCHED, "crop", "jpeg")[0] == 1
    assert flag_rate(verdicts, UNTOUCHED, "whole")[:2] == (0, 1)
    assert naming_counts(verdicts, "crop") == {"blur:0.5": {"right": 1}}
    assert label_counts(verdicts, "crop")[UNTOUCHED] == {"-": 1, "jpeg": 1}


def test_a_lowered_spread_threshold_adds_the_images_whose_spread_score_passes_it():
    near = Verdict("a", "whole", "noise:0.25", (), None, None, (("noise", -1.5, -1.0), ("blur", None, -2.0)))
    far = Verdict("b", "whole", "noise:0.25", (), None, None, (("noise", -4.0, -1.0), ("blur", -9.0, -2.0)))
    found = Verdict("c", "whole", "noise:0.25", (("noise", "local"),), "noise", "noise", (("noise", -6.0, -1.0),))
    assert [v.flagged_by("noise") for v in (near, far, found)] == [False, False, True]
    assert [v.flagged_by("noise", 1.0) for v in (near, far, found)] == [True, False, True]
    assert not near.flagged_by("blur", 5.0) and far.flagged_by(None, 7.5) and not far.flagged_by("noise", 2.5)
    assert flag_rate([near, far, found], "noise:0.25", "whole", "noise", 1.0)[:2] == (2, 3)
    with pytest.raises(ValueError):
        near.flagged_by("noise", -1.0)


def test_a_jpeg_files_own_compression_stays_explained_at_a_lowered_threshold():
    spread = (("jpeg", 5.0, 0.3), ("noise", -2.0, -0.4))
    low, high, pixels = (Verdict("a", "whole", UNTOUCHED, (), None, None, spread, q) for q in (81, 97, None))
    assert not low.flagged_by("jpeg", 2.0) and low.flagged_by("noise", 2.0)  # quality 81: the file's own compression
    assert high.flagged_by("jpeg") and pixels.flagged_by("jpeg")  # at 97, or with no file, the finding counts
