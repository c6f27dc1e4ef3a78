"""The residual convolution of grey images as plain matrix products, fast forward and backward on
the CPU.

A residual layer has one input channel, a few output channels and a small kernel (4x4, 1x7). On
the CPU, oneDNN's forward pass for that shape costs about 12 ms and its weight gradient 11 ms (36
patches of 128x128, a 4x4 kernel, 2 threads). Here both are matrix products with tap matrices,
the input's shifted copies (kept for the backward pass), multiplied by the flattened kernel
forward and by the output gradient backward: about 2 + 2 + 3 ms for that shape.
The output is channel-major, (C, N, h * w): what the straight-through histogram reads, and the
layout whose gradient needs no copy. On a GPU the plain convolution is used.
"""

from __future__ import annotations

import torch
from torch.nn import functional

TAPS_PER_MATRIX = 8
"""Shifted copies per tap matrix: 8 of 36 patches of 128x128 take 18 MB, below the 32 MB from
which the C allocator maps fresh pages for every call (and pays a page fault per 4 kB)."""


def tap_matrices(x: torch.Tensor, kernel_size: tuple[int, int]) -> list[torch.Tensor]:
    """The taps of x (N, 1, H, W) under a kh x kw kernel, as matrices of at most
    :data:`TAPS_PER_MATRIX` rows: row t of the stacked (kh * kw, N * h * w) matrix, t = a * kw + b,
    holds x[n, 0, i + a, j + b] at column (n, i, j), with h, w the valid output size."""
    kh, kw = kernel_size
    n, _, height, width = x.shape
    h, w = height - kh + 1, width - kw + 1
    offsets = [(a, b) for a in range(kh) for b in range(kw)]
    matrices = []
    for first in range(0, len(offsets), TAPS_PER_MATRIX):
        group = offsets[first : first + TAPS_PER_MATRIX]
        taps = torch.empty(len(group), n, h, w, dtype=x.dtype, device=x.device)
        for row, (a, b) in enumerate(group):
            taps[row] = x[:, 0, a : a + h, b : b + w]
        matrices.append(taps.reshape(len(group), -1))
    return matrices


class ResidualPlanes(torch.autograd.Function):
    """Channel-major valid convolution (C, N, h * w) of x (N, 1, H, W) by tap matrices
    (:func:`tap_matrices`); the input gets no gradient (it is the image)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        taps = tap_matrices(x, weight.shape[-2:])
        flat_weight = weight.reshape(len(weight), -1)
        out = bias[:, None].expand(-1, taps[0].shape[1]).contiguous()
        first = 0
        for matrix in taps:
            out.addmm_(flat_weight[:, first : first + len(matrix)], matrix)
            first += len(matrix)
        ctx.save_for_backward(*taps)
        ctx.weight_shape = weight.shape
        return out.reshape(len(bias), x.shape[0], -1)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        taps = ctx.saved_tensors
        flat = grad.reshape(grad.shape[0], -1)  # (C, N * P); a view of a position-major gradient
        grad_w = torch.cat([matrix @ flat.t() for matrix in taps]).t()
        return None, grad_w.reshape(ctx.weight_shape), flat.sum(1)


def residual_planes(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """Valid convolution of grey images x (N, 1, H, W) with ``weight`` (C, 1, kh, kw) and ``bias``
    (C,), channel-major: (C, N, (H - kh + 1) * (W - kw + 1)). On the CPU, for an image that needs
    no gradient, by :class:`ResidualPlanes`."""
    if x.device.type != "cpu" or x.shape[1] != 1 or x.requires_grad:
        return functional.conv2d(x, weight, bias).transpose(0, 1).flatten(2)
    return ResidualPlanes.apply(x, weight, bias)
