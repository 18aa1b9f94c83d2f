"""The Overview tab's numbers: headline KPIs of all three systems and their daily series.

Examples
--------
>>> kpis = headline_kpis(wb, start="2026-10-01", end="2026-11-01")   # doctest: +SKIP
>>> kpis.columns.tolist()                                              # doctest: +SKIP
['system', 'metric', 'value', 'unit', 'previous', 'change']
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from auterity_lab.periods import DateRange

if TYPE_CHECKING:
    import pandas as pd

    from auterity_lab.warehouse import Workbench


def headline_kpis(wb: Workbench, /, *, start: Any, end: Any) -> pd.DataFrame:
    """Headline KPIs for ``[start, end)`` with the previous period of the same length.

    Returns
    -------
    DataFrame
        ``system``, ``metric``, ``value``, ``unit``; ``previous`` (the value over the period of
        equal length just before ``start``) and ``change`` (relative: ``value / previous - 1``,
        NaN when the previous value is 0 or missing).
    """
    rng = DateRange.of(start, end)
    now = wb.query("overview_kpis", **rng.params())
    before = wb.query("overview_kpis", **rng.previous().params())
    now["previous"] = before["value"].to_numpy()
    prev = now["previous"].to_numpy(dtype=float)
    value = now["value"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        now["change"] = np.where(np.isfinite(prev) & (prev != 0), value / prev - 1.0, np.nan)
    return now


def daily(wb: Workbench, /, *, start: Any, end: Any) -> pd.DataFrame:
    """One row per UTC day of ``[start, end)`` with each system's daily series.

    Columns: ``date``, ``active_users``, ``sessions``, ``avg_session_duration``, ``revenue``,
    ``ai_requests``, ``ai_p95_latency``, ``ai_error_rate``, ``workflow_runs``,
    ``workflow_failure_rate`` (see ``queries/overview_daily.sql``).
    """
    return wb.query("overview_daily", **DateRange.of(start, end).params())
