"""The straight-through histogram: exact forward, the gathered surrogate gradient backward, and the
recast network in straight mode (features, dense scoring, old cards)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from scanner.families.networks import PIXEL_SCALE, to_input
from scanner.families.recast import RecastNet, dense_logits
from scanner.families.residual_conv import residual_planes
from scanner.families.straight_through import BOUNDARY_SHARPNESS, boundary_histogram, straight_through_histogram
from scanner.features.srm import codebook, srm_features
from scanner.training.bank import BANK_SUBMODELS


def _patches(rng, n: int = 4, size: int = 64) -> np.ndarray:
    noise = rng.integers(0, 256, (n, size, size)).astype(float)
    smooth = ndimage.gaussian_filter(noise, (0, 1.2, 1.2)) + rng.normal(0, 2, noise.shape)
    return np.clip(np.round(np.concatenate([noise[: n // 2], smooth[n // 2 :]])), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("submodel", BANK_SUBMODELS[::3], ids=lambda s: s.name)
def test_straight_mode_features_equal_the_numpy_descriptor_bit_for_bit(rng, submodel):
    patches = _patches(rng)
    net = RecastNet.from_srm(kernel=submodel.kernel, step=submodel.step, mode="straight")
    features = net.features(to_input(patches)).detach().numpy()
    np.testing.assert_array_equal(features, srm_features(patches, submodel.step, submodel.kernel))


def _gradient_by_the_rule(u: np.ndarray, grad_h: np.ndarray) -> np.ndarray:
    """The spec's rule, position by position: slope of the gradient table between the codes one
    level up and one level down in each digit (clipped to the three levels), zero past |u| = 1.5."""
    digits_of_code = {tuple(row): k for k, row in enumerate(codebook().tolist())}
    n, positions, order = u.shape
    out = np.zeros_like(u)
    for i in range(n):
        table = grad_h[i] / positions
        for s in range(positions):
            levels = [1 if v >= 0.5 else -1 if v <= -0.5 else 0 for v in u[i, s]]
            for k in range(order):
                if abs(u[i, s, k]) >= 1.5:
                    continue
                up, down = list(levels), list(levels)
                up[k], down[k] = min(levels[k] + 1, 1), max(levels[k] - 1, -1)
                rise = table[digits_of_code[tuple(up)]] - table[digits_of_code[tuple(down)]]
                out[i, s, k] = rise / (up[k] - down[k])
    return out


def test_straight_through_gradient_follows_the_rule(rng):
    values = rng.uniform(-2.2, 2.2, (3, 40, 4))
    values[0, :8] = [[0.5, -0.5, 1.5, -1.5]] * 8  # the level boundaries themselves
    u = torch.tensor(values.transpose(2, 0, 1), requires_grad=True)  # (4, N, P), as the residual planes are
    grad_h = rng.normal(size=(3, 81))
    h = straight_through_histogram(u)
    (h * torch.as_tensor(grad_h)).sum().backward()
    expected = _gradient_by_the_rule(values, grad_h)
    np.testing.assert_allclose(u.grad.numpy().transpose(1, 2, 0), expected, rtol=1e-12, atol=1e-15)
    digits = np.where(values >= 0.5, 1, np.where(values <= -0.5, -1, 0))
    codes = ((digits + 1) * 3 ** np.arange(4)).sum(-1)
    counts = np.stack([np.bincount(c, minlength=81) for c in codes]) / 40
    np.testing.assert_array_equal(h.detach().numpy(), counts)


def test_straight_through_gradient_is_the_interpolated_histograms_slope_inside_a_level():
    """One position, one digit moving inside the middle level: the surrogate gradient is the
    slope of the histogram that interpolates linearly between the neighbouring levels' codes."""
    u = torch.tensor([[[0.2]], [[-0.9]], [[1.1]], [[0.0]]], dtype=torch.float64, requires_grad=True)
    weights = torch.linspace(-1, 1, 81, dtype=torch.float64)[None]
    (straight_through_histogram(u) * weights).sum().backward()
    code = (np.array([1, 0, 2, 1]) * 3 ** np.arange(4)).sum()
    expected = (weights[0, code + 1] - weights[0, code - 1]) / 2
    assert float(u.grad[0, 0, 0]) == pytest.approx(float(expected))


def _smoothed_histogram(u: torch.Tensor, sharpness: float) -> torch.Tensor:
    """The expected histogram (N, 81) of u (4, N, P) plus independent logistic noise of slope
    ``sharpness``: per digit P(+1) = sigmoid(s (u - 1/2)), P(-1) = sigmoid(-s (u + 1/2)), and the
    code's probability the product over digits (written from the definition, not the module)."""
    plus, minus = torch.sigmoid(sharpness * (u - 0.5)), torch.sigmoid(-sharpness * (u + 0.5))
    levels = torch.stack([minus, 1 - plus - minus, plus], dim=-1)  # (4, N, P, 3), level -1, 0, +1
    digits = torch.as_tensor(codebook() + 1, dtype=torch.int64)  # (81, 4) levels 0..2, code order
    probability = torch.ones(u.shape[1], u.shape[2], 81, dtype=u.dtype)
    for k in range(4):
        probability = probability * levels[k][..., digits[:, k]]
    return probability.mean(dim=1)


def test_boundary_gradient_is_the_smoothed_histograms_gradient_where_one_digit_is_near_a_boundary(rng):
    """Three digits deep inside their levels, one anywhere: the boundary surrogate's gradient is the
    gradient of the histogram of u plus logistic noise; its forward is the exact hard histogram."""
    values = rng.choice([-1.2, 0.0, 1.1], size=(4, 2, 60))
    free = rng.integers(0, 4, (2, 60))
    for i in range(2):
        values[free[i], i, np.arange(60)] = rng.uniform(-1.0, 1.0, 60)
    weights = torch.as_tensor(rng.normal(size=(2, 81)))
    u = torch.tensor(values, requires_grad=True)
    h = boundary_histogram(u)
    (h * weights).sum().backward()
    reference = torch.tensor(values, requires_grad=True)
    (_smoothed_histogram(reference, BOUNDARY_SHARPNESS) * weights).sum().backward()
    # the surrogate leaves out the far boundary and the fixed digits' tails: sigmoid'(10) * s / P ~ 1.5e-5
    torch.testing.assert_close(u.grad, reference.grad, rtol=1e-3, atol=1e-4)
    assert u.grad.abs().max() > 0.02  # some residuals lie near a boundary
    torch.testing.assert_close(h, straight_through_histogram(u.detach()), rtol=0, atol=0)


def test_boundary_gradient_is_zero_inside_a_level_and_largest_at_the_boundary():
    weights = torch.linspace(-1, 1, 81, dtype=torch.float64)[None]
    grads = []
    for first in (0.0, 0.3, 0.5):
        u = torch.tensor([[[first]], [[-0.9]], [[1.1]], [[0.0]]], dtype=torch.float64, requires_grad=True)
        (boundary_histogram(u) * weights).sum().backward()
        grads.append(float(u.grad[0, 0, 0]))
    code = (np.array([1, 0, 2, 1]) * 3 ** np.arange(4)).sum()  # digit 0 at level 0: crossing +1/2 adds 1
    rise = float(weights[0, code + 1] - weights[0, code])
    assert abs(grads[0]) < 1e-3 * abs(rise)
    assert grads[2] == pytest.approx(rise * BOUNDARY_SHARPNESS / 4)
    assert abs(grads[0]) < abs(grads[1]) < abs(grads[2])


def test_straight_mode_trains_the_residual_filters_and_the_steps(rng):
    net = RecastNet.from_srm(mode="straight")
    torch.nn.init.normal_(net.head.weight, std=50.0)
    x = to_input(_patches(rng, 2, 48))
    torch.nn.functional.cross_entropy(net(x), torch.tensor([0, 1])).backward()
    for _, branch in net.branches():
        assert branch.residual.weight.grad.abs().sum() > 0
        assert branch.log_step.grad is not None and branch.log_step.grad != 0
        assert branch.codebook.weight.grad is None  # straight mode does not use the codeword layer


def test_straight_mode_scans_densely_as_hard_max_does(rng):
    green = _patches(rng, 2, 192)[1]
    hard, straight = RecastNet.from_srm(exact=True), RecastNet.from_srm(mode="straight")
    with torch.no_grad():
        torch.nn.init.normal_(hard.head.weight)
        straight.head.load_state_dict(hard.head.state_dict())
    np.testing.assert_allclose(dense_logits(straight, green, 32), dense_logits(hard, green, 32), rtol=0, atol=1e-9)
    window = green[32:160, 64:192]
    single = straight(to_input(window[None])).detach().numpy()[0]
    assert dense_logits(straight, green, 32)[1, 2] == pytest.approx(single[1] - single[0], abs=1e-5)


def test_a_state_dict_without_steps_takes_them_from_its_codebook():
    old = RecastNet.from_srm(exact=False, step=3.0).state_dict()
    del old["across.log_step"], old["along.log_step"]
    net = RecastNet(mode="soft")
    net.load_state_dict(old)
    for _, branch in net.branches():
        assert float(branch.step.detach()) * PIXEL_SCALE == pytest.approx(3.0)


@pytest.mark.parametrize("kernel", [(4, 4), (1, 7), (7, 1), (3, 5)])
def test_residual_planes_give_the_plain_convolutions_output_and_gradients(rng, kernel):
    x = torch.tensor(rng.uniform(0, 1, (3, 1, 20, 23)))  # the image: no gradient
    weight = torch.tensor(rng.normal(size=(4, 1, *kernel)), requires_grad=True)
    bias = torch.tensor(rng.normal(size=4), requires_grad=True)
    grad = torch.tensor(rng.normal(size=(3, 4, 21 - kernel[0], 24 - kernel[1])))
    results = []
    plain = lambda x, w, b: torch.nn.functional.conv2d(x, w, b).transpose(0, 1).flatten(2)
    for conv in (residual_planes, plain):
        out = conv(x, weight, bias)
        out.backward(grad.transpose(0, 1).flatten(2))
        results.append([out.detach()] + [t.grad.clone() for t in (weight, bias)])
        weight.grad = bias.grad = None
    for fast, plain in zip(*results):
        torch.testing.assert_close(fast, plain, rtol=1e-10, atol=1e-12)


def test_the_bank_network_gives_the_shipped_banks_task_logits(rng):
    from scanner.families.bank import side_descriptors
    from scanner.families.bank_network import BankNetwork
    from scanner.families.registry import load_shipped
    from tests.conftest import textured_image

    bank = load_shipped()
    patches = np.stack([textured_image(rng, 128, 128) for _ in range(3)] + [rng.integers(0, 256, (128, 128, 3), dtype=np.uint8)])
    net = BankNetwork.from_bank(bank)
    side = side_descriptors(patches, bank.chroma, bank.lattice)
    logits = net.task_logits(patches, side)
    np.testing.assert_allclose(logits, bank.tasks(bank.features(patches)), rtol=1e-10, atol=1e-9)
    torch.nn.functional.softplus(net(to_input(patches[..., 1]), torch.as_tensor(side))).sum().backward()
    for branch in net.branches:  # every filter and step receives a finite gradient
        assert torch.isfinite(branch.residual.weight.grad).all() and branch.residual.weight.grad.abs().sum() > 0
        assert torch.isfinite(branch.log_step.grad) and branch.log_step.grad != 0


@pytest.mark.parametrize("surrogate", ["interpolated", "boundary"])
def test_straight_mode_gives_its_filters_a_high_pass_gradient(rng, surrogate):
    """The taps train through their high-pass part: each filter's gradient sums to zero, so the
    common part that would add the local brightness (almost all of the raw gradient on photos)
    never reaches the optimiser."""
    net = RecastNet.from_srm(mode="straight", surrogate=surrogate)
    torch.nn.init.normal_(net.head.weight, std=50.0)
    x = to_input(_patches(rng, 4, 48))
    torch.nn.functional.cross_entropy(net(x), torch.tensor([0, 1, 0, 1])).backward()
    for _, branch in net.branches():
        grad = branch.residual.weight.grad
        assert grad.abs().sum() > 0
        torch.testing.assert_close(grad.sum((1, 2, 3)), torch.zeros(4), rtol=0, atol=1e-5 * float(grad.abs().sum()))


def test_straight_mode_keeps_its_residual_filters_high_pass_after_a_step(rng):
    net = RecastNet.from_srm(mode="straight")
    with torch.no_grad():
        for _, branch in net.branches():
            branch.residual.weight.add_(torch.as_tensor(rng.normal(0, 0.01, branch.residual.weight.shape), dtype=torch.float32))
            branch.residual.bias.fill_(0.003)
    moved = net.across.residual.weight.detach().clone()
    net.after_step()
    for _, branch in net.branches():
        torch.testing.assert_close(branch.residual.weight.sum((1, 2, 3)), torch.zeros(4), rtol=0, atol=1e-6)
        assert torch.equal(branch.residual.bias, torch.zeros(4))
    # the projection removes the mean tap of each filter and nothing else
    torch.testing.assert_close(net.across.residual.weight, moved - moved.mean((1, 2, 3), keepdim=True))


def test_separable_soft_histogram_equals_the_soft_max_over_the_lattice_codebook(rng):
    from scanner.families.soft_histogram import SOFTMAX_ALPHA, SoftHistogram, separable_soft_histogram

    step = 4.5 / PIXEL_SCALE
    r = torch.tensor(rng.normal(0, 2.5 * step, (3, 50, 4)), requires_grad=True)  # (N, P, 4) residuals, network units
    codewords = torch.as_tensor(codebook() * step, dtype=torch.float64)
    bias = -(codewords**2).sum(1) / 2
    weights = torch.as_tensor(rng.normal(size=(3, 81)))
    (SoftHistogram.apply(r, codewords, bias, SOFTMAX_ALPHA) * weights).sum().backward()
    u = (r.detach() / step).permute(2, 0, 1).clone().requires_grad_(True)
    h = separable_soft_histogram(u, SOFTMAX_ALPHA * step**2)
    (h * weights).sum().backward()
    torch.testing.assert_close(h, SoftHistogram.apply(r.detach(), codewords, bias, SOFTMAX_ALPHA), rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(u.grad, r.grad.permute(2, 0, 1) * step, rtol=1e-8, atol=1e-12)
    assert h.sum(1).sub(1).abs().max() < 1e-12
