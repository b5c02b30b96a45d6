"""The checker framework behind every exercise: run a learner's function on cases they did not
see, compare with the reference, and say in plain words what is wrong. A broken attempt (an
exception, a wrong type or shape, NaN) becomes a message, never a crash. An untouched exercise (the
function still raises ``NotImplementedError``) reports "not attempted yet", and when the cell that
defines the function failed to run (a syntax error, say), the checker says so instead of checking the
previous definition that is still in memory.

    report = Checker("Euler step")
    y = report.call(my_step, field, x, 0.0, 0.1, case="one step of dx/dt = -x")
    report.close(y, expected, "x + h * field(x, t)")
    report            # prints: a tick and the checks passed, or each problem on its own line
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

__all__ = ["Checker", "Report", "NOT_RUN", "CountedField", "seeded_draws", "failed_definition"]


class _NotRun:
    """The value of a call that raised: later checks on it are skipped silently."""

    def __repr__(self) -> str:
        return "NOT_RUN"


NOT_RUN = _NotRun()


class CountedField:
    """A field ``field(x, t, **cond)`` that counts its calls and records each call's time as a float
    (the first entry of ``t``), so a checker can say "your sampler called the network 9 times, not 8".
    ``t`` (a float, a 0-d or a ``(B,)`` tensor) reaches ``field`` as a ``(B,)`` tensor in ``x``'s dtype."""

    def __init__(self, field: Callable[..., Tensor]):
        self.field, self.times = field, []

    @property
    def calls(self) -> int:
        """How many times the field was evaluated (its NFE)."""
        return len(self.times)

    def __call__(self, x: Tensor, t: Tensor | float, **cond) -> Tensor:
        self.times.append(float(t.reshape(-1)[0]) if isinstance(t, Tensor) else float(t))
        return self.field(x, torch.as_tensor(t, dtype=x.dtype).expand(x.shape[0]), **cond)


def seeded_draws(
    seed: int, shape: tuple[int, ...], t_low: float, t_high: float, scales: tuple[float, float] = (2.0, 1.0)
) -> tuple[Tensor, Tensor, Tensor]:
    """The cases a checker feeds: two float64 tensors of ``shape`` (standard normal draws times ``scales``,
    e.g. data-like and noise-like) and times ``(B,)`` uniform in [t_low, t_high], all from ``seed``."""
    g = torch.Generator().manual_seed(seed)
    a = scales[0] * torch.randn(shape, generator=g, dtype=torch.float64)
    b = scales[1] * torch.randn(shape, generator=g, dtype=torch.float64)
    t = t_low + (t_high - t_low) * torch.rand(shape[0], generator=g, dtype=torch.float64)
    return a, b, t


@dataclass(frozen=True)
class Report:
    """The outcome of one exercise's checks; prints as a short plain-text verdict."""

    exercise: str
    n_checks: int
    problems: tuple[str, ...]
    status: str = "checked"  # "checked", "not attempted" (NotImplementedError) or "stale" (cell failed)

    @property
    def passed(self) -> bool:
        """The checks ran (the exercise was attempted and its cell ran), at least one, and none failed."""
        return self.status == "checked" and not self.problems and self.n_checks > 0

    def __str__(self) -> str:
        if self.passed:
            return f"✓ {self.exercise}: all {self.n_checks} checks passed."
        if self.status == "not attempted":
            return (
                f"· {self.exercise}: not attempted yet (the function still raises NotImplementedError). "
                "Write it, run its cell, then this one."
            )
        if self.status == "stale":
            return f"✗ {self.exercise}: not checked. {self.problems[0]}"
        lines = [f"✗ {self.exercise}: {len(self.problems)} of {self.n_checks} checks failed."]
        return "\n".join(lines + [f"  - {p}" for p in self.problems])

    __repr__ = __str__


class Checker:
    """Collects checks for one exercise; ``report()`` (or printing the checker) gives the verdict."""

    def __init__(self, exercise: str):
        self.exercise = exercise
        self.n_checks = 0
        self.problems: list[str] = []
        self.status = "checked"

    @property
    def not_attempted(self) -> bool:
        """Whether the last call found the learner's function still raising NotImplementedError, or its
        cell failed to run (then one message is enough: a checker stops there)."""
        return self.status != "checked" or (bool(self.problems) and self.problems[-1].startswith("not attempted yet"))

    def fail(self, message: str) -> bool:
        """Record a problem without counting a check (``check`` counts one)."""
        self.problems.append(message)
        return False

    def check(self, ok: bool, message: str) -> bool:
        """Count one check; record ``message`` if ``ok`` is false."""
        self.n_checks += 1
        return True if ok else self.fail(message)

    def call(self, fn: Callable, *args, case: str = "", **kwargs):
        """Call the learner's ``fn``; an exception becomes a problem and the result ``NOT_RUN``."""
        where = f" ({case})" if case else ""
        if self.status != "checked":
            return NOT_RUN
        if failed := failed_definition(fn):
            self.status = "stale"
            self.fail(failed)
            return NOT_RUN
        self.n_checks += 1
        try:
            return fn(*args, **kwargs)
        except NotImplementedError:
            if self.n_checks == 1:  # the very first call: nothing of the exercise is written yet
                self.status = "not attempted"
            self.fail(f"not attempted yet{where}: the function still raises NotImplementedError")
        except Exception as err:  # a learner's bug is reported, not raised
            self.fail(f"your function raised {type(err).__name__}{where}: {err}")
        return NOT_RUN

    def tensor(self, value: object, shape: tuple[int, ...] | None, what: str) -> bool:
        """Check that ``value`` is a finite tensor of ``shape``."""
        if value is NOT_RUN:
            return False
        if not isinstance(value, Tensor):
            hint = " (did you forget `return`?)" if value is None else ""
            return self.check(False, f"{what} should be a torch.Tensor, got {type(value).__name__}{hint}")
        if shape is not None and tuple(value.shape) != tuple(shape):
            return self.check(False, f"{what} should have shape {tuple(shape)}, got {tuple(value.shape)}")
        return self.check(bool(torch.isfinite(value).all()), f"{what} contains NaN or inf")

    def close(
        self,
        value: object,
        expected: Tensor,
        what: str,
        atol: float = 1e-5,
        rtol: float = 1e-4,
        mistakes: Sequence[tuple[Tensor, str]] = (),
    ) -> bool:
        """Check shape, finiteness and closeness to ``expected``, naming the largest error.

        ``mistakes`` pairs known wrong answers with their explanation: a value that misses
        ``expected`` but matches one of them is reported as "<what> is wrong: <explanation>".
        """
        if not self.tensor(value, tuple(expected.shape), what):
            return False
        value = value.detach().to(expected)
        err = (value - expected).abs()
        ok = bool((err <= atol + rtol * expected.abs()).all())
        for wrong, hint in () if ok else mistakes:
            wrong = wrong.detach().to(expected)
            if wrong.shape == value.shape and bool(((value - wrong).abs() <= atol + rtol * wrong.abs()).all()):
                return self.check(False, f"{what} is wrong: {hint}")
        i = int(err.reshape(-1).argmax())
        detail = (
            f"{what} is off: largest error {err.reshape(-1)[i].item():.3g} "
            f"(expected {expected.reshape(-1)[i].item():.4g}, got {value.reshape(-1)[i].item():.4g})"
        )
        return self.check(ok, detail)

    def differentiable(self, value: Tensor, what: str) -> bool:
        """A loss must keep its graph: the learner's code may not detach it from the model's parameters."""
        return self.check(
            value.requires_grad,
            f"{what} must stay differentiable in the model's parameters: do not call .item(), .detach() or torch.no_grad()",
        )

    def number(self, value: object, low: float, high: float, what: str) -> bool:
        """Check that a number lies in [low, high]."""
        if value is NOT_RUN:
            return False
        try:
            v = float(value)
        except (TypeError, ValueError):
            return self.check(False, f"{what} should be a number, got {type(value).__name__}")
        return self.check(low <= v <= high, f"{what} should lie between {low:g} and {high:g}, got {v:.4g}")

    def report(self) -> Report:
        """The verdict so far."""
        return Report(self.exercise, self.n_checks, tuple(self.problems), self.status)


def failed_definition(fn: Callable) -> str | None:
    """In IPython: if the cell run just before this one defines ``fn`` (``def <name>``) and failed
    (a syntax error, or an exception), the sentence that says so; else None.

    A cell that fails to compile leaves the previous definition of ``fn`` in memory, so checking it
    would report on code the learner no longer sees. Outside IPython there is no such cell: None.
    """
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    result = getattr(shell, "last_execution_result", None) if shell is not None else None
    if result is None or result.success or result.info is None:
        return None
    name = getattr(fn, "__name__", "")
    if not name or not re.search(rf"^\s*(async\s+)?def\s+{re.escape(name)}\s*\(", result.info.raw_cell or "", re.M):
        return None
    error = result.error_before_exec or result.error_in_exec
    return (
        f"The cell that defines `{name}` did not run ({type(error).__name__}: {error}), so `{name}` "
        "is still your previous version. Fix the error, run that cell again, then this one."
    )
