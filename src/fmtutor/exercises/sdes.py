"""Checkers for chapter 2 (SDEs): Brownian paths, one Euler-Maruyama step, an OU simulation.

Randomness is judged by statistics on many samples (means within 5 standard errors, variances
within 5 standard errors of the sample variance, sqrt(2 / n) relative) and by reproducibility:
two calls with generators seeded alike must agree, two different seeds must not.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from ..sdes import OrnsteinUhlenbeck
from ._checker import NOT_RUN, Checker, Report

__all__ = ["check_brownian_paths", "check_em_step", "check_simulate_ou"]

F64 = torch.float64


def _seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _reproducible(c: Checker, run: Callable[[torch.Generator], object], what: str) -> None:
    """Same seed twice: identical; another seed: different."""
    a, b, other = (c.call(run, _seeded(s), case=f"{what}, seed {s}") for s in (11, 11, 12))
    if any(v is NOT_RUN or not isinstance(v, Tensor) for v in (a, b, other)):
        return
    same = a.shape == b.shape and torch.equal(a, b)
    c.check(
        same,
        f"{what}: two calls with generators seeded alike gave different results; draw every "
        "random number from `generator` (torch.randn(shape, generator=generator))",
    )
    if same:
        c.check(
            not torch.equal(a, other),
            f"{what}: two different seeds gave the same result; is the noise drawn from `generator` at all?",
        )


def _best_fit(observed: Tensor, candidates: dict[str, Tensor | float]) -> str:
    """The mistake whose predicted values (per entry) match ``observed`` within 15%, as a hint."""

    def misfit(pred):
        return (observed / torch.as_tensor(pred, dtype=observed.dtype)).clamp_min(1e-12).log().abs().max().item()

    name, pred = min(candidates.items(), key=lambda kv: misfit(kv[1]))
    return f" ({name})" if misfit(pred) < 0.15 else ""


def _scale_hint(ratio: float, hints: dict[str, float]) -> str:
    """Name the mistake whose predicted ratio (got / expected) is closest to ``ratio``."""
    return _best_fit(torch.tensor([ratio], dtype=F64), hints)


# --- Brownian paths --------------------------------------------------------------------------------


def check_brownian_paths(brownian_paths: Callable[[int, Tensor, torch.Generator], Tensor]) -> Report:
    """``brownian_paths(n_paths, times, generator) -> (len(times), n_paths)`` with W_0 = 0 and
    independent increments W_{t_{k+1}} - W_{t_k} ~ N(0, t_{k+1} - t_k), on an uneven grid."""
    c, n = Checker("Brownian paths"), 8000
    times = torch.tensor([0.0, 0.01, 0.05, 0.2, 0.5, 0.55, 1.0, 2.0], dtype=F64)
    w = c.call(brownian_paths, n, times, _seeded(0), case=f"{n} paths on an uneven grid of 8 times")
    if c.not_attempted:
        return c.report()
    if c.tensor(w, (len(times), n), "the paths W (shape (len(times), n_paths))"):
        _brownian_moments(c, w.to(F64), times, n)
    _reproducible(c, lambda g: brownian_paths(50, times, g), "50 paths")
    one = c.call(brownian_paths, 1, times[:2], _seeded(1), case="one path, two times")
    c.tensor(one, (2, 1), "one path on the grid [0, 0.01]")
    return c.report()


def _brownian_moments(c: Checker, w: Tensor, times: Tensor, n: int) -> None:
    c.check(bool((w[0] == 0).all()), "W at the first time should be exactly 0 (every path starts at W_0 = 0)")
    dt, dw = times.diff(), w.diff(dim=0)
    var = dw.var(dim=1)
    ok = bool(((var / dt - 1).abs() < 5 * math.sqrt(2 / n)).all())
    hint = _best_fit(
        var,
        {
            "did you forget sqrt(dt)? z alone has variance 1": 1.0,
            "did you use dt instead of sqrt(dt)?": dt**2,
            "on an uneven grid each step needs its own length t[k+1] - t[k]": dt.mean(),
        },
    )
    c.check(
        ok,
        "the increments W(t[k+1]) - W(t[k]) should have variance t[k+1] - t[k]; got variances "
        f"{_fmt(var)} for steps {_fmt(dt)}{hint}",
    )
    c.check(bool((dw.mean(dim=1).abs() <= 5 * (var / n).sqrt()).all()), "the increments should have mean 0")
    var_t = w[-1].var().item()
    c.check(
        abs(var_t / times[-1].item() - 1) < 5 * math.sqrt(2 / n),
        f"Var W_t at t = {times[-1].item():g} should be {times[-1].item():g}, got {var_t:.3g} "
        "(W_t is the running sum of the increments: torch.cumsum)",
    )
    z = (dw - dw.mean(dim=1, keepdim=True)) / dw.std(dim=1, keepdim=True).clamp_min(1e-300)
    corr = (z[1:] * z[:-1]).mean(dim=1).abs().max().item()
    c.check(
        corr < 5 / math.sqrt(n),
        f"successive increments should be independent, but their correlation "
        f"reaches {corr:.2f}: draw fresh noise for every step",
    )


# --- one Euler-Maruyama step -----------------------------------------------------------------------


def _drift(x: Tensor, t: Tensor) -> Tensor:
    """A time-dependent test drift: -x + t (the t broadcast over all coordinates)."""
    return -x + t.reshape(-1, *([1] * (x.ndim - 1)))


def check_em_step(em_step: Callable[..., Tensor]) -> Report:
    """``em_step(drift, sigma, x, t, h, generator) -> x + h drift(x, t) + sigma sqrt(h) z``, z ~ N(0, I)
    drawn from ``generator``; x is ``(B, *D)``, t is ``(B,)``, sigma and h are floats."""
    c = Checker("Euler-Maruyama step")
    gen = _seeded(3)
    x, t = torch.randn(6, 2, generator=gen, dtype=F64), torch.rand(6, generator=gen, dtype=F64)
    y = c.call(em_step, _drift, 0.0, x, t, 0.1, _seeded(0), case="sigma = 0")
    if c.not_attempted:
        return c.report()
    c.close(y, x + 0.1 * _drift(x, t), "with sigma = 0 (no noise) the step x + h * drift(x, t)", atol=1e-9)
    _em_noise(c, em_step)
    img, ti = torch.zeros(3, 1, 4, 4), torch.tensor([0.0, 0.5, 1.0])
    y = c.call(em_step, _drift, 0.5, img, ti, 0.01, _seeded(1), case="image-shaped x (3, 1, 4, 4)")
    c.tensor(y, (3, 1, 4, 4), "the step for image-shaped x of shape (3, 1, 4, 4)")
    _reproducible(c, lambda g: em_step(_drift, 0.5, x, t, 0.1, g), "one step of 6 points")
    return c.report()


def _em_noise(c: Checker, em_step: Callable[..., Tensor]) -> None:
    """The noise part (x' - x - h f) / (sigma sqrt h) must have mean 0 and standard deviation 1."""
    n, sigma, h = 20000, 0.7, 0.04
    x = torch.full((n, 2), 1.5, dtype=F64)
    t = torch.full((n,), 0.25, dtype=F64)
    y = c.call(em_step, _drift, sigma, x, t, h, _seeded(2), case=f"sigma = {sigma}, h = {h}, {n} points")
    if not c.tensor(y, (n, 2), f"the step for {n} points in 2D"):
        return
    z = (y.to(F64) - x - h * _drift(x, t)) / (sigma * math.sqrt(h))
    ratio = z.std().item()
    hint = _scale_hint(
        ratio,
        {
            "did you forget sqrt(h)?": 1 / math.sqrt(h),
            "did you use h instead of sqrt(h)?": math.sqrt(h),
            "did you use sigma**2 instead of sigma?": sigma,
        },
    )
    c.check(
        abs(ratio - 1) < 5 * math.sqrt(1 / (2 * z.numel())) + 0.01,
        f"the noise should have standard deviation sigma * sqrt(h) = {sigma * math.sqrt(h):.3g}, "
        f"got {ratio * sigma * math.sqrt(h):.3g}{hint}",
    )
    c.check(
        abs(z.mean().item()) < 5 / math.sqrt(z.numel()),
        f"the noise should have mean 0, got {z.mean().item() * sigma * math.sqrt(h):.3g} "
        "(use torch.randn, a standard normal, not torch.rand)",
    )


# --- Ornstein-Uhlenbeck by Euler-Maruyama --------------------------------------------------------


def check_simulate_ou(simulate_ou: Callable[..., Tensor]) -> Report:
    """``simulate_ou(x0, theta, sigma, t_end, n_steps, generator) -> X_{t_end}`` ``(B, D)`` for
    dX = -theta X dt + sigma dW, by ``n_steps`` Euler-Maruyama steps of size t_end / n_steps."""
    c = Checker("Ornstein-Uhlenbeck by Euler-Maruyama")
    x0 = torch.tensor([[3.0, -1.0]], dtype=F64).repeat(5, 1)
    y = c.call(simulate_ou, x0, 1.0, 0.0, 2.0, 8, _seeded(0), case="sigma = 0, 8 steps")
    if c.not_attempted:
        return c.report()
    expected = OrnsteinUhlenbeck(1.0, 0.0).em_moments(x0, 0.25, 8).mean
    if (
        not c.close(y, expected, "with sigma = 0, X after 8 steps of size h = 0.25 (x0 (1 - theta h)^8)", atol=1e-9)
        and isinstance(y, Tensor)
        and y.shape == x0.shape
        and y[0, 0].item() / 3.0 > 0
    ):
        steps = math.log(y[0, 0].item() / 3.0) / math.log(0.75)
        if steps > 0.5 and abs(steps - round(steps)) < 0.05:
            c.fail(
                f"with sigma = 0 your result matches {round(steps)} steps of size 0.25, not 8 "
                "(take exactly n_steps steps of h = t_end / n_steps)"
            )
    _ou_moments(c, simulate_ou, OrnsteinUhlenbeck(1.5, 0.8), t_end=1.0, n_steps=200, exact=True)
    _ou_moments(c, simulate_ou, OrnsteinUhlenbeck(1.0, 0.6), t_end=2.0, n_steps=8, exact=False)
    _reproducible(c, lambda g: simulate_ou(x0, 1.0, 0.5, 1.0, 10, g), "5 paths of 10 steps")
    return c.report()


def _ou_moments(
    c: Checker,
    simulate_ou: Callable[..., Tensor],
    ou: OrnsteinUhlenbeck,
    t_end: float,
    n_steps: int,
    exact: bool,
    n: int = 20000,
) -> None:
    """Sample mean and variance at t_end against the closed form (``exact``, allowing Euler-Maruyama's
    O(h) bias) or against the exact moments of the Euler-Maruyama recursion (few large steps)."""
    x0 = torch.tensor([[3.0, -1.0]], dtype=F64).repeat(n, 1)
    case = f"theta = {ou.theta}, sigma = {ou.sigma}, t_end = {t_end}, {n_steps} steps"
    y = c.call(simulate_ou, x0, ou.theta, ou.sigma, t_end, n_steps, _seeded(n_steps), case=case)
    if not c.tensor(y, tuple(x0.shape), f"X at t_end ({case}; the final state, not the path)"):
        return
    y = y.to(F64)
    em = ou.em_moments(x0[:1], t_end / n_steps, n_steps)
    ref = ou.moments(x0[:1], t_end) if exact else em
    law = (
        ("x0 e^(-theta t_end)", "sigma^2/(2 theta) (1 - e^(-2 theta t_end))")
        if exact
        else (f"x0 (1 - theta h)^{n_steps}", "sigma^2 h (1 - a^(2N)) / (1 - a^2), a = 1 - theta h")
    )
    mean, var = y.mean(0), y.var(0)
    tol_mean = 5 * (torch.maximum(var, em.variance) / n).sqrt() + (em.mean[0] - ref.mean[0]).abs()
    grew = bool((mean * x0[0] > x0[0] ** 2).any())
    c.check(
        bool(((mean - ref.mean[0]).abs() <= tol_mean).all()),
        f"mean at t_end ({case}) should be {_fmt(ref.mean[0])} (= {law[0]}), got {_fmt(mean)}"
        + (" (the drift must pull toward 0: -theta x)" if grew else ""),
    )
    tol_var = 5 * math.sqrt(2 / n) * em.variance + (em.variance - ref.variance).abs()
    hint = _scale_hint(
        (var / em.variance).max().item(),
        {
            "did you forget sqrt(h)?": n_steps / t_end,
            "did you use h instead of sqrt(h)?": t_end / n_steps,
            "did you use sigma**2 instead of sigma?": ou.sigma**2,
        },
    )
    c.check(
        bool(((var - ref.variance).abs() <= tol_var).all()),
        f"variance at t_end ({case}) should be {ref.variance.item():.3g} (= {law[1]}), got {_fmt(var)}{hint}",
    )


def _fmt(v: Tensor) -> str:
    return "(" + ", ".join(f"{float(a):.3g}" for a in v.reshape(-1)) + ")"
