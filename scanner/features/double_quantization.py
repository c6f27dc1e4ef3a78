"""Double quantisation in JPEG DCT coefficient histograms: the trace an earlier compression with a
different quantisation step leaves in a JPEG file's own coefficients (aligned grids); the
file's history (:func:`jpeg_history`) adds the shifted grids' test (:mod:`.shifted_grid`).

A coefficient quantised once with step ``q2`` has a histogram that decays smoothly with |k|, close
to log-linear (a Laplacian). Quantised first with step ``q1`` and then with ``q2``, bin k collects
the q1-multiples that round to it, a number that varies periodically with k unless q2 is a multiple
of q1: some bins are emptied (q1 > q2) or doubled (q1 < q2). :func:`periodic_evidence` measures, per
coefficient, how well the log-histogram's departures from its neighbours match the pattern some q1
predicts, as a z-score against Poisson counting noise."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

from ..core.types import JpegHistory
from ..inputs.jpeg_file import ijg_quality, ijg_tables, read_luminance
from .shifted_grid import EVIDENCE as GRID_EVIDENCE
from .shifted_grid import shifted_grid_evidence

NOISE = 0.6
"""Standard deviation (DCT units) of the rounding and colour-conversion noise between an earlier
decoding and the re-encoding, used to predict the pattern of an earlier step."""

FREQUENCIES = ((0, 1), (1, 0), (2, 0), (1, 1), (0, 2), (0, 3), (1, 2), (2, 1), (3, 0), (4, 0), (3, 1), (2, 2), (1, 3),
               (0, 4), (0, 5), (1, 4), (2, 3), (3, 2), (4, 1), (5, 0))
"""The 20 lowest AC luminance coefficients (zigzag order): the ones with counts enough to show a pattern."""

TOP = 8
"""The file's statistic is the sum of its :data:`TOP` largest per-coefficient z-scores."""

EVIDENCE = 35.0
"""Statistic from which a file shows double compression (docs/jpeg-history.md)."""

MIN_STEP = 3
"""Least step of the file's own that a coefficient needs to be read: with finer steps camera
JPEGs compressed once show patterns too (docs/jpeg-history.md)."""

Z_STEP = 4.0
"""z-score from which a coefficient's best earlier step counts towards the earlier quality."""

FIRST_BIN = 2
"""First |k| whose curvature is read: the smallest bins hold the most uneven mixtures of flat and
textured blocks, which no single smooth law fits."""

TREND = 1
"""Degree of the polynomial trend in k removed from the curvatures before they are compared."""

MIN_BLOCKS = 16384
"""Least 8x8 blocks (about one megapixel) for which finding no trace says ``none`` rather than
``undetermined``: in smaller files a second compression leaves too few counts to be sure of."""

DOUBTFUL = 25.0
"""Statistic from which a file without evidence is ``undetermined`` rather than ``none``."""

MIN_COUNT = 20
"""Least count of a histogram bin read by the test (fewer: too noisy to read a pattern)."""


@dataclass(frozen=True)
class PeriodicEvidence:
    """The best-matching earlier step ``q1`` of one coefficient and its z-score (0: no candidate
    predicts a pattern, or too few counts), with the bins read."""

    q1: int | None
    z: float
    bins: int


def folded_histogram(coefficients: np.ndarray, largest: int = 40) -> np.ndarray:
    """Counts of |k| = 0..J of quantised coefficients (N,) with the zero bin doubled (it stands for
    one value where the others stand for two), J the last bin with :data:`MIN_COUNT` counts."""
    h = np.bincount(np.minimum(np.abs(coefficients.astype(np.int64)), largest + 1), minlength=largest + 2)[: largest + 1]
    h = h.astype(np.float64)
    h[0] *= 2
    enough = np.nonzero(h >= MIN_COUNT)[0]
    return h[: enough.max() + 1] if len(enough) else h[:1]


def curvature(log_h: np.ndarray) -> np.ndarray:
    """Departure of each inner bin's log count from the mean of its neighbours (bins 1..J-1)."""
    return log_h[1:-1] - 0.5 * (log_h[:-2] + log_h[2:])


def predicted_counts(q1: float, q2: int, slope: float, bins: int, noise: float = NOISE) -> np.ndarray:
    """Expected folded histogram (bins 0..bins-1) of a Laplacian coefficient of log-density
    ``slope`` per DCT unit (< 0), quantised with step ``q1`` then (with ``noise``) with ``q2``."""
    top = (bins + 1) * q2
    m = np.arange(-np.ceil(top / q1), np.ceil(top / q1) + 1)
    x = m * q1
    weight = np.exp(slope * np.abs(x))
    edges = (np.arange(-bins, bins + 1) + 0.5) * q2  # upper edges of bins -bins..bins
    cdf = ndtr((edges[None, :] - x[:, None]) / noise)
    per_bin = np.diff(np.c_[np.zeros(len(x)), cdf], axis=1)  # bins -bins..bins
    h = (weight[:, None] * per_bin).sum(axis=0)[: 2 * bins + 1]
    folded = h[bins:] + np.r_[0.0, h[:bins][::-1]]
    folded[0] *= 2
    return folded[:bins]


def periodic_evidence(coefficients: np.ndarray, q2: int, max_ratio: float = 2.5) -> PeriodicEvidence:
    """The z-score of the best earlier step q1 in 1..max_ratio*q2 for one DCT coefficient's
    quantised values (N,) stored with step ``q2``: the correlation of the histogram's curvature
    (:func:`curvature`, bins :data:`FIRST_BIN` and up) with the curvature q1 predicts beyond a single quantisation,
    both with their weighted linear trend in k removed (real histograms are not exactly
    Laplacian), weighted by Poisson variance. Steps whose prediction matches single quantisation (q2 a
    multiple of q1) are skipped."""
    h = folded_histogram(coefficients)
    first = FIRST_BIN
    if len(h) < first + 4 or q2 < 2:  # too few bins to read a pattern beyond a trend
        return PeriodicEvidence(None, 0.0, len(h))
    log_h = np.log(h + 0.5)
    observed = curvature(log_h)[first - 1 :]  # bins FIRST_BIN..J-1
    variance = (1 / (h[first:-1] + 0.5) + 0.25 * (1 / (h[first - 1 : -2] + 0.5) + 1 / (h[first + 1 :] + 0.5)))
    j = np.arange(1, len(h))
    slope = float(np.polyfit(j, log_h[1:], 1)[0]) / q2
    slope = min(slope, -1e-3)
    single = curvature(np.log(predicted_counts(0.05, q2, slope, len(h))))[first - 1 :]
    smooth = _weighted_complement(np.vander(np.arange(len(observed), dtype=float), TREND + 1), 1 / variance)
    observed = smooth @ (observed - single)
    best = PeriodicEvidence(None, 0.0, len(h))
    for q1 in range(1, int(max_ratio * q2) + 1):
        if q2 % q1 == 0:
            continue
        d = smooth @ (curvature(np.log(predicted_counts(q1, q2, slope, len(h)) + 1e-12))[first - 1 :] - single)
        norm = np.sqrt(np.sum(d * d / variance))
        if norm < 1e-6:
            continue
        z = float(np.sum(d * observed / variance) / norm)
        if z > best.z:
            best = PeriodicEvidence(q1, z, len(h))
    return best


def _weighted_complement(basis: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """The projection (n, n) that removes from a vector its weighted least-squares fit on the
    columns of ``basis`` (n, p): what is left once a smooth trend is taken out."""
    w = basis * weight[:, None]
    return np.eye(len(basis)) - basis @ np.linalg.solve(basis.T @ w, w.T)


def jpeg_history(data: bytes) -> JpegHistory:
    """The compression history of a JPEG file's bytes (:class:`scanner.core.types.JpegHistory`):
    its quality, and double compression when the sum of the :data:`TOP` largest z-scores of
    :func:`periodic_evidence` over :data:`FREQUENCIES` reaches :data:`EVIDENCE` (the file's own
    grid), or when an earlier compression stands out on a shifted grid
    (:func:`scanner.features.shifted_grid.shifted_grid_evidence`); undetermined when
    fewer than :data:`TOP` coefficients can be read (steps under :data:`MIN_STEP`, or too few
    counts), the image has fewer than :data:`MIN_BLOCKS` blocks, or the statistic reaches
    :data:`DOUBTFUL`; ``none`` otherwise. Raises
    ValueError when libjpeg cannot read the coefficients."""
    stored = read_luminance(data)
    quality, standard = ijg_quality(stored.table)
    found = {(u, v): periodic_evidence(stored.coefficients[:, :, u, v].ravel(), int(stored.table[u, v]))
             for u, v in FREQUENCIES if stored.table[u, v] >= MIN_STEP}
    readable = [e for e in found.values() if e.bins >= 5]
    z = sorted((max(e.z, 0.0) for e in found.values()), reverse=True)
    statistic = float(sum(z[:TOP]))
    grid = shifted_grid_evidence(stored)
    common = dict(quality=quality, standard_table=standard, statistic=statistic, threshold=EVIDENCE,
                  grid_statistic=grid.score, grid_threshold=GRID_EVIDENCE)
    if statistic >= EVIDENCE:
        steps = {f: e.q1 for f, e in found.items() if e.z >= Z_STEP}
        return JpegHistory(double_compression="evidence", earlier_quality=earlier_quality(steps), **common)
    if grid.offset is not None and grid.score >= GRID_EVIDENCE:
        return JpegHistory(double_compression="evidence", earlier_quality=earlier_quality(grid.steps),
                           earlier_grid=grid.offset, **common)
    blocks = stored.coefficients.shape[0] * stored.coefficients.shape[1]
    verdict = "none" if len(readable) >= TOP and blocks >= MIN_BLOCKS and statistic < DOUBTFUL else "undetermined"
    return JpegHistory(double_compression=verdict, **common)


def earlier_quality(steps: dict[tuple[int, int], int]) -> int | None:
    """The IJG quality whose luminance steps agree with most of the earlier ``steps`` found
    {(u, v): step} (the highest such quality on a tie); None without steps."""
    if not steps:
        return None
    tables = ijg_tables()
    agree = sum((tables[:, u, v] == q1).astype(int) for (u, v), q1 in steps.items())
    return int(np.nonzero(agree == agree.max())[0].max()) + 1
