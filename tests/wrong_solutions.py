"""Wrong solutions every checker must survive, shared by the checker tests of all chapters.

not_attempted   the exercise's stub as handed out: it still raises NotImplementedError
returns_none    a body that computes but forgets ``return``
"""

from __future__ import annotations


def not_attempted(*args, **kwargs):
    """The untouched stub."""
    raise NotImplementedError


def returns_none(*args, **kwargs):
    """A function without ``return``."""
    return None
