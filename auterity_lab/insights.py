"""Insights (the spec's ``generateInsights``): what changed, what is unusual, what to do.

Kinds
-----
``anomaly``
    A period far from its expectation: the robust z-score of its residual after a robust
    seasonal decomposition with the weekly period (24 for hourly series; see
    :func:`auterity_lab.stats.decompose`, ``median``: why not STL here) and a local level, the
    median of the neighbouring periods (:func:`running_level`), scaled separately above and
    below (a daily mean of a few right-skewed latencies has a longer upper tail). Rates (error
    and failure rates, means of shares) and counts are instead tested exactly against their
    neighbouring periods (:func:`_discrete_z`: Fisher's test for a rate, the conditional
    binomial test for a count with weekly exposure; mid-p turned into a z, widened for
    over-dispersion), so a mostly-zero error rate is compared with its pooled rate rather than
    a median of 0, and their p-values are normal; the other residuals' p-values come from a
    Student-t matched to the series' own spread (:func:`tail_pvalues`). Benjamini–Hochberg over
    every period of every series. A day on which
    the error rates of several systems rise together is tested as a cross-system incident
    (one-sided Stouffer combination, BH over days). Significant anomalies of one period make one
    insight.
``trend``
    A monotonic trend: Mann–Kendall (variance corrected for autocorrelation) with the Theil–Sen
    slope, on the deseasonalised series with significant anomalies replaced by the local level.
``change_point``
    A level shift: the CUSUM test (its p-value accounts for the search over every split and for
    serial correlation) with a before/after Welch interval of the shift. Trend and change-point
    tests share one BH family per level (tenant, segments); a significant series is reported as a
    change point when a two-mean step fits better than a straight line (BIC), else as a trend.
    Series with more than a quarter of their periods empty (a workflow step that runs every other
    day) get no anomaly scores; their trend and shift tests use the observed periods.
``deployment``
    The spec's DeploymentMonitor (§10.3): for each deployment (a new ``model_version`` of a model
    or a new ``prompt_version``, found in the data, or markers passed in), the window after it
    against a baseline window before it, with the spec's thresholds (response time 2000 ms,
    error rate 5 %, user satisfaction 0.8), the violations, before/after tests per metric and a
    rollback recommendation (:class:`DeploymentThresholds` documents the rule).
``correlation``
    A significant cross-system correlation (:func:`auterity_lab.stats.correlations`).
``cost_optimization``
    The money-saving suggestions of :mod:`auterity_lab.ml.suggestions` (a cheaper model of equal
    quality, capped output tokens, cached repeated prompts) when that module is installed.
``experiment``
    Experiments whose primary metric differs between variants
    (:func:`auterity_lab.ml.experiments.analyze_experiment`), with BH across every experiment's
    primary comparisons, when that module is installed.

Severity
--------
Every insight gets ``score = effect × confidence × reach × concern`` in [0, 1]:

* ``effect``: ``min(1, |value / expected - 1|)`` for an anomaly; ``min(1, |relative change
  over the range|)`` for a trend; ``min(1, |relative shift| / 0.5)`` for a change point or a
  deployment regression (rates: the shift over ``max(before, 1 %)``); ``|r|`` for a
  correlation; the monthly saving's share of the monthly AI cost for a cost optimisation;
  ``min(1, |lift| / 0.2)`` for an experiment.
* ``confidence``: ``1 - q``.
* ``reach``: how much of the tenant is affected: the segment's share of the metric's
  observations (requests, sessions, runs, USD) over the range; 1 for tenant-wide metrics.
* ``concern``: 1 when the metric moves the bad way, 0.25 when it moves the good way, 0.5 when
  the metric has no good direction. For a correlation: 1 when a metric whose rise is bad (latency,
  errors, cost) moves against one whose rise is good (a problem hurting the business), 0.5 when
  two bad-if-up metrics rise together (a shared cause), else 0.25. A cost optimisation is 1; an
  experiment is 1 when the variant is worse, 0.25 when it is better.

``critical`` when the score is at least 0.5, ``high`` from 0.3, ``medium`` from 0.15, else
``low``. A deployment whose check recommends a rollback is ``critical``; one with violations or
regressions but no rollback is at least ``high``.

Multiple testing
----------------
One run of :func:`generate_insights` tests thousands of hypotheses (every period of every
series, every series' trend and shift, every cross-system pair at every lag, every deployment's
checks, every experiment). Its ``alpha`` bounds the whole run: it is split over the families of
tests by :data:`ALPHA_SHARES` (:func:`family_levels`; anomalies and incidents 20 %, trends and
change points 20 %, correlations 25 %, deployment checks 20 %, experiments and cost suggestions
7.5 % each, renormalised over the kinds that run), and within a family Benjamini–Hochberg
q-values are compared with the family's level (:func:`scan_levels` splits the series tests
further: tenant and segment series are separate families). A family at level ``a_k`` has a
false-discovery rate of at most ``a_k`` and, on data without any effect, a chance of at most
``a_k`` of any discovery, so the run's false-discovery rate and its chance of any false
discovery on null data are at most ``Σ a_k = alpha`` (a Bonferroni bound over families, valid
whatever their dependence). ``q_value`` in the evidence is the family's q-value, and
``InsightReport.params["family_levels"]`` the level each family was held to.

The bound needs p-values that are valid far into their tail: a family of about 65 trend and
shift tests at level 0.5 % acts on p ≈ 1e-4. Three things make naive p-values too small there.
(1) Serial dependence, and more of it than the lag-1 autocorrelation shows: a daily metric is a
daily factor (load, traffic, a slow provider) seen through the sampling noise of a few calls,
sessions or runs a day, i.e. an AR(1) signal plus white noise, an ARMA(1,1) whose noise shrinks
the lag-1 autocorrelation while the persistence stays. An AR(1) fitted to it underestimates the
long-run variance. (2) Estimated long-run variances are noisy in 120 days, which gives
studentised statistics a heavier tail than their limit. (3) Sparse segments (a cheap model
called twice a day) have skewed, heavy-tailed daily values that Gaussian simulation misses.
So trend and change-point p-values are calibrated by simulating the statistic under an
ARMA(1,1) fitted to the series' own residuals (:func:`auterity_lab.stats.cusum_change_point`,
:func:`auterity_lab.stats.mann_kendall`): the signal's persistence ``φ`` and share of the
variance are fitted to the first ten bias-corrected autocorrelations; CUSUM resamples the fitted
innovations (a residual bootstrap: (3)), Mann–Kendall works on ranks and simulates Gaussian
ones. The simulated statistics give a tail scale
(:func:`auterity_lab.stats.calibrated_tail_scale`) rather than a rank p-value, because a rank
p-value bottoms out at 1/2000, which a BH family of 65 tests at 0.5 % can never reach.
Correlations use the smaller of Bartlett's and a circular-shift effective sample size; on 600
simulated null runs their p-values were not smaller than nominal even below 1e-5 (9 of about
1.2 million below 1e-5, 12 expected), so they were left as they are. Measured on simulated null
runs and the demo generator: ``benchmarks/detection_study.py``.

Examples
--------
>>> severity(0.62), severity(0.2), severity(0.01)
('critical', 'medium', 'low')
>>> report = generate_insights(wb, start="2026-07-04", end="2026-11-01")      # doctest: +SKIP
>>> report.insights[["severity", "insight_type", "title"]].head()            # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from scipy import stats as sps

from auterity_lab.arguments import check_count, check_share, numbers
from auterity_lab.errors import QueryParameterError
from auterity_lab.metrics import CATALOG, Metric, metric_series, series_name, transform
from auterity_lab.periods import DateRange
from auterity_lab.state import StateStore
from auterity_lab.stats import (
    PERIODS,
    ChangePoint,
    CorrelationResult,
    bh_qvalues,
    correlations,
    cusum_change_point,
    decompose,
    fill_gaps,
    mann_kendall,
    robust_z,
    theil_sen,
    welch,
)

if TYPE_CHECKING:
    from auterity_lab.warehouse import Workbench

KINDS: tuple[str, ...] = (
    "anomaly",
    "trend",
    "change_point",
    "deployment",
    "correlation",
    "cost_optimization",
    "experiment",
)
"""Insight kinds, in the order they are generated."""

SEVERITIES: tuple[str, ...] = ("critical", "high", "medium", "low")
SEVERITY_THRESHOLDS: tuple[tuple[str, float], ...] = (
    ("critical", 0.5),
    ("high", 0.3),
    ("medium", 0.15),
)
"""Lowest score of each severity above ``low``."""

INSIGHT_COLUMNS = (
    "insight_key",
    "insight_type",
    "severity",
    "score",
    "title",
    "description",
    "affected_systems",
    "metrics",
    "evidence",
    "recommendations",
    "period_start",
    "period_end",
)
"""Columns of :attr:`InsightReport.insights` (stored insights add ``id`` and ``status``)."""

ANOMALY_COLUMNS = (
    "period",
    "series",
    "metric",
    "segment",
    "system",
    "value",
    "expected",
    "n",
    "z",
    "p_value",
    "q_value",
    "is_anomaly",
)
INCIDENT_COLUMNS = ("period", "systems", "series", "z", "p_value", "q_value", "is_incident")
TREND_COLUMNS = (
    "series",
    "metric",
    "segment",
    "system",
    "n",
    "sparse",
    "slope",
    "slope_low",
    "slope_high",
    "start_level",
    "end_level",
    "relative_change",
    "tau",
    "z",
    "p_value",
    "q_value",
    "model",
    "is_trend",
)
CHANGE_POINT_COLUMNS = (
    "series",
    "metric",
    "segment",
    "system",
    "n",
    "sparse",
    "change_at",
    "before",
    "after",
    "relative_change",
    "shift",
    "shift_low",
    "shift_high",
    "statistic",
    "p_value",
    "q_value",
    "bic_step",
    "bic_linear",
    "model",
    "tested_against",
    "is_change_point",
)
DEPLOYMENT_COLUMNS = (
    "deployment",
    "kind",
    "scope",
    "version",
    "previous_version",
    "deployed_at",
    "baseline_days",
    "window_days",
    "control",
    "requests_before",
    "requests_after",
    "response_time_before",
    "response_time_after",
    "response_time_change",
    "response_time_p",
    "error_rate_before",
    "error_rate_after",
    "error_rate_change",
    "error_rate_p",
    "satisfaction_before",
    "satisfaction_after",
    "satisfaction_change",
    "satisfaction_p",
    "throughput_before",
    "throughput_after",
    "system_health_after",
    "violations",
    "preexisting",
    "regressions",
    "improvements",
    "rollback_recommended",
    "status",
)


@dataclass(frozen=True)
class DeploymentThresholds:
    """Thresholds and windows of the deployment check (defaults: the spec's §10.3).

    A deploy is compared over ``window_days`` after it against ``baseline_days`` before it.
    *Violations* are the spec's absolute checks on the window: mean response time above
    ``response_time_ms``, error rate above ``error_rate_pct`` percent (both judged only on at
    least ``min_requests`` calls), user satisfaction (share of ratings of 4 or 5, judged only on
    at least ``min_rated`` ratings) below ``user_satisfaction``; a violation the baseline already
    had is listed as *preexisting*. *Regressions* are metrics significantly worse than the
    baseline: a Welch test on daily values, made relative to the other models' calls of the
    same days when the deploy concerns one model (a difference in differences: shared slow days
    and weekends cancel), its standard error widened for serial correlation, one-sided in the
    harmful direction, BH over every check at ``0.75 alpha``; *improvements* the same the other
    way at ``0.25 alpha`` (so that the check's false alarms stay within ``alpha``).

    Rollback is recommended, as the spec's ``shouldRollback``, for a response-time or error-rate
    violation, unless the baseline already had it (then the deploy did not cause it), and also
    for a significant response-time or error-rate regression of at least ``max_regression``
    (relative) even below the absolute threshold.
    """

    response_time_ms: float = 2000.0
    error_rate_pct: float = 5.0
    user_satisfaction: float = 0.8
    baseline_days: int = 14
    window_days: int = 14
    max_regression: float = 0.25
    min_requests: int = 50
    min_rated: int = 30


@dataclass(frozen=True)
class SeriesScan:
    """Per-series tests behind anomaly, trend and change-point insights.

    Attributes
    ----------
    anomalies
        One row per series and period: :data:`ANOMALY_COLUMNS` (``expected`` is the STL fit on
        the metric's own scale; ``z`` NaN where the period has no value or too few observations,
        and for sparse series).
    incidents
        One row per period: :data:`INCIDENT_COLUMNS`, the cross-system test of the tenant-level
        error and failure rates (one-sided Stouffer combination of their z-scores).
    trends
        One row per series tested: :data:`TREND_COLUMNS` (``slope`` per period on the analysis
        scale; ``model`` is the better of ``trend``/``step`` by BIC; ``sparse`` marks series
        tested on their observed periods only).
    change_points
        One row per series tested: :data:`CHANGE_POINT_COLUMNS` (``shift`` on the analysis
        scale with its interval; ``tested_against`` says when a segment's test was relative to
        the other segments of its metric, see :func:`scan_series`).
    skipped
        Series not tested and why: ``series``, ``reason``.
    """

    anomalies: pd.DataFrame
    incidents: pd.DataFrame
    trends: pd.DataFrame
    change_points: pd.DataFrame
    skipped: pd.DataFrame


@dataclass(frozen=True)
class InsightReport:
    """What :func:`generate_insights` found, and the tests behind it.

    Attributes
    ----------
    insights
        One row per insight, most severe first: :data:`INSIGHT_COLUMNS`, plus ``id`` and
        ``status`` when stored.
    scan
        The anomaly, incident, trend and change-point tests (:class:`SeriesScan`).
    deployments
        One row per deployment checked (:func:`deployment_checks`).
    correlations
        The correlation result, or None when that kind was not run.
    series
        The metric series analysed (:func:`auterity_lab.metrics.metric_series`).
    params
        Options, range, tenant, data and package version.
    """

    insights: pd.DataFrame
    scan: SeriesScan
    deployments: pd.DataFrame
    correlations: CorrelationResult | None
    series: pd.DataFrame
    params: dict[str, Any] = field(default_factory=dict)


def severity(score: float) -> str:
    """The severity of a score in [0, 1] (see the module notes)."""
    for name, lowest in SEVERITY_THRESHOLDS:
        if score >= lowest:
            return name
    return "low"


# =================================================================== series scanning
MIN_SUPPORT_TESTS = {"quantile": 20}
"""Fewest observations behind a period's value for trend and change-point tests, by metric kind:
a sample 95th percentile of fewer values is biased low, so a growing volume would look like a
rising latency."""

MIN_SUPPORT_ANOMALY = {"mean": 10, "quantile": 20, "sum": 10}
"""Fewest observations behind a period's value for an anomaly score, by metric kind (rates and
counts are scored against their binomial and Poisson distributions instead)."""


ALPHA_SHARES: dict[str, float] = {
    "anomaly": 0.2,
    "trend_change": 0.2,
    "correlation": 0.25,
    "deployment": 0.2,
    "experiment": 0.075,
    "cost_optimization": 0.075,
}
"""Each family's share of a run's ``alpha`` (see "Multiple testing" in the module notes).
``anomaly`` covers anomalies and incidents, ``trend_change`` trends and change points."""

_FAMILY_OF_KIND = {
    "anomaly": "anomaly",
    "trend": "trend_change",
    "change_point": "trend_change",
    "deployment": "deployment",
    "correlation": "correlation",
    "cost_optimization": "cost_optimization",
    "experiment": "experiment",
}


def family_levels(alpha: float, kinds: Iterable[str] = KINDS) -> dict[str, float]:
    """The level of each family of tests run for ``kinds``: ``alpha`` split by
    :data:`ALPHA_SHARES` over the families that run (so the levels always add up to ``alpha``).

    Examples
    --------
    >>> {k: round(v, 5) for k, v in family_levels(0.05).items()}  # doctest: +NORMALIZE_WHITESPACE
    {'anomaly': 0.01, 'trend_change': 0.01, 'correlation': 0.0125, 'deployment': 0.01,
     'experiment': 0.00375, 'cost_optimization': 0.00375}
    >>> {k: round(v, 4) for k, v in family_levels(0.05, ["correlation", "trend"]).items()}
    {'trend_change': 0.0222, 'correlation': 0.0278}
    """
    chosen = [kinds] if isinstance(kinds, str) else list(kinds)
    unknown = [repr(k) for k in chosen if not isinstance(k, str) or k not in _FAMILY_OF_KIND]
    if unknown or not chosen:
        given = ", ".join(unknown) or "(none given)"
        raise QueryParameterError(f"unknown insight kind {given}; known: {', '.join(KINDS)}")
    check_share("alpha", alpha, low=0, high=1)
    families = list(dict.fromkeys(_FAMILY_OF_KIND[k] for k in chosen))
    total = sum(ALPHA_SHARES[f] for f in families)
    return {f: alpha * ALPHA_SHARES[f] / total for f in ALPHA_SHARES if f in families}


def scan_levels(alpha: float, *, trend_share: float = 0.5) -> dict[str, float]:
    """The levels of the five test families of :func:`scan_series` for a scan at ``alpha``.

    ``trend_share`` of ``alpha`` goes to trend and change-point tests, half to tenant series and
    half to segment series; the rest to anomalies: 40 % to tenant series, 40 % to segment
    series, 20 % to cross-system incidents.

    Examples
    --------
    >>> {k: round(v, 4) for k, v in scan_levels(0.05).items()}  # doctest: +NORMALIZE_WHITESPACE
    {'anomaly': 0.01, 'anomaly_segment': 0.01, 'incident': 0.005, 'shift': 0.0125,
     'shift_segment': 0.0125}
    """
    anomaly, shift = alpha * (1 - trend_share), alpha * trend_share
    return {
        "anomaly": 0.4 * anomaly,
        "anomaly_segment": 0.4 * anomaly,
        "incident": 0.2 * anomaly,
        "shift": shift / 2,
        "shift_segment": shift / 2,
    }


def scan_series(
    series: pd.DataFrame,
    /,
    *,
    period: int = 7,
    alpha: float = 0.05,
    min_segment: int = 7,
    catalog: Mapping[str, Metric] | None = None,
    trend_share: float = 0.5,
) -> SeriesScan:
    """Anomaly, incident, trend and change-point tests of every series in a tidy frame.

    Every series is put on its analysis scale (``auterity_lab.metrics.Metric.scale``); periods
    backed by too few observations are left out (:data:`MIN_SUPPORT_TESTS`). A series with at
    least ``2 * period + 1`` values and at most a quarter of its periods missing is decomposed
    by weekly medians (:func:`auterity_lab.stats.decompose`, ``median``) and its local level is
    the median of the neighbouring periods
    (:func:`running_level`): anomaly z-scores come from the residuals (rates: binomial mid-p of the
    observed count at the STL-fitted rate, turned into a z; counts: the same with Poisson; both
    then robustly rescaled with a scale of at least 1), and trend and change-point tests run on
    the deseasonalised values with significant anomalies replaced by the STL trend. A sparser
    series gets no anomaly scores, and its trend and change-point tests run on its observed
    values in time order. A segment of a log-scale metric (a model's latency, a step's duration,
    a model's cost) is also tested for a change point relative to what the other segments of
    its metric share (:func:`_reference`: a slow day for every model, growth), which then
    cancels; the view with the smaller p-value is kept and its p-value doubled (Bonferroni over
    the two). The levels and shift reported are the segment's own.

    Parameters
    ----------
    series
        Columns ``period``, ``metric``, ``segment``, ``value``, ``n`` (and ``system``) as
        :func:`auterity_lab.metrics.metric_series` returns; one regular grid of periods per
        series. Metrics missing from ``catalog`` are analysed on a linear scale as means.
    period
        Seasonal period in rows (7 for days).
    alpha
        Level of the whole scan, split over its five families (:func:`scan_levels`): anomalies
        of tenant series, anomalies of segment series, incidents, trend and change-point tests
        of tenant series, and of segment series. A test is significant when its BH q-value
        within its family is below the family's level, so that on data without effects the
        chance of any discovery is at most ``alpha``.
    min_segment
        Fewest periods on each side of a change point.
    catalog
        Metric definitions (default: :data:`auterity_lab.metrics.CATALOG`).
    trend_share
        The share of ``alpha`` that goes to trend and change-point tests (the rest to anomalies
        and incidents).

    Returns
    -------
    SeriesScan

    Examples
    --------
    >>> days = pd.date_range("2026-01-01", periods=56, freq="D", tz="UTC")
    >>> noise = np.random.default_rng(1).normal(0, 5, 56)
    >>> v = np.r_[np.full(28, 100.0), np.full(28, 150.0)] + noise
    >>> v[10] = 400.0
    >>> s = pd.DataFrame({"period": days, "system": "neuroweaver", "metric": "ai_mean_latency",
    ...                   "segment": "", "value": v, "n": 50.0})
    >>> found = scan_series(s)
    >>> found.anomalies.loc[found.anomalies["is_anomaly"], "period"].dt.day.tolist()
    [11]
    >>> cp = found.change_points.iloc[0]
    >>> bool(cp["is_change_point"]), cp["change_at"].day, round(float(cp["relative_change"]), 1)
    (True, 29, 0.5)
    """
    if not isinstance(series, pd.DataFrame):
        raise QueryParameterError(f"series must be a DataFrame, not {type(series).__name__}")
    period = check_count("period", period, minimum=2)
    min_segment = check_count("min_segment", min_segment)
    check_share("alpha", alpha, low=0, high=1)
    check_share("trend_share", trend_share, low=0, high=1, closed=True)
    cat = CATALOG if catalog is None else catalog
    prepared, skipped = [], []
    for (metric_name, segment), rows in series.groupby(["metric", "segment"], sort=False):
        rows = rows.sort_values("period")
        meta = cat.get(str(metric_name))
        name = series_name([metric_name], [segment])[0]
        prep, reason = _prepare_series(rows, meta, period=period, min_segment=min_segment)
        if prep is None:
            skipped.append({"series": name, "reason": reason})
        else:
            prepared.append(
                prep | {"series": name, "metric": str(metric_name), "segment": str(segment)}
            )
    levels = scan_levels(alpha, trend_share=trend_share)
    anomalies = _anomaly_frame(prepared, levels)
    incidents = _incident_frame(anomalies, levels["incident"])
    hits = anomalies.loc[anomalies["is_anomaly"].astype(bool)]
    flagged = hits.groupby("series")["period"].apply(set).to_dict() if len(hits) else {}
    trends, cps = _shift_frames(prepared, flagged, levels, min_segment)
    return SeriesScan(
        anomalies, incidents, trends, cps, pd.DataFrame(skipped, columns=["series", "reason"])
    )


def scan(
    wb: Workbench,
    /,
    *,
    start: Any,
    end: Any,
    grain: Literal["day", "hour"] = "day",
    segments: bool = True,
    alpha: float = 0.05,
) -> SeriesScan:
    """:func:`scan_series` over the tenant's metric series of ``[start, end)``.

    Examples
    --------
    >>> found = scan(wb, start="2026-07-04", end="2026-11-01")                 # doctest: +SKIP
    >>> found.anomalies[found.anomalies["is_anomaly"]]                        # doctest: +SKIP
    """
    rng = DateRange.of(start, end)
    if grain not in PERIODS:
        raise QueryParameterError(f"grain must be one of {', '.join(PERIODS)}, not {grain!r}")
    series = metric_series(wb, **rng.params(), grain=grain, segments=segments)
    return scan_series(series, period=PERIODS[grain], alpha=alpha)


def _prepare_series(
    rows: pd.DataFrame, meta: Metric | None, *, period: int, min_segment: int
) -> tuple[dict[str, Any] | None, str | None]:
    value = rows["value"].to_numpy(dtype=float)
    n = rows["n"].to_numpy(dtype=float)
    scale = meta.scale if meta else "linear"
    kind = meta.kind if meta else "mean"
    usable = np.isfinite(value) & (n >= MIN_SUPPORT_TESTS.get(kind, 0))
    x = transform(np.where(usable, value, np.nan), scale)
    observed = np.isfinite(x)
    if observed.sum() < 2 * min_segment:
        return None, (
            f"{int(observed.sum())} periods with a usable value (needs {2 * min_segment})"
        )
    if np.ptp(x[observed]) <= 0:
        return None, "constant"
    base = {
        "rows": rows,
        "meta": meta,
        "scale": scale,
        "value": value,
        "n": n,
        "observed": observed,
        "system": meta.system
        if meta
        else (str(rows["system"].iloc[0]) if "system" in rows else ""),
    }
    if (~observed).mean() > 0.25 or observed.sum() < 2 * period + 1:
        nan = np.full(len(value), np.nan)
        return base | {
            "sparse": True,
            "z": nan,
            "p": nan,
            "expected": nan,
            "y": x[observed],
            "y_periods": rows["period"].to_numpy()[observed],
            "trend": None,
        }, None
    filled, _ = fill_gaps(x)
    dec = decompose(filled, period=period, method="median")  # see decompose: calibrated scores
    y = filled - dec.seasonal
    split = _pre_split(y, min_segment)
    level = running_level(y, window=period, split=split)
    expected = _inverse(dec.seasonal + level, scale)
    if meta is not None and meta.kind == "mean" and meta.unit == "share":
        kind = "rate"  # a mean of per-observation shares: as many successes as it adds up to
    if kind in ("rate", "count"):
        z, expected = _discrete_z(value, n, np.exp(dec.seasonal), kind, half=period, split=split)
    else:
        enough = n >= MIN_SUPPORT_ANOMALY.get(kind, 0)
        z = robust_z(np.where(observed & enough, y - level, np.nan), asymmetric=True)
    z = np.where(observed, z, np.nan)
    # exact tests give normal scores already (widened for over-dispersion); residuals of means
    # and percentiles get a Student-t matched to their own tails
    if kind in ("rate", "count"):
        p = 2 * sps.norm.sf(np.abs(z))
    else:
        support = float(np.median(n[observed])) if observed.any() else 0.0
        p = tail_pvalues(z, max_df=_MIN_DF if support < FEW_OBSERVATIONS else 200.0)
    return base | {
        "sparse": False,
        "z": z,
        "p": p,
        "expected": expected,
        "y": y,
        "y_periods": rows["period"].to_numpy(),
        "trend": level,
    }, None


def running_level(y: Any, *, window: int = 7, split: int | None = None) -> np.ndarray:
    """The local level of each period: the median of its ``window - 1`` neighbours (half before,
    half after; the period itself left out), not reaching across ``split``.

    Anomalies are measured from it: leaving the period out keeps a spike from pulling its own
    expectation, a median ignores neighbouring spikes, and stopping at a level shift keeps the
    shift from smearing into the residuals around it (which a smooth trend, STL's included,
    cannot avoid).

    Examples
    --------
    >>> running_level([1.0, 1.0, 9.0, 1.0, 5.0, 5.0, 5.0], window=3, split=4).tolist()
    [1.0, 5.0, 1.0, 9.0, 5.0, 5.0, 5.0]
    """
    y = numbers(y, "y")
    window = check_count("window", window)
    if split is not None:
        split = check_count("split", split, minimum=0, maximum=len(y))
    half = max(1, min(window // 2, len(y)))  # neighbours beyond the series add nothing
    parts = [y] if split is None else [y[:split], y[split:]]
    out = []
    for part in parts:
        n = len(part)
        shifted = np.full((2 * half, n), np.nan)
        for row, k in enumerate([*range(-half, 0), *range(1, half + 1)]):
            lo, hi = max(0, -k), min(n, n - k)
            shifted[row, lo:hi] = part[lo + k : hi + k]
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows keep their value
            level = np.nanmedian(shifted, axis=0) if n > 1 else part.copy()
        out.append(np.where(np.isfinite(level), level, part))
    return np.concatenate(out)


def _pre_split(y: np.ndarray, min_segment: int) -> int | None:
    """Where the local level should not be smoothed across: a clear level shift (after clipping
    outliers at 5 MADs, a two-mean step beats both a line and a constant by 10 BIC units, very
    strong evidence), or None. This only shapes the expectation anomalies are measured from; the
    change-point test itself is :func:`auterity_lab.stats.cusum_change_point`'s."""
    med = float(np.median(y))
    mad = 1.4826 * float(np.median(np.abs(y - med))) or float(np.std(y)) or 1.0
    clipped = np.clip(y, med - 5 * mad, med + 5 * mad)
    cp = cusum_change_point(clipped, min_segment=min_segment, calibrate=False)  # BIC only
    if cp is None or cp.bic_step + 10 > min(cp.bic_linear, cp.bic_constant):
        return None
    return cp.index


def _discrete_z(
    value: np.ndarray,
    n: np.ndarray,
    season: np.ndarray,
    kind: str,
    *,
    half: int,
    split: int | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Normal scores of exact conditional tests of each period against its neighbours, and the
    expected values they imply.

    The neighbours are the ``half`` periods on each side (not the period itself, not across
    ``split``). ``rate``: ``value`` is a share of ``n`` trials; the period's ``k`` successes
    against the neighbours' pooled ones is a 2×2 table, tested with the hypergeometric
    distribution (Fisher's test). ``count``: under an unchanged rate, given the period's and
    its neighbours' total, the period's count is binomial with the period's share of the
    seasonal exposure (``season``, a multiplicative weekly factor). Both use the mid-p value
    ``P(X > k) + P(X = k) / 2`` (and its mirror) turned into a normal score; the rate is never
    estimated from a median (which is 0 for a mostly-zero series), and its sampling error is part
    of the test. The scores are then widened, never narrowed, by their robust spread measured
    from 0 (over-dispersion: days vary more than binomial or Poisson noise).
    """
    ok = np.isfinite(value) & (n > 0 if kind == "rate" else np.isfinite(value))
    k = np.where(ok, np.round(value * (n if kind == "rate" else 1.0)), 0.0)
    k = np.where(np.isfinite(k), k, 0.0)
    if kind == "rate":
        trials = np.where(ok, n, 0.0)
        k_nb = _neighbour_sum(k, ok, half, split)
        n_nb = _neighbour_sum(trials, ok, half, split)
        dist = sps.hypergeom(
            (trials + n_nb).astype(np.int64), (k + k_nb).astype(np.int64), trials.astype(np.int64)
        )
        expected = np.where(n_nb > 0, k_nb / np.maximum(n_nb, 1e-300), np.nan)
        ok &= n_nb > 0
    else:
        exposure = np.where(ok, season, 0.0)
        k_nb = _neighbour_sum(k, ok, half, split)
        e_nb = _neighbour_sum(exposure, ok, half, split)
        share = np.where(e_nb > 0, exposure / np.maximum(exposure + e_nb, 1e-300), 0.5)
        dist = sps.binom((k + k_nb).astype(np.int64), share)
        expected = np.where(e_nb > 0, k_nb * exposure / np.maximum(e_nb, 1e-300), np.nan)
        ok &= e_nb > 0
    with np.errstate(all="ignore"):
        mass = dist.pmf(k)
        above = dist.sf(k) + 0.5 * mass
        below = dist.cdf(k - 1) + 0.5 * mass
        z = np.where(
            below < above,
            sps.norm.ppf(np.clip(below, 1e-300, 1.0)),
            sps.norm.isf(np.clip(above, 1e-300, 1.0)),
        )
    z = robust_z(np.where(ok & np.isfinite(z), z, np.nan), floor=1.0, centre=False)
    return z, np.where(ok, expected, np.nan)


def _neighbour_sum(values: np.ndarray, ok: np.ndarray, half: int, split: int | None) -> np.ndarray:
    """For each period, the sum of ``values`` over the ``half`` periods on each side where ``ok``,
    the period itself left out and without reaching across ``split``."""
    v = np.where(ok, values, 0.0)
    segment = np.zeros(len(v), dtype=int) if split is None else (np.arange(len(v)) >= split)
    out = np.zeros(len(v))
    for k in (*range(-half, 0), *range(1, half + 1)):
        lo, hi = max(0, -k), min(len(v), len(v) - k)
        same = segment[lo:hi] == segment[lo + k : hi + k]
        out[lo:hi] += np.where(same, v[lo + k : hi + k], 0.0)
    return out


_MIN_DF = 3.0

FEW_OBSERVATIONS = 30
"""Below this median number of observations per period, a mean's or percentile's anomaly
p-values use the heaviest tail :func:`tail_pvalues` allows (ν = 3): one call five times slower
moves a mean of ten calls by 40 %, so such daily values have tails as heavy as their heaviest
observations, which the bulk of the series cannot show."""


def tail_pvalues(z: Any, *, body: float = 0.8, max_df: float = 200.0) -> np.ndarray:
    """Two-sided p-values of robust z-scores under a Student-t matched to their own spread.

    Daily means and percentiles of a few heavy-tailed observations have heavier tails than a
    normal distribution, so ``2 Φ(-|z|)`` would make every noisy day an anomaly. The degrees of
    freedom ν are chosen so that a Student-t with the same median absolute deviation as the
    z-scores (scale ``0.6745 / t_ν^{-1}(0.75)``) has the same ``body`` quantile of ``|z|`` (80 %
    by default): the bulk of the series sets how heavy its tails are, so the anomalies themselves
    do not hide each other. ν is kept in [3, 200]: daily aggregates have a finite variance, and
    200 is practically normal; ``max_df`` lowers the upper bound. Needs 10 finite values, else
    NaN.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> z = rng.standard_normal(500)
    >>> p = tail_pvalues(np.r_[z, 8.0])
    >>> bool(p[-1] < 1e-6), bool(abs((p[:-1] < 0.05).mean() - 0.05) < 0.03)
    (True, True)
    >>> heavy = tail_pvalues(rng.standard_t(4, 2000))   # t(4) noise: still about 5 % below 0.05
    >>> bool(abs((heavy < 0.05).mean() - 0.05) < 0.02)
    True
    """
    from scipy.optimize import brentq

    z = numbers(z, "z")
    check_share("body", body, low=0, high=1)
    check_share("max_df", max_df, low=0, high=math.inf, closed=True)
    ok = np.isfinite(z)
    out = np.full(len(z), np.nan)
    if ok.sum() < 10:
        return out

    def scale(nu: float) -> float:
        return 0.6745 / float(sps.t.ppf(0.75, nu))

    def spread(nu: float) -> float:  # body quantile of |z| for a MAD-matched t_nu
        return float(sps.t.ppf(0.5 + body / 2, nu)) * scale(nu)

    target = float(np.quantile(np.abs(z[ok] - np.median(z[ok])), body))
    top = min(max(max_df, _MIN_DF), 200.0)
    if target <= spread(top):
        nu = top
    elif target >= spread(_MIN_DF):
        nu = _MIN_DF
    else:
        nu = brentq(lambda v: spread(v) - target, _MIN_DF, top)
    out[ok] = 2 * sps.t.sf(np.abs(z[ok]) / scale(nu), nu)
    return out


def _inverse(x: np.ndarray, scale: str) -> np.ndarray:
    if scale == "log":
        return np.exp(x)
    if scale == "log1p":
        return np.expm1(x)
    return x


def _anomaly_frame(prepared: list[dict[str, Any]], levels: Mapping[str, float]) -> pd.DataFrame:
    parts = []
    for s in prepared:
        rows = s["rows"]
        parts.append(
            pd.DataFrame(
                {
                    "period": rows["period"].to_numpy(),
                    "series": s["series"],
                    "metric": s["metric"],
                    "segment": s["segment"],
                    "system": s["system"],
                    "value": s["value"],
                    "expected": s["expected"],
                    "n": s["n"],
                    "z": s["z"],
                    "p_value": s["p"],
                }
            )
        )
    if not parts:
        return _empty(ANOMALY_COLUMNS)
    frame = pd.concat(parts, ignore_index=True)
    frame["q_value"] = _qvalues_by_level(frame)
    segment = (frame["segment"] != "").to_numpy()
    level = np.where(segment, levels["anomaly_segment"], levels["anomaly"])
    frame["is_anomaly"] = frame["q_value"] < level
    return frame[list(ANOMALY_COLUMNS)]


def _incident_frame(anomalies: pd.DataFrame, alpha: float) -> pd.DataFrame:
    """Per period: do the tenant-level error rates of several systems rise together?

    The one-sided Stouffer combination ``Σ z_i / √k`` of the z-scores of the tenant-level rate
    metrics whose rise is bad (API, AI and workflow error/failure rates), for periods where at
    least two systems have a score; BH over periods.
    """
    rates = [m.name for m in CATALOG.values() if m.kind == "rate" and m.up_is_good is False]
    a = anomalies[
        (anomalies["segment"] == "") & anomalies["metric"].isin(rates) & anomalies["z"].notna()
    ]
    rows = []
    for period, grp in a.groupby("period", sort=True):
        if grp["system"].nunique() < 2:
            continue
        scores = np.sign(grp["z"]) * sps.norm.isf(np.clip(grp["p_value"], 1e-300, 1) / 2)
        z = float(scores.sum() / math.sqrt(len(grp)))  # normal scores of the calibrated p-values
        rows.append(
            {
                "period": period,
                "systems": sorted(set(grp["system"])),
                "series": list(grp["series"]),
                "z": z,
                "p_value": float(sps.norm.sf(z)),
            }
        )
    if not rows:
        return _empty(INCIDENT_COLUMNS)
    frame = pd.DataFrame(rows)
    frame["q_value"] = bh_qvalues(frame["p_value"].to_numpy())
    frame["is_incident"] = frame["q_value"] < alpha
    return frame[list(INCIDENT_COLUMNS)]


def _empty(columns: Iterable[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series([], dtype=object) for c in columns})


def _empty_scan() -> SeriesScan:
    """The scan of a run that tests no series (no anomaly, trend or change-point kind)."""
    return SeriesScan(
        _empty(ANOMALY_COLUMNS),
        _empty(INCIDENT_COLUMNS),
        _empty(TREND_COLUMNS),
        _empty(CHANGE_POINT_COLUMNS),
        pd.DataFrame(columns=["series", "reason"]),
    )


def _qvalues_by_level(frame: pd.DataFrame, p_col: str = "p_value") -> np.ndarray:
    """BH q-values computed separately for tenant-level series and for segment series."""
    q = np.full(len(frame), np.nan)
    level = (frame["segment"] != "").to_numpy()
    for mask in (~level, level):
        if mask.any():
            q[mask] = bh_qvalues(frame[p_col].to_numpy(dtype=float)[mask])
    return q


def _shift_frames(
    prepared: list[dict[str, Any]],
    flagged: dict[str, set[Any]],
    levels: Mapping[str, float],
    min_segment: int,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    trend_rows, cp_rows = [], []
    cleaned = {s["series"]: _cleaned(s, flagged) for s in prepared}
    for s in prepared:
        periods, y = s["y_periods"], cleaned[s["series"]]
        base = {
            "series": s["series"],
            "metric": s["metric"],
            "segment": s["segment"],
            "system": s["system"],
            "n": int(s["observed"].sum()),
            "sparse": s["sparse"],
        }
        mk, ts = mann_kendall(y), theil_sen(y)
        cp = cusum_change_point(y, min_segment=min_segment, noise_floor=_sampling_sd(s))
        model = "step" if cp is not None and cp.bic_step < cp.bic_linear else "trend"
        at, cp_model, against = (None if cp is None else cp.index), model, None
        reference = _reference(s, prepared, cleaned)
        if reference is not None and cp is not None:
            # a segment's shift is also tested against its metric's whole; the better view is
            # kept and its p-value doubled (Bonferroni over the two views)
            rel, rel_at = _relative_change_point(
                y, periods, reference[0], reference[1], min_segment
            )
            if rel is not None and rel.p_value < cp.p_value:
                cp, at, against = rel, rel_at, reference[2]
                cp_model = "step" if rel.bic_step < rel.bic_linear else "trend"
            cp = dataclasses.replace(cp, p_value=min(1.0, 2 * cp.p_value))
        span = len(y) - 1
        floor = 0.0 if s["scale"] == "log1p" else -math.inf  # counts and money are not negative
        start_level = max(floor, float(_inverse(np.array([ts.intercept]), s["scale"])[0]))
        end_level = max(
            floor, float(_inverse(np.array([ts.intercept + ts.slope * span]), s["scale"])[0])
        )
        trend_rows.append(
            base
            | {
                "slope": ts.slope,
                "slope_low": ts.low,
                "slope_high": ts.high,
                "start_level": start_level,
                "end_level": end_level,
                "relative_change": _relative_for(
                    s["metric"], s["scale"], ts.slope * span, start_level
                ),
                "tau": mk.tau,
                "z": mk.z,
                "p_value": mk.p_value,
                "model": model,
            }
        )
        if cp is None or at is None:
            continue
        low, high = _shift_interval(y, at)
        mean_before, mean_after = float(y[:at].mean()), float(y[at:].mean())
        before = float(_inverse(np.array([mean_before]), s["scale"])[0])
        cp_rows.append(
            base
            | {
                "change_at": periods[at],
                "before": before,
                "after": float(_inverse(np.array([mean_after]), s["scale"])[0]),
                "relative_change": _relative_for(
                    s["metric"], s["scale"], mean_after - mean_before, before
                ),
                "shift": mean_after - mean_before,
                "shift_low": low,
                "shift_high": high,
                "statistic": cp.statistic,
                "p_value": cp.p_value,
                "bic_step": cp.bic_step,
                "bic_linear": cp.bic_linear,
                "model": cp_model,
                "tested_against": against,
            }
        )
    trends = pd.DataFrame(
        trend_rows, columns=[c for c in TREND_COLUMNS if c not in ("q_value", "is_trend")]
    )
    cps = pd.DataFrame(
        cp_rows,
        columns=[c for c in CHANGE_POINT_COLUMNS if c not in ("q_value", "is_change_point")],
    )
    # one BH family per level over both tests of every series
    family = pd.concat(
        [trends[["segment", "p_value"]], cps[["segment", "p_value"]]], ignore_index=True
    )
    q = _qvalues_by_level(family) if len(family) else np.array([])
    trends["q_value"] = q[: len(trends)]
    cps["q_value"] = q[len(trends) :]

    def level(frame: pd.DataFrame) -> np.ndarray:
        segment = (frame["segment"] != "").to_numpy()
        return np.where(segment, levels["shift_segment"], levels["shift"])

    trends["is_trend"] = (trends["q_value"] < level(trends)) & (trends["model"] == "trend")
    cps["is_change_point"] = (cps["q_value"] < level(cps)) & (cps["model"] == "step")
    return trends[list(TREND_COLUMNS)], cps[list(CHANGE_POINT_COLUMNS)]


def _sampling_sd(s: dict[str, Any]) -> float:
    """The typical sampling noise of one period of a rate or count series on its analysis scale
    (binomial at the pooled rate over each period's trials; Poisson at the mean count on the
    ``log1p`` scale); 0 for other kinds."""
    meta = s["meta"]
    kind = meta.kind if meta else "mean"
    if meta is not None and meta.kind == "mean" and meta.unit == "share":
        kind = "rate"
    ok = s["observed"] & np.isfinite(s["value"])
    if kind == "rate":
        n = s["n"][ok & (s["n"] > 0)]
        if not len(n):
            return 0.0
        pooled = float((s["value"][ok & (s["n"] > 0)] * n).sum() / n.sum())
        return math.sqrt(pooled * (1 - pooled) * float(np.mean(1 / n)))
    if kind == "count" and ok.any():
        lam = float(np.mean(s["value"][ok]))
        return math.sqrt(lam) / (1 + lam) if s["scale"] == "log1p" else math.sqrt(lam)
    return 0.0


def _cleaned(s: dict[str, Any], flagged: dict[str, set[Any]]) -> np.ndarray:
    """The deseasonalised values with significant anomalies replaced by the local level."""
    if s["trend"] is None:
        return s["y"]
    bad = np.isin(s["y_periods"], list(flagged.get(s["series"], ())))
    return np.where(bad, s["trend"], s["y"])


def _reference(
    s: dict[str, Any], prepared: list[dict[str, Any]], cleaned: dict[str, np.ndarray]
) -> tuple[np.ndarray, np.ndarray, str] | None:
    """What the other segments of the same metric share, per period, or None.

    For a log-scale metric (latency, duration, cost: ratios are meaningful) with at least two
    other segments: each other segment's deseasonalised values minus its own median, then the
    median across them per period. A day when every model is slow moves it; which models were
    called that day does not (the tenant-level series would mix both).
    """
    if not s["segment"] or s["scale"] != "log":
        return None
    others = [t for t in prepared if t["metric"] == s["metric"] and t["segment"]
              and t["segment"] != s["segment"]]  # fmt: skip
    if len(others) < 2:
        return None
    columns = {
        t["series"]: pd.Series(
            cleaned[t["series"]] - np.median(cleaned[t["series"]]), index=pd.Index(t["y_periods"])
        )  # fmt: skip
        for t in others
    }
    frame = pd.DataFrame(columns)
    shared = frame.median(axis=1, skipna=True).where(frame.notna().sum(axis=1) >= 2)
    return shared.index.to_numpy(), shared.to_numpy(dtype=float), f"other segments of {s['metric']}"


def _relative_change_point(
    y: np.ndarray,
    periods: np.ndarray,
    ref_periods: np.ndarray,
    ref: np.ndarray,
    min_segment: int,
) -> tuple[ChangePoint | None, int | None]:
    """CUSUM of a segment relative to what the other segments share (:func:`_reference`).

    What every segment goes through (a day when every model is slow, growth, load) cancels, so
    it neither hides nor fakes a shift of this segment. Returns the test and the index into
    ``periods`` of the first period after the shift.
    """
    lookup = pd.Series(ref, index=pd.Index(ref_periods))
    aligned = lookup.reindex(pd.Index(periods)).to_numpy(dtype=float)
    ok = np.isfinite(aligned) & np.isfinite(y)
    cp = cusum_change_point((y - aligned)[ok], min_segment=min_segment)
    if cp is None:
        return None, None
    return cp, int(np.flatnonzero(ok)[cp.index])


def _relative(scale: str, delta: float, level: float) -> float:
    """Relative change of a move of ``delta`` on the analysis scale from ``level``."""
    if scale == "log":
        return float(math.expm1(delta)) if math.isfinite(delta) else math.nan
    if scale == "log1p":  # (1 + level) e^delta - 1 over level
        return float((1 + level) * math.expm1(delta) / level) if level > 0 else math.nan
    return float(delta / abs(level)) if level and math.isfinite(level) else math.nan


def _relative_for(metric_name: str, scale: str, delta: float, level: float) -> float:
    """:func:`_relative`, except that a share's move is taken over ``max(level, 1 %)``."""
    meta = CATALOG.get(metric_name)
    if meta is not None and meta.unit == "share" and math.isfinite(level):
        return float(delta / max(abs(level), 0.01))
    return _relative(scale, delta, level)


def _shift_interval(y: np.ndarray, index: int, level: float = 0.95) -> tuple[float, float]:
    """Welch interval of the shift, widened for lag-1 autocorrelation of the step residuals."""
    w = welch(y[:index], y[index:], level=level)
    resid = np.r_[y[:index] - y[:index].mean(), y[index:] - y[index:].mean()]
    rho = float(np.corrcoef(resid[:-1], resid[1:])[0, 1]) if len(resid) > 3 else 0.0
    rho = min(max(rho if math.isfinite(rho) else 0.0, 0.0), 0.9)
    half = (w.high - w.low) / 2 * math.sqrt((1 + rho) / (1 - rho))
    return w.difference - half, w.difference + half


# ================================================================= deployment check
def deployment_checks(
    wb: Workbench,
    /,
    *,
    start: Any,
    end: Any,
    thresholds: DeploymentThresholds | None = None,
    markers: pd.DataFrame | Iterable[Mapping[str, Any]] | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """The spec's deployment check for every deployment in ``[start, end)``.

    Parameters
    ----------
    markers
        Deployments to check: rows with ``deployed_at`` and optionally ``kind`` (default
        ``manual``), ``scope`` (a model_id, or "" for all AI calls), ``version``,
        ``previous_version``. None finds them in the data (``queries/insights_deployments.sql``:
        new model versions and new prompt versions).
    thresholds
        :class:`DeploymentThresholds` (default: the spec's).

    Returns
    -------
    DataFrame
        One row per deployment: :data:`DEPLOYMENT_COLUMNS`. ``*_before``/``*_after`` are the
        baseline and window values (response time: mean ms; error rate: percent; satisfaction:
        share of ratings >= 4; throughput: calls per day; system health: 100 − error rate);
        ``*_change`` the relative change (for the error rate: in percentage points) and ``*_p``
        the Welch test of the daily values; ``violations``, ``preexisting``, ``regressions`` and
        ``improvements`` are lists of ``response_time``, ``error_rate``, ``user_satisfaction``;
        ``status`` is ``rollback``, ``alert``, ``improved``, ``ok`` or ``insufficient data``.

    Examples
    --------
    >>> checks = deployment_checks(wb, start="2026-07-04", end="2026-11-01")  # doctest: +SKIP
    >>> checks[["deployment", "violations", "rollback_recommended"]]            # doctest: +SKIP
    """
    th = thresholds or DeploymentThresholds()
    rng = DateRange.of(start, end)
    found = (
        wb.query("insights_deployments", **rng.params(), min_history_days=th.baseline_days)
        if markers is None
        else _markers(markers)
    )
    rows = []
    for m in found.to_dict("records"):
        rows.append(_check_one(wb, m, rng, th))
    frame = pd.DataFrame(
        rows,
        columns=[
            c
            for c in DEPLOYMENT_COLUMNS
            if c
            not in (
                "violations",
                "preexisting",
                "regressions",
                "improvements",
                "rollback_recommended",
                "status",
            )
        ]
        + ["_tests", "_values"],
    )
    return _judge_deployments(frame, th, alpha)


def _markers(markers: pd.DataFrame | Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    frame = markers.copy() if isinstance(markers, pd.DataFrame) else pd.DataFrame(list(markers))
    if "deployed_at" not in frame:
        raise QueryParameterError("deployment markers need a deployed_at column")
    frame["deployed_at"] = pd.to_datetime(frame["deployed_at"], utc=True)
    for col, default in (
        ("kind", "manual"),
        ("scope", ""),
        ("version", ""),
        ("previous_version", None),
    ):
        if col not in frame:
            frame[col] = default
    return frame[["kind", "scope", "version", "previous_version", "deployed_at"]]


_SCOPES: dict[str, Callable[[dict[str, Any]], tuple[dict[str, Any], dict[str, Any]]]] = {
    # kind -> (baseline filter, window filter) for insights_deployment_window
    "model_version": lambda m: (
        {"model_id": m["scope"]},
        {"model_id": m["scope"], "model_version": m["version"]},
    ),
    "prompt_version": lambda m: ({}, {"prompt_version": m["version"]}),
    "manual": lambda m: ({"model_id": m["scope"]},) * 2 if m["scope"] else ({}, {}),
}


def _check_one(
    wb: Workbench, m: dict[str, Any], rng: DateRange, th: DeploymentThresholds
) -> dict[str, Any]:
    at = pd.Timestamp(m["deployed_at"]).to_pydatetime()
    kind = str(m.get("kind") or "manual")
    if kind not in _SCOPES:
        raise QueryParameterError(f"unknown deployment kind {kind!r}; known: {', '.join(_SCOPES)}")
    base_filter, after_filter = _SCOPES[kind](m)
    b_start = at - dt.timedelta(days=th.baseline_days)
    a_end = min(at + dt.timedelta(days=th.window_days), rng.end)
    base = wb.query("insights_deployment_window", start=b_start, end=at, **base_filter)
    after = wb.query("insights_deployment_window", start=at, end=a_end, **after_filter)
    control = None
    if base_filter.get("model_id"):  # the other models on the same days share their conditions
        other = {"other_than_model_id": base_filter["model_id"]}
        control = (
            wb.query("insights_deployment_window", start=b_start, end=at, **other),
            wb.query("insights_deployment_window", start=at, end=a_end, **other),
        )
        shared = [
            set(own["day"]) & set(c["day"]) for own, c in zip((base, after), control, strict=True)
        ]
        if min(len(days) for days in shared) < _MIN_CONTROL_DAYS:
            control = None  # no other model on enough of the same days: the plain comparison
    vb = _window_values(base, float(th.baseline_days))
    va = _window_values(after, (a_end - at) / dt.timedelta(days=1))
    latency = _daily_test(base, after, "log_latency_sum", "timed", control, log=True)
    if control is not None:
        cells = wb.query("insights_deployment_cells", start=b_start, end=a_end, deployed_at=at)
        latency = _latency_against_other_models(cells, str(base_filter["model_id"]))
    tests = {
        "response_time": latency,
        "error_rate": _daily_test(base, after, "errors", "requests", control, log=False),
        "user_satisfaction": _daily_test(base, after, "satisfied", "rated", control, log=False),
    }
    scope = m["scope"] or "all"
    return {
        "deployment": f"{kind}:{scope}:{m['version']}",
        "kind": kind,
        "scope": m["scope"],
        "version": m["version"],
        "previous_version": m.get("previous_version"),
        "deployed_at": pd.Timestamp(at),
        "baseline_days": int(base["day"].nunique()),
        "window_days": int(after["day"].nunique()),
        "control": f"other models than {m['scope']}" if control is not None else None,
        "requests_before": vb["requests"],
        "requests_after": va["requests"],
        "response_time_before": vb["response_time"],
        "response_time_after": va["response_time"],
        "response_time_change": tests["response_time"][0],
        "response_time_p": tests["response_time"][1],
        "error_rate_before": vb["error_rate"],
        "error_rate_after": va["error_rate"],
        "error_rate_change": va["error_rate"] - vb["error_rate"],
        "error_rate_p": tests["error_rate"][1],
        "satisfaction_before": vb["satisfaction"] if vb["rated"] >= th.min_rated else math.nan,
        "satisfaction_after": va["satisfaction"] if va["rated"] >= th.min_rated else math.nan,
        "satisfaction_change": tests["user_satisfaction"][0],
        "satisfaction_p": tests["user_satisfaction"][1],
        "throughput_before": vb["throughput"],
        "throughput_after": va["throughput"],
        "system_health_after": 100.0 - va["error_rate"]
        if math.isfinite(va["error_rate"])
        else math.nan,
        "_tests": tests,
        "_values": (vb, va),
    }


_MIN_CONTROL_DAYS = 7
"""Fewest days, in the baseline and in the window each, on which both the deployed scope and the
other models have calls, for the check to be made relative to the other models."""


def _window_values(days: pd.DataFrame, length_days: float) -> dict[str, float]:
    s = days[["requests", "errors", "timed", "latency_sum", "rated", "satisfied"]].sum()

    def ratio(a: float, b: float, k: float = 1.0) -> float:
        return k * a / b if b else math.nan

    return {
        "requests": float(s["requests"]),
        "rated": float(s["rated"]),
        "response_time": ratio(s["latency_sum"], s["timed"]),
        "error_rate": ratio(s["errors"], s["requests"], 100.0),
        "satisfaction": ratio(s["satisfied"], s["rated"]),
        "throughput": float(s["requests"]) / length_days if length_days > 0 else math.nan,
    }


def _daily_test(
    base: pd.DataFrame,
    after: pd.DataFrame,
    num: str,
    den: str,
    control: tuple[pd.DataFrame, pd.DataFrame] | None,
    *,
    log: bool,
) -> tuple[float, float]:
    """(change, two-sided p) of the daily ratio num/den in the window against the baseline.

    Days are the units (calls of one day share its conditions, so calls are not independent).
    With a ``control`` (the other models' calls of the same days), each day's value is taken
    relative to the control's (a difference in differences): what every model goes through on a
    day (load, a provider's slow day, weekends) cancels, which leaves the deploy's own effect
    against the much smaller sampling noise of the calls. The Welch test's standard error is
    widened for the lag-1 autocorrelation of the daily values (:func:`_serial_welch`). ``change``
    is relative (``exp(Δ) - 1``) for log values, else a difference.
    """

    def daily(frame: pd.DataFrame) -> pd.Series:
        ok = frame[den] > 0
        return pd.Series(
            (frame.loc[ok, num] / frame.loc[ok, den]).to_numpy(dtype=float),
            index=pd.Index(frame.loc[ok, "day"]),
        )

    b, a = daily(base), daily(after)
    if control is not None:
        b = (b - daily(control[0])).dropna()
        a = (a - daily(control[1])).dropna()
    if len(b) < 3 or len(a) < 3:
        return math.nan, math.nan
    difference, p = _serial_welch(b.to_numpy(), a.to_numpy())
    return (math.expm1(difference) if log else difference), p


def _latency_against_other_models(cells: pd.DataFrame, model: str) -> tuple[float, float]:
    """(relative change, two-sided p) of ``model``'s response time after the deploy, relative to
    the other models' calls of the same days: a weighted two-way fit of the log response times.

    Each cell (day, model, before/after the deploy) holds the mean log response time of its
    successful calls (``queries/insights_deployment_cells.sql``). The fit has a level per day
    (what every model goes through that day: load, weekends, a slow provider), a level per model,
    and the effect: ``model`` after the deploy. Calls weigh in by number, divided by their
    model's residual variance per call (estimated from the cells' scatter around a first
    unweighted-by-model fit, so that a model-day shock counts as noise), and the effect's t-test
    uses the cells' residual degrees of freedom. Every call is used once (no daily averages of
    a handful of calls), which is where the power comes from. NaN when the model has fewer than
    3 cells on either side or there are too few cells to estimate the noise.
    """
    c = cells[cells["calls"] > 0]
    own = c["model_id"] == model
    if min(int((own & c["after"]).sum()), int((own & ~c["after"]).sum())) < 3:
        return math.nan, math.nan
    days = pd.factorize(c["day"])[0]
    models = pd.factorize(c["model_id"])[0]
    n_days, n_models = days.max() + 1, models.max() + 1
    x = np.zeros((len(c), n_days + n_models))
    x[np.arange(len(c)), days] = 1.0
    x[np.arange(len(c)), n_days + models] = 1.0  # the first model's column is dropped below
    x = np.column_stack([x[:, :n_days], x[:, n_days + 1 :], (own & c["after"]).to_numpy(float)])
    calls = c["calls"].to_numpy(float)
    y = c["log_latency_sum"].to_numpy(float) / calls
    dof = len(c) - np.linalg.matrix_rank(x)
    if dof < 5:
        return math.nan, math.nan
    variance = np.ones(n_models)
    for _ in range(2):  # fit, estimate each model's variance per call, refit
        w = calls / variance[models]
        xtwx = x.T @ (x * w[:, None])
        beta = np.linalg.lstsq(xtwx, x.T @ (w * y), rcond=None)[0]
        resid2 = calls * (y - x @ beta) ** 2  # per-call variance units
        per_model = np.array(
            [resid2[models == m].mean() if (models == m).any() else np.nan for m in range(n_models)]
        )
        pooled = float(resid2.sum() / dof)
        variance = np.where(np.isfinite(per_model) & (per_model > 0), per_model, pooled)
    cov = np.linalg.pinv(xtwx) * float((w * (y - x @ beta) ** 2).sum() / dof)
    effect, se = float(beta[-1]), math.sqrt(max(float(cov[-1, -1]), 0.0))
    if not se > 0:
        return math.expm1(effect), math.nan
    return math.expm1(effect), float(2 * sps.t.sf(abs(effect / se), dof))


def _serial_welch(before: np.ndarray, after: np.ndarray) -> tuple[float, float]:
    """Welch's difference and two-sided p with the standard error widened by
    ``sqrt((1 + ρ) / (1 - ρ))``, ρ the lag-1 autocorrelation of the within-segment residuals
    (clipped to [0, 0.9]): daily values in a row share slow conditions, so they carry less
    information than independent ones. The degrees of freedom shrink by the same factor."""
    w = welch(before, after)
    if not math.isfinite(w.p_value) or not math.isfinite(w.t):
        return w.difference, w.p_value
    resid = np.r_[before - before.mean(), after - after.mean()]
    denom = float(resid @ resid)
    rho = float(resid[:-1] @ resid[1:]) / denom if denom > 0 else 0.0
    rho = min(max(rho, 0.0), 0.9)
    inflation = (1 + rho) / (1 - rho)
    t = w.t / math.sqrt(inflation)
    df = max(1.0, w.df / inflation)
    return w.difference, float(2 * sps.t.sf(abs(t), df))


_CRITICAL = ("response_time", "error_rate")
_WORSE_IF_UP = {"response_time": True, "error_rate": True, "user_satisfaction": False}
_REGRESSION_SHARE = 0.75
"""Share of the deployment check's alpha spent on regressions (one-sided, the harmful way);
the rest goes to improvements (one-sided, the other way)."""


def _one_sided(change: float, p_two_sided: float, *, up_is_worse: bool) -> float:
    """One-sided p of a move in the direction ``up_is_worse`` names, from a symmetric test."""
    if not (math.isfinite(change) and math.isfinite(p_two_sided)):
        return math.nan
    toward = (change > 0) == up_is_worse and change != 0
    return p_two_sided / 2 if toward else 1 - p_two_sided / 2


def _judge_deployments(frame: pd.DataFrame, th: DeploymentThresholds, alpha: float) -> pd.DataFrame:
    if frame.empty:
        return _empty(DEPLOYMENT_COLUMNS)
    worse = [
        _one_sided(*t[m], up_is_worse=w) for t in frame["_tests"] for m, w in _WORSE_IF_UP.items()
    ]
    better = [
        _one_sided(*t[m], up_is_worse=not w)
        for t in frame["_tests"]
        for m, w in _WORSE_IF_UP.items()
    ]
    q_worse = iter(bh_qvalues(worse))
    q_better = iter(bh_qvalues(better))
    verdicts = []
    for rec in frame.to_dict("records"):
        vb, va = rec["_values"]
        violated = _violations(va, th)
        before = _violations(vb, th)
        regressions, improvements = [], []
        for metric_name in _WORSE_IF_UP:
            qw, qb = next(q_worse), next(q_better)
            if math.isfinite(qw) and qw < alpha * _REGRESSION_SHARE:
                regressions.append(metric_name)
            elif math.isfinite(qb) and qb < alpha * (1 - _REGRESSION_SHARE):
                improvements.append(metric_name)
        new_critical = [v for v in violated if v in _CRITICAL and v not in before]
        big = [
            r
            for r in regressions
            if r in _CRITICAL and abs(_relative_change(rec, r)) >= th.max_regression
        ]
        rollback = bool(new_critical or big)
        enough = rec["window_days"] >= 3 and rec["baseline_days"] >= 3
        status = (
            "rollback"
            if rollback
            else "alert"
            if violated or regressions
            else "improved"
            if improvements
            else "ok"
            if enough
            else "insufficient data"
        )
        verdicts.append(
            {
                "violations": violated,
                "preexisting": [v for v in violated if v in before],
                "regressions": regressions,
                "improvements": improvements,
                "rollback_recommended": rollback,
                "status": status,
            }
        )
    out = pd.concat(
        [frame.drop(columns=["_tests", "_values"]).reset_index(drop=True), pd.DataFrame(verdicts)],
        axis=1,
    )
    return out[list(DEPLOYMENT_COLUMNS)]


def _relative_change(rec: dict[str, Any], metric_name: str) -> float:
    if metric_name == "error_rate":
        before = rec["error_rate_before"]
        return (rec["error_rate_after"] - before) / before if before else math.inf
    return float(rec["response_time_change"])


def _violations(values: dict[str, float], th: DeploymentThresholds) -> list[str]:
    out = []
    enough = values["requests"] >= th.min_requests
    if enough and values["response_time"] > th.response_time_ms:
        out.append("response_time")
    if enough and values["error_rate"] > th.error_rate_pct:
        out.append("error_rate")
    if values["rated"] >= th.min_rated and values["satisfaction"] < th.user_satisfaction:
        out.append("user_satisfaction")
    return out


# ====================================================================== insights
@dataclass(frozen=True)
class _Context:
    """What every insight builder may read."""

    scan: SeriesScan
    series: pd.DataFrame
    deployments: pd.DataFrame
    correlations: CorrelationResult | None
    reach: dict[str, float]
    wb: Workbench
    rng: DateRange
    levels: dict[str, float]


def generate_insights(
    wb: Workbench,
    /,
    *,
    start: Any,
    end: Any,
    kinds: Iterable[str] | None = None,
    grain: Literal["day", "hour"] = "day",
    segments: bool = True,
    alpha: float = 0.05,
    thresholds: DeploymentThresholds | None = None,
    markers: pd.DataFrame | Iterable[Mapping[str, Any]] | None = None,
    n_boot: int = 999,
    seed: int = 0,
    store: bool = True,
    state: StateStore | None = None,
) -> InsightReport:
    """Find the tenant's insights over ``[start, end)`` and (by default) store them.

    Parameters
    ----------
    kinds
        A subset of :data:`KINDS`; None means all.
    grain
        ``day`` (default) or ``hour``.
    segments
        Also scan the per-model, per-endpoint and per-step series.
    alpha
        The run's level: its false-discovery rate, and its chance of any discovery on data
        without effects, are at most ``alpha`` (split over the families of tests, see
        "Multiple testing" in the module notes).
    thresholds, markers
        Options of :func:`deployment_checks`.
    n_boot, seed
        Bootstrap of the correlation intervals.
    store
        Save the insights to ``unified_insights`` (and the correlations to
        ``system_correlations``): an insight seen before is updated in place and keeps its
        status; the stored ``id`` and ``status`` are added to the result.
    state
        The store (default: the one of the workbench's data directory).

    Returns
    -------
    InsightReport

    Raises
    ------
    QueryParameterError
        An unknown kind or a bad option.

    Examples
    --------
    >>> report = generate_insights(wb, start="2026-07-04", end="2026-11-01")  # doctest: +SKIP
    >>> report.insights.groupby("severity").size()                            # doctest: +SKIP
    """
    chosen = list(KINDS if kinds is None else kinds)
    unknown = [k for k in chosen if k not in KINDS]
    if unknown:
        raise QueryParameterError(
            f"unknown insight kind {', '.join(unknown)}; known: {', '.join(KINDS)}"
        )
    if grain not in PERIODS:
        raise QueryParameterError(f"grain must be one of {', '.join(PERIODS)}, not {grain!r}")
    check_share("alpha", alpha, low=0, high=1)
    rng = DateRange.of(start, end)
    store_obj = state or StateStore.for_data_dir(wb.data_dir)
    levels = family_levels(alpha, chosen)
    series = metric_series(wb, **rng.params(), grain=grain, segments=segments)
    scan_alpha = levels.get("anomaly", 0.0) + levels.get("trend_change", 0.0)
    scanned = (
        scan_series(
            series,
            period=PERIODS[grain],
            alpha=scan_alpha,
            trend_share=levels.get("trend_change", 0.0) / scan_alpha,
        )
        if scan_alpha > 0
        else _empty_scan()
    )
    deployments = (
        deployment_checks(
            wb,
            **rng.params(),
            thresholds=thresholds,
            markers=markers,
            alpha=levels["deployment"],
        )
        if "deployment" in chosen
        else _empty(DEPLOYMENT_COLUMNS)
    )
    corr = (
        correlations(
            wb,
            **rng.params(),
            grain=grain,
            alpha=levels["correlation"],
            n_boot=n_boot,
            seed=seed,
            store=store,
            state=store_obj,
        )
        if "correlation" in chosen
        else None
    )
    ctx = _Context(scanned, series, deployments, corr, _reach(series), wb, rng, levels)
    found = [ins for kind in chosen for ins in _BUILDERS[kind](ctx)]
    insights = _insight_frame(found)
    params = {
        "tenant": wb.tenant,
        "start": rng.start.isoformat(),
        "end": rng.end.isoformat(),
        "grain": grain,
        "segments": segments,
        "alpha": alpha,
        "family_levels": levels,
        "kinds": chosen,
        "n_boot": n_boot,
        "seed": seed,
        "data_version": wb.fingerprint(),
        "package_version": _package_version(),
    }
    if store and not insights.empty:
        insights = _store(store_obj, wb.tenant, insights, params)
    return InsightReport(insights, scanned, deployments, corr, series, params)


def _reach(series: pd.DataFrame) -> dict[str, float]:
    """Segment series name → the share of the metric's observations over the range that its
    group accounts for: the model's or endpoint's own share; for a workflow step, its
    workflow's (every run of the workflow goes through the step)."""
    seg = series[series["segment"] != ""]
    if seg.empty:
        return {}
    totals = seg.groupby(["metric", "segment"])["n"].sum()
    out = {}
    for metric_name, per_segment in totals.groupby(level="metric"):
        per_segment = per_segment.droplevel("metric")
        meta = CATALOG.get(str(metric_name))
        by_workflow = meta is not None and meta.segment_by == "workflow_id/step_name"
        group = per_segment.index.str.split("/").str[0] if by_workflow else per_segment.index
        share = per_segment.groupby(group).transform("sum") / max(per_segment.sum(), 1e-300)
        out.update(
            {
                series_name([metric_name], [s])[0]: float(v)
                for s, v in share.items()
                if math.isfinite(v)
            }
        )
    return out


def _insight_frame(found: list[dict[str, Any]]) -> pd.DataFrame:
    if not found:
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in INSIGHT_COLUMNS})
    frame = pd.DataFrame(found, columns=list(INSIGHT_COLUMNS))
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    frame = frame.assign(_r=frame["severity"].map(rank)).sort_values(
        ["_r", "score"], ascending=[True, False], kind="stable"
    )
    # one insight per key (the most severe), so that storing it cannot collide
    frame = frame.drop_duplicates("insight_key", keep="first")
    return frame.drop(columns="_r").reset_index(drop=True)


def _store(
    store: StateStore, tenant: str, insights: pd.DataFrame, params: dict[str, Any]
) -> pd.DataFrame:
    existing = store.read("unified_insights", tenant=tenant)
    keys = _reuse_keys(insights, existing)
    insights = insights.assign(insight_key=keys)
    payload = insights.assign(
        metrics=[
            {
                "series": m,
                "evidence": e,
                "score": s,
                "period_start": ps,
                "period_end": pe,
                "parameters": params,
            }
            for m, e, s, ps, pe in zip(
                insights["metrics"],
                insights["evidence"],
                insights["score"],
                insights["period_start"],
                insights["period_end"],
                strict=True,
            )
        ],
    )
    saved = store.save_insights(tenant, payload).set_index("insight_key")
    return insights.assign(
        id=saved.loc[keys, "id"].to_numpy(), status=saved.loc[keys, "status"].to_numpy()
    )


_KEY_TOLERANCE_DAYS = {"change_point": 7}


def _reuse_keys(insights: pd.DataFrame, existing: pd.DataFrame) -> list[str]:
    """Keep the stored key of a change point re-found within a week of where it was stored."""
    keys = []
    stored = []
    for rec in existing.to_dict("records"):
        if rec["insight_type"] in _KEY_TOLERANCE_DAYS:
            meta = json.loads(rec["metrics"]) if isinstance(rec["metrics"], str) else {}
            stored.append(
                (
                    rec["insight_type"],
                    tuple(meta.get("series") or ()),
                    meta.get("period_start"),
                    rec["insight_key"],
                )
            )
    for rec in insights.to_dict("records"):
        key = rec["insight_key"]
        tol = _KEY_TOLERANCE_DAYS.get(rec["insight_type"])
        if tol is not None and rec["period_start"] is not None:
            at = pd.Timestamp(rec["period_start"])
            for kind, ser, when, old_key in stored:
                if (
                    kind == rec["insight_type"]
                    and ser == tuple(rec["metrics"])
                    and when
                    and abs((pd.Timestamp(when) - at).days) <= tol
                ):
                    key = old_key
                    break
        keys.append(key)
    return keys


# ------------------------------------------------------------------ insight builders
def _insight(
    kind: str,
    key: str,
    score: float,
    title: str,
    description: str,
    systems: Iterable[str],
    series: Iterable[str],
    evidence: dict[str, Any],
    recommendations: list[str],
    period_start: Any = None,
    period_end: Any = None,
    severity_floor: str | None = None,
) -> dict[str, Any]:
    score = round(float(score), 4)
    level = severity(score)
    if severity_floor and SEVERITIES.index(severity_floor) < SEVERITIES.index(level):
        level = severity_floor
    return {
        "insight_key": key,
        "insight_type": kind,
        "severity": level,
        "score": score,
        "title": title[:255],
        "description": description,
        "affected_systems": sorted(set(systems)),
        "metrics": list(dict.fromkeys(series)),
        "evidence": evidence,
        "recommendations": recommendations,
        "period_start": None if period_start is None else pd.Timestamp(period_start).isoformat(),
        "period_end": None if period_end is None else pd.Timestamp(period_end).isoformat(),
    }


def _concern(up_is_good: bool | None, direction: float) -> float:
    if up_is_good is None or direction == 0 or not math.isfinite(direction):
        return 0.5
    adverse = (direction > 0) != up_is_good
    return 1.0 if adverse else 0.25


def _meta(metric_name: str) -> Metric | None:
    return CATALOG.get(metric_name)


def _label(series: str) -> str:
    base, _, rest = series.partition("[")
    return f"{base} ({rest[:-1]})" if rest else base


def fmt_value(value: float, unit: str) -> str:
    """A value for people, in its unit.

    Examples
    --------
    >>> fmt_value(0.0421, "share"), fmt_value(2036.2, "ms"), fmt_value(12.5, "USD")
    ('4.21%', '2,036 ms', '$12.50')
    """
    if value is None or not math.isfinite(value):
        return "n/a"
    formats = {
        "share": lambda v: f"{v:.2%}",
        "ms": lambda v: f"{v:,.0f} ms",
        "seconds": lambda v: f"{v:,.0f} s",
        "USD": lambda v: f"${v:,.2f}",
        "rating 1-5": lambda v: f"{v:.2f}",
    }
    return formats.get(unit, lambda v: f"{v:,.3g}" if abs(v) < 1000 else f"{v:,.0f}")(value)


def _change(metric_name: str, relative: float, before: float, after: float) -> str:
    """``+4.2 pp`` for shares, ``+42%`` otherwise, ``from 0 to 12`` when there is no ratio."""
    unit = _unit(metric_name)
    if unit == "share" and math.isfinite(before) and math.isfinite(after):
        return f"{(after - before) * 100:+.1f} pp"
    if math.isfinite(relative):
        return _pct(relative)
    return f"from {fmt_value(before, unit)} to {fmt_value(after, unit)}"


def _pct(x: float) -> str:
    return f"{x:+.0%}" if math.isfinite(x) else "n/a"


def _p(x: float) -> str:
    return f"{x:.2g}" if math.isfinite(x) else "n/a"


def _unit(metric_name: str) -> str:
    meta = _meta(metric_name)
    return meta.unit if meta else ""


def _anomaly_insights(ctx: _Context) -> list[dict[str, Any]]:
    a, inc = ctx.scan.anomalies, ctx.scan.incidents
    sig = a[a["is_anomaly"].astype(bool)] if not a.empty else a
    incidents = inc[inc["is_incident"].astype(bool)] if not inc.empty else inc
    out = []
    for period in sorted(set(sig["period"]) | set(incidents["period"])):
        day = sig[sig["period"] == period]
        hit = incidents[incidents["period"] == period]
        incident = hit.iloc[0] if len(hit) else None
        members = day
        if incident is not None:  # the error rates of the incident, significant alone or not
            extra = a[
                (a["period"] == period)
                & a["series"].isin(incident["series"])
                & ~a["series"].isin(day["series"])
            ]
            members = pd.concat([day, extra])
        members = members.assign(_abs=members["z"].abs()).sort_values("_abs", ascending=False)
        scores, parts, evid = [], [], []
        for r in members.itertuples(index=False):
            q = (
                float(incident["q_value"])
                if incident is not None and not r.is_anomaly
                else r.q_value
            )
            scores.append(
                _anomaly_effect(r.value, r.expected, r.z)
                * (1 - q)
                * ctx.reach.get(r.series, 1.0)
                * _concern(_up(r.metric), r.z)
            )
            unit = _unit(r.metric)
            parts.append(
                f"{_label(r.series)} {fmt_value(r.value, unit)} (expected "
                f"{fmt_value(r.expected, unit)}, z = {r.z:+.1f}"
                f"{'' if r.is_anomaly else ', part of the incident'})"
            )
            evid.append(
                {
                    "series": r.series,
                    "value": r.value,
                    "expected": r.expected,
                    "z": r.z,
                    "p_value": r.p_value,
                    "q_value": r.q_value,
                    "n": r.n,
                    "significant_alone": bool(r.is_anomaly),
                    "affected": {"count": r.n, "unit": _support_unit(r.metric)},
                }
            )
        when = pd.Timestamp(period)
        label = when.date().isoformat() if when == when.normalize() else when.isoformat()
        systems = sorted(set(members["system"]))
        desc = ""
        if incident is not None:
            desc = (
                f"Cross-system incident on {label}: error rates rose together in "
                f"{', '.join(incident['systems'])} (one-sided Stouffer z = "
                f"{incident['z']:.1f}, p = {_p(incident['p_value'])}, q = "
                f"{_p(incident['q_value'])} over {len(inc)} periods). "
            )
        desc += (
            f"{len(members)} series left their expected range on {label} (robust z of "
            "the residuals from weekly seasonality and the local level; rates and counts "
            "against their neighbouring periods' binomial and Poisson rates; BH q < "
            f"{_level_text(ctx, 'anomaly')} within the family): " + "; ".join(parts) + "."
        )
        also = a[
            (a["period"] == period) & ~a["series"].isin(members["series"]) & (a["p_value"] < 0.01)
        ]
        also_text = [
            f"{_label(s)} (z = {z:+.1f}, p = {_p(p)})"
            for s, z, p in zip(also["series"], also["z"], also["p_value"], strict=True)
        ]
        if also_text:
            desc += (
                " Also unusual that period but not significant after correction: "
                + "; ".join(also_text)
                + "."
            )
        top = members.iloc[0]
        title = (
            f"Incident on {label}: error rates up in {', '.join(incident['systems'])}"
            if incident is not None
            else f"Anomaly on {label}: {_label(top['series'])} at "
            f"{fmt_value(top['value'], _unit(top['metric']))}"
            + (f" and {len(members) - 1} more" if len(members) > 1 else "")
        )
        evidence = {
            "test": "robust z of residuals from STL season and local level "
            "(binomial/Poisson for rates/counts)",
            "n_series": len(members),
            "anomalies": evid,
            "also_unusual": also_text,
            "statistic": float(top["z"]),
            "p_value": float(top["p_value"]),
            "q_value": float(top["q_value"]),
        }
        if incident is not None:
            evidence["incident"] = {
                "test": "one-sided Stouffer over error rates",
                "z": float(incident["z"]),
                "p_value": float(incident["p_value"]),
                "q_value": float(incident["q_value"]),
                "systems": list(incident["systems"]),
            }
        out.append(
            _insight(
                "anomaly",
                f"anomaly:{label}",
                max(scores),
                title,
                desc,
                systems,
                list(members["series"]),
                evidence,
                _anomaly_recommendations(members, label),
                when,
                when + _grain_delta(ctx),
            )
        )
    return out


def _level_text(ctx: _Context, family: str) -> str:
    return f"{ctx.levels.get(family, math.nan):.2g}"


def _anomaly_effect(value: float, expected: float, z: float) -> float:
    """``min(1, |value / expected - 1|)``; ``min(1, |z| / 10)`` when the expectation is 0."""
    if math.isfinite(expected) and expected > 0 and math.isfinite(value):
        return min(1.0, abs(value / expected - 1))
    return min(1.0, abs(z) / 10) if math.isfinite(z) else 0.0


def _up(metric_name: str) -> bool | None:
    meta = _meta(metric_name)
    return meta.up_is_good if meta else None


def _grain_delta(ctx: _Context) -> pd.Timedelta:
    periods = pd.to_datetime(ctx.series["period"]).drop_duplicates().sort_values()
    return periods.diff().min() if len(periods) > 1 else pd.Timedelta(days=1)


def _support_unit(metric_name: str) -> str:
    meta = _meta(metric_name)
    if meta is None:
        return "observations"
    if meta.support is None:
        return meta.unit
    return meta.support.split("_", 1)[-1] if "_" in meta.support else meta.support


def _anomaly_recommendations(day: pd.DataFrame, label: str) -> list[str]:
    recs = []
    if len(set(day["system"])) > 1:
        recs.append(
            f"Treat {label} as one incident across {', '.join(sorted(set(day['system'])))}: "
            "look for a shared dependency (deploy, provider outage, infrastructure)."
        )
    for r in day.itertuples(index=False):
        meta = _meta(r.metric)
        if meta and meta.kind == "rate" and r.z > 0:
            recs.append(
                f"Read the error logs of {meta.sources[0]} for {label}"
                + (f" ({r.segment})" if r.segment else "")
                + "."
            )
        elif meta and meta.unit == "ms" and r.z > 0:
            recs.append(f"Check latency of {_label(r.series)} on {label} against deploys and load.")
    recs.append(
        "Acknowledge once explained; exclude the period from baselines if it was an incident."
    )
    return list(dict.fromkeys(recs))


def _trend_insights(ctx: _Context) -> list[dict[str, Any]]:
    t = ctx.scan.trends
    out = []
    for r in t[t["is_trend"]].itertuples(index=False) if not t.empty else ():
        meta = _meta(r.metric)
        unit = meta.unit if meta else ""
        direction = 1.0 if r.slope > 0 else -1.0
        reach = ctx.reach.get(r.series, 1.0)
        effect = min(1.0, abs(r.relative_change)) if math.isfinite(r.relative_change) else 1.0
        score = (
            effect
            * (1 - r.q_value)
            * reach
            * _concern(meta.up_is_good if meta else None, direction)
        )
        word = "rising" if r.slope > 0 else "falling"
        per = _per_period(
            meta.scale if meta else "linear", r.slope, r.slope_low, r.slope_high, unit
        )
        desc = (
            f"{_label(r.series)} is {word} over {r.n} periods: from about "
            f"{fmt_value(r.start_level, unit)} to {fmt_value(r.end_level, unit)} "
            f"({_change(r.metric, r.relative_change, r.start_level, r.end_level)}), {per}. "
            f"Mann–Kendall tau = {r.tau:.2f}, "
            f"z = {r.z:.1f} (autocorrelation-corrected), p = {_p(r.p_value)}, "
            f"q = {_p(r.q_value)}; a straight line fits better than a single step."
        )
        adverse = _concern(meta.up_is_good if meta else None, direction) == 1.0
        recs = (
            [
                f"Find what drives the {word} {_label(r.series)} before it compounds; "
                "compare segments to locate it."
            ]
            if adverse
            else [f"Plan capacity and budgets for {_label(r.series)} {word} at this rate."]
        )
        out.append(
            _insight(
                "trend",
                f"trend:{r.series}",
                score,
                f"{_label(r.series)} {word} "
                + _change(r.metric, r.relative_change, r.start_level, r.end_level)
                + " over the range",
                desc,
                [r.system],
                [r.series],
                {
                    "test": "Mann-Kendall (Hamed-Rao) + Theil-Sen",
                    "n": r.n,
                    "statistic": r.z,
                    "tau": r.tau,
                    "p_value": r.p_value,
                    "q_value": r.q_value,
                    "slope": r.slope,
                    "interval": [r.slope_low, r.slope_high],
                    "relative_change": r.relative_change,
                    "scale": meta.scale if meta else "linear",
                },
                recs,
                ctx.rng.start,
                ctx.rng.end,
            )
        )
    return out


def _per_period(scale: str, slope: float, low: float, high: float, unit: str) -> str:
    if scale in ("log", "log1p"):
        return (
            f"{math.expm1(slope):+.2%} per period (95% CI {math.expm1(low):+.2%} to "
            f"{math.expm1(high):+.2%}, Theil–Sen on the log scale)"
        )
    return (
        f"{fmt_value(slope, unit)} per period (95% CI {fmt_value(low, unit)} to "
        f"{fmt_value(high, unit)}, Theil–Sen)"
    )


def _change_point_insights(ctx: _Context) -> list[dict[str, Any]]:
    c = ctx.scan.change_points
    out = []
    for r in c[c["is_change_point"]].itertuples(index=False) if not c.empty else ():
        meta = _meta(r.metric)
        unit = meta.unit if meta else ""
        scale = meta.scale if meta else "linear"
        direction = 1.0 if r.shift > 0 else -1.0
        reach = ctx.reach.get(r.series, 1.0)
        effect = min(1.0, abs(r.relative_change) / 0.5) if math.isfinite(r.relative_change) else 1.0
        score = (
            effect
            * (1 - r.q_value)
            * reach
            * _concern(meta.up_is_good if meta else None, direction)
        )
        when = pd.Timestamp(r.change_at)
        label = when.date().isoformat() if when == when.normalize() else when.isoformat()
        word = "rose" if r.shift > 0 else "fell"
        lo, hi = (
            (_pct(math.expm1(r.shift_low)), _pct(math.expm1(r.shift_high)))
            if scale != "linear"
            else (fmt_value(r.shift_low, unit), fmt_value(r.shift_high, unit))
        )
        after = ctx.series[
            (ctx.series["metric"] == r.metric)
            & (ctx.series["segment"] == r.segment)
            & (pd.to_datetime(ctx.series["period"]) >= when)
        ]["n"].sum()
        desc = (
            f"{_label(r.series)} {word} from {fmt_value(r.before, unit)} to "
            f"{fmt_value(r.after, unit)} "
            f"({_change(r.metric, r.relative_change, r.before, r.after)}) on {label}. CUSUM "
            f"statistic {r.statistic:.2f}, p = {_p(r.p_value)} (accounts for the search over "
            f"all dates), q = {_p(r.q_value)}, n = {r.n} periods; 95% interval of the shift "
            f"{lo} to {hi}; a step fits better than a trend. Since then: "
            f"{after:,.0f} {_support_unit(r.metric)}."
        )
        adverse = _concern(meta.up_is_good if meta else None, direction) == 1.0
        recs = (
            [
                f"Look for a deploy, model or configuration change around {label} affecting "
                f"{_label(r.series)}; roll it back if it is the cause."
            ]
            if adverse
            else [f"Identify what improved {_label(r.series)} on {label} and keep it."]
        )
        out.append(
            _insight(
                "change_point",
                f"change_point:{r.series}:{label}",
                score,
                f"{_label(r.series)} {word} "
                f"{_change(r.metric, r.relative_change, r.before, r.after)} on {label}",
                desc,
                [r.system],
                [r.series],
                {
                    "test": "CUSUM (Kolmogorov limit, long-run variance) + Welch",
                    "n": r.n,
                    "statistic": r.statistic,
                    "p_value": r.p_value,
                    "q_value": r.q_value,
                    "before": r.before,
                    "after": r.after,
                    "relative_change": r.relative_change,
                    "interval": [r.shift_low, r.shift_high],
                    "scale": scale,
                    "affected": {"count": float(after), "unit": _support_unit(r.metric)},
                },
                recs,
                when,
                ctx.rng.end,
            )
        )
    return out


def _deployment_insights(ctx: _Context) -> list[dict[str, Any]]:
    out = []
    for r in ctx.deployments.to_dict("records"):
        if r["status"] in ("ok", "insufficient data"):
            continue
        when = pd.Timestamp(r["deployed_at"])
        what = (
            f"{r['scope']} {r['version']}"
            if r["kind"] == "model_version"
            else f"prompt {r['version']}"
            if r["kind"] == "prompt_version"
            else f"deploy {r['version'] or r['scope'] or when.isoformat()}"
        )
        lines = [
            f"response time {fmt_value(r['response_time_before'], 'ms')} → "
            f"{fmt_value(r['response_time_after'], 'ms')} ({_pct(r['response_time_change'])}, "
            f"p = {_p(r['response_time_p'])})",
            f"error rate {r['error_rate_before']:.2f}% → {r['error_rate_after']:.2f}% "
            f"(p = {_p(r['error_rate_p'])})",
            f"user satisfaction {fmt_value(r['satisfaction_before'], 'share')} → "
            f"{fmt_value(r['satisfaction_after'], 'share')} (p = {_p(r['satisfaction_p'])})",
        ]
        desc = (
            f"Deployment of {what} at {when.isoformat()} (previous: "
            f"{r['previous_version'] or 'n/a'}): {r['window_days']} days after against "
            f"{r['baseline_days']} days before: " + "; ".join(lines) + ". "
        )
        if r["violations"]:
            desc += f"Spec thresholds violated: {', '.join(r['violations'])}"
            desc += (
                f" (already before: {', '.join(r['preexisting'])}). " if r["preexisting"] else ". "
            )
        if r["regressions"]:
            desc += f"Significantly worse than before: {', '.join(r['regressions'])}. "
        if r["improvements"]:
            desc += f"Significantly better than before: {', '.join(r['improvements'])}. "
        desc += "Rollback recommended." if r["rollback_recommended"] else "No rollback needed."
        changes = [
            abs(r["response_time_change"])
            if "response_time" in r["regressions"] + r["improvements"]
            else 0.0,
            abs(r["satisfaction_change"])
            if "user_satisfaction" in r["regressions"] + r["improvements"]
            else 0.0,
            abs(_relative_change(r, "error_rate"))
            if "error_rate" in r["regressions"] + r["improvements"]
            else 0.0,
        ]
        effect = min(
            1.0,
            max([c for c in changes if math.isfinite(c)] + [0.5 if r["violations"] else 0.0]) / 0.5,
        )
        ps = [r[f"{m}_p"] for m in ("response_time", "error_rate", "satisfaction")]
        conf = 1 - min([p for p in ps if math.isfinite(p)] + [1.0])
        reach = (
            1.0
            if r["kind"] != "model_version"
            else ctx.reach.get(f"ai_requests[{r['scope']}]", 1.0)
        )
        concern = 1.0 if r["violations"] or r["regressions"] else 0.25
        floor = "critical" if r["rollback_recommended"] else "high" if concern == 1.0 else None
        problems = ", ".join(dict.fromkeys(r["violations"] + r["regressions"]))
        recs = (
            [f"Roll back {what} ({problems})."]
            if r["rollback_recommended"]
            else [f"Alert the owners of {what}: {problems}."]
            if concern == 1.0
            else [f"Keep {what}; consider rolling it out further."]
        )
        out.append(
            _insight(
                "deployment",
                f"deployment:{r['deployment']}",
                effect * conf * reach * concern,
                f"Deployment {what}: {r['status']}"
                + (
                    " ("
                    + ", ".join(
                        dict.fromkeys(r["violations"] + r["regressions"] + r["improvements"])
                    )
                    + ")"
                    if r["violations"] or r["regressions"] or r["improvements"]
                    else ""
                ),
                desc,
                ["neuroweaver"],
                [
                    f"ai_p95_latency[{r['scope']}]" if r["scope"] else "ai_p95_latency",
                    "ai_error_rate",
                    "ai_mean_rating",
                ],
                {
                    "test": "Welch t-test on daily values, window vs baseline",
                    "deployment": r["deployment"],
                    "n": {
                        "baseline_days": r["baseline_days"],
                        "window_days": r["window_days"],
                        "requests_before": r["requests_before"],
                        "requests_after": r["requests_after"],
                    },
                    "p_value": {
                        m: r[f"{m}_p"] for m in ("response_time", "error_rate", "satisfaction")
                    },
                    "values": {
                        k: r[k]
                        for k in (
                            "response_time_before",
                            "response_time_after",
                            "error_rate_before",
                            "error_rate_after",
                            "satisfaction_before",
                            "satisfaction_after",
                            "throughput_before",
                            "throughput_after",
                            "system_health_after",
                        )
                    },
                    "violations": r["violations"],
                    "preexisting": r["preexisting"],
                    "regressions": r["regressions"],
                    "improvements": r["improvements"],
                    "rollback_recommended": r["rollback_recommended"],
                    "affected": {"count": r["requests_after"], "unit": "requests"},
                },
                recs,
                when,
                None,
                severity_floor=floor,
            )
        )
    return out


def _correlation_insights(ctx: _Context) -> list[dict[str, Any]]:
    if ctx.correlations is None:
        return []
    out = []
    for c in ctx.correlations.correlations():
        if not c.significant:
            continue
        mx, my = _meta(c.x.partition("[")[0]), _meta(c.y.partition("[")[0])
        concern = _correlation_concern(
            mx.up_is_good if mx else None, my.up_is_good if my else None, c.r
        )
        score = abs(c.r) * (1 - c.q_value) * concern
        unit = ctx.correlations.params.get("grain", "period")
        if c.lag:
            relation = (
                f"{_label(c.leader)} leads {_label(c.follower)} by {abs(c.lag)} {unit}"
                f"{'s' if abs(c.lag) > 1 else ''}"
            )
        else:
            relation = f"{_label(c.x)} and {_label(c.y)} move together"
        sense = "in the same direction" if c.r > 0 else "in opposite directions"
        granger = ""
        if math.isfinite(c.granger_x_to_y_p):
            granger = (
                f" Granger tests: {_label(c.x)} → {_label(c.y)} p = {_p(c.granger_x_to_y_p)}, "
                f"{_label(c.y)} → {_label(c.x)} p = {_p(c.granger_y_to_x_p)}."
            )
        desc = (
            f"{relation} ({sense}): {c.method} r = {c.r:+.2f} (95% block-bootstrap CI "
            f"{c.ci[0]:+.2f} to {c.ci[1]:+.2f}), n = {c.n} (effective {c.n_eff:.0f}), "
            f"p = {_p(c.p_value)}, q = {_p(c.q_value)} over "
            f"{ctx.correlations.params.get('n_tests')} pair-lag tests, on "
            f"{c.detrend_x}-detrended series.{granger} Correlation is not causation."
        )
        lead = c.leader or c.x
        recs = [
            f"Test whether improving {_label(lead)} moves {_label(c.follower or c.y)}: an "
            "experiment or a natural experiment around a deploy.",
            "Monitor the pair: a break in the relationship is itself a signal.",
        ]
        pair = sorted([c.x, c.y])
        out.append(
            _insight(
                "correlation",
                f"correlation:{pair[0]}~{pair[1]}",
                score,
                f"{relation} (r = {c.r:+.2f})",
                desc,
                [c.system_x, c.system_y],
                [c.x, c.y],
                {
                    "test": f"{c.method} with Bartlett n_eff, BH over pairs and lags",
                    "n": c.n,
                    "n_eff": c.n_eff,
                    "statistic": c.r,
                    "lag": c.lag,
                    "leader": c.leader,
                    "follower": c.follower,
                    "p_value": c.p_value,
                    "q_value": c.q_value,
                    "interval": list(c.ci),
                    "granger_p": [c.granger_x_to_y_p, c.granger_y_to_x_p],
                    "detrend": [c.detrend_x, c.detrend_y],
                },
                recs,
                ctx.rng.start,
                ctx.rng.end,
            )
        )
    return out


def _correlation_concern(up_x: bool | None, up_y: bool | None, r: float) -> float:
    """1: a bad-if-up metric moves against a good-if-up one; 0.5: two bad-if-up metrics rise
    together; else 0.25 (see the module notes)."""
    if {up_x, up_y} == {True, False}:
        return 1.0 if r < 0 else 0.25
    if up_x is False and up_y is False and r > 0:
        return 0.5
    return 0.25


def _cost_insights(ctx: _Context) -> list[dict[str, Any]]:
    try:
        from auterity_lab.ml import suggestions
    except ImportError:  # the ML package is optional: no cost insights without it
        return []
    found = suggestions.optimization_suggestions(
        ctx.wb, **ctx.rng.params(), alpha=ctx.levels["cost_optimization"], kinds=_COST_SUGGESTIONS
    )
    cost = ctx.series[(ctx.series["metric"] == "ai_cost") & (ctx.series["segment"] == "")]
    monthly_cost = float(cost["value"].sum()) * 30.0 / max(ctx.rng.days, 1e-9)
    out = []
    for r in found.to_dict("records"):
        saving = float(r["estimated_monthly_savings_usd"] or 0.0)
        if saving <= 0:
            continue
        share = min(1.0, saving / monthly_cost) if monthly_cost > 0 else 1.0
        q = (
            float(r["q_value"])
            if r["q_value"] is not None and math.isfinite(r["q_value"])
            else math.nan
        )
        confidence = 1 - q if math.isfinite(q) else 0.5  # no test behind it (a count): halved
        reach = ctx.reach.get(f"ai_requests[{r['model_id']}]", 1.0)
        evidence = json.loads(r["evidence"]) if isinstance(r["evidence"], str) else {}
        version = evidence.get("prompt_version")  # one suggestion per prompt (hash, version)
        key = f"cost_optimization:{r['kind']}:{r['model_id']}:{r['target']}"
        out.append(
            _insight(
                "cost_optimization",
                f"{key}:{version}" if version else key,
                share * confidence * reach,
                r["title"],
                f"{r['description']} Estimated saving {fmt_value(saving, 'USD')} per 30 days "
                f"({share:.0%} of the AI cost).",
                ["neuroweaver"],
                [f"ai_cost[{r['model_id']}]"],
                {
                    "test": evidence.get("test", r["kind"]),
                    "n": r["n"],
                    "statistic": r["effect"],
                    "p_value": r["p_value"],
                    "q_value": r["q_value"],
                    "interval": [r["ci_low"], r["ci_high"]],
                    "monthly_savings_usd": saving,
                    "monthly_ai_cost_usd": monthly_cost,
                    "source": "auterity_lab.ml.suggestions",
                    "details": evidence,
                },
                [r["title"] + "."],
                ctx.rng.start,
                ctx.rng.end,
            )
        )
    return out


_COST_SUGGESTIONS = ("cheaper_model", "cap_output_tokens", "cache_repeated_prompts")
"""Suggestions of :mod:`auterity_lab.ml.suggestions` that save money (a latency regression is
the deployment check's business)."""


def _experiment_insights(ctx: _Context) -> list[dict[str, Any]]:
    try:
        from auterity_lab.ml import experiments
    except ImportError:  # the ML package is optional: no experiment insights without it
        return []
    listed = experiments.list_experiments(ctx.wb)
    readouts = []
    for key in listed["experiment_key"]:
        effects = experiments.analyze_experiment(ctx.wb, key=key, **ctx.rng.params()).effects
        readouts += [(key, r) for r in effects[effects["primary"]].to_dict("records")]
    # the ML readout adjusts within an experiment; here BH runs across all experiments too
    q_all = bh_qvalues([r["p_value"] for _, r in readouts])
    out = []
    for (key, r), q in zip(readouts, q_all, strict=True):
        if not (math.isfinite(q) and q < ctx.levels["experiment"]):
            continue
        better = (r["difference"] > 0) == bool(r["higher_is_better"])
        desc = (
            f"Experiment {key}: {r['variant']} against {r['control']} on its primary metric "
            f"{r['metric']}: {r['value_variant']:.3g} vs {r['value_control']:.3g} "
            f"(difference {r['difference']:+.3g}, 95% CI {r['ci_low']:+.3g} to "
            f"{r['ci_high']:+.3g}; lift {_pct(r['lift'])}), "
            f"{r['users_variant']} and {r['users_control']} users, p = {_p(r['p_value'])}, "
            f"q = {_p(q)} across the {len(readouts)} primary comparisons of all "
            "experiments."
        )
        out.append(
            _insight(
                "experiment",
                f"experiment:{key}:{r['variant']}",
                min(1.0, abs(r["lift"]) / 0.2) * (1 - q) * (0.25 if better else 1.0),
                f"{key}: {r['variant']} {'beats' if better else 'loses to'} {r['control']} on "
                f"{r['metric']} ({_pct(r['lift'])})",
                desc,
                ["neuroweaver", "auterity"],
                [r["metric"]],
                {
                    "test": "delta-method z-test (auterity_lab.ml.experiments)",
                    "experiment": key,
                    "n": {"variant": r["users_variant"], "control": r["users_control"]},
                    "statistic": r["z"],
                    "p_value": r["p_value"],
                    "q_value": float(q),
                    "interval": [r["ci_low"], r["ci_high"]],
                    "lift": r["lift"],
                },
                [
                    f"Roll {r['variant']} of {key} out to everyone."
                    if better
                    else f"Stop {r['variant']} of {key}: it does worse than {r['control']}."
                ],
                ctx.rng.start,
                ctx.rng.end,
            )
        )
    return out


_BUILDERS: dict[str, Callable[[_Context], list[dict[str, Any]]]] = {
    "anomaly": _anomaly_insights,
    "trend": _trend_insights,
    "change_point": _change_point_insights,
    "deployment": _deployment_insights,
    "correlation": _correlation_insights,
    "cost_optimization": _cost_insights,
    "experiment": _experiment_insights,
}


# ====================================================================== lifecycle
def list_insights(
    wb: Workbench, /, *, status: str | None = None, state: StateStore | None = None
) -> pd.DataFrame:
    """The tenant's stored insights, most severe first (optionally of one status).

    Returns
    -------
    DataFrame
        The ``unified_insights`` columns: ``id``, ``tenant_id``, ``insight_key``,
        ``insight_type``, ``title``, ``description``, ``severity``, ``affected_systems``,
        ``metrics`` (series, evidence, score, parameters), ``recommendations``, ``status``,
        ``created_at``, ``updated_at``.

    Examples
    --------
    >>> list_insights(wb, status="active")[["severity", "title"]]               # doctest: +SKIP
    """
    return (state or StateStore.for_data_dir(wb.data_dir)).insights(wb.tenant, status=status)


def update_insight(
    wb: Workbench, /, insight: str, *, action: str, state: StateStore | None = None
) -> pd.Series:
    """Apply ``acknowledge``, ``resolve`` or ``dismiss`` to an insight (by id or key).

    Raises
    ------
    auterity_lab.state.InsightNotFoundError, auterity_lab.state.InvalidTransitionError

    Examples
    --------
    >>> update_insight(wb, "trend:new_users", action="acknowledge")["status"]   # doctest: +SKIP
    'acknowledged'
    """
    return (state or StateStore.for_data_dir(wb.data_dir)).set_insight_status(
        wb.tenant, insight, action
    )


def acknowledge(wb: Workbench, /, insight: str, *, state: StateStore | None = None) -> pd.Series:
    """Mark an insight acknowledged (active → acknowledged); see :func:`update_insight`."""
    return update_insight(wb, insight, action="acknowledge", state=state)


def resolve(wb: Workbench, /, insight: str, *, state: StateStore | None = None) -> pd.Series:
    """Mark an insight resolved (final); see :func:`update_insight`."""
    return update_insight(wb, insight, action="resolve", state=state)


def dismiss(wb: Workbench, /, insight: str, *, state: StateStore | None = None) -> pd.Series:
    """Dismiss an insight (final: re-runs keep it dismissed); see :func:`update_insight`."""
    return update_insight(wb, insight, action="dismiss", state=state)


def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("auterity-lab")
    except PackageNotFoundError:  # a bare checkout
        return "0.0.0+unknown"
