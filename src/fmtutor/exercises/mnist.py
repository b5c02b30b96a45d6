"""Checkers for chapter 7 (MNIST): the classifier-free guided velocity, label dropout, the Fréchet
distance between two Gaussians and the DiT's patchify.

Each runs the learner's function on fresh cases (small fake networks whose answer depends on the
label, other guidance scales, batch sizes, seeds, dimensions and patch sizes), compares it with the
kernels in ``fmtutor.mnist`` (``guided_field``, the training's label dropout, ``frechet_gaussians``,
``DiT.patchify``) and names the common mistakes: the two branches swapped, w multiplying the wrong
term, the (1 + w) convention, a forgotten "no label" token, a reversed dropout comparison, the
global random state instead of the generator, the missing cross term of the Fréchet distance, and
pixels or patches read in the wrong order.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor, nn

from ..distributions import GaussianMixture
from ..guidance import LabelledMixture, two_class_mixture
from ..mnist.conditioning import NULL_LABEL, check_labels
from ..mnist.dit import DiT
from ..gaussian_ot import sqrtm_psd
from ..mnist.evaluate import frechet_gaussians
from ..mnist.sample import guided_field
from ..training import seeded
from ._checker import Checker, Report

__all__ = ["check_guided_velocity", "check_drop_labels", "check_frechet", "check_patchify", "check_tilted_density"]

F64 = torch.float64


# -- 1. the classifier-free guided velocity -------------------------------------------------------


class _LabelNet(nn.Module):
    """A fake network v(x, t, y) = a_y tanh(x) + b_y t + c_y whose answer depends on the label y in
    0..10 (10 = no label); it checks its labels like the real networks and counts its calls."""

    def __init__(self, seed: int):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.a, self.b, self.c = (nn.Parameter(torch.randn(NULL_LABEL + 1, generator=g, dtype=F64)) for _ in range(3))
        self.calls = 0

    def forward(self, x: Tensor, t: Tensor | float, y: Tensor | None = None) -> Tensor:
        """A label-dependent output like ``x``; counts its calls."""
        self.calls += 1
        y = check_labels(y, x.shape[0], x.device)
        t = torch.as_tensor(t, dtype=x.dtype).expand(x.shape[0])
        shape = (-1,) + (1,) * (x.ndim - 1)
        return self.a[y].reshape(shape) * torch.tanh(x) + (self.b[y] * t + self.c[y]).reshape(shape)


def _guided_mistakes(net: _LabelNet, x: Tensor, t: Tensor, y: Tensor, w: float) -> tuple[tuple[Tensor, str], ...]:
    null = torch.full_like(y, NULL_LABEL)
    with torch.no_grad():
        cond, uncond, zero = net(x, t, y), net(x, t, null), net(x, t, torch.zeros_like(y))
    return (
        (
            cond + w * (uncond - cond),
            "v_cond and v_uncond are swapped: start from the unconditional "
            "prediction and move by w times (v_cond - v_uncond)",
        ),
        (
            (1 + w) * cond - w * uncond,
            "that is the (1 + w) convention (w = 0 conditional); this book "
            "writes v_uncond + w (v_cond - v_uncond), so that w = 1 is the plain conditional field",
        ),
        (uncond + w * cond, "w multiplies the difference v_cond - v_uncond, not v_cond alone"),
        (w * (cond - uncond), "the unconditional prediction v_uncond is missing in front of w (v_cond - v_uncond)"),
        (
            cond,
            "your result is v_cond for every w: the unconditional branch must be the network called "
            f"with the 'no label' token NULL_LABEL = {NULL_LABEL} for every sample",
        ),
        (zero + w * (cond - zero), f"the 'no label' token is NULL_LABEL = {NULL_LABEL}, not 0 (0 is the digit zero)"),
    )


def check_guided_velocity(fn: Callable[[nn.Module, Tensor, Tensor, Tensor, float], Tensor]) -> Report:
    """``fn(model, x, t, y, w)``: v_uncond + w (v_cond - v_uncond) with v_cond = model(x, t, y) and
    v_uncond = model(x, t, null), null = ``NULL_LABEL`` for every sample; x (B, 1, 28, 28), t, y (B,)."""
    report = Checker("classifier-free guided velocity")
    cases = [
        (3.0, 6, 0.3, 0.7),
        (1.0, 5, 0.0, 0.9),
        (0.0, 4, 0.1, 1.0),
        (0.5, 3, 0.2, 0.4),
        (7.5, 8, 0.0, 0.0),
        (2.0, 1, 1.0, 1.0),
    ]
    for seed, (w, batch, t_low, t_high) in enumerate(cases):
        g = torch.Generator().manual_seed(700 + seed)
        x = torch.randn(batch, 1, 28, 28, generator=g, dtype=F64)
        t = t_low + (t_high - t_low) * torch.rand(batch, generator=g, dtype=F64)
        y = torch.randint(0, 10, (batch,), generator=g)
        net = _LabelNet(seed)
        with torch.no_grad():
            reference = guided_field(net, w)(x, t, y)
        where = f"w = {w:g}, batch {batch}"
        x_in, y_in = x.clone(), y.clone()
        value = report.call(fn, net, x_in, t, y_in, w, case=where)
        if report.not_attempted:
            return report.report()
        mistakes = _guided_mistakes(net, x, t, y, w) if w not in (0.0, 1.0) else ()
        report.close(value, reference, f"the guided velocity ({where})", atol=1e-8, rtol=1e-6, mistakes=mistakes)
        if isinstance(value, Tensor):
            report.check(
                torch.equal(y_in, y) and torch.equal(x_in, x),
                f"{where}: your function changed x or "
                "y in place; build the null labels as a new tensor (e.g. torch.full_like(y, NULL_LABEL))",
            )
    return report.report()


# -- 2. label dropout -------------------------------------------------------------------------------


def _labels(n: int, seed: int) -> Tensor:
    return torch.randint(0, 10, (n,), generator=torch.Generator().manual_seed(seed))


def _dropout_rate(report: Checker, fn: Callable, p: float, n: int = 20_000) -> None:
    y = _labels(n, int(100 * p))
    out = report.call(fn, y.clone(), p, torch.Generator().manual_seed(1), case=f"p = {p:g}")
    if not report.tensor(out, (n,), f"the labels for p = {p:g}"):
        return
    if not report.check(
        out.dtype == torch.long,
        f"the labels must stay a long tensor (the networks embed them by index), got {out.dtype}",
    ):
        return
    stray = ~((out == y) | (out == NULL_LABEL))
    if not report.check(
        not stray.any(),
        f"p = {p:g}: every label must either stay as it was or become "
        f"NULL_LABEL = {NULL_LABEL}; found {int(stray.sum())} other values, e.g. "
        f"{out[stray][:3].tolist()}",
    ):
        return
    rate, sd = (out == NULL_LABEL).double().mean().item(), math.sqrt(p * (1 - p) / n)
    hint = " (the comparison is reversed: drop a label when u < p)" if abs(rate - (1 - p)) < 5 * sd + 1e-9 else ""
    report.check(
        abs(rate - p) <= 5 * sd + 1e-9,
        f"p = {p:g}: {100 * rate:.1f} % of {n} labels were dropped, expected {100 * p:g} % +- {500 * sd:.1f}{hint}",
    )


def check_drop_labels(fn: Callable[[Tensor, float, torch.Generator], Tensor]) -> Report:
    """``fn(y, p, generator)``: a new long tensor like y (B,) where each label independently becomes
    ``NULL_LABEL`` with probability p, drawn with ``generator``; y itself is left unchanged."""
    report = Checker("label dropout")
    with torch.random.fork_rng(devices=[]):  # a learner drawing from the global state must not shift it
        _check_drop(report, fn)
    return report.report()


def _check_drop(report: Checker, fn: Callable) -> None:
    y = _labels(64, 0)
    first = report.call(fn, y.clone(), 0.0, torch.Generator().manual_seed(0), case="p = 0")
    if report.not_attempted:
        return
    report.close(first, y.double(), "p = 0 (nothing may be dropped): the output", atol=0, rtol=0)
    every = report.call(fn, y.clone(), 1.0, torch.Generator().manual_seed(0), case="p = 1")
    if report.tensor(every, (64,), "the labels for p = 1"):
        report.check(
            bool((every == NULL_LABEL).all()),
            f"p = 1: every label must become NULL_LABEL = {NULL_LABEL}, got {every[:6].tolist()} ...",
        )
    for p in (0.1, 0.5):
        _dropout_rate(report, fn, p)
    y_in = y.clone()
    with seeded(11):  # the global state differs between the two calls with the same generator seed
        a = report.call(fn, y_in, 0.3, torch.Generator().manual_seed(5), case="generator seeded 5")
    with seeded(12):
        b = report.call(fn, y.clone(), 0.3, torch.Generator().manual_seed(5), case="generator seeded 5 again")
    c = report.call(fn, y.clone(), 0.3, torch.Generator().manual_seed(6), case="generator seeded 6")
    if all(isinstance(v, Tensor) and v.shape == y.shape for v in (a, b, c)):
        report.check(
            torch.equal(a, b),
            "two calls with generators seeded alike gave different labels: draw "
            "the random numbers with the generator you are given (generator=generator)",
        )
        report.check(
            not torch.equal(a, c),
            "generators with different seeds gave the same labels: the dropout "
            "must be random, drawn with the generator",
        )
        report.check(
            torch.equal(y_in, y),
            "your function changed y in place; return a new tensor "
            "(masked_fill, torch.where) so the caller's labels survive",
        )


# -- 3. the Fréchet distance between two Gaussians ----------------------------------------------------


def _spd(d: int, g: torch.Generator, scale: float = 1.0) -> Tensor:
    a = torch.randn(d, d, generator=g, dtype=F64)
    return scale * (a @ a.T / d + 0.1 * torch.eye(d, dtype=F64))


def _frechet_mistakes(mu1: Tensor, cov1: Tensor, mu2: Tensor, cov2: Tensor) -> tuple[tuple[Tensor, str], ...]:
    diff2 = (mu1 - mu2).pow(2).sum()
    traces = torch.trace(cov1) + torch.trace(cov2)
    cross = torch.linalg.eigvalsh(sqrtm_psd(cov1) @ cov2 @ sqrtm_psd(cov1)).clamp(min=0).sqrt().sum()
    naive = torch.trace(sqrtm_psd(cov1) @ sqrtm_psd(cov2))
    return (
        (diff2 + traces, "the cross term - 2 tr((S1^1/2 S2 S1^1/2)^1/2) is missing"),
        (diff2 + traces - cross, "the cross term enters twice: - 2 tr((S1^1/2 S2 S1^1/2)^1/2)"),
        (
            diff2 + traces - 2 * naive,
            "tr(S1^1/2 S2^1/2) equals the cross term only when S1 and S2 commute; "
            "take the square root of the product S1^1/2 S2 S1^1/2",
        ),
        (
            diff2 + traces - 2 * torch.trace(cov1 @ cov2),
            "the cross term needs a square root: tr((S1^1/2 S2 S1^1/2)^1/2), not tr(S1 S2)",
        ),
        (diff2.sqrt() + traces - 2 * cross, "the mean term is the squared distance |mu1 - mu2|^2"),
    )


def _as_scalar(value: object) -> object:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return torch.tensor(float(value), dtype=F64)
    return value.reshape(()) if isinstance(value, Tensor) and value.numel() == 1 else value


def check_frechet(fn: Callable[[Tensor, Tensor, Tensor, Tensor], Tensor]) -> Report:
    """``fn(mu1, cov1, mu2, cov2)``: |mu1 - mu2|^2 + tr(S1 + S2 - 2 (S1^1/2 S2 S1^1/2)^1/2), a number
    or 0-d tensor; mu (D,), cov (D, D) symmetric positive definite."""
    report = Checker("Fréchet distance between Gaussians")
    g = torch.Generator().manual_seed(77)
    cases = []
    for d in (1, 3, 8, 32):
        cases.append(
            (
                f"D = {d}",
                torch.randn(d, generator=g, dtype=F64),
                _spd(d, g),
                torch.randn(d, generator=g, dtype=F64),
                _spd(d, g, 2.0),
            )
        )
    mu, cov = torch.randn(5, generator=g, dtype=F64), _spd(5, g)
    cases.append(("two identical Gaussians", mu, cov, mu.clone(), cov.clone()))
    a, b = torch.rand(4, generator=g, dtype=F64) + 0.1, torch.rand(4, generator=g, dtype=F64) + 0.1
    cases.append(
        ("diagonal covariances", torch.zeros(4, dtype=F64), torch.diag(a), torch.ones(4, dtype=F64), torch.diag(b))
    )
    for where, mu1, cov1, mu2, cov2 in cases:
        reference = frechet_gaussians(mu1, cov1, mu2, cov2)
        value = _as_scalar(report.call(fn, mu1, cov1, mu2, cov2, case=where))
        if report.not_attempted:
            return report.report()
        if where == "diagonal covariances":
            reference = (mu1 - mu2).pow(2).sum() + (a.sqrt() - b.sqrt()).pow(2).sum()  # the closed form
        mistakes = _frechet_mistakes(mu1, cov1, mu2, cov2) if mu1.shape[0] > 1 else ()
        report.close(value, reference, f"the distance ({where})", atol=1e-5, rtol=1e-4, mistakes=mistakes)
    swapped = _as_scalar(report.call(fn, cases[2][3], cases[2][4], cases[2][1], cases[2][2], case="swapped"))
    report.close(
        swapped,
        frechet_gaussians(*cases[2][1:]),
        "the distance with the two Gaussians swapped (it is symmetric)",
        atol=1e-5,
        rtol=1e-4,
    )
    return report.report()


# -- 4. patchify for the DiT ------------------------------------------------------------------------


def _patch_mistakes(x: Tensor, p: int) -> tuple[tuple[Tensor, str], ...]:
    b, g = x.shape[0], x.shape[-1] // p
    grid = x.reshape(b, 1, g, p, g, p)
    return (
        (
            x.reshape(b, g * g, p * p),
            "a plain reshape cuts the image into strips of p * p consecutive "
            "pixels, not p x p squares: split rows and columns into (grid, p) first, then permute",
        ),
        (
            grid.permute(0, 2, 4, 5, 3, 1).reshape(b, g * g, p * p),
            "the pixels inside each patch are read "
            "column by column; read them row by row, as DiT.unpatchify lays them out",
        ),
        (
            grid.permute(0, 4, 2, 3, 5, 1).reshape(b, g * g, p * p),
            "the patches are ordered column by column; "
            "the DiT numbers them row by row (token 1 is the patch right of token 0)",
        ),
    )


def check_patchify(fn: Callable[[Tensor, int], Tensor]) -> Report:
    """``fn(x, patch)``: (B, 1, 28, 28) -> (B, (28 / patch)^2, patch^2), patches row by row and the
    pixels of each patch row by row: the layout of ``DiT.patchify`` / ``DiT.unpatchify``."""
    report = Checker("patchify")
    for seed, (p, batch) in enumerate(((4, 2), (7, 3), (2, 1), (14, 2))):
        x = torch.randn(batch, 1, 28, 28, generator=torch.Generator().manual_seed(40 + seed))
        dit = DiT(patch=p, dim=8, depth=1, heads=2)
        reference = dit.patchify(x)
        where = f"patch {p}, batch {batch}"
        value = report.call(fn, x.clone(), p, case=where)
        if report.not_attempted:
            return report.report()
        if report.close(value, reference, f"the tokens ({where})", atol=0, rtol=0, mistakes=_patch_mistakes(x, p)):
            report.check(torch.equal(dit.unpatchify(value), x), f"{where}: DiT.unpatchify does not give the image back")
    return report.report()


# -- 5. the tilted density that guidance aims at (2D mixture) ----------------------------------------


def _tilted_cases() -> list[tuple[str, LabelledMixture, int, float]]:
    three = LabelledMixture(
        GaussianMixture(
            torch.tensor([[0.0, 2.0], [2.0, -1.0], [-2.0, -1.0], [0.0, 0.0]]),
            torch.tensor([0.6, 0.8, 0.5, 1.5]),
            torch.tensor([1.0, 2.0, 1.0, 4.0]),
        ),
        torch.tensor([0, 1, 2, 1]),
    )
    return [
        ("two classes, y = 0, w = 3", two_class_mixture(), 0, 3.0),
        ("y = 1, w = 2.5", two_class_mixture(), 1, 2.5),
        ("three classes, y = 1, w = 4", three, 1, 4.0),
        ("three classes, y = 2, w = 0.5", three, 2, 0.5),
    ]


def check_tilted_density(fn: Callable[[LabelledMixture, Tensor, int, float], Tensor]) -> Report:
    """``fn(data, x, y, w)``: log p(x) + w log p(y | x) at points x (B, 2), up to one additive constant:
    the log of the density that guidance with scale w aims to sample at t = 1."""
    report = Checker("tilted log-density p(x) p(y | x)^w")
    for seed, (where, data, y, w) in enumerate(_tilted_cases()):
        x = 3 * torch.randn(50, 2, generator=torch.Generator().manual_seed(70 + seed), dtype=F64)
        value = report.call(fn, data, x, y, w, case=where)
        if report.not_attempted:
            return report.report()
        logp, post = data.mixture.log_density(x), data.log_posterior(x, y)
        cond = data.conditional(y).log_density(x)
        mistakes = (
            (
                logp + w * cond,
                "p(y | x) is the classifier's probability of y at x, p(x | y) p(y) / p(x); "
                "you used the class density p(x | y)",
            ),
            (w * logp + post, "w is the exponent of p(y | x), not of p(x)"),
            (w * post, "the factor p(x) is missing: guidance tilts the data density, it does not replace it"),
            (
                logp + (1 + w) * post,
                "that is the (1 + w) convention; this book's w = 1 is the plain "
                "conditional density, so the exponent of p(y | x) is w",
            ),
            ((logp + w * post).exp(), "return the log-density, not the density"),
        )
        centred = tuple((m - m.mean(), hint) for m, hint in mistakes)
        if report.tensor(value, (50,), f"the log-density ({where})"):
            value = value.detach().to(x)
            expected = logp + w * post
            report.close(
                value - value.mean(),
                expected - expected.mean(),
                f"the log-density ({where}, up to a constant)",
                atol=1e-6,
                rtol=1e-6,
                mistakes=centred,
            )
    return report.report()
