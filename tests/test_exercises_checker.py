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
    assert report.problems == ["your function raised TypeError (two points): unsupported operand type(s) for /: "
                               "'Tensor' and 'str'"]


def test_not_attempted_is_named():
    report = Checker("step")

    def stub(x):
        raise NotImplementedError

    report.call(stub, 1.0)
    assert report.problems == ["not attempted yet: the function still raises NotImplementedError"]


@pytest.mark.parametrize("value, message", [
    (None, "y should be a torch.Tensor, got NoneType (did you forget `return`?)"),
    (torch.zeros(3), "y should have shape (2,), got (3,)"),
    (torch.tensor([0.0, float("nan")]), "y contains NaN or inf"),
    (torch.tensor([1.0, 2.5]), "y is off: largest error 0.5 (expected 2, got 2.5)"),
    (torch.tensor([-1.0, -2.0]), "y is wrong: the sign is flipped"),
])
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
