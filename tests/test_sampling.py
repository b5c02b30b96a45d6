"""Sampling: the exact fields of Gaussian data transport noise to data, by ODE and by SDE for any sigma."""

from __future__ import annotations

import math

import pytest
import torch

from schedule_cases import all_schedules
from fmtutor.distributions import GaussianMixture
from fmtutor.marginals import MarginalField
from fmtutor.paths import GaussianPath
from fmtutor.sampling import converted_field, joint_sde_drift, probability_flow, sample_ode, sample_sde, sde_drift
from fmtutor.solvers import solve_ode, time_grid
from fmtutor.toy_data import three_clusters

F64 = torch.float64
MEAN, STDS = torch.tensor([[1.0, -2.0]]), torch.tensor([[0.5, 1.5]])


@pytest.mark.parametrize("schedule", all_schedules())
def test_ode_flow_of_gaussian_data_is_the_affine_map(schedule, gen):
    """For data N(m, diag(s^2)) the exact flow is x_t = alpha_t m + sigma_t / sigma_t0 (x - alpha_t0 m),
    sigma_t = sqrt(alpha_t^2 s^2 + beta_t^2): checked point by point after RK4."""
    field = MarginalField(GaussianMixture(MEAN, STDS), GaussianPath(schedule))
    t0, t1 = 0.0, schedule.t_max
    x = torch.randn(64, 2, generator=gen, dtype=F64)
    sol = sample_ode(field, x, n_steps=40, method="rk4", t_start=t0, t_end=t1)
    v0, v1 = schedule(torch.tensor(t0, dtype=F64)), schedule(torch.tensor(t1, dtype=F64))
    m, s = MEAN.double(), STDS.double()
    sd = lambda v: (v.alpha**2 * s**2 + v.beta**2).sqrt()  # noqa: E731
    expected = v1.alpha * m + sd(v1) / sd(v0) * (x - v0.alpha * m)
    torch.testing.assert_close(sol.final, expected, rtol=1e-5, atol=1e-5)  # RK4 error ~2e-6 on the stiffest
    assert sol.nfe == 160


SIGMAS = [
    pytest.param(0.0, id="sigma0"),
    pytest.param(0.5, id="sigma0.5"),
    pytest.param(1.0, id="sigma1"),
    pytest.param(lambda t: 2 * (1 - t), id="sigma2(1-t)"),
]


@pytest.mark.parametrize("sigma", SIGMAS)
def test_sde_with_exact_fields_samples_gaussian_data(sigma, gen):
    """Mean within 0.05 (about 5 standard errors), stds within 5 % (3 standard errors + Euler's bias)."""
    field = MarginalField(GaussianMixture(MEAN, STDS), GaussianPath("linear"))
    x = sample_sde(
        field.velocity, field.score, sigma, torch.randn(3000, 2, generator=gen), n_steps=100, generator=gen
    ).final
    torch.testing.assert_close(x.mean(0), MEAN[0], rtol=0, atol=0.05 * STDS.max().item())
    torch.testing.assert_close(x.std(0), STDS[0], rtol=0.05, atol=0)


@pytest.mark.parametrize("sigma", SIGMAS[:3])
def test_sde_with_exact_fields_samples_a_mixture(sigma, gen):
    """Cluster weights 0.3/0.3/0.4 within 0.04 and each cluster's std 0.4 within 10 % (3-4 standard errors).

    (Doubling the score term, a classic slip, shrinks the stds by 25 % for sigma > 0.)"""
    data = three_clusters()
    field = MarginalField(data, GaussianPath("cosine"))
    n = 2000
    x = sample_sde(
        field.velocity, field.score, sigma, torch.randn(n, 2, generator=gen), n_steps=80, t_end=0.999, generator=gen
    ).final
    k = torch.cdist(x, data.means).argmin(1)
    torch.testing.assert_close(torch.bincount(k, minlength=3).float() / n, data.weights, rtol=0, atol=0.04)
    stds = torch.stack([(x[k == j] - data.means[j]).std(0) for j in range(3)])
    torch.testing.assert_close(stds, torch.full((3, 2), 0.4), rtol=0.1, atol=0)


@pytest.mark.parametrize("source", ["x1", "epsilon", "score"])
@pytest.mark.parametrize("schedule", all_schedules())
def test_converted_field_turns_exact_predictions_into_the_velocity(source, schedule, gen):
    """Exact predictions E[x1 | x], E[eps | x] = -beta score, and the score all convert to u_t."""
    field = MarginalField(three_clusters(), GaussianPath(schedule))
    path = field.path

    def exact(x, t):
        eps = -path.coefficients(t, x).beta * field.score(x, t)
        return {
            "epsilon": eps,
            "score": field.score(x, t),
            "x1": path.convert(eps, x, t, source="epsilon", target="x1"),
        }[source]

    u = converted_field(exact, path, source)
    assert u.__name__ == f"{source}_to_velocity"
    t = torch.linspace(0.05, schedule.t_max - 0.05, 50, dtype=F64)
    x = 3 * torch.randn(50, 2, generator=gen, dtype=F64)
    torch.testing.assert_close(u(x, t), field.velocity(x, t), rtol=1e-7, atol=1e-7)
    if source == "score":
        torch.testing.assert_close(
            probability_flow(field.score, path)(x, t), field.velocity(x, t), rtol=1e-7, atol=1e-7
        )


def test_sde_drift_formula(gen):
    velocity = lambda x, t: torch.ones_like(x) * t[:, None]  # noqa: E731
    score = lambda x, t: -x  # noqa: E731
    x, t = torch.randn(6, 2, generator=gen), torch.rand(6, generator=gen)
    torch.testing.assert_close(sde_drift(velocity, score, 0.0)(x, t), velocity(x, t))
    torch.testing.assert_close(sde_drift(velocity, score, 0.6)(x, t), t[:, None] - 0.18 * x)
    sig = lambda t: 1 + t  # noqa: E731
    torch.testing.assert_close(sde_drift(velocity, score, sig)(x, t), t[:, None] - 0.5 * (1 + t[:, None]) ** 2 * x)


@pytest.mark.parametrize("sigma", [0.0, 0.7, lambda t: 1 + t], ids=["0", "0.7", "1+t"])
def test_joint_sde_drift_is_sde_drift_from_one_call(sigma, gen):
    """u + sigma^2/2 score from one call returning both equals sde_drift of the two fields, bit for bit."""
    field = MarginalField(three_clusters(), GaussianPath("vp"))
    x, t = torch.randn(16, 2, generator=gen), 0.9 * torch.rand(16, generator=gen)
    calls = []

    def both(x, t):
        calls.append(1)
        return field.velocity_and_score(x, t)

    joint = joint_sde_drift(both, sigma)(x, t)
    assert torch.equal(joint, sde_drift(field.velocity, field.score, sigma)(x, t)) and len(calls) == 1
    g2 = (sigma(t) if callable(sigma) else torch.full_like(t, sigma))[:, None] ** 2
    torch.testing.assert_close(joint, field.velocity(x, t) + g2 / 2 * field.score(x, t))


def test_joint_sde_drift_names_what_the_callable_returned_wrong(gen):
    x, t = torch.randn(4, 2, generator=gen), torch.full((4,), 0.5)
    with pytest.raises(ValueError, match=r"^velocity_and_score must return a pair \(velocity, score\), got Tensor$"):
        joint_sde_drift(lambda x, t: x, 0.5)(x, t)
    with pytest.raises(ValueError, match=r"^the score field returned \(4, 1\) for x of shape \(4, 2\)$"):
        joint_sde_drift(lambda x, t: (x, x[:, :1]), 0.5)(x, t)


def test_sample_ode_is_solve_ode_on_an_even_grid(gen):
    field = MarginalField(three_clusters(), GaussianPath("linear"))
    x = torch.randn(10, 2, generator=gen)
    a = sample_ode(field, x, n_steps=8, method="heun", keep_path=True)
    b = solve_ode(field, x, time_grid(8), method="heun")
    assert torch.equal(a.final, b.final) and a.nfe == 16 and a.path.shape == (9, 10, 2)
    c = sample_ode(field, x, n_steps=4, t_start=0.2, t_end=0.6)
    torch.testing.assert_close(c.times, torch.tensor([0.2, 0.3, 0.4, 0.5, 0.6]))


def test_sample_sde_is_seeded_and_passes_condition(gen):
    seen = []

    def velocity(x, t, label):
        seen.append(label)
        return torch.zeros_like(x)

    score = lambda x, t, label: -x  # noqa: E731
    run = lambda seed: sample_sde(
        velocity,
        score,
        1.0,
        torch.zeros(5, 2),
        n_steps=4,  # noqa: E731
        generator=torch.Generator().manual_seed(seed),
        label="cat",
    )
    a, b = run(3), run(3)
    assert torch.equal(a.final, b.final) and a.nfe == 4 and set(seen) == {"cat"}
    assert not torch.equal(a.final, run(4).final)


def test_probability_flow_refused_at_t_0():
    field = MarginalField(three_clusters(), GaussianPath("linear"))
    with pytest.raises(ValueError, match=r"^alpha_t is 0 .* so 'score' to 'velocity' is undefined"):
        sample_ode(probability_flow(field.score, field.path), torch.zeros(4, 2), n_steps=4)
    ok = sample_ode(probability_flow(field.score, field.path), torch.randn(4, 2), n_steps=4, t_start=1e-3)
    assert ok.final.shape == (4, 2) and math.isfinite(ok.final.sum().item())
