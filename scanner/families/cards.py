"""Model cards on disk: the JSON file beside each safetensors file that names the architecture,
the task(s), the thresholds and the weights' sha256. Reading one verifies the sha256 before
anything is read; nothing is ever unpickled."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from ..core.files import file_sha256


@dataclass(frozen=True)
class TrainingSplit:
    """The make split a set of detectors was trained on: ``name`` (``sealed`` or a seed, as
    :func:`scanner.training.photos.make_split` takes it), the makes trained and calibrated on, the held-out
    test makes, and the rest of the card's ``data`` section as written."""

    name: str
    train_makes: tuple[str, ...]
    test_makes: tuple[str, ...]
    about: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "TrainingSplit":
        name = str(data.get("split", data.get("split_seed", "0")))
        rest = {k: v for k, v in data.items() if k not in ("split", "train_makes", "test_makes")}
        return cls(name, tuple(data.get("train_makes", ())), tuple(data.get("test_makes", ())), rest)

    def to_json(self) -> dict[str, Any]:
        return {"split": self.name, "train_makes": list(self.train_makes), "test_makes": list(self.test_makes), **self.about}


class WeightsError(Exception):
    """Weights missing, corrupt, tampered with, or inconsistent with their model card."""


def _card_json(card_path: Path) -> dict:
    """The parsed card; :class:`WeightsError` if it is missing, unreadable or not a JSON object."""
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise WeightsError(f"model card not found: {card_path}") from None
    except (OSError, ValueError) as exc:
        raise WeightsError(f"model card {card_path} is unreadable: {exc}") from None
    if not isinstance(card, dict):
        raise WeightsError(f"model card {card_path} is not a JSON object")
    return card


def card_architecture(card_path: str | Path) -> str | None:
    """The architecture type a card names (None if its architecture has no type), read without
    verifying the weights: the family that loads the card verifies them (:func:`read_card`)."""
    card = _card_json(Path(card_path))
    if "architecture" not in card:
        raise WeightsError(f"model card {card_path} lacks the field 'architecture'")
    return card["architecture"].get("type") if isinstance(card["architecture"], dict) else None


def read_card(card_path: str | Path) -> tuple[dict, Path]:
    """A model card and the path of its verified weights. Raises :class:`WeightsError` when
    the card or the weights are missing or unreadable, or the weights' sha256 differs from
    the card's."""
    card_path = Path(card_path)
    card = _card_json(card_path)
    for key in ("weights_file", "weights_sha256", "architecture"):
        if key not in card:
            raise WeightsError(f"model card {card_path} lacks the field {key!r}")
    weights = card_path.parent / card["weights_file"]
    if not weights.is_file():
        raise WeightsError(f"weights file not found: {weights}")
    digest = file_sha256(weights)
    if digest != card["weights_sha256"]:
        raise WeightsError(f"weights file {weights} has sha256 {digest[:16]}..., the card says "
                           f"{card['weights_sha256'][:16]}...: corrupt or tampered, refusing to load")
    return card, weights


def shipped_dir() -> Path:
    """Folder of the shipped detectors: ``$SCANNER_WEIGHTS`` if set, else the installed
    ``scanner.weights`` package (the repository's ``weights/`` folder)."""
    env = os.environ.get("SCANNER_WEIGHTS")
    if env:
        return Path(env)
    try:
        return Path(str(resources.files("scanner.weights")))
    except ModuleNotFoundError:
        return Path(__file__).resolve().parents[2] / "weights"  # a source checkout: scanner/families/ -> the root


BANK_CARD = "bank.json"
"""Card of a descriptor bank in a weights folder; without one, a folder holds one card per manipulation."""
