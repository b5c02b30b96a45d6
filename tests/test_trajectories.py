"""Straightness measures against closed forms: segments, polylines of circles, constant vs changing
speed, and the exact flows of a single data point (straight for the linear path, bent for VP)."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from fmtutor.distributions import GaussianMixture
from fmtutor.generators import exact_model
from fmtutor.paths import GaussianPath
from fmtutor.solvers import time_grid
from fmtutor.trajectories import path_length, straightness_ratio, velocity_deviation

F64 = torch.float64


def _segment(start: torch.Tensor, end: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """Points (1 - s) start + s end for s of shape (S + 1,): a path (S + 1, B, D)."""
    return (1 - s)[:, None, None] * start + s[:, None, None] * end


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 30), st.integers(1, 5), st.integers(1, 4), st.integers(0, 10_000))
def test_a_straight_segment_has_ratio_one_however_unevenly_it_is_walked(steps, batch, dim, seed):
    g = torch.Generator().manual_seed(seed)
    start, end = torch.randn(batch, dim, generator=g, dtype=F64), torch.randn(batch, dim, generator=g, dtype=F64) + 3
    s = torch.cat(
        [
            torch.zeros(1, dtype=F64),
            torch.rand(steps - 1, generator=g, dtype=F64).sort().values,
            torch.ones(1, dtype=F64),
        ]
    )
    path = _segment(start, end, s)
    torch.testing.assert_close(straightness_ratio(path), torch.ones(batch, dtype=F64))
    torch.testing.assert_close(path_length(path), (end - start).norm(dim=-1))


@pytest.mark.parametrize("n", [2, 8, 256])
def test_half_circle_polylines(n):
    """n chords of a half circle of radius r: length 2 n r sin(pi / 2n), chord 2r."""
    angle = torch.linspace(0, math.pi, n + 1, dtype=F64)
    r = torch.tensor([0.5, 2.0], dtype=F64)
    path = torch.stack([r * torch.cos(angle)[:, None], r * torch.sin(angle)[:, None]], dim=-1)
    torch.testing.assert_close(path_length(path), 2 * n * r * math.sin(math.pi / (2 * n)))
    ratio = straightness_ratio(path)
    torch.testing.assert_close(ratio, torch.full((2,), n * math.sin(math.pi / (2 * n)), dtype=F64))
    if n == 256:
        assert abs(ratio[0].item() - math.pi / 2) < 1e-4


def test_velocity_deviation_is_zero_only_at_constant_speed():
    """On x(t) = t^2 e (a straight line walked faster and faster) with a fine grid, the velocity 2t e
    deviates from its mean e by (2t - 1) e, so S -> integral of (2t - 1)^2 = 1/3."""
    times = time_grid(2000, dtype=F64)
    e = torch.tensor([[3.0, -4.0]], dtype=F64) / 5
    uniform = _segment(torch.zeros(1, 2, dtype=F64), e, times)
    accelerating = _segment(torch.zeros(1, 2, dtype=F64), e, times**2)
    assert velocity_deviation(uniform, times).abs().max() < 1e-20
    assert abs(velocity_deviation(accelerating, times).item() - 1 / 3) < 1e-5
    assert straightness_ratio(accelerating).item() == pytest.approx(1.0, abs=1e-12)  # the shape is straight


def test_conditional_paths_linear_is_straight_vp_is_an_arc():
    """x_t = alpha_t x1 + beta_t x0 for fixed x0 orthogonal to x1 with |x0| = |x1| = r. Linear: a segment
    walked at constant speed (ratio 1, S = 0). VP: alpha^2 + beta^2 = 1 puts x_t on the circle of
    radius r, from angle theta_0 = atan2(beta_0, alpha_0) to theta_1, so the ratio is
    d / (2 sin(d / 2)) with d = theta_0 - theta_1 (about pi/2: ratio about 1.11)."""
    x1, x0 = torch.tensor([[2.0, 0.0]], dtype=F64), torch.tensor([[0.0, 2.0]], dtype=F64)
    for name in ("linear", "vp"):
        path_ = GaussianPath(name)
        times = time_grid(4000, 0.0, path_.schedule.t_max, dtype=F64)
        c = path_.schedule(times)
        xs = c.alpha[:, None, None] * x1 + c.beta[:, None, None] * x0
        if name == "linear":
            torch.testing.assert_close(straightness_ratio(xs), torch.ones(1, dtype=F64))
            assert velocity_deviation(xs, times).item() < 1e-20
        else:
            c = path_.schedule(times[[0, -1]])
            d = (torch.atan2(c.beta, c.alpha)[0] - torch.atan2(c.beta, c.alpha)[1]).item()
            assert straightness_ratio(xs).item() == pytest.approx(d / (2 * math.sin(d / 2)), abs=1e-5)
            assert straightness_ratio(xs).item() > 1.1 and velocity_deviation(xs, times).item() > 1.0


def test_exact_flows_of_one_gaussian_linear_nearly_straight_vp_bent():
    """A single narrow Gaussian (std 0.05): the linear path's marginal flow x_t = t mu + sigma_t x0 is
    almost straight; the VP flow bends like its conditional arcs."""
    point = GaussianMixture(torch.tensor([[2.0, 0.0]], dtype=F64), 0.05)
    x0 = torch.tensor([[0.0, 2.0]], dtype=F64)
    fm = exact_model("flow-matching", point).sample(x0, 400, "heun", keep_path=True)
    vp = exact_model("diffusion", point).sample(x0, 400, "pf-heun", keep_path=True)
    ratios = straightness_ratio(fm.path).item(), straightness_ratio(vp.path).item()
    deviations = velocity_deviation(fm.path, fm.times).item(), velocity_deviation(vp.path, vp.times).item()
    assert ratios[0] < 1.01 and ratios[1] > 1.08, ratios
    assert deviations[0] < 0.2 and deviations[1] > 2.0, deviations


def test_refusals():
    with pytest.raises(TypeError, match="path must be a floating-point torch.Tensor"):
        path_length([[0.0]])
    with pytest.raises(ValueError, match=r"path must have shape \(S \+ 1, B, D\) with S >= 1 steps, got \(1, 3, 2\)"):
        path_length(torch.zeros(1, 3, 2))
    with pytest.raises(ValueError, match="1 particle\\(s\\) end where they start"):
        straightness_ratio(torch.tensor([[[0.0, 0.0]], [[1.0, 0.0]], [[0.0, 0.0]]]))
    with pytest.raises(ValueError, match=r"times must be a tensor of shape \(3,\)"):
        velocity_deviation(torch.zeros(3, 2, 2), torch.zeros(4))
    with pytest.raises(ValueError, match="times must be strictly increasing"):
        velocity_deviation(torch.zeros(3, 2, 2), torch.tensor([0.0, 0.5, 0.5]))
    with pytest.raises(ValueError, match="path has 1 non-finite value"):
        path_length(torch.tensor([[[0.0, float("nan")]], [[1.0, 0.0]]]))
