"""What the workflow modules share: range and period checks, query parameters, proportion CIs."""

from __future__ import annotations

from typing import Any

from auterity_lab.errors import QueryParameterError
from auterity_lab.periods import DateRange

PERIODS = ("day", "week", "month")
"""Allowed ``period`` values: UTC day, ISO week (Monday) or calendar month of the run's start."""


def params(start: Any, end: Any, *, workflow: str | None = None, **extra: Any) -> dict[str, Any]:
    """Query parameters for ``[start, end)`` (checked), an optional workflow and ``extra``."""
    checked = DateRange.of(start, end).params()
    return {**checked, "workflow": _workflow(workflow), **extra}


def period(value: str) -> str:
    """``value`` if it is an allowed period, else a :class:`QueryParameterError` naming it."""
    if value not in PERIODS:
        raise QueryParameterError(f"period must be one of {', '.join(PERIODS)}, not {value!r}")
    return value


def max_run_days(value: int) -> int:
    """How many days after ``end`` step partitions are read; a non-negative whole number."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise QueryParameterError(f"max_run_days must be a whole number >= 0, not {value!r}")
    return value


def _workflow(value: str | None) -> str | None:
    if value is not None and (not isinstance(value, str) or not value):
        raise QueryParameterError(f"workflow must be a workflow id or None, not {value!r}")
    return value
