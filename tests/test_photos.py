"""Photos, cameras and make-disjoint splits (scanner.training.photos); the sealed split stays sealed."""

from __future__ import annotations

from pathlib import Path

from scanner.training.photos import SEALED_TEST_MAKES, Photo, camera_make, list_photos, sealed_split, split_by_make

DEVELOPMENT_SEEDS = (0, 1, 2)
"""The splits on which design decisions were and are read."""


def makes(photos: list[Photo]) -> set[str]:
    return {camera_make(p.camera) for p in photos}


def fake_photos() -> list[Photo]:
    cameras = [f"Make{i} Model{j}" for i in range(12) for j in range(1 + i % 3)] + ["Kodak film scan"] * 2
    return [Photo(Path(f"{k}.jpg"), camera, f"{k:064x}") for k, camera in enumerate(cameras)]


def test_a_split_puts_every_make_on_one_side_and_film_scans_apart():
    photos = fake_photos()
    for split in [split_by_make(photos, seed) for seed in range(4)] + [
            split_by_make(photos, 0, test_makes=frozenset({"make1", "make2"}))]:
        sides = {name: makes(group) for name, group in split.items()}
        assert sum(len(group) for group in split.values()) == len(photos)
        assert not sides["train"] & sides["test"] and not sides["train"] & sides["validation"]
        assert not sides["test"] & sides["validation"]
        assert sides["lossless"] == {"film:kodak"} and split["test"] and split["validation"]


def test_given_test_makes_are_the_whole_test_side():
    split = split_by_make(fake_photos(), 5, test_makes=frozenset({"make1", "make4"}))
    assert makes(split["test"]) == {"make1", "make4"}
    assert not makes(split["validation"]) & {"make1", "make4"}


def test_the_sealed_makes_were_never_the_test_side_of_a_development_split(pristine_dir):
    photos = list_photos(pristine_dir)
    sealed = sealed_split(photos)
    assert makes(sealed["test"]) == SEALED_TEST_MAKES
    assert len(sealed["test"]) == 18
    for seed in DEVELOPMENT_SEEDS:
        assert not makes(split_by_make(photos, seed)["test"]) & SEALED_TEST_MAKES, seed
    assert not makes(sealed["train"]) & makes(sealed["test"])
    assert not makes(sealed["validation"]) & makes(sealed["test"])


def test_photos_without_a_camera_count_as_their_folders_camera(tmp_path):
    from PIL import Image

    from scanner.training.photos import unlabelled_photos

    for folder, name in (("phone a", "1.png"), ("phone a", "2.png"), ("phone b", "3.png")):
        (tmp_path / folder).mkdir(exist_ok=True)
        Image.new("RGB", (8, 8)).save(tmp_path / folder / name)
    photos = list_photos(tmp_path)
    assert [p.camera for p in photos] == ["folder:phone a", "folder:phone a", "folder:phone b"]
    assert [camera_make(p.camera) for p in photos] == ["folder:phone a", "folder:phone a", "folder:phone b"]
    assert unlabelled_photos(photos) == photos


def test_a_split_is_sealed_or_a_seed():
    import pytest

    from scanner.training.photos import check_split, make_split

    assert check_split("sealed") == "sealed" and check_split("2") == "2"
    for bad in ("seal", "-1", "1.5", ""):
        with pytest.raises(ValueError, match="sealed"):
            check_split(bad)
    with pytest.raises(ValueError):
        make_split([], "bogus")
