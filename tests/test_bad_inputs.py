"""Every public callable, walked with bad inputs: a clear ValueError/TypeError from fmtutor, or a correct result.

The walk (bad_inputs.py, recipes in bad_input_recipes.py) tries one bad value of one argument at a
time, in the classes: wrong shapes and widths, wrong dtypes and devices, NaN and inf, negative, zero and
fractional counts, empty batches, unknown names, wrong object types. ``benchmarks/bad_inputs.py`` prints
the count per class.
"""

from __future__ import annotations

import math

import pytest
import torch
from bad_input_recipes import RECIPES
from bad_inputs import BAD, category, public_objects, valid_calls, walk
from hypothesis import given
from hypothesis import strategies as st

import fmtutor

MIN_CALLS = 3140  # the walk tried 3,191 bad calls when this was written; fewer means recipes were lost
CLASSES = {
    "shape",
    "width",
    "dtype",
    "device",
    "nan",
    "inf",
    "negative",
    "zero",
    "fraction",
    "empty batch",
    "unknown name",
    "type",
    "range",
    "path",
}


@pytest.fixture(scope="module")
def outcome():
    return walk(RECIPES)


def test_every_public_callable_has_a_recipe_or_a_reason():
    covered = {r.target.split(".")[0] for r in RECIPES}
    missing = sorted(
        name for name, obj in public_objects().items() if category(obj) is None and name.split(".")[0] not in covered
    )
    assert missing == []


def test_every_recipe_is_a_valid_call():
    assert valid_calls(RECIPES) == []


def test_every_bad_call_is_refused_clearly(outcome):
    assert outcome.failures == []


def test_the_walk_covers_every_class_and_enough_calls(outcome):
    print(f"\nbad calls tried: {outcome.total}  " + ", ".join(f"{k}: {v}" for k, v in sorted(outcome.tried.items())))
    assert set(outcome.tried) == CLASSES == {cls for kind in BAD.values() for cls, _, _ in kind}
    assert outcome.total >= MIN_CALLS


# -- hypothesis: random numbers where the walk uses a few fixed ones ------------------------------------


@given(t=st.floats(allow_nan=True, allow_infinity=True))
def test_any_float_time_is_either_in_range_or_refused(t):
    path, x1 = fmtutor.GaussianPath("cosine"), torch.ones(3, 2)
    if 0.0 <= t <= 1.0:
        s = path.sample(x1, t, x0=torch.zeros(3, 2))
        assert torch.allclose(s.x_t, torch.full((3, 2), math.sin(math.pi * t / 2)))
    else:
        with pytest.raises(ValueError, match=r"^t (has 3 non-finite|must lie in)"):
            path.sample(x1, t)


@given(n=st.one_of(st.integers(-5, 5), st.floats(-5, 5), st.just(math.nan)))
def test_any_count_is_either_a_positive_integer_or_refused(n):
    mixture = fmtutor.GaussianMixture(torch.zeros(1, 2))
    if isinstance(n, int) and n >= 1:
        assert fmtutor.time_grid(n).shape == (n + 1,) and mixture.sample(n).shape == (n, 2)
        assert fmtutor.sliced_wasserstein(torch.ones(3, 2), torch.ones(4, 2), n_projections=n) < 1e-6
    else:
        for call in (
            lambda: fmtutor.time_grid(n),
            lambda: mixture.sample(n),
            lambda: fmtutor.sliced_wasserstein(torch.ones(3, 2), torch.ones(3, 2), n_projections=n),
        ):
            with pytest.raises(ValueError, match=r"must be a positive integer"):
                call()


@given(
    value=st.one_of(
        st.floats(-1e6, 1e6).filter(lambda v: v == 0 or abs(v) > 1e-3), st.sampled_from([math.nan, math.inf, -math.inf])
    ),
    which=st.sampled_from(["means", "stds", "weights"]),
)
def test_mixture_parameters_are_finite_or_refused(value, which):
    args = {"means": torch.zeros(2, 2), "stds": torch.ones(2), "weights": torch.ones(2)}
    args[which] = args[which].clone()
    args[which][0] = value
    valid = math.isfinite(value) and (which == "means" or value > 0 or (which == "weights" and value == 0))
    if valid:
        mixture = fmtutor.GaussianMixture(**args)
        assert torch.isfinite(mixture.log_density(torch.zeros(1, 2))).all()
    else:
        with pytest.raises(ValueError, match=rf"^{which} (has \d non-finite|must be)"):
            fmtutor.GaussianMixture(**args)
