"""Lifecycle: per period, the active users who are new, returning or resurrecting, and those who
went dormant.

Examples
--------
>>> lc = lifecycle(wb, start="2026-09-07", end="2026-11-02", interval="week")   # doctest: +SKIP
>>> lc.pivot(index="period", columns="status", values="users")                # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from auterity_lab.business._query import INTERVALS, choice, event_name, run
from auterity_lab.business.retention import SESSION
from auterity_lab.business.scope import FilterValue, scope_params

if TYPE_CHECKING:
    import pandas as pd

    from auterity_lab.warehouse import Workbench

STATUSES = ("new", "returning", "resurrecting", "dormant")


def lifecycle(
    wb: Workbench,
    /,
    *,
    start: Any,
    end: Any,
    interval: str = "week",
    event: str | None = SESSION,
    breakdown: str | None = None,
    device: FilterValue = None,
    country: FilterValue = None,
    plan: FilterValue = None,
    channel: FilterValue = None,
) -> pd.DataFrame:
    """New, returning, resurrecting and dormant users per period.

    An active user of period p (one who did ``event`` in it) is *new* when p holds their first
    ``event`` ever, *returning* when they were also active in the period before, *resurrecting*
    otherwise. *Dormant* users were active in the period before p but not in p. So the active
    users of p are new + returning + resurrecting, and the active users of p-1 are returning +
    dormant.

    Parameters
    ----------
    wb, start, end
        Tenant-scoped workbench and half-open UTC range.
    interval
        ``day``, ``week`` (ISO, Monday) or ``month``.
    event
        ``events.event_type`` that makes a user active, ``'$session'`` (default) for a session
        start, or None for any session or event.
    breakdown, device, country, plan, channel
        See :mod:`auterity_lab.business.scope`.

    Returns
    -------
    DataFrame
        One row per (``period``, ``segment``, ``status``) in the order of :data:`STATUSES`:
        ``complete`` (whole bucket inside the range; a cut bucket's dormant count includes users
        who may still come back outside the range) and ``users`` (a positive count, dormant too).

    Examples
    --------
    >>> lifecycle(wb, start="2026-09-01", end="2026-11-01", interval="month")   # doctest: +SKIP
    """
    return run(
        wb,
        "business_lifecycle",
        start=start,
        end=end,
        interval=choice("interval", interval, INTERVALS),
        event=event_name("event", event, allow_none=True),
        **scope_params(
            breakdown=breakdown, device=device, country=country, plan=plan, channel=channel
        ),
    )
