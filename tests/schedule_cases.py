"""The schedule families the tests are parametrised over (imported by name: ``from schedule_cases
import all_schedules``; a module of its own because two folders of tests each have a conftest)."""

from __future__ import annotations

import pytest


def all_schedules():
    """Every schedule family, with a few parameter choices (the ids name them)."""
    from fmtutor.schedules import CosineSchedule, LinearSchedule, NoisyLinearSchedule, PolynomialSchedule, VPSchedule

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
