"""The registry of detector families: a weights folder's card names its architecture, and the
family registered for that architecture loads the folder as a :class:`DetectorSet`.

A folder holds either one card for the whole set (``bank.json``) or one card per manipulation
(``MANIP.json``). Adding a family is one module that implements :class:`DetectorSet` and one entry
in :data:`FAMILIES` (or a call of :func:`register`)."""

from __future__ import annotations

from pathlib import Path

from ..processing.manipulations import MANIPULATIONS
from .bank import load_bank_set
from .cards import BANK_CARD, WeightsError, card_architecture, shipped_dir
from .netset import load_netset
from .protocol import DetectorSet, Family

FAMILIES: dict[str, Family] = {}
"""Family by the architecture type its cards name."""


def register(family: Family) -> None:
    """Make ``family`` load every card whose architecture type is one of ``family.types``."""
    for kind in family.types:
        FAMILIES[kind] = family


for _family in (Family("srm-bank", ("srm-bank",), load_bank_set),
                Family("single networks", ("recast", "bayar"), load_netset)):
    register(_family)


def set_card(folder: Path, names: list[str]) -> Path:
    """The card that names a folder's family: ``bank.json`` if there is one, else the first
    detector's own card."""
    return folder / BANK_CARD if (folder / BANK_CARD).is_file() else folder / f"{names[0]}.json"


def load_shipped(manips: list[str] | None = None, device: str = "cpu", directory: str | Path | None = None) -> DetectorSet:
    """The detector set of a weights folder (default: the shipped one), restricted to ``manips``
    (default all five), loaded by the family its card names. Raises :class:`WeightsError` if
    anything is missing, of an unknown architecture, or fails verification."""
    folder = Path(directory) if directory else shipped_dir()
    names = manips or list(MANIPULATIONS)
    card_path = set_card(folder, names)
    kind = card_architecture(card_path)
    if kind not in FAMILIES:
        raise WeightsError(f"model card {card_path} names an unknown architecture {kind!r}")
    return FAMILIES[kind].load(folder, names, device)
