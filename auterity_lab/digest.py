"""The numbers of the ready-made reports: a day and an ISO week against their comparison periods.

The daily digest compares one UTC day with the day before and with the same weekday a week
earlier; the weekly review compares one ISO week (Monday to Sunday) with the week before and
with the mean of the four weeks before it. The KPIs are the Overview's headline KPIs of each
system (:func:`auterity_lab.overview.system_kpis`, one definition) plus the AI cost of the
metric catalog (:mod:`auterity_lab.metrics`); a system whose extract cannot be read is listed
in :attr:`Comparison.unavailable` with the reason, and the others are still compared.

Changes are relative (``value / baseline - 1``; NaN when the baseline is 0 or missing) and
descriptive: a daily digest shows movements, it does not test them.

Examples
--------
>>> c = day_comparison(wb, day="2026-10-31")                                   # doctest: +SKIP
>>> c.kpis.loc[c.kpis.metric == "sessions", ["value", "day_before", "last_week"]]  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from auterity_lab.errors import AuterityLabError, QueryParameterError
from auterity_lab.health import newest_row
from auterity_lab.metrics import CATALOG, metric_series
from auterity_lab.overview import system_kpis
from auterity_lab.queries import coerce, to_utc
from auterity_lab.schema import SYSTEMS

if TYPE_CHECKING:
    from auterity_lab.warehouse import Workbench

DAY_COLUMNS = [
    "system",
    "metric",
    "unit",
    "up_is_good",
    "value",
    "day_before",
    "change_vs_day_before",
    "last_week",
    "change_vs_last_week",
]
"""Columns of :attr:`Comparison.kpis` from :func:`day_comparison`."""

WEEK_COLUMNS = [
    "system",
    "metric",
    "unit",
    "up_is_good",
    "value",
    "previous_week",
    "change_vs_previous_week",
    "four_week_mean",
    "change_vs_four_week_mean",
]
"""Columns of :attr:`Comparison.kpis` from :func:`week_comparison`."""

MOVER_COLUMNS = [
    "system",
    "metric",
    "unit",
    "value",
    "baseline",
    "change",
    "difference",
    "from_zero",
    "verdict",
]
"""Columns of :func:`movers`."""

INSIGHT_COLUMNS = [
    "severity",
    "title",
    "description",
    "insight_type",
    "status",
    "affected_systems",
    "period_start",
    "period_end",
    "score",
    "id",
]
"""Columns of :func:`top_insights`."""

_MAIN_TABLES = ("auterity.user_sessions", "neuroweaver.prompt_outputs", "relaycore.workflow_runs")
_EXTRA_METRICS = ("ai_cost",)  # from the metric catalog: a daily sum, so it adds up over a week
_SEVERITY_RANK = {"critical": 0, "high": 1, "medium": 2, "low": 3}
_DISPLAY = {
    "share": "{:.2%}",
    "USD": "${:,.2f}",
    "ms": "{:,.0f} ms",
    "seconds": "{:,.1f} s",
    "rating 1-5": "{:.2f}",
}


@dataclass(frozen=True)
class Comparison:
    """A period's KPIs against its baselines.

    Attributes
    ----------
    start, end
        The compared period ``[start, end)`` (UTC).
    kpis
        One row per (system, metric): :data:`DAY_COLUMNS` or :data:`WEEK_COLUMNS`.
    unavailable
        System → why its numbers are missing (an unreadable extract).
    """

    start: dt.datetime
    end: dt.datetime
    kpis: pd.DataFrame
    unavailable: Mapping[str, str] = field(default_factory=dict)


def latest_complete_day(wb: Workbench, /, *, as_of: Any = None) -> dt.date:
    """The newest UTC day whose data is complete, at most the day before ``as_of``.

    A day is complete when the extracts were written after it ended; the tenant's newest row
    bounds it too, so a data directory that stopped being refreshed reports its last day, not
    an empty one.

    Parameters
    ----------
    as_of
        The reference time (default: now).

    Examples
    --------
    >>> latest_complete_day(wb, as_of="2026-11-25")                           # doctest: +SKIP
    datetime.date(2026, 10, 31)
    """
    now = to_utc(as_of) if as_of is not None else dt.datetime.now(dt.UTC)
    candidates = [now.date() - dt.timedelta(days=1)]
    written = [
        dt.datetime.fromisoformat(entry.written_at)
        for name, entry in wb.manifest.tables.items()
        if name in _MAIN_TABLES
    ]
    if written:
        candidates.append(min(written).astimezone(dt.UTC).date() - dt.timedelta(days=1))
    newest = [newest_row(wb, name.split(".", 1)[1]) for name in _MAIN_TABLES]
    if any(newest):
        candidates.append(max(t for t in newest if t is not None).astimezone(dt.UTC).date())
    return min(candidates)


def latest_complete_week(wb: Workbench, /, *, as_of: Any = None) -> dt.date:
    """The Monday of the newest ISO week whose seven days are complete (see
    :func:`latest_complete_day`).

    Examples
    --------
    >>> latest_complete_week(wb, as_of="2026-11-25")                          # doctest: +SKIP
    datetime.date(2026, 10, 19)
    """
    end = latest_complete_day(wb, as_of=as_of) + dt.timedelta(days=1)
    return end - dt.timedelta(days=end.weekday() + 7)


def resolve_day(wb: Workbench, /, day: Any = None, *, as_of: Any = None) -> dt.date:
    """``day`` as a date, or :func:`latest_complete_day` when it is None (a report's default).

    Examples
    --------
    >>> resolve_day(wb, "2026-10-31")                                          # doctest: +SKIP
    datetime.date(2026, 10, 31)
    """
    return _day(day, "day") if day is not None else latest_complete_day(wb, as_of=as_of)


def resolve_week(wb: Workbench, /, week: Any = None, *, as_of: Any = None) -> dt.date:
    """The Monday of the ISO week holding ``week``, or :func:`latest_complete_week` when None.

    Examples
    --------
    >>> resolve_week(wb, "2026-10-22")                                         # doctest: +SKIP
    datetime.date(2026, 10, 19)
    """
    return week_start(week) if week is not None else latest_complete_week(wb, as_of=as_of)


def week_start(day: Any) -> dt.date:
    """The Monday of the ISO week holding ``day``.

    Examples
    --------
    >>> week_start("2026-10-22")
    datetime.date(2026, 10, 19)
    """
    d = _day(day, "week")
    return d - dt.timedelta(days=d.weekday())


def day_comparison(wb: Workbench, /, *, day: Any) -> Comparison:
    """Every headline KPI of ``day`` against the day before and the same weekday a week earlier.

    Parameters
    ----------
    wb
        The tenant's workbench.
    day
        The UTC day (a date or ISO text).

    Returns
    -------
    Comparison
        ``kpis`` has :data:`DAY_COLUMNS`: ``value`` (the day), ``day_before``,
        ``change_vs_day_before``, ``last_week`` (same weekday seven days earlier),
        ``change_vs_last_week``; ``up_is_good`` is True/False/None from the metric catalog.

    Examples
    --------
    >>> day_comparison(wb, day="2026-10-31").kpis.columns.tolist() == DAY_COLUMNS  # doctest: +SKIP
    True
    """
    d = _day(day, "day")
    one = dt.timedelta(days=1)
    windows = {"now": (d, d + one), "week": (d - 7 * one, d - 6 * one)}
    frames, unavailable = _kpis(wb, windows)
    if not frames:
        return Comparison(_ts(d), _ts(d + one), _empty(DAY_COLUMNS), unavailable)
    now, week = frames["now"], frames["week"]
    out = now[["system", "metric", "unit"]].copy()
    out["up_is_good"] = [_up_is_good(m) for m in out["metric"]]
    out["value"] = now["value"].to_numpy(dtype=float)
    out["day_before"] = now["previous"].to_numpy(dtype=float)
    out["change_vs_day_before"] = _change(out["value"], out["day_before"])
    out["last_week"] = week["value"].to_numpy(dtype=float)
    out["change_vs_last_week"] = _change(out["value"], out["last_week"])
    return Comparison(_ts(d), _ts(d + one), out[DAY_COLUMNS].reset_index(drop=True), unavailable)


def week_comparison(wb: Workbench, /, *, week: Any) -> Comparison:
    """Every headline KPI of the ISO week holding ``week`` against the week before and the mean
    of the four weeks before it.

    Parameters
    ----------
    wb
        The tenant's workbench.
    week
        Any day of the week (Monday to Sunday, UTC).

    Returns
    -------
    Comparison
        ``kpis`` has :data:`WEEK_COLUMNS`: ``value`` (the week), ``previous_week``,
        ``change_vs_previous_week``, ``four_week_mean`` (mean of the weekly values of the four
        weeks before; weeks without data count as missing, not 0, for averages and quantiles),
        ``change_vs_four_week_mean``.

    Examples
    --------
    >>> week_comparison(wb, week="2026-10-19").start.date().isoformat()        # doctest: +SKIP
    '2026-10-19'
    """
    ws = week_start(week)
    w = dt.timedelta(days=7)
    # system_kpis returns each window and the one before it: 3 calls cover weeks 0 .. -5
    windows = {"w0": (ws, ws + w), "w2": (ws - 2 * w, ws - w), "w4": (ws - 4 * w, ws - 3 * w)}
    frames, unavailable = _kpis(wb, windows)
    if not frames:
        return Comparison(_ts(ws), _ts(ws + w), _empty(WEEK_COLUMNS), unavailable)
    f0, f2, f4 = frames["w0"], frames["w2"], frames["w4"]
    out = f0[["system", "metric", "unit"]].copy()
    out["up_is_good"] = [_up_is_good(m) for m in out["metric"]]
    out["value"] = f0["value"].to_numpy(dtype=float)
    out["previous_week"] = f0["previous"].to_numpy(dtype=float)
    out["change_vs_previous_week"] = _change(out["value"], out["previous_week"])
    before = np.column_stack(
        [
            f0["previous"].to_numpy(dtype=float),
            f2["value"].to_numpy(dtype=float),
            f2["previous"].to_numpy(dtype=float),
            f4["value"].to_numpy(dtype=float),
        ]
    )
    with np.errstate(invalid="ignore"):
        counts = np.sum(np.isfinite(before), axis=1)
        out["four_week_mean"] = np.where(
            counts > 0, np.nansum(before, axis=1) / np.maximum(counts, 1), np.nan
        )
    out["change_vs_four_week_mean"] = _change(out["value"], out["four_week_mean"])
    return Comparison(_ts(ws), _ts(ws + w), out[WEEK_COLUMNS].reset_index(drop=True), unavailable)


def movers(comparison: Comparison, /, *, against: str | None = None, top: int = 5) -> pd.DataFrame:
    """The KPIs that moved most against one baseline.

    A KPI that was 0 in the baseline and is not now (an error rate from 0 % to 26 %) has no
    relative change; it ranks first, as the largest move, with ``change`` NaN and ``from_zero``
    True. The others rank by the absolute value of their relative change.

    Parameters
    ----------
    comparison
        From :func:`day_comparison` or :func:`week_comparison`.
    against
        The baseline column: ``last_week`` (default for a day), ``day_before``,
        ``previous_week`` (default for a week) or ``four_week_mean``.
    top
        How many to return.

    Returns
    -------
    DataFrame
        :data:`MOVER_COLUMNS`, largest move first: ``change`` relative (NaN from zero),
        ``difference`` (value - baseline), ``from_zero``, and ``verdict``: ``better``, ``worse``
        or ``neutral`` (a metric with no good direction, or no change).

    Examples
    --------
    >>> kpis = pd.DataFrame({"system": ["a", "a", "b"],
    ...     "metric": ["sessions", "ai_error_rate", "workflow_failure_rate"],
    ...     "unit": ["sessions", "share", "share"], "up_is_good": [True, False, False],
    ...     "value": [75.0, 0.02, 0.3], "last_week": [100.0, 0.01, 0.0]})
    >>> day = pd.Timestamp("2026-01-02", tz="UTC")
    >>> c = Comparison(day, day + pd.Timedelta(days=1), kpis)
    >>> movers(c, against="last_week")[["metric", "change", "from_zero", "verdict"]]
                      metric  change  from_zero verdict
    0  workflow_failure_rate     NaN       True   worse
    1          ai_error_rate    1.00      False   worse
    2               sessions   -0.25      False   worse
    """
    kpis = comparison.kpis
    column = against or ("last_week" if "last_week" in kpis.columns else "previous_week")
    if column not in _VALUE_COLUMNS or column not in kpis.columns or column == "value":
        raise QueryParameterError(
            f"against must be a baseline column of the comparison, not {column!r}"
        )
    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise QueryParameterError(f"top must be a whole number >= 1, not {top!r}")
    out = kpis[["system", "metric", "unit", "up_is_good", "value"]].copy()
    out["baseline"] = kpis[column].to_numpy(dtype=float)
    out["change"] = _change(out["value"], out["baseline"])
    out["difference"] = out["value"] - out["baseline"]
    out["from_zero"] = (out["baseline"] == 0) & (out["difference"] != 0) & out["difference"].notna()
    out = out[np.isfinite(out["change"].to_numpy(dtype=float)) | out["from_zero"]]
    out["verdict"] = [
        _verdict(up, d) for up, d in zip(out["up_is_good"], out["difference"], strict=True)
    ]
    rank = np.where(out["from_zero"], np.inf, out["change"].abs())
    out = out.assign(_rank=rank).sort_values("_rank", ascending=False, kind="stable")
    return out.head(top)[MOVER_COLUMNS].reset_index(drop=True)


def hourly_profile(
    wb: Workbench,
    /,
    *,
    day: Any,
    metrics: tuple[str, ...] = ("sessions", "ai_requests", "workflow_runs"),
) -> pd.DataFrame:
    """Hour-by-hour counts of ``day`` next to the same hours a week earlier.

    Returns
    -------
    DataFrame
        ``hour`` (0-23), ``metric``, ``system``, ``value`` (the day), ``last_week``.

    Examples
    --------
    >>> hourly_profile(wb, day="2026-10-31").groupby("metric")["value"].sum()  # doctest: +SKIP
    """
    d = _day(day, "day")
    one = dt.timedelta(days=1)
    now = metric_series(wb, start=d, end=d + one, grain="hour", metrics=list(metrics))
    before = metric_series(
        wb, start=d - 7 * one, end=d - 6 * one, grain="hour", metrics=list(metrics)
    )
    now = now.assign(hour=now["period"].dt.hour)[["hour", "metric", "system", "value"]]
    before = before.assign(hour=before["period"].dt.hour)[["hour", "metric", "value"]]
    merged = now.merge(
        before.rename(columns={"value": "last_week"}), on=["hour", "metric"], how="left"
    )
    return merged[["hour", "metric", "system", "value", "last_week"]]


def top_insights(
    wb: Workbench, /, *, start: Any, end: Any, limit: int = 5, since: Any = None
) -> pd.DataFrame:
    """The most severe open insights of ``[start, end)``, freshly generated.

    Runs :func:`auterity_lab.insights.generate_insights` over the range, which stores them in
    the data directory's state (an insight seen before is updated in place and keeps its status),
    and keeps the open ones (active or acknowledged: a dismissed or resolved insight stays out).

    Parameters
    ----------
    start, end
        The range the insights are drawn from (a report uses several weeks, so anomalies and
        trends have a baseline).
    limit
        How many to return.
    since
        Only insights about a period ending after this time (e.g. the reported day).

    Returns
    -------
    DataFrame
        :data:`INSIGHT_COLUMNS`, most severe (then highest score) first; ``affected_systems``
        joined as text. Empty (with the columns) when there is none.

    Examples
    --------
    >>> top = top_insights(wb, start="2026-09-06", end="2026-11-01", limit=3)  # doctest: +SKIP
    >>> top[["severity", "title"]]                                             # doctest: +SKIP
    """
    from auterity_lab.insights import generate_insights

    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise QueryParameterError(f"limit must be a whole number >= 1, not {limit!r}")
    frame = generate_insights(wb, start=start, end=end).insights
    if frame.empty or "status" not in frame.columns:
        return _empty(INSIGHT_COLUMNS)
    frame = frame[frame["status"].isin(["active", "acknowledged"])]
    if since is not None:
        ends = pd.to_datetime(frame["period_end"], utc=True)
        frame = frame[ends > pd.Timestamp(to_utc(since))]
    if frame.empty:
        return _empty(INSIGHT_COLUMNS)
    frame = frame.assign(
        affected_systems=[
            ", ".join(v) if isinstance(v, list) else str(v or "") for v in frame["affected_systems"]
        ],
        _rank=frame["severity"].map(_SEVERITY_RANK).fillna(len(_SEVERITY_RANK)),
    ).sort_values(["_rank", "score"], ascending=[True, False], kind="stable")
    return frame.head(limit)[INSIGHT_COLUMNS].reset_index(drop=True)


def display_values(kpis: pd.DataFrame) -> pd.DataFrame:
    """``kpis`` with every value and baseline as text in its unit (``$1,234.50``, ``2.05%``,
    ``1,840 ms``), changes as signed percentages and readable column headers; for showing, not
    for computing.

    Examples
    --------
    >>> kpis = pd.DataFrame({"metric": ["revenue"], "unit": ["USD"], "value": [1234.5],
    ...                      "change_vs_last_week": [0.25]})
    >>> display_values(kpis).iloc[0].to_dict()  # doctest: +NORMALIZE_WHITESPACE
    {'metric': 'revenue', 'unit': 'USD', 'value': '$1,234.50',
     'vs same weekday last week': '+25.0%'}
    """
    out = kpis.copy()
    value = kpis["value"].to_numpy(dtype=float) if "value" in kpis.columns else None
    for col in kpis.columns:
        if col.startswith("change"):
            base_col = _BASELINE_OF.get(col)
            base = kpis[base_col].to_numpy(dtype=float) if base_col in kpis.columns else None
            from_zero = (
                (base == 0) & np.isfinite(value) & (value != 0)
                if base is not None and value is not None
                else np.zeros(len(kpis), dtype=bool)
            )
            out[col] = [
                "from 0" if z else _fmt(v, "{:+.1%}")
                for v, z in zip(kpis[col], from_zero, strict=True)
            ]
        elif col in _VALUE_COLUMNS:
            out[col] = [
                _fmt(v, _pattern(v, u)) for v, u in zip(kpis[col], kpis["unit"], strict=True)
            ]
    out = out.drop(
        columns=[c for c in ("up_is_good", "from_zero", "difference") if c in out.columns]
    )
    return out.rename(columns=_HEADERS)


# ----------------------------------------------------------------------------- internals
def _kpis(
    wb: Workbench, windows: Mapping[str, tuple[dt.date, dt.date]]
) -> tuple[dict[str, pd.DataFrame], dict[str, str]]:
    """Per window: each system's KPIs (with ``previous``) plus AI cost; unreadable systems apart."""
    parts: dict[str, list[pd.DataFrame]] = {k: [] for k in windows}
    unavailable: dict[str, str] = {}
    for system in SYSTEMS:
        try:
            got = {
                k: system_kpis(wb, system=system, start=s, end=e) for k, (s, e) in windows.items()
            }
            if system == "neuroweaver":
                got = {
                    k: pd.concat([got[k], _extra_kpis(wb, s, e)], ignore_index=True)
                    for k, (s, e) in windows.items()
                }
        except AuterityLabError as exc:
            unavailable[system] = str(exc)
            continue
        for k, frame in got.items():
            parts[k].append(frame)
    if len(unavailable) == len(SYSTEMS):
        return {}, unavailable
    return {k: pd.concat(v, ignore_index=True) for k, v in parts.items()}, unavailable


def _extra_kpis(wb: Workbench, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Catalog metrics that are daily sums, summed over ``[start, end)`` and the period before."""
    length = end - start
    series = metric_series(wb, start=start - length, end=end, metrics=list(_EXTRA_METRICS))
    day = series["period"].dt.date
    rows = []
    for name in _EXTRA_METRICS:
        m = series["metric"] == name
        now = series.loc[m & (day >= start), "value"]
        before = series.loc[m & (day < start), "value"]
        value, previous = _sum_or_nan(now), _sum_or_nan(before)
        rows.append(
            {
                "system": CATALOG[name].system,
                "metric": name,
                "value": value,
                "unit": CATALOG[name].unit,
                "previous": previous,
                "change": _change(pd.Series([value]), pd.Series([previous]))[0],
            }
        )
    return pd.DataFrame(rows)


def _sum_or_nan(values: pd.Series) -> float:
    finite = values.dropna()
    return float(finite.sum()) if len(finite) else math.nan


def _change(value: Any, baseline: Any) -> np.ndarray:
    v = np.asarray(value, dtype=float)
    b = np.asarray(baseline, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(np.isfinite(b) & (b != 0) & np.isfinite(v), v / b - 1.0, np.nan)


def _verdict(up_is_good: bool | None, difference: float) -> str:
    if up_is_good is None or difference == 0:
        return "neutral"
    return "better" if (difference > 0) == up_is_good else "worse"


def _up_is_good(metric: str) -> bool | None:
    m = CATALOG.get(metric)
    return m.up_is_good if m is not None else None


def _day(value: Any, label: str) -> dt.date:
    if value is None:
        raise QueryParameterError(f"{label} is required")
    return coerce(value, "DATE", label)


def _ts(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


def _fmt(value: Any, pattern: str) -> str:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "–"
    return pattern.format(v) if math.isfinite(v) else "–"


def _finite(value: Any) -> bool:
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _pattern(value: Any, unit: str) -> str:
    if unit in _DISPLAY:
        return _DISPLAY[unit]
    try:
        whole = float(value).is_integer()
    except (TypeError, ValueError):
        whole = True
    return "{:,.0f}" if whole else "{:,.2f}"


def _empty(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {c: pd.Series([], dtype=float if c in _NUMERIC else object) for c in columns}
    )


_BASELINE_OF = {
    "change": "baseline",
    "change_vs_day_before": "day_before",
    "change_vs_last_week": "last_week",
    "change_vs_previous_week": "previous_week",
    "change_vs_four_week_mean": "four_week_mean",
}
_HEADERS = {
    "day_before": "day before",
    "change_vs_day_before": "vs day before",
    "last_week": "same weekday last week",
    "change_vs_last_week": "vs same weekday last week",
    "previous_week": "week before",
    "change_vs_previous_week": "vs week before",
    "four_week_mean": "4-week mean",
    "change_vs_four_week_mean": "vs 4-week mean",
}
_VALUE_COLUMNS = {
    "value",
    "previous",
    "delta",
    "day_before",
    "last_week",
    "previous_week",
    "four_week_mean",
    "baseline",
}
_NUMERIC = {
    "difference",
    "score",
    "value",
    "day_before",
    "change_vs_day_before",
    "last_week",
    "change_vs_last_week",
    "previous_week",
    "change_vs_previous_week",
    "four_week_mean",
    "change_vs_four_week_mean",
    "baseline",
    "change",
}
