"""DDPM: closed form vs the chain, index <-> time, the ancestral step's posterior, DDIM on Gaussian data."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from fmtutor.ddpm import DDPM
from fmtutor.schedules import VPSchedule

F64 = torch.float64
MEAN, STD = torch.tensor([1.0, -2.0], dtype=F64), 0.5


def gaussian_eps(ddpm: DDPM):
    """The exact epsilon prediction for data N(m, s^2 I), reached through the book's time:
    E[eps | x_n = x] = sqrt(1 - abar) (x - sqrt(abar) m) / (abar s^2 + 1 - abar)."""

    def eps(x, t):
        a = ddpm.alpha_bars[ddpm.time_to_index(t)].to(x)[:, None]
        return (1 - a).sqrt() * (x - a.sqrt() * MEAN) / (a * STD**2 + 1 - a)

    return eps


def test_buffers():
    ddpm = DDPM()
    assert ddpm.betas.shape == ddpm.alpha_bars.shape == (1001,)
    assert ddpm.betas[0] == 0 and ddpm.alpha_bars[0] == 1
    assert ddpm.betas[1].item() == pytest.approx(1e-4) and ddpm.betas[-1].item() == pytest.approx(0.02)
    assert ddpm.alpha_bars[-1].item() == pytest.approx(math.exp(sum(math.log(1 - b) for b in ddpm.betas[1:].tolist())))


def test_chain_without_noise_multiplies_to_sqrt_alpha_bar():
    ddpm, x = DDPM(), torch.tensor([[1.0, -3.0]], dtype=F64)
    for n in range(1, ddpm.T + 1):
        x = ddpm.forward_step(x, n, torch.zeros_like(x))
        if n in (1, 10, 500, 1000):
            torch.testing.assert_close(
                x, ddpm.q_sample(torch.tensor([[1.0, -3.0]], dtype=F64), n, torch.zeros_like(x)), rtol=1e-12, atol=1e-15
            )


def test_q_sample_matches_iterating_the_chain_in_distribution():
    """Moments of x_n after n forward steps vs the closed form N(sqrt(abar_n) x0, 1 - abar_n), 5 std errors."""
    ddpm, n_samples, g = DDPM(), 20_000, torch.Generator().manual_seed(0)
    x0 = MEAN.expand(n_samples, 2)
    x = x0.clone()
    for n in range(1, 301):
        x = ddpm.forward_step(x, n, torch.randn(x.shape, generator=g, dtype=F64))
    closed = ddpm.q_sample(x0, 300, torch.randn(x0.shape, generator=g, dtype=F64))
    a = ddpm.alpha_bars[300].item()
    for sample in (x, closed):
        torch.testing.assert_close(sample.mean(0), math.sqrt(a) * MEAN, rtol=0, atol=5 * math.sqrt((1 - a) / n_samples))
        torch.testing.assert_close(
            sample.var(0), torch.full((2,), 1 - a, dtype=F64), rtol=5 * math.sqrt(2 / n_samples), atol=0
        )


def test_q_sample_takes_per_sample_indices():
    ddpm, x0, noise = DDPM(), torch.ones(3, 2, dtype=F64), torch.full((3, 2), 2.0, dtype=F64)
    n = torch.tensor([0, 7, 1000])
    a = ddpm.alpha_bars[n][:, None]
    torch.testing.assert_close(ddpm.q_sample(x0, n, noise), (a.sqrt() + 2 * (1 - a).sqrt()).expand(3, 2))
    assert torch.equal(ddpm.q_sample(x0, 0, noise), x0)


@given(T=st.integers(1, 2000), data=st.data())
def test_index_time_round_trip(T, data):
    ddpm = DDPM(T)
    n = data.draw(st.integers(0, T))
    t = ddpm.index_to_time(n)
    assert t.item() == pytest.approx(1 - n / T, abs=1e-6)
    assert ddpm.time_to_index(t).item() == n


def test_index_time_ends_and_vectors():
    ddpm = DDPM()
    torch.testing.assert_close(ddpm.index_to_time(torch.tensor([0, 250, 1000])), torch.tensor([1.0, 0.75, 0.0]))
    assert torch.equal(ddpm.time_to_index(torch.tensor([1.0, 0.0, 0.5004])), torch.tensor([0, 1000, 500]))


def test_vp_schedule_is_the_continuous_limit():
    """sqrt(abar_n) and sqrt(1 - abar_n) agree with VPSchedule at t = 1 - n/T to within 1.5e-3."""
    ddpm = DDPM()
    t = ddpm.index_to_time(torch.arange(ddpm.T + 1)).double()
    v = VPSchedule().values(t)
    torch.testing.assert_close(v.alpha, ddpm.alpha_bars.sqrt(), rtol=0, atol=1.5e-3)
    torch.testing.assert_close(v.beta, (1 - ddpm.alpha_bars).sqrt(), rtol=0, atol=1.5e-3)


@pytest.mark.parametrize("n", [2, 10, 500, 1000])
def test_ancestral_step_is_the_posterior(n):
    """eta = 1 from n to n - 1: mean 1/sqrt(1 - b_n) (x - b_n / sqrt(1 - abar_n) eps), variance
    b_n (1 - abar_{n-1}) / (1 - abar_n): out - mean equals that std times the same seeded z."""
    ddpm, gen = DDPM(), torch.Generator().manual_seed(n)
    x, eps = torch.randn(8, 2, generator=gen, dtype=F64), torch.randn(8, 2, generator=gen, dtype=F64)
    seen = []

    def model(x_, t):
        seen.append(t)
        return eps

    out = ddpm.ddim_step(model, x, n, n - 1, eta=1.0, generator=torch.Generator().manual_seed(1))
    b, a, a_prev = ddpm.betas[n], ddpm.alpha_bars[n], ddpm.alpha_bars[n - 1]
    mean = (x - b / (1 - a).sqrt() * eps) / (1 - b).sqrt()
    z = torch.randn(8, 2, generator=torch.Generator().manual_seed(1), dtype=F64)
    torch.testing.assert_close(out, mean + (b * (1 - a_prev) / (1 - a)).sqrt() * z, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(seen[0], torch.full((8,), 1 - n / 1000, dtype=F64))


def test_last_step_returns_the_clean_estimate_without_noise():
    ddpm, x = DDPM(), torch.randn(4, 2, generator=torch.Generator().manual_seed(0), dtype=F64)
    eps = torch.ones_like(x)
    out = ddpm.ddim_step(lambda x_, t: eps, x, 5, 0, eta=1.0, generator=torch.Generator().manual_seed(1))
    a = ddpm.alpha_bars[5]
    torch.testing.assert_close(out, (x - (1 - a).sqrt() * eps) / a.sqrt())


def test_ddim_maps_noise_to_gaussian_data():
    """With exact eps, every DDIM step is affine, so x_0 = A + K x_T and x_0 ~ N(A, K^2) for x_T ~ N(0, I).
    All T steps: A = m and K = s within 0.5 % (sqrt(abar_T) = 0.006 shifts A slightly); 100 steps: within 5 %."""
    ddpm = DDPM()
    x_T = torch.tensor([[0.0, 0.0], [1.0, 1.0], [3.0, 3.0]], dtype=F64)
    errors = []
    for n_steps in (ddpm.T, 100):
        x = ddpm.sample(gaussian_eps(ddpm), x_T, n_steps=n_steps, eta=0.0).final
        A, K = x[0], x[1] - x[0]
        torch.testing.assert_close((x[2] - x[0]) / 3, K, rtol=1e-9, atol=1e-12)  # affine indeed
        tol = 5e-3 if n_steps == ddpm.T else 5e-2
        torch.testing.assert_close(A, MEAN, rtol=tol, atol=0)
        torch.testing.assert_close(K, torch.full((2,), STD, dtype=F64), rtol=tol, atol=0)
        errors.append((K - STD).abs().max().item())
    assert errors[0] < errors[1]  # more steps, closer


def test_ancestral_sampling_of_gaussian_data():
    """eta = 1 over the whole (shorter) chain: mean within 0.05, std within 6 % (bias of the fixed variance
    plus 4 standard errors); without its noise the output would be far too narrow."""
    ddpm, gen = DDPM(250, 4e-4, 0.08), torch.Generator().manual_seed(0)
    x = ddpm.sample(gaussian_eps(ddpm), torch.randn(6000, 2, generator=gen, dtype=F64), eta=1.0, generator=gen).final
    torch.testing.assert_close(x.mean(0), MEAN, rtol=0, atol=0.05)
    torch.testing.assert_close(x.std(0), torch.full((2,), STD, dtype=F64), rtol=0.06, atol=0)


def test_timesteps_and_paths():
    ddpm = DDPM()
    taus = ddpm.timesteps(7)
    assert len(taus) == 8 and taus[0] == 1000 and taus[-1] == 0 and all(a > b for a, b in zip(taus, taus[1:]))
    assert ddpm.timesteps(1000) == list(range(1000, -1, -1))
    sol = ddpm.sample(gaussian_eps(ddpm), torch.zeros(3, 2, dtype=F64), n_steps=5, eta=0.0, keep_path=True)
    assert sol.path.shape == (6, 3, 2) and torch.equal(sol.path[0], torch.zeros(3, 2, dtype=F64))
    assert torch.equal(sol.path[-1], sol.final) and sol.nfe == 5
    torch.testing.assert_close(sol.times, 1 - torch.tensor(ddpm.timesteps(5)) / ddpm.T)  # the book's times
    assert ddpm.sample(gaussian_eps(ddpm), torch.zeros(3, 2, dtype=F64), n_steps=5, eta=0.0).path is None
    run = lambda seed: (
        ddpm.sample(
            gaussian_eps(ddpm),
            torch.zeros(3, 2, dtype=F64),
            n_steps=5,
            eta=1.0,  # noqa: E731
            generator=torch.Generator().manual_seed(seed),
        ).final
    )
    assert torch.equal(run(0), run(0)) and not torch.equal(run(0), run(1))


def test_bad_inputs():
    with pytest.raises(ValueError, match=r"^T \(the chain's length\) must be a positive integer, got 0$"):
        DDPM(0)
    with pytest.raises(ValueError, match=r"^need 0 < beta_start <= beta_end < 1, got 0.1, 1.0$"):
        DDPM(10, 0.1, 1.0)
    with pytest.raises(ValueError, match=r"^beta_start must be > 0, got 0.0$"):
        DDPM(10, 0.0, 0.1)
    ddpm, x = DDPM(), torch.zeros(2, 2)
    with pytest.raises(ValueError, match=r"^DDPM index n must lie in 0..1000, got -1..-1$"):
        ddpm.index_to_time(-1)
    with pytest.raises(ValueError, match=r"^t must lie in \[0, 1\], got 1.5..1.5$"):
        ddpm.time_to_index(1.5)
    with pytest.raises(ValueError, match=r"^DDPM index n must lie in 0..1000, got 1001..1001$"):
        ddpm.q_sample(x, 1001, x)
    with pytest.raises(ValueError, match=r"^forward_step needs n in 1..1000, got 0$"):
        ddpm.forward_step(x, 0, x)
    with pytest.raises(ValueError, match=r"^n_steps must lie in 1..1000, got 1001$"):
        ddpm.timesteps(1001)
    with pytest.raises(ValueError, match=r"^ddim_step needs indices 0 <= n_prev < n <= 1000, got n = 5, n_prev = 5$"):
        ddpm.ddim_step(lambda x_, t: x_, x, 5, 5)
    with pytest.raises(
        ValueError, match=r"^ddim_step needs indices 0 <= n_prev < n <= 1000, got n = 1001, n_prev = 0$"
    ):
        ddpm.ddim_step(lambda x_, t: x_, x, 1001, 0)
    with pytest.raises(ValueError, match=r"^x_T must have shape \(B, \*D\)"):
        ddpm.sample(lambda x_, t: x_, torch.zeros(3))


@pytest.mark.parametrize(
    "call,error,message",
    [
        (
            lambda d, x: d.sample(lambda x, t: x, x, n_steps=0),
            ValueError,
            r"^n_steps must be a positive integer, got 0$",
        ),
        (
            lambda d, x: d.sample(lambda x, t: x[:, :1], x, n_steps=2),
            ValueError,
            r"^eps_model returned \(4, 1\) for x of shape \(4, 2\); expected the shape of x$",
        ),
        (
            lambda d, x: d.sample(lambda x, t: x, x, n_steps=2, eta=float("nan")),
            ValueError,
            r"^eta must be a finite number in \[0, 1\], got nan$",
        ),
        (
            lambda d, x: d.sample(lambda x, t: x, x, n_steps=2, eta=5.0),
            ValueError,
            r"^eta must be a finite number in \[0, 1\], got 5.0$",
        ),
        (
            lambda d, x: d.sample(lambda x, t: x * float("nan"), x, n_steps=2),
            ValueError,
            r"^the sample \(is eps_model finite\?\) has 8 non-finite value\(s\)",
        ),
        (
            lambda d, x: d.q_sample(x, 3, x[:, :1]),
            ValueError,
            r"^noise must have the shape of x_clean \(4, 2\), got \(4, 1\)$",
        ),
        (lambda d, x: d.q_sample(x, 3, x * float("nan")), ValueError, r"^noise has 8 non-finite value\(s\)"),
        (
            lambda d, x: d.q_sample(x, torch.tensor([1, 2]), x),
            ValueError,
            r"^n must be one index or one per sample, shape \(4,\), got \(2,\)$",
        ),
        (
            lambda d, x: d.q_sample(x, 2.5, x),
            TypeError,
            r"^n must be an integer DDPM index or an integer tensor, got 2.5$",
        ),
        (lambda d, x: d.index_to_time(torch.tensor([1.5])), TypeError, r"^n must hold integer DDPM indices, got dtype"),
        (lambda d, x: d.time_to_index(float("nan")), ValueError, r"^t has 1 non-finite value\(s\)"),
    ],
)
def test_every_bad_input_of_the_issue_is_refused(call, error, message):
    with pytest.raises(error, match=message):
        call(DDPM(10), torch.randn(4, 2, generator=torch.Generator().manual_seed(0)))
