"""Input checks: what they accept, what they return, and the exact messages they refuse with."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from fmtutor._validate import (
    all_finite,
    as_device,
    as_time,
    broadcast_time,
    check_batch,
    check_choice,
    check_finite,
    check_positive,
    within,
)


def test_check_batch_accepts_and_returns_the_tensor():
    x = torch.zeros(3, 2, 4)
    assert check_batch(x) is x
    assert check_batch(torch.zeros(5, 2), "x1", dim=2).shape == (5, 2)


@pytest.mark.parametrize(
    "value,error,message",
    [
        (np.zeros((2, 2)), TypeError, r"^x must be a torch.Tensor of shape \(B, \*D\), got ndarray$"),
        ([[0.0, 1.0]], TypeError, r"^x must be a torch.Tensor of shape \(B, \*D\), got list$"),
        (
            torch.zeros(2, 2, dtype=torch.int32),
            TypeError,
            r"^x must be a floating-point tensor, got dtype torch.int32$",
        ),
        (torch.zeros(3), ValueError, r"^x must have shape \(B, \*D\) with a batch dimension first, got shape \(3,\)$"),
        (torch.tensor(1.0), ValueError, r"^x must have shape \(B, \*D\) with a batch dimension first, got shape \(\)$"),
        (
            torch.tensor([[1.0, float("nan")], [float("inf"), 0.0]]),
            ValueError,
            r"^x has 2 non-finite value\(s\) \(NaN or inf\); expected finite numbers$",
        ),
    ],
)
def test_check_batch_refusals(value, error, message):
    with pytest.raises(error, match=message):
        check_batch(value)


def test_check_batch_dim():
    with pytest.raises(ValueError, match=r"^data must have shape \(B, 2\), got \(4, 3\)$"):
        check_batch(torch.zeros(4, 3), "data", dim=2)
    with pytest.raises(ValueError, match=r"^data must have shape \(B, 2\), got \(4, 2, 1\)$"):
        check_batch(torch.zeros(4, 2, 1), "data", dim=2)


@given(t=st.floats(0.0, 1.0), batch=st.integers(1, 9))
def test_as_time_broadcasts_a_number(t, batch):
    like = torch.zeros(batch, 2, dtype=torch.float64)
    out = as_time(t, batch, like)
    assert out.shape == (batch,) and out.dtype == torch.float64 and (out == t).all()


def test_as_time_keeps_a_batch_of_times_and_casts():
    like = torch.zeros(3, 2, dtype=torch.float64)
    t = torch.tensor([0.0, 0.5, 1.0])
    out = as_time(t, 3, like)
    assert out.dtype == torch.float64 and torch.equal(out, t.double())
    assert as_time(torch.tensor(0.25), 3, like).shape == (3,)
    assert torch.equal(as_time(1, 2, like), torch.ones(2, dtype=torch.float64))  # an int is a time too
    assert as_time(5.0, 2, like, low=0.0, high=10.0).eq(5.0).all()


@pytest.mark.parametrize(
    "t,error,message",
    [
        (True, TypeError, r"^t must be a float or a tensor of shape \(3,\), got bool$"),
        ("0.5", TypeError, r"^t must be a float or a tensor of shape \(3,\), got str$"),
        (torch.zeros(2), ValueError, r"^t must be a scalar or have shape \(3,\) to match the batch, got \(2,\)$"),
        (torch.zeros(3, 1), ValueError, r"^t must be a scalar or have shape \(3,\) to match the batch, got \(3, 1\)$"),
        (float("nan"), ValueError, r"^t has 3 non-finite value\(s\)"),
        (torch.tensor([0.1, 1.2, -0.3]), ValueError, r"^t must lie in \[0.0, 1.0\], got values from -0.3 to 1.2$"),
    ],
)
def test_as_time_refusals(t, error, message):
    with pytest.raises(error, match=message):
        as_time(t, 3, torch.zeros(3, 2))


def test_as_time_names_the_argument_and_bounds():
    with pytest.raises(ValueError, match=r"^t_start must lie in \[0.0, 0.5\], got values from 0.7 to 0.7$"):
        as_time(0.7, 1, torch.zeros(1, 1), name="t_start", high=0.5)


def test_broadcast_time():
    t = torch.tensor([1.0, 2.0])
    assert broadcast_time(t, torch.zeros(2, 3, 4, 5)).shape == (2, 1, 1, 1)
    assert broadcast_time(t, torch.zeros(2, 3)).shape == (2, 1)
    torch.testing.assert_close(
        broadcast_time(t, torch.zeros(2, 3)) * torch.ones(2, 3), torch.tensor([[1.0] * 3, [2.0] * 3])
    )


def test_check_choice():
    assert check_choice("method", "heun", ["euler", "heun"]) == "heun"
    assert check_choice("method", "a", {"a": 1}) == "a"
    with pytest.raises(ValueError, match=r"^unknown method 'rk45'; expected one of 'euler', 'heun'$"):
        check_choice("method", "rk45", ("euler", "heun"))


def test_check_finite_and_positive():
    x = torch.ones(2)
    assert check_finite(x, "x") is x
    with pytest.raises(ValueError, match=r"^weights has 1 non-finite value\(s\) \(NaN or inf\)"):
        check_finite(torch.tensor([1.0, float("-inf")]), "weights")
    assert check_positive(0.5, "lr") == 0.5 and check_positive(0.0, "sigma", allow_zero=True) == 0.0
    with pytest.raises(ValueError, match=r"^lr must be > 0, got 0$"):
        check_positive(0, "lr")
    with pytest.raises(ValueError, match=r"^sigma must be >= 0, got -1.0$"):
        check_positive(-1.0, "sigma", allow_zero=True)
    with pytest.raises(ValueError, match=r"^sigma must be >= 0, got nan$"):
        check_positive(float("nan"), "sigma", allow_zero=True)


def test_fast_paths_agree_with_the_exact_tests():
    """all_finite sums first: an overflowing sum of finite numbers must still pass; within compares
    in Python floats, so as_time re-tests in t's dtype before refusing a float32 t at its bound."""
    big = torch.full((4, 2), 3e38)  # finite in float32, but the sum overflows to inf
    assert not torch.isfinite(big.sum()) and all_finite(big) and check_batch(big) is big
    assert not all_finite(torch.tensor([1.0, float("nan")])) and not all_finite(torch.tensor([[float("-inf")]]))
    assert all_finite(torch.zeros(0, 2)) and within(torch.zeros(0), 0.0, 1.0)
    assert within(torch.tensor([0.0, 1.0]), 0.0, 1.0) and not within(torch.tensor([0.5, float("nan")]), 0.0, 1.0)
    t32 = torch.tensor([0.999])  # float32(0.999) is a little above the Python float 0.999
    assert not within(t32, 0.0, 0.999)
    assert torch.equal(as_time(t32, 1, torch.zeros(1, 2), high=0.999), t32)
    x = torch.ones(3, 2, requires_grad=True)
    assert check_batch(x) is x and as_time(torch.full((3,), 0.5, requires_grad=True), 3, x).requires_grad


@pytest.fixture
def no_gpu(monkeypatch):
    """A machine where torch sees no CUDA and no MPS device (the same answer on every machine)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)


@pytest.fixture
def two_gpus(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)


@pytest.mark.parametrize(
    "value,error,message",
    [
        ("cuda", ValueError, r"^device 'cuda' is not available on this machine; available here: 'cpu'$"),
        (
            torch.device("cuda", 1),
            ValueError,
            r"^device 'cuda:1' is not available on this machine; available here: 'cpu'$",
        ),
        ("mps", ValueError, r"^device 'mps' is not available on this machine; available here: 'cpu'$"),
        ("gpu", ValueError, r"^device 'gpu' is not a torch device; available here: 'cpu'$"),
        (0, TypeError, r"^device must be a device name \(str\) or a torch.device, got int$"),
    ],
)
def test_as_device_refuses_a_device_the_machine_lacks_and_lists_what_it_has(no_gpu, value, error, message):
    with pytest.raises(error, match=message):
        as_device(value)
    assert as_device("cpu") == torch.device("cpu") and as_device(torch.device("cpu")).type == "cpu"


def test_as_device_counts_the_gpus_there_are(two_gpus):
    assert as_device("cuda:1") == torch.device("cuda", 1) and as_device("cuda") == torch.device("cuda")
    message = r"^device 'cuda:2' is not available on this machine; available here: 'cpu', 'cuda:0', 'cuda:1'$"
    with pytest.raises(ValueError, match=message):
        as_device("cuda:2", "device")
