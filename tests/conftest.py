"""Shared fixtures for the unit tests: one thread, seeded generators, quiet hypothesis."""
from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest
import torch
from hypothesis import HealthCheck, settings

torch.set_num_threads(1)

settings.register_profile("fmtutor", max_examples=40, deadline=None, database=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture])
settings.load_profile("fmtutor")


@pytest.fixture
def gen() -> torch.Generator:
    """A fresh CPU generator seeded with 0."""
    return torch.Generator().manual_seed(0)


def all_schedules():
    """Every schedule family, with a few parameter choices (the ids name them)."""
    from fmtutor.schedules import (CosineSchedule, LinearSchedule, NoisyLinearSchedule,
                                   PolynomialSchedule, VPSchedule)
    return [
        pytest.param(LinearSchedule(), id="linear"),
        pytest.param(CosineSchedule(), id="cosine"),
        pytest.param(VPSchedule(), id="vp"),
        pytest.param(VPSchedule(beta_min=0.5, beta_max=5.0), id="vp-mild"),
        pytest.param(PolynomialSchedule(2.0), id="poly2"),
        pytest.param(PolynomialSchedule(3.5), id="poly3.5"),
        pytest.param(NoisyLinearSchedule(0.0), id="noisy0"),
        pytest.param(NoisyLinearSchedule(0.5), id="noisy0.5"),
    ]
