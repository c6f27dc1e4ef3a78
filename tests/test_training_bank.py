"""scanner.training.bank: the pieces of train_bank that choose, shift and describe the heads,
checked on synthetic descriptors against direct computations (the whole run needs the photos and
half an hour: docs/performance.md)."""

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from scanner.families.head_fitting import HeadChoice
from scanner.training.bank import BANK_SUBMODELS, choose_heads, make_folds, shifted_bank
from scanner.training.calibration import WINDOW_FPR
from scanner.training.photos import Photo, camera_make

F = 20


def synthetic(rng, n=400):
    pristine = rng.normal(size=(n, F))
    processed = rng.normal(size=(n, F))
    processed[:, 0] += 1.0  # column 0 tells them apart
    return {"pristine": pristine, "blur:0.5": processed}


def test_the_candidate_of_higher_out_of_fold_auc_is_chosen(rng):
    f = synthetic(rng)
    good, bad = HeadChoice(None, 1.0), HeadChoice(("o1t1",), 0.1)
    fold = np.arange(400) % 4
    heads = {}
    for i in range(4):
        heads[i, good, "blur:0.5"] = (np.eye(F)[0], 0.5)  # reads column 0
        heads[i, bad, "blur:0.5"] = (np.eye(F)[1], 0.0)  # reads noise
    choice = choose_heads(f, heads, fold, {"blur:0.5": [good, bad]})
    assert choice.chosen["blur:0.5"] is good
    labels = np.r_[np.zeros(400), np.ones(400)]
    assert choice.auc["blur:0.5"][good.label] == pytest.approx(roc_auc_score(labels, np.r_[f["pristine"][:, 0], f["blur:0.5"][:, 0]]))
    pristine = f["pristine"][:, 0] + 0.5
    np.testing.assert_allclose(choice.pristine["blur:0.5"], pristine)
    assert choice.offset["blur:0.5"] == pytest.approx(np.quantile(pristine, 1 - WINDOW_FPR))


def test_each_row_is_scored_by_the_head_fitted_without_its_fold(rng):
    f = synthetic(rng, 40)
    c = HeadChoice(None, 1.0)
    fold = np.repeat(np.arange(4), 10)
    heads = {(i, c, "blur:0.5"): (np.zeros(F), float(i)) for i in range(4)}  # a head's logit names its fold
    choice = choose_heads(f, heads, fold, {"blur:0.5": [c]})
    np.testing.assert_array_equal(choice.pristine["blur:0.5"], fold.astype(float))


def test_shifted_heads_put_logit_zero_at_the_offset(rng):
    width = 162 * len(BANK_SUBMODELS)
    w = rng.normal(size=width)
    bank = shifted_bank({"blur:0.5": (w, 2.0), "jpeg:90": (w, -1.0)}, {"blur:0.5": 0.5, "jpeg:90": -3.0}, "sqrt", None)
    np.testing.assert_allclose(bank.tasks.bias, [1.5, 2.0])
    assert bank.names == ["blur", "jpeg"] and bank.operations.weight.shape == (0, width)


def test_folds_hold_whole_makes():
    photos = [Photo(f"p{i}.jpg", f"{make} model", "") for i, make in enumerate(["Canon"] * 5 + ["Nikon"] * 3 + ["Sony"] * 2 + ["Fujifilm"] * 2)]
    folds = make_folds(photos, 3, seed=0)
    makes = [camera_make(p.camera) for p in photos]
    assert sorted(m for fold in folds for m in fold) == sorted(set(makes))
    sizes = sorted(sum(m in fold for m in makes) for fold in folds)
    assert sizes == [3, 4, 5]  # largest make first, each into the lightest fold
