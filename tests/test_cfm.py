"""cfm: the flow matching and conditional flow matching losses differ by a constant; training is seeded."""
from __future__ import annotations

import pytest
import torch

from fmtutor import GaussianPath, MarginalField, cfm_loss
from fmtutor.cfm import data_loss, fm_loss, train_cfm
from fmtutor.toy_data import eight_gaussians, two_moons


def _fields(exact):
    return {"exact": exact, "bent": lambda x, t: exact(x, t) + 0.5 * torch.sin(x) * (1 + t[:, None]),
            "zero": lambda x, t: torch.zeros_like(x)}


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
def test_cfm_minus_fm_is_the_same_constant_for_every_field(schedule):
    """L_CFM(v) - L_FM(v) = E || u_t(x_t | x1) ||^2 - E || u_t(x_t) ||^2, whatever v is (Monte Carlo,
    same draws); and L_FM of the exact field is 0."""
    data, path = eight_gaussians(), GaussianPath(schedule)
    exact = MarginalField(data, path)
    n = 100_000
    x1 = data.sample(n, torch.Generator().manual_seed(1)).double()  # float64: small differences
    gaps = {}
    for name, v in _fields(exact).items():
        cfm = cfm_loss(v, x1, path, generator=torch.Generator().manual_seed(2))
        fm = fm_loss(v, exact, x1, path, generator=torch.Generator().manual_seed(2))
        gaps[name] = (cfm - fm).item()
        if name == "exact":
            assert fm.item() == 0.0
        else:
            assert fm.item() > 0.1
    # the gaps differ only by 2 mean(v . (u - u_cond)), zero in expectation, std about
    # 2 sqrt(E|v|^2 E|u - u_cond|^2 / n) < 0.03 here, while the L_FM values differ by up to 5
    for name in ("bent", "zero"):
        assert gaps[name] == pytest.approx(gaps["exact"], abs=0.1)
    assert gaps["exact"] > 0  # the conditional variance of the target


def test_fm_loss_draws_like_cfm_loss():
    """With the exact field replaced by the conditional target's own field, the draws coincide: a
    zero model gives the same per-draw targets, hence the same loss for fm_loss(field = x1 - x0)."""
    path = GaussianPath("linear")
    x1 = torch.randn(64, 2, generator=torch.Generator().manual_seed(3))
    zero = lambda x, t: torch.zeros_like(x)  # noqa: E731
    s = path.sample(x1, generator=torch.Generator().manual_seed(4))
    target = lambda x, t: s.velocity  # noqa: E731
    torch.testing.assert_close(fm_loss(zero, target, x1, path, generator=torch.Generator().manual_seed(4)),
                               cfm_loss(zero, x1, path, generator=torch.Generator().manual_seed(4)))


def test_train_cfm_is_seeded_and_learns():
    data = eight_gaussians()
    runs = [train_cfm(data, n_steps=120, batch_size=64, hidden=16, seed=s, progress=False) for s in (0, 0, 1)]
    assert runs[0].losses == runs[1].losses and runs[0].losses != runs[2].losses
    first, last = sum(runs[0].losses[:20]) / 20, sum(runs[0].losses[-20:]) / 20
    assert last < 0.8 * first
    assert runs[0].kind == "flow-matching" and len(runs[0].losses) == 120
    assert not runs[0].model.training


def test_ema_model_differs_from_raw_weights():
    data = two_moons()
    ema = train_cfm(data, n_steps=30, batch_size=32, hidden=8, progress=False).model
    raw = train_cfm(data, n_steps=30, batch_size=32, hidden=8, ema_decay=None, progress=False).model
    x, t = torch.zeros(4, 2), torch.full((4,), 0.5)
    assert not torch.allclose(ema(x, t), raw(x, t))


def test_refusals():
    data = eight_gaussians()
    with pytest.raises(ValueError, match="batch_size must be a positive integer, got 0"):
        data_loss(data, 0, lambda m, x1, g: x1.sum())
    with pytest.raises(ValueError, match="give either path"):
        train_cfm(data, n_steps=1, path=GaussianPath("linear"), objective=lambda m, x1, g: x1.sum())
