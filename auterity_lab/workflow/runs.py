"""Workflow runs: how many, how they ended and how long they took, per workflow and trigger.

Examples
--------
>>> summary = run_summary(wb, start="2026-10-01", end="2026-11-01")          # doctest: +SKIP
>>> summary.query("trigger == 'all'")[["workflow_id", "runs", "p95_ms"]]   # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from auterity_lab.cache import cached
from auterity_lab.intervals import wilson_interval
from auterity_lab.workflow import _common

if TYPE_CHECKING:
    import pandas as pd

    from auterity_lab.warehouse import Workbench


@cached("workflow", tables=["relaycore.workflow_runs"], relations=[])
def run_summary(
    wb: Workbench,
    /,
    *,
    start: Any,
    end: Any,
    workflow: str | None = None,
    trigger: str | None = None,
) -> pd.DataFrame:
    """Runs, outcome rates and duration percentiles per workflow and trigger, with totals.

    A run belongs to the range it started in.

    Parameters
    ----------
    wb
        The tenant's workbench.
    start, end
        The half-open UTC range ``[start, end)`` of the runs' start.
    workflow, trigger
        Only this workflow / trigger (a missing trigger is ``'unknown'``); None means all.

    Returns
    -------
    DataFrame
        One row per (``workflow_id``, ``trigger``), then one per workflow with
        ``trigger == 'all'``, then the overall row (``workflow_id == 'all'``). Columns:
        ``runs``, ``succeeded``, ``failed``, ``cancelled``, ``other`` (any other status),
        ``success_rate``, ``failure_rate``, ``cancel_rate`` (shares of all runs),
        ``failure_rate_ci_low`` / ``failure_rate_ci_high`` (95 % Wilson interval),
        ``p50_ms``, ``p95_ms``, ``p99_ms``, ``mean_ms`` (over runs with a duration) and
        ``unfinished`` (runs without one). Empty, with these columns, when no run started in
        the range.

    Examples
    --------
    >>> run_summary(wb, start="2026-10-01", end="2026-11-01", workflow="lead-enrichment")
    ... # doctest: +SKIP
           workflow_id trigger  runs  succeeded  failed  ...  p95_ms
    0  lead-enrichment     api     9          9       0  ...  4810.6
    """
    frame = wb.query(
        "workflow_runs_summary", **_common.params(start, end, workflow=workflow, trigger=trigger)
    )
    lo, hi = wilson_interval(frame["failed"], frame["runs"])
    at = frame.columns.get_loc("failure_rate") + 1
    frame.insert(at, "failure_rate_ci_low", lo)
    frame.insert(at + 1, "failure_rate_ci_high", hi)
    return frame


@cached("workflow", tables=["relaycore.workflow_runs"], relations=[])
def run_trends(
    wb: Workbench,
    /,
    *,
    start: Any,
    end: Any,
    period: str = "day",
    workflow: str | None = None,
) -> pd.DataFrame:
    """Runs, outcomes and duration percentiles per period and workflow.

    Parameters
    ----------
    wb
        The tenant's workbench.
    start, end
        The half-open UTC range ``[start, end)`` of the runs' start.
    period
        ``'day'``, ``'week'`` (ISO, starting Monday) or ``'month'``.
    workflow
        Only this workflow; None means all.

    Returns
    -------
    DataFrame
        One row per (``period_start``, ``workflow_id``) for every period of the range and every
        workflow with a run in it (periods without runs: counts 0, the rest NaN). Columns:
        ``runs``, ``succeeded``, ``failed``, ``cancelled``, ``failure_rate``, ``p50_ms``,
        ``p95_ms``, ``p99_ms``. The first and last period may be cut by ``start`` and ``end``.

    Raises
    ------
    QueryParameterError
        ``period`` is not one of the above, or the range is empty or reversed.

    Examples
    --------
    >>> run_trends(wb, start="2026-09-01", end="2026-11-01", period="week").head(2)
    ... # doctest: +SKIP
      period_start         workflow_id  runs  succeeded  failed  ...
    0   2026-08-31        daily-report     6          6       0  ...
    """
    return wb.query(
        "workflow_runs_over_time",
        **_common.params(start, end, workflow=workflow, period=_common.period(period)),
    )
