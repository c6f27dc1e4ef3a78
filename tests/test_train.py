"""Training side: camera split, loss decrease, checkpoints, safe weights."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from scanner.families.bayar import BayarNet
from scanner.families.cards import WeightsError
from scanner.families.netset import load_detector, save_detector
from scanner.families.networks import to_input
from scanner.families.recast import RecastNet
from scanner.features.srm import srm_features
from scanner.processing import manipulations
from scanner.training.networks import TrainConfig, build_network, fine_tune, init_head_from_svm
from scanner.training.patches import PatchSet, build_task
from scanner.training.photos import list_photos, split_by_camera
from scanner.training.svm import fit_svm
from tests.conftest import textured_image


@pytest.fixture
def photo_folder(tmp_path, rng) -> Path:
    """Ten generated photos from five cameras of five makes, with a MANIFEST.tsv like the shared set."""
    root = tmp_path / "photos"
    root.mkdir()
    lines = ["path\tcamera\tsha256"]
    for i in range(10):
        name = f"cam{i % 5}_{i}.png"
        Image.fromarray(textured_image(rng, 320, 300)).save(root / name)
        lines.append(f"{name}\tMake{i % 5} Camera\t{i:064x}")  # five makes of one camera each
    (root / "MANIFEST.tsv").write_text("\n".join(lines) + "\n")
    return root


def test_camera_split_never_leaks(photo_folder, tmp_path):
    task = build_task(photo_folder, "blur", patches_per_image=4, test_patches_per_image=2, seed=3,
                      region=288, cache_dir=tmp_path / "cache", workers=1)
    assert set(task.train.camera).isdisjoint(task.test.camera)
    assert len(task.train) and len(task.test)
    manifest_train = {p["camera"] for p in task.manifest["train"]}
    assert manifest_train.isdisjoint(p["camera"] for p in task.manifest["test"])
    # balanced pairs; the test set holds every strength
    assert task.train.y.sum() * 2 == len(task.train.y)
    assert set(task.test.strength[task.test.y == 1]) == {1.1, 0.75, 0.5}
    # a second build is served from the cache and is identical
    again = build_task(photo_folder, "blur", patches_per_image=4, test_patches_per_image=2, seed=3,
                       region=288, cache_dir=tmp_path / "cache", workers=1)
    assert np.array_equal(again.train.x, task.train.x) and again.manifest_sha256 == task.manifest_sha256


def test_the_cache_misses_when_the_code_behind_a_cached_patch_changes(photo_folder, tmp_path, monkeypatch):
    options = dict(patches_per_image=4, test_patches_per_image=2, seed=3, region=288, cache_dir=tmp_path / "cache", workers=1)
    task = build_task(photo_folder, "blur", **options)
    blur = manipulations.gaussian_blur
    monkeypatch.setattr(manipulations, "gaussian_blur", lambda image, sigma: blur(image, sigma) ^ 1)
    again = build_task(photo_folder, "blur", **options)  # no version bumped: the probe notices
    processed = again.train.y == 1
    assert again.manifest_sha256 == task.manifest_sha256 and np.array_equal(again.train.y, task.train.y)
    np.testing.assert_array_equal(again.train.x[~processed], task.train.x[~processed])
    assert not np.array_equal(again.train.x[processed], task.train.x[processed])
    np.testing.assert_array_equal(again.train.x[processed], task.train.x[processed] ^ 1)


def test_the_bank_cache_misses_when_one_chroma_code_per_patch_moves(tmp_path, rng, monkeypatch):
    from scanner.features import chroma
    from scanner.training.bank import BANK_SUBMODELS
    from scanner.training.bank_data import build_bank
    from scanner.training.photos import list_photos

    Image.fromarray(textured_image(rng, 320, 320)).save(tmp_path / "a.png")
    photos = list_photos(tmp_path)

    def bank():
        return build_bank(tmp_path, BANK_SUBMODELS, photos, positions=2, region=320, cache_dir=tmp_path / "cache", workers=1)

    first = bank()
    np.testing.assert_array_equal(bank().features["pristine"], first.features["pristine"])  # served from the cache
    codes = chroma.codes

    def one_code_moved(patches: np.ndarray) -> np.ndarray:
        moved = codes(patches).copy()
        moved[..., 40, 40] = (moved[..., 40, 40] + 1) % chroma.N_FEATURES
        return moved

    monkeypatch.setattr(chroma, "codes", one_code_moved)  # as the rounding change behind the 0.6.x weights
    again = bank()  # no version bumped: the probe notices
    for key, values in first.features.items():
        assert not np.array_equal(again.features[key], values), key
    assert len(list((tmp_path / "cache" / "bank").glob("*.npz"))) == 2


def test_shared_split_never_leaks(pristine_dir):
    photos = list_photos(pristine_dir)
    for seed in range(5):
        train, test = split_by_camera(photos, seed=seed)
        assert {p.camera for p in train}.isdisjoint(p.camera for p in test)
        assert len(train) + len(test) == len(photos) and 0.2 < len(test) / len(photos) < 0.45


def tiny_blur_set(rng, n: int = 24, size: int = 48) -> PatchSet:
    pristine = np.stack([textured_image(rng, size, size, channels=1, smooth=0.6)[..., 0] for _ in range(n)])
    blurred = np.stack([manipulations.gaussian_blur(p, 1.1) for p in pristine])
    x = np.concatenate([pristine, blurred])
    y = np.repeat([0, 1], n)
    return PatchSet(x, y, np.where(y == 1, 1.1, np.nan), np.array(["a"] * len(y), dtype=object), np.zeros(len(y), int))


def mean_loss(net, data: PatchSet) -> float:
    with torch.no_grad():
        return float(torch.nn.functional.cross_entropy(net(to_input(data.x)), torch.as_tensor(data.y)))


def test_one_epoch_lowers_the_loss(rng):
    data = tiny_blur_set(rng)
    torch.manual_seed(0)
    net = RecastNet.from_srm(exact=False)
    before = mean_loss(net, data)
    fine_tune(net, data, TrainConfig(epochs=1, lr=1e-2, batch_size=8), torch.device("cpu"), progress=False)
    assert mean_loss(net, data) < before - 0.01


def test_bayar_learns_at_the_spec_learning_rate_without_killing_its_relus():
    # Before 0.5.4 the constrained taps started symmetric (their sum near zero, so the
    # projection made them tens) and saw 0..255: SGD at lr 1e-3 killed every ReLU and the loss
    # stayed at ln 2 or above (here 0.69-2.5, 0 units alive), as in every Table II run.
    data = tiny_blur_set(np.random.default_rng(0), n=96, size=48)
    torch.manual_seed(0)
    net = BayarNet(patch_size=48)
    off_centre = net.constrained.weight.detach().clone()
    off_centre[:, :, 2, 2] = 0
    assert float(off_centre.min()) >= 0 and float(off_centre.max()) < 1  # a local-average predictor
    net.eval()
    before = mean_loss(net, data)
    fine_tune(net, data, TrainConfig.for_arch("bayar", epochs=4, validation_fraction=0, batch_size=32),
              torch.device("cpu"), progress=False)
    net.eval()
    with torch.no_grad():
        features = net.features(net.prediction_errors(to_input(data.x)))
    assert float((features > 0).float().mean()) > 0.1
    assert mean_loss(net, data) < min(before, np.log(2)) - 0.1


def test_svm_head_reproduces_svm_scores(rng):
    data = tiny_blur_set(rng)
    features = srm_features(data.x)
    svm = fit_svm(features, data.y, np.arange(len(data.y)) % 4)
    net = RecastNet.from_srm(exact=True)
    init_head_from_svm(net, svm)
    with torch.no_grad():
        logits = net(to_input(data.x))
    np.testing.assert_allclose((logits[:, 1] - logits[:, 0]).numpy(), svm.decision(features), rtol=1e-4, atol=1e-3)


def test_resume_continues_exactly(rng, tmp_path):
    data = tiny_blur_set(rng, n=12, size=32)
    cfg = TrainConfig(epochs=2, lr=1e-3, batch_size=6)
    torch.manual_seed(0)
    straight = RecastNet.from_srm(exact=False)
    fine_tune(straight, data, cfg, torch.device("cpu"), progress=False)
    torch.manual_seed(0)
    first = RecastNet.from_srm(exact=False)
    ckpt = tmp_path / "run.ckpt"
    fine_tune(first, data, TrainConfig(epochs=1, lr=1e-3, batch_size=6), torch.device("cpu"), ckpt, progress=False)
    resumed = RecastNet.from_srm(exact=False)
    result = fine_tune(resumed, data, cfg, torch.device("cpu"), ckpt, resume=True, progress=False)
    assert result.epochs_done == 2 and len(result.losses) == 2
    for a, b in zip(straight.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(a, b)


def saved_detector(tmp_path: Path) -> Path:
    net = RecastNet.from_srm(exact=False)
    with torch.no_grad():
        net.head.weight.normal_()
    card = {"architecture": {"type": "recast", "mode": "soft", "alpha": 2.0**16}, "task": {"manipulation": "blur"},
            "threshold": {"probability": 0.7}}
    return save_detector(net, card, tmp_path, "blur")


def test_saved_detector_reloads_to_identical_outputs(tmp_path, rng):
    card_path = saved_detector(tmp_path)
    x = to_input(rng.integers(0, 256, (3, 40, 40), dtype=np.uint8))
    original = RecastNet.from_srm(exact=False)
    from safetensors.torch import load_file

    original.load_state_dict(load_file(str(tmp_path / "blur.safetensors")))
    det = load_detector(card_path)
    with torch.no_grad():
        assert torch.equal(det.net(x), original(x))
    assert det.threshold == 0.7 and det.manipulation == "blur"


def test_a_bayar_model_from_before_the_input_unit_fix_is_refused(tmp_path):
    card = {"task": {"manipulation": "noise"}, "threshold": {"probability": 0.5}}
    net = BayarNet()
    old = save_detector(net, {**card, "architecture": {"type": "bayar", "patch": 128}}, tmp_path / "old", "noise")
    with pytest.raises(WeightsError, match="retrain"):
        load_detector(old)
    new = save_detector(net, {**card, "architecture": {"type": "bayar", "patch": 128, "input_unit": BayarNet.INPUT_UNIT}},
                        tmp_path / "new", "noise")
    x = to_input(np.random.default_rng(0).integers(0, 256, (2, 128, 128), dtype=np.uint8))
    with torch.no_grad():
        assert torch.equal(load_detector(new).net(x), net.eval()(x))


def test_tampered_weights_are_refused(tmp_path):
    card_path = saved_detector(tmp_path)
    weights = tmp_path / "blur.safetensors"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="sha256"):
        load_detector(card_path)


class _Payload:
    def __reduce__(self):
        return (Path.touch, (Path(_Payload.target),))


def test_a_pickle_is_never_executed_even_with_a_matching_card(tmp_path):
    card_path = saved_detector(tmp_path)
    _Payload.target = str(tmp_path / "pwned")
    weights = tmp_path / "blur.safetensors"
    torch.save({"evil": _Payload()}, weights)  # a pickle under the weights' name
    card = json.loads(card_path.read_text())
    from scanner.core.files import file_sha256

    card["weights_sha256"] = file_sha256(weights)
    card_path.write_text(json.dumps(card))
    with pytest.raises(WeightsError, match="cannot be loaded"):
        load_detector(card_path)
    assert not (tmp_path / "pwned").exists()


def test_missing_card_or_weights(tmp_path):
    with pytest.raises(WeightsError, match="not found"):
        load_detector(tmp_path / "median.json")
    card_path = saved_detector(tmp_path)
    (tmp_path / "blur.safetensors").unlink()
    with pytest.raises(WeightsError, match="not found"):
        load_detector(card_path)


def test_early_stopping_keeps_the_state_of_lowest_validation_loss(rng):
    from scanner.training.networks import mean_loss as validation_loss

    data = tiny_blur_set(rng, n=12, size=32)
    validation = tiny_blur_set(rng, n=8, size=32)
    torch.manual_seed(0)
    net = RecastNet.from_srm(exact=False)
    initial = {k: v.clone() for k, v in net.state_dict().items()}
    # a learning rate large enough to wreck the soft-max: the initial state must be kept
    result = fine_tune(net, data, TrainConfig(epochs=1, lr=0.5, batch_size=6, eval_every=1), torch.device("cpu"),
                       progress=False, validation=validation)
    losses = dict(result.validation)
    assert result.best_step == min(losses, key=losses.get)
    assert validation_loss(net, validation, "cpu") == pytest.approx(losses[result.best_step])
    if result.best_step == 0:
        assert all(torch.equal(initial[k], v) for k, v in net.state_dict().items())


def test_make_split_holds_whole_makes_out():
    from scanner.training.bank import make_folds
    from scanner.training.photos import Photo, camera_make, split_by_make

    cameras = ["Canon EOS 5D", "Canon PowerShot G9", "NIKON D70", "NIKON CORPORATION D3", "EASTMAN KODAK DC240",
               "JK Imaging, Ltd. KODAK PIXPRO S-1", "Apple iPhone 4", "Apple iPhone 6", "SAMSUNG SM-G900", "samsung GT-I9000",
               "Minolta DiMAGE 7", "MINOLTA DYNAX", "Kodak PhotoCD film scan", "McMaster dataset (film scan crops)"]
    photos = [Photo(Path(f"{i}.jpg"), c, f"{i:064x}") for i, c in enumerate(cameras * 3)]
    assert camera_make("EASTMAN KODAK DC240") == camera_make("JK Imaging, Ltd. KODAK PIXPRO S-1") == "kodak"
    assert camera_make("Kodak PhotoCD film scan") == "film:kodak"
    for seed in range(5):
        split = split_by_make(photos, seed, fractions=(0.25, 0.15))
        sides = {side: {camera_make(p.camera) for p in ps} for side, ps in split.items()}
        assert sides["test"] and sides["train"]
        for a in sides:
            for b in sides:
                assert a == b or not (sides[a] & sides[b]), (seed, a, b)
        assert sides["lossless"] == {"film:kodak", "film:mcmaster"}
        folds = make_folds(split["train"] + split["validation"], 3, seed)
        assert set().union(*folds) == sides["train"] | sides["validation"] and sum(map(len, folds)) == len(set().union(*folds))


def test_networks_trained_with_arch_recast_scan_through_the_same_interface(tmp_path, rng):
    """A folder of single-network cards (scanner train --arch recast) is a detector set: its dense
    scores are the network's own, and a scan gives typed results with the card's threshold."""
    from scanner.families.registry import load_shipped
    from scanner.scoring.analysis import analyze
    from scanner.scoring.options import ScanOptions

    saved_detector(tmp_path)
    detectors = load_shipped(["blur"], directory=tmp_path)
    green = rng.integers(0, 256, (200, 230), dtype=np.uint8)
    scores = detectors.dense(green, 32)
    np.testing.assert_allclose(scores.detectors["blur"], detectors.detectors["blur"].net.grid_logits(green, 32), atol=1e-9)
    analysis = analyze(green, detectors, ScanOptions(stride=32))
    d = analysis.detections["blur"]
    assert d.threshold == d.window_threshold == 0.7 and d.flagged == bool(d.regions) == (d.score > 0.7)
    assert analysis.operation == ("blur" if d.flagged else None)


def test_window_sizes_are_calibrated_on_colour_photos(tmp_path, rng):
    """The per-size calibration of the localisation map reads RGB photos (for the lattice
    features) and scores every window size on their central crop, as stored or saved as JPEG."""
    from scanner.core.constants import WINDOWS
    from scanner.training.bank import BANK_SUBMODELS
    from scanner.training.calibration import _crop_scores
    from tests.test_bank import random_bank

    path = tmp_path / "photo.png"
    Image.fromarray(manipulations.jpeg(textured_image(rng, 300, 420), 90)).save(path)
    bank = random_bank(rng, submodels=BANK_SUBMODELS[:2], lattice=True)
    shape, scored = _crop_scores((bank, path, 32, None))
    assert shape == (300, 420) and sorted(w for w, _ in scored) == sorted(WINDOWS)
    assert scored[128, 32].detectors["jpeg"].shape == ((300 - 128) // 32 + 1, (420 - 128) // 32 + 1)
    assert scored[128, 32].resaved["blur-resaved"].shape == scored[128, 32].detectors["jpeg"].shape
    _, resaved = _crop_scores((bank, path, 32, 75))
    assert not np.allclose(resaved[128, 32].detectors["jpeg"], scored[128, 32].detectors["jpeg"])
    again = bank.dense(manipulations.jpeg(np.asarray(Image.open(path).convert("RGB")), 75), 32)
    np.testing.assert_allclose(resaved[128, 32].resaved["blur-resaved"], again.resaved["blur-resaved"])


def test_the_map_of_any_detector_is_calibrated_on_pristine_photos(tmp_path, rng):
    """Offsets and threshold are the 0.5% levels of the photos' own cells: recomputed here from
    the maps a scan draws, 0.5% of cells pass each offset, and 0.5% pass the relative part's 0."""
    from scanner.families.registry import load_shipped
    from scanner.features.lattice import central_crop
    from scanner.scoring.analysis import analyze
    from scanner.scoring.maps import any_map, background_departure
    from scanner.scoring.options import ScanOptions
    from scanner.training.calibration import SCALE_CROP, calibrate_any_map, crop_scores
    from scanner.training.photos import Photo

    bank = load_shipped(None, "cpu")
    photos, images = [], []
    for k in range(3):
        path = tmp_path / f"photo{k}.png"
        images.append(manipulations.jpeg(textured_image(rng, 256, 320), 90))
        Image.fromarray(images[-1]).save(path)
        photos.append(Photo(path, f"camera {k}", ""))
    calibration, about = calibrate_any_map(bank, crop_scores(bank, photos, 32, workers=1), 32)
    assert about["crops"] == 3
    maps = []
    for image in images:
        analysis = analyze(central_crop(image, SCALE_CROP), bank, ScanOptions(stride=32))
        evidence = analysis.evidence | analysis.resaved
        names = list(evidence)  # the detectors', then the resaved heads'
        maps.append(np.stack([evidence[name] for name in names]))
    assert sorted(calibration.offsets) == sorted(names)
    departure = np.concatenate([background_departure(m).reshape(len(m), -1) for m in maps], axis=1)
    offsets = np.array([calibration.offsets[n] for n in names])
    assert np.allclose((departure > offsets[:, None]).mean(axis=1), 0.005, atol=0.002)
    relative = np.concatenate([(background_departure(m) - offsets[:, None, None]).max(axis=0).ravel() for m in maps])
    assert abs((relative > calibration.threshold).mean() - 0.005) <= 0.002
    detectors = len(bank.names)
    for m in maps:
        both = any_map(dict(zip(names[:detectors], m[:detectors])), calibration, dict(zip(names[detectors:], m[detectors:])))
        assert (both >= m[:detectors].max(axis=0)).all()
        np.testing.assert_allclose(np.maximum(both, 0), np.maximum(np.maximum(m[:detectors].max(axis=0), (
            background_departure(m) - offsets[:, None, None]).max(axis=0) - calibration.threshold), 0))


def test_sampled_positions_still_lower_the_loss(rng):
    data = tiny_blur_set(rng)
    torch.manual_seed(0)
    net = RecastNet.from_srm(exact=False)
    before = mean_loss(net, data)
    fine_tune(net, data, TrainConfig(epochs=2, lr=1e-3, batch_size=8, positions=128), torch.device("cpu"), progress=False)
    assert net.sample_positions == 128
    assert mean_loss(net, data) < before - 0.01  # measured on every position (eval mode)


@pytest.mark.parametrize("relaxation", ["straight", "boundary"])
def test_straight_mode_training_lowers_the_loss_and_moves_filters_and_steps(rng, relaxation):
    data = tiny_blur_set(rng)
    torch.manual_seed(0)
    net = build_network("recast", relaxation=relaxation)
    assert net.across.surrogate == ("boundary" if relaxation == "boundary" else "interpolated")
    start = {k: v.clone() for k, v in net.state_dict().items()}
    before = mean_loss(net, data)
    fine_tune(net, data, TrainConfig(epochs=3, lr=1e-3, batch_size=8, relaxation=relaxation), torch.device("cpu"), progress=False)
    assert mean_loss(net, data) < before - 0.01
    for name in ("across.residual.weight", "along.residual.weight", "across.log_step", "along.log_step"):
        assert not torch.equal(net.state_dict()[name], start[name]), name
    for name in ("across.codebook.weight", "along.codebook.weight"):  # unused in straight mode
        assert torch.equal(net.state_dict()[name], start[name]), name


def test_a_time_budget_stops_training_mid_epoch(rng):
    data = tiny_blur_set(rng, n=48, size=32)
    net = RecastNet.from_srm(exact=False)
    result = fine_tune(net, data, TrainConfig(epochs=50, batch_size=4, max_minutes=0.0), torch.device("cpu"), progress=False)
    assert result.steps == 1 and result.epochs_done == 0  # the budget is checked after each step
    assert result.epochs_trained == pytest.approx(1 / 24)
    full = fine_tune(RecastNet.from_srm(exact=False), data, TrainConfig(epochs=1, batch_size=48), torch.device("cpu"), progress=False)
    assert (full.steps, full.epochs_done, full.epochs_trained) == (2, 1, 1)


def train_recast_blur(photo_folder: Path, tmp_path: Path, *options: str) -> Path:
    """``scanner train --arch recast --manip blur`` for one epoch on a few patches with ``options``;
    returns the output folder."""
    from typer.testing import CliRunner

    from scanner.cli import app

    out = tmp_path / "models"
    result = CliRunner().invoke(app, ["train", "--arch", "recast", "--manip", "blur", "--images", str(photo_folder),
                                      "--epochs", "1", *options, "--patches-per-image", "3", "--test-patches-per-image", "2",
                                      "--out", str(out), "--cache", str(tmp_path / "cache"), "--device", "cpu", "--quiet"])
    assert result.exit_code == 0, result.output
    return out


def test_cli_trains_the_recast_cnn_on_sampled_positions(photo_folder, tmp_path):
    from typer.testing import CliRunner

    from scanner.cli import app

    out = train_recast_blur(photo_folder, tmp_path, "--positions", "64")
    card = json.loads((out / "blur.json").read_text())
    assert card["training"]["sampled_positions"] == 64 and card["training"]["epochs_trained"] == 1
    # whole makes on each side; early stopping and the threshold on the validation makes, never the test makes
    makes = {side: {c.split()[0].lower() for c in card["data"][f"{side}_cameras"]} for side in ("train", "test")}
    validation = {c.split()[0].lower() for c in card["training"]["validation_cameras"]}
    assert validation and makes["test"] and validation < makes["train"] and not makes["train"] & makes["test"]
    assert card["threshold"]["chosen_on"] == "pristine patches of the validation makes"
    assert load_detector(out / "blur.json").net.sample_positions is None  # a loaded network scores every position
    again = CliRunner().invoke(app, ["train", "--arch", "recast", "--manip", "blur", "--images", str(photo_folder),
                                     "--out", str(out), "--quiet"])
    assert again.exit_code == 2 and "--overwrite" in again.output  # refused before any training
    assert json.loads((out / "blur.json").read_text()) == card
    refused = CliRunner().invoke(app, ["train", "--arch", "bayar", "--manip", "blur", "--images", str(photo_folder),
                                       "--positions", "64", "--out", str(out)])
    assert refused.exit_code != 0 and "--positions is for --arch recast" in refused.output


def test_cli_trains_the_recast_cnn_straight_through_and_scans_with_it(photo_folder, tmp_path):
    from typer.testing import CliRunner

    from scanner.cli import app

    out = train_recast_blur(photo_folder, tmp_path, "--relaxation", "straight")
    card = json.loads((out / "blur.json").read_text())
    assert card["architecture"]["mode"] == "straight" and card["training"]["relaxation"] == "straight"
    detector = load_detector(out / "blur.json")
    assert detector.net.mode == "straight"
    green = textured_image(np.random.default_rng(5), 160, 160, channels=1)[..., 0]
    window = detector.net(to_input(green[None, :128, :128])).detach().numpy()[0]
    assert detector.net.grid_logits(green, 32)[0, 0] == pytest.approx(window[1] - window[0], abs=1e-5)
    photo = tmp_path / "photo.png"
    Image.fromarray(textured_image(np.random.default_rng(6), 300, 260)).save(photo)
    scanned = CliRunner().invoke(app, ["scan", "--weights", str(out), "--manip", "blur", "--json", str(photo)])
    assert scanned.exit_code in (0, 1), scanned.output
    record = json.loads(scanned.stdout)
    record = record[0] if isinstance(record, list) else record
    assert "blur" in json.dumps(record)
    for extra in (["--positions", "64"], ["--arch", "bayar"], ["--relaxation", "hard"]):
        args = ["train", "--arch", "recast", "--manip", "blur", "--images", str(photo_folder), "--relaxation", "straight",
                "--out", str(tmp_path / "refused")]
        refused = CliRunner().invoke(app, args + extra)
        assert refused.exit_code == 2 and "--" in refused.output, extra


def test_resaved_heads_read_an_operation_through_a_later_jpeg_save(tmp_path, rng):
    """Resaved bank data of synthetic photos (each processed, then saved as JPEG at its own
    quality): heads fitted on some photos rank the processed-then-saved patches of other photos
    above their saved-only patches, and logit 0 passes few of the saved-only ones."""
    from sklearn.metrics import roc_auc_score

    from scanner.families.heads import head_input
    from scanner.training.bank import BANK_SUBMODELS, fit_resaved_heads
    from scanner.training.bank_data import RESAVE_QUALITIES, RESAVED_MANIPULATIONS, build_resaved_bank

    for side, n in (("train", 10), ("test", 4)):
        (tmp_path / side).mkdir()
        for k in range(n):
            Image.fromarray(textured_image(rng, 336, 336, smooth=0.8)).save(tmp_path / side / f"{k}.png")
    train, test = (build_resaved_bank(tmp_path / side, BANK_SUBMODELS, cache_dir=tmp_path / "cache", workers=1)
                   for side in ("train", "test"))
    qualities = {int(np.load(f)["quality"]) for f in (tmp_path / "cache" / "resaved").glob("*.npz")}
    assert qualities <= set(RESAVE_QUALITIES) and len(qualities) > 1
    heads, card = fit_resaved_heads(train, "sqrt")
    assert heads.names == list(RESAVED_MANIPULATIONS) == card["manipulations"]
    width = heads.weight.shape[1] - 252  # the lattice features follow the histograms
    logits = {k: heads(head_input(v, width, "sqrt")) for k, v in test.features.items()}
    for i, name in enumerate(heads.names):
        pristine, processed = logits["pristine"][:, i], logits[name][:, i]
        auc = roc_auc_score(np.r_[np.zeros(len(pristine)), np.ones(len(processed))], np.r_[pristine, processed])
        assert auc > (0.9 if name in ("median", "blur", "resize") else 0.6), (name, auc)
    fitted_on = heads(head_input(train.features["pristine"], width, "sqrt"))
    assert np.all(np.mean(fitted_on > 0, axis=0) <= 0.02)  # shifted to pass 0.5% of them


def test_bank_region_gives_the_pixels_behind_the_bank_data(tmp_path, rng):
    """The crop and positions of :func:`scanner.training.bank_data.bank_region` are those whose pristine
    descriptors :func:`scanner.training.bank_data.build_bank` stored, row by row."""
    from scanner.core.constants import PATCH
    from scanner.families.bank import descriptors
    from scanner.training.bank import BANK_SUBMODELS
    from scanner.training.bank_data import bank_region, build_bank
    from scanner.training.photos import list_photos

    Image.fromarray(textured_image(rng, 400, 464, smooth=0.8)).save(tmp_path / "a.png")
    photo = list_photos(tmp_path)[0]
    data = build_bank(tmp_path, BANK_SUBMODELS, [photo], positions=3, region=352, seed=3, cache_dir=tmp_path / "cache",
                      workers=1)  # a random crop and three of its grid positions
    crop, where = bank_region(photo, seed=3, positions=3, region=352)
    assert crop.shape[:2] == (352, 352) and len(where) == len(data) == 3
    patches = np.stack([crop[r : r + PATCH, c : c + PATCH] for r, c in where])
    assert np.allclose(descriptors(patches, BANK_SUBMODELS, lattice=True, chroma=True), data.features["pristine"], atol=1e-6)


def test_the_bank_refuses_too_few_makes_before_any_work(tmp_path, rng):
    """Two photos of one folder-camera cannot fill four make folds: exit 2 at once, with the
    warning about photos that name no camera, and nothing written."""
    from typer.testing import CliRunner

    from scanner.cli import app

    photos = tmp_path / "phone"
    photos.mkdir()
    for k in range(2):
        Image.fromarray(textured_image(rng, 64, 64)).save(photos / f"{k}.png")
    result = CliRunner().invoke(app, ["train", "--images", str(tmp_path), "--out", str(tmp_path / "out"),
                                      "--cache", str(tmp_path / "cache")])
    assert result.exit_code == 2
    assert "at least 4 camera makes" in result.output and "name no camera" in result.output
    assert not (tmp_path / "out").exists() and not (tmp_path / "cache").exists()


def test_the_quantisation_steps_take_no_weight_decay():
    from scanner.training.networks import parameter_groups

    net = RecastNet.from_srm(mode="straight")
    groups = parameter_groups(net, 5e-4)
    decayed = {id(p) for p in groups[0]["params"]}
    assert groups[0]["weight_decay"] == 5e-4 and groups[1]["weight_decay"] == 0.0
    assert {id(net.across.log_step), id(net.along.log_step)} == {id(p) for p in groups[1]["params"]}
    assert id(net.across.residual.weight) in decayed and id(net.head.weight) in decayed
    before = float(net.across.step.detach())
    opt = torch.optim.Adam(groups, lr=1e-3)
    for _ in range(20):  # no data gradient: only decay could move anything
        opt.zero_grad()
        (net.head.weight.sum() * 0).backward()
        opt.step()
    assert float(net.across.step.detach()) == before
