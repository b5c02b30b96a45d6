"""Networks: the sinusoidal embedding's closed form, the MLP field's shapes, parameters and checks."""

from __future__ import annotations

import math

import pytest
import torch

from fmtutor.nets import MLPField, SinusoidalEmbedding
from fmtutor.solvers import solve_ode, time_grid


def test_embedding_closed_form():
    """dim = 4, max_period = 100: frequencies 1 and 1/10; features sin(s w t), cos(s w t) with s = 1000."""
    emb = SinusoidalEmbedding(4, max_period=100.0)
    t = torch.tensor([0.0, 0.25, 1e-3])
    out = emb(t)
    expected = torch.stack([torch.sin(1000 * t), torch.sin(100 * t), torch.cos(1000 * t), torch.cos(100 * t)], 1)
    torch.testing.assert_close(out, expected)
    assert out.shape == (3, 4)
    torch.testing.assert_close(out[0], torch.tensor([0.0, 0.0, 1.0, 1.0]))


def test_embedding_frequencies_are_geometric_and_not_saved():
    emb = SinusoidalEmbedding(64)
    ratios = emb.freqs[1:] / emb.freqs[:-1]
    torch.testing.assert_close(ratios, torch.full((31,), 10_000 ** (-1 / 32)))
    assert emb.freqs[0] == 1 and "freqs" not in emb.state_dict()
    assert emb(torch.rand(5, dtype=torch.float64)).dtype == torch.float64


@pytest.mark.parametrize("dim", [1, 3, 0])
def test_embedding_refuses_odd_dim(dim):
    with pytest.raises(ValueError, match=rf"^dim must be an even number >= 2, got {dim}$"):
        SinusoidalEmbedding(dim)


@pytest.mark.parametrize("dim,hidden,depth,time_dim", [(2, 128, 3, 32), (3, 16, 1, 8), (5, 7, 4, 2)])
def test_mlp_shapes_and_parameter_count(dim, hidden, depth, time_dim):
    torch.manual_seed(0)
    model = MLPField(dim, hidden, depth, time_dim)
    expected = (dim + time_dim) * hidden + hidden + (depth - 1) * (hidden**2 + hidden) + hidden * dim + dim
    assert sum(p.numel() for p in model.parameters()) == expected
    out = model(torch.randn(6, dim), torch.rand(6))
    assert out.shape == (6, dim)


def test_mlp_scalar_time_broadcasts_and_rows_are_independent():
    torch.manual_seed(0)
    model = MLPField()
    x = torch.randn(5, 2)
    torch.testing.assert_close(model(x, 0.3), model(x, torch.full((5,), 0.3)))
    t = torch.rand(5)
    rows = torch.cat([model(x[i : i + 1], t[i : i + 1]) for i in range(5)])
    torch.testing.assert_close(model(x, t), rows)


def test_mlp_every_parameter_gets_a_gradient():
    torch.manual_seed(0)
    model = MLPField(hidden=16, depth=2)
    model(torch.randn(8, 2), torch.rand(8)).pow(2).sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_mlp_can_fit_a_simple_field():
    """150 Adam steps fit u(x, t) = -x t (loss falls by 20x): the time embedding reaches the output."""
    torch.manual_seed(0)
    model = MLPField(hidden=32, depth=2, time_dim=16)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(0)
    losses = []
    for _ in range(150):
        x, t = torch.randn(64, 2, generator=g), torch.rand(64, generator=g)
        loss = (model(x, t) + x * t[:, None]).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert sum(losses[-10:]) / 10 < sum(losses[:10]) / 10 / 20, (losses[:10], losses[-10:])


def test_mlp_bad_inputs():
    model = MLPField()
    with pytest.raises(ValueError, match=r"^x must have shape \(B, 2\), got \(4, 3\)$"):
        model(torch.zeros(4, 3), 0.5)
    with pytest.raises(ValueError, match=r"^t must be a scalar or have shape \(4,\) to match the batch, got \(4, 1\)$"):
        model(torch.zeros(4, 2), torch.zeros(4, 1))
    with pytest.raises(ValueError, match=r"^x must have shape \(B, 2\), got \(2,\)$"):
        model(torch.zeros(2), 0.5)


def test_sampling_an_mlp_checks_values_once_not_per_step(monkeypatch):
    """The solver checks x0 and the grid at its start and reads finiteness once at its end: the
    number of host reads (each a device sync on a GPU) does not grow with the number of steps."""
    model, x0 = MLPField(hidden=8), torch.randn(16, 2, generator=torch.Generator().manual_seed(0))
    real_item, reads = torch.Tensor.item, []

    def counted_item(self):
        reads.append(1)
        return real_item(self)

    monkeypatch.setattr(torch.Tensor, "item", counted_item)
    counts = []
    for steps in (4, 64):
        reads.clear()
        with torch.no_grad():
            solve_ode(model, x0, time_grid(steps), method="heun")
        counts.append(len(reads))
    assert counts[0] == counts[1], counts
    with pytest.raises(ValueError, match=r"^x has 1 non-finite value"):
        solve_ode(model, torch.tensor([[math.nan, 0.0]]), time_grid(4))


def test_mixed_dtypes_are_refused_not_promoted():
    net = MLPField(hidden=8, depth=1, time_dim=4)
    with pytest.raises(
        TypeError,
        match=r"^x has dtype torch.float64 and the network's parameters dtype torch.float32; "
        r"mixed dtypes are refused, convert one of them",
    ):
        net(torch.zeros(3, 2, dtype=torch.float64), 0.5)
    assert net.double()(torch.zeros(3, 2, dtype=torch.float64), 0.5).dtype == torch.float64
