"""Breakdowns: the main user and revenue KPIs side by side for each value of one user attribute.

Every business function takes ``breakdown=`` for its own metrics; this one puts the headline
numbers of all segments in one table, for the Business tab's breakdown bars.

Examples
--------
>>> segment_kpis(wb, start="2026-10-01", end="2026-11-01", by="device")   # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from auterity_lab.business._query import with_wilson
from auterity_lab.business.revenue import mrr, revenue
from auterity_lab.business.scope import BREAKDOWNS, FilterValue
from auterity_lab.business.users import user_activity
from auterity_lab.cache import cached
from auterity_lab.errors import QueryParameterError

if TYPE_CHECKING:
    import pandas as pd

    from auterity_lab.warehouse import Workbench

_ACTIVITY = [
    "segment",
    "active_users",
    "new_users",
    "sessions",
    "avg_session_duration",
    "bounce_rate",
    "sessions_per_user",
]
_REVENUE = [
    "segment",
    "revenue",
    "paying_users",
    "paying_active_users",
    "arpu",
    "arppu",
    "conversion_to_paid",
]
_MRR = ["segment", "closing_mrr", "closing_subscribers"]
_COUNTS = [
    "active_users",
    "new_users",
    "sessions",
    "revenue",
    "paying_users",
    "paying_active_users",
    "closing_mrr",
    "closing_subscribers",
]


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
def segment_kpis(
    wb: Workbench,
    /,
    *,
    start: Any,
    end: Any,
    by: str,
    confidence: float = 0.95,
    device: FilterValue = None,
    country: FilterValue = None,
    plan: FilterValue = None,
    channel: FilterValue = None,
) -> pd.DataFrame:
    """One row per value of ``by`` with the range's user and revenue KPIs and each one's share.

    Parameters
    ----------
    wb, start, end
        Tenant-scoped workbench and half-open UTC range.
    by
        ``device``, ``country``, ``plan`` or ``channel``.
    confidence
        Coverage of the Wilson interval of ``conversion_to_paid``.
    device, country, plan, channel
        User filters; see :mod:`auterity_lab.business.scope`.

    Returns
    -------
    DataFrame
        ``segment``; ``active_users`` and ``share_of_active_users``; ``new_users``,
        ``sessions``, ``avg_session_duration``, ``bounce_rate``, ``sessions_per_user``;
        ``revenue`` and ``share_of_revenue``; ``paying_users``, ``paying_active_users``,
        ``arpu``, ``arppu``, ``conversion_to_paid`` with Wilson bounds; ``closing_mrr`` and
        ``closing_subscribers`` at ``end``. Ordered by active users, most first; segments with
        users created before ``end`` or subscriptions. Empty without users.

    Examples
    --------
    >>> segment_kpis(wb, start="2026-10-01", end="2026-11-01", by="country")  # doctest: +SKIP
    """
    if by not in BREAKDOWNS:
        raise QueryParameterError(f"by must be one of {', '.join(BREAKDOWNS)}, not {by!r}")
    common = {
        "start": start,
        "end": end,
        "breakdown": by,
        "device": device,
        "country": country,
        "plan": plan,
        "channel": channel,
    }
    frame = (
        user_activity(wb, interval="range", **common)[_ACTIVITY]
        .merge(revenue(wb, interval="range", **common)[_REVENUE], on="segment", how="outer")
        .merge(mrr(wb, interval="range", **common)[_MRR], on="segment", how="outer")
    )
    frame[_COUNTS] = frame[_COUNTS].fillna(0)
    frame.insert(2, "share_of_active_users", frame["active_users"] / frame["active_users"].sum())
    frame.insert(
        frame.columns.get_loc("revenue") + 1,
        "share_of_revenue",
        frame["revenue"] / frame["revenue"].sum(),
    )
    frame = frame.sort_values(
        ["active_users", "segment"], ascending=[False, True], ignore_index=True
    )
    return with_wilson(
        frame, "conversion_to_paid", "paying_active_users", "active_users", confidence=confidence
    )
