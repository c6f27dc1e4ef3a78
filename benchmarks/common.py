"""What the benchmarks on a split's held-out makes share: the ``--bank SPLIT=FOLDER`` and
``--images`` arguments, loading that bank, a final JPEG save of a forgery, and the AUC of two
score sets. ``SPLIT`` is ``sealed`` or a seed (:func:`scanner.training.photos.make_split`)."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

from scanner.families.bank import SRMBank
from scanner.families.registry import load_shipped
from scanner.processing import manipulations
from scanner.training.photos import SEALED_SEED, default_pristine_dir


def auc(negative: np.ndarray, positive: np.ndarray) -> float:
    """ROC AUC of scores of negatives (N,) against positives (M,): the chance that a positive
    scores above a negative, ties counting half."""
    return float(roc_auc_score(np.r_[np.zeros(len(negative)), np.ones(len(positive))], np.r_[negative, positive]))


def add_bank_arguments(parser: argparse.ArgumentParser, forgeries: bool = False) -> None:
    """``--bank`` and ``--images``; with ``forgeries``, also ``--n-images`` and ``--stride`` (pixels)."""
    parser.add_argument("--bank", required=True, help="SPLIT=FOLDER, a bank trained on split SPLIT (sealed, or a seed)")
    parser.add_argument("--images", type=Path, default=None, help="pristine photos (default ../shared/data/pristine)")
    if forgeries:
        parser.add_argument("--n-images", type=int, default=8, help="held-out photos to forge (40: every one)")
        parser.add_argument("--stride", type=int, default=16, help="heat-map stride, pixels")


def load_bank(parser: argparse.ArgumentParser, args: argparse.Namespace) -> tuple[str, SRMBank, Path]:
    """(split name, bank, folder of pristine photos) of the parsed arguments; exits with a message
    when the bank was trained on another split or there are no photos."""
    split, folder = args.bank.split("=", 1)
    bank = load_shipped(directory=folder)
    trained = bank.trained_on.name if bank.trained_on else None
    if trained != split:
        parser.error(f"{folder} was trained on split {trained}, not {split}")
    root = args.images or default_pristine_dir()
    if root is None:
        parser.error("no pristine photos: pass --images or set SCANNER_PRISTINE")
    return split, bank, Path(root)


def final_save(image: np.ndarray, quality: int) -> np.ndarray:
    """``image`` saved as JPEG at ``quality`` and decoded, as most published forgeries are; 100: as it is."""
    return manipulations.jpeg(image, quality) if quality < 100 else image


def split_seed(split: str) -> int:
    """The seed a split's forgeries and samples are drawn with: its own number, or the sealed
    split's :data:`scanner.training.photos.SEALED_SEED`."""
    return int(split) if split.isdigit() else SEALED_SEED
