"""Acquisition: new users per channel over time, and how many of them activate and pay.

Examples
--------
>>> acquisition(wb, start="2026-08-01", end="2026-11-01", interval="month")  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from auterity_lab.business._query import (
    SERIES_INTERVALS,
    choice,
    event_name,
    non_negative_int,
    run,
    with_wilson,
)
from auterity_lab.business.scope import FilterValue, scope_params

if TYPE_CHECKING:
    import pandas as pd

    from auterity_lab.warehouse import Workbench


def acquisition(
    wb: Workbench,
    /,
    *,
    start: Any,
    end: Any,
    interval: str = "week",
    window_days: int = 30,
    activation_event: str = "activate",
    paid_event: str = "subscribe",
    breakdown: str | None = "channel",
    device: FilterValue = None,
    country: FilterValue = None,
    plan: FilterValue = None,
    channel: FilterValue = None,
) -> pd.DataFrame:
    """New users per signup period and segment (acquisition channel by default), with their later
    activation and conversion to paid within ``window_days`` of signing up.

    Parameters
    ----------
    wb
        Tenant-scoped workbench.
    start, end
        Signups (``users.created_at``) in ``[start, end)``; conversions may happen after ``end``.
    interval
        ``day``, ``week``, ``month`` or ``range``.
    window_days
        A conversion counts when the user's first activation (paid) event is at most this many
        days after signup (inclusive).
    activation_event, paid_event
        ``events.event_type`` values that mark activation and the conversion to paid.
    breakdown
        ``channel`` (default), ``device``, ``country``, ``plan`` or None.
    device, country, plan, channel
        Keep users with these attribute values; see :mod:`auterity_lab.business.scope`.

    Returns
    -------
    DataFrame
        One row per (``period``, ``segment``): ``complete`` (whole bucket inside the range),
        ``mature`` (every signup of the period has had its full window before the latest event
        in the data: rates of immature periods are still rising), ``new_users``,
        ``activated_users``, ``activation_rate`` with ``activation_rate_ci_low`` /
        ``activation_rate_ci_high`` (95 % Wilson), ``median_days_to_activate``, ``paid_users``,
        ``paid_rate`` with its Wilson bounds, ``median_days_to_paid``.

    Raises
    ------
    QueryParameterError
        Bad range, interval, window, event name, breakdown or filter.

    Examples
    --------
    >>> acq = acquisition(wb, start="2026-08-01", end="2026-11-01")  # doctest: +SKIP
    >>> acq.pivot(index="period", columns="segment", values="new_users")  # doctest: +SKIP
    """
    window = non_negative_int("window_days", window_days)
    frame = run(
        wb,
        "business_acquisition",
        start=start,
        end=end,
        interval=choice("interval", interval, SERIES_INTERVALS),
        window_days=window,
        activation_event=event_name("activation_event", activation_event),
        paid_event=event_name("paid_event", paid_event),
        **scope_params(
            breakdown=breakdown, device=device, country=country, plan=plan, channel=channel
        ),
    )
    with_wilson(frame, "activation_rate", "activated_users", "new_users")
    return with_wilson(frame, "paid_rate", "paid_users", "new_users")
