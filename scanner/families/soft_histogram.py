"""The soft-max relaxation of the co-occurrence histogram (spec section 2.2): assignments
softmax(alpha * (<r, c_k> - |c_k|^2 / 2)) over the 81 codewords, pooled, with a backward pass that
recomputes them block by block instead of storing them."""

from __future__ import annotations

import torch

SOFTMAX_ALPHA = 2.0**16
"""Soft-max sharpness; 2**16 = 256**2 makes it a unit-temperature soft-max in pixel units."""


EXP_FLOOR = -80.0
"""Soft-max exponents are clamped here (weights below exp(-80) = 2e-35 become that): scores far
below the range keep the CPU's vectorised exp off its slow path (7x faster measured here)."""


def clamped_exp(scaled: torch.Tensor, inplace: bool = False) -> torch.Tensor:
    """exp(scaled - max) over the last axis, exponents clamped at :data:`EXP_FLOOR`: the
    soft-max before its normalisation. ``inplace`` overwrites ``scaled`` (a temporary outside
    autograd) to save memory passes."""
    if not inplace:
        return (scaled - scaled.amax(dim=-1, keepdim=True)).clamp(min=EXP_FLOOR).exp()
    return scaled.sub_(scaled.amax(dim=-1, keepdim=True)).clamp_(min=EXP_FLOOR).exp_()


def soft_assign(scaled: torch.Tensor, inplace: bool = False) -> torch.Tensor:
    """Soft-max over the last axis of alpha-scaled matching scores (:func:`clamped_exp`
    normalised). (..., 81) -> (..., 81), rows summing to 1."""
    e = clamped_exp(scaled, inplace)
    return e.div_(e.sum(dim=-1, keepdim=True)) if inplace else e / e.sum(dim=-1, keepdim=True)


DENSE_CHUNK = 16384
"""Positions per chunk when assignments are reduced on the fly: a chunk's 81 scores
(about 5 MB) stay in cache and below the allocator's mmap threshold."""


GPU_CHUNK = 1 << 22
"""Rows (positions) per chunk on a GPU: whole batches of patches in one product."""


def _blocks(n: int, positions: int, chunk: int):
    """(patch slice, position slice) blocks of about ``chunk`` rows: several whole patches per
    block when a patch has fewer than ``chunk`` positions, else one patch in position chunks."""
    if positions >= chunk:
        for i in range(n):
            for start in range(0, positions, chunk):
                yield slice(i, i + 1), slice(start, start + chunk)
    else:
        per = chunk // positions
        for i in range(0, n, per):
            yield slice(i, i + per), slice(0, positions)


class SoftHistogram(torch.autograd.Function):
    """h[n] = mean over positions s of softmax(alpha * (r[n, s] W^T + b)), shape (N, 81).

    Computed block by block (:data:`DENSE_CHUNK` rows on the CPU, :data:`GPU_CHUNK` on a GPU);
    backward recomputes the assignments instead of storing them, so memory stays at one block
    of 81 scores whatever the patch size. r: (N, P, 4) residual vectors, W: (81, 4), b: (81,).
    """

    @staticmethod
    def forward(ctx, r: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, alpha: float) -> torch.Tensor:
        n, positions, _ = r.shape
        h = torch.zeros(n, weight.shape[0], dtype=torch.float64, device=r.device)
        chunk = DENSE_CHUNK if r.device.type == "cpu" else GPU_CHUNK
        for ps, qs in _blocks(n, positions, chunk):
            rc = r[ps, qs]
            m = torch.addmm(bias, rc.reshape(-1, rc.shape[-1]), weight.t())
            h[ps] += soft_assign(m.mul_(alpha), inplace=True).reshape(rc.shape[0], rc.shape[1], -1).sum(1, dtype=torch.float64)
        ctx.save_for_backward(r, weight, bias)
        ctx.alpha = alpha
        return h / positions

    @staticmethod
    def backward(ctx, grad_h: torch.Tensor):
        r, weight, bias = ctx.saved_tensors
        alpha = ctx.alpha
        n, positions, _ = r.shape
        g = (grad_h / positions).to(r.dtype)
        grad_r = torch.empty_like(r)
        grad_w = torch.zeros_like(weight)
        grad_b = torch.zeros_like(bias)
        chunk = DENSE_CHUNK if r.device.type == "cpu" else GPU_CHUNK
        for ps, qs in _blocks(n, positions, chunk):
            rc = r[ps, qs]
            k, q = rc.shape[:2]
            flat = rc.reshape(-1, rc.shape[-1])
            p = soft_assign(torch.addmm(bias, flat, weight.t()).mul_(alpha), inplace=True).reshape(k, q, -1)
            gp = g[ps][:, None, :]
            # d softmax: dm_k = alpha * p_k * (g_k - sum_j p_j g_j)
            dm = p.mul_(gp - (p * gp).sum(-1, keepdim=True)).mul_(alpha).reshape(k * q, -1)
            grad_b += dm.sum(0)
            grad_w += dm.t() @ flat
            grad_r[ps, qs] = (dm @ weight).reshape(k, q, -1)
        return grad_r, grad_w, grad_b, None


def separable_soft_histogram(u: torch.Tensor, sharpness: torch.Tensor | float) -> torch.Tensor:
    """The soft-max relaxation's histograms (N, 81) float64 for the lattice codebook, from
    step-scaled residual planes u (4, N, P) (:func:`scanner.families.residual_conv.residual_planes`
    divided by the step), factorised (method-spec section 8, lead 1).

    With codewords c = step * digits and biases -|c|^2 / 2 the score alpha * (<r, c> - |c|^2 / 2)
    is a sum over the four digits of ``sharpness * (q u - q^2 / 2)``, q in {-1, 0, 1} and
    ``sharpness`` = alpha * step^2 (the step in pixels squared at alpha 2^16), so the 81-way
    soft-max is the product of four 3-way soft-maxes and each histogram is one (9, P) x (P, 9)
    product of the digit pairs' outer products: about 4 x 27 operations per position instead of
    :class:`SoftHistogram`'s 81 x 9. Equal to :class:`SoftHistogram` with that codebook; unlike
    it, the codewords cannot leave the lattice (only the residual filters and the step train)."""
    _, n, positions = u.shape
    level = torch.softmax(torch.stack([-u - 0.5, torch.zeros_like(u), u - 0.5], dim=-1) * sharpness, dim=-1)
    low = (level[1][..., :, None] * level[0][..., None, :]).flatten(-2)  # (N, P, 9): digit 0 + 3 * digit 1
    high = (level[3][..., :, None] * level[2][..., None, :]).flatten(-2)
    return (torch.bmm(high.transpose(1, 2), low).reshape(n, -1) / positions).to(torch.float64)
