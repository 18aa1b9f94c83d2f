"""What the workflow modules share: range and period checks, query parameters, proportion CIs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from scipy import stats

from auterity_lab.errors import QueryParameterError
from auterity_lab.periods import DateRange

if TYPE_CHECKING:
    import pandas as pd

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


def wilson_interval(
    successes: pd.Series | np.ndarray, trials: pd.Series | np.ndarray, *, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a proportion, element-wise; NaN where ``trials`` is 0.

    Examples
    --------
    >>> lo, hi = wilson_interval(np.array([0, 5]), np.array([10, 10]))
    >>> np.round(lo, 3).tolist(), np.round(hi, 3).tolist()
    ([0.0, 0.237], [0.278, 0.763])
    """
    k = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    z = stats.norm.ppf(0.5 + confidence / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        centre = (p + z * z / (2 * n)) / (1 + z * z / n)
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
        lo = np.where(n > 0, np.clip(centre - half, 0.0, 1.0), np.nan)
        hi = np.where(n > 0, np.clip(centre + half, 0.0, 1.0), np.nan)
    return lo, hi


def _workflow(value: str | None) -> str | None:
    if value is not None and (not isinstance(value, str) or not value):
        raise QueryParameterError(f"workflow must be a workflow id or None, not {value!r}")
    return value
