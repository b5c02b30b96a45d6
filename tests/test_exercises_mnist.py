"""Chapter 7 checkers: the reference solutions pass; typical wrong ones are caught with the right words."""

from __future__ import annotations

import pytest
import torch

from fmtutor.exercises.mnist import (
    check_drop_labels,
    check_frechet,
    check_guided_velocity,
    check_patchify,
    check_tilted_density,
)
from fmtutor.mnist import NULL_LABEL, sqrtm_psd
from wrong_solutions import not_attempted, returns_none

# --- reference solutions (the notebook's "solution" cells) ---------------------------------------


def guided_velocity(model, x, t, y, w):
    v_cond = model(x, t, y)
    v_uncond = model(x, t, torch.full_like(y, NULL_LABEL))
    return v_uncond + w * (v_cond - v_uncond)


def drop_labels(y, p, generator):
    drop = torch.rand(y.shape, generator=generator, device=y.device) < p
    return y.masked_fill(drop, NULL_LABEL)


def frechet(mu1, cov1, mu2, cov2):
    root1 = sqrtm_psd(cov1)
    cross = torch.linalg.eigvalsh(root1 @ cov2 @ root1).clamp(min=0).sqrt().sum()
    return (mu1 - mu2).pow(2).sum() + torch.trace(cov1) + torch.trace(cov2) - 2 * cross


def patchify(x, patch):
    b, g = x.shape[0], x.shape[-1] // patch
    return x.reshape(b, 1, g, patch, g, patch).permute(0, 2, 4, 3, 5, 1).reshape(b, g * g, patch * patch)


# --- other correct solutions ---------------------------------------------------------------------


def guided_one_batch(model, x, t, y, w):
    both = model(torch.cat([x, x]), torch.cat([t, t]), torch.cat([y, torch.full_like(y, NULL_LABEL)]))
    cond, uncond = both.chunk(2)
    return (1 - w) * uncond + w * cond


def guided_none_label(model, x, t, y, w):
    uncond = model(x, t, None)  # the networks read y=None as "no label" for every sample
    return uncond + w * (model(x, t, y) - uncond)


def drop_bernoulli(y, p, generator):
    mask = torch.bernoulli(torch.full(y.shape, float(p)), generator=generator).bool()
    return torch.where(mask, torch.full_like(y, NULL_LABEL), y)


def frechet_float(mu1, cov1, mu2, cov2):
    return float(frechet(mu1, cov1, mu2, cov2))


def patchify_unfold(x, patch):
    return torch.nn.functional.unfold(x, patch, stride=patch).transpose(1, 2)


@pytest.mark.parametrize(
    "check, solution",
    [
        (check_guided_velocity, guided_velocity),
        (check_guided_velocity, guided_one_batch),
        (check_guided_velocity, guided_none_label),
        (check_drop_labels, drop_labels),
        (check_drop_labels, drop_bernoulli),
        (check_frechet, frechet),
        (check_frechet, frechet_float),
        (check_patchify, patchify),
        (check_patchify, patchify_unfold),
    ],
)
def test_correct_solutions_pass(check, solution):
    report = check(solution)
    assert report.passed, str(report)
    assert str(report).startswith("✓") and report.n_checks >= 8


# --- wrong solutions -------------------------------------------------------------------------------


@pytest.mark.parametrize("check", [check_guided_velocity, check_drop_labels, check_frechet, check_patchify])
def test_not_attempted_is_reported_once(check):
    report = check(not_attempted)
    assert not report.passed and len(report.problems) == 1
    assert "not attempted yet" in report.problems[0]


@pytest.mark.parametrize("check", [check_guided_velocity, check_drop_labels, check_frechet, check_patchify])
def test_none_is_caught(check):
    report = check(returns_none)
    assert not report.passed and "did you forget `return`?" in str(report)


def _parts(model, x, t, y):
    return model(x, t, y), model(x, t, torch.full_like(y, NULL_LABEL))


@pytest.mark.parametrize(
    "wrong, words",
    [
        (lambda m, x, t, y, w: (lambda c, u: c + w * (u - c))(*_parts(m, x, t, y)), "swapped"),
        (lambda m, x, t, y, w: (lambda c, u: (1 + w) * c - w * u)(*_parts(m, x, t, y)), "(1 + w) convention"),
        (lambda m, x, t, y, w: (lambda c, u: u + w * c)(*_parts(m, x, t, y)), "not v_cond alone"),
        (lambda m, x, t, y, w: (lambda c, u: w * (c - u))(*_parts(m, x, t, y)), "v_uncond is missing"),
        (lambda m, x, t, y, w: m(x, t, y) + w * (m(x, t, y) - m(x, t, y)), "'no label' token"),
        (lambda m, x, t, y, w: (lambda c, u: u + w * (c - u))(m(x, t, y), m(x, t, torch.zeros_like(y))), "not 0"),
        (
            lambda m, x, t, y, w: (lambda c, u: u + w * (c - u))(m(x, t, y), m(x, t, torch.full_like(y, -1))),
            "raised ValueError",
        ),
        (
            lambda m, x, t, y, w: (lambda c, u: u + w * (c - u))(*_parts(m, x, t, y.fill_(NULL_LABEL) * 0 + y)),
            "in place",
        ),
    ],
)
def test_guided_velocity_mistakes_are_named(wrong, words):
    report = check_guided_velocity(wrong)
    assert not report.passed
    assert words in str(report), str(report)


def _drop_reversed(y, p, generator):
    return y.masked_fill(torch.rand(y.shape, generator=generator) > p, NULL_LABEL)


def _drop_global_rng(y, p, generator):
    return y.masked_fill(torch.rand(y.shape) < p, NULL_LABEL)


def _drop_minus_one(y, p, generator):
    return y.masked_fill(torch.rand(y.shape, generator=generator) < p, -1)


def _drop_in_place(y, p, generator):
    return y.masked_fill_(torch.rand(y.shape, generator=generator) < p, NULL_LABEL)


def _drop_float(y, p, generator):
    return drop_labels(y, p, generator).float()


def _drop_fixed_count(y, p, generator):
    out = y.clone()
    out[: int(p * len(y)) // 2] = NULL_LABEL  # half the rate, and always the first labels
    return out


@pytest.mark.parametrize(
    "wrong, words",
    [
        (_drop_reversed, "the comparison is reversed"),
        (_drop_global_rng, "draw the random numbers with the generator you are given"),
        (_drop_minus_one, f"either stay as it was or become NULL_LABEL = {NULL_LABEL}"),
        (_drop_in_place, "changed y in place"),
        (_drop_float, "must stay a long tensor"),
        (_drop_fixed_count, "must be random, drawn with the generator"),
    ],
)
def test_drop_labels_mistakes_are_named(wrong, words):
    report = check_drop_labels(wrong)
    assert not report.passed
    assert words in str(report), str(report)


def test_drop_labels_checker_leaves_the_global_random_state_alone():
    state = torch.random.get_rng_state()
    check_drop_labels(_drop_global_rng)
    assert torch.equal(torch.random.get_rng_state(), state)


def _frechet_parts(mu1, cov1, mu2, cov2):
    r1, r2 = sqrtm_psd(cov1), sqrtm_psd(cov2)
    cross = torch.linalg.eigvalsh(r1 @ cov2 @ r1).clamp(min=0).sqrt().sum()
    return (mu1 - mu2).pow(2).sum(), torch.trace(cov1) + torch.trace(cov2), cross, torch.trace(r1 @ r2)


@pytest.mark.parametrize(
    "wrong, words",
    [
        (
            lambda *a: (lambda d, tr, c, n: d + tr)(*_frechet_parts(*a)),
            "cross term - 2 tr((S1^1/2 S2 S1^1/2)^1/2) is missing",
        ),
        (lambda *a: (lambda d, tr, c, n: d + tr - c)(*_frechet_parts(*a)), "enters twice"),
        (lambda *a: (lambda d, tr, c, n: d + tr - 2 * n)(*_frechet_parts(*a)), "only when S1 and S2 commute"),
        (lambda m1, c1, m2, c2: (m1 - m2).pow(2).sum() + torch.trace(c1 + c2 - 2 * c1 @ c2), "needs a square root"),
        (lambda *a: (lambda d, tr, c, n: d.sqrt() + tr - 2 * c)(*_frechet_parts(*a)), "squared distance"),
        (lambda *a: (lambda d, tr, c, n: d + tr - 2 * c)(*_frechet_parts(*a)).float() * 1.01, "is off"),
    ],
)
def test_frechet_mistakes_are_named(wrong, words):
    report = check_frechet(wrong)
    assert not report.passed
    assert words in str(report), str(report)


@pytest.mark.parametrize(
    "wrong, words",
    [
        (lambda x, p: x.reshape(x.shape[0], -1, p * p), "a plain reshape"),
        (
            lambda x, p: (
                patchify(x, p)
                .reshape(x.shape[0], 28 // p, 28 // p, p * p)
                .transpose(1, 2)
                .reshape(x.shape[0], -1, p * p)
            ),
            "the patches are ordered column by column",
        ),
        (
            lambda x, p: patchify(x, p).reshape(x.shape[0], -1, p, p).transpose(-1, -2).reshape(x.shape[0], -1, p * p),
            "the pixels inside each patch are read column by column",
        ),
        (lambda x, p: patchify(x, p)[:, :, None], "should have shape"),
    ],
)
def test_patchify_mistakes_are_named(wrong, words):
    report = check_patchify(wrong)
    assert not report.passed
    assert words in str(report), str(report)


# --- the tilted density of guidance on a labelled 2D mixture --------------------------------------


def tilted(data, x, y, w):
    return data.mixture.log_density(x) + w * data.log_posterior(x, y)


def tilted_bayes(data, x, y, w):
    """(1 - w) log p(x) + w log p(x | y): Bayes' rule moves log p(y) into the constant."""
    return (1 - w) * data.mixture.log_density(x) + w * data.conditional(y).log_density(x)


@pytest.mark.parametrize("solution", [tilted, tilted_bayes, lambda d, x, y, w: tilted(d, x, y, w) + 7.0])
def test_tilted_density_solutions_pass(solution):
    report = check_tilted_density(solution)
    assert report.passed, str(report)
    assert report.n_checks == 16  # per case: the call, the tensor, and its shape and value


@pytest.mark.parametrize(
    "wrong, words",
    [
        (
            lambda d, x, y, w: d.mixture.log_density(x) + w * d.conditional(y).log_density(x),
            "you used the class density",
        ),
        (lambda d, x, y, w: w * d.mixture.log_density(x) + d.log_posterior(x, y), "not of p(x)"),
        (lambda d, x, y, w: w * d.log_posterior(x, y), "the factor p(x) is missing"),
        (lambda d, x, y, w: tilted(d, x, y, 1 + w), "(1 + w) convention"),
        (lambda d, x, y, w: tilted(d, x, y, w).exp(), "not the density"),
        (lambda d, x, y, w: tilted(d, x, y, w)[:, None], "should have shape (50,)"),
        (lambda d, x, y, w: tilted(d, x, y, 0.9 * w), "is off"),
    ],
)
def test_tilted_density_mistakes_are_named(wrong, words):
    report = check_tilted_density(wrong)
    assert not report.passed
    assert words in str(report), str(report)


def test_tilted_density_not_attempted_is_reported_once():
    def todo(data, x, y, w):
        raise NotImplementedError

    report = check_tilted_density(todo)
    assert len(report.problems) == 1 and "not attempted yet" in report.problems[0]
