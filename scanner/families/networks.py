"""What every network detector shares: its input convention, float tensors (N, 1, H, W) holding
green-channel pixels divided by 256 (:func:`to_input`), and scoring the windows of an image one
by one (:func:`window_logits`)."""

from __future__ import annotations

import numpy as np
import torch

from ..core.windows import window_grid

PIXEL_SCALE = 256.0
"""Network inputs are pixels / 256 (spec 2.1)."""


def to_input(patches: np.ndarray | torch.Tensor, device: torch.device | str = "cpu") -> torch.Tensor:
    """uint8 patches (N, H, W) or (H, W) -> float32 tensor (N, 1, H, W) of pixels / 256."""
    x = torch.tensor(np.asarray(patches), dtype=torch.float32, device=device)
    while x.dim() < 4:
        x = x.unsqueeze(0) if x.dim() < 3 else x.unsqueeze(1)
    return x / PIXEL_SCALE


@torch.no_grad()
def window_logits(net: torch.nn.Module, green: np.ndarray, stride: int = 32, device: torch.device | str = "cpu",
                  window: int = 128, batch_size: int = 64) -> np.ndarray:
    """Logit difference of every window on the grid, each window cut out and scored on its own
    (the reference for :func:`dense_logits`; the only path for non-recast networks)."""
    tops, lefts = window_grid(*green.shape, stride, window)
    corners = [(t, l) for t in tops for l in lefts]
    out = np.empty(len(corners))
    for start in range(0, len(corners), batch_size):
        batch = np.stack([green[t : t + window, l : l + window] for t, l in corners[start : start + batch_size]])
        logits = net(to_input(batch, device))
        out[start : start + len(batch)] = (logits[:, 1] - logits[:, 0]).double().cpu().numpy()
    return out.reshape(len(tops), len(lefts))
