"""User analytics (spec ``getUserAnalytics``): active users, sessions, engagement and stickiness.

Examples
--------
>>> weekly = user_activity(wb, start="2026-09-01", end="2026-11-01")  # doctest: +SKIP
>>> weekly[["period", "active_users", "bounce_rate"]].head(2)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from auterity_lab.business._query import SERIES_INTERVALS, choice, run
from auterity_lab.business.scope import FilterValue, scope_params
from auterity_lab.cache import cached

if TYPE_CHECKING:
    import pandas as pd

    from auterity_lab.warehouse import Workbench


@cached("user_analytics", tables=["auterity.users", "auterity.user_sessions"], relations=[])
def user_activity(
    wb: Workbench,
    /,
    *,
    start: Any,
    end: Any,
    interval: str = "week",
    breakdown: str | None = None,
    device: FilterValue = None,
    country: FilterValue = None,
    plan: FilterValue = None,
    channel: FilterValue = None,
) -> pd.DataFrame:
    """Total, new and active users, sessions and engagement per period.

    With ``interval="day"`` the active users are DAU, with ``"week"`` WAU and with ``"month"``
    MAU; ``"range"`` makes ``[start, end)`` one period (distinct users over the whole range).

    Parameters
    ----------
    wb
        Tenant-scoped workbench.
    start, end
        Half-open UTC range ``[start, end)`` (dates, datetimes or ISO strings).
    interval
        ``day``, ``week`` (ISO weeks from Monday), ``month`` or ``range``.
    breakdown
        ``device``, ``country``, ``plan`` or ``channel``: one row per value (column ``segment``).
    device, country, plan, channel
        Keep users with these attribute values (one value or a list); see
        :mod:`auterity_lab.business.scope`.

    Returns
    -------
    DataFrame
        One row per (``period``, ``segment``) for every period the range touches, for each
        segment with users created before ``end``:

        - ``period`` (DATE, bucket start), ``segment``, ``complete`` (the bucket lies wholly
          inside the range; edge buckets are partial)
        - ``total_users``: accounts created before the period's end; ``new_users``: created in
          the period; ``active_users``: distinct users with a session in the period
        - ``sessions``, ``avg_session_duration``, ``median_session_duration`` (seconds)
        - ``page_views``, ``pages_per_session``, ``bounced_sessions`` (exactly one page view),
          ``bounce_rate`` (share of sessions with known page views)
        - ``sessions_per_user``, ``duration_per_user`` (seconds per active user): engagement

        Counts are 0 and averages NaN in a period without sessions; a tenant without users (or a
        range before the first one) gives an empty frame.

    Raises
    ------
    QueryParameterError
        Bad range, interval, breakdown or filter.

    Examples
    --------
    >>> user_activity(wb, start="2026-10-01", end="2026-10-08", interval="day",
    ...               breakdown="device", country=["DE", "FR"])              # doctest: +SKIP
    """
    scope = scope_params(
        breakdown=breakdown, device=device, country=country, plan=plan, channel=channel
    )
    return run(
        wb,
        "business_user_activity",
        start=start,
        end=end,
        # every user in one segment: the rollup form reads the sessions only for the median
        # and without the join to users (with a split or a filter it would join them twice)
        on=("user_day_activity",) if not any(scope.values()) else (),
        interval=choice("interval", interval, SERIES_INTERVALS),
        **scope,
    )


def stickiness(
    wb: Workbench,
    /,
    *,
    start: Any,
    end: Any,
    breakdown: str | None = None,
    device: FilterValue = None,
    country: FilterValue = None,
    plan: FilterValue = None,
    channel: FilterValue = None,
) -> pd.DataFrame:
    """Daily DAU, trailing WAU (7 days) and MAU (30 days), and DAU/MAU stickiness.

    Every UTC day from ``start``'s day to the day before ``end`` counts whole; WAU and MAU of the
    first days look back up to 29 days before ``start``.

    Parameters
    ----------
    wb, start, end, breakdown, device, country, plan, channel
        As in :func:`user_activity`.

    Returns
    -------
    DataFrame
        One row per (``date``, ``segment``): ``dau``, ``wau`` (distinct users active on
        ``date - 6 .. date``), ``mau`` (``date - 29 .. date``), ``dau_wau``, ``dau_mau``,
        ``wau_mau`` (NaN when the denominator is 0). Segments without a session in the 30 days
        up to ``end`` are absent; no data gives an empty frame.

    Examples
    --------
    >>> daily = stickiness(wb, start="2026-10-01", end="2026-11-01")   # doctest: +SKIP
    >>> daily["dau_mau"].mean()                                         # doctest: +SKIP
    """
    scope = scope_params(
        breakdown=breakdown, device=device, country=country, plan=plan, channel=channel
    )
    # the same result from one row per user and active day (queries/rollups/) when it may
    return run(wb, "business_stickiness", start=start, end=end, on=("user_day_activity",), **scope)


def active_days(
    wb: Workbench,
    /,
    *,
    start: Any,
    end: Any,
    interval: str = "day",
    breakdown: str | None = None,
    device: FilterValue = None,
    country: FilterValue = None,
    plan: FilterValue = None,
    channel: FilterValue = None,
) -> pd.DataFrame:
    """Distribution of active days (or weeks, months) per user over the range.

    Parameters
    ----------
    interval
        ``day``, ``week`` or ``month``: the unit counted per user.
    wb, start, end, breakdown, device, country, plan, channel
        As in :func:`user_activity`.

    Returns
    -------
    DataFrame
        One row per (``segment``, ``active_periods`` k) for k = 1 .. the number of periods the
        range touches: ``users`` active (with a session) in exactly k periods, ``share`` of the
        segment's active users, ``at_least_share`` (active in k or more periods).

    Examples
    --------
    >>> active_days(wb, start="2026-10-01", end="2026-11-01").head(3)   # doctest: +SKIP
    """
    return run(
        wb,
        "business_active_days",
        start=start,
        end=end,
        interval=choice("interval", interval, ("day", "week", "month")),
        **scope_params(
            breakdown=breakdown, device=device, country=country, plan=plan, channel=channel
        ),
    )
