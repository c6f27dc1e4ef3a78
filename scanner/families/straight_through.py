"""Straight-through co-occurrence histograms (method-spec section 8, lead 2): the exact hard-max
histogram forward, a gathered surrogate gradient backward.

The input is the residual planes already divided by the quantisation step, ``u = r / step``
(4, N, P): four co-occurring residuals at each of P positions of N patches, channel-major as
:func:`scanner.families.residual_conv.residual_planes` leaves them. Forward, each residual is quantised as :func:`scanner.features.srm.quantize` does
(+1 where u >= 1/2, -1 where u <= -1/2, else 0), the four digits form the code
``sum_n 3**n (q_n + 1)`` and each patch's codes are counted: the SRM histogram bit for bit.

Backward, each quantised residual is treated as if it were linearly interpolated between its
neighbouring levels: the gradient with respect to ``u[:, k]`` is the slope of the loss gradient
table g (81 per patch) between the codes one level up and one level down in digit k, clipped to
the three levels, and zero for residuals beyond the truncation (|u| >= 3/2). To make that one
gather per position, the forward pass keeps a five-level code (levels -2..2, the outer two meaning
"beyond the truncation", 625 codes) and the backward pass builds a (N, 625, 4) slope table, zero
where a digit lies beyond the truncation. Like every straight-through estimator it is biased:
a residual in the middle of a level gets the full slope, though moving it a little changes no count.

The boundary surrogate (:func:`boundary_histogram`) has the same forward and a backward that moves
counts only where a residual can cross a level: the gradient with respect to ``u[:, k]`` is the
difference of the loss gradient between the codes on either side of the nearer boundary (u = +-1/2)
in digit k, times a logistic density of the distance to that boundary. That is the gradient of
the histogram of ``u`` plus logistic noise, which is what the soft-max relaxation computes one digit
at a time (a branch passes the soft-max's sharpness at its step, :data:`BOUNDARY_SHARPNESS` at the
SRM step); there the other three digits are taken at their hard levels.

``benchmarks/studies/straight_through.py`` measures whether steps along either surrogate lower the
exact loss. On 8-bit photos they do not (docs/training-log.md, runs 33-34): residuals are integers,
and the histogram changes in whole atoms that a smoothed slope does not predict. A soft forward
(:func:`~.soft_histogram.separable_soft_histogram`) does descend (run 35).
"""

from __future__ import annotations

import torch
from torch import nn

from ..features.srm import LEVELS, N_CODES, ORDER, QUANT_STEP
from .soft_histogram import separable_soft_histogram

TRUNCATION = 1.5
"""|u| at and beyond which a residual lies past the outer quantisation level and gets no gradient."""

WIDE_LEVELS = 5
"""Levels of the wide code: the three quantisation levels and one beyond the truncation on each side."""

N_WIDE_CODES = WIDE_LEVELS**ORDER

BOUNDARY_SHARPNESS = QUANT_STEP**2
"""Slope (per unit of u = r / step) of the boundary surrogate's logistic: the soft-max relaxation's
at alpha 2^16 and the SRM step 4.5 px, whose two-level score difference is step^2 (u - 1/2) in pixel units."""


def _digit_tables() -> dict[str, torch.Tensor]:
    """Index tables between the 625 wide codes and the 81 codes (int64, but the ``inside`` mask
    and the ``fold`` matrix (625, 81) that sums wide-code counts into code counts)."""
    place = torch.tensor([LEVELS**n for n in range(ORDER)])
    code = torch.arange(N_CODES)[:, None]
    level = code // place % LEVELS
    up, down = code + (level < LEVELS - 1) * place, code - (level > 0) * place
    wide = torch.arange(N_WIDE_CODES)[:, None] // torch.tensor([WIDE_LEVELS**n for n in range(ORDER)]) % WIDE_LEVELS
    clipped = (wide - 1).clamp(0, LEVELS - 1)
    narrow = (clipped * place).sum(1)
    side = torch.arange(2)[None, None, :]
    lower = code[:, :, None] + (side - level[:, :, None]) * place[None, :, None]
    return {"up": up, "down": down, "span": (up - down) // place, "narrow": narrow,
            "upper_side": (lower + place[None, :, None]).reshape(-1), "lower_side": lower.reshape(-1),
            "inside": (wide > 0) & (wide < WIDE_LEVELS - 1),
            "fold": nn.functional.one_hot(narrow, N_CODES).to(torch.float64)}


_TABLES = _digit_tables()


def _table(name: str, device: torch.device) -> torch.Tensor:
    return _TABLES[name].to(device)


def wide_codes(u: torch.Tensor) -> torch.Tensor:
    """Wide codes (...) in 0..624, int32, of step-scaled residuals u (4, ...): digit n is
    ``q_n + 2`` with q in -2..2 (|q| = 2 beyond the truncation); quantisation as
    :func:`scanner.features.srm.quantize` (q >= 1 exactly where u >= 1/2, q <= -1 where u <= -1/2).
    Computed in bytes, four comparisons per residual: the pass is memory-bound."""
    level = (u >= 0.5).to(torch.int8)
    level += u >= TRUNCATION
    level -= (u <= -0.5).to(torch.int8)
    level -= (u <= -TRUNCATION).to(torch.int8)
    code = torch.full(u.shape[1:], (WIDE_LEVELS**ORDER - 1) // 2, dtype=torch.int32, device=u.device)
    for n in range(ORDER):
        code += WIDE_LEVELS**n * level[n].to(torch.int32)
    return code


def narrow_codes(wide: torch.Tensor) -> torch.Tensor:
    """The SRM codes (0..80, :func:`scanner.features.srm.codebook` ordering) of wide codes."""
    return _table("narrow", wide.device)[wide]


def slope_table(table: torch.Tensor) -> torch.Tensor:
    """Surrogate derivative of a per-code loss gradient ``table`` (N, 81) along each digit, per
    wide code: (N, 625, 4), the slope between the codes one level up and one level down
    (clipped to the three levels), zero for a digit beyond the truncation."""
    up, down, span = (_table(k, table.device) for k in ("up", "down", "span"))
    slopes = (table[:, up] - table[:, down]) / span.to(table.dtype)
    return slopes[:, _table("narrow", table.device)] * _table("inside", table.device).to(table.dtype)


class StraightThroughHistogram(torch.autograd.Function):
    """h[n] = bincount(code(u[:, n])) / P, shape (N, 81) float64, of u (4, N, P) step-scaled
    residual planes; backward as the module docstring says."""

    @staticmethod
    def forward(ctx, u: torch.Tensor) -> torch.Tensor:
        wide, histogram = _hard_counts(u)
        ctx.save_for_backward(wide)
        ctx.dtype = u.dtype
        return histogram

    @staticmethod
    def backward(ctx, grad_h: torch.Tensor):
        (wide,) = ctx.saved_tensors
        n, positions = wide.shape
        slopes = slope_table((grad_h / positions).to(ctx.dtype)).reshape(-1, ORDER)
        # one gather of 4-vectors; the gradient stays position-major, (4, N, P) as a view
        return slopes.index_select(0, wide.reshape(-1)).reshape(n, positions, ORDER).permute(2, 0, 1)


def boundary_table(table: torch.Tensor) -> torch.Tensor:
    """Loss-gradient differences (N, 81 * 4 * 2) across the boundaries of a per-code table (N, 81):
    entry (code, digit k, side) is table[code with digit k one level above the boundary] minus
    table[code with digit k below it], side 0 the boundary at u = -1/2, side 1 at u = +1/2."""
    return table[:, _table("upper_side", table.device)] - table[:, _table("lower_side", table.device)]


def _hard_counts(u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Wide codes (N, P) of u (4, N, P), each patch's offset by 625 times its index, and the
    histograms (N, 81) float64 they count."""
    _, n, positions = u.shape
    wide = wide_codes(u) + torch.arange(0, n * N_WIDE_CODES, N_WIDE_CODES, dtype=torch.int32, device=u.device)[:, None]
    counts = torch.bincount(wide.reshape(-1), minlength=n * N_WIDE_CODES).reshape(n, N_WIDE_CODES)
    histogram = (counts.to(torch.float64) @ _table("fold", u.device)) / torch.tensor(float(positions), dtype=torch.float64, device=u.device)
    return wide, histogram


class BoundaryHistogram(torch.autograd.Function):
    """h[n] as :class:`StraightThroughHistogram`; backward by the boundary surrogate (module
    docstring) with logistic slope ``sharpness`` per unit of u."""

    @staticmethod
    def forward(ctx, u: torch.Tensor, sharpness: float) -> torch.Tensor:
        wide, histogram = _hard_counts(u)
        ctx.save_for_backward(u, wide)
        ctx.sharpness = sharpness
        return histogram

    @staticmethod
    def backward(ctx, grad_h: torch.Tensor):
        u, wide = ctx.saved_tensors
        _, n, positions = u.shape
        table = boundary_table((grad_h / positions).to(u.dtype))
        slot = narrow_codes(wide % N_WIDE_CODES).to(torch.int64) * (2 * ORDER)
        index = slot[None] + 2 * torch.arange(ORDER, device=u.device)[:, None, None] + (u >= 0)
        crossing = table.gather(1, index.permute(1, 0, 2).reshape(n, -1)).reshape(n, ORDER, positions).permute(1, 0, 2)
        logistic = torch.sigmoid(ctx.sharpness * (u.abs() - 0.5))
        return crossing * (ctx.sharpness * logistic * (1 - logistic)), None


def straight_through_histogram(u: torch.Tensor) -> torch.Tensor:
    """Hard co-occurrence histograms (N, 81) of step-scaled residual planes u (4, N, P) with the
    straight-through gradient (:class:`StraightThroughHistogram`)."""
    return StraightThroughHistogram.apply(u)


def boundary_histogram(u: torch.Tensor, sharpness: float = BOUNDARY_SHARPNESS) -> torch.Tensor:
    """Hard co-occurrence histograms (N, 81) of step-scaled residual planes u (4, N, P) with the
    boundary surrogate gradient (:class:`BoundaryHistogram`)."""
    return BoundaryHistogram.apply(u, sharpness)


SURROGATES = ("interpolated", "boundary", "separable")
"""The histograms a straight-mode branch can train through: hard counts with the interpolated
slope (spec 8) or the boundary surrogate backward, or the soft-max relaxation of the step's
lattice codebook (:func:`~.soft_histogram.separable_soft_histogram`, soft forward too: for
studies, since straight mode scans with hard codes)."""


def straight_mode_histogram(u: torch.Tensor, surrogate: str = "interpolated", sharpness: torch.Tensor | float = BOUNDARY_SHARPNESS) -> torch.Tensor:
    """Co-occurrence histograms (N, 81) of step-scaled residual planes u (4, N, P) by the named
    :data:`SURROGATES` entry; ``sharpness`` (per unit of u) is the boundary surrogate's and the
    separable soft-max's slope, the soft-max's alpha times the step squared."""
    if surrogate == "interpolated":
        return straight_through_histogram(u)
    if surrogate == "boundary":
        return boundary_histogram(u, float(sharpness.detach()) if torch.is_tensor(sharpness) else sharpness)
    if surrogate == "separable":
        return separable_soft_histogram(u, sharpness)
    raise ValueError(f"surrogate must be one of {', '.join(SURROGATES)}, not {surrogate!r}")
