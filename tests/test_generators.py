"""Generators: one sampling interface for flow matching and diffusion, exact-field limits."""

import pytest
import torch

from fmtutor.generators import SAMPLERS, TrainedModel, exact_model
from fmtutor.marginals import MarginalField
from fmtutor.quality import sliced_w2_vs_nfe


def test_one_step_is_far_worse_than_many(mixture, reference):
    curve = sliced_w2_vs_nfe(exact_model("diffusion", mixture), "ddim", [1, 100], reference)
    assert curve[1] > 3 * curve[100]


@pytest.mark.parametrize("kind", SAMPLERS)
def test_every_sampler_returns_the_path_and_the_nfe(mixture, kind):
    model = exact_model(kind, mixture)
    x0 = torch.randn(16, 2, generator=torch.Generator().manual_seed(0))
    for sampler in SAMPLERS[kind]:
        sol = model.sample(x0, 8, sampler, generator=torch.Generator().manual_seed(0), keep_path=True)
        steps = 4 if sampler.endswith("heun") else 8
        assert sol.nfe == 8 and sol.path.shape == (steps + 1, 16, 2)
        assert torch.equal(sol.path[-1], sol.final) and torch.equal(sol.path[0], x0)


def test_bad_sampler_and_odd_heun_nfe_are_refused(mixture):
    x0 = torch.randn(4, 2)
    with pytest.raises(ValueError, match="unknown sampler for flow-matching 'ddim'"):
        exact_model("flow-matching", mixture).sample(x0, 4, "ddim")
    with pytest.raises(ValueError, match="nfe must be a positive multiple of 2 for solver 'heun', got 3"):
        exact_model("flow-matching", mixture).sample(x0, 3, "heun")


def test_a_sampler_calls_the_network_exactly_nfe_times(mixture):
    calls = []
    exact = exact_model("diffusion", mixture).model

    def counted(x, t):
        calls.append(1)
        return exact(x, t)

    model = TrainedModel("diffusion", counted)
    for sampler in SAMPLERS["diffusion"]:
        calls.clear()
        model.sample(torch.randn(8, 2), 12, sampler, generator=torch.Generator().manual_seed(0))
        assert len(calls) == 12, sampler


@pytest.mark.parametrize("kind, atol", [("flow-matching", 2e-3), ("diffusion", 1e-2)])
def test_log_likelihood_of_the_exact_model_is_the_data_log_density(mixture, kind, atol):
    """The exact field carries p_0 to the data (VP: to p_{t_max}), so log p_theta is the closed form there
    (VP's p_0 is N(0, I) only up to alpha_0 = 0.0066, a few thousandths of a nat at some points)."""
    model = exact_model(kind, mixture)
    x = mixture.sample(64, torch.Generator().manual_seed(3)).double()
    result = model.log_likelihood(x, nfe=128, method="rk4")
    expected = MarginalField(mixture, model.path).log_density(x, model.t_max)
    assert result.log_p.shape == (64,) and result.nfe == 128
    torch.testing.assert_close(result.log_p, expected, atol=atol, rtol=0)
    assert (result.log_p - expected).abs().mean() < 1e-3
    with pytest.raises(ValueError, match=r"^nfe must be a positive multiple of 2 for solver 'heun', got 5$"):
        model.log_likelihood(x, nfe=5, method="heun")
