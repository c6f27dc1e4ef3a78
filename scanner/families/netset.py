"""The single-network family: one trained network per manipulation (``scanner train --arch
recast|bayar``), each saved as ``MANIP.safetensors`` beside its card ``MANIP.json``."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from ..core.constants import CARD_SCHEMA, MIN_AREA, PATCH
from ..core.files import file_sha256
from ..core.types import ImageRule, ScaleCalibration, WindowScores
from ..core.windows import window_grid
from ..inputs.images import green_of
from .bayar import BayarNet
from .cards import WeightsError, read_card
from .recast import RecastNet


@dataclass
class Detector:
    """A loaded detector: its network, card, and decision threshold on the probability scale."""

    name: str
    net: nn.Module
    card: dict
    path: Path

    @property
    def manipulation(self) -> str:
        return self.card["task"]["manipulation"]

    @property
    def threshold(self) -> float:
        """Probability in [0, 1] above which a window counts as processed."""
        return float(self.card["threshold"]["probability"])

    @property
    def sha256(self) -> str:
        return self.card["weights_sha256"]


@dataclass
class NetSet:
    """Single-network detectors (one per manipulation) as a detector set. Without an
    operation head, a region's operation is its own detector's manipulation."""

    detectors: dict[str, Detector]

    @property
    def names(self) -> list[str]:
        return list(self.detectors)

    @property
    def trained_on(self) -> None:
        """None: single networks are trained on a camera split, not a make split (issue 30)."""
        return None

    def image_rule(self, name: str):
        """The card's window threshold, also as the image threshold, and the default core area."""
        return ImageRule(self.detectors[name].threshold, self.detectors[name].threshold, MIN_AREA)

    def scales(self, name: str) -> dict:
        """The one calibrated window size: 128 pixels at the card's threshold (spread 1)."""
        p = self.detectors[name].threshold
        return {PATCH: ScaleCalibration(math.log(p / (1 - p)), 1.0)}

    def any_calibration(self) -> None:
        """No calibration of the map of any detector: it is the largest of the maps."""
        return None

    def colour_detectors(self, only: bool = False) -> list[str]:
        """Detectors that read colour (none: the networks read the green channel; ``only`` as
        :meth:`scanner.families.bank.SRMBank.colour_detectors`)."""
        return []

    def dense(self, pixels, stride: int = 32, device: torch.device | str = "cpu", window: int = PATCH, threads: int = 1):
        """:class:`scanner.core.types.WindowScores` of every network on the green channel of uint8
        pixels (H, W[, 3]) (torch's own thread setting applies; ``threads`` is accepted for the
        common interface). The networks score 128-pixel windows only."""
        green = green_of(pixels)
        if window != PATCH:
            raise ValueError(f"single-network detectors score {PATCH}-pixel windows only, not {window}")

        tops, lefts = window_grid(*green.shape, stride, PATCH)
        logits = {name: d.net.grid_logits(green, stride, device) for name, d in self.detectors.items()}
        return WindowScores(tops, lefts, logits, np.zeros((0, len(tops), len(lefts))), [])

    def dense_grids(self, pixels, grids: list[tuple[int, int]], device: torch.device | str = "cpu", threads: int = 1) -> list:
        """:meth:`dense` for each (window, stride) grid (128-pixel windows only)."""
        return [self.dense(pixels, stride, device, window, threads) for window, stride in grids]

    def describe(self) -> dict:
        """What the JSON output records of the models used."""
        return {name: {"file": str(d.path), "sha256": d.sha256, "architecture": d.card["architecture"]["type"],
                       **self.image_rule(name).to_dict()} for name, d in self.detectors.items()}


def save_detector(net: nn.Module, card: dict, directory: str | Path, name: str) -> Path:
    """Write ``name.safetensors`` (state dict) and ``name.json`` (card with the weights' sha256) into
    ``directory``. Returns the card's path."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)

    weights = directory / f"{name}.safetensors"
    save_file({k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}, str(weights))
    card = dict(card, schema=CARD_SCHEMA, name=name, weights_file=weights.name, weights_sha256=file_sha256(weights))
    card_path = directory / f"{name}.json"
    card_path.write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    return card_path


def _network_for(card: dict) -> nn.Module:
    arch = card.get("architecture", {})
    kind = arch.get("type")
    if kind == "recast":
        return RecastNet(mode=arch.get("mode", "soft"), alpha=float(arch.get("alpha", 2.0**16)))
    if kind == "bayar":
        if arch.get("input_unit") != BayarNet.INPUT_UNIT:
            raise WeightsError("this Bayar2016 model was trained by scanner < 0.5.4, whose network saw 0..255 grey "
                               "levels and never left chance; retrain it with `scanner train --arch bayar`")
        return BayarNet(patch_size=int(arch.get("patch", 128)))
    raise WeightsError(f"model card names an unknown architecture {kind!r}")


def load_detector(card_path: str | Path, device: torch.device | str = "cpu") -> Detector:
    """Load a single-network detector from its card (see :func:`read_card` for the checks)."""
    card, weights = read_card(card_path)
    for key in ("task", "threshold"):
        if key not in card:
            raise WeightsError(f"model card {card_path} lacks the field {key!r}")
    net = _network_for(card)
    try:
        net.load_state_dict(load_file(str(weights)))
    except Exception as exc:
        raise WeightsError(f"weights file {weights} cannot be loaded as a state dict: {exc}") from None
    net.to(device).eval()
    return Detector(card.get("name", Path(card_path).stem), net, card, Path(card_path))


def load_netset(folder: Path, names: list[str], device: torch.device | str = "cpu") -> NetSet:
    """The family's loader (:mod:`scanner.families.registry`): the cards ``MANIP.json`` of ``names``."""
    return NetSet({m: load_detector(folder / f"{m}.json", device) for m in names})
