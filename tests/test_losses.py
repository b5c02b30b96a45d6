"""Losses: hand-recomputed values, the minimiser is the exact marginal field, DSM vs noise prediction."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from schedule_cases import all_schedules
from fmtutor.ddpm import DDPM
from fmtutor.losses import cfm_loss, ddpm_loss, dsm_loss, fm_loss, noise_prediction_loss
from fmtutor.marginals import MarginalField
from fmtutor.paths import GaussianPath
from fmtutor.toy_data import eight_gaussians, three_clusters

F64 = torch.float64


def tanh_model(x, t):
    """A fixed non-linear 'network' so that recomputations are not trivially zero."""
    return torch.tanh(x + t[:, None]) - 0.3 * x


@pytest.mark.parametrize("schedule", all_schedules())
def test_cfm_loss_equals_hand_recomputation(schedule):
    path, x1 = GaussianPath(schedule), torch.randn(64, 2, generator=torch.Generator().manual_seed(9), dtype=F64)
    g = torch.Generator().manual_seed(4)
    t = schedule.t_max * torch.rand(64, generator=g, dtype=F64)  # the draws, in cfm_loss's order
    x0 = torch.randn(64, 2, generator=g, dtype=F64)
    v = schedule(t)
    x_t = v.alpha[:, None] * x1 + v.beta[:, None] * x0
    target = v.d_alpha[:, None] * x1 + v.d_beta[:, None] * x0
    expected = ((tanh_model(x_t, t) - target) ** 2).mean()
    got = cfm_loss(tanh_model, x1, path, generator=torch.Generator().manual_seed(4))
    assert got.item() == pytest.approx(expected.item(), rel=1e-12)


def test_cfm_loss_with_given_times_and_condition():
    seen = {}

    def model(x, t, label):
        seen["t"], seen["label"] = t, label
        return torch.zeros_like(x)

    path, x1, t = GaussianPath("linear"), torch.ones(3, 2), torch.tensor([0.1, 0.5, 0.9])
    g = torch.Generator().manual_seed(0)
    loss = cfm_loss(model, x1, path, generator=g, t=t, label=7)
    x0 = torch.randn(3, 2, generator=torch.Generator().manual_seed(0))
    assert torch.equal(seen["t"], t) and seen["label"] == 7
    assert loss.item() == pytest.approx(((x1 - x0) ** 2).mean().item(), rel=1e-6)


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
def test_exact_marginal_velocity_minimises_cfm(schedule):
    """L(u + c) - L(u) = c^2 + 2 c E[u - u_cond] = c^2: the cross term vanishes only at the true
    conditional expectation u. Same draws for both; tolerance 0.03 is about 5 standard errors."""
    field = MarginalField(three_clusters(), GaussianPath(schedule))
    x1 = three_clusters().sample(20_000, torch.Generator().manual_seed(1))
    loss = lambda model: cfm_loss(model, x1, field.path, generator=torch.Generator().manual_seed(2))  # noqa: E731
    exact = loss(field.velocity)
    for c in (0.5, -0.5):
        assert (loss(lambda x, t: field.velocity(x, t) + c) - exact).item() == pytest.approx(c**2, abs=0.03)  # noqa: B023
    assert loss(lambda x, t: 1.1 * field.velocity(x, t)) > exact


@pytest.mark.parametrize("schedule", all_schedules())
@given(t=st.floats(0.02, 0.98), seed=st.integers(0, 1000))
def test_noise_loss_is_beta_squared_times_dsm(schedule, t, seed):
    """eps_theta = -beta_t s_theta gives (eps_theta - x0)^2 = beta_t^2 (s_theta + x0 / beta_t)^2."""
    path = GaussianPath(schedule)
    t = min(t, schedule.t_max)
    beta = schedule(torch.tensor(t, dtype=F64)).beta.item()
    x1 = torch.randn(32, 2, generator=torch.Generator().manual_seed(seed), dtype=F64)
    score_model = lambda x, t: tanh_model(x, t) - x  # noqa: E731
    eps_model = lambda x, t: -beta * score_model(x, t)  # noqa: E731
    dsm = dsm_loss(score_model, x1, path, generator=torch.Generator().manual_seed(seed), t=t)
    noise = noise_prediction_loss(eps_model, x1, path, generator=torch.Generator().manual_seed(seed), t=t)
    assert noise.item() == pytest.approx(beta**2 * dsm.item(), rel=1e-9)


def test_exact_score_minimises_dsm_at_fixed_time():
    field = MarginalField(three_clusters(), GaussianPath("cosine"))
    x1 = three_clusters().sample(20_000, torch.Generator().manual_seed(1))
    loss = lambda model: dsm_loss(model, x1, field.path, generator=torch.Generator().manual_seed(2), t=0.5)  # noqa: E731
    exact = loss(field.score)
    assert (loss(lambda x, t: field.score(x, t) + 0.5) - exact).item() == pytest.approx(0.25, abs=0.05)


def test_default_time_ranges():
    record = []

    def model(x, t):
        record.append(t)
        return torch.zeros_like(x)

    x1 = torch.zeros(20_000, 2)
    dsm_loss(model, x1, GaussianPath("linear"), generator=torch.Generator().manual_seed(0))
    cfm_loss(model, x1, GaussianPath("vp"), generator=torch.Generator().manual_seed(0))
    noise_prediction_loss(model, x1, GaussianPath("linear"), generator=torch.Generator().manual_seed(0))
    (dsm_t, cfm_t, noise_t) = record
    assert dsm_t.min() >= 0 and 0.998 < dsm_t.max() <= 0.999
    assert 0.998 < cfm_t.max() <= GaussianPath("vp").schedule.t_max
    assert 0.999 < noise_t.max() <= 1.0


def test_ddpm_loss_equals_hand_recomputation():
    ddpm, x1 = DDPM(100), torch.randn(50, 2, generator=torch.Generator().manual_seed(3), dtype=F64)
    g = torch.Generator().manual_seed(5)
    n = torch.randint(1, 101, (50,), generator=g)
    eps = torch.randn(50, 2, generator=g, dtype=F64)
    abar = ddpm.alpha_bars[n][:, None]
    x_n = abar.sqrt() * x1 + (1 - abar).sqrt() * eps
    expected = ((tanh_model(x_n, 1 - n.double() / 100) - eps) ** 2).mean()
    got = ddpm_loss(tanh_model, x1, ddpm, generator=torch.Generator().manual_seed(5))
    assert got.item() == pytest.approx(expected.item(), rel=1e-6)


@pytest.mark.parametrize("loss", [cfm_loss, dsm_loss, noise_prediction_loss])
def test_bad_data_is_refused(loss):
    with pytest.raises(ValueError, match=r"^x1 must have shape \(B, \*D\)"):
        loss(tanh_model, torch.zeros(5), GaussianPath())
    with pytest.raises(ValueError, match=r"^x1 has 1 non-finite value"):
        loss(tanh_model, torch.tensor([[float("nan"), 0.0]]), GaussianPath())
    with pytest.raises(ValueError, match=r"^t must lie in \[0.0, 1.0\]"):
        loss(tanh_model, torch.zeros(2, 2), GaussianPath(), t=torch.tensor([0.5, 2.0]))


def test_a_time_range_beyond_the_schedule_is_still_refused():
    """Times drawn inside a loss skip re-checking only when [t_min, t_max] fits the schedule."""
    x1 = torch.zeros(20_000, 2)
    with pytest.raises(ValueError, match=r"^vp schedule: d_beta is infinite at t = 1"):
        dsm_loss(tanh_model, x1, GaussianPath("vp"), generator=torch.Generator().manual_seed(0), t_max=1.0)


def _fields(exact):
    return {
        "exact": exact,
        "bent": lambda x, t: exact(x, t) + 0.5 * torch.sin(x) * (1 + t[:, None]),
        "zero": lambda x, t: torch.zeros_like(x),
    }


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
    torch.testing.assert_close(
        fm_loss(zero, target, x1, path, generator=torch.Generator().manual_seed(4)),
        cfm_loss(zero, x1, path, generator=torch.Generator().manual_seed(4)),
    )
