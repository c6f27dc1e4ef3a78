"""The SRM descriptor recast as a CNN (spec section 2): residual convolutions, codeword
assignment (hard-max, a soft-max with a custom backward, or hard-max with a straight-through
gradient), pooled co-occurrence histograms and a linear head; and its dense scoring of a whole image."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..core.windows import box_sums_2d, window_grid
from ..features.srm import (
    N_CODES,
    N_FEATURES,
    ORDER,
    QUANT_STEP,
    RESIDUAL_FILTER,
    code_histogram,
    codebook,
    cooccurrence_codes,
    quantize,
    residual,
)
from .networks import PIXEL_SCALE, to_input
from .residual_conv import residual_planes
from .soft_histogram import DENSE_CHUNK, SOFTMAX_ALPHA, SoftHistogram, clamped_exp, soft_assign
from .straight_through import narrow_codes, straight_mode_histogram, wide_codes

MODES = ("hard", "soft", "straight")
"""Codeword assignment: hard-max through the codeword layer, its soft-max relaxation, or hard codes
from the branch's quantisation step with the straight-through gradient (:mod:`.straight_through`)."""


def branch_kernels(taps: int = len(RESIDUAL_FILTER)) -> dict[str, tuple[int, int]]:
    """conv1 support per branch for a residual filter of ``taps`` taps: across is 4 x taps,
    along is 1 x (taps + 3); for the paper's filter 4x4 and 1x7 (its 5x5 cannot hold the latter)."""
    return {"across": (ORDER, taps), "along": (1, taps + ORDER - 1)}


STRIP_ROWS = 256
"""Pixel rows per strip in dense evaluation (plus a 6-row overlap)."""


class CooccurrenceBranch(nn.Module):
    """Residual filter bank -> codeword layer -> hard-max or soft-max.

    The codeword layer is the paper's 1x1 convolution with 81 filters, applied
    channels-last as a ``Linear(4, 81)`` (weights = codewords, bias = -||c||^2 / 2).
    ``direction`` (across or along) and the SRM submodel ``kernel``, ``step`` the branch
    starts from; the latter two also define the control variate of sampled histograms.
    In ``straight`` mode the codeword layer is replaced by the three-level quantiser of the
    trainable ``step`` (in network input units, pixel / :data:`PIXEL_SCALE`): the codebook of that step, exactly;
    ``surrogate`` (one of :data:`~.straight_through.SURROGATES`) names the gradient its histograms take.
    """

    surrogate: str = "interpolated"

    def __init__(self, direction: str, kernel: np.ndarray = RESIDUAL_FILTER, step: float = QUANT_STEP) -> None:
        super().__init__()
        self.direction = direction
        self.srm_kernel, self.srm_step = np.asarray(kernel), float(step)
        self.residual = nn.Conv2d(1, ORDER, branch_kernels(len(kernel))[direction])
        self.codebook = nn.Linear(ORDER, N_CODES)
        self.log_step = nn.Parameter(torch.tensor(float(step) / PIXEL_SCALE).log())

    @property
    def step(self) -> torch.Tensor:
        """The quantisation step of straight mode, in network input units: exp(``log_step``). The
        logarithm is what trains, so that an optimiser's step moves it in proportion to its size
        (Adam moves every parameter by about its learning rate, and the step is about 0.02), and it
        stays positive; it takes no weight decay (:func:`scanner.training.networks.parameter_groups`)."""
        return self.log_step.exp()

    @torch.no_grad()
    def load_srm(self) -> None:
        """Set the filters, codewords and step to the branch's SRM submodel (``srm_kernel``,
        ``srm_step``): conv channel n holds the residual filter shifted by n along the direction's
        axis, the codewords are the step times the 81 digit vectors, bias -|c|^2 / 2."""
        delta = self.srm_step / PIXEL_SCALE
        digits = torch.as_tensor(codebook(), dtype=torch.float32)
        taps = torch.as_tensor(self.srm_kernel, dtype=torch.float32)
        weight = torch.zeros_like(self.residual.weight)
        for n in range(ORDER):
            if self.direction == "across":
                weight[n, 0, n, : len(taps)] = taps
            else:
                weight[n, 0, 0, n : n + len(taps)] = taps
        self.residual.weight.copy_(weight)
        self.residual.bias.zero_()
        self.codebook.weight.copy_(delta * digits)
        self.codebook.bias.copy_(-(delta**2) * (digits != 0).sum(dim=1) / 2)
        self.log_step.fill_(float(np.log(delta)))

    @torch.no_grad()
    def project_high_pass(self) -> None:
        """Make every residual filter high-pass again: taps summing to zero, no offset. The SRM
        filters are; straight-mode training trains them through :meth:`high_pass_taps` and restores
        the stored taps after each step, so that the convolution that scans (:meth:`residuals`)
        computes the filters that trained: Adam's per-tap normalisation lets the taps' sum drift
        (by about the learning rate per step), and a filter with a non-zero sum adds the local
        brightness to its residuals (measured: the loss of blur 0.5 rose from 0.27 to 0.28 in 300
        steps at lr 1e-6, and to about 5 in 9 epochs)."""
        self.residual.weight.sub_(self.residual.weight.mean(dim=(1, 2, 3), keepdim=True))
        self.residual.bias.zero_()

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        """Cards written before the trainable step (scanner < 0.10.0) take it from their
        codebook: the largest codeword coordinate, which is the step of an SRM-initialised branch."""
        if prefix + "log_step" not in state_dict and prefix + "codebook.weight" in state_dict:
            state_dict[prefix + "log_step"] = state_dict[prefix + "codebook.weight"].abs().max().log()
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def quantized_codes(self, r: torch.Tensor) -> torch.Tensor:
        """Codes (...) in 0..80 of residual vectors r (..., 4) quantised with the branch's step
        (``straight`` mode's forward; with an SRM step, the codebook's hard-max)."""
        return narrow_codes(wide_codes(r.movedim(-1, 0) / self.step))

    def scaled_planes(self, x: torch.Tensor, transposed: bool = False) -> torch.Tensor:
        """Residuals divided by the step, channel-major (4, N, h * w), of x (N, 1, H, W), or of its transpose
        up to the order of positions: the convolution with its taps (transposed) and bias divided
        by the step, so neither the division nor the transpose costs anything per position."""
        weight, bias = self.scaled_filter()
        return residual_planes(x, weight.transpose(-1, -2) if transposed else weight, bias)

    def sharpness(self) -> torch.Tensor:
        """The soft-max's slope per unit of u = r / step at the branch's step: alpha * step^2
        (20.25 at the SRM step 4.5 px), which the boundary and separable surrogates use."""
        return SOFTMAX_ALPHA * self.step**2

    def high_pass_taps(self) -> torch.Tensor:
        """The residual filters' taps (4, 1, kh, kw) less each filter's mean tap: the SRM filters
        themselves (their taps sum to zero), and the gradient that reaches the taps through them is
        the projection onto zero-sum filters. Without it, the taps' gradient is almost all the
        common part that adds the local brightness (100 times the rest on blur 0.5 patches, session
        21), Adam's normalised steps follow that part, and :meth:`project_high_pass` then undoes them."""
        weight = self.residual.weight
        return weight - weight.mean(dim=(1, 2, 3), keepdim=True)

    def scaled_filter(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The high-pass residual taps (4, 1, kh, kw) (:meth:`high_pass_taps`) divided by the step,
        and a zero bias (4,): straight mode's residuals have no offset."""
        return self.high_pass_taps() / self.step, torch.zeros_like(self.residual.bias)

    def straight_histogram_pair(self, x: torch.Tensor, extent: int | None = None) -> torch.Tensor:
        """Mean (N, 81) of the straight-mode histograms of x (N, 1, H, W) and of its transpose
        (the transposed kernel on x, codes anchored at their top-left pixel); with ``extent``, of
        the codes anchored in the top-left extent x extent pixels only (the bank's anchor square).
        A square kernel and its transpose read the same taps: then both come from one product."""
        weight, bias = self.scaled_filter()
        transposed = weight.transpose(-1, -2)

        def anchored(kernel: torch.Tensor) -> torch.Tensor:
            return x if extent is None else x[..., : extent + kernel.shape[-2] - 1, : extent + kernel.shape[-1] - 1]

        if weight.shape[-2] != weight.shape[-1]:
            pair = residual_planes(anchored(weight), weight, bias), residual_planes(anchored(transposed), transposed, bias)
        else:
            pair = residual_planes(anchored(weight), torch.cat([weight, transposed]), torch.cat([bias, bias])).split(ORDER)
        sharpness = self.sharpness()
        return (straight_mode_histogram(pair[0], self.surrogate, sharpness)
                + straight_mode_histogram(pair[1], self.surrogate, sharpness)) / 2

    def srm_codes(self, x: torch.Tensor) -> np.ndarray:
        """Codes (N, h, w) in 0..80 of the branch's SRM submodel (fixed, not trained) on the
        grid of :meth:`residuals`: what hard-max assigns at initialisation (:meth:`RecastNet.from_srm`)."""
        pixels = (x[:, 0].detach() * PIXEL_SCALE).round().cpu().numpy().astype(np.int32)
        return cooccurrence_codes(quantize(residual(pixels, -1, self.srm_kernel), self.srm_step), self.direction, -1)

    def residuals(self, x: torch.Tensor) -> torch.Tensor:
        """Residual vectors (N, h, w, 4) of x (N, 1, H, W); h, w as a valid convolution."""
        return self.residual(x).permute(0, 2, 3, 1)

    def sampled_residuals(self, x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """Residual vectors (N, k, 4) of x (N, 1, H, W) at ``positions`` (k,), flat indices into
        the (h, w) grid of :meth:`residuals`: the convolution evaluated at those positions only,
        by gathering each tap's pixels (equal to ``residuals(x)`` there)."""
        kh, kw = self.residual.kernel_size
        width = x.shape[-1] - kw + 1
        rows, cols = positions // width, positions % width
        taps = torch.stack([x[:, 0, rows + a, cols + b] for a in range(kh) for b in range(kw)], dim=-1)
        return taps @ self.residual.weight.reshape(ORDER, -1).t() + self.residual.bias

    def assign(self, r: torch.Tensor, mode: str, alpha: float) -> torch.Tensor:
        """Codeword assignments (..., 81) of residual vectors (..., 4): one-hot of the best
        matching score m_k = <r, c_k> + b_k (hard) or softmax(alpha * m) (soft); in straight mode
        the one-hot of :meth:`quantized_codes`."""
        if mode == "straight":
            return nn.functional.one_hot(self.quantized_codes(r), N_CODES).to(r.dtype)
        m = self.codebook(r)
        if mode == "hard":
            return nn.functional.one_hot(m.argmax(dim=-1), N_CODES).to(m.dtype)
        return soft_assign(alpha * m)

    def forward(self, x: torch.Tensor, mode: str, alpha: float) -> torch.Tensor:
        """Assignments (N, h, w, 81) of every valid position of x (N, 1, H, W)."""
        return self.assign(self.residuals(x), mode, alpha)

    def histogram(self, x: torch.Tensor, mode: str, alpha: float, sample: int | None = None,
                  generator: torch.Generator | None = None, control_variate: bool = True,
                  transposed: bool = False) -> torch.Tensor:
        """Average-pooled assignments (N, 81), float64, of x (N, 1, H, W), or of its transpose.

        Hard mode counts the arg-max codes exactly; soft mode uses :class:`SoftHistogram`;
        straight mode counts :meth:`quantized_codes` with the straight-through gradient.
        With ``sample`` (soft mode only) the mean is taken over that many positions drawn at
        random without replacement (the same draw for the whole batch): an unbiased estimate of
        the full histogram at a fraction of the cost. With ``control_variate`` the estimate is

            mean_sampled(soft) - mean_sampled(onehot(c)) + mean_all(onehot(c)),

        c the branch's fixed SRM codes (:meth:`srm_codes`, cheap to count everywhere): still
        unbiased, and far less noisy while the soft-max stays near the SRM it started from.
        The gradient is that of the sampled soft-max alone."""
        if mode == "straight" and sample is None:
            return straight_mode_histogram(self.scaled_planes(x, transposed), self.surrogate, self.sharpness())
        if transposed:
            x = x.transpose(-1, -2)
        if sample is not None:
            if mode != "soft":
                raise ValueError("position sampling is for training, in soft mode")
            kh, kw = self.residual.kernel_size
            grid_size = (x.shape[-2] - kh + 1) * (x.shape[-1] - kw + 1)
            positions = torch.randperm(grid_size, generator=generator)[:sample]
            h = SoftHistogram.apply(self.sampled_residuals(x, positions.to(x.device)), self.codebook.weight, self.codebook.bias, alpha)
            if not control_variate:
                return h
            codes = self.srm_codes(x).reshape(len(x), -1)
            correction = code_histogram(codes) - code_histogram(codes[:, positions.numpy()])
            return h + torch.as_tensor(correction, dtype=h.dtype, device=h.device)
        r = self.residuals(x)
        flat = r.reshape(r.shape[0], -1, ORDER)
        if mode == "soft":
            return SoftHistogram.apply(flat, self.codebook.weight, self.codebook.bias, alpha)
        with torch.no_grad():
            counts = torch.zeros(flat.shape[0], N_CODES, dtype=torch.float64, device=x.device)
            for i in range(flat.shape[0]):
                for start in range(0, flat.shape[1], DENSE_CHUNK):
                    codes = self.codebook(flat[i, start : start + DENSE_CHUNK]).argmax(dim=-1)
                    counts[i] += torch.bincount(codes, minlength=N_CODES).to(torch.float64)
            # a tensor divisor: CUDA divides by a Python scalar through its reciprocal, 1 ulp off numpy
            return counts / torch.tensor(float(flat.shape[1]), dtype=torch.float64, device=x.device)

    @torch.no_grad()
    def project(self, x: torch.Tensor, u: torch.Tensor, mode: str, alpha: float) -> torch.Tensor:
        """Per-pixel projection <p_s, u> of the assignments onto weights u (81,), computed
        in chunks so the 81-channel map is never held in full. x: (1, 1, H, W) -> (h, w)."""
        r = self.residuals(x)[0]
        flat = r.reshape(-1, ORDER)
        out = torch.empty(flat.shape[0], dtype=u.dtype, device=x.device)
        weights = torch.stack([u, torch.ones_like(u)], dim=1)  # numerator and normaliser in one product
        for start in range(0, flat.shape[0], DENSE_CHUNK):
            chunk = flat[start : start + DENSE_CHUNK]
            if mode != "soft":
                codes = self.quantized_codes(chunk) if mode == "straight" else self.codebook(chunk).argmax(dim=-1)
                out[start : start + DENSE_CHUNK] = u[codes]
                continue
            ratio = clamped_exp(self.codebook(chunk).mul_(alpha), inplace=True) @ weights
            out[start : start + DENSE_CHUNK] = ratio[:, 0] / ratio[:, 1]
        return out.reshape(r.shape[:2])


class RecastNet(nn.Module):
    """The SRM descriptor as a CNN: twin across/along branches applied to the image and to
    its transpose with tied weights, global average pooling, and a linear head 162 -> 2.

    ``mode='hard'`` uses hard-max (exact SRM histograms once initialised by
    :meth:`from_srm`); ``mode='soft'`` uses soft-max with sharpness ``alpha``;
    ``mode='straight'`` uses the hard codes of each branch's trainable step with the
    straight-through gradient (exact SRM histograms too, and hard-max's scanning speed), the
    ``surrogate`` one of :data:`~.straight_through.SURROGATES`.
    ``sample_positions`` (soft mode, training only): each histogram of a training forward pass
    averages that many randomly drawn positions instead of all ~15600 of a 128x128 patch, with
    the SRM codes as control variate (:meth:`CooccurrenceBranch.histogram`): an unbiased
    estimate of the histogram (the loss, non-linear in it, is then slightly biased); evaluation
    (``net.eval()``) always uses every position.
    """

    sample_positions: int | None = None

    def after_step(self) -> None:
        """Called after every optimiser step: in straight mode the residual filters are made
        high-pass again (:meth:`CooccurrenceBranch.project_high_pass`); the soft-max network, as
        the paper trains it, has no constraint to restore."""
        if self.mode == "straight":
            for _, branch in self.branches():
                branch.project_high_pass()

    def __init__(self, mode: str = "soft", alpha: float = SOFTMAX_ALPHA, kernel: np.ndarray = RESIDUAL_FILTER,
                 step: float = QUANT_STEP, surrogate: str = "interpolated") -> None:
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
        self.mode = mode
        self.alpha = alpha
        self.across = CooccurrenceBranch("across", kernel, step)
        self.along = CooccurrenceBranch("along", kernel, step)
        self.head = nn.Linear(N_FEATURES, 2)
        self.across.surrogate = self.along.surrogate = surrogate

    @classmethod
    def from_srm(cls, exact: bool = True, alpha: float = SOFTMAX_ALPHA, kernel: np.ndarray = RESIDUAL_FILTER,
                 step: float = QUANT_STEP, mode: str | None = None, surrogate: str = "interpolated") -> "RecastNet":
        """Network hard-wired to an SRM submodel (default the paper's: third-order residual,
        step 4.5; any 1-D residual ``kernel`` and quantisation ``step`` in pixel units), in
        hard-max if ``exact``, else soft-max with ``alpha``, or in ``mode`` (one of :data:`MODES`)
        where given, with straight mode's ``surrogate`` gradient; the head is zero until trained or set from an SVM."""
        net = cls(mode=mode or ("hard" if exact else "soft"), alpha=alpha, kernel=kernel, step=step, surrogate=surrogate)
        for _, branch in net.branches():
            branch.load_srm()
        with torch.no_grad():
            net.head.weight.zero_()
            net.head.bias.zero_()
        return net

    def branches(self) -> list[tuple[str, CooccurrenceBranch]]:
        """The two branches in feature order: across (bins 0..80), along (81..161)."""
        return [("across", self.across), ("along", self.along)]

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled histograms (N, 162), float64: for each branch the mean of the average-pooled
        assignments on the image and on its transpose (tied weights)."""
        sample = self.sample_positions if self.training else None
        halves = []
        for _, branch in self.branches():
            if self.mode == "straight":
                halves.append(branch.straight_histogram_pair(x))
                continue
            horizontal = branch.histogram(x, self.mode, self.alpha, sample)
            vertical = branch.histogram(x, self.mode, self.alpha, sample, transposed=True)
            halves.append((horizontal + vertical) / 2)
        return torch.cat(halves, dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits (N, 2): index 1 = manipulated."""
        return self.head(self.features(x).to(self.head.weight.dtype))

    def grid_logits(self, green: np.ndarray, stride: int = 32, device: torch.device | str = "cpu") -> np.ndarray:
        """Logit difference of every 128x128 window on the grid, densely (:func:`dense_logits`)."""
        return dense_logits(self, green, stride, device)


@torch.no_grad()
def dense_logits(net: RecastNet, green: np.ndarray, stride: int = 32, device: torch.device | str = "cpu",
                 window: int = 128) -> np.ndarray:
    """Logit difference (processed - pristine) of every window on the grid, densely.

    green: uint8 (H, W). Returns float64 (len(tops), len(lefts)) as :func:`scanner.core.windows.window_grid`.
    Equals scoring each window on its own (:func:`window_logits`) up to float rounding.
    """
    height, width = green.shape
    tops, lefts = window_grid(height, width, stride, window)
    d = (net.head.weight[1] - net.head.weight[0]).to(device)
    u = {"across": d[:81].float(), "along": d[81:].float()}
    z_across = torch.empty(height - 3, width - 3, device=device)
    z_along_h = torch.empty(height, width - 6, device=device)
    z_along_v = torch.empty(height - 6, width, device=device)
    mode, alpha = net.mode, net.alpha
    for a in range(0, height, STRIP_ROWS):
        x = to_input(green[a : a + STRIP_ROWS + 6], device)
        xt = x.transpose(-1, -2)
        n = min(STRIP_ROWS, height - 3 - a)
        if n > 0:
            z_across[a : a + n] = (net.across.project(x, u["across"], mode, alpha)[:n]
                                   + net.across.project(xt, u["across"], mode, alpha).T[:n])
        z_along_h[a : a + STRIP_ROWS] = net.along.project(x, u["along"], mode, alpha)[: min(STRIP_ROWS, height - a)]
        n = min(STRIP_ROWS, height - 6 - a)
        if n > 0:
            z_along_v[a : a + n] = net.along.project(xt, u["along"], mode, alpha).T[:n]
    def pooled(z: torch.Tensor, box: tuple[int, int]) -> np.ndarray:
        return box_sums_2d(z.double().cpu().numpy(), tops, lefts, box)

    across = pooled(z_across, (window - 3, window - 3)) / (window - 3) ** 2
    along = (pooled(z_along_h, (window, window - 6)) + pooled(z_along_v, (window - 6, window))) / (window * (window - 6))
    bias = float(net.head.bias[1] - net.head.bias[0])
    return (across + along) / 2 + bias
