"""One error type for every invalid input, and the helpers that build its messages.

Validators in this library are pure functions that return a list of problem strings (empty when
the input is valid). Constructs collect the problems of all their props and raise a single
:class:`EmrPatternsValidationError`, so a user sees every mistake in one synth run.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["EmrPatternsValidationError", "problem", "raise_if_problems"]


class EmrPatternsValidationError(ValueError):
    """Raised at synth time when props are invalid.

    ``problems`` holds one line per invalid prop, each naming the prop, the value given and the fix.
    """

    def __init__(self, where: str, problems: Iterable[str]) -> None:
        self.where = where
        self.problems: list[str] = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{where}: {len(self.problems)} invalid prop(s):\n{lines}")


def problem(prop: str, value: Any, issue: str, fix: str) -> str:
    """Format one validation problem: ``<prop>=<value>: <issue>. Fix: <fix>``."""
    shown = repr(value)
    if len(shown) > 200:
        shown = shown[:197] + "..."
    return f"{prop}={shown}: {issue}. Fix: {fix}"


def raise_if_problems(where: str, problems: Iterable[str]) -> None:
    """Raise :class:`EmrPatternsValidationError` if ``problems`` is not empty."""
    found = [p for p in problems if p]
    if found:
        raise EmrPatternsValidationError(where, found)
