"""Detector families behind one protocol: the registry picks a family from a folder's card, and a
new family costs one module and one registry entry. A toy family registered here is scanned
through the command line, which never asks which family it holds."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from scanner.cli import app
from scanner.core.constants import MIN_AREA, PATCH
from scanner.core.files import file_sha256
from scanner.core.types import ImageRule, ScaleCalibration, WindowScores
from scanner.core.windows import window_grid
from scanner.families import registry
from scanner.families.bank import SRMBank
from scanner.families.cards import BANK_CARD, WeightsError
from scanner.families.protocol import DetectorSet, Family
from scanner.families.registry import load_shipped
from tests.conftest import textured_image

TOY = "toy-constant"


@dataclass
class ConstantSet:
    """A toy family: every window of every image gets the logit its card gives each detector."""

    logits: dict[str, float]
    path: Path | None = None

    @property
    def names(self) -> list[str]:
        return list(self.logits)

    @property
    def trained_on(self) -> None:
        return None

    def dense_grids(self, pixels, grids, device="cpu", threads=1) -> list[WindowScores]:
        out = []
        for window, stride in grids:
            tops, lefts = window_grid(*pixels.shape[:2], stride, window)
            out.append(WindowScores(tops, lefts, {n: np.full((len(tops), len(lefts)), v) for n, v in self.logits.items()},
                                    np.zeros((0, len(tops), len(lefts))), []))
        return out

    def image_rule(self, name: str) -> ImageRule:
        return ImageRule(0.5, 0.9, MIN_AREA)

    def scales(self, name: str) -> dict[int, ScaleCalibration]:
        return {PATCH: ScaleCalibration(0.0, 1.0)}

    def any_calibration(self):
        return None

    def colour_detectors(self, only: bool = False) -> list[str]:
        return []

    def describe(self) -> dict[str, dict]:
        return {n: {"file": str(self.path), "sha256": None, "architecture": TOY, **vars(self.image_rule(n))} for n in self.names}


def load_constant_set(folder: Path, names: list[str], device: str = "cpu") -> ConstantSet:
    card = json.loads((folder / BANK_CARD).read_text())
    return ConstantSet({n: float(card["logits"][n]) for n in names}, folder / BANK_CARD)


@pytest.fixture
def toy_family(monkeypatch):
    monkeypatch.setattr(registry, "FAMILIES", dict(registry.FAMILIES))
    registry.register(Family("constant", (TOY,), load_constant_set))


def toy_weights(folder: Path, logits: dict[str, float]) -> Path:
    folder.mkdir()
    (folder / "toy.bin").write_bytes(b"no weights: the card holds the logits")
    card = {"architecture": {"type": TOY}, "logits": logits, "weights_file": "toy.bin",
            "weights_sha256": file_sha256(folder / "toy.bin")}
    (folder / BANK_CARD).write_text(json.dumps(card))
    return folder


def test_every_registered_family_loads_a_detector_set(toy_family, tmp_path):
    shipped = load_shipped()
    assert isinstance(shipped, SRMBank) and isinstance(shipped, DetectorSet)
    toy = load_shipped(["blur", "noise"], directory=toy_weights(tmp_path / "w", {"blur": 6, "noise": -6}))
    assert isinstance(toy, ConstantSet) and isinstance(toy, DetectorSet) and toy.names == ["blur", "noise"]


def test_a_card_of_an_unregistered_family_is_refused(tmp_path):
    folder = toy_weights(tmp_path / "w", {"blur": 6})
    with pytest.raises(WeightsError, match="unknown architecture 'toy-constant'"):
        load_shipped(["blur"], directory=folder)


def test_the_command_line_scans_with_a_new_family(toy_family, tmp_path):
    Image.fromarray(textured_image(np.random.default_rng(3), 320, 384)).save(tmp_path / "photo.png")
    weights = toy_weights(tmp_path / "w", {m: (6.0 if m == "blur" else -6.0) for m in
                                            ("median", "blur", "noise", "resize", "jpeg")})
    result = CliRunner().invoke(app, ["scan", str(tmp_path / "photo.png"), "--weights", str(weights), "--json"])
    assert result.exit_code == 1, result.output
    document = json.loads(result.stdout)
    record = document["images"][0]
    assert record["flagged"] and record["operation"] == "blur" and record["verdict"] == "evidence of blur in 1 region"
    assert [r["bbox"] for r in record["regions"]] == [[0, 0, 384, 320]]
    assert not record["detections"]["noise"]["flagged"]
    assert {m["architecture"] for m in document["models"].values()} == {TOY}
