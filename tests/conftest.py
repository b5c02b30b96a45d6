"""Shared fixtures for the unit tests: one thread, seeded generators, quiet hypothesis."""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

import pytest
import torch
from hypothesis import HealthCheck, settings

torch.set_num_threads(1)

settings.register_profile(
    "fmtutor",
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
settings.load_profile("fmtutor")


@pytest.fixture
def gen() -> torch.Generator:
    """A fresh CPU generator seeded with 0."""
    return torch.Generator().manual_seed(0)


@pytest.fixture(scope="module")
def mixture():
    """Three Gaussian clusters (std 0.4): a target whose exact fields are known."""
    from fmtutor.toy_data import three_clusters

    return three_clusters()


@pytest.fixture(scope="module")
def reference(mixture):
    """2,000 points of ``mixture`` to measure samples against."""
    return mixture.sample(2000, torch.Generator().manual_seed(1))
