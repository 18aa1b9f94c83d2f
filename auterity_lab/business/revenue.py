"""Revenue KPIs: revenue, paying users, ARPU, ARPPU, conversion to paid, MRR and LTV curves.

Revenue is ``events.revenue`` (USD). MRR follows the subscription events: a ``subscribe`` or
renewal (``payment``) event sets the user's monthly amount to its revenue, ``cancel`` sets it
to 0.

Examples
--------
>>> revenue(wb, start="2026-08-01", end="2026-11-01", interval="month")        # doctest: +SKIP
>>> mrr(wb, start="2026-08-01", end="2026-11-01")["closing_mrr"].iloc[-1]       # doctest: +SKIP
>>> ltv(wb, start="2026-07-01", end="2026-11-01", interval="month")            # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from auterity_lab import rollups
from auterity_lab.business._query import (
    INTERVALS,
    SERIES_INTERVALS,
    choice,
    event_name,
    non_negative_int,
    run,
    with_wilson,
)
from auterity_lab.business.scope import FilterValue, scope_params
from auterity_lab.cache import cached

if TYPE_CHECKING:
    import pandas as pd

    from auterity_lab.warehouse import Workbench


@cached(
    "user_analytics",
    tables=["auterity.users", "auterity.user_sessions", "auterity.events"],
    relations=[],
)
def revenue(
    wb: Workbench,
    /,
    *,
    start: Any,
    end: Any,
    interval: str = "week",
    confidence: float = 0.95,
    breakdown: str | None = None,
    device: FilterValue = None,
    country: FilterValue = None,
    plan: FilterValue = None,
    channel: FilterValue = None,
) -> pd.DataFrame:
    """Revenue, paying users, ARPU, ARPPU and conversion to paid per period.

    Parameters
    ----------
    wb, start, end
        Tenant-scoped workbench and half-open UTC range.
    interval
        ``day``, ``week``, ``month`` or ``range`` (the whole range as one period).
    confidence
        Coverage of the Wilson interval of ``conversion_to_paid``.
    breakdown, device, country, plan, channel
        See :mod:`auterity_lab.business.scope`.

    Returns
    -------
    DataFrame
        One row per (``period``, ``segment``), every period the range touches:

        - ``complete`` (whole bucket inside the range)
        - ``revenue`` (USD, sum of ``events.revenue``), ``transactions`` (non-zero revenue events)
        - ``paying_users`` (positive revenue in the period), ``new_paying_users`` (first positive
          revenue ever in the period), ``active_users`` (a session in the period),
          ``paying_active_users`` (both)
        - ``arpu`` = revenue / active users, ``arppu`` = revenue / paying users
        - ``conversion_to_paid`` = paying_active_users / active_users with
          ``conversion_to_paid_ci_low`` / ``_ci_high`` (Wilson)

    Examples
    --------
    >>> revenue(wb, start="2026-10-01", end="2026-11-01", interval="range",
    ...         breakdown="plan")  # doctest: +SKIP
    """
    frame = run(
        wb,
        "business_revenue",
        start=start,
        end=end,
        on=("money_events", "user_day_activity"),
        interval=choice("interval", interval, SERIES_INTERVALS),
        **scope_params(
            breakdown=breakdown, device=device, country=country, plan=plan, channel=channel
        ),
    )
    return with_wilson(
        frame, "conversion_to_paid", "paying_active_users", "active_users", confidence=confidence
    )


def mrr(
    wb: Workbench,
    /,
    *,
    start: Any,
    end: Any,
    interval: str = "month",
    subscribe_event: str = "subscribe",
    renew_event: str = "payment",
    cancel_event: str = "cancel",
    breakdown: str | None = None,
    device: FilterValue = None,
    country: FilterValue = None,
    plan: FilterValue = None,
    channel: FilterValue = None,
) -> pd.DataFrame:
    """Monthly recurring revenue per period, with its movements.

    Parameters
    ----------
    wb, start, end
        Tenant-scoped workbench and half-open UTC range; the history before ``start`` gives the
        opening MRR.
    interval
        ``day``, ``week``, ``month`` or ``range``.
    subscribe_event, renew_event, cancel_event
        Event types that start or change a subscription (their revenue is the monthly amount),
        renew it (revenue: the monthly amount) and end it.
    breakdown, device, country, plan, channel
        See :mod:`auterity_lab.business.scope`.

    Returns
    -------
    DataFrame
        One row per (``period``, ``segment``): ``complete``, ``opening_mrr``, ``new_mrr`` (first
        subscription ever), ``expansion_mrr``, ``reactivation_mrr`` (from 0 after an earlier
        subscription), ``contraction_mrr`` and ``churned_mrr`` (positive amounts),
        ``net_new_mrr``, ``closing_mrr`` (= opening + new + expansion + reactivation -
        contraction - churned), and ``opening_subscribers``, ``new_subscribers``,
        ``churned_subscribers``, ``closing_subscribers`` (users with MRR > 0).

    Examples
    --------
    >>> m = mrr(wb, start="2026-08-01", end="2026-11-01", interval="month")   # doctest: +SKIP
    >>> m[["period", "opening_mrr", "new_mrr", "churned_mrr", "closing_mrr"]]  # doctest: +SKIP
    """
    cancel_event = event_name("cancel_event", cancel_event)
    return run(
        wb,
        "business_mrr",
        start=start,
        end=end,
        # the rollup holds the subscription ends of MONEY_CANCEL_EVENTS only
        on=("money_events",) if cancel_event in rollups.MONEY_CANCEL_EVENTS else (),
        interval=choice("interval", interval, SERIES_INTERVALS),
        subscribe_event=event_name("subscribe_event", subscribe_event),
        renew_event=event_name("renew_event", renew_event),
        cancel_event=cancel_event,
        **scope_params(
            breakdown=breakdown, device=device, country=country, plan=plan, channel=channel
        ),
    )


def ltv(
    wb: Workbench,
    /,
    *,
    start: Any,
    end: Any,
    interval: str = "month",
    periods: int | None = None,
    breakdown: str | None = None,
    device: FilterValue = None,
    country: FilterValue = None,
    plan: FilterValue = None,
    channel: FilterValue = None,
) -> pd.DataFrame:
    """Cumulative revenue per signup cohort: the LTV curve.

    Parameters
    ----------
    wb, start, end
        Tenant-scoped workbench; cohorts are users created in ``[start, end)`` and revenue after
        ``end`` is not counted.
    interval
        ``day``, ``week`` or ``month``: calendar buckets of cohorts and periods.
    periods
        Show periods 0 .. ``periods``; None: all the range holds.
    breakdown, device, country, plan, channel
        See :mod:`auterity_lab.business.scope`.

    Returns
    -------
    DataFrame
        One row per (``cohort``, ``segment``, ``period`` k): ``cohort_size``, ``period_start``,
        ``complete`` (period k lies wholly before ``end``), ``revenue`` (in period k),
        ``cumulative_revenue`` (periods 0..k), ``ltv`` = cumulative_revenue / cohort_size (USD per
        user of the cohort), ``paying_users`` (paid by period k) and ``paying_share``.

    Examples
    --------
    >>> curve = ltv(wb, start="2026-07-01", end="2026-11-01")                  # doctest: +SKIP
    >>> curve.pivot(index="period", columns="cohort", values="ltv")             # doctest: +SKIP
    """
    return run(
        wb,
        "business_ltv",
        start=start,
        end=end,
        interval=choice("interval", interval, INTERVALS),
        periods=non_negative_int("periods", periods, allow_none=True),
        **scope_params(
            breakdown=breakdown, device=device, country=country, plan=plan, channel=channel
        ),
    )
