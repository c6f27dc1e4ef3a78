"""Bayar & Stamm's 2016 constrained CNN (spec section 3), the deep baseline of Table II."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .networks import PIXEL_SCALE, window_logits


class BayarNet(nn.Module):
    """Bayar & Stamm (2016) constrained CNN adapted to 128x128 inputs (spec section 3.2).

    conv1 is a bank of 3 prediction-error filters 5x5 (centre -1, other taps summing to 1),
    kept so by :meth:`project_constraint` after every optimiser step (:meth:`after_step`).
    Its off-centre taps start uniform in [0, 1) before the projection, so each filter starts as
    a local average's prediction error; a symmetric start puts the taps' sum near zero, and
    the projection then divides by it, giving taps in the tens. The layer sees grey levels
    divided by :attr:`INPUT_UNIT`, so that its initial output has about unit spread on camera
    photos: on 0..255, SGD at the spec's lr 1e-3 kills every ReLU within about 100 steps
    (docs/training-log.md, session 9).
    """

    INPUT_UNIT = 8.0
    """Grey levels per input unit of the constrained layer (its output has a standard deviation of
    about 5.5 grey levels at initialisation on camera photos, 0.7 units)."""

    def __init__(self, patch_size: int = 128) -> None:
        super().__init__()
        self.constrained = nn.Conv2d(1, 3, 5, bias=False)
        with torch.no_grad():
            self.constrained.weight.uniform_(0.0, 1.0)
        self.features = nn.Sequential(
            nn.Conv2d(3, 96, 7, stride=2), nn.ReLU(), nn.MaxPool2d(3, 2),
            nn.Conv2d(96, 64, 5), nn.ReLU(), nn.MaxPool2d(3, 2),
        )
        with torch.no_grad():
            n_flat = self.features(torch.zeros(1, 3, patch_size - 4, patch_size - 4)).numel()
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(n_flat, 4096), nn.ReLU(), nn.Dropout(0.5),
            nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(0.5), nn.Linear(4096, 2),
        )
        self.project_constraint()

    def after_step(self) -> None:
        """Called after every optimiser step: restore the prediction-error constraint."""
        self.project_constraint()

    @torch.no_grad()
    def project_constraint(self, eps: float = 1e-8) -> None:
        """Centre tap 0, divide by the sum of the off-centre taps, centre tap -1."""
        w = self.constrained.weight
        c = w.shape[-1] // 2
        w[:, :, c, c] = 0
        total = w.sum(dim=(2, 3), keepdim=True)
        total = torch.where(total.abs() < eps, torch.full_like(total, eps).copysign(total), total)
        w /= total
        w[:, :, c, c] = -1

    def prediction_errors(self, x: torch.Tensor) -> torch.Tensor:
        """x: (N, 1, H, W) pixels / 256 -> (N, 3, H-4, W-4) the constrained filters' prediction
        errors, in units of :attr:`INPUT_UNIT` grey levels."""
        return self.constrained(x * (PIXEL_SCALE / self.INPUT_UNIT))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (N, 1, 128, 128) pixels / 256 -> logits (N, 2)."""
        return self.classifier(self.features(self.prediction_errors(x)))

    def grid_logits(self, green: np.ndarray, stride: int = 32, device: torch.device | str = "cpu") -> np.ndarray:
        """Logit difference of every 128x128 window on the grid, window by window."""
        return window_logits(self, green, stride, device)
