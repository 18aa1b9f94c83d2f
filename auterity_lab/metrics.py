"""The metric catalog: every daily and hourly metric of the three systems, defined once.

A :class:`Metric` names its system, unit, the SQL file that computes it per tenant and period
(``queries/metric_*.sql``: one query per system returning several metrics, and one per system
split by a segment such as the model), which direction is good, and how its values behave
statistically (the scale correlations and insights analyse it on, the column counting the
observations behind each value). :func:`metric_series` runs the queries and returns one tidy
frame; correlations, insights and alert rules all read metrics through it.

Examples
--------
>>> metric("ai_p95_latency").unit, metric("ai_p95_latency").up_is_good
('ms', False)
>>> sorted({m.system for m in CATALOG.values()})
['auterity', 'neuroweaver', 'relaycore']
>>> metric_series(wb, start="2026-10-01", end="2026-11-01").columns.tolist()  # doctest: +SKIP
['period', 'system', 'metric', 'segment', 'value', 'n', 'unit']
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from auterity_lab import rollups
from auterity_lab.errors import QueryParameterError
from auterity_lab.periods import DateRange
from auterity_lab.schema import table

if TYPE_CHECKING:
    from auterity_lab.warehouse import Workbench

Grain = Literal["day", "hour"]
_DAILY_ROLLUPS = {
    "metric_auterity": ("daily_user_analytics",),
    "metric_neuroweaver": ("model_days", "model_latency_days"),
}
"""Metric query → the rollups its daily form (``queries/rollups/<query>.sql``) reads."""
Scale = Literal["log", "log1p", "linear"]
Kind = Literal["count", "sum", "mean", "rate", "quantile"]

GRAINS: dict[str, dt.timedelta] = {"day": dt.timedelta(days=1), "hour": dt.timedelta(hours=1)}
"""Period length of each grain."""

SERIES_COLUMNS = ("period", "system", "metric", "segment", "value", "n", "unit")
"""Columns of :func:`metric_series`."""


class UnknownMetricError(QueryParameterError):
    """A metric name, grain or segment request that the catalog does not know."""


class MetricUnavailableError(QueryParameterError):
    """A metric needs a relation that no installed module provides (e.g. AI cost without prices)."""


@dataclass(frozen=True)
class Metric:
    """One metric of the catalog.

    Attributes
    ----------
    name
        Column name in its SQL file(s) and the metric's name everywhere else.
    system
        ``auterity``, ``neuroweaver`` or ``relaycore`` (API performance metrics belong to
        Auterity, whose ``performance_metrics`` table records them).
    sources
        The tables the metric is computed from (the first is the main one).
    unit
        ``users``, ``sessions``, ``seconds``, ``ms``, ``share`` (0..1), ``USD``, ...
    kind
        ``count`` (events per period), ``sum``, ``mean``, ``rate`` (a share of ``support``
        observations, binomial) or ``quantile``.
    up_is_good
        True when a rise is good news, False when it is bad news, None when neither.
    scale
        The scale statistics work on: ``log`` for positive skewed values (latency, duration),
        ``log1p`` for counts and money that can be 0, ``linear`` for rates and ratings.
    support
        Column holding the number of observations behind a value (None for counts: the value
        itself); a rate's denominator.
    query, segment_query
        The SQL files computing the metric for the whole tenant, and per segment (a column
        ``segment``); at least one is set.
    segment_by
        What a segment is (``model_id``, ``workflow_id/step_name``, ``method endpoint``).
    requires
        A relation that must exist before the query runs (``prompt_output_costs``, defined by
        :func:`auterity_lab.ml.cost.attach_costs`); None when the source views suffice.
    description
        One sentence for people.
    """

    name: str
    system: str
    sources: tuple[str, ...]
    unit: str
    kind: Kind
    up_is_good: bool | None
    scale: Scale
    support: str | None
    query: str | None
    segment_query: str | None
    segment_by: str | None
    description: str
    requires: str | None = None

    def __post_init__(self) -> None:
        if self.query is None and self.segment_query is None:
            raise UnknownMetricError(f"metric {self.name!r} needs a query or a segment query")


def _m(
    name: str,
    system: str,
    source: str | tuple[str, ...],
    unit: str,
    kind: Kind,
    up: bool | None,
    scale: Scale,
    support: str | None,
    query: str | None,
    description: str,
    *,
    segment_query: str | None = None,
    segment_by: str | None = None,
    requires: str | None = None,
) -> Metric:
    sources = (source,) if isinstance(source, str) else source
    return Metric(
        name,
        system,
        sources,
        unit,
        kind,
        up,
        scale,
        support,
        query,
        segment_query,
        segment_by,
        description,
        requires,
    )


_BY_MODEL = {"segment_query": "metric_neuroweaver_by_model", "segment_by": "model_id"}
_BY_ENDPOINT = {"segment_query": "metric_performance_by_endpoint", "segment_by": "method endpoint"}
_BY_STEP = {"segment_query": "metric_relaycore_by_step", "segment_by": "workflow_id/step_name"}

CATALOG: dict[str, Metric] = {
    m.name: m
    for m in (
        # ------------------------------------------------------------------ Auterity
        _m(
            "active_users",
            "auterity",
            "user_sessions",
            "users",
            "count",
            True,
            "log1p",
            None,
            "metric_auterity",
            "Distinct users with at least one session.",
        ),
        _m(
            "new_users",
            "auterity",
            "users",
            "users",
            "count",
            True,
            "log1p",
            None,
            "metric_auterity",
            "Accounts created (signups).",
        ),
        _m(
            "sessions",
            "auterity",
            "user_sessions",
            "sessions",
            "count",
            True,
            "log1p",
            None,
            "metric_auterity",
            "Sessions started.",
        ),
        _m(
            "avg_session_duration",
            "auterity",
            "user_sessions",
            "seconds",
            "mean",
            True,
            "log",
            "sessions",
            "metric_auterity",
            "Mean session duration.",
        ),
        _m(
            "conversion_rate",
            "auterity",
            "user_sessions",
            "share",
            "mean",
            True,
            "linear",
            "sessions",
            "metric_auterity",
            "Mean of the sessions' own conversion rates.",
        ),
        _m(
            "revenue",
            "auterity",
            "events",
            "USD",
            "sum",
            True,
            "log1p",
            "revenue_events",
            "metric_auterity",
            "Revenue booked by events (USD).",
        ),
        _m(
            "api_requests",
            "auterity",
            "performance_metrics",
            "requests",
            "count",
            None,
            "log1p",
            None,
            "metric_performance",
            "API calls recorded.",
            **_BY_ENDPOINT,
        ),
        _m(
            "api_error_rate",
            "auterity",
            "performance_metrics",
            "share",
            "rate",
            False,
            "linear",
            "api_requests",
            "metric_performance",
            "Share of API calls answered with a 5xx status.",
            **_BY_ENDPOINT,
        ),
        _m(
            "api_mean_latency",
            "auterity",
            "performance_metrics",
            "ms",
            "mean",
            False,
            "log",
            "api_requests",
            "metric_performance",
            "Mean API response time.",
            **_BY_ENDPOINT,
        ),
        _m(
            "api_p95_latency",
            "auterity",
            "performance_metrics",
            "ms",
            "quantile",
            False,
            "log",
            "api_requests",
            "metric_performance",
            "95th percentile of API response time.",
            **_BY_ENDPOINT,
        ),
        # --------------------------------------------------------------- Neuroweaver
        _m(
            "ai_requests",
            "neuroweaver",
            "prompt_outputs",
            "requests",
            "count",
            True,
            "log1p",
            None,
            "metric_neuroweaver",
            "AI calls (prompt outputs), errors included.",
            **_BY_MODEL,
        ),
        _m(
            "ai_mean_latency",
            "neuroweaver",
            "prompt_outputs",
            "ms",
            "mean",
            False,
            "log",
            "ai_requests",
            "metric_neuroweaver",
            "Mean AI response time.",
            **_BY_MODEL,
        ),
        _m(
            "ai_p95_latency",
            "neuroweaver",
            "prompt_outputs",
            "ms",
            "quantile",
            False,
            "log",
            "ai_requests",
            "metric_neuroweaver",
            "95th percentile of AI response time.",
            **_BY_MODEL,
        ),
        _m(
            "ai_error_rate",
            "neuroweaver",
            "prompt_outputs",
            "share",
            "rate",
            False,
            "linear",
            "ai_requests",
            "metric_neuroweaver",
            "Share of AI calls with status error.",
            **_BY_MODEL,
        ),
        _m(
            "ai_mean_rating",
            "neuroweaver",
            "prompt_outputs",
            "rating 1-5",
            "mean",
            True,
            "linear",
            "ai_rated",
            "metric_neuroweaver",
            "Mean user rating of the rated AI answers.",
            **_BY_MODEL,
        ),
        _m(
            "ai_tokens",
            "neuroweaver",
            "prompt_outputs",
            "tokens",
            "sum",
            None,
            "log1p",
            "ai_requests",
            "metric_neuroweaver",
            "Tokens used by AI calls.",
            **_BY_MODEL,
        ),
        _m(
            "ai_cost",
            "neuroweaver",
            "prompt_outputs",
            "USD",
            "sum",
            False,
            "log",
            "ai_priced",
            "metric_neuroweaver_cost",
            "Cost of the priced AI calls (USD).",
            segment_query="metric_neuroweaver_cost",
            segment_by="model_id",
            requires="prompt_output_costs",
        ),
        # ----------------------------------------------------------------- RelayCore
        _m(
            "workflow_runs",
            "relaycore",
            "workflow_runs",
            "runs",
            "count",
            None,
            "log1p",
            None,
            "metric_relaycore",
            "Workflow runs started.",
        ),
        _m(
            "workflow_failure_rate",
            "relaycore",
            "workflow_runs",
            "share",
            "rate",
            False,
            "linear",
            "workflow_runs",
            "metric_relaycore",
            "Share of workflow runs that failed.",
        ),
        _m(
            "workflow_mean_duration",
            "relaycore",
            "workflow_runs",
            "ms",
            "mean",
            False,
            "log",
            "workflow_timed",
            "metric_relaycore",
            "Mean workflow run duration.",
        ),
        _m(
            "workflow_p95_duration",
            "relaycore",
            "workflow_runs",
            "ms",
            "quantile",
            False,
            "log",
            "workflow_timed",
            "metric_relaycore",
            "95th percentile of workflow run duration.",
        ),
        _m(
            "step_failure_rate",
            "relaycore",
            ("workflow_steps", "workflow_runs"),
            "share",
            "rate",
            False,
            "linear",
            "step_attempts",
            None,
            "Share of step attempts that failed.",
            **_BY_STEP,
        ),
        _m(
            "step_mean_duration",
            "relaycore",
            ("workflow_steps", "workflow_runs"),
            "ms",
            "mean",
            False,
            "log",
            "step_timed",
            None,
            "Mean step attempt duration.",
            **_BY_STEP,
        ),
        _m(
            "step_p95_duration",
            "relaycore",
            ("workflow_steps", "workflow_runs"),
            "ms",
            "quantile",
            False,
            "log",
            "step_timed",
            None,
            "95th percentile of step attempt duration.",
            **_BY_STEP,
        ),
    )
}
"""Every metric by name, in display order."""


def metric(name: str) -> Metric:
    """The catalog entry called ``name``.

    Raises
    ------
    UnknownMetricError
        No such metric (the message lists the known ones).

    Examples
    --------
    >>> metric("revenue").unit
    'USD'
    >>> metric("revenu")
    Traceback (most recent call last):
    ...
    auterity_lab.metrics.UnknownMetricError: unknown metric 'revenu'; known: active_users, ...
    """
    try:
        return CATALOG[name]
    except (KeyError, TypeError):
        raise UnknownMetricError(f"unknown metric {name!r}; known: {', '.join(CATALOG)}") from None


def catalog() -> pd.DataFrame:
    """The catalog as a table, one row per metric in display order.

    Returns
    -------
    DataFrame
        ``metric``, ``system``, ``sources`` (comma-separated tables), ``unit``, ``kind``,
        ``up_is_good`` (True, False or None), ``scale``, ``support``, ``query``,
        ``segment_query``, ``segment_by``, ``requires``, ``description``.

    Examples
    --------
    >>> row = catalog().set_index("metric").loc["ai_error_rate"]
    >>> row[["system", "unit", "up_is_good"]].tolist()
    ['neuroweaver', 'share', False]
    """
    return pd.DataFrame(
        [
            {
                "metric": m.name,
                "system": m.system,
                "sources": ", ".join(m.sources),
                "unit": m.unit,
                "kind": m.kind,
                "up_is_good": m.up_is_good,
                "scale": m.scale,
                "support": m.support,
                "query": m.query,
                "segment_query": m.segment_query,
                "segment_by": m.segment_by,
                "requires": m.requires,
                "description": m.description,
            }
            for m in CATALOG.values()
        ]
    )


def metric_series(
    wb: Workbench,
    /,
    *,
    start: Any,
    end: Any,
    grain: Grain = "day",
    metrics: Iterable[str] | None = None,
    segments: bool = False,
) -> pd.DataFrame:
    """Every requested metric per period of ``[start, end)``, as one tidy frame.

    Parameters
    ----------
    wb
        The tenant's workbench.
    start, end
        The half-open UTC range; the first period is the one holding ``start``.
    grain
        ``"day"`` or ``"hour"``.
    metrics
        Metric names; None means the whole catalog, leaving out a metric whose prerequisite
        (``requires``) no installed module provides, and the metrics of a query that reads a
        table the workbench reports unavailable (``wb.unavailable`` of a non-strict workbench),
        so that the intact systems are still analysed.
    segments
        False: the tenant-level series only. True: the per-segment series too (per model,
        endpoint, workflow step), with the segment name in ``segment``.

    Returns
    -------
    DataFrame
        One row per period, metric and segment (tenant-level rows have ``segment == ""``),
        ordered by metric (catalog order), segment, period: ``period`` (UTC timestamp),
        ``system``, ``metric``, ``segment``, ``value`` (NaN where the period has no observation:
        a mean or rate of nothing), ``n`` (observations behind the value; for counts the value
        itself), ``unit``. Every period of the range appears, so series are regular.

    Raises
    ------
    UnknownMetricError
        An unknown metric or grain.
    MetricUnavailableError
        A metric named explicitly needs a relation no installed module provides, or reads an
        unavailable table.

    Examples
    --------
    >>> s = metric_series(wb, start="2026-10-01", end="2026-10-08",
    ...                   metrics=["sessions"])                          # doctest: +SKIP
    >>> len(s)                                                          # doctest: +SKIP
    7
    """
    if grain not in GRAINS:
        raise UnknownMetricError(f"grain must be one of {', '.join(GRAINS)}, not {grain!r}")
    rng = DateRange.of(start, end)
    explicit = metrics is not None
    wanted = [metric(name) for name in (metrics if explicit else CATALOG)]  # type: ignore[union-attr]
    wanted = list(dict.fromkeys(wanted))
    usable = [m for m in wanted if _prerequisite_ready(wb, m, explicit=explicit)]
    results: dict[str, pd.DataFrame] = {}

    def run(query: str) -> pd.DataFrame:
        if query not in results:
            on = _DAILY_ROLLUPS.get(query, ()) if grain == "day" else ()
            results[query] = rollups.query_or_rows(wb, query, on=on, grain=grain, **rng.params())
        return results[query]

    levels = (False, True) if segments else (False,)
    broken = _unavailable_tables(wb)
    frames = []
    for segmented in levels:
        for query, group in _by_query(usable, segmented=segmented).items():
            missing = sorted(_query_tables(query) & broken.keys())
            if missing and explicit:
                raise MetricUnavailableError(
                    f"metrics {', '.join(m.name for m in group)} read {', '.join(missing)}, "
                    f"which cannot be read: {'; '.join(broken[t] for t in missing)}"
                )
            if not missing:
                frames.append(_melt(run(query), group, segmented=segmented))
    frames = [f for f in frames if not f.empty]
    if not frames:
        return _empty_series()
    out = pd.concat(frames, ignore_index=True)
    order = {name: i for i, name in enumerate(CATALOG)}
    out = out.assign(_o=out["metric"].map(order)).sort_values(["_o", "segment", "period"])
    return out.drop(columns="_o").reset_index(drop=True)[list(SERIES_COLUMNS)]


def pivot_series(series: pd.DataFrame) -> pd.DataFrame:
    """Wide form of :func:`metric_series`: one row per period, one column per series.

    Columns are named ``metric`` for tenant-level series and ``metric[segment]`` for segments.

    Examples
    --------
    >>> s = pd.DataFrame({"period": [1, 2, 1], "metric": ["a", "a", "b"], "segment": ["", "", "x"],
    ...                   "value": [1.0, 2.0, 3.0]})
    >>> pivot_series(s).to_dict()
    {'a': {1: 1.0, 2: 2.0}, 'b[x]': {1: 3.0, 2: nan}}
    """
    names = series_name(series["metric"], series["segment"])
    wide = series.assign(_series=names).pivot(index="period", columns="_series", values="value")
    wide.columns.name = None
    return wide[list(dict.fromkeys(names))]


def series_name(metric_names: Any, segments: Any) -> list[str]:
    """``metric`` or ``metric[segment]`` for each pair.

    Examples
    --------
    >>> series_name(["ai_p95_latency", "sessions"], ["gpt-4o", ""])
    ['ai_p95_latency[gpt-4o]', 'sessions']
    """
    try:
        names, segs = list(metric_names), list(segments)
    except TypeError as exc:
        raise QueryParameterError(f"series_name takes two lists: {exc}") from None
    if len(names) != len(segs):
        raise QueryParameterError(
            f"series_name needs one segment per metric: {len(names)} metrics, {len(segs)} segments"
        )
    return [f"{m}[{s}]" if s else str(m) for m, s in zip(names, segs, strict=True)]


def split_series_name(name: str) -> tuple[str, str]:
    """``"ai_p95_latency[gpt-4o]"`` → ``("ai_p95_latency", "gpt-4o")``.

    Examples
    --------
    >>> split_series_name("sessions")
    ('sessions', '')
    """
    if not isinstance(name, str):
        raise QueryParameterError(f"a series name is text, not {name!r}")
    if name.endswith("]") and "[" in name:
        base, _, segment = name[:-1].partition("[")
        return base, segment
    return name, ""


def transform(values: Any, scale: Scale) -> np.ndarray:
    """Values on the metric's analysis scale (``log`` maps non-positive values to NaN).

    Examples
    --------
    >>> transform([0.0, np.e - 1], "log1p").round(6).tolist()
    [0.0, 1.0]
    """
    x = np.asarray(values, dtype=float)
    if scale == "linear":
        return x
    with np.errstate(divide="ignore", invalid="ignore"):
        if scale == "log":
            return np.where(x > 0, np.log(np.where(x > 0, x, 1.0)), np.nan)
        return np.where(x > -1, np.log1p(np.where(x > -1, x, 0.0)), np.nan)


# ------------------------------------------------------------------------------------ helpers
def _by_query(metrics: list[Metric], *, segmented: bool) -> dict[str, list[Metric]]:
    groups: dict[str, list[Metric]] = {}
    for m in metrics:
        query = m.segment_query if segmented else m.query
        if query is not None:
            groups.setdefault(query, []).append(m)
    return groups


def _melt(frame: pd.DataFrame, group: list[Metric], *, segmented: bool) -> pd.DataFrame:
    parts = []
    for m in group:
        rows = frame
        if "segment" in frame.columns and m.query == m.segment_query:
            # one query serves both levels: segment '' holds the tenant-level rows
            rows = frame[(frame["segment"] != "") if segmented else (frame["segment"] == "")]
        value = rows[m.name].astype(float)
        n = rows[m.support].astype(float) if m.support else value.fillna(0.0)
        parts.append(
            pd.DataFrame(
                {
                    "period": rows["period"].to_numpy(),
                    "system": m.system,
                    "metric": m.name,
                    "segment": rows["segment"].astype(str).to_numpy() if segmented else "",
                    "value": value.to_numpy(),
                    "n": n.to_numpy(),
                    "unit": m.unit,
                }
            )
        )
    return pd.concat(parts, ignore_index=True) if parts else _empty_series()


def _query_tables(query: str) -> set[str]:
    """Qualified names of every table a metric query reads."""
    return {
        table(src).qualified_name
        for m in CATALOG.values()
        if query in (m.query, m.segment_query)
        for src in m.sources
    }


def _unavailable_tables(wb: Workbench) -> dict[str, str]:
    return dict(getattr(wb, "unavailable", None) or {})


def _empty_series() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "period": pd.Series([], dtype="datetime64[us, UTC]"),
            "system": pd.Series([], dtype=object),
            "metric": pd.Series([], dtype=object),
            "segment": pd.Series([], dtype=object),
            "value": pd.Series([], dtype=float),
            "n": pd.Series([], dtype=float),
            "unit": pd.Series([], dtype=object),
        }
    )


def _prerequisite_ready(wb: Workbench, m: Metric, *, explicit: bool) -> bool:
    if m.requires is None:
        return True
    provider = _PROVIDERS.get(m.requires)
    ready = provider is not None and provider(wb)
    if not ready and explicit:
        raise MetricUnavailableError(
            f"metric {m.name!r} needs the relation {m.requires!r}, which no installed module "
            "provides (auterity_lab.ml.cost defines it from a price table)"
        )
    return ready


def _attach_costs(wb: Workbench) -> bool:
    try:
        from auterity_lab.ml import cost
    except ImportError:  # the ML package is optional: AI cost is then left out
        return False
    cost.ensure_costs(wb, None)
    return True


_PROVIDERS = {"prompt_output_costs": _attach_costs}
"""Relation name → a function that defines it on a workbench (True when it could)."""


def provided_identity(wb: Workbench) -> str:
    """What the provided relations (the AI cost view and its prices) hold once defined on
    ``wb``, without defining them: part of the cache key of results computed from metrics, so
    that the key does not depend on whether something else defined them first.

    Examples
    --------
    >>> provided_identity(wb)                                            # doctest: +SKIP
    '{"ai_prices": "frame:3f2a...", "prompt_output_costs": "view:9c41..."}'
    """
    try:
        from auterity_lab.ml import cost
    except ImportError:  # no ML package: nothing is provided
        return "{}"
    return cost.costs_identity(wb, None)
