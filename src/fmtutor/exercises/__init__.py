"""Automatic checkers for the book's exercises, one module per chapter (``ch01`` ... ``ch07``).

Each ``check_*`` function takes the learner's function, runs it on cases the learner did not see,
compares it with the reference kernel in ``fmtutor`` and returns a ``Report`` that prints what is
wrong in plain words.
"""

from ._checker import NOT_RUN, Checker, Report

__all__ = ["Checker", "Report", "NOT_RUN"]
