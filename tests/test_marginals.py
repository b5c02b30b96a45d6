"""Exact marginal fields of a mixture: Monte Carlo, autograd, boundary densities, continuity equation."""

from __future__ import annotations

import math

import pytest
import torch

from schedule_cases import all_schedules
from fmtutor.distributions import GaussianMixture, StandardGaussian
from fmtutor.marginals import MarginalField
from fmtutor.paths import GaussianPath
from fmtutor.schedules import CosineSchedule, LinearSchedule, NoisyLinearSchedule, PolynomialSchedule
from fmtutor.toy_data import eight_gaussians

F64 = torch.float64


def anisotropic() -> GaussianMixture:
    means = torch.tensor([[-2.0, 0.5], [1.5, 1.0], [0.5, -2.5]])
    stds = torch.tensor([[0.5, 0.8], [0.3, 0.6], [1.0, 0.4]])
    return GaussianMixture(means, stds, weights=torch.tensor([0.5, 0.2, 0.3]))


MIXTURES = [pytest.param(eight_gaussians, id="8gauss"), pytest.param(anisotropic, id="aniso")]


def _marginal_points(field: MarginalField, t: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Points x_t = alpha_t x1 + beta_t x0 drawn from the marginal itself (one per time)."""
    x1 = field.mixture.sample(len(t), g).to(F64)
    return field.path.sample(x1, t, generator=g).x_t


@pytest.mark.parametrize("schedule", [LinearSchedule(), CosineSchedule(), NoisyLinearSchedule(0.5)], ids=str)
@pytest.mark.parametrize("t", [0.3, 0.7])
def test_velocity_and_score_match_importance_weighted_monte_carlo(schedule, t, gen):
    """u(x) = E[u(x | x1) | x_t = x] ~ sum_i N(x; a x1_i, b^2) u(x | x1_i) / sum_i N(x; a x1_i, b^2).

    The tolerance is 5 Monte Carlo standard errors of the self-normalised estimate (plus 1e-3).
    """
    field = MarginalField(anisotropic(), GaussianPath(schedule))
    q, n = 6, 40_000
    x = _marginal_points(field, torch.full((q,), t, dtype=F64), gen)
    x1 = field.mixture.sample(n, gen).to(F64)
    v = schedule(torch.tensor(t, dtype=F64))
    log_w = -((x[:, None] - v.alpha * x1[None]) ** 2).sum(-1) / (2 * v.beta**2)  # (q, n)
    w = torch.softmax(log_w, dim=1)[..., None]
    xx, xx1 = x[:, None].expand(q, n, 2).reshape(-1, 2), x1[None].expand(q, n, 2).reshape(-1, 2)
    for name, conditional in [("velocity", field.path.conditional_velocity), ("score", field.path.conditional_score)]:
        cond = conditional(xx, xx1, t).reshape(q, n, 2)
        estimate = (w * cond).sum(1)
        stderr = ((w**2) * (cond - estimate[:, None]) ** 2).sum(1).sqrt()
        exact = getattr(field, name)(x, t)
        assert ((exact - estimate).abs() <= 5 * stderr + 1e-3).all(), (name, exact, estimate, stderr)


@pytest.mark.parametrize("mixture", MIXTURES)
@pytest.mark.parametrize("schedule", all_schedules())
def test_score_is_gradient_of_log_density(mixture, schedule, gen):
    field = MarginalField(mixture(), GaussianPath(schedule))
    t = torch.linspace(0.02, schedule.t_max - 0.02, 64, dtype=F64)
    x = _marginal_points(field, t, gen).requires_grad_(True)
    (grad,) = torch.autograd.grad(field.log_density(x, t).sum(), x)
    torch.testing.assert_close(field.score(x.detach(), t), grad, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("mixture", MIXTURES)
@pytest.mark.parametrize("schedule", all_schedules())
def test_continuity_equation(mixture, schedule, gen):
    """d p_t(x) / dt + div(p_t u_t)(x) = 0 for the exact density and velocity (autograd in t and x).

    This ties the velocity's d_alpha, d_beta to the density's alpha, beta: any slip in either fails it.
    """
    field = MarginalField(mixture(), GaussianPath(schedule))
    t = torch.linspace(0.05, schedule.t_max - 0.05, 128, dtype=F64)
    x = _marginal_points(field, t, gen)
    residual, dp_dt = _continuity_residual(field.density, field.velocity, x, t)
    scale = dp_dt.abs().max()
    assert scale > 1e-3  # the density really moves: the check is not vacuous
    assert residual.abs().max() <= 1e-9 * scale, residual.abs().max() / scale


def _continuity_residual(density, velocity, x, t):
    x, t = x.clone().requires_grad_(True), t.clone().requires_grad_(True)
    p = density(x, t)
    (dp_dt,) = torch.autograd.grad(p.sum(), t, retain_graph=True)
    flux = p[:, None] * velocity(x, t)
    div = sum(torch.autograd.grad(flux[:, d].sum(), x, retain_graph=True)[0][:, d] for d in range(x.shape[1]))
    return (dp_dt + div).detach(), dp_dt.detach()


def test_continuity_check_has_power(gen):
    """A slightly wrong velocity (u + 0.05 x) breaks the continuity equation by far more than 1e-9."""
    field = MarginalField(eight_gaussians(), GaussianPath("linear"))
    t = torch.linspace(0.05, 0.95, 128, dtype=F64)
    x = _marginal_points(field, t, gen)
    residual, dp_dt = _continuity_residual(field.density, lambda x, t: field.velocity(x, t) + 0.05 * x, x, t)
    assert residual.abs().max() > 1e-3 * dp_dt.abs().max()


@pytest.mark.parametrize("schedule", all_schedules())
def test_velocity_is_the_converted_score(schedule, gen):
    """Tweedie: E[eps | x] = -beta score, so path.convert(score -> velocity) gives the marginal velocity."""
    field = MarginalField(anisotropic(), GaussianPath(schedule))
    t = torch.linspace(0.05, schedule.t_max - 0.05, 64, dtype=F64)
    x = _marginal_points(field, t, gen)
    converted = field.path.convert(field.score(x, t), x, t, source="score", target="velocity")
    torch.testing.assert_close(converted, field.velocity(x, t), rtol=1e-8, atol=1e-8)


@pytest.mark.parametrize(
    "schedule",
    [LinearSchedule(), CosineSchedule(), PolynomialSchedule(2.0), NoisyLinearSchedule(0.0), NoisyLinearSchedule(0.5)],
    ids=str,
)
def test_density_at_t_0_is_standard_gaussian(schedule, gen):
    field = MarginalField(anisotropic(), GaussianPath(schedule))
    x = 2 * torch.randn(100, 2, generator=gen, dtype=F64)
    torch.testing.assert_close(field.log_density(x, 0.0), StandardGaussian(2).log_density(x))
    torch.testing.assert_close(field.score(x, 0.0), -x)


@pytest.mark.parametrize(
    "schedule", [LinearSchedule(), CosineSchedule(), PolynomialSchedule(2.0), NoisyLinearSchedule(0.0)], ids=str
)
@pytest.mark.parametrize("mixture", MIXTURES)
def test_density_at_t_1_is_the_data(schedule, mixture, gen):
    field = MarginalField(mixture(), GaussianPath(schedule))
    x = 3 * torch.randn(100, 2, generator=gen, dtype=F64)
    torch.testing.assert_close(field.log_density(x, 1.0), field.mixture.log_density(x), rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(field.score(x, 1.0), field.mixture.score(x), rtol=1e-6, atol=1e-6)


def test_density_integrates_to_one_at_every_time():
    field = MarginalField(eight_gaussians(), GaussianPath("cosine"))
    ax = torch.arange(-7.98, 8.0, 0.04, dtype=F64)
    grid = torch.stack(torch.meshgrid(ax, ax, indexing="ij"), -1).reshape(-1, 2)
    for t in (0.0, 0.5, 0.9, 1.0):
        assert (field.density(grid, t).sum() * 0.04**2).item() == pytest.approx(1.0, abs=1e-4)


def test_responsibilities_are_posterior_probabilities(gen):
    field = MarginalField(anisotropic(), GaussianPath("linear"))
    x = torch.randn(30, 2, generator=gen, dtype=F64)
    r = field.responsibilities(x, 0.6)
    assert r.shape == (30, 3)
    torch.testing.assert_close(r.sum(1), torch.ones(30, dtype=F64))
    m, s = field.mixture.means.to(F64), field.mixture.stds.to(F64)
    var = 0.36 * s**2 + 0.16
    dens = torch.stack(
        [
            torch.exp(-0.5 * ((x - 0.6 * m[k]) ** 2 / var[k]).sum(1)) / (2 * math.pi * var[k].prod().sqrt())
            for k in range(3)
        ],
        1,
    ) * field.mixture.weights.to(F64)
    torch.testing.assert_close(r, dens / dens.sum(1, keepdim=True))


def test_call_is_velocity_and_accepts_per_sample_times(gen):
    field = MarginalField(eight_gaussians(), GaussianPath("linear"))
    x, t = torch.randn(5, 2, generator=gen), torch.rand(5, generator=gen)
    torch.testing.assert_close(field(x, t), field.velocity(x, t))
    rows = torch.cat([field.velocity(x[i : i + 1], t[i].item()) for i in range(5)])
    torch.testing.assert_close(field(x, t), rows)
    assert repr(field) == "MarginalField(GaussianMixture(K=8, dim=2), GaussianPath(LinearSchedule()))"


@pytest.mark.parametrize("schedule", ["linear", "cosine", "vp"])
def test_velocity_and_score_are_the_two_fields_bit_for_bit(schedule, gen):
    """One posterior for both (what an SDE's drift needs) gives exactly what the two calls give."""
    field = MarginalField(anisotropic(), GaussianPath(schedule))
    x, t = 3 * torch.randn(64, 2, generator=gen), 0.99 * torch.rand(64, generator=gen)
    velocity, score = field.velocity_and_score(x, t)
    assert torch.equal(velocity, field.velocity(x, t)) and torch.equal(score, field.score(x, t))


def test_bad_inputs():
    with pytest.raises(TypeError, match=r"^mixture must be a GaussianMixture, got StandardGaussian$"):
        MarginalField(StandardGaussian(), GaussianPath())
    field = MarginalField(eight_gaussians(), GaussianPath("vp"))
    with pytest.raises(ValueError, match=r"^x must have shape \(B, 2\), got \(4, 3\)$"):
        field.velocity(torch.zeros(4, 3), 0.5)
    with pytest.raises(ValueError, match=r"^t must lie in \[0.0, 1.0\]"):
        field.score(torch.zeros(4, 2), 1.2)
    with pytest.raises(ValueError, match=r"^vp schedule: d_beta is infinite at t = 1"):
        field.velocity(torch.zeros(4, 2), 1.0)
