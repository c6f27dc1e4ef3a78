"""The shipped bank as one recast network (issue 30, part 3): every submodel of an
:class:`~scanner.families.bank.SRMBank` as a pair of recast branches in straight mode, pooled over
the bank's anchor square, the square root the heads read, and the task heads, so that the bank can
be fine-tuned end to end (filters, quantisation steps, heads) with the straight-through gradient.

Built from a bank (:meth:`BankNetwork.from_bank`), its task logits equal the bank's to float
precision (tested): the histograms are the numpy descriptor bit for bit. The chroma histogram and
the JPEG lattice features do not train here; they enter as fixed side descriptors
(:func:`side_descriptors`), computed by the bank's own numpy code.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..core.constants import PATCH
from ..features import chroma as chroma_codes
from ..features.srm import ANCHOR_MARGIN, N_CODES, Submodel
from .bank import SRMBank, split_planes
from .networks import to_input
from .recast import CooccurrenceBranch


class SurrogateSqrt(torch.autograd.Function):
    """sqrt(h) forward; backward 1 / (2 sqrt(max(h, floor))): an empty bin's derivative is finite,
    that of a bin holding ``floor`` (one code of a window), so that the straight-through gradient
    never gathers an infinity."""

    @staticmethod
    def forward(ctx, h: torch.Tensor, floor: float) -> torch.Tensor:
        root = h.sqrt()
        ctx.save_for_backward(root)
        ctx.floor = floor
        return root

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (root,) = ctx.saved_tensors
        return grad / (2 * root.clamp(min=ctx.floor**0.5)), None


class BankNetwork(nn.Module):
    """Submodel branches (across and along per submodel, straight mode), anchor-square pooling,
    the feature transform, fixed side features and linear task heads (float64).

    forward(x, side): x (N, 1, P, P) network input of the green channel (:func:`to_input`),
    side (N, S) raw side descriptors (:func:`side_descriptors`), the first ``n_chroma`` of them
    histogram bins that take the transform -> task logits (N, T), float64."""

    def __init__(self, submodels: tuple[Submodel, ...], n_side: int, task_names: list[str], sqrt: bool = True,
                 n_chroma: int = 0, patch: int = PATCH) -> None:
        super().__init__()
        self.submodels = tuple(submodels)
        self.task_names = list(task_names)
        self.sqrt = sqrt
        self.n_chroma = n_chroma
        self.extent = patch - ANCHOR_MARGIN
        self.branches = nn.ModuleList(CooccurrenceBranch(direction, s.kernel, s.step)
                                      for s in submodels for direction in ("across", "along"))
        for branch in self.branches:
            branch.load_srm()
        self.heads = nn.Linear(N_CODES * len(self.branches) + n_side, len(task_names), dtype=torch.float64)

    @classmethod
    def from_bank(cls, bank: SRMBank) -> "BankNetwork":
        """The network of ``bank``: its submodels at their SRM filters and steps, its task heads."""
        n_side = bank.tasks.weight.shape[1] - N_CODES * 2 * len(bank.submodels)
        net = cls(bank.submodels, n_side, bank.tasks.names, bank.feature_transform == "sqrt",
                  chroma_codes.N_FEATURES if bank.chroma else 0)
        with torch.no_grad():
            net.heads.weight.copy_(torch.as_tensor(bank.tasks.weight))
            net.heads.bias.copy_(torch.as_tensor(bank.tasks.bias))
        return net

    def histograms(self, x: torch.Tensor) -> torch.Tensor:
        """The submodels' pooled histograms (N, 162 * submodels), float64, in the bank's order."""
        return torch.cat([branch.straight_histogram_pair(x, self.extent) for branch in self.branches], dim=1)

    def forward(self, x: torch.Tensor, side: torch.Tensor) -> torch.Tensor:
        side = side.to(torch.float64)
        h = torch.cat([self.histograms(x), side[:, : self.n_chroma]], dim=1)
        if self.sqrt:
            h = SurrogateSqrt.apply(h, 1.0 / self.extent**2)
        return self.heads(torch.cat([h, side[:, self.n_chroma :]], dim=1))

    def task_logits(self, patches: np.ndarray, side: np.ndarray) -> np.ndarray:
        """Task logits (N, T) of uint8 patches (N, P, P[, 3]) and their :func:`side_descriptors`."""
        green = split_planes(np.asarray(patches), stacked=True)[0]
        with torch.no_grad():
            return self(to_input(green), torch.as_tensor(side)).numpy()
