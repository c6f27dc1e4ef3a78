"""Patch data sets: pristine / processed pairs of 128x128 green-channel patches, split by camera.

Protocol (spec section 4, recorded in every manifest):
1. For each photo, a region of at most ``region`` x ``region`` pixels at a random offset
   aligned to the 16-pixel JPEG MCU grid is cut from the stored RGB pixels.
2. The operation is applied to the whole region (green channel only for the per-channel
   operations, RGB for JPEG), rounded and clipped to uint8.
3. Patches are cut on a non-overlapping grid inside the region, at least ``MARGIN`` pixels
   from its borders; for resizing the grid is taken on the resized region at
   (round(s*i), round(s*j)). The pristine patch is cut at (i, j) of the unprocessed region.

The camera is the unit of every split: no camera has photos on both sides."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.constants import PATCH
from ..inputs.images import load_rgb
from ..processing import manipulations
from .photos import Photo, camera_make, list_photos, split_by_camera, split_by_make
from .sampling import cached_photos, cut_patches, default_cache_dir, patch_positions, photo_seed, random_region

DEFAULT_REGION = 1024
"""Largest side of the region cut from each photo before processing."""


PATCH_PROTOCOL = 1
"""Version of the patch-cutting protocol; part of every cache key."""


def _photo_patches(args: tuple) -> dict:
    """Worker: pristine and processed patches of one photo (see the module docstring)."""
    path, manip_name, strengths, n_patches, region, seed = args
    manip = manipulations.get(manip_name)
    rng = np.random.default_rng(seed)
    crop, top, left = random_region(load_rgb(path), region, rng)
    rh, rw = crop.shape[:2]
    # positions valid for every strength (resize grids must fit inside the resized region)
    positions = patch_positions(rh, rw)
    if manip.name == "resize":
        positions = np.array([p for p in positions
                              if all(round(s * p[0]) + PATCH <= round(s * rh) and round(s * p[1]) + PATCH <= round(s * rw) for s in strengths)],
                             dtype=np.int64).reshape(-1, 2)
    if len(positions) > n_patches:
        positions = positions[np.sort(rng.choice(len(positions), n_patches, replace=False))]
    green = crop[..., 1]
    source = crop if not manip.per_channel else green
    processed = []
    for k, s in enumerate(strengths):
        out = manip.apply(source, s, seed + 1000 * k)
        out = out[..., 1] if out.ndim == 3 else out
        where = np.round(s * positions).astype(np.int64) if manip.name == "resize" else positions
        processed.append(cut_patches(out, where))
    return {"pristine": cut_patches(green, positions), "processed": np.stack(processed), "positions": positions,
            "region": np.array([top, left, rh, rw])}


@dataclass
class PatchSet:
    """Labelled patches: x uint8 (N, 128, 128), y int64 (N,) with 1 = processed,
    strength float64 (N,) (NaN for pristine), camera (N,) str, photo (N,) int index."""

    x: np.ndarray
    y: np.ndarray
    strength: np.ndarray
    camera: np.ndarray
    photo: np.ndarray

    def __len__(self) -> int:
        return len(self.y)

    def subset(self, mask: np.ndarray) -> "PatchSet":
        return PatchSet(self.x[mask], self.y[mask], self.strength[mask], self.camera[mask], self.photo[mask])


@dataclass
class TaskData:
    """A task's train and test sets and the manifest that describes how they were made."""

    train: PatchSet
    test: PatchSet
    manifest: dict

    @property
    def manifest_sha256(self) -> str:
        return hashlib.sha256(json.dumps(self.manifest, sort_keys=True).encode()).hexdigest()


def _describe(photo: Photo, root: str | Path) -> dict:
    return {"path": photo.path.relative_to(root).as_posix(), "camera": photo.camera, "sha256": photo.sha256}


def assemble_patches(group: list[Photo], files: list[Path], strengths: tuple[float, ...], mixed: bool) -> PatchSet:
    """A patch set of the cached per-photo patches ``files`` of the photos ``group``: each photo's
    pristine patches, then (``mixed``) one processed patch per position whose strength cycles
    through ``strengths``, or every strength's."""
    xs, ys, ss, cams, idx = [], [], [], [], []
    for i, (photo, path) in enumerate(zip(group, files)):
        with np.load(path) as z:
            pristine, processed = z["pristine"], z["processed"]
        k = len(pristine)
        if k == 0:
            continue
        xs.append(pristine)
        ys.append(np.zeros(k, np.int64))
        ss.append(np.full(k, np.nan))
        if mixed:
            which = (np.arange(k) + i) % len(strengths)
            xs.append(processed[which, np.arange(k)])
            ss.append(np.array(strengths)[which])
            ys.append(np.ones(k, np.int64))
            m = 2 * k
        else:
            xs.append(processed.reshape(-1, PATCH, PATCH))
            ss.append(np.repeat(np.array(strengths), k))
            ys.append(np.ones(k * len(strengths), np.int64))
            m = k * (1 + len(strengths))
        cams.append(np.full(m, photo.camera, dtype=object))
        idx.append(np.full(m, i))
    return PatchSet(np.concatenate(xs), np.concatenate(ys), np.concatenate(ss), np.concatenate(cams), np.concatenate(idx))



def build_task(
    root: str | Path,
    manip: str,
    strengths: tuple[float, ...] | None = None,
    patches_per_image: int = 36,
    test_patches_per_image: int = 16,
    seed: int = 0,
    test_fraction: float = 0.3,
    region: int = DEFAULT_REGION,
    cache_dir: str | Path | None = None,
    workers: int | None = None,
    progress: bool = False,
    split: str = "camera",
) -> TaskData:
    """Patch data for one detection task: ``manip`` at the given strengths (default all three).

    ``split`` ``camera``: a share ``test_fraction`` of the cameras is held out
    (:func:`split_by_camera`); ``make``: whole makes are (:func:`split_by_make` with ``seed``:
    training and validation makes train, test makes test; the lossless sets are not used).

    Train: for each training photo up to ``patches_per_image`` positions, each giving a
    pristine patch and a processed patch whose strength cycles through ``strengths``.
    Test: for each held-out photo up to ``test_patches_per_image`` positions, giving a
    pristine patch and one processed patch per strength. Per-photo results are cached
    under ``cache_dir``, so a second call does not recompute them.
    """
    manipulation = manipulations.get(manip)
    strengths = tuple(float(s) for s in (strengths or manipulation.strengths))
    photos = list_photos(root)
    if not photos:
        raise FileNotFoundError(f"no photos found under {root}")
    validation_makes: list[str] = []
    if split == "make":
        sides = split_by_make(photos, seed)
        train_photos, test_photos = sides["train"] + sides["validation"], sides["test"]
        validation_makes = sorted({camera_make(p.camera) for p in sides["validation"]})
    elif split == "camera":
        train_photos, test_photos = split_by_camera(photos, test_fraction, seed)
    else:
        raise ValueError(f"unknown split {split!r}; use camera or make")
    cache = (Path(cache_dir) if cache_dir else default_cache_dir()) / "patches"

    def cached(group: list[Photo], n: int) -> list[Path]:
        return cached_photos(group, cache, lambda p: [PATCH_PROTOCOL, p.sha256, manip, strengths, n, region, seed], _photo_patches,
                              lambda p: (str(p.path), manip, strengths, n, region, photo_seed(p, seed)), progress, workers,
                              f"patches {manip}")

    manifest = {
        "protocol": PATCH_PROTOCOL,
        "manipulation": manip,
        "strengths": list(strengths),
        "seed": seed,
        "region": region,
        "patch": PATCH,
        "patches_per_image": patches_per_image,
        "test_patches_per_image": test_patches_per_image,
        "test_fraction": test_fraction,
        "split": split,
        "train_makes": sorted({camera_make(p.camera) for p in train_photos}),
        "test_makes": sorted({camera_make(p.camera) for p in test_photos}),
        "validation_makes": validation_makes,
        "train": [_describe(p, root) for p in train_photos],
        "test": [_describe(p, root) for p in test_photos],
    }
    return TaskData(assemble_patches(train_photos, cached(train_photos, patches_per_image), strengths, True),
                    assemble_patches(test_photos, cached(test_photos, test_patches_per_image), strengths, False), manifest)
