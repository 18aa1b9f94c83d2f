"""What the business modules share: checked parameters, running a query, Wilson columns."""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING, Any

import numpy as np

from auterity_lab import rollups
from auterity_lab.errors import QueryParameterError
from auterity_lab.intervals import wilson_interval
from auterity_lab.periods import DateRange

if TYPE_CHECKING:
    import pandas as pd

    from auterity_lab.warehouse import Workbench

INTERVALS = ("day", "week", "month")
"""Calendar buckets of the cohort-style metrics (retention, lifecycle, LTV)."""
SERIES_INTERVALS = (*INTERVALS, "range")
"""Buckets of the time series; ``range`` makes the whole range one period."""


def choice(name: str, value: object, allowed: Collection[str]) -> str:
    """``value`` if it is one of ``allowed``, else a :class:`QueryParameterError` naming both."""
    if not isinstance(value, str) or value not in allowed:
        raise QueryParameterError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")
    return value


def non_negative_int(name: str, value: object, *, allow_none: bool = False) -> int | None:
    """``value`` as an int >= 0 (or None when allowed)."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
        raise QueryParameterError(f"{name} must be a non-negative integer, not {value!r}")
    return int(value)


def event_name(name: str, value: object, *, allow_none: bool = False) -> str | None:
    """``value`` if it is a non-empty event type (or None when allowed)."""
    if value is None and allow_none:
        return None
    if not isinstance(value, str) or not value:
        hint = ", '$session' or None" if allow_none else ""
        raise QueryParameterError(f"{name} must be an event type{hint}, not {value!r}")
    return value


def run(
    wb: Workbench,
    query: str,
    /,
    *,
    start: Any,
    end: Any,
    on: tuple[str, ...] = (),
    **params: Any,
) -> pd.DataFrame:
    """Run ``queries/<query>.sql`` over the checked range ``[start, end)``.

    ``on`` names the rollups that ``queries/rollups/<query>.sql`` (the same frame) reads: when
    every one is usable for the range (:func:`auterity_lab.rollups.usable`), that form answers
    instead of the rows.
    """
    return rollups.query_or_rows(wb, query, on=on, **DateRange.of(start, end).params(), **params)


def with_wilson(
    frame: pd.DataFrame, rate: str, successes: Any, trials: Any, *, confidence: float = 0.95
) -> pd.DataFrame:
    """Insert ``<rate>_ci_low`` and ``<rate>_ci_high`` (Wilson) right after column ``rate``.

    ``successes`` and ``trials`` are column names of ``frame`` or arrays aligned with it; rows
    with missing or zero trials get NaN bounds.
    """
    k = _values(frame, successes)
    n = _values(frame, trials)
    known = np.isfinite(k) & np.isfinite(n)
    low, high = wilson_interval(
        np.where(known, k, 0.0), np.where(known, n, 0.0), confidence=confidence
    )
    at = frame.columns.get_loc(rate) + 1
    frame.insert(at, f"{rate}_ci_low", np.where(known, low, np.nan))
    frame.insert(at + 1, f"{rate}_ci_high", np.where(known, high, np.nan))
    return frame


def _values(frame: pd.DataFrame, source: Any) -> np.ndarray:
    if isinstance(source, str):
        return frame[source].to_numpy(dtype=float, na_value=np.nan)
    return np.asarray(source, dtype=float)
