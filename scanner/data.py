"""Patch data sets: pristine / processed pairs of 128x128 green-channel patches, split by camera.

Protocol (spec section 4, recorded in every manifest):
1. For each photo, a region of at most ``region`` x ``region`` pixels at a random offset
   aligned to the 16-pixel JPEG MCU grid is cut from the stored RGB pixels.
2. The operation is applied to the whole region (green channel only for the per-channel
   operations, RGB for JPEG), rounded and clipped to uint8.
3. Patches are cut on a non-overlapping grid inside the region, at least ``MARGIN`` pixels
   from its borders; for resizing the grid is taken on the resized region at
   (round(s*i), round(s*j)). The pristine patch is cut at (i, j) of the unprocessed region.

The camera is the unit of every split: no camera has photos on both sides.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from . import manipulations
from .core.constants import PATCH
from .core.files import write_output
from .families.bank import descriptors
from .inputs.images import load_rgb, read_bytes, sha256_hex
from .manipulations import all_tasks, task_key
from .progress import progress as show_progress

MARGIN = 16
"""Distance in pixels between a region's border and the nearest patch (filter borders)."""

DEFAULT_REGION = 1024
"""Largest side of the region cut from each photo before processing."""

PATCH_PROTOCOL = 1
"""Version of the patch-cutting protocol; part of every cache key."""

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp", ".ppm", ".pgm"}


def default_pristine_dir() -> Path | None:
    """``$SCANNER_PRISTINE`` or ``../shared/data/pristine`` when it exists, else None."""
    env = os.environ.get("SCANNER_PRISTINE")
    candidates = [Path(env)] if env else [Path("../shared/data/pristine"), Path(__file__).resolve().parents[2] / "shared/data/pristine"]
    return next((c for c in candidates if c.is_dir()), None)


def default_cache_dir() -> Path:
    """``$SCANNER_CACHE`` or ``~/.cache/scanner``."""
    return Path(os.environ.get("SCANNER_CACHE", Path.home() / ".cache" / "scanner"))


@dataclass(frozen=True)
class Photo:
    """A pristine photograph: its path, the camera that took it (the split unit), its sha256."""

    path: Path
    camera: str
    sha256: str


def clean_camera(name: str) -> str:
    """A camera name without the NUL padding of EXIF fields, its runs of spaces made one
    (numpy drops trailing NULs, so padded names would not compare equal after a round trip)."""
    return " ".join(name.replace("\x00", " ").split())


def _camera_from_exif(path: Path) -> str | None:
    try:
        with Image.open(path) as im:
            exif = im.getexif()
    except Exception:
        return None
    return clean_camera(f"{exif.get(0x010F, '')} {exif.get(0x0110, '')}") or None


def list_photos(root: str | Path) -> list[Photo]:
    """Photos under ``root`` with their cameras, sorted by path.

    The camera comes from ``MANIFEST.tsv`` (columns ``path``, ``camera``, ``sha256``) when the
    folder has one, else from EXIF make and model, else from the file name.
    """
    root = Path(root)
    manifest = root / "MANIFEST.tsv"
    if manifest.is_file():
        lines = manifest.read_text(encoding="utf-8").splitlines()
        header = lines[0].split("\t")
        rows = [dict(zip(header, line.split("\t"))) for line in lines[1:] if line.strip()]
        return sorted((Photo(root / r["path"], clean_camera(r["camera"]), r["sha256"]) for r in rows), key=lambda p: str(p.path))
    photos = []
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES):
        camera = _camera_from_exif(path) or path.stem
        photos.append(Photo(path, camera, sha256_hex(read_bytes(path))))
    return photos


def split_by_camera(photos: list[Photo], test_fraction: float = 0.3, seed: int = 0) -> tuple[list[Photo], list[Photo]]:
    """Split photos into (train, test) so that no camera is on both sides.

    Cameras are shuffled under ``seed`` and given to the test side until it holds about
    ``test_fraction`` of the photos.
    """
    cameras = sorted({p.camera for p in photos})
    order = np.random.default_rng(seed).permutation(len(cameras))
    target = test_fraction * len(photos)
    test_cameras: set[str] = set()
    count = 0
    for idx in order:
        camera = cameras[idx]
        n = sum(p.camera == camera for p in photos)
        if count + n > target * 1.25 and count > 0:
            continue
        test_cameras.add(camera)
        count += n
        if count >= target:
            break
    train = [p for p in photos if p.camera not in test_cameras]
    test = [p for p in photos if p.camera in test_cameras]
    return train, test


def patch_positions(height: int, width: int, size: int = PATCH, margin: int = MARGIN) -> np.ndarray:
    """Top-left corners (K, 2) of a non-overlapping grid of size x size patches, at least
    ``margin`` pixels inside a height x width region."""
    rows = np.arange(margin, height - margin - size + 1, size)
    cols = np.arange(margin, width - margin - size + 1, size)
    return np.array([(r, c) for r in rows for c in cols], dtype=np.int64).reshape(-1, 2)


def _cut(image: np.ndarray, positions: np.ndarray, size: int = PATCH) -> np.ndarray:
    return np.stack([image[r : r + size, c : c + size] for r, c in positions]) if len(positions) else np.zeros((0, size, size), np.uint8)


def _random_region(rgb: np.ndarray, region: int, rng: np.random.Generator) -> tuple[np.ndarray, int, int]:
    """A crop of at most ``region`` x ``region`` pixels at a random offset, both aligned to the
    16-pixel JPEG MCU grid: (crop, top, left)."""
    h, w = rgb.shape[:2]
    rh, rw = min(region, h) // 16 * 16, min(region, w) // 16 * 16
    top = int(rng.integers(0, (h - rh) // 16 + 1)) * 16
    left = int(rng.integers(0, (w - rw) // 16 + 1)) * 16
    return rgb[top : top + rh, left : left + rw], top, left


def _photo_patches(args: tuple) -> dict:
    """Worker: pristine and processed patches of one photo (see the module docstring)."""
    path, manip_name, strengths, n_patches, region, seed = args
    manip = manipulations.get(manip_name)
    rng = np.random.default_rng(seed)
    crop, top, left = _random_region(load_rgb(path), region, rng)
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
        processed.append(_cut(out, where))
    return {"pristine": _cut(green, positions), "processed": np.stack(processed), "positions": positions,
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
    if split == "make":
        sides = split_by_make(photos, seed)
        train_photos, test_photos = sides["train"] + sides["validation"], sides["test"]
    elif split == "camera":
        train_photos, test_photos = split_by_camera(photos, test_fraction, seed)
    else:
        raise ValueError(f"unknown split {split!r}; use camera or make")
    cache = (Path(cache_dir) if cache_dir else default_cache_dir()) / "patches"

    def cached(group: list[Photo], n: int) -> list[Path]:
        return _cached_photos(group, cache, lambda p: [PATCH_PROTOCOL, p.sha256, manip, strengths, n, region, seed], _photo_patches,
                              lambda p: (str(p.path), manip, strengths, n, region, _photo_seed(p, seed)), progress, workers,
                              f"patches {manip}")

    def assemble(group: list[Photo], n: int, mixed: bool) -> PatchSet:
        xs, ys, ss, cams, idx = [], [], [], [], []
        for i, (photo, path) in enumerate(zip(group, cached(group, n))):
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
        "train": [_describe(p, root) for p in train_photos],
        "test": [_describe(p, root) for p in test_photos],
    }
    return TaskData(assemble(train_photos, patches_per_image, True), assemble(test_photos, test_patches_per_image, False), manifest)


# ----------------------------------------------------------------------------- make-disjoint bank data

MAKE_ALIASES = {"eastman": "kodak", "jk": "kodak", "asahi": "pentax", "minolta": "konica-minolta",
                "konica": "konica-minolta", "seiko": "epson", "hewlett-packard": "hp"}
"""Brand names that one maker sells under, so a make is never on both sides of a split."""


def camera_make(camera: str) -> str:
    """The maker of a camera (lower case, brand aliases merged: EASTMAN KODAK and JK Imaging are
    ``kodak``). Film scans (the lossless Kodak and McMaster sets) are ``film:kodak`` and
    ``film:mcmaster``, apart from any camera make."""
    name = clean_camera(camera).lower()
    first = name.split()[0] if name.split() else "unknown"
    if "film scan" in name:
        return f"film:{first}"
    return MAKE_ALIASES.get(first, first)


def split_by_make(photos: list[Photo], seed: int = 0, fractions: tuple[float, float] = (0.2, 0.15),
                  test_makes: frozenset[str] | None = None) -> dict[str, list[Photo]]:
    """Make-disjoint split of the camera photos into ``train``, ``validation`` and ``test``
    (about ``fractions`` = (test, validation) of the camera photos), plus ``lossless`` (the film
    scans, never trained on). Makes are shuffled under ``seed`` and dealt to test, then
    validation, until each holds its share; no make is on two sides. ``test_makes``: these makes
    are the test side, and only validation is dealt (:func:`sealed_split`)."""
    cameras = [p for p in photos if not camera_make(p.camera).startswith("film:")]
    makes = sorted({camera_make(p.camera) for p in cameras})
    count = {m: sum(camera_make(p.camera) == m for p in cameras) for m in makes}
    order = [makes[i] for i in np.random.default_rng(seed).permutation(len(makes))]
    side: dict[str, str] = dict.fromkeys(test_makes or (), "test")
    targets = [("test", fractions[0] * len(cameras))] if test_makes is None else []
    targets.append(("validation", fractions[1] * len(cameras)))
    for name, target in targets:
        held = 0
        for make in order:
            if make in side or held >= target or held + count[make] > 1.5 * target:
                continue
            side[make] = name
            held += count[make]
    split = {"train": [], "validation": [], "test": [], "lossless": []}
    for p in photos:
        make = camera_make(p.camera)
        split["lossless" if make.startswith("film:") else side.get(make, "train")].append(p)
    return split



SEALED_TEST_MAKES = frozenset({"456", "blackberry", "bushnell", "casio", "epson", "hp", "htc", "kyocera", "leica",
                               "motorola", "oppo", "sanyo", "sigma", "vtech"})
"""The test side of the sealed split: 18 photos of 14 makes that were never the test side of
splits 0, 1 or 2, on which every design decision up to 0.7.1 was read. They were drawn once, in
0.8.0, by dealing the makes never tested (Canon's 30 photos left out, to keep training's largest
make) in a seeded order (2026) until a fifth of the camera photos was reached. From now on no
design decision may read them: studies and development runs use splits 0, 1 and 2, and only the
reports that the README quotes evaluate on this split (tests/test_data.py checks the makes)."""

SEALED_SEED = 3
"""The seed that deals the sealed split's validation makes (:func:`sealed_split`)."""


def sealed_split(photos: list[Photo]) -> dict[str, list[Photo]]:
    """The sealed make split: :data:`SEALED_TEST_MAKES` on the test side, validation makes dealt
    under :data:`SEALED_SEED` from the rest, as :func:`split_by_make` does."""
    return split_by_make(photos, SEALED_SEED, test_makes=SEALED_TEST_MAKES)


SEALED = "sealed"
"""The name of the sealed split (:func:`sealed_split`); the others are named by their seed."""


def make_split(photos: list[Photo], name: str) -> dict[str, list[Photo]]:
    """The make split called ``name``: :data:`SEALED` (:func:`sealed_split`) or a seed such as
    ``"0"`` (:func:`split_by_make` under that seed). Raises ValueError for any other name."""
    if name == SEALED:
        return sealed_split(photos)
    if not name.isdigit():
        raise ValueError(f"a split is {SEALED!r} or a seed such as 0, not {name!r}")
    return split_by_make(photos, int(name))

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
    crop, _, _ = _random_region(load_rgb(path), region, rng)
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
    crop, where, _ = _bank_region(str(photo.path), positions, region, _photo_seed(photo, seed))
    return crop, where


def _bank_descriptors(rgb: np.ndarray, where: np.ndarray, submodels) -> np.ndarray:
    """Bank descriptors (N, F) float32 of the RGB patches of ``rgb`` at ``where``: the
    submodels' histograms of the green channel, the chroma-residual histogram
    (:mod:`scanner.chroma`), then the lattice features of the luma (:mod:`scanner.lattice`)."""
    return descriptors(_cut(rgb, where), submodels, lattice=True, chroma=True).astype(np.float32)


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


PROBE_SIDE = 320
"""Side in pixels of the synthetic photo of :func:`probe_fingerprint` (room for a few patch
positions at every resizing scale)."""


def probe_photo(folder: Path) -> Photo:
    """A fixed synthetic RGB photo (:data:`PROBE_SIDE` square: smooth gradients, edges and
    sensor-like noise), saved as PNG in ``folder``."""
    rng = np.random.default_rng(20170101)
    rows, cols = np.mgrid[0:PROBE_SIDE, 0:PROBE_SIDE] / PROBE_SIDE
    shade = 90 + 80 * np.sin(7 * rows + 3 * cols) + 60 * (cols > 0.6) - 40 * ((rows - 0.4) ** 2 + (cols - 0.3) ** 2 < 0.04)
    rgb = shade[..., None] * np.array([1.0, 0.9, 0.75]) + rng.normal(0, 3, (PROBE_SIDE, PROBE_SIDE, 3))
    path = folder / "probe.png"
    Image.fromarray(np.clip(np.round(rgb), 0, 255).astype(np.uint8)).save(path)
    return Photo(path, "probe", sha256_hex(read_bytes(path)))


def probe_fingerprint(worker, args) -> str:
    """A short hash of everything ``worker(args(photo))`` returns for :func:`probe_photo`: part of
    every cache key, so that a change of any code behind a cached value (a descriptor, a
    manipulation, a rounding) makes the cache miss instead of serving stale values. Runs the
    worker once in this process, on a few patches."""
    with tempfile.TemporaryDirectory(prefix="scanner-probe-") as folder:
        result = worker(args(probe_photo(Path(folder))))
    digest = hashlib.sha256()
    for name in sorted(result):
        value = np.ascontiguousarray(result[name])
        digest.update(f"{name}:{value.dtype.str}:{value.shape}".encode())
        digest.update(value.tobytes())
    return digest.hexdigest()[:16]


def _cached_photos(photos: list[Photo], cache: Path, spec, worker, args, progress: bool, workers: int | None,
                   label: str) -> list[Path]:
    """Run ``worker(args(photo))`` on every photo whose result is not cached yet (``workers``
    processes) and save it as an npz named by the hash of ``spec(photo)`` and of the worker's
    :func:`probe_fingerprint` under ``cache``; returns each photo's npz path."""
    cache.mkdir(parents=True, exist_ok=True)
    fingerprint = probe_fingerprint(worker, args)

    def key(photo: Photo) -> Path:
        return cache / f"{hashlib.sha256(json.dumps([fingerprint, *spec(photo)]).encode()).hexdigest()[:24]}.npz"

    todo = [p for p in photos if not key(p).exists()]
    if todo:
        with ProcessPoolExecutor(max_workers=workers or min(2, os.cpu_count() or 1)) as pool:
            results = show_progress(pool.map(worker, [args(p) for p in todo]), len(todo), label, "photos", progress)
            for p, result in zip(todo, results):
                write_output(key(p), True, lambda partial: np.savez(partial, **result))
    return [key(p) for p in photos]


def _photo_seed(photo: Photo, seed: int) -> int:
    """The seed of a photo's bank data: the run's ``seed`` offset by the photo's hash."""
    return seed + int(photo.sha256[:8], 16) % 100_000


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
    files = _cached_photos(photos, cache, lambda p: [PATCH_PROTOCOL, BANK_DESCRIPTOR, p.sha256, sub, positions, region, seed],
                           _photo_bank, lambda p: (str(p.path), tuple(submodels), positions, region, _photo_seed(p, seed)),
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
    files = _cached_photos(photos, cache, lambda p: [PATCH_PROTOCOL, RESAVED_DESCRIPTOR, p.sha256, sub, positions, region, seed],
                           _photo_resaved, lambda p: (str(p.path), tuple(submodels), positions, region, _photo_seed(p, seed),
                                                      resave_quality(p.sha256)),
                           progress, workers, "resaved bank descriptors")
    return _stack_photos(photos, files)
