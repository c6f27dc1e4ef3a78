"""The recast CNN against the numpy descriptor, and the Bayar constraint."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from scanner.core.device import resolve_device
from scanner.families.bayar import BayarNet
from scanner.families.networks import to_input
from scanner.families.recast import RecastNet
from scanner.features.srm import srm_features
from scanner.inputs.images import load_green

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("device", DEVICES)
def test_hardmax_equals_descriptor_bit_for_bit_on_random_patches(rng, device):
    patches = rng.integers(0, 256, (6, 128, 128), dtype=np.uint8)
    from scipy import ndimage

    smooth = ndimage.gaussian_filter(patches.astype(float), (0, 1, 1)).round().astype(np.uint8)
    device = resolve_device(device)  # on CUDA: TF32 off, as the CLI runs it
    net = RecastNet.from_srm(exact=True).to(device)
    for batch in (patches, smooth, patches[:, :40, :57]):
        cnn = net.features(to_input(batch, device)).cpu().numpy()
        assert np.abs(cnn - srm_features(batch)).max() == 0.0


def test_hardmax_equals_descriptor_on_real_patches(pristine_dir):
    paths = sorted((pristine_dir / "camera").glob("*.jpg"))[:4] + sorted((pristine_dir / "kodak").glob("*.png"))[:2]
    net = RecastNet.from_srm(exact=True)
    for path in paths:
        green, _ = load_green(path)
        patches = np.stack([green[r : r + 128, c : c + 128] for r in (0, 200, 300) for c in (0, 250)])
        assert np.abs(net.features(to_input(patches)).numpy() - srm_features(patches)).max() == 0.0


SOFTMAX_L1_BOUND = 0.2
"""Measured on the 12 kodim01 patches below: the L1 distance (total mass 2) between soft-max
(alpha = 2^16) and exact features is 0.05 to 0.12 per patch; the bound leaves a margin."""


def test_softmax_alpha_2_16_is_close_to_exact(pristine_dir):
    green, _ = load_green(sorted((pristine_dir / "kodak").glob("*.png"))[0])
    patches = np.stack([green[r : r + 128, c : c + 128] for r in (0, 128, 256) for c in (0, 128, 256, 384)])
    exact = srm_features(patches)
    soft = RecastNet.from_srm(exact=False).features(to_input(patches)).detach().numpy()
    l1 = np.abs(soft - exact).sum(1)
    assert l1.max() < SOFTMAX_L1_BOUND
    weak = RecastNet.from_srm(exact=False, alpha=216.0).features(to_input(patches)).detach().numpy()
    assert np.abs(weak - exact).sum(1).min() > 10 * l1.max()  # alpha = 216 (the extraction typo) is far off


def test_forward_gives_two_logits_and_gradients_reach_every_layer(rng):
    net = RecastNet.from_srm(exact=False)
    x = to_input(rng.integers(0, 256, (2, 64, 64), dtype=np.uint8))
    net(x).sum().backward()
    for name, p in net.named_parameters():
        assert (p.grad is None) == name.endswith(".log_step"), name  # the step trains in straight mode only
    assert net(x).shape == (2, 2)


def test_bayar_constraint_holds_after_optimizer_steps(rng):
    torch.manual_seed(0)
    net = BayarNet()
    opt = torch.optim.SGD(net.parameters(), lr=1e-2, momentum=0.9)
    x = to_input(rng.integers(0, 256, (4, 128, 128), dtype=np.uint8))
    y = torch.tensor([0, 1, 0, 1])
    for _ in range(3):
        opt.zero_grad()
        torch.nn.functional.cross_entropy(net(x), y).backward()
        before = net.constrained.weight.detach().clone()
        opt.step()
        assert not torch.equal(before, net.constrained.weight)  # the step moved the filters
        net.after_step()  # what fine_tune calls
        w = net.constrained.weight.detach()
        assert torch.all(w[:, :, 2, 2] == -1)
        off = w.sum(dim=(2, 3)) - w[:, :, 2, 2]
        torch.testing.assert_close(off, torch.ones_like(off))


def test_soft_histogram_gradient_matches_finite_differences():
    from scanner.families.soft_histogram import SoftHistogram

    torch.manual_seed(0)
    r = torch.randn(2, 40, 4, dtype=torch.float64, requires_grad=True)
    w = torch.randn(81, 4, dtype=torch.float64, requires_grad=True)
    b = torch.randn(81, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda r, w, b: SoftHistogram.apply(r, w, b, 3.0), (r, w, b))


def test_soft_histogram_equals_plain_softmax_pooling(rng):
    net = RecastNet.from_srm(exact=False)
    x = to_input(rng.integers(0, 256, (3, 50, 60), dtype=np.uint8))
    with torch.no_grad():
        chunked = net.across.histogram(x, "soft", net.alpha)
        scores = net.across.codebook(net.across.residuals(x))
        plain = torch.softmax(net.alpha * scores, dim=-1).double().mean(dim=(1, 2))  # torch's own soft-max
    torch.testing.assert_close(chunked, plain, rtol=0, atol=1e-6)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (run on the lent GPU)")
def test_cuda_gives_the_cpu_answers(rng):
    from scipy import ndimage

    from scanner.families.recast import dense_logits

    cuda = resolve_device("cuda")
    green = ndimage.gaussian_filter(rng.normal(128, 40, (300, 260)), 1.0).round().clip(0, 255).astype(np.uint8)
    torch.manual_seed(0)
    recast = RecastNet.from_srm(exact=True)
    with torch.no_grad():
        recast.head.weight.normal_()
    cpu = dense_logits(recast, green, 16, "cpu")
    np.testing.assert_allclose(dense_logits(recast.to(cuda), green, 16, cuda), cpu, rtol=0, atol=1e-9)
    bayar = BayarNet().eval()
    x = to_input(rng.integers(0, 256, (4, 128, 128), dtype=np.uint8))
    with torch.no_grad():
        expected = bayar(x)
        torch.testing.assert_close(bayar.to(cuda)(x.to(cuda)).cpu(), expected, rtol=1e-4, atol=1e-4)


def test_soft_histogram_blocks_of_several_patches_equal_one_patch_at_a_time(monkeypatch):
    import scanner.families.soft_histogram
    from scanner.families.soft_histogram import SoftHistogram

    torch.manual_seed(1)
    r = torch.randn(5, 300, 4, dtype=torch.float64)
    w, b = torch.randn(81, 4, dtype=torch.float64), torch.randn(81, dtype=torch.float64)
    results = []
    for chunk in (300, 1000, 128):  # one patch per block, three per block, a patch in position chunks
        monkeypatch.setattr(scanner.families.soft_histogram, "DENSE_CHUNK", chunk)
        leaves = [t.clone().requires_grad_(True) for t in (r, w, b)]
        h = SoftHistogram.apply(*leaves, 3.0)
        (h * torch.arange(81, dtype=torch.float64)).sum().backward()
        results.append([h.detach()] + [t.grad for t in leaves])
    for other in results[1:]:
        for a, e in zip(other, results[0]):
            torch.testing.assert_close(a, e, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("branch", ["across", "along"])
def test_sampled_residuals_equal_the_convolution_at_those_positions(rng, branch):
    net = RecastNet.from_srm(exact=False)
    with torch.no_grad():
        getattr(net, branch).residual.weight.normal_()  # free taps, not only the SRM's
        getattr(net, branch).residual.bias.normal_()
    x = to_input(rng.integers(0, 256, (3, 40, 52), dtype=np.uint8))
    module = getattr(net, branch)
    for view in (x, x.transpose(-1, -2)):
        full = module.residuals(view)
        positions = torch.randperm(full.shape[1] * full.shape[2])[:50]
        expected = full.reshape(3, -1, 4)[:, positions]
        torch.testing.assert_close(module.sampled_residuals(view, positions), expected, rtol=1e-5, atol=1e-6)


def test_sampling_every_position_gives_the_full_histogram_and_gradients(rng):
    x = to_input(rng.integers(0, 256, (2, 30, 34), dtype=np.uint8))
    results = []
    for sample in (None, 10**6):  # more than the grid holds: every position, in random order
        net = RecastNet.from_srm(exact=False)
        with torch.no_grad():
            net.head.weight.normal_(generator=torch.Generator().manual_seed(0))
        net.sample_positions = sample
        loss = net(x).sum()
        loss.backward()
        results.append([loss.detach()] + [p.grad.clone() for p in net.parameters() if p.grad is not None])
    for a, e in zip(results[1], results[0]):
        torch.testing.assert_close(a, e, rtol=1e-4, atol=1e-6)


def test_sampled_histogram_is_an_unbiased_estimate_of_the_full_one(rng):
    from scipy import ndimage

    green = ndimage.gaussian_filter(rng.normal(128, 30, (1, 40, 40)), (0, 1.0, 1.0)).round().clip(0, 255).astype(np.uint8)
    branch = RecastNet.from_srm(exact=False).across
    x = to_input(green)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        branch.codebook.bias.add_(torch.randn(81, generator=generator, dtype=torch.float32) * 2e-5)  # off the SRM's codes
        full = branch.histogram(x, "soft", 2.0**16)[0]
        for control_variate in (False, True):
            draws = torch.stack([branch.histogram(x, "soft", 2.0**16, 16, generator, control_variate)[0] for _ in range(3000)])
            standard_error = draws.std(dim=0) / np.sqrt(len(draws))
            assert float(draws.std(dim=0).max()) > 1e-3  # the draws do differ
            assert bool(((draws.mean(dim=0) - full).abs() <= 5 * standard_error + 1e-7).all())
    with pytest.raises(ValueError):
        branch.histogram(x, "hard", 2.0**16, sample=16)


def test_the_srm_control_variate_cuts_the_sampling_noise_near_the_srm(rng):
    from scipy import ndimage

    green = ndimage.gaussian_filter(rng.normal(128, 30, (2, 64, 64)), (0, 1.0, 1.0)).round().clip(0, 255).astype(np.uint8)
    net = RecastNet.from_srm(exact=False)
    x = to_input(green)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for branch in (net.across, net.along):
            hard = RecastNet.from_srm(exact=True)
            codes = branch.srm_codes(x)  # the fixed SRM codes are what hard-max assigns at initialisation
            exact = getattr(hard, "across" if branch is net.across else "along")
            np.testing.assert_array_equal(codes, exact.codebook(exact.residuals(x)).argmax(dim=-1).numpy())
            full = branch.histogram(x, "soft", net.alpha)
            error = {cv: torch.stack([branch.histogram(x, "soft", net.alpha, 64, generator, cv) - full
                                      for _ in range(200)]).pow(2).sum(-1).mean() for cv in (False, True)}
            assert float(error[True]) < float(error[False]) / 10


def test_evaluation_ignores_position_sampling(rng):
    net = RecastNet.from_srm(exact=False)
    x = to_input(rng.integers(0, 256, (2, 40, 40), dtype=np.uint8))
    with torch.no_grad():
        full = net.features(x)
        net.sample_positions = 8
        net.eval()
        assert torch.equal(net.features(x), full)
        net.train()
        assert not torch.allclose(net.features(x), full)
