"""Bank data: the raw bank descriptors (:func:`scanner.families.bank.descriptors`) of every photo at
fixed positions, pristine and under every task of Table I, and resaved (a JPEG save after the
operation), cached per photo; what the bank's heads are fitted on."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.constants import PATCH
from ..families.bank import descriptors
from ..inputs.images import load_rgb
from ..processing import manipulations
from ..processing.manipulations import all_tasks, task_key
from .patches import PATCH_PROTOCOL
from .photos import Photo, camera_make, list_photos
from .sampling import MARGIN, cached_photos, cut_patches, default_cache_dir, photo_seed, random_region

BANK_POSITIONS = 136
"""Patch positions per photo for bank data: about 80 training photos x 136 = the paper's 10800 per class."""


BANK_DESCRIPTOR = "histograms+chroma+lattice-1"
"""Version of what :func:`build_bank` stores per patch; part of its cache key, beside the
:func:`probe_fingerprint` that catches any change of the stored values on a synthetic photo
(the 0.6.x weights were fitted on chroma codes cached before a rounding change, CHANGELOG 0.7.0).
Bump it for changes that the probe cannot see, such as how files of other formats are read."""


BANK_GRID = 64
"""Step of the position grid for bank data (windows overlap by half, as dense scanning's do)."""


def _bank_region(path: str, n: int, region: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.random.Generator]:
    """The crop and up to ``n`` patch positions (P, 2) of one photo for bank data, with the
    generator that drew them: positions on a :data:`BANK_GRID` grid inside the margin, valid for
    every resizing scale."""
    rng = np.random.default_rng(seed)
    crop, _, _ = random_region(load_rgb(path), region, rng)
    rh, rw = crop.shape[:2]
    grid = np.array([(r, c) for r in range(MARGIN, rh - MARGIN - PATCH + 1, BANK_GRID)
                     for c in range(MARGIN, rw - MARGIN - PATCH + 1, BANK_GRID)], dtype=np.int64).reshape(-1, 2)
    scales = manipulations.get("resize").strengths
    fits = [all(round(s * r) + PATCH <= round(s * rh) and round(s * c) + PATCH <= round(s * rw) for s in scales) for r, c in grid]
    positions = grid[np.array(fits, dtype=bool)] if len(grid) else grid
    if len(positions) > n:
        positions = positions[np.sort(rng.choice(len(positions), n, replace=False))]
    return crop, positions, rng


def bank_region(photo: Photo, seed: int = 0, positions: int = BANK_POSITIONS, region: int = 1536) -> tuple[np.ndarray, np.ndarray]:
    """The RGB crop (H, W, 3) uint8 of a photo and the patch positions (P, 2) (top, left, pixels of
    the crop) behind its :func:`build_bank` data for the same arguments, in the order of its rows."""
    crop, where, _ = _bank_region(str(photo.path), positions, region, photo_seed(photo, seed))
    return crop, where


def _bank_descriptors(rgb: np.ndarray, where: np.ndarray, submodels) -> np.ndarray:
    """Bank descriptors (N, F) float32 of the RGB patches of ``rgb`` at ``where``: the
    submodels' histograms of the green channel, the chroma-residual histogram
    (:mod:`scanner.features.chroma`), then the lattice features of the luma (:mod:`scanner.features.lattice`)."""
    return descriptors(cut_patches(rgb, where), submodels, lattice=True, chroma=True).astype(np.float32)


def _photo_bank(args: tuple) -> dict:
    """Worker: descriptors (:func:`_bank_descriptors`) of the pristine and of every processed
    version (15 tasks) of up to ``n`` patches of one photo, at the same positions (resize: at
    round(s * position)); every operation is applied to the RGB crop."""
    path, submodels, n, region, seed = args
    crop, positions, _ = _bank_region(path, n, region, seed)
    out = {"positions": positions, "pristine": _bank_descriptors(crop, positions, submodels)}
    for k, (name, strength) in enumerate(all_tasks()):
        processed = manipulations.apply(crop, name, strength, seed + 1000 * (k + 1))
        where = np.round(strength * positions).astype(np.int64) if name == "resize" else positions
        out[task_key(name, strength)] = _bank_descriptors(processed, where, submodels)
    return out


RESAVE_QUALITIES = (75, 80, 85, 90, 95)
"""JPEG qualities at which the resaved bank data saves each photo, one drawn per photo."""


RESAVED_MANIPULATIONS = ("median", "blur", "noise", "resize")
"""Manipulations with a resaved head: their traces after the whole image is saved as JPEG
(a JPEG region resaved as JPEG is left to the JPEG detector and the map of any detector)."""


RESAVED_DESCRIPTOR = "resaved-1"
"""Version of what :func:`build_resaved_bank` stores per patch; part of its cache key (as
:data:`BANK_DESCRIPTOR`)."""


def resave_quality(sha256: str) -> int:
    """The :data:`RESAVE_QUALITIES` entry of a photo (fixed by its hash, so that every use of
    the photo saves it alike)."""
    return RESAVE_QUALITIES[int(sha256[:8], 16) % len(RESAVE_QUALITIES)]


def _photo_resaved(args: tuple) -> dict:
    """Worker: descriptors (:func:`_bank_descriptors`) of the patches of :func:`_photo_bank`
    after the whole crop is saved as JPEG at ``quality``: ``pristine`` (the crop saved as is)
    and, for each of :data:`RESAVED_MANIPULATIONS`, the crop processed at one of the
    manipulation's two strongest strengths (drawn per photo), then saved. Resized patches are
    cut at round(s * position) moved down to the JPEG block grid, as the pristine ones lie on it."""
    path, submodels, n, region, seed, quality = args
    crop, positions, rng = _bank_region(path, n, region, seed)
    out = {"positions": positions, "quality": np.array(quality),
           "pristine": _bank_descriptors(manipulations.jpeg(crop, quality), positions, submodels)}
    for k, name in enumerate(RESAVED_MANIPULATIONS):
        strength = float(rng.choice(manipulations.get(name).strengths[:2]))
        processed = manipulations.jpeg(manipulations.apply(crop, name, strength, seed + 7000 * (k + 1)), quality)
        where = np.round(strength * positions).astype(np.int64) // 8 * 8 if name == "resize" else positions
        out[name] = _bank_descriptors(processed, where, submodels)
    return out


@dataclass
class BankData:
    """Descriptors of pristine patches and of their 15 processed versions, per photo.

    ``features[key]`` float32 (N, F) for key ``pristine`` or a task key (the submodels'
    histograms, the 81 chroma bins, then the 252 lattice features); row i of every key
    comes from the same position of the same photo. ``photo``, ``camera``, ``make`` (N,)."""

    features: dict[str, np.ndarray]
    photo: np.ndarray
    camera: np.ndarray
    make: np.ndarray

    def __len__(self) -> int:
        return len(self.photo)

    def subset(self, mask: np.ndarray) -> "BankData":
        return BankData({k: v[mask] for k, v in self.features.items()}, self.photo[mask], self.camera[mask], self.make[mask])

    def of_makes(self, makes: set[str] | list[str]) -> "BankData":
        return self.subset(np.isin(self.make, list(makes)))


def _stack_photos(photos: list[Photo], files: list[Path]) -> BankData:
    """:class:`BankData` of the photos' cached npz ``files``: every per-position array (2-D)
    but the positions, stacked over the photos in order."""
    parts: dict[str, list[np.ndarray]] = {}
    photo_idx, cams, makes = [], [], []
    for i, (p, path) in enumerate(zip(photos, files)):
        with np.load(path) as z:
            n = len(z["positions"])
            for k in z.files:
                if k != "positions" and z[k].ndim == 2:
                    parts.setdefault(k, []).append(z[k])
        photo_idx.append(np.full(n, i))
        cams.append(np.full(n, p.camera, dtype=object))
        makes.append(np.full(n, camera_make(p.camera), dtype=object))
    return BankData({k: np.concatenate(v) for k, v in parts.items()}, np.concatenate(photo_idx), np.concatenate(cams),
                    np.concatenate(makes))


def build_bank(root: str | Path, submodels, photos: list[Photo] | None = None, positions: int = BANK_POSITIONS,
               region: int = 1536, seed: int = 0, cache_dir: str | Path | None = None, workers: int | None = None,
               progress: bool = False) -> BankData:
    """Bank descriptors of every photo under ``root`` (or of ``photos``), cached per photo."""
    photos = photos if photos is not None else list_photos(root)
    cache = (Path(cache_dir) if cache_dir else default_cache_dir()) / "bank"
    sub = [(s.order, s.threshold) for s in submodels]
    files = cached_photos(photos, cache, lambda p: [PATCH_PROTOCOL, BANK_DESCRIPTOR, p.sha256, sub, positions, region, seed],
                           _photo_bank, lambda p: (str(p.path), tuple(submodels), positions, region, photo_seed(p, seed)),
                           progress, workers, "bank descriptors")
    return _stack_photos(photos, files)


def build_resaved_bank(root: str | Path, submodels, photos: list[Photo] | None = None, positions: int = BANK_POSITIONS,
                       region: int = 1536, seed: int = 0, cache_dir: str | Path | None = None, workers: int | None = None,
                       progress: bool = False) -> BankData:
    """Resaved bank descriptors (:func:`_photo_resaved`: keys ``pristine`` and each of
    :data:`RESAVED_MANIPULATIONS`) of every photo under ``root`` (or of ``photos``), each photo
    saved at its :func:`resave_quality`, cached per photo; same crops and positions as
    :func:`build_bank`."""
    photos = photos if photos is not None else list_photos(root)
    cache = (Path(cache_dir) if cache_dir else default_cache_dir()) / "resaved"
    sub = [(s.order, s.threshold) for s in submodels]
    files = cached_photos(photos, cache, lambda p: [PATCH_PROTOCOL, RESAVED_DESCRIPTOR, p.sha256, sub, positions, region, seed],
                           _photo_resaved, lambda p: (str(p.path), tuple(submodels), positions, region, photo_seed(p, seed),
                                                      resave_quality(p.sha256)),
                           progress, workers, "resaved bank descriptors")
    return _stack_photos(photos, files)
