"""Business metrics (spec ``getBusinessMetrics``): the headline KPIs of a tenant and range, with the
change against the previous period of the same length.

Each KPI comes from the function that owns its definition (users, revenue, MRR, performance), run
once for ``[start, end)`` and once for the period just before it, so a headline number always
equals the one its tab shows.

Examples
--------
>>> kpis = business_metrics(wb, start="2026-10-01", end="2026-11-01")   # doctest: +SKIP
>>> kpis.set_index("metric").loc["active_users", ["value", "previous", "change"]]  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from auterity_lab.business.performance import system_performance
from auterity_lab.business.revenue import mrr, revenue
from auterity_lab.business.users import stickiness, user_activity
from auterity_lab.cache import cached
from auterity_lab.periods import DateRange

if TYPE_CHECKING:
    from auterity_lab.business.scope import FilterValue
    from auterity_lab.warehouse import Workbench


@dataclass(frozen=True)
class _Kpi:
    area: str
    metric: str
    unit: str
    source: str
    column: str
    higher_is_better: bool | None
    count: bool = False  # a count or sum: 0, not missing, when there are no rows


_KPIS = (
    _Kpi("users", "total_users", "users", "activity", "total_users", True, count=True),
    _Kpi("users", "new_users", "users", "activity", "new_users", True, count=True),
    _Kpi("users", "active_users", "users", "activity", "active_users", True, count=True),
    _Kpi("users", "sessions", "sessions", "activity", "sessions", True, count=True),
    _Kpi("users", "avg_session_duration", "seconds", "activity", "avg_session_duration", True),
    _Kpi(
        "users", "median_session_duration", "seconds", "activity", "median_session_duration", True
    ),
    _Kpi("users", "pages_per_session", "pages", "activity", "pages_per_session", True),
    _Kpi("users", "bounce_rate", "share", "activity", "bounce_rate", False),
    _Kpi("users", "sessions_per_user", "sessions", "activity", "sessions_per_user", True),
    _Kpi("users", "stickiness", "share", "stickiness", "dau_mau", True),
    _Kpi("revenue", "revenue", "USD", "revenue", "revenue", True, count=True),
    _Kpi("revenue", "paying_users", "users", "revenue", "paying_users", True, count=True),
    _Kpi("revenue", "new_paying_users", "users", "revenue", "new_paying_users", True, count=True),
    _Kpi("revenue", "arpu", "USD", "revenue", "arpu", True),
    _Kpi("revenue", "arppu", "USD", "revenue", "arppu", True),
    _Kpi("revenue", "conversion_to_paid", "share", "revenue", "conversion_to_paid", True),
    _Kpi("revenue", "mrr", "USD", "mrr", "closing_mrr", True, count=True),
    _Kpi("revenue", "net_new_mrr", "USD", "mrr", "net_new_mrr", True, count=True),
    _Kpi("revenue", "subscribers", "users", "mrr", "closing_subscribers", True, count=True),
    _Kpi("performance", "requests", "requests", "performance", "requests", None, count=True),
    _Kpi("performance", "error_rate_5xx", "share", "performance", "error_rate_5xx", False),
    _Kpi("performance", "error_rate_4xx", "share", "performance", "error_rate_4xx", False),
    _Kpi("performance", "p95_latency", "ms", "performance", "p95_ms", False),
)

Source = Callable[["Workbench", DateRange, Mapping[str, Any]], Mapping[str, float]]


def _first_row(frame: pd.DataFrame) -> dict[str, float]:
    return {} if frame.empty else frame.iloc[0].to_dict()


def _mean_dau_mau(daily: pd.DataFrame) -> dict[str, float]:
    return {"dau_mau": pd.to_numeric(daily["dau_mau"]).mean()}


def _whole_days(rng: DateRange) -> bool:
    return all(t.astimezone(dt.UTC).time() == dt.time(0) for t in (rng.start, rng.end))


def _stickiness_of_both(
    wb: Workbench, rng: DateRange, filters: Mapping[str, Any]
) -> tuple[dict[str, float], dict[str, float]]:
    """The stickiness KPI of ``rng`` and of the period before it, from one stickiness call.

    With whole UTC days a day's DAU, WAU and MAU depend only on the 30 days up to it, never on
    the range asked, so the days of ``[previous start, end)`` split at ``start`` are the days
    of each period (one pass over the shared 30-day look-back instead of two). A day without
    users in the 30 days before it has a NaN ratio, as a period without any has no rows: the
    mean is NaN either way.
    """
    both = stickiness(wb, start=rng.previous().start, end=rng.end, **filters)
    day = pd.to_datetime(both["date"]).dt.date
    split = rng.start.astimezone(dt.UTC).date()
    return _mean_dau_mau(both[day >= split]), _mean_dau_mau(both[day < split])


# source name -> the values of one range, from the function that defines them
_SOURCES: dict[str, Source] = {
    "activity": lambda wb, rng, f: _first_row(
        user_activity(wb, **rng.params(), interval="range", **f)
    ),
    "stickiness": lambda wb, rng, f: _mean_dau_mau(stickiness(wb, **rng.params(), **f)),
    "revenue": lambda wb, rng, f: _first_row(revenue(wb, **rng.params(), interval="range", **f)),
    "mrr": lambda wb, rng, f: _first_row(mrr(wb, **rng.params(), interval="range", **f)),
    "performance": lambda wb, rng, f: _first_row(
        system_performance(wb, **rng.params(), interval="range", level="all")
    ),
}


@cached(
    "user_analytics",
    tables=[
        "auterity.users",
        "auterity.user_sessions",
        "auterity.events",
        "auterity.performance_metrics",
    ],
    relations=[],
)
def business_metrics(
    wb: Workbench,
    /,
    *,
    start: Any,
    end: Any,
    device: FilterValue = None,
    country: FilterValue = None,
    plan: FilterValue = None,
    channel: FilterValue = None,
) -> pd.DataFrame:
    """Headline business KPIs for ``[start, end)`` and the previous period of the same length.

    Parameters
    ----------
    wb, start, end
        Tenant-scoped workbench and half-open UTC range.
    device, country, plan, channel
        User filters (see :mod:`auterity_lab.business.scope`); they apply to the user and revenue
        KPIs, not to the performance ones (API calls).

    Returns
    -------
    DataFrame
        One row per KPI, always the same rows in the same order:

        - ``area`` (users | revenue | performance), ``metric``, ``unit``
        - ``value`` over the range and ``previous`` over the period before it
        - ``delta`` = value - previous; ``change`` = value / previous - 1 (NaN when previous
          is 0 or missing)
        - ``higher_is_better`` (True, False, or None for volume KPIs such as requests)

        KPIs: total, new and active users, sessions, average and median session duration
        (seconds), pages per session, bounce rate, sessions per active user, stickiness (mean
        daily DAU/MAU), revenue, paying and new paying users, ARPU, ARPPU, conversion to paid,
        MRR, net new MRR and subscribers at the end, and API requests, 5xx and 4xx error rates
        and p95 latency. Counts and sums are 0 when there are no rows; ratios are NaN.

    Examples
    --------
    >>> business_metrics(wb, start="2026-10-01", end="2026-11-01",
    ...                  device="mobile")  # doctest: +SKIP
    """
    rng = DateRange.of(start, end)
    filters = {"device": device, "country": country, "plan": plan, "channel": channel}
    paired = _whole_days(rng)  # then both periods' stickiness come from one call
    sources = {n: s for n, s in _SOURCES.items() if not (paired and n == "stickiness")}
    now = {name: source(wb, rng, filters) for name, source in sources.items()}
    before = {name: source(wb, rng.previous(), filters) for name, source in sources.items()}
    if paired:
        now["stickiness"], before["stickiness"] = _stickiness_of_both(wb, rng, filters)
    rows = []
    for kpi in _KPIS:
        value = _value(kpi, now[kpi.source])
        previous = _value(kpi, before[kpi.source])
        rows.append(
            {
                "area": kpi.area,
                "metric": kpi.metric,
                "value": value,
                "unit": kpi.unit,
                "previous": previous,
                "delta": value - previous,
                "change": value / previous - 1.0
                if previous and math.isfinite(previous)
                else np.nan,
                "higher_is_better": kpi.higher_is_better,
            }
        )
    return pd.DataFrame(rows)


def _value(kpi: _Kpi, values: Mapping[str, Any]) -> float:
    raw = values.get(kpi.column)
    if raw is None or pd.isna(raw):
        return 0.0 if kpi.count else np.nan
    return float(raw)
