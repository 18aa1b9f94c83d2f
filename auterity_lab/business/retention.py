"""Retention: cohort matrices with counts, rates and Wilson intervals.

A cohort is the users who did the *cohort event* in one calendar period (``first_time``: for the
first time ever; ``recurring``: at all). Period k of a cohort is the k-th period after its own; a
user is retained in it when they did the *return event* in that period (or, ``unbounded``, in it
or any later one). ``'$session'`` stands for a session start, so the default is classic
"came back for a session" retention.

Examples
--------
>>> m = retention(wb, start="2026-09-07", end="2026-11-02", interval="week")   # doctest: +SKIP
>>> m.pivot(index="cohort", columns="period", values="rate")                 # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from auterity_lab.business._query import (
    INTERVALS,
    choice,
    event_name,
    non_negative_int,
    run,
    with_wilson,
)
from auterity_lab.business.scope import FilterValue, scope_params
from auterity_lab.cache import cached
from auterity_lab.errors import QueryParameterError

if TYPE_CHECKING:
    import pandas as pd

    from auterity_lab.warehouse import Workbench

SESSION = "$session"
"""Pseudo event type: a session start (``user_sessions``) rather than a row of ``events``."""
MODES = ("first_time", "recurring")


@cached(
    "user_analytics",
    tables=["auterity.users", "auterity.user_sessions", "auterity.events"],
    relations=[],
)
def retention(
    wb: Workbench,
    /,
    *,
    start: Any,
    end: Any,
    interval: str = "week",
    periods: int | None = None,
    mode: str = "first_time",
    cohort_event: str | None = SESSION,
    return_event: str | None = SESSION,
    unbounded: bool = False,
    confidence: float = 0.95,
    breakdown: str | None = None,
    device: FilterValue = None,
    country: FilterValue = None,
    plan: FilterValue = None,
    channel: FilterValue = None,
) -> pd.DataFrame:
    """Retention cohort matrix (tidy: one row per cell).

    Parameters
    ----------
    wb
        Tenant-scoped workbench.
    start, end
        Cohort and return events are taken in ``[start, end)``.
    interval
        ``day``, ``week`` (ISO, Monday) or ``month``: calendar buckets of cohorts and periods.
    periods
        Show periods 0 .. ``periods`` (N-period retention); None: all the range holds.
    mode
        ``first_time``: the cohort is the users whose first cohort event *ever* (whole history)
        is in the period; ``recurring``: everyone who did it in the period.
    cohort_event, return_event
        ``events.event_type`` values, ``'$session'`` for a session start, or None for any
        session or event.
    unbounded
        False: retained in period k = returned in period k. True: returned in period k or later
        ("on or after"), so rates never rise with k.
    confidence
        Coverage of the Wilson interval of each rate.
    breakdown, device, country, plan, channel
        See :mod:`auterity_lab.business.scope`.

    Returns
    -------
    DataFrame
        One row per (``cohort``, ``segment``, ``period``) with ``cohort_size``, ``period``
        (k, 0-based), ``period_start``, ``complete`` (period k lies wholly before ``end``;
        incomplete cells can still grow), ``retained``, ``rate`` = retained / cohort_size and
        ``rate_ci_low`` / ``rate_ci_high`` (Wilson). Cells after ``end`` are absent.

    Raises
    ------
    QueryParameterError
        Bad range, interval, mode, period count, event, breakdown or filter.

    Examples
    --------
    >>> retention(wb, start="2026-09-01", end="2026-11-01", interval="week", periods=4,
    ...           cohort_event="signup", return_event="feature_use",
    ...           unbounded=True)  # doctest: +SKIP
    """
    if not isinstance(unbounded, bool):
        raise QueryParameterError(f"unbounded must be True or False, not {unbounded!r}")
    cohort_event = event_name("cohort_event", cohort_event, allow_none=True)
    return_event = event_name("return_event", return_event, allow_none=True)
    frame = run(
        wb,
        "business_retention",
        start=start,
        end=end,
        # session cohorts and returns need only each user's active days: the rollup's rows
        on=("user_day_activity",) if cohort_event == return_event == SESSION else (),
        interval=choice("interval", interval, INTERVALS),
        periods=non_negative_int("periods", periods, allow_none=True),
        mode=choice("mode", mode, MODES),
        cohort_event=cohort_event,
        return_event=return_event,
        unbounded=unbounded,
        **scope_params(
            breakdown=breakdown, device=device, country=country, plan=plan, channel=channel
        ),
    )
    return with_wilson(frame, "rate", "retained", "cohort_size", confidence=confidence)
