"""The shipped detector family: a bank of exact SRM submodels with linear heads."""

from __future__ import annotations

import numpy as np
import pytest

from scanner.core.types import ImageRule
from scanner.families.bank import SRMBank, load_bank, save_bank, window_sums
from scanner.families.bank_card import BankCard, CoreRule
from scanner.families.cards import WeightsError, read_card
from scanner.families.head_fitting import HeadChoice, fit_operation_head, fit_task_head
from scanner.families.heads import LinearHeads, transform
from scanner.families.networks import to_input
from scanner.families.recast import RecastNet
from scanner.families.registry import load_shipped
from scanner.features.chroma import N_FEATURES as N_CHROMA
from scanner.features.lattice import N_FEATURES as N_LATTICE
from scanner.features.srm import ANCHOR_MARGIN, Submodel, bank_features, code_maps, srm_features
from scanner.processing import manipulations
from scanner.processing.manipulations import all_tasks, task_key
from scanner.training.bank import BANK_SUBMODELS

from .conftest import textured_image


def naive_codes(x: np.ndarray, submodel: Submodel, direction: str, orientation: str) -> np.ndarray:
    """Co-occurrence codes by explicit loops over pixels: the independent reference."""
    image = x.astype(np.int64) if orientation == "H" else x.T.astype(np.int64)
    w = submodel.kernel
    h, wd = image.shape
    r = np.array([[sum(w[t] * image[i, j + t] for t in range(len(w))) for j in range(wd - len(w) + 1)] for i in range(h)])
    q = np.where(r > submodel.threshold, 1, np.where(r < -submodel.threshold, -1, 0))
    codes = np.zeros((q.shape[0] - (3 if direction == "across" else 0), q.shape[1] - (3 if direction == "along" else 0)), int)
    for i in range(codes.shape[0]):
        for j in range(codes.shape[1]):
            digits = [q[i + n, j] if direction == "across" else q[i, j + n] for n in range(4)]
            codes[i, j] = sum(3**n * (d + 1) for n, d in enumerate(digits))
    return codes if orientation == "H" else codes.T


@pytest.mark.parametrize("submodel", BANK_SUBMODELS, ids=lambda s: s.name)
def test_code_maps_equal_explicit_loops(rng, submodel):
    x = rng.integers(0, 256, (20, 23)).astype(np.uint8)
    x[5:12, 4:15] = 120  # flat area: zero residuals
    maps = code_maps(x, submodel)
    for (direction, orientation), codes in maps.items():
        reference = naive_codes(x, submodel, direction, orientation)
        assert codes.shape == (20 - 6, 23 - 6)
        np.testing.assert_array_equal(codes, reference[: codes.shape[0], : codes.shape[1]])


@pytest.mark.parametrize("submodel", BANK_SUBMODELS, ids=lambda s: s.name)
def test_every_branch_is_exact_in_hard_max(rng, submodel):
    """The recast network built for a submodel assigns, at every position, the codeword whose
    index is the descriptor's code; so its pooled histograms equal the numpy descriptor."""
    patches = np.stack([textured_image(rng, 48, 48, 1)[..., 0], rng.integers(0, 256, (48, 48)).astype(np.uint8)])
    net = RecastNet.from_srm(exact=True, kernel=submodel.kernel, step=submodel.step)
    np.testing.assert_array_equal(net.features(to_input(patches)).numpy(), srm_features(patches, submodel.step, submodel.kernel))
    x = to_input(patches[:1])
    for direction, branch in net.branches():
        assigned = branch(x, "hard", net.alpha)[0].argmax(-1).numpy()
        codes = code_maps(patches[0], submodel)[direction, "H"]
        np.testing.assert_array_equal(assigned[: codes.shape[0], : codes.shape[1]], codes)


def test_bank_features_pool_the_anchor_square(rng):
    patches = rng.integers(0, 256, (3, 40, 40)).astype(np.uint8)
    f = bank_features(patches, BANK_SUBMODELS[:2])
    assert f.shape == (3, 2 * 162)
    np.testing.assert_allclose(f.reshape(3, 4, 81).sum(-1), 1.0)
    a = 40 - ANCHOR_MARGIN
    maps = code_maps(patches[1], BANK_SUBMODELS[1])
    along = (np.bincount(maps["along", "H"][:a, :a].ravel(), minlength=81) + np.bincount(maps["along", "V"][:a, :a].ravel(), minlength=81))
    np.testing.assert_allclose(f[1, 162 + 81 :], along / (2 * a * a))


def random_bank(rng, submodels=BANK_SUBMODELS[:3], tf="sqrt", lattice: bool = False, chroma: bool = False,
                resaved: bool = True) -> SRMBank:
    f = 162 * len(submodels) + (N_LATTICE if lattice else 0) + (N_CHROMA if chroma else 0)
    keys = [task_key(m, s) for m, s in all_tasks()]
    names = ("median", "blur", "noise", "resize", "jpeg")
    card = BankCard(dict.fromkeys(names, 0.0), dict.fromkeys(names, CoreRule(0.7, 3 * 128 * 128)))
    return SRMBank(tuple(submodels), tf, LinearHeads(keys, rng.normal(size=(15, f)), rng.normal(size=15)),
                   LinearHeads(["pristine", "median", "blur", "noise", "resize", "jpeg"], rng.normal(size=(6, f)), rng.normal(size=6)),
                   card, lattice=lattice, chroma=chroma,
                   resaved=LinearHeads(["median", "blur", "noise", "resize"], rng.normal(size=(4, f)), rng.normal(size=4)) if resaved else None)


@pytest.mark.parametrize("stride, threads, band, window, lattice, chroma", [
    (8, 1, 1024, 128, False, False), (32, 2, 1024, 128, False, False), (12, 1, 1024, 128, False, False),
    (16, 2, 40, 128, False, False), (8, 2, 1024, 32, False, False), (16, 1, 40, 64, False, False), (8, 1, 24, 64, False, False),
    (8, 1, 1024, 128, True, False), (16, 2, 40, 128, True, False), (8, 2, 24, 32, True, False), (32, 1, 1024, 64, True, False),
    (8, 1, 1024, 128, False, True), (12, 2, 40, 128, False, True), (8, 2, 24, 32, True, True), (16, 1, 1024, 64, True, True)])
def test_dense_scores_equal_window_by_window(rng, stride, threads, band, window, lattice, chroma, monkeypatch):
    """Dense scores equal scoring each window cut out; with lattice or chroma features, on an
    RGB JPEG (block grid at the corner, windows on it)."""
    import scanner.families.bank

    monkeypatch.setattr(scanner.families.bank, "BAND_ROWS", band)  # 24, 40: several bands on this small image
    bank = random_bank(rng, lattice=lattice, chroma=chroma)
    rgb = lattice or chroma
    green = manipulations.jpeg(textured_image(rng, 200, 290), 85) if rgb else textured_image(rng, 200, 290, 1)[..., 0]
    scores = bank.dense(green, stride, window=window, threads=threads)
    windows = np.stack([green[t : t + window, l : l + window] for t in scores.tops for l in scores.lefts])
    detectors, operations = bank.patch_logits(windows)
    for name, logits in scores.detectors.items():
        np.testing.assert_allclose(logits.ravel(), detectors[name], atol=1e-9)
    np.testing.assert_allclose(scores.operations.reshape(6, -1).T, operations, atol=1e-9)
    resaved = bank.resaved(bank.features(windows))
    assert list(scores.resaved) == ["median-resaved", "blur-resaved", "noise-resaved", "resize-resaved"]
    for i, logits in enumerate(scores.resaved.values()):
        np.testing.assert_allclose(logits.ravel(), resaved[:, i], atol=1e-9)
    assert scores.tops[-1] + window <= 200 and scores.lefts[-1] + window <= 290
    assert scores.tops[-1] + window + stride > 200 and scores.lefts[-1] + window + stride > 290


@pytest.mark.parametrize("k, step, uneven", [(3, 1, False), (7, 1, False), (15, 4, False), (15, 1, False), (40, 7, False),
                                            (40, 1, False), (3, 2, True), (15, 4, True)])
def test_window_sums_equal_explicit_sums(rng, k, step, uneven):
    """Both ways of :func:`scanner.core.windows.box_sums` (shifted slices where few, a running-sum table
    where many: (40, 1) reads the table, the others take slices; views of evenly spaced starts,
    copies of uneven ones) against summing each k x k block of cells."""
    counts = rng.integers(0, 50, size=(70, 90, 81)).astype(np.int32)
    rows, cols = np.arange(0, 70 - k + 1, step), np.arange(1, 90 - k + 1, step)
    if uneven:
        rows, cols = np.delete(rows, 1), np.delete(cols, 2)
    expected = np.stack([counts[r : r + k, c : c + k].sum(axis=(0, 1)) for r in rows for c in cols])
    np.testing.assert_array_equal(window_sums(counts, rows, cols, k), expected)


@pytest.mark.parametrize("extras", [False, True])
def test_grids_scored_together_equal_each_grid_alone(rng, monkeypatch, extras):
    import scanner.families.bank

    monkeypatch.setattr(scanner.families.bank, "BAND_ROWS", 40)  # several bands, each holding tops of every grid
    bank = random_bank(rng, lattice=extras, chroma=extras)
    green = manipulations.jpeg(textured_image(rng, 230, 270), 80) if extras else textured_image(rng, 230, 270, 1)[..., 0]
    grids = [(128, 16), (64, 16), (32, 8), (128, 24)]
    for (window, stride), together in zip(grids, bank.dense_grids(green, grids, threads=2)):
        alone = bank.dense(green, stride, window=window)
        np.testing.assert_array_equal(together.tops, alone.tops)
        np.testing.assert_array_equal(together.lefts, alone.lefts)
        for name in alone.detectors:
            np.testing.assert_allclose(together.detectors[name], alone.detectors[name], rtol=0, atol=1e-9)
        np.testing.assert_allclose(together.operations, alone.operations, rtol=0, atol=1e-9)
        for name in alone.resaved:
            np.testing.assert_allclose(together.resaved[name], alone.resaved[name], rtol=0, atol=1e-9)


def test_detector_is_the_largest_of_its_task_heads(rng):
    bank = random_bank(rng)
    f = bank.features(rng.integers(0, 256, (4, 64, 64)).astype(np.uint8))
    tasks = bank.tasks(f)
    logits, _ = bank.patch_logits_from_features(bank_features(rng.integers(0, 1, (1, 64, 64)).astype(np.uint8), bank.submodels)), None
    np.testing.assert_allclose(bank.detector_logits(tasks.T)["blur"], tasks[:, 3:6].max(1))
    assert set(logits) == {"median", "blur", "noise", "resize", "jpeg"}
    assert bank.select(["blur"]).names == ["blur"]


def test_task_head_learns_blur_and_lowers_the_loss(rng):
    """A few hundred patches: the fitted head separates blurred from pristine on new images,
    and its log-loss is far below the untrained head's (log 2)."""

    def patches(seed):
        r = np.random.default_rng(seed)
        images = [textured_image(r, 160, 160, 1, smooth=0.6)[..., 0] for _ in range(6)]
        cut = lambda im: np.stack([im[i : i + 64, j : j + 64] for i in (0, 48, 96) for j in (0, 48, 96)])
        pristine = np.concatenate([cut(im) for im in images])
        blurred = np.concatenate([cut(manipulations.gaussian_blur(im, 0.75)) for im in images])
        return (transform(bank_features(pristine, BANK_SUBMODELS[:3]), "sqrt"),
                transform(bank_features(blurred, BANK_SUBMODELS[:3]), "sqrt"))

    p, q = patches(1)
    weight, bias = fit_task_head(p, q, HeadChoice(None, 0.1), BANK_SUBMODELS[:3])
    tp, tq = patches(2)
    scores = np.r_[tp @ weight + bias, tq @ weight + bias]
    labels = np.r_[np.zeros(len(tp)), np.ones(len(tq))]
    accuracy = np.mean((scores > 0) == labels)
    loss = np.mean(np.logaddexp(0, -np.where(labels == 1, scores, -scores)))
    assert accuracy > 0.95 and loss < 0.3 < np.log(2)
    only = fit_task_head(p, q, HeadChoice(("o1t1",), 0.1), BANK_SUBMODELS[:3])[0]
    assert np.all(only[:162] == 0) and np.any(only[162:324] != 0) and np.all(only[324:] == 0)


def test_operation_head_names_each_manipulation(rng):

    images = [textured_image(np.random.default_rng(s), 200, 200, 3, smooth=0.7) for s in range(4)]
    cut = lambda im: np.stack([im[i : i + 64, j : j + 64] for i in (0, 64, 128) for j in (0, 64, 128)])
    features = {"pristine": np.concatenate([cut(im[..., 1]) for im in images])}
    for m, s in all_tasks():
        manip = manipulations.get(m)
        out = [manip.apply(im[..., 1] if manip.per_channel else im, s, 0) for im in images]
        features[task_key(m, s)] = np.concatenate([cut(o[..., 1] if o.ndim == 3 else o) for o in out])
    features = {k: transform(bank_features(v, BANK_SUBMODELS[:3]), "sqrt") for k, v in features.items()}
    head = fit_operation_head(features, C=1.0)
    predicted = head(features["median:7"]).argmax(1)
    assert np.mean(predicted == 1) > 0.9
    assert np.mean(head(features["pristine"]).argmax(1) == 0) > 0.5


def test_safetensors_round_trip_and_tamper_check(rng, tmp_path):
    bank = random_bank(rng)
    bank.operations.weight = np.asfortranarray(bank.operations.weight)  # as scikit-learn's multinomial coef_
    card_path = save_bank(bank, tmp_path, "bank")
    card, weights = read_card(card_path)
    again = load_bank(card, weights)
    np.testing.assert_array_equal(again.tasks.weight, bank.tasks.weight)
    np.testing.assert_array_equal(again.operations.weight, bank.operations.weight)
    np.testing.assert_array_equal(again.resaved.weight, bank.resaved.weight)
    assert again.submodels == bank.submodels and again.tasks.names == bank.tasks.names
    assert again.resaved.names == bank.resaved.names
    loaded = load_shipped(["blur", "jpeg"], directory=tmp_path)
    assert loaded.names == ["blur", "jpeg"] and loaded.image_rule("jpeg") == ImageRule(0.5, 0.7, 3 * 128 * 128)
    assert loaded.resaved.names == ["blur"]
    np.testing.assert_array_equal(loaded.resaved.weight[0], bank.resaved.weight[1])
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="sha256"):
        load_shipped(directory=tmp_path)


def test_shipped_bank_is_safetensors_with_a_complete_card():
    bank = load_shipped()
    assert bank.names == ["median", "blur", "noise", "resize", "jpeg"]
    card = bank.card
    assert card.about["weights_file"].endswith(".safetensors")
    assert set(card.thresholds) == set(card.image_rules) == set(bank.names)
    assert bank.trained_on is card.split and set(card.split.train_makes).isdisjoint(card.split.test_makes)
    for name in bank.names:
        rule = bank.image_rule(name)
        assert 0 < rule.window_threshold <= rule.threshold < 1 and rule.min_area >= 128 * 128
    maps = bank.names + [f"{name}-resaved" for name in bank.resaved.names]
    assert bank.resaved.names == card.about["resaved"]["manipulations"] == ["median", "blur", "noise", "resize"]
    assert set(card.scales) == set(card.any_map.offsets) == set(maps)
    assert all(set(bank.scales(name)) == {32, 64, 128} for name in maps)


def test_colour_detectors_are_those_whose_heads_read_chroma(rng):
    """Only the detectors with weight on the chroma histogram count as colour detectors, and a
    scan of a single-channel image warns about them."""
    import io

    from PIL import Image

    from scanner.engines.local import Scorer
    from scanner.scoring.options import ScanOptions

    def encode_png(pixels: np.ndarray) -> bytes:
        out = io.BytesIO()
        Image.fromarray(pixels).save(out, format="PNG")
        return out.getvalue()

    bank = random_bank(rng, chroma=True)
    chroma_columns = slice(bank.n_histograms - N_CHROMA, bank.n_histograms)
    for i, task in enumerate(bank.tasks.names):
        if not task.startswith("noise"):
            bank.tasks.weight[i, chroma_columns] = 0.0
    assert bank.colour_detectors() == ["noise"] and bank.colour_detectors(only=True) == []  # noise reads the submodels too
    assert random_bank(rng).colour_detectors() == []
    shipped = load_shipped()  # against the head each task chose, as its card names it
    choices = {name: [head["choice"] for task, head in shipped.card.about["heads"].items() if task.startswith(name + ":")]
               for name in shipped.names}
    assert shipped.colour_detectors() == [n for n in shipped.names if any("chroma" in c for c in choices[n])]
    assert shipped.colour_detectors(only=True) == [n for n in shipped.names if any(c.startswith("chroma ") for c in choices[n])]
    gray, rgb = textured_image(rng, 160, 160, 1)[..., 0], textured_image(rng, 160, 160)
    scorer = Scorer(bank, ScanOptions(stride=32))
    assert any("the noise detector reads colour" in w for w in scorer.score("g.png", encode_png(gray)).warnings)
    assert not scorer.score("c.png", encode_png(rgb)).warnings
