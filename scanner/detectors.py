"""Trained detectors on disk: a state dict (loaded with ``weights_only=True``) beside a JSON
model card that names the architecture, the task, the threshold and the weights' sha256.

Loading verifies the sha256 before anything is deserialised; nothing is ever unpickled.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import torch
from torch import nn

from .manipulations import MANIPULATIONS
from .model import BayarNet, RecastNet

CARD_SCHEMA = 1


class WeightsError(Exception):
    """Weights missing, corrupt, tampered with, or inconsistent with their model card."""


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


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def save_detector(net: nn.Module, card: dict, directory: str | Path, name: str) -> Path:
    """Write ``name.pt`` (state dict) and ``name.json`` (card with the weights' sha256) into
    ``directory``. Returns the card's path."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    weights = directory / f"{name}.pt"
    torch.save({k: v.detach().cpu() for k, v in net.state_dict().items()}, weights)
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
        return BayarNet(patch_size=int(arch.get("patch", 128)))
    raise WeightsError(f"model card names an unknown architecture {kind!r}")


def load_detector(card_path: str | Path, device: torch.device | str = "cpu") -> Detector:
    """Load a detector from its card. Raises :class:`WeightsError` when the card or the
    weights are missing or unreadable, or the weights' sha256 differs from the card's."""
    card_path = Path(card_path)
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise WeightsError(f"model card not found: {card_path}") from None
    except (OSError, ValueError) as exc:
        raise WeightsError(f"model card {card_path} is unreadable: {exc}") from None
    for key in ("weights_file", "weights_sha256", "architecture", "task", "threshold"):
        if key not in card:
            raise WeightsError(f"model card {card_path} lacks the field {key!r}")
    weights = card_path.parent / card["weights_file"]
    if not weights.is_file():
        raise WeightsError(f"weights file not found: {weights}")
    digest = file_sha256(weights)
    if digest != card["weights_sha256"]:
        raise WeightsError(f"weights file {weights} has sha256 {digest[:16]}..., the card says "
                           f"{card['weights_sha256'][:16]}...: corrupt or tampered, refusing to load")
    net = _network_for(card)
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
        net.load_state_dict(state)
    except Exception as exc:
        raise WeightsError(f"weights file {weights} cannot be loaded as a state dict: {exc}") from None
    net.to(device).eval()
    return Detector(card.get("name", card_path.stem), net, card, card_path)


def shipped_dir() -> Path:
    """Folder of the shipped detectors: ``$SCANNER_WEIGHTS`` if set, else the installed
    ``scanner.weights`` package (the repository's ``weights/`` folder)."""
    env = os.environ.get("SCANNER_WEIGHTS")
    if env:
        return Path(env)
    try:
        return Path(str(resources.files("scanner.weights")))
    except ModuleNotFoundError:
        return Path(__file__).resolve().parent.parent / "weights"


def load_shipped(manips: list[str] | None = None, device: torch.device | str = "cpu",
                 directory: str | Path | None = None) -> dict[str, Detector]:
    """The shipped detector of each manipulation (default all five), keyed by name.
    Raises :class:`WeightsError` if one is missing or fails verification."""
    folder = Path(directory) if directory else shipped_dir()
    return {m: load_detector(folder / f"{m}.json", device) for m in (manips or list(MANIPULATIONS))}
