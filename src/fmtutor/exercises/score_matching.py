"""Checkers for chapter 5 (score matching and noise prediction): a score converted to a velocity,
the denoising score matching loss, one deterministic DDIM step, the drift of the SDE family and one
DDIM step with noise (eta between 0 and 1).

Each runs the learner's function on fresh cases (other schedules, seeds and shapes, the ends t = 0
and t = t_max, a DDPM with another T), compares it with the kernels in ``fmtutor`` (``GaussianPath.
convert``, ``losses.dsm_loss``, ``DDPM.ddim_step``, ``sampling.sde_drift``) and names the common
mistakes: a flipped sign, beta_t^2 for beta_t, abar for sqrt(abar), an index off by one, DDPM's
index passed to the network instead of the book's time, a forgotten 1/2 or square.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from .._validate import broadcast_time
from ..ddpm import DDPM
from ..losses import dsm_loss
from ..marginals import MarginalField
from ..paths import GaussianPath
from ..sampling import sde_drift
from ..schedules import CosineSchedule, LinearSchedule, Schedule, VPSchedule
from ..toy_data import eight_gaussians
from ._checker import Checker, CountedField, Report, seeded_draws

__all__ = ["check_score_to_velocity", "check_dsm_loss", "check_ddim_step", "check_sde_drift", "check_ddim_eta_step"]

F64 = torch.float64


def _coefficients(schedule: Schedule, t: Tensor, like: Tensor) -> tuple[Tensor, ...]:
    v = schedule(t)
    return tuple(broadcast_time(c, like) for c in (v.alpha, v.beta, v.d_alpha, v.d_beta))


# -- 1. a score model's prediction as a velocity ----------------------------------------------------


def check_score_to_velocity(fn: Callable[[Tensor, Tensor, Tensor, Schedule], Tensor]) -> Report:
    """``fn(score, x, t, schedule)``: the velocity d_alpha x1_hat + d_beta eps_hat with
    eps_hat = -beta_t score and x1_hat = (x - beta_t eps_hat) / alpha_t; x, score (B, *D), t (B,)."""
    report = Checker("score to velocity")
    vp = VPSchedule()
    cases = [
        (vp, (16, 2), 0.05, 0.95),
        (CosineSchedule(), (8, 3), 0.05, 0.95),
        (LinearSchedule(), (8, 2), 0.1, 0.9),
        (CosineSchedule(), (4, 1, 3, 3), 0.2, 0.8),
        (vp, (6, 2), 0.0, 0.0),
        (vp, (6, 2), vp.t_max, vp.t_max),
    ]
    for seed, (schedule, shape, t_low, t_high) in enumerate(cases):
        x, score, t = seeded_draws(50 + seed, shape, t_low, t_high)
        a, b, da, db = _coefficients(schedule, t, x)
        reference = GaussianPath(schedule).convert(score, x, t, "score", "velocity")

        def via(eps: Tensor) -> Tensor:
            return da * (x - b * eps) / a + db * eps  # noqa: B023 (called within the iteration)

        mistakes = (
            (via(b * score), "the sign is flipped: eps = -beta_t * score (the score points away from the noise)"),
            (via(-(b**2) * score), "eps = -beta_t * score: multiply by beta_t, not by beta_t^2"),
            (via(-score / b), "eps = -beta_t * score: multiply by beta_t, do not divide"),
            (da * x - db * b * score, "x is not x1: first recover x1_hat = (x - beta_t eps_hat) / alpha_t"),
            (
                da * (x + b * score) / a - db * b * score,
                "x1_hat = (x - beta_t eps_hat) / alpha_t = (x + beta_t^2 score) / alpha_t: beta_t enters twice",
            ),
            (
                (x + (1 - broadcast_time(t, x)) * score) / broadcast_time(t, x),
                "(x + (1 - t) score) / t holds for the linear schedule only; use alpha_t, beta_t and their derivatives",
            ),
        )
        where = f"t = {t_low:g}" if t_low == t_high else f"t in [{t_low:g}, {t_high:g}]"
        what = f"the velocity ({schedule.name}, shape {shape}, {where})"
        value = report.call(fn, score, x, t, schedule, case=f"{schedule.name}, {where}")
        report.close(value, reference, what, atol=1e-6, rtol=1e-4, mistakes=mistakes)
    mixture, path = eight_gaussians(), GaussianPath(vp)
    exact = MarginalField(mixture, path)
    x, _, t = seeded_draws(60, (64, 2), 0.1, 0.9)
    value = report.call(fn, exact.score(x, t), x, t, vp, case="the exact score of eight Gaussians")
    report.close(
        value,
        exact.velocity(x, t),
        "the velocity made from the exact score of eight Gaussians (it should be the exact marginal velocity u_t)",
        atol=1e-6,
        rtol=1e-4,
    )
    return report.report()


# -- 2. the denoising score matching loss -----------------------------------------------------------


def _mse(v: Tensor) -> Tensor:
    return (v**2).mean()


class _ScoreNet(nn.Module):
    """A small differentiable score model s(x, t) = -w x / (0.3 + t) + c sin(x), for any (B, *D)."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.tensor(1.3, dtype=F64))
        self.c = nn.Parameter(torch.tensor(0.4, dtype=F64))

    def forward(self, x: Tensor, t: Tensor) -> Tensor:
        """A small score ``(B, D)`` for ``x`` ``(B, D)`` and ``t`` ``(B,)``."""
        return -self.w * x / (0.3 + broadcast_time(t, x)) + self.c * torch.sin(x)


def check_dsm_loss(fn: Callable[[Callable, Tensor, Tensor, Tensor, Schedule], Tensor]) -> Report:
    """``fn(score_model, x1, x0, t, schedule)``: mean over batch and coordinates of
    (score_model(x_t, t) + x0 / beta_t)^2 with x_t = alpha_t x1 + beta_t x0; x1, x0 (B, *D), t (B,)."""
    report = Checker("denoising score matching loss")
    model = _ScoreNet()
    cases = [
        (VPSchedule(), (256, 2), 0.05, 0.95),
        (CosineSchedule(), (64, 3), 0.0, 0.9),
        (LinearSchedule(), (16, 1, 2, 2), 0.5, 0.99),
    ]
    for seed, (schedule, shape, t_low, t_high) in enumerate(cases):
        x1, _, t = seeded_draws(70 + seed, shape, t_low, t_high)
        x0 = torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=F64)
        path = GaussianPath(schedule)
        with torch.no_grad():
            reference = dsm_loss(model, x1, path, generator=torch.Generator().manual_seed(seed), t=t)
            a, b, _, _ = _coefficients(schedule, t, x1)
            s = model(a * x1 + b * x0, t)
            mistakes = (
                (_mse(s - x0 / b), "the target is -x0 / beta_t: the sign is flipped"),
                (_mse(s + x0 / b**2), "the target is -x0 / beta_t, not -x0 / beta_t^2"),
                (_mse(s + x0), "the target is -x0 / beta_t: divide the noise by beta_t"),
                (
                    _mse(model(b * x1 + a * x0, t) + x0 / b),
                    "x_t = alpha_t x1 + beta_t x0: alpha_t and beta_t are swapped",
                ),
                (((s + x0 / b) ** 2).sum(), "take the mean over batch and coordinates, not the sum"),
                (
                    ((s + x0 / b) ** 2).flatten(1).sum(1).mean(),
                    "the book's losses average over the coordinates too (a mean, not a sum per sample)",
                ),
            )
        where = f"{schedule.name}, x of shape {shape}, t in [{t_low:g}, {t_high:g}]"
        value = report.call(fn, model, x1, x0, t, schedule, case=where)
        if report.close(value, reference, f"the loss ({where})", atol=1e-8, rtol=1e-6, mistakes=mistakes):
            report.differentiable(value, f"the loss ({where})")
    return report.report()


# -- 3. one deterministic DDIM step -----------------------------------------------------------------


def _eps_model(x: Tensor, t: Tensor) -> Tensor:
    """The epsilon model eps(x, t) = tanh(x) (0.5 + t) + 0.2 t."""
    return torch.tanh(x) * (0.5 + broadcast_time(t, x)) + 0.2 * broadcast_time(t, x)


def _counted() -> CountedField:
    return CountedField(_eps_model)


def _ddim_variant(
    ddpm: DDPM, x: Tensor, n: int, n_prev: int, t: float, shift: int = 0, use_sqrt: bool = True, eps_sign: float = 1.0
) -> Tensor:
    """A DDIM step with the given (possibly wrong) choices, for naming a learner's mistake."""
    a, a_prev = ddpm.alpha_bars[n - shift].to(x), ddpm.alpha_bars[max(n_prev - shift, 0)].to(x)
    eps = _eps_model(x, torch.full((x.shape[0],), t, dtype=x.dtype))
    root = torch.sqrt if use_sqrt else (lambda v: v)
    x0_hat = (x - root(1 - a) * eps) / root(a)
    return root(a_prev) * x0_hat + eps_sign * root(1 - a_prev) * eps


def check_ddim_step(fn: Callable[[Callable, Tensor, int, int, DDPM], Tensor]) -> Report:
    """``fn(eps_model, x, n, n_prev, ddpm)``: DDIM (eta = 0) from DDPM index n to n_prev < n,
    calling ``eps_model(x, t)`` once at the book's time t = 1 - n / T."""
    report = Checker("DDIM step")
    cases = [
        (DDPM(), 1000, 980, (32, 2)),
        (DDPM(), 500, 499, (8, 3)),
        (DDPM(), 37, 12, (4, 1, 3, 3)),
        (DDPM(), 1, 0, (8, 2)),
        (DDPM(T=50), 50, 40, (8, 2)),
    ]
    for seed, (ddpm, n, n_prev, shape) in enumerate(cases):
        x = torch.randn(shape, generator=torch.Generator().manual_seed(80 + seed), dtype=F64)
        reference = ddpm.ddim_step(_counted(), x, n, n_prev, eta=0.0)
        t_book = 1 - n / ddpm.T
        mistakes = (
            (
                _ddim_variant(ddpm, x, n, n_prev, t_book, use_sqrt=False),
                "the coefficients are sqrt(abar_n) and sqrt(1 - abar_n), not abar_n and 1 - abar_n",
            ),
            (
                _ddim_variant(ddpm, x, n, n_prev, n / ddpm.T),
                "the network takes the book's time t = 1 - n / T (t = 0 is noise), not n / T",
            ),
            (
                _ddim_variant(ddpm, x, n, n_prev, t_book, eps_sign=-1.0),
                "x_prev = sqrt(abar_prev) x0_hat + sqrt(1 - abar_prev) eps: the sign of the eps term is flipped",
            ),
            (
                _ddim_variant(ddpm, x, n, n_prev, 1 - n / 1000),
                "the book's time is t = 1 - n / T with this DDPM's T (ddpm.T), not 1 - n / 1000",
            ),
            (
                _ddim_variant(ddpm, x, n, n_prev, 1 - (n - 1) / ddpm.T),
                "off by one: the network is evaluated at t = 1 - n / T, the time of the current index n",
            ),
        )
        if n_prev > 0:
            mistakes += (
                (
                    _ddim_variant(ddpm, x, n, n_prev, t_book, shift=1),
                    "off by one: ddpm.alpha_bars[n] is abar_n (alpha_bars[0] = 1 is the clean data)",
                ),
            )
        model, x_in = _counted(), x.clone()
        where = f"T = {ddpm.T}, n = {n} -> {n_prev}, x of shape {shape}"
        value = report.call(fn, model, x_in, n, n_prev, ddpm, case=where)
        report.close(value, reference, f"x at index {n_prev} ({where})", atol=1e-5, rtol=1e-4, mistakes=mistakes)
        if isinstance(value, Tensor):
            report.check(
                model.calls == 1,
                f"{where}: DDIM evaluates the network once per step, your step called it {model.calls} times",
            )
            report.check(torch.equal(x_in, x), f"{where}: your step changed x in place; return a new tensor")
    return report.report()


# -- 4. the drift of the marginal-preserving SDE ----------------------------------------------------


def check_sde_drift(fn: Callable[[Callable, Callable, Tensor, Tensor, float], Tensor]) -> Report:
    """``fn(velocity, score, x, t, sigma)``: the drift u_t(x) + sigma^2 / 2 * score_t(x) for a float
    sigma >= 0; x (B, D), t (B,)."""
    report = Checker("SDE drift")
    exact = MarginalField(eight_gaussians(), GaussianPath(VPSchedule()))
    for seed, sigma in enumerate((0.0, 0.5, 1.7, 2.0)):
        x, _, t = seeded_draws(90 + seed, (64, 2), 0.05, 0.95)
        x = 2 * x
        u, s = exact.velocity(x, t), exact.score(x, t)
        reference = sde_drift(exact.velocity, exact.score, sigma)(x, t)
        mistakes = (
            (u + sigma**2 * s, "the score term is sigma^2 / 2 * score: the factor 1/2 is missing"),
            (u + sigma / 2 * s, "the score term is sigma^2 / 2 * score: sigma must be squared"),
            (
                u - sigma**2 / 2 * s,
                "the score term enters with a plus sign: it pulls the particles back "
                "towards high density, undoing the spread of the noise",
            ),
            (-u + sigma**2 / 2 * s, "the velocity enters as +u_t: time runs from noise (t = 0) to data (t = 1)"),
            (u, "with sigma > 0 the drift needs the correction sigma^2 / 2 * score, or the noise blurs the marginals"),
        )
        value = report.call(fn, exact.velocity, exact.score, x, t, sigma, case=f"sigma = {sigma:g}")
        report.close(
            value,
            reference,
            f"the drift for sigma = {sigma:g}",
            atol=1e-6,
            rtol=1e-5,
            mistakes=mistakes if sigma > 0 else mistakes[3:4],
        )
    return report.report()


# -- 5. DDIM with noise: from DDIM (eta = 0) to ancestral sampling (eta = 1) ------------------------------


def _eta_variant(ddpm: DDPM, x: Tensor, n: int, n_prev: int, eta: float, noise: Tensor, **wrong) -> Tensor:
    """The eta step with one known mistake: ``full_eps`` keeps sqrt(1 - abar_prev) on eps, ``eta_one``
    ignores eta, ``variance`` uses s^2 as the noise's scale, ``half_root`` leaves one factor of s unrooted."""
    a, a_prev = ddpm.alpha_bars[n].to(x), ddpm.alpha_bars[n_prev].to(x)
    eps = _eps_model(x, torch.full((x.shape[0],), 1 - n / ddpm.T, dtype=x.dtype))
    x0_hat = (x - (1 - a).sqrt() * eps) / a.sqrt()
    ratio, last = (1 - a_prev) / (1 - a), 1 - a / a_prev
    s = (1.0 if wrong.get("eta_one") else eta) * (ratio.sqrt() * (last if wrong.get("half_root") else last.sqrt()))
    keep = 1 - a_prev if wrong.get("full_eps") else (1 - a_prev - s**2).clamp(min=0)
    return a_prev.sqrt() * x0_hat + keep.sqrt() * eps + (s**2 if wrong.get("variance") else s) * noise


def check_ddim_eta_step(fn: Callable[[Callable, Tensor, int, int, DDPM, float, Tensor], Tensor]) -> Report:
    """``fn(eps_model, x, n, n_prev, ddpm, eta, noise)``: x_prev = sqrt(abar_prev) x0_hat
    + sqrt(1 - abar_prev - s^2) eps + s noise, s = eta sqrt((1 - abar_prev) / (1 - abar_n))
    sqrt(1 - abar_n / abar_prev), with ``noise`` a standard normal draw shaped like x."""
    report = Checker("DDIM step with noise")
    cases = [
        (DDPM(), 1000, 900, 1.0, (32, 2)),
        (DDPM(), 500, 499, 1.0, (8, 3)),
        (DDPM(), 37, 12, 0.5, (4, 1, 3, 3)),
        (DDPM(), 20, 0, 1.0, (8, 2)),
        (DDPM(T=50), 50, 40, 0.0, (8, 2)),
        (DDPM(T=50), 30, 10, 0.3, (16, 2)),
    ]
    for seed, (ddpm, n, n_prev, eta, shape) in enumerate(cases):
        x = torch.randn(shape, generator=torch.Generator().manual_seed(110 + seed), dtype=F64)
        reference = ddpm.ddim_step(_counted(), x, n, n_prev, eta, torch.Generator().manual_seed(120 + seed))
        noise = torch.randn(shape, generator=torch.Generator().manual_seed(120 + seed), dtype=F64)  # the same draw
        hints = {
            "full_eps": "the eps term's coefficient is sqrt(1 - abar_prev - s^2): the fresh noise s z takes the "
            "place of part of the predicted noise, or x_prev gets too much variance",
            "eta_one": "s is eta times sqrt((1 - abar_prev) / (1 - abar_n)) sqrt(1 - abar_n / abar_prev): "
            "your step ignores eta",
            "variance": "s is the noise's standard deviation: add s * noise, not s^2 * noise",
            "half_root": "both factors of s are square roots: sqrt(1 - abar_n / abar_prev) as well",
        }
        mistakes = [(_eta_variant(ddpm, x, n, n_prev, eta, noise, **{k: True}), h) for k, h in hints.items()]
        model, x_in = _counted(), x.clone()
        where = f"T = {ddpm.T}, n = {n} -> {n_prev}, eta = {eta:g}"
        value = report.call(fn, model, x_in, n, n_prev, ddpm, eta, noise.clone(), case=where)
        report.close(value, reference, f"x at index {n_prev} ({where})", atol=1e-6, rtol=1e-5, mistakes=mistakes)
        if isinstance(value, Tensor):
            report.check(model.calls == 1, f"{where}: one network call per step, your step made {model.calls}")
            report.check(torch.equal(x_in, x), f"{where}: your step changed x in place; return a new tensor")
    return report.report()
