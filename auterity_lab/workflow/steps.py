"""Workflow steps: where run time goes, the bottleneck and how it moved, failures, retries, flaky.

A run belongs to the range it started in, with all of its step attempts (``max_run_days`` bounds
how long after ``end`` its steps may start). An *execution* is one step of one run with all of
its attempts.

Examples
--------
>>> bottlenecks(wb, start="2026-09-02", end="2026-11-01")[["workflow_id", "bottleneck_step",
...     "previous_bottleneck_step", "changed"]]                                  # doctest: +SKIP
       workflow_id bottleneck_step previous_bottleneck_step  changed
2  lead-enrichment      crm_lookup           enrich_profile     True
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.multitest import multipletests

from auterity_lab.cache import cached
from auterity_lab.errors import QueryParameterError
from auterity_lab.intervals import wilson_interval
from auterity_lab.periods import DateRange
from auterity_lab.workflow import _common

if TYPE_CHECKING:
    from auterity_lab.warehouse import Workbench

_HISTORY_COLUMNS = [
    "period_start",
    "workflow_id",
    "step_name",
    "step_type",
    "step_index",
    "runs",
    "run_ms",
    "step_ms",
    "share_of_run_time",
    "rank",
    "is_bottleneck",
]
_SHIFT_COLUMNS = [
    "workflow_id",
    "step_name",
    "step_type",
    "change_date",
    "days_before",
    "days_after",
    "attempts_before",
    "attempts_after",
    "gm_before_ms",
    "gm_after_ms",
    "ratio",
    "ci_low",
    "ci_high",
    "t_stat",
    "candidates",
    "p_value",
    "q_value",
]


@cached("workflow", tables=["relaycore.workflow_runs", "relaycore.workflow_steps"], relations=[])
def step_breakdown(
    wb: Workbench,
    /,
    *,
    start: Any,
    end: Any,
    workflow: str | None = None,
    max_run_days: int = 1,
) -> pd.DataFrame:
    """Each workflow step's share of run time, attempts, retries and duration; the bottleneck.

    Parameters
    ----------
    wb
        The tenant's workbench.
    start, end
        The half-open UTC range ``[start, end)`` of the runs' start.
    workflow
        Only this workflow; None means all.
    max_run_days
        Runs finish within this many days of starting.

    Returns
    -------
    DataFrame
        One row per (``workflow_id``, ``step_name``): ``step_type``, ``step_index``, ``runs`` and
        ``run_ms`` (the workflow's runs and their summed duration), ``executions``,
        ``attempts``, ``retries``, ``failed_attempts``, ``step_ms`` (all attempts),
        ``share_of_run_time`` (``step_ms / run_ms``), ``ms_per_run``, ``p50_ms`` / ``p95_ms``
        (execution time: the sum of its attempts), ``rank`` (1 = most time) and
        ``is_bottleneck``.

    Examples
    --------
    >>> step_breakdown(wb, start="2026-09-02", end="2026-11-01", workflow="lead-enrichment")
    ... # doctest: +SKIP
    """
    return wb.query(
        "workflow_step_breakdown",
        **_common.params(
            start, end, workflow=workflow, max_run_days=_common.max_run_days(max_run_days)
        ),
    )


def bottlenecks(
    wb: Workbench,
    /,
    *,
    start: Any,
    end: Any,
    workflow: str | None = None,
    max_run_days: int = 1,
) -> pd.DataFrame:
    """The bottleneck step of each workflow in ``[start, end)`` against the period just before.

    The bottleneck is the step with the largest share of run time (see :func:`step_breakdown`);
    the previous period has the same length and ends at ``start``.

    Returns
    -------
    DataFrame
        One row per workflow with a run in the range: ``runs``, ``bottleneck_step``,
        ``bottleneck_type``, ``share_of_run_time``, ``ms_per_run``, ``p50_ms``;
        ``previous_runs``, ``previous_bottleneck_step``, ``previous_share_of_run_time`` (of the
        previous bottleneck); ``share_before`` and ``ms_per_run_before`` (the current
        bottleneck step in the previous period), ``ms_per_run_ratio`` (now / before) and
        ``changed`` (the bottleneck is another step than before; False when the previous period
        has no runs).

    Examples
    --------
    >>> bottlenecks(wb, start="2026-09-02", end="2026-11-01")                  # doctest: +SKIP
    """
    rng = DateRange.of(start, end)
    now = step_breakdown(wb, **rng.params(), workflow=workflow, max_run_days=max_run_days)
    before = step_breakdown(
        wb, **rng.previous().params(), workflow=workflow, max_run_days=max_run_days
    )
    top = now[now["is_bottleneck"]].rename(
        columns={"step_name": "bottleneck_step", "step_type": "bottleneck_type"}
    )[
        [
            "workflow_id",
            "runs",
            "bottleneck_step",
            "bottleneck_type",
            "share_of_run_time",
            "ms_per_run",
            "p50_ms",
        ]
    ]
    previous_top = before[before["is_bottleneck"]].rename(
        columns={
            "runs": "previous_runs",
            "step_name": "previous_bottleneck_step",
            "share_of_run_time": "previous_share_of_run_time",
        }
    )[["workflow_id", "previous_runs", "previous_bottleneck_step", "previous_share_of_run_time"]]
    same_step = before.rename(
        columns={
            "step_name": "bottleneck_step",
            "share_of_run_time": "share_before",
            "ms_per_run": "ms_per_run_before",
        }
    )[["workflow_id", "bottleneck_step", "share_before", "ms_per_run_before"]]
    out = top.merge(previous_top, on="workflow_id", how="left").merge(
        same_step, on=["workflow_id", "bottleneck_step"], how="left"
    )
    out["previous_runs"] = out["previous_runs"].fillna(0).astype("int64")
    out["ms_per_run_ratio"] = out["ms_per_run"] / out["ms_per_run_before"]
    out["changed"] = out["previous_bottleneck_step"].notna() & (
        out["previous_bottleneck_step"] != out["bottleneck_step"]
    )
    return out.reset_index(drop=True)


@cached("workflow", tables=["relaycore.workflow_runs", "relaycore.workflow_steps"], relations=[])
def bottleneck_history(
    wb: Workbench,
    /,
    *,
    start: Any,
    end: Any,
    period: str = "week",
    workflow: str | None = None,
    max_run_days: int = 1,
) -> pd.DataFrame:
    """Each step's share of run time per period, and which step was the bottleneck when.

    Returns
    -------
    DataFrame
        One row per (``period_start``, ``workflow_id``, ``step_name``) with attempts in runs
        started in that period: ``step_type``, ``step_index``, ``runs``, ``run_ms``,
        ``step_ms``, ``share_of_run_time``, ``rank`` and ``is_bottleneck`` (as in
        :func:`step_breakdown`, per period). Periods without runs have no rows.

    Examples
    --------
    >>> h = bottleneck_history(wb, start="2026-07-04", end="2026-11-01")      # doctest: +SKIP
    >>> tops = h[h["is_bottleneck"]]                                       # doctest: +SKIP
    >>> tops.pivot(index="period_start", columns="workflow_id", values="step_name")
    ... # doctest: +SKIP
    """
    frame = _step_periods(wb, start, end, period, workflow, max_run_days)
    return frame[_HISTORY_COLUMNS]


def step_shifts(
    wb: Workbench,
    /,
    *,
    start: Any,
    end: Any,
    workflow: str | None = None,
    min_days: int = 5,
    confidence: float = 0.95,
    max_run_days: int = 1,
) -> pd.DataFrame:
    """Find when each step's duration shifted most, with a test that accounts for the search.

    For each (workflow, step) the successful attempts' ``ln(duration_ms)`` is averaged per UTC
    day; the day is the unit of analysis, so shocks shared by all attempts of a day do not
    inflate the evidence. Every split of the days into before / after with at least
    ``min_days`` days on each side is a candidate; the split with the largest Welch *t*
    between the two groups of daily means is reported. Its p-value is Bonferroni-adjusted for
    the number of candidate splits (conservative), the ratio's interval uses the same adjusted
    level, and ``q_value`` applies Benjamini-Hochberg across all steps tested.

    Parameters
    ----------
    min_days
        Days with successful attempts needed on each side of a split.
    confidence
        Level of the (split-adjusted) interval of ``ratio``.

    Returns
    -------
    DataFrame
        One row per (``workflow_id``, ``step_name``), most significant first: ``step_type``,
        ``change_date`` (first day of the new regime), ``days_before``, ``days_after``,
        ``attempts_before``, ``attempts_after``, ``gm_before_ms`` / ``gm_after_ms`` (geometric
        mean duration: exp of the mean of daily mean logs), ``ratio`` (after / before),
        ``ci_low``, ``ci_high``, ``t_stat``, ``candidates`` (splits tried), ``p_value``,
        ``q_value``. Steps with fewer than ``2 * min_days`` days have NaN statistics and
        ``candidates == 0``.

    Examples
    --------
    >>> step_shifts(wb, start="2026-07-04", end="2026-11-01").head(1)          # doctest: +SKIP
           workflow_id   step_name step_type change_date  ...  ratio  ...  q_value
    0  lead-enrichment  crm_lookup      http  2026-09-02  ...   4.31  ...  1.2e-12
    """
    if isinstance(min_days, bool) or not isinstance(min_days, int) or min_days < 2:
        raise QueryParameterError(f"min_days must be a whole number >= 2, not {min_days!r}")
    if not 0 < confidence < 1:
        raise QueryParameterError(f"confidence must be in (0, 1), not {confidence!r}")
    daily = _step_periods(wb, start, end, "day", workflow, max_run_days)
    daily = daily[daily["ok_attempts"] > 0]
    rows = [
        _best_split(key, group, min_days, confidence)
        for key, group in daily.groupby(["workflow_id", "step_name"], sort=True)
    ]
    out = pd.DataFrame(rows, columns=_SHIFT_COLUMNS)
    tested = out["p_value"].notna()
    out["q_value"] = np.nan
    if tested.any():
        out.loc[tested, "q_value"] = multipletests(out.loc[tested, "p_value"], method="fdr_bh")[1]
    counts = ["days_before", "days_after", "attempts_before", "attempts_after"]
    out = out.astype({"candidates": "int64", **dict.fromkeys(counts, "Int64")})
    out["change_date"] = pd.to_datetime(out["change_date"])
    return out.sort_values(
        ["p_value", "workflow_id", "step_name"], na_position="last", ignore_index=True
    )


def failure_reasons(
    wb: Workbench,
    /,
    *,
    start: Any,
    end: Any,
    workflow: str | None = None,
    max_run_days: int = 1,
) -> pd.DataFrame:
    """Failures grouped by reason, with the root failure of a run told apart from its cascade.

    Every failed step attempt gets a role: ``root`` (the first step of a failed run that never
    succeeded: what took the run down), ``cascade`` (later steps of that run that never
    succeeded), ``tolerated`` (never succeeded, but the run did not fail), ``recovered`` (a
    retry succeeded: flakiness); cancelled attempts are ``cancelled``, and a failed run without a
    failed step is one ``run`` row carrying the run's error.

    Returns
    -------
    DataFrame
        One row per (``workflow_id``, ``role``, ``step_name``, ``reason``), roots first:
        ``reason`` (the error with ids and long numbers masked), ``executions``, ``attempts``,
        ``runs``, ``failed_runs`` (of the workflow), ``share_of_failed_runs`` (roles root and
        run; they sum to 1 per workflow), ``first_seen``, ``last_seen``, ``example_error``.

    Examples
    --------
    >>> failures = failure_reasons(wb, start="2026-09-01", end="2026-10-01")  # doctest: +SKIP
    >>> failures.query("role == 'root'")                                    # doctest: +SKIP
    """
    return wb.query(
        "workflow_failure_reasons",
        **_common.params(
            start, end, workflow=workflow, max_run_days=_common.max_run_days(max_run_days)
        ),
    )


def retry_counts(
    wb: Workbench,
    /,
    *,
    start: Any,
    end: Any,
    workflow: str | None = None,
    max_run_days: int = 1,
) -> pd.DataFrame:
    """Attempts, retries and their outcome per workflow step.

    Returns
    -------
    DataFrame
        One row per (``workflow_id``, ``step_name``): ``step_type``, ``step_index``,
        ``executions``, ``attempts``, ``retries`` (attempts beyond the first),
        ``retried_executions``, ``max_attempts``, ``first_try_failures``, ``flaky_executions``
        (failed, then succeeded on a retry), ``exhausted_executions`` (retried, never
        succeeded), ``failed_executions`` (never succeeded, not cancelled), ``retry_rate``,
        ``flaky_rate``, ``recovery_rate`` (flaky / first-try failures) and ``retry_ms`` (time in
        failed attempts that were retried).

    Examples
    --------
    >>> retries = retry_counts(wb, start="2026-09-01", end="2026-10-01")   # doctest: +SKIP
    >>> retries.nlargest(3, "retries")                                      # doctest: +SKIP
    """
    return wb.query(
        "workflow_step_retries",
        **_common.params(
            start, end, workflow=workflow, max_run_days=_common.max_run_days(max_run_days)
        ),
    )


def flaky_steps(
    wb: Workbench,
    /,
    *,
    start: Any,
    end: Any,
    workflow: str | None = None,
    max_run_days: int = 1,
) -> pd.DataFrame:
    """Steps that fail and then succeed on a retry, flakiest first.

    Returns
    -------
    DataFrame
        The rows of :func:`retry_counts` with at least one flaky execution, ordered by
        ``flaky_rate`` (then flaky executions), with ``flaky_rate_ci_low`` /
        ``flaky_rate_ci_high``: the 95 % Wilson interval of the share of executions that are
        flaky.

    Examples
    --------
    >>> flaky_steps(wb, start="2026-07-04", end="2026-11-01")[["workflow_id", "step_name",
    ...     "flaky_executions", "flaky_rate"]]                                     # doctest: +SKIP
    """
    frame = retry_counts(wb, start=start, end=end, workflow=workflow, max_run_days=max_run_days)
    frame = frame[frame["flaky_executions"] > 0].copy()
    lo, hi = wilson_interval(frame["flaky_executions"], frame["executions"])
    at = frame.columns.get_loc("flaky_rate") + 1
    frame.insert(at, "flaky_rate_ci_low", lo)
    frame.insert(at + 1, "flaky_rate_ci_high", hi)
    return frame.sort_values(
        ["flaky_rate", "flaky_executions", "workflow_id", "step_name"],
        ascending=[False, False, True, True],
        ignore_index=True,
    )


def _step_periods(
    wb: Workbench, start: Any, end: Any, period: str, workflow: str | None, max_run_days: int
) -> pd.DataFrame:
    return wb.query(
        "workflow_step_periods",
        **_common.params(
            start,
            end,
            workflow=workflow,
            period=_common.period(period),
            max_run_days=_common.max_run_days(max_run_days),
        ),
    )


def _best_split(
    key: tuple[str, str], days: pd.DataFrame, min_days: int, confidence: float
) -> dict[str, Any]:
    """The day split with the largest Welch t between daily mean log durations (see step_shifts)."""
    days = days.sort_values("period_start")
    row: dict[str, Any] = dict.fromkeys(_SHIFT_COLUMNS, np.nan)
    row.update(
        workflow_id=key[0],
        step_name=key[1],
        step_type=days["step_type"].mode().iloc[0],
        change_date=None,
        candidates=0,
    )
    y = (days["log_ms_sum"] / days["ok_attempts"]).to_numpy(dtype=float)
    n_att = days["ok_attempts"].to_numpy(dtype=float)
    n = len(y)
    splits = np.arange(min_days, n - min_days + 1)  # first index of the "after" group
    if len(splits) == 0:
        return row
    # sums of daily means and their squares before each split, so every split is O(1)
    c1, c2 = np.concatenate([[0.0], np.cumsum(y)]), np.concatenate([[0.0], np.cumsum(y * y)])
    n1, n2 = splits.astype(float), (n - splits).astype(float)
    m1, m2 = c1[splits] / n1, (c1[n] - c1[splits]) / n2
    v1 = (c2[splits] - n1 * m1 * m1) / (n1 - 1)
    v2 = (c2[n] - c2[splits] - n2 * m2 * m2) / (n2 - 1)
    se2 = np.maximum(v1, 0) / n1 + np.maximum(v2, 0) / n2
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(se2 > 0, (m2 - m1) / np.sqrt(se2), np.nan)
    if np.all(np.isnan(t)):
        return row
    i = int(np.nanargmax(np.abs(t)))
    s, se = splits[i], float(np.sqrt(se2[i]))
    a1, a2 = v1[i] / n1[i], v2[i] / n2[i]
    df = (a1 + a2) ** 2 / (a1 * a1 / (n1[i] - 1) + a2 * a2 / (n2[i] - 1)) if a1 + a2 > 0 else np.inf
    k = len(splits)
    diff = m2[i] - m1[i]
    crit = stats.t.ppf(1 - (1 - confidence) / (2 * k), df)
    row.update(
        change_date=days["period_start"].iloc[s],
        days_before=int(s),
        days_after=int(n - s),
        attempts_before=int(n_att[:s].sum()),
        attempts_after=int(n_att[s:].sum()),
        gm_before_ms=float(np.exp(m1[i])),
        gm_after_ms=float(np.exp(m2[i])),
        ratio=float(np.exp(diff)),
        ci_low=float(np.exp(diff - crit * se)),
        ci_high=float(np.exp(diff + crit * se)),
        t_stat=float(t[i]),
        candidates=k,
        p_value=float(min(1.0, 2 * stats.t.sf(abs(t[i]), df) * k)),
    )
    return row
