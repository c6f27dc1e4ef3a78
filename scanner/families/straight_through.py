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
where a digit lies beyond the truncation. Like every straight-through estimator it is biased;
``benchmarks/studies/straight_through.py`` compares it with the soft-max relaxation.
"""

from __future__ import annotations

import torch
from torch import nn

from ..features.srm import LEVELS, N_CODES, ORDER

TRUNCATION = 1.5
"""|u| at and beyond which a residual lies past the outer quantisation level and gets no gradient."""

WIDE_LEVELS = 5
"""Levels of the wide code: the three quantisation levels and one beyond the truncation on each side."""

N_WIDE_CODES = WIDE_LEVELS**ORDER


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
    return {"up": up, "down": down, "span": (up - down) // place, "narrow": narrow,
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
        _, n, positions = u.shape
        wide = wide_codes(u) + torch.arange(0, n * N_WIDE_CODES, N_WIDE_CODES, dtype=torch.int32, device=u.device)[:, None]
        counts = torch.bincount(wide.reshape(-1), minlength=n * N_WIDE_CODES).reshape(n, N_WIDE_CODES)
        ctx.save_for_backward(wide)
        ctx.dtype = u.dtype
        return (counts.to(torch.float64) @ _table("fold", u.device)) / torch.tensor(float(positions), dtype=torch.float64, device=u.device)

    @staticmethod
    def backward(ctx, grad_h: torch.Tensor):
        (wide,) = ctx.saved_tensors
        n, positions = wide.shape
        slopes = slope_table((grad_h / positions).to(ctx.dtype)).reshape(-1, ORDER)
        # one gather of 4-vectors; the gradient stays position-major, (4, N, P) as a view
        return slopes.index_select(0, wide.reshape(-1)).reshape(n, positions, ORDER).permute(2, 0, 1)


def straight_through_histogram(u: torch.Tensor) -> torch.Tensor:
    """Hard co-occurrence histograms (N, 81) of step-scaled residual planes u (4, N, P) with the
    straight-through gradient (:class:`StraightThroughHistogram`)."""
    return StraightThroughHistogram.apply(u)
