"""The MNIST networks: shapes, zero initial field, conditioning on t and y, input checks, sizes."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from mnist_helpers import TINY_DIT, TINY_UNET

from fmtutor.mnist import NULL_LABEL, DiT, UNet, build_model, count_parameters

TINY = {"unet": TINY_UNET, "dit": TINY_DIT}


def _perturbed(arch: str) -> torch.nn.Module:
    """A tiny network with every parameter randomised (so zero-initialised outputs become live)."""
    torch.manual_seed(0)
    model = build_model(arch, **TINY[arch])
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.3)
    return model.eval()


@pytest.mark.parametrize("arch", ["unet", "dit"])
def test_untrained_network_is_the_zero_field(arch):
    model = build_model(arch, **TINY[arch])
    x = torch.randn(3, 1, 28, 28)
    out = model(x, torch.rand(3), torch.tensor([0, 5, NULL_LABEL]))
    assert out.shape == x.shape and torch.count_nonzero(out) == 0


@pytest.mark.parametrize("arch", ["unet", "dit"])
def test_output_depends_on_time_and_label(arch):
    model = _perturbed(arch)
    x = torch.randn(2, 1, 28, 28)
    base = model(x, torch.tensor([0.3, 0.3]), torch.tensor([1, 1]))
    assert (model(x, torch.tensor([0.7, 0.7]), torch.tensor([1, 1])) - base).abs().max() > 1e-3
    assert (model(x, torch.tensor([0.3, 0.3]), torch.tensor([2, 2])) - base).abs().max() > 1e-3
    # y=None is the "no label" token; a scalar t broadcasts; samples do not interact
    torch.testing.assert_close(model(x, 0.3, None), model(x, torch.tensor([0.3, 0.3]), torch.full((2,), NULL_LABEL)))
    torch.testing.assert_close(model(x[:1], 0.3, torch.tensor([1])), base[:1], rtol=1e-5, atol=1e-5)


def test_dit_unpatchify_inverts_the_patch_layout():
    model = DiT(**TINY_DIT)
    x = torch.arange(2 * 28 * 28, dtype=torch.float32).reshape(2, 1, 28, 28)
    p, g = model.patch, model.grid  # tokens in row-major patch order, pixels row-major within a patch
    tokens = x.reshape(2, 1, g, p, g, p).permute(0, 2, 4, 3, 5, 1).reshape(2, g * g, p * p)
    torch.testing.assert_close(model.unpatchify(tokens), x)


def test_default_sizes():
    assert 1_000_000 <= count_parameters(UNet()) <= 2_000_000
    assert 1_000_000 <= count_parameters(DiT()) <= 2_500_000


def test_count_parameters_counts_a_frozen_copy():
    net = nn.Linear(3, 2)
    assert count_parameters(net) == 8
    assert count_parameters(net.requires_grad_(False)) == 8


def test_bad_inputs_are_named():
    model = build_model("unet", **TINY_UNET)
    x = torch.randn(2, 1, 28, 28)
    with pytest.raises(ValueError, match=r"x must have shape \(B, 1, 28, 28\), got \(2, 1, 32, 32\)"):
        model(torch.randn(2, 1, 32, 32), 0.5, None)
    with pytest.raises(ValueError, match=r"y must hold labels 0..9 or 10 \(no label\), got values from 3 to 11"):
        model(x, 0.5, torch.tensor([3, 11]))
    with pytest.raises(TypeError, match="y must be a long tensor"):
        model(x, 0.5, torch.tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match=r"y must have shape \(2,\)"):
        model(x, 0.5, torch.tensor([1]))
    with pytest.raises(ValueError, match=r"t must lie in \[0.0, 1.0\]"):
        model(x, 1.5, None)
    with pytest.raises(ValueError, match="unknown arch 'vit'; expected one of 'unet', 'dit'"):
        build_model("vit")
    with pytest.raises(ValueError, match="patch must divide 28"):
        DiT(patch=5)
