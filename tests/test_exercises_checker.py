"""The checker framework: verdicts, crash handling, named mistakes and the call-counting field."""

import pytest
import torch

from fmtutor.exercises._checker import NOT_RUN, Checker, CountedField


def test_report_passes_only_with_checks_and_no_problems():
    empty = Checker("nothing").report()
    assert not empty.passed
    report = Checker("ok")
    report.check(True, "never shown")
    assert str(report.report()) == "✓ ok: all 1 checks passed."


def test_a_crash_becomes_a_message_and_later_checks_are_skipped():
    report = Checker("step")
    value = report.call(lambda x: x / "a", torch.ones(2), case="two points")
    assert value is NOT_RUN
    assert not report.close(value, torch.ones(2), "the step")
    assert report.problems == [
        "your function raised TypeError (two points): unsupported operand type(s) for /: 'Tensor' and 'str'"
    ]


def test_not_attempted_is_named():
    report = Checker("step")

    def stub(x):
        raise NotImplementedError

    report.call(stub, 1.0)
    assert report.problems == ["not attempted yet: the function still raises NotImplementedError"]


@pytest.mark.parametrize(
    "value, message",
    [
        (None, "y should be a torch.Tensor, got NoneType (did you forget `return`?)"),
        (torch.zeros(3), "y should have shape (2,), got (3,)"),
        (torch.tensor([0.0, float("nan")]), "y contains NaN or inf"),
        (torch.tensor([1.0, 2.5]), "y is off: largest error 0.5 (expected 2, got 2.5)"),
        (torch.tensor([-1.0, -2.0]), "y is wrong: the sign is flipped"),
    ],
)
def test_close_names_what_is_wrong(value, message):
    expected = torch.tensor([1.0, 2.0])
    report = Checker("y")
    assert not report.close(value, expected, "y", mistakes=[(-expected, "the sign is flipped")])
    assert report.problems == [message]


def test_counted_field_counts_calls_and_records_float_times():
    field = CountedField(lambda x, t: x * t[:, None])
    x = torch.ones(3, 2)
    out = field(x, 0.25)
    field(x, torch.full((3,), 0.5))
    assert field.calls == 2 and field.times == [0.25, 0.5]
    assert torch.equal(out, torch.full((3, 2), 0.25))


def test_an_untouched_exercise_says_not_attempted_instead_of_counting_failures():
    report = Checker("Euler step")

    def stub(field, x):
        raise NotImplementedError("Exercise: write this function")

    for case in ("one", "two", "three"):
        report.close(report.call(stub, None, 1.0, case=case), torch.ones(1), "the step")
    verdict = report.report()
    assert verdict.status == "not attempted" and not verdict.passed
    assert str(verdict) == (
        "· Euler step: not attempted yet (the function still raises NotImplementedError). "
        "Write it, run its cell, then this one."
    )


def test_a_partly_written_solution_is_checked_not_called_untouched():
    report = Checker("two parts")
    calls = iter([1.0, NotImplementedError])

    def half(x):
        value = next(calls)
        if value is NotImplementedError:
            raise NotImplementedError
        return torch.tensor([value])

    report.close(report.call(half, 0), torch.ones(1), "part one")
    report.call(half, 0, case="part two")
    assert report.report().status == "checked"
    assert str(report.report()).startswith("✗ two parts: 1 of 4 checks failed.")


@pytest.fixture
def shell():
    """A real IPython shell, dropped again afterwards so that no other test sees it."""
    from IPython.core.interactiveshell import InteractiveShell

    ip = InteractiveShell.instance()
    yield ip
    ip.run_cell("pass")
    InteractiveShell.clear_instance()


def _check_double(fn):
    report = Checker("double")
    report.close(report.call(fn, torch.ones(2)), torch.full((2,), 2.0), "double(x)")
    return report.report()


def test_after_a_syntax_error_the_checker_does_not_check_the_old_definition(shell):
    assert shell.run_cell("def double(x):\n    return 2 * x\n").success
    assert _check_double(shell.user_ns["double"]).passed
    assert not shell.run_cell("def double(x):\n    return 2 * x +\n").success  # the learner's edit breaks
    verdict = _check_double(shell.user_ns["double"])  # still the first, working definition
    assert verdict.status == "stale" and not verdict.passed
    assert str(verdict).startswith("✗ double: not checked. The cell that defines `double` did not run (SyntaxError")
    assert "Fix the error, run that cell again" in str(verdict)


def test_a_failed_cell_that_does_not_define_the_function_is_ignored(shell):
    assert shell.run_cell("def double(x):\n    return 2 * x\n").success
    assert not shell.run_cell("1 / 0").success
    assert _check_double(shell.user_ns["double"]).passed


def test_a_definition_cell_that_raises_after_the_def_is_named(shell):
    assert not shell.run_cell("def double(x):\n    return 2 * x\nundefined_name\n").success
    verdict = _check_double(shell.user_ns["double"])
    assert verdict.status == "stale" and "(NameError: name 'undefined_name' is not defined)" in str(verdict)
