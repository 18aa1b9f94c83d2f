"""System performance (spec ``SystemMetrics`` / ``getSystemPerformance``): per service and endpoint,
request counts, 5xx and 4xx error rates and latency percentiles per interval.

Examples
--------
>>> hourly = system_performance(wb, start="2026-09-17", end="2026-09-18")  # doctest: +SKIP
>>> hourly[["period", "service", "requests", "error_rate_5xx", "p95_ms"]]  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from auterity_lab.business._query import SERIES_INTERVALS, choice, run, with_wilson
from auterity_lab.business.scope import FilterValue, filter_list
from auterity_lab.cache import cached

if TYPE_CHECKING:
    import pandas as pd

    from auterity_lab.warehouse import Workbench

INTERVALS = ("hour", *SERIES_INTERVALS)
LEVELS = ("endpoint", "service", "all")


@cached("system_metrics", tables=["auterity.performance_metrics"], relations=[])
def system_performance(
    wb: Workbench,
    /,
    *,
    start: Any,
    end: Any,
    interval: str = "hour",
    level: str = "endpoint",
    service: FilterValue = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Requests, error rates and latency percentiles per interval and service or endpoint.

    User filters do not apply: these are API calls, grouped by what served them.

    Parameters
    ----------
    wb, start, end
        Tenant-scoped workbench and half-open UTC range.
    interval
        ``hour``, ``day``, ``week``, ``month`` or ``range``.
    level
        ``endpoint`` (service, endpoint and method), ``service`` or ``all``; rolled-up columns
        read ``'all'``.
    service
        Keep these services only (one name or a list); None keeps all.
    confidence
        Coverage of the Wilson intervals of the error rates.

    Returns
    -------
    DataFrame
        One row per (``period`` (TIMESTAMPTZ bucket start), ``service``, ``endpoint``,
        ``method``) for every period the range touches and each group with requests in it:
        ``complete``, ``requests``, ``errors_5xx`` (status 500-599), ``errors_4xx`` (400-499),
        ``error_rate_5xx`` and ``error_rate_4xx`` each with ``_ci_low`` / ``_ci_high`` (Wilson),
        ``mean_ms``, ``p50_ms``, ``p95_ms``, ``p99_ms`` (continuous percentiles of
        ``response_time_ms``; NaN without requests).

    Examples
    --------
    >>> system_performance(wb, start="2026-10-01", end="2026-11-01", interval="day",
    ...                    level="service", service="auterity-api")            # doctest: +SKIP
    """
    frame = run(
        wb,
        "business_performance",
        start=start,
        end=end,
        interval=choice("interval", interval, INTERVALS),
        level=choice("level", level, LEVELS),
        service=filter_list("service", service),
    )
    with_wilson(frame, "error_rate_5xx", "errors_5xx", "requests", confidence=confidence)
    return with_wilson(frame, "error_rate_4xx", "errors_4xx", "requests", confidence=confidence)
