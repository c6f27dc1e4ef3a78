"""The shipped detector family: one bank of exact SRM submodels shared by every detector,
with linear heads on top.

Each submodel (:class:`scanner.features.srm.Submodel`) is a recast branch in hard-max mode, so its
features equal the numpy descriptor exactly (tested against
:class:`scanner.families.recast.RecastNet` branches). A bank may add the histogram of chroma-residual
codes (:mod:`scanner.features.chroma`) and the JPEG lattice features of the luma channel
(:mod:`scanner.features.lattice`). A descriptor is laid out as: the submodels' histograms, the chroma
histogram if any, the lattice features if any. The bank does not train; only the heads do:

- ``tasks``: one binary head per task of Table I (a manipulation at one strength; logit > 0:
  processed), on :func:`head_input`: ``transform(h)`` of the window's pooled histograms h
  (submodels and chroma), then the lattice features if the bank has them. A manipulation's
  detector scores a window with the largest logit of its strengths' heads;
- ``operations``: a multi-class head (pristine and the five manipulations) that names the
  most likely operation when several detectors fire;
- ``resaved`` (optional): a head per manipulation trained on images saved as JPEG after the
  operation against images saved as JPEG alone, as most edited images are published. They draw
  localisation maps (named ``blur-resaved`` etc.) that feed the map of any detector, and never
  the verdict.

Dense scanning counts codes in cells of ``gcd(stride, 120)`` pixels once per image and adds
cells up into windows, so every window on the grid costs 81 additions per map instead of a
full descriptor; window scores equal scoring each window on its own."""

from __future__ import annotations

import json
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file, save_file

from ..core.constants import CARD_SCHEMA, PATCH
from ..core.files import file_sha256
from ..core.types import AnyCalibration, ImageRule, ScaleCalibration, WindowScores
from ..core.windows import box_sums_2d, window_grid
from ..features import chroma as chroma_codes
from ..features import lattice as jpeg_lattice
from ..features.srm import ANCHOR_MARGIN, DIRECTIONS, N_CODES, Submodel, bank_features, cell_histograms, code_maps
from ..inputs.images import green_of
from .bank_card import BankCard
from .cards import BANK_CARD, TrainingSplit, WeightsError, read_card
from .heads import LinearHeads, detector_of, head_input, histogram_width, transform


def split_planes(pixels: np.ndarray, stacked: bool) -> tuple[np.ndarray, np.ndarray]:
    """(green uint8, luma float64) of RGB pixels (..., 3) or of a single channel; ``stacked``:
    pixels are a stack of patches (N, P, P[, 3]) rather than one image (H, W[, 3])."""
    if pixels.ndim == (4 if stacked else 3):
        return pixels[..., 1], jpeg_lattice.luma(pixels)
    return pixels, pixels.astype(np.float64)


def descriptors(patches: np.ndarray, submodels: tuple[Submodel, ...], lattice: bool, chroma: bool) -> np.ndarray:
    """Raw bank descriptors (N, F) of uint8 patches, RGB (N, P, P, 3) or one channel (N, P, P):
    the submodels' histograms of the green channel, then, if ``chroma``, the chroma-residual
    histogram, then, if ``lattice``, the lattice features of the luma (block grid at each
    patch's corner)."""
    patches = np.asarray(patches)
    return np.hstack([bank_features(split_planes(patches, stacked=True)[0], submodels), side_descriptors(patches, chroma, lattice)])


def side_descriptors(patches: np.ndarray, chroma: bool, lattice: bool) -> np.ndarray:
    """A bank descriptor's columns after the submodels' (N, S), float64, raw: the chroma histogram
    if ``chroma``, then the lattice features of the luma if ``lattice``. patches: uint8
    (N, P, P, 3) or (N, P, P)."""
    patches = np.asarray(patches)
    parts = [np.zeros((len(patches), 0))]
    if chroma:
        parts.append(chroma_codes.features(patches))
    if lattice:
        parts.append(jpeg_lattice.features(split_planes(patches, stacked=True)[1]))
    return np.hstack(parts)


RESAVED_SUFFIX = "-resaved"


def resaved_name(manipulation: str) -> str:
    """The map name of a manipulation's resaved head (``blur`` -> ``blur-resaved``)."""
    return manipulation + RESAVED_SUFFIX


@dataclass
class SRMBank:
    """A bank of exact submodels, a head per task (a detector per manipulation takes the largest
    of its strengths'), an operation head, optional resaved heads (one per manipulation, named
    by the manipulation) and the model card (thresholds, image rules)."""

    submodels: tuple[Submodel, ...]
    feature_transform: str
    tasks: LinearHeads
    operations: LinearHeads
    card: BankCard | None = None
    path: Path | None = None
    lattice: bool = False
    chroma: bool = False
    resaved: LinearHeads | None = None

    @property
    def n_histograms(self) -> int:
        """Columns of the descriptor taken by histograms (:func:`histogram_width`)."""
        return histogram_width(self.submodels, self.chroma)

    @property
    def names(self) -> list[str]:
        """The detectors, one per manipulation, in head order."""
        return list(dict.fromkeys(detector_of(t) for t in self.tasks.names))

    def detector_logits(self, task_logits: np.ndarray) -> dict[str, np.ndarray]:
        """Each detector's logit, the largest of its tasks' logits (task axis first)."""
        return {name: np.max([task_logits[i] for i, t in enumerate(self.tasks.names) if detector_of(t) == name], axis=0)
                for name in self.names}

    def colour_detectors(self, only: bool = False) -> list[str]:
        """Detectors with a head that reads the chroma histogram: on a single-channel image it
        holds no chroma at all, so they see less there than on colour photos. ``only``: those
        with a head that reads nothing else, whose flags can therefore come from colour alone
        (the largest head's logit is the detector's)."""
        if not self.chroma:
            return []
        reads = np.zeros(self.tasks.weight.shape[1], dtype=bool)
        reads[self.n_histograms - chroma_codes.N_FEATURES : self.n_histograms] = True
        chosen = []
        for name in self.names:
            weights = self.tasks.weight[[i for i, t in enumerate(self.tasks.names) if detector_of(t) == name]]
            colour = np.any(weights[:, reads], axis=1)
            if (np.any(colour & ~np.any(weights[:, ~reads], axis=1)) if only else np.any(colour)):
                chosen.append(name)
        return chosen

    @property
    def trained_on(self) -> TrainingSplit | None:
        """The make split the bank was trained on (None on an untrained or uncalibrated bank)."""
        return self.card.split if self.card else None

    def _card(self) -> BankCard:
        if self.card is None:
            raise ValueError("this bank has no card: it was never calibrated (scanner.training.bank.train_bank)")
        return self.card

    def image_rule(self, name: str) -> ImageRule:
        """When detector ``name`` flags an image, from the card."""
        return self._card().image_rule(name)

    def scales(self, name: str) -> dict[int, ScaleCalibration]:
        """Window size (pixels) -> calibration of detector (or resaved map) ``name``, from the card
        (:meth:`scanner.families.bank_card.BankCard.window_scales`)."""
        return self._card().window_scales(name)

    def any_calibration(self) -> AnyCalibration | None:
        """The card's calibration of the map of any detector (None on cards without one)."""
        return self._card().any_map

    def select(self, names: list[str]) -> "SRMBank":
        """The same bank with only the detectors (and resaved heads) in ``names`` (the operation
        head is kept)."""

        def keep(heads: LinearHeads | None, of) -> LinearHeads | None:
            if heads is None:
                return None
            rows = [i for i, t in enumerate(heads.names) if of(t) in names]
            return LinearHeads([heads.names[i] for i in rows], heads.weight[rows], heads.bias[rows])

        return SRMBank(self.submodels, self.feature_transform, keep(self.tasks, detector_of), self.operations,
                       self.card.select(names) if self.card else None, self.path, self.lattice, self.chroma, keep(self.resaved, lambda name: name))

    def describe(self) -> dict:
        """What the JSON output records of the models used."""
        sha = self._card().about.get("weights_sha256")
        return {name: {"file": str(self.path), "sha256": sha, "architecture": "srm-bank", **self.image_rule(name).to_dict()}
                for name in self.names}

    def descriptors(self, patches: np.ndarray) -> np.ndarray:
        """Raw descriptors (N, F) of uint8 patches (N, P, P[, 3]) (:func:`descriptors`)."""
        return descriptors(patches, self.submodels, self.lattice, self.chroma)

    def features(self, patches: np.ndarray) -> np.ndarray:
        """What the heads read (N, F) of uint8 patches (:meth:`descriptors`, :func:`head_input`)."""
        return head_input(self.descriptors(patches), self.n_histograms, self.feature_transform)

    def patch_logits_from_features(self, descriptors: np.ndarray) -> dict[str, np.ndarray]:
        """Detector logits {name: (N,)} of raw descriptors (N, F) (:meth:`descriptors`)."""
        return self.detector_logits(self.tasks(head_input(descriptors, self.n_histograms, self.feature_transform)).T)

    def patch_logits(self, patches: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """(detector logits {name: (N,)}, operation logits (N, C)) of patches (N, P, P[, 3])
        scored one by one."""
        f = self.features(patches)
        return self.detector_logits(self.tasks(f).T), self.operations(f)

    def dense(self, pixels: np.ndarray, stride: int = 32, device=None, window: int = PATCH, threads: int = 1) -> WindowScores:
        """Scores of every ``window`` x ``window`` window at ``stride`` on uint8 pixels (H, W[, 3])
        (:meth:`dense_grids` with one grid; ``device`` is accepted for the common interface)."""
        return self.dense_grids(pixels, [(window, stride)], threads=threads)[0]

    def dense_grids(self, pixels: np.ndarray, grids: list[tuple[int, int]], device=None, threads: int = 1) -> list[WindowScores]:
        """Scores of every window of each (window, stride) grid on uint8 pixels, RGB (H, W, 3)
        or one channel (H, W), one :class:`WindowScores` per grid. The codes and the cell counts
        are computed once for all grids; each window is then a box sum of cells (submodel and
        chroma codes), and of 8x8 blocks for the lattice features, on the image's block grid (:func:`scanner.features.lattice.grid_offset`)
        (``device`` is accepted for the common interface).

        Equals :meth:`patch_logits` on each window cut out (up to float rounding) when the
        windows lie on the block grid. Runs in numpy (integer codes and counts), submodels on
        ``threads`` threads, in bands of about :data:`BAND_ROWS` rows of window tops so that
        memory stays bounded on large images.
        """
        height, width = pixels.shape[:2]
        for window, _ in grids:
            if min(height, width) < window:
                raise ValueError(f"image {width}x{height} is smaller than one {window}x{window} window")
        offset = jpeg_lattice.grid_offset(split_planes(jpeg_lattice.central_crop(pixels), stacked=False)[1]) if self.lattice else (0, 0)
        cell = math.gcd(*[s for _, s in grids], *[w - ANCHOR_MARGIN for w, _ in grids])
        period = math.lcm(*[s for _, s in grids])  # band edges on every grid's rows
        band = max(period, BAND_ROWS // period * period)
        tops, lefts = zip(*(window_grid(height, width, s, w) for w, s in grids))
        parts: list[list[np.ndarray]] = [[] for _ in grids]
        for r0 in range(0, max(t[-1] for t in tops) + 1, band):
            local = [t[(t >= r0) & (t < r0 + band)] - r0 for t in tops]
            rows = max(t[-1] + w for t, (w, _) in zip(local, grids) if len(t))
            strip = pixels[r0 : r0 + rows]
            local_offset = ((offset[0] - r0) % jpeg_lattice.BLOCK, offset[1])
            for k, logits in enumerate(self._band_logits(strip, grids, local, lefts, cell, local_offset, threads)):
                parts[k].append(logits)
        n, c = len(self.tasks.names), len(self.operations.names)
        resaved = self.resaved.names if self.resaved is not None else []
        out = []
        for k in range(len(grids)):
            logits = np.concatenate(parts[k], axis=1)
            out.append(WindowScores(tops[k], lefts[k], self.detector_logits(logits[:n]), logits[n : n + c],
                                    list(self.operations.names),
                                    {resaved_name(name): logits[n + c + i] for i, name in enumerate(resaved)}))
        return out

    def _all_heads(self) -> LinearHeads:
        """Every head in dense-scoring order: tasks, operations, resaved."""
        parts = [self.tasks, self.operations] + ([self.resaved] if self.resaved is not None else [])
        return LinearHeads([n for h in parts for n in h.names], np.concatenate([h.weight for h in parts]),
                           np.concatenate([h.bias for h in parts]))

    def _band_logits(self, pixels: np.ndarray, grids: list[tuple[int, int]], tops: list[np.ndarray], lefts: list[np.ndarray],
                     cell: int, offset: tuple[int, int], threads: int) -> list[np.ndarray]:
        """Logits of every head (:meth:`_all_heads`, K + C + R, rows, cols) for the windows of each grid whose tops and
        lefts (pixels of ``pixels`` (H, W[, 3]), multiples of ``cell``) are given, lattice blocks on
        the grid at ``offset``; grids without a top here give (K + C + R, 0, cols)."""
        green, y = split_planes(pixels, stacked=False) if self.lattice else (green_of(pixels), None)
        all_heads = self._all_heads()
        heads = all_heads.weight

        def histogram_logits(histograms: list[tuple[np.ndarray, int, int]]) -> list[np.ndarray]:
            """Per grid, the logits (windows, K + C + R) of the histograms given as (cell counts
            (rows, cols, 81), the column their weights start at, the number of code maps counted)."""
            weights = [np.ascontiguousarray(heads[:, column : column + N_CODES].T) for _, column, _ in histograms]
            out = []
            for (window, _), t, c in zip(grids, tops, lefts):
                anchors = window - ANCHOR_MARGIN
                k = anchors // cell
                # the feature of every possible count, per histogram
                tables = [transform(np.arange(maps * anchors**2 + 1) / float(maps * anchors**2), self.feature_transform)
                          for _, _, maps in histograms]
                logits = np.empty((len(t), len(c), len(heads)))
                step = max(1, CHUNK_WINDOWS // len(c))
                for r0 in range(0, len(t), step):
                    rows = t[r0 : r0 + step] // cell
                    logits[r0 : r0 + step] = sum(
                        np.take(table, window_sums(counts[rows[0] : rows[-1] + k], rows - rows[0], c // cell, k)) @ weight
                        for (counts, _, _), table, weight in zip(histograms, tables, weights)).reshape(len(rows), len(c), -1)
                out.append(logits.reshape(-1, len(heads)))
            return out

        def submodel_logits(i: int) -> list[np.ndarray]:
            maps = code_maps(green, self.submodels[i])
            return histogram_logits([(cell_histograms(maps[direction, "H"], cell) + cell_histograms(maps[direction, "V"], cell),
                                      (2 * i + j) * N_CODES, 2) for j, direction in enumerate(DIRECTIONS)])

        def lattice_logits() -> list[np.ndarray]:
            return jpeg_lattice.grid_logits(y, [(t, c, window) for (window, _), t, c in zip(grids, tops, lefts)],
                                            heads[:, self.n_histograms :], offset, chunk=CHUNK_WINDOWS)

        def chroma_logits() -> list[np.ndarray]:
            counts = cell_histograms(chroma_codes.codes(pixels), cell)
            return histogram_logits([(counts, self.n_histograms - chroma_codes.N_FEATURES, 1)])

        with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
            longest = pool.submit(lattice_logits) if self.lattice else None  # started first, so the threads end together
            jobs = [pool.submit(submodel_logits, i) for i in range(len(self.submodels))]
            if longest is not None:
                jobs.append(longest)
            if self.chroma:
                jobs.append(pool.submit(chroma_logits))
            per_submodel = [job.result() for job in jobs]
        bias = all_heads.bias
        return [(sum(parts) + bias).T.reshape(len(heads), len(t), len(c))
                for parts, t, c in zip(zip(*per_submodel), tops, lefts)]


BAND_ROWS = 1024
"""Rows of window tops (pixels) scored together by :meth:`SRMBank.dense_grids`: a band reads
about BAND_ROWS + 128 rows of the image, so memory grows with the width, not the area."""


CHUNK_WINDOWS = 8192
"""Windows (whole rows of them) whose histograms :meth:`SRMBank.dense_grids` sums and reads at a
time, and whose lattice features it reads out at a time, rather than arrays of the band's size
(docs/performance.md, 0.6.3: 512 to 16 384 measured)."""


def window_sums(counts: np.ndarray, rows: np.ndarray, cols: np.ndarray, k: int) -> np.ndarray:
    """Sums of cell histograms (R, C, 81) over k x k cells whose top-left cells are every
    (rows[i], cols[j]): (len(rows) * len(cols), 81) (:func:`scanner.core.windows.box_sums_2d`)."""
    return box_sums_2d(counts, rows, cols, (k, k)).reshape(-1, N_CODES)


def save_bank(bank: SRMBank, directory: str | Path, name: str = "bank") -> Path:
    """Write ``name.safetensors`` (the heads) and ``name.json`` (the card: submodels, head names,
    thresholds, the weights' sha256). Returns the card's path."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    weights = directory / f"{name}.safetensors"
    tensors = {"tasks.weight": bank.tasks.weight, "tasks.bias": bank.tasks.bias,
               "operations.weight": bank.operations.weight, "operations.bias": bank.operations.bias}
    if bank.resaved is not None:
        tensors |= {"resaved.weight": bank.resaved.weight, "resaved.bias": bank.resaved.bias}
    # safetensors writes the raw buffer: a Fortran-ordered array (scikit-learn's multinomial
    # coef_) would come back scrambled, so every tensor is made C-contiguous first
    save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()}, str(weights))
    card = dict(bank._card().to_json(), schema=CARD_SCHEMA, name=name,
                architecture={"type": "srm-bank", "submodels": [[s.order, s.threshold] for s in bank.submodels],
                              "transform": bank.feature_transform, "window": PATCH, "anchors": PATCH - ANCHOR_MARGIN,
                              "tasks": bank.tasks.names, "operations": bank.operations.names,
                              **({"resaved": bank.resaved.names} if bank.resaved is not None else {}),
                              **({"chroma": CHROMA_CARD} if bank.chroma else {}),
                              **({"lattice": LATTICE_CARD} if bank.lattice else {})},
                weights_file=weights.name, weights_sha256=file_sha256(weights))
    path = directory / f"{name}.json"
    path.write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    return path


def load_bank(card: dict, weights: Path) -> SRMBank:
    """Build the bank a verified card describes, reading its heads from safetensors."""
    arch = card["architecture"]
    if "lattice" in arch and arch["lattice"] != LATTICE_CARD:
        raise ValueError(f"the card's lattice features {arch['lattice']} are not this version's {LATTICE_CARD}")
    if "chroma" in arch and arch["chroma"] != CHROMA_CARD:
        raise ValueError(f"the card's chroma codes {arch['chroma']} are not this version's {CHROMA_CARD}")
    tensors = load_file(str(weights))
    resaved = (LinearHeads(list(arch["resaved"]), tensors["resaved.weight"], tensors["resaved.bias"])
               if "resaved" in arch else None)
    return SRMBank(tuple(Submodel(int(o), int(t)) for o, t in arch["submodels"]), arch["transform"],
                   LinearHeads(list(arch["tasks"]), tensors["tasks.weight"], tensors["tasks.bias"]),
                   LinearHeads(list(arch["operations"]), tensors["operations.weight"], tensors["operations.bias"]),
                   BankCard.from_json(card),
                   lattice="lattice" in arch, chroma="chroma" in arch, resaved=resaved)


def load_bank_set(folder: Path, names: list[str], device: str = "cpu") -> SRMBank:
    """The family's loader (:mod:`scanner.families.registry`): the bank of ``folder/bank.json``
    with only the detectors in ``names`` (``device`` is accepted: the bank runs in numpy)."""
    card, weights = read_card(folder / BANK_CARD)
    missing = [k for k in ("thresholds", "image_rule") if k not in card]
    if missing:
        raise WeightsError(f"model card {folder / BANK_CARD} lacks the field {missing[0]!r}")
    try:
        bank = load_bank(card, weights)
    except Exception as exc:
        raise WeightsError(f"weights file {weights} cannot be loaded: {exc}") from None
    bank.path = folder / BANK_CARD
    return bank.select(names)


LATTICE_CARD = {"frequencies": [list(f) for f in jpeg_lattice.FREQUENCIES], "steps": jpeg_lattice.STEPS.tolist(),
                "prior": jpeg_lattice.PRIOR, "block": jpeg_lattice.BLOCK}
"""How a card records the lattice features its heads read (checked on loading)."""


CHROMA_CARD = {"residual": chroma_codes.RESIDUAL.tolist(), "luma_edges": chroma_codes.LUMA_EDGES.tolist(),
               "chroma_edges": chroma_codes.CHROMA_EDGES.tolist()}
"""How a card records the chroma codes its heads read (checked on loading)."""
