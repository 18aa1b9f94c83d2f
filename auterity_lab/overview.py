"""The Overview tab's numbers: headline KPIs of each system and their daily series.

One SQL file per system and kind (``queries/overview_kpis_<system>.sql``,
``queries/overview_daily_<system>.sql``), so one system's broken extract cannot take the others'
numbers down: :mod:`auterity_lab.unified` builds its sections from :func:`system_kpis` and
:func:`system_daily`; :func:`headline_kpis` and :func:`daily` put all three together.

Examples
--------
>>> kpis = headline_kpis(wb, start="2026-10-01", end="2026-11-01")   # doctest: +SKIP
>>> kpis.columns.tolist()                                              # doctest: +SKIP
['system', 'metric', 'value', 'unit', 'previous', 'change']
>>> sorted(DAILY_COLUMNS)
['auterity', 'neuroweaver', 'relaycore']
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from auterity_lab import rollups
from auterity_lab.errors import QueryParameterError
from auterity_lab.periods import DateRange
from auterity_lab.schema import SYSTEMS

if TYPE_CHECKING:
    from auterity_lab.warehouse import Workbench

KPI_COLUMNS = ["system", "metric", "value", "unit", "previous", "change"]
"""Columns of :func:`system_kpis` and :func:`headline_kpis`."""

DAILY_COLUMNS: dict[str, list[str]] = {
    "auterity": ["active_users", "sessions", "avg_session_duration", "revenue"],
    "neuroweaver": ["ai_requests", "ai_p95_latency", "ai_error_rate"],
    "relaycore": ["workflow_runs", "workflow_failure_rate"],
}
"""Each system's daily series (besides ``date``), in the order :func:`daily` puts them."""

# system -> (KPI query, daily query)
_QUERIES: dict[str, tuple[str, str]] = {
    system: (f"overview_kpis_{system}", f"overview_daily_{system}") for system in SYSTEMS
}


def system_kpis(wb: Workbench, /, *, system: str, start: Any, end: Any) -> pd.DataFrame:
    """One system's headline KPIs for ``[start, end)`` with the previous period of equal length.

    Parameters
    ----------
    wb
        The tenant's workbench.
    system
        ``'auterity'``, ``'neuroweaver'`` or ``'relaycore'``.
    start, end
        The half-open UTC range.

    Returns
    -------
    DataFrame
        ``system``, ``metric``, ``value``, ``unit``; ``previous`` (the value over the period of
        equal length just before ``start``) and ``change`` (relative: ``value / previous - 1``,
        NaN when the previous value is 0 or missing). Counts are 0 and averages NaN in a range
        without rows.

    Examples
    --------
    >>> system_kpis(wb, system="relaycore", start="2026-10-01", end="2026-11-01")  # doctest: +SKIP
          system                 metric   value  unit  previous    change
    0  relaycore          workflow_runs   187.0  runs     152.0  0.230263
    """
    rng = DateRange.of(start, end)
    query = _QUERIES[_system(system)][0]
    now = _run(wb, query, rng)
    before = _run(wb, query, rng.previous())
    now["previous"] = before["value"].to_numpy()
    prev = now["previous"].to_numpy(dtype=float)
    value = now["value"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        now["change"] = np.where(np.isfinite(prev) & (prev != 0), value / prev - 1.0, np.nan)
    return now


def system_daily(wb: Workbench, /, *, system: str, start: Any, end: Any) -> pd.DataFrame:
    """One system's daily series: one row per UTC day of ``[start, end)``.

    Returns
    -------
    DataFrame
        ``date`` and the system's columns of :data:`DAILY_COLUMNS` (days without rows: counts
        0, the rest NaN); see ``queries/overview_daily_<system>.sql``.

    Examples
    --------
    >>> system_daily(wb, system="neuroweaver", start="2026-10-01", end="2026-10-03")
    ... # doctest: +SKIP
    """
    query = _QUERIES[_system(system)][1]
    return _run(wb, query, DateRange.of(start, end))


def headline_kpis(wb: Workbench, /, *, start: Any, end: Any) -> pd.DataFrame:
    """Headline KPIs of all three systems (see :func:`system_kpis`), in system order.

    Raises :class:`~auterity_lab.errors.QueryError` when a system's extract cannot be read; use
    :func:`auterity_lab.unified.unified_analytics` to go on with the systems that can.
    """
    frames = [system_kpis(wb, system=s, start=start, end=end) for s in SYSTEMS]
    return pd.concat(frames, ignore_index=True)


def daily(wb: Workbench, /, *, start: Any, end: Any) -> pd.DataFrame:
    """One row per UTC day of ``[start, end)`` with each system's daily series.

    Columns: ``date``, ``active_users``, ``sessions``, ``avg_session_duration``, ``revenue``,
    ``ai_requests``, ``ai_p95_latency``, ``ai_error_rate``, ``workflow_runs``,
    ``workflow_failure_rate`` (see :func:`system_daily`).
    """
    frames = [system_daily(wb, system=s, start=start, end=end) for s in SYSTEMS]
    merged = frames[0]
    for frame in frames[1:]:
        merged = merged.merge(frame, on="date", how="outer", validate="one_to_one")
    return merged.sort_values("date", ignore_index=True)


def _run(wb: Workbench, query: str, rng: DateRange) -> pd.DataFrame:
    """The query, from its rollup when one answers it (same result, fewer rows)."""
    return rollups.run(wb, query, **rng.params())


def _system(system: str) -> str:
    if not isinstance(system, str) or system not in _QUERIES:
        raise QueryParameterError(f"system must be one of {', '.join(SYSTEMS)}, not {system!r}")
    return system
