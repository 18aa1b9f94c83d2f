"""Statistics with honest evidence: lagged cross-system correlations, and the tests insights use.

Correlations (the spec's ``calculateCorrelations``)
---------------------------------------------------
:func:`correlate` takes plain series (a frame: one column per series, one row per period) and
tests every pair at every lag in ``[-max_lag, max_lag]``:

1. **Scale**: each series is put on its analysis scale (``log`` for latency and duration,
   ``log1p`` for counts and money, ``linear`` for rates), so multiplicative effects become
   additive. Interior gaps are interpolated linearly (the count is reported); a series with more
   than a quarter of its periods missing, or fewer than ``min_periods``, is left out.
2. **Detrend and deseasonalise** (default ``"stl"``): the residual of a robust STL decomposition
   with the weekly period (7 days; 24 for hourly series) is what gets correlated, because
   trending or seasonal series correlate spuriously. ``"seasonal_diff"`` uses
   ``x[t] - x[t - period]`` instead (also the fallback when a series is shorter than two periods
   plus one), ``"none"`` only centres. The method used is reported per series.
3. **Test**: Pearson and Spearman at each lag; lag ``k > 0`` pairs ``x[t]`` with ``y[t + k]``
   (x leads y by k periods). Residuals are still autocorrelated, so p-values use Bartlett's
   effective sample size ``n_eff = n / (1 + 2 Σ_k (1 - k/n) ρx(k) ρy(k))`` (k up to n/5) in a
   t-test with ``n_eff - 2`` degrees of freedom, for both coefficients (Spearman on ranks).
   When a pair's circular-shift null (``y`` rotated against ``x`` by every shift beyond the lag
   range) is wider than Bartlett's formula says, its smaller ``n_eff = 1 + 1 / mean(r²)`` is
   used instead: estimated autocorrelations of short series understate the dependence.
4. **Multiple testing**: Benjamini–Hochberg q-values over every pair *and* lag tested, with the
   primary method's p-values (``method``, Spearman by default: robust to one-day outliers).
5. **Per pair**: the best lag (smallest p; ties to the smaller ``|lag|``), a seeded moving-block
   bootstrap percentile interval of the coefficient at that lag (block length ``⌈n^(1/3)⌉``), and
   for significant pairs a Granger causality F-test in both directions (statsmodels, lag order
   ``max(1, |lag|)``, on the detrended series). The interval is computed at the selected lag and
   is therefore optimistic (winner's curse); q-values are not.

The other tests used by :mod:`auterity_lab.insights`: :func:`robust_z` (anomalies),
:func:`mann_kendall` with :func:`theil_sen` (trends), :func:`cusum_change_point` (level shifts),
:func:`welch` (before/after comparisons) and :func:`bh_qvalues`.

Examples
--------
>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(1)
>>> lat = rng.normal(size=120)
>>> frame = pd.DataFrame({"latency": lat,
...                       "duration": -0.6 * np.r_[0.0, lat[:-1]] + rng.normal(size=120)})
>>> res = correlate(frame, systems={"latency": "neuroweaver", "duration": "auterity"}, n_boot=200)
>>> best = res.correlations()[0]
>>> best.leader, best.follower, best.lag, best.r < 0, best.q_value < 0.05
('latency', 'duration', 1, True, True)
"""

from __future__ import annotations

import functools
import math
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from scipy import signal as sps_signal
from scipy import stats as sps

from auterity_lab.arguments import check_count, check_share, numbers
from auterity_lab.cache import cached
from auterity_lab.errors import QueryParameterError
from auterity_lab.metrics import (
    CATALOG,
    metric_series,
    pivot_series,
    provided_identity,
    split_series_name,
    transform,
)
from auterity_lab.multiple_testing import bh_qvalues
from auterity_lab.periods import DateRange
from auterity_lab.schema import source_tables
from auterity_lab.state import StateStore, stable_id, to_json

if TYPE_CHECKING:
    from auterity_lab.warehouse import Workbench

Detrend = Literal["stl", "seasonal_diff", "none"]
Method = Literal["spearman", "pearson"]

DETRENDS: tuple[str, ...] = ("stl", "seasonal_diff", "none")
METHODS: tuple[str, ...] = ("spearman", "pearson")
PERIODS = {"day": 7, "hour": 24}
"""Seasonal period by grain: weekly for daily series, daily for hourly ones."""

MAX_MISSING_SHARE = 0.25
"""A series with a larger share of missing periods is not analysed."""

PAIR_COLUMNS = (
    "x",
    "y",
    "system_x",
    "system_y",
    "leader",
    "follower",
    "lag",
    "n",
    "n_eff",
    "method",
    "r",
    "p_value",
    "q_value",
    "ci_low",
    "ci_high",
    "pearson_r",
    "pearson_p",
    "spearman_r",
    "spearman_p",
    "detrend_x",
    "detrend_y",
    "granger_x_to_y_p",
    "granger_y_to_x_p",
    "significant",
)
"""Columns of :attr:`CorrelationResult.pairs`."""

TEST_COLUMNS = (
    "x",
    "y",
    "system_x",
    "system_y",
    "lag",
    "n",
    "n_eff",
    "pearson_r",
    "pearson_p",
    "spearman_r",
    "spearman_p",
    "p_value",
    "q_value",
    "significant",
)
"""Columns of :attr:`CorrelationResult.tests`."""

SERIES_COLUMNS = ("series", "system", "scale", "detrend", "n", "filled", "skipped")
"""Columns of :attr:`CorrelationResult.series`."""


# =============================================================================== results
@dataclass(frozen=True)
class Correlation:
    """One pair of series at its best lag, with its evidence.

    ``lag > 0`` means ``x`` leads ``y`` by ``lag`` periods (``x[t]`` goes with ``y[t + lag]``);
    ``r`` is the primary method's coefficient, ``ci`` its bootstrap interval.
    """

    x: str
    y: str
    system_x: str
    system_y: str
    lag: int
    n: int
    n_eff: float
    method: str
    r: float
    p_value: float
    q_value: float
    ci: tuple[float, float]
    pearson_r: float
    spearman_r: float
    detrend_x: str
    detrend_y: str
    granger_x_to_y_p: float
    granger_y_to_x_p: float
    significant: bool

    @property
    def leader(self) -> str | None:
        """The series that moves first (None at lag 0)."""
        return self.x if self.lag > 0 else self.y if self.lag < 0 else None

    @property
    def follower(self) -> str | None:
        """The series that moves ``|lag|`` periods later (None at lag 0)."""
        return self.y if self.lag > 0 else self.x if self.lag < 0 else None


@dataclass(frozen=True)
class CorrelationResult:
    """Everything :func:`correlate` computed.

    Attributes
    ----------
    pairs
        One row per pair at its best lag, most significant first; columns :data:`PAIR_COLUMNS`
        (``leader``/``follower`` are None at lag 0; ``ci_low``/``ci_high`` NaN when
        ``n_boot == 0``; Granger p-values NaN for pairs that are not significant).
    tests
        One row per pair and lag tested (the Benjamini–Hochberg family); columns
        :data:`TEST_COLUMNS`.
    series
        One row per input series: how it was prepared, or why it was skipped; columns
        :data:`SERIES_COLUMNS`.
    params
        The options used (method, detrend, max_lag, alpha, n_boot, seed, ...).
    """

    pairs: pd.DataFrame
    tests: pd.DataFrame
    series: pd.DataFrame
    params: dict[str, Any] = field(default_factory=dict)

    def correlations(self) -> tuple[Correlation, ...]:
        """The pairs as typed records, in the order of :attr:`pairs`."""
        return tuple(
            Correlation(
                x=r.x,
                y=r.y,
                system_x=r.system_x,
                system_y=r.system_y,
                lag=int(r.lag),
                n=int(r.n),
                n_eff=float(r.n_eff),
                method=r.method,
                r=float(r.r),
                p_value=float(r.p_value),
                q_value=float(r.q_value),
                ci=(float(r.ci_low), float(r.ci_high)),
                pearson_r=float(r.pearson_r),
                spearman_r=float(r.spearman_r),
                detrend_x=r.detrend_x,
                detrend_y=r.detrend_y,
                granger_x_to_y_p=float(r.granger_x_to_y_p),
                granger_y_to_x_p=float(r.granger_y_to_x_p),
                significant=bool(r.significant),
            )
            for r in self.pairs.itertuples(index=False)
        )

    def significant(self) -> pd.DataFrame:
        """The rows of :attr:`pairs` with ``q_value < alpha``."""
        return self.pairs[self.pairs["significant"]].reset_index(drop=True)


@dataclass(frozen=True)
class Prepared:
    """A series ready for correlation: residual after detrending, and how it was made."""

    resid: np.ndarray
    detrend: str
    filled: int


@dataclass(frozen=True)
class Decomposition:
    """A series split into trend, seasonal and residual parts (``x = trend + seasonal + resid``)."""

    trend: np.ndarray
    seasonal: np.ndarray
    resid: np.ndarray
    method: str


@dataclass(frozen=True)
class MannKendall:
    """Mann–Kendall trend test with an autocorrelation correction (see :func:`mann_kendall`).

    ``s`` is Kendall's S, ``tau`` = S / (n(n-1)/2), ``z`` the continuity-corrected statistic
    with the variance inflated by ``variance_factor`` (n/n*), ``p_value`` two-sided.
    """

    n: int
    s: float
    tau: float
    z: float
    p_value: float
    variance_factor: float


@dataclass(frozen=True)
class TheilSen:
    """Theil–Sen slope (per period) with its confidence interval and intercept."""

    slope: float
    intercept: float
    low: float
    high: float


@dataclass(frozen=True)
class ChangePoint:
    """The most likely single level shift of a series and its CUSUM test.

    ``index`` is the first period after the shift; ``statistic`` is the CUSUM maximum scaled by
    the long-run standard deviation; ``p_value`` comes from its Kolmogorov limit, so it accounts
    for the search over every split. ``before``/``after`` are the segment means.
    """

    index: int
    statistic: float
    p_value: float
    before: float
    after: float
    bic_step: float
    bic_linear: float
    bic_constant: float


@dataclass(frozen=True)
class Welch:
    """Welch two-sample t-test of ``after - before`` with its confidence interval."""

    difference: float
    t: float
    df: float
    p_value: float
    low: float
    high: float


# ============================================================================ correlations
def correlate(
    values: pd.DataFrame,
    /,
    *,
    systems: Mapping[str, str] | None = None,
    scales: Mapping[str, str] | None = None,
    pairs: Iterable[tuple[str, str]] | None = None,
    max_lag: int = 7,
    method: Method = "spearman",
    detrend: Detrend = "stl",
    period: int = 7,
    alpha: float = 0.05,
    n_boot: int = 999,
    ci_level: float = 0.95,
    seed: int = 0,
    granger: bool = True,
    min_periods: int | None = None,
) -> CorrelationResult:
    """Test every pair of series at every lag in ``[-max_lag, max_lag]``.

    Parameters
    ----------
    values
        One column per series, one row per period in time order (a regular grid; NaN where a
        period has no value).
    systems
        Series name → system. When given, only pairs from different systems are tested (and
        series missing from it are an error); when None, every pair is.
    scales
        Series name → ``log``, ``log1p`` or ``linear`` (the default).
    pairs
        Test only these ``(x, y)`` pairs instead.
    max_lag
        Largest lead/lag tested, in periods.
    method
        Which coefficient's p-values form the BH family, pick the best lag and are bootstrapped.
    detrend
        ``stl`` (default), ``seasonal_diff`` or ``none``; see the module notes.
    period
        Seasonal period in rows (7 for daily series).
    alpha
        FDR level: a pair is significant when its q-value is below it.
    n_boot
        Bootstrap resamples for the interval (0 skips it).
    ci_level
        Coverage of the interval.
    seed
        Seed of the bootstrap (each pair draws from its own stream, so results do not depend on
        the order of columns).
    granger
        Run Granger tests for the significant pairs.
    min_periods
        Fewest non-missing periods a series needs (default ``max(14, 2 * period)``).

    Returns
    -------
    CorrelationResult

    Raises
    ------
    QueryParameterError
        A bad option, or ``systems``/``pairs`` naming a series that is not a column.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> f = pd.DataFrame(rng.normal(size=(60, 3)), columns=["a", "b", "c"])
    >>> res = correlate(f, n_boot=0)
    >>> len(res.tests), len(res.pairs), res.series["detrend"].tolist()
    (45, 3, ['stl', 'stl', 'stl'])
    """
    _check_options(method, detrend, max_lag, alpha, n_boot, ci_level, period)
    if not isinstance(values, pd.DataFrame):
        raise QueryParameterError(f"values must be a DataFrame, not {type(values).__name__}")
    for name, mapping in (("systems", systems), ("scales", scales)):
        if mapping is not None and not isinstance(mapping, Mapping):
            raise QueryParameterError(
                f"{name} must map series names to text, not {type(mapping).__name__}"
            )
    columns = [str(c) for c in values.columns]
    frame = values.set_axis(columns, axis=1)
    system_of = _systems(columns, systems)
    scale_of = {c: (scales or {}).get(c, "linear") for c in columns}
    if min_periods is None:
        min_periods = max(14, 2 * period)
    min_periods = check_count("min_periods", min_periods, minimum=3)
    prepared: dict[str, Prepared] = {}
    series_rows = []
    for col in columns:
        x = transform(frame[col].to_numpy(dtype=float), scale_of[col])  # type: ignore[arg-type]
        prep, reason = _prepare(x, detrend=detrend, period=period, min_periods=min_periods)
        if prep is not None:
            prepared[col] = prep
        series_rows.append(
            {
                "series": col,
                "system": system_of.get(col, ""),
                "scale": scale_of[col],
                "detrend": prep.detrend if prep else None,
                "n": int(np.isfinite(x).sum()),
                "filled": prep.filled if prep else 0,
                "skipped": reason,
            }
        )
    todo = _pairs(columns, system_of, pairs, systems is not None)
    todo = [(a, b) for a, b in todo if a in prepared and b in prepared]
    acf = {c: _acf(p.resid) for c, p in prepared.items()}
    acf_rank = {c: _acf(_ranks(p.resid)) for c, p in prepared.items()}
    rows = []
    for a, b in todo:
        shift_n = _shift_n_eff(prepared[a].resid, prepared[b].resid, max_lag)
        for lag in range(-max_lag, max_lag + 1):
            xa, yb = _align(prepared[a].resid, prepared[b].resid, lag)
            row = _test(a, b, lag, xa, yb, acf, acf_rank, system_of)
            row["n_eff"] = min(row["n_eff"], shift_n[0])
            row["n_eff_rank"] = min(row["n_eff_rank"], shift_n[1])
            rows.append(row)
    tests = pd.DataFrame(
        rows,
        columns=[
            "x",
            "y",
            "system_x",
            "system_y",
            "lag",
            "n",
            "n_eff",
            "n_eff_rank",
            "pearson_r",
            "spearman_r",
        ],
    )
    tests["pearson_p"] = correlation_pvalues(tests["pearson_r"], tests["n_eff"])
    tests["spearman_p"] = correlation_pvalues(tests["spearman_r"], tests["n_eff_rank"])
    tests["p_value"] = tests[f"{method}_p"].astype(float)
    tests["q_value"] = bh_qvalues(tests["p_value"].to_numpy())
    tests["significant"] = tests["q_value"] < alpha
    tests = tests[list(TEST_COLUMNS)]
    pairs_frame = _best_lags(tests, prepared, method, alpha, n_boot, ci_level, seed, granger)
    params = {
        "method": method,
        "detrend": detrend,
        "max_lag": max_lag,
        "period": period,
        "alpha": alpha,
        "n_boot": n_boot,
        "ci_level": ci_level,
        "seed": seed,
        "granger": granger,
        "min_periods": min_periods,
        "n_tests": int(tests["p_value"].notna().sum()),
    }
    return CorrelationResult(
        pairs=pairs_frame,
        tests=tests.reset_index(drop=True),
        series=pd.DataFrame(series_rows, columns=list(SERIES_COLUMNS)),
        params=params,
    )


def correlations(
    wb: Workbench,
    /,
    *,
    start: Any,
    end: Any,
    grain: Literal["day", "hour"] = "day",
    metrics: Iterable[str] | None = None,
    segments: bool = False,
    max_lag: int = 7,
    method: Method = "spearman",
    detrend: Detrend = "stl",
    alpha: float = 0.05,
    n_boot: int = 999,
    seed: int = 0,
    granger: bool = True,
    store: bool = True,
    state: StateStore | None = None,
) -> CorrelationResult:
    """Correlate every cross-system pair of the tenant's metric series over ``[start, end)``.

    The metric series come from :func:`auterity_lab.metrics.metric_series` (tenant-level, or
    per segment too with ``segments=True``), each on its catalog scale; pairs of metrics of the
    same system are not tested. The options are those of :func:`correlate` (the seasonal period
    follows the grain: 7 days, 24 hours).

    Parameters
    ----------
    store
        Write every pair to ``system_correlations`` (:func:`correlation_records`); a re-run
        over the same range and options replaces its rows.
    state
        The store to write to; default: the one of the workbench's data directory.

    Returns
    -------
    CorrelationResult
        As :func:`correlate`; ``params`` also records ``start``, ``end``, ``grain``,
        ``tenant`` and ``revenue`` (the tenant's revenue over the range, used by
        :func:`business_value`).

    Examples
    --------
    >>> res = correlations(wb, start="2026-07-04", end="2026-11-01", n_boot=200)  # doctest: +SKIP
    >>> res.significant()[["leader", "follower", "lag", "r", "q_value"]].head(3)  # doctest: +SKIP
    """
    rng = DateRange.of(start, end)
    if grain not in PERIODS:
        raise QueryParameterError(f"grain must be one of {', '.join(PERIODS)}, not {grain!r}")
    out = _correlations(
        wb,
        start=rng.start,
        end=rng.end,
        grain=grain,
        metrics=None if metrics is None else list(metrics),
        segments=segments,
        max_lag=max_lag,
        method=method,
        detrend=detrend,
        alpha=alpha,
        n_boot=n_boot,
        seed=seed,
        granger=granger,
        provided=provided_identity(wb),
    )
    if store:
        (state or StateStore.for_data_dir(wb.data_dir)).save_correlations(
            correlation_records(out, tenant=wb.tenant)
        )
    return out


@cached("correlations", tables=[t.qualified_name for t in source_tables()], relations=[])
def _correlations(
    wb: Workbench,
    /,
    *,
    start: Any,
    end: Any,
    grain: Literal["day", "hour"],
    metrics: list[str] | None,
    segments: bool,
    max_lag: int,
    method: Method,
    detrend: Detrend,
    alpha: float,
    n_boot: int,
    seed: int,
    granger: bool,
    provided: str,
) -> CorrelationResult:
    """:func:`correlations` without storing: the part the result cache keeps (``provided``:
    :func:`~auterity_lab.metrics.provided_identity`, the AI prices its key names)."""
    rng = DateRange.of(start, end)
    series = metric_series(wb, **rng.params(), grain=grain, metrics=metrics, segments=segments)
    wide = pivot_series(series) if not series.empty else pd.DataFrame()
    systems = {c: CATALOG[split_series_name(c)[0]].system for c in wide.columns}
    scales = {c: CATALOG[split_series_name(c)[0]].scale for c in wide.columns}
    result = correlate(
        wide,
        systems=systems,
        scales=scales,
        max_lag=max_lag,
        method=method,
        detrend=detrend,
        period=PERIODS[grain],
        alpha=alpha,
        n_boot=n_boot,
        seed=seed,
        granger=granger,
    )
    revenue = float(
        series.loc[(series["metric"] == "revenue") & (series["segment"] == ""), "value"]
        .fillna(0)
        .sum()
    )
    params = result.params | {
        "start": rng.start.isoformat(),
        "end": rng.end.isoformat(),
        "grain": grain,
        "segments": segments,
        "revenue": revenue,
        "tenant": wb.tenant,
        "data_version": wb.fingerprint(),
        "package_version": _package_version(),
    }
    return CorrelationResult(result.pairs, result.tests, result.series, params)


def correlation_records(result: CorrelationResult, *, tenant: str) -> pd.DataFrame:
    """The pairs of a result as ``system_correlations`` rows (spec §4.1 columns).

    ``correlation_type`` is ``lagged`` or ``contemporaneous``; ``systems`` the two systems;
    ``correlation_value`` the primary coefficient at the best lag; ``confidence`` is
    ``1 - q``; ``business_value`` follows :func:`business_value`; ``metadata`` holds the
    evidence (series, leader and follower, lag, n, n_eff, both coefficients and p-values, q,
    interval, detrending, Granger p-values, the options, range, data and package version). The
    id is derived from tenant, pair, range and options, so a re-run replaces its rows.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(1)
    >>> f = pd.DataFrame({"a": rng.normal(size=40), "b": rng.normal(size=40)})
    >>> rows = correlation_records(correlate(f, n_boot=0), tenant="acme")
    >>> rows[["correlation_type", "systems"]].iloc[0].tolist()[1]
    '["", ""]'
    """
    p = result.params
    now = pd.Timestamp.now(tz="UTC").floor("us")
    revenue = float(p.get("revenue", math.nan))
    rows = []
    for c in result.correlations():
        evidence = {
            "x": c.x,
            "y": c.y,
            "leader": c.leader,
            "follower": c.follower,
            "lag": c.lag,
            "lag_unit": p.get("grain", "period"),
            "n": c.n,
            "n_eff": c.n_eff,
            "method": c.method,
            "r": c.r,
            "pearson_r": c.pearson_r,
            "spearman_r": c.spearman_r,
            "p_value": c.p_value,
            "q_value": c.q_value,
            "ci": list(c.ci),
            "ci_level": p.get("ci_level"),
            "detrend": {c.x: c.detrend_x, c.y: c.detrend_y},
            "granger_p": {f"{c.x}->{c.y}": c.granger_x_to_y_p, f"{c.y}->{c.x}": c.granger_y_to_x_p},
            "significant": c.significant,
            "alpha": p.get("alpha"),
            "n_tests": p.get("n_tests"),
            "max_lag": p.get("max_lag"),
            "seed": p.get("seed"),
            "start": p.get("start"),
            "end": p.get("end"),
            "business_value_rule": "(1 - q) * r^2 * revenue of the range",
            "data_version": p.get("data_version"),
            "package_version": p.get("package_version"),
        }
        rows.append(
            {
                "id": stable_id(
                    "correlation",
                    tenant,
                    c.x,
                    c.y,
                    p.get("grain"),
                    p.get("start"),
                    p.get("end"),
                    c.method,
                    p.get("detrend"),
                    p.get("max_lag"),
                ),
                "tenant_id": tenant,
                "correlation_type": "lagged" if c.lag else "contemporaneous",
                "systems": to_json([c.system_x, c.system_y]),
                "correlation_value": round(c.r, 4),
                "confidence": round(min(1.0, max(0.0, 1.0 - c.q_value)), 4),
                "business_value": business_value(c.r, c.q_value, revenue),
                "metadata": to_json(evidence),
                "calculated_at": now,
            }
        )
    columns = [
        "id",
        "tenant_id",
        "correlation_type",
        "systems",
        "correlation_value",
        "confidence",
        "business_value",
        "metadata",
        "calculated_at",
    ]
    return pd.DataFrame(rows, columns=columns)


def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("auterity-lab")
    except PackageNotFoundError:  # a bare checkout
        return "0.0.0+unknown"


def business_value(r: float, q_value: float, revenue: float) -> float:
    """USD attached to a correlation: ``(1 - q) * r² * revenue`` (0 when anything is missing).

    The share of day-to-day variation the two series have in common (``r²``) applied to the
    tenant's revenue over the analysed range, discounted by the confidence ``1 - q``: the revenue
    whose movement the relationship could speak for. A sizing heuristic to rank pairs, not a
    causal estimate.

    Examples
    --------
    >>> business_value(-0.5, 0.01, 10_000.0)
    2475.0
    """
    if not all(math.isfinite(v) for v in (r, q_value, revenue)):
        return 0.0
    return round(max(0.0, 1.0 - q_value) * r * r * max(revenue, 0.0), 2)


# ================================================================= series preparation
def fill_gaps(values: Any) -> tuple[np.ndarray, int]:
    """Interpolate interior NaNs linearly and carry the nearest value to the ends.

    Returns the filled array and how many values were filled (all-NaN stays all-NaN).

    Examples
    --------
    >>> x, n = fill_gaps([np.nan, 1.0, np.nan, 3.0, np.nan])
    >>> x.tolist(), n
    ([1.0, 1.0, 2.0, 3.0, 3.0], 3)
    """
    x = np.asarray(values, dtype=float).copy()
    ok = np.isfinite(x)
    if ok.all() or not ok.any():
        return x, 0
    idx = np.arange(len(x))
    x[~ok] = np.interp(idx[~ok], idx[ok], x[ok])
    return x, int((~ok).sum())


def decompose(
    values: Any,
    *,
    period: int = 7,
    method: Literal["stl", "median", "moving_average", "none"] = "stl",
) -> Decomposition:
    """Trend, seasonal and residual parts of a gap-free series.

    ``stl``: statsmodels' robust STL (falls back to ``moving_average`` below ``2 * period + 1``
    values). ``median``: a robust classical decomposition: trend, the centred running median of
    one period; seasonal, the median of each phase of what is left (one weekly profile, centred);
    residual, the rest. ``moving_average``: the same with means. ``none``: everything but the
    mean is residual.

    Robust STL suits correlations (its residuals are ranked), not outlier scores: it follows the
    bulk so closely that its residuals are heavy-tailed relative to their median absolute
    deviation (kurtosis about 5 on white noise), and non-robust STL lets an outlier leak into the
    seasonal value of its own weekday. The ``median`` decomposition has neither problem and is
    what :mod:`auterity_lab.insights` scores anomalies on.

    Examples
    --------
    >>> t = np.arange(28.0)
    >>> d = decompose(10 + 0.5 * t + np.tile([3, 0, 0, 0, 0, 0, -3], 4), period=7)
    >>> d.method, bool(np.abs(d.resid).max() < 1e-6)
    ('stl', True)
    >>> spiky = 10 + np.tile([3.0, 0, 0, 0, 0, 0, -3], 8)
    >>> spiky[10] = 100
    >>> m = decompose(spiky, method="median")
    >>> m.seasonal[:7].round(6).tolist(), float(m.resid[10])
    ([3.0, 0.0, 0.0, 0.0, 0.0, 0.0, -3.0], 90.0)
    """
    x = numbers(values)
    if method not in ("stl", "median", "moving_average", "none"):
        raise QueryParameterError(
            f"method must be one of stl, median, moving_average, none, not {method!r}"
        )
    period = check_count("period", period, minimum=2)
    if method == "none":
        level = np.full_like(x, x.mean())
        return Decomposition(level, np.zeros_like(x), x - level, "none")
    if method == "stl" and len(x) >= 2 * period + 1:
        from statsmodels.tsa.seasonal import STL

        fit = STL(x, period=period, robust=True).fit()
        return Decomposition(
            np.asarray(fit.trend), np.asarray(fit.seasonal), np.asarray(fit.resid), "stl"
        )
    use_median = method == "median"
    rolling = pd.Series(x).rolling(period, center=True, min_periods=1)
    trend = (rolling.median() if use_median else rolling.mean()).to_numpy()
    phase = np.arange(len(x)) % period
    by_phase = pd.Series(x - trend).groupby(phase)
    # one value per phase seen (phases 0 .. min(period, n) - 1); unseen phases count as 0
    profile = (by_phase.median() if use_median else by_phase.mean()).to_numpy()
    seasonal = profile[phase] - profile.sum() / period
    return Decomposition(
        trend, seasonal, x - trend - seasonal, "median" if use_median else "moving_average"
    )


def _prepare(
    x: np.ndarray, *, detrend: str, period: int, min_periods: int
) -> tuple[Prepared | None, str | None]:
    finite = np.isfinite(x)
    if finite.sum() < min_periods:
        return None, f"only {int(finite.sum())} periods with a value (needs {min_periods})"
    if (~finite).mean() > MAX_MISSING_SHARE:
        return None, f"{(~finite).mean():.0%} of periods missing (max {MAX_MISSING_SHARE:.0%})"
    filled, n_filled = fill_gaps(x)
    if detrend == "stl" and len(filled) >= 2 * period + 1:
        resid, used = decompose(filled, period=period).resid, "stl"
    elif detrend == "none":
        resid, used = filled - filled.mean(), "none"
    else:
        if len(filled) <= period + 2:
            return None, f"too short for seasonal differencing ({len(filled)} periods)"
        resid, used = filled[period:] - filled[:-period], "seasonal_diff"
        resid = np.r_[np.full(period, np.nan), resid]
    core = resid[np.isfinite(resid)]
    if core.size < 3 or np.ptp(core) <= 1e-12 * max(1.0, np.abs(core).max()):
        return None, "constant after detrending"
    return Prepared(resid, used, n_filled), None


# ======================================================================= pair testing
def _check_options(
    method: str, detrend: str, max_lag: int, alpha: float, n_boot: int, ci_level: float, period: int
) -> None:
    problems = []
    if method not in METHODS:
        problems.append(f"method must be one of {', '.join(METHODS)}, not {method!r}")
    if detrend not in DETRENDS:
        problems.append(f"detrend must be one of {', '.join(DETRENDS)}, not {detrend!r}")
    if not isinstance(max_lag, int) or isinstance(max_lag, bool) or not 0 <= max_lag <= 60:
        problems.append(f"max_lag must be an integer in [0, 60], not {max_lag!r}")
    for name, value in (("alpha", alpha), ("ci_level", ci_level)):
        try:
            check_share(name, value, low=0, high=1)
        except QueryParameterError as exc:
            problems.append(str(exc))
    if not isinstance(n_boot, int) or n_boot < 0:
        problems.append(f"n_boot must be a non-negative integer, not {n_boot!r}")
    if not isinstance(period, int) or period < 2:
        problems.append(f"period must be an integer >= 2, not {period!r}")
    if problems:
        raise QueryParameterError("; ".join(problems))


def _systems(columns: list[str], systems: Mapping[str, str] | None) -> dict[str, str]:
    if systems is None:
        return {}
    missing = [c for c in columns if c not in systems]
    if missing:
        raise QueryParameterError(f"systems has no entry for series {', '.join(missing)}")
    return {c: str(systems[c]) for c in columns}


def _pairs(
    columns: list[str],
    system_of: dict[str, str],
    pairs: Iterable[tuple[str, str]] | None,
    cross_only: bool,
) -> list[tuple[str, str]]:
    if pairs is not None:
        chosen = [(str(a), str(b)) for a, b in pairs]
        unknown = sorted({s for p in chosen for s in p} - set(columns))
        if unknown:
            raise QueryParameterError(
                f"pairs name series that are not columns: {', '.join(unknown)}"
            )
        return chosen
    return [
        (a, b)
        for i, a in enumerate(columns)
        for b in columns[i + 1 :]
        if not cross_only or system_of[a] != system_of[b]
    ]


def _align(x: np.ndarray, y: np.ndarray, lag: int) -> tuple[np.ndarray, np.ndarray]:
    """``x[t]`` against ``y[t + lag]``, dropping periods where either is missing."""
    n = len(x)
    if lag >= 0:
        a, b = x[: n - lag], y[lag:]
    else:
        a, b = x[-lag:], y[: n + lag]
    ok = np.isfinite(a) & np.isfinite(b)
    return a[ok], b[ok]


def _ranks(x: np.ndarray) -> np.ndarray:
    """Ranks of the finite values, NaN kept in place."""
    out = np.full(len(x), np.nan)
    ok = np.isfinite(x)
    out[ok] = rank(x[ok])
    return out


def rank(x: np.ndarray) -> np.ndarray:
    """Average ranks (1-based; ties share their mean rank) of a 1-D array without NaN.

    The same as ``scipy.stats.rankdata``, without its per-call overhead (the correlation scan
    ranks thousands of short series).

    Examples
    --------
    >>> rank(np.array([3.0, 1.0, 3.0, 2.0])).tolist()
    [3.5, 1.0, 3.5, 2.0]
    """
    n = len(x)
    order = np.argsort(x, kind="mergesort")
    sorted_x = x[order]
    new = np.empty(n, dtype=bool)  # (np.r_ would cost more than the rest on short series)
    new[:1] = True
    np.not_equal(sorted_x[1:], sorted_x[:-1], out=new[1:])
    starts = np.append(np.flatnonzero(new), n)
    group = np.cumsum(new) - 1
    average = (starts[group] + starts[group + 1] + 1) / 2.0
    out = np.empty(n)
    out[order] = average
    return out


def _acf(x: np.ndarray) -> np.ndarray:
    """Autocorrelations at lags 1..n//5 of the finite values (gaps closed)."""
    v = np.asarray(x, dtype=float)
    v = v[np.isfinite(v)]
    n = len(v)
    k_max = max(1, n // 5)
    v = v - v.mean()
    denom = float(v @ v)
    if denom <= 0:
        return np.zeros(k_max)
    return np.array([float(v[: n - k] @ v[k:]) / denom for k in range(1, k_max + 1)])


def effective_n(n: int, acf_x: np.ndarray, acf_y: np.ndarray) -> float:
    """Bartlett's effective sample size of a correlation between two autocorrelated series.

    ``n / (1 + 2 Σ_k (1 - k/n) ρx(k) ρy(k))`` over the lags both ACFs cover, clipped to
    ``[3, n]``.

    Examples
    --------
    >>> round(effective_n(100, np.array([0.5, 0.25]), np.array([0.5, 0.25])), 1)
    61.8
    """
    k = min(len(acf_x), len(acf_y), max(1, n // 5))
    if n < 4 or k == 0:
        return float(n)
    lags = np.arange(1, k + 1)
    s = float(np.sum((1 - lags / n) * acf_x[:k] * acf_y[:k]))
    return float(np.clip(n / (1 + 2 * s), min(3.0, n), n))


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    a = a - a.mean()
    b = b - b.mean()
    denom = math.sqrt(float(a @ a) * float(b @ b))
    return float(a @ b) / denom if denom > 0 else math.nan


def _test(
    a: str,
    b: str,
    lag: int,
    xa: np.ndarray,
    yb: np.ndarray,
    acf: dict[str, np.ndarray],
    acf_rank: dict[str, np.ndarray],
    system_of: dict[str, str],
) -> dict[str, Any]:
    """Coefficients and effective sizes of one pair at one lag (p-values come later, in bulk)."""
    n = len(xa)
    row: dict[str, Any] = {
        "x": a,
        "y": b,
        "system_x": system_of.get(a, ""),
        "system_y": system_of.get(b, ""),
        "lag": lag,
        "n": n,
    }
    if n < 10:
        return row | {
            "n_eff": math.nan,
            "n_eff_rank": math.nan,
            "pearson_r": math.nan,
            "spearman_r": math.nan,
        }
    return row | {
        "n_eff": effective_n(n, acf[a], acf[b]),
        "n_eff_rank": effective_n(n, acf_rank[a], acf_rank[b]),
        "pearson_r": _corr(xa, yb),
        "spearman_r": _corr(rank(xa), rank(yb)),
    }


def _shift_n_eff(x: np.ndarray, y: np.ndarray, max_lag: int) -> tuple[float, float]:
    """Effective sizes of a pair from its circular-shift null (Pearson, Spearman).

    ``y`` is rotated against ``x`` by every shift more than ``max_lag`` periods from zero (a
    rotation keeps each series' own serial dependence and breaks their link); under no link
    ``E[r²] = 1 / (n_eff - 1)``, so ``n_eff = 1 + 1 / mean(r²)`` over the shifts. NaN when
    fewer than 20 shifts exist.
    """
    ok = np.isfinite(x) & np.isfinite(y)
    xs, ys = x[ok], y[ok]
    m = len(xs)
    shifts = np.arange(max_lag + 1, m - max_lag)
    if len(shifts) < 20:
        return math.nan, math.nan
    index = (shifts[:, None] + np.arange(m)[None, :]) % m
    out = []
    for a, b in ((xs, ys), (_ranks(xs), _ranks(ys))):
        a = a - a.mean()
        rotated = b[index] - b.mean()
        denom = math.sqrt(float(a @ a)) * np.sqrt((rotated * rotated).sum(axis=1))
        r = np.divide(rotated @ a, denom, out=np.zeros(len(shifts)), where=denom > 0)
        mean_sq = float(np.mean(r * r))
        out.append(1 + 1 / mean_sq if mean_sq > 0 else math.nan)
    return out[0], out[1]


def correlation_pvalues(r: Any, n_eff: Any) -> np.ndarray:
    """Two-sided p-values of correlations ``r`` with ``n_eff`` effective observations each.

    The t-test of a correlation, ``t = |r| sqrt((n_eff - 2) / (1 - r²))`` with ``n_eff - 2``
    degrees of freedom; NaN where ``r`` is NaN or ``n_eff <= 3``.

    Examples
    --------
    >>> correlation_pvalues([0.3, float("nan")], [50, 50]).round(4).tolist()
    [0.0343, nan]
    """
    try:
        r, ne = np.broadcast_arrays(np.asarray(r, dtype=float), np.asarray(n_eff, dtype=float))
    except (TypeError, ValueError) as exc:
        raise QueryParameterError(f"r and n_eff must be numbers of matching shapes: {exc}") from exc
    r = np.minimum(np.abs(r), 1 - 1e-15)
    ok = np.isfinite(r) & np.isfinite(ne) & (ne > 3)
    out = np.full(r.shape, np.nan)
    t = r[ok] * np.sqrt((ne[ok] - 2) / (1 - r[ok] ** 2))
    out[ok] = 2 * sps.t.sf(t, ne[ok] - 2)
    return out


def _best_lags(
    tests: pd.DataFrame,
    prepared: dict[str, Prepared],
    method: str,
    alpha: float,
    n_boot: int,
    ci_level: float,
    seed: int,
    granger: bool,
) -> pd.DataFrame:
    valid = tests[tests["p_value"].notna()]
    if valid.empty:
        return pd.DataFrame(columns=list(PAIR_COLUMNS))
    ranked = valid.assign(_abs_lag=valid["lag"].abs()).sort_values(
        ["x", "y", "p_value", "_abs_lag"], kind="stable"
    )
    best = ranked.groupby(["x", "y"], sort=False).head(1)
    rows = []
    for t in best.itertuples(index=False):
        xa, yb = _align(prepared[t.x].resid, prepared[t.y].resid, int(t.lag))
        lo, hi = block_bootstrap_ci(
            xa,
            yb,
            method=method,
            n_boot=n_boot,
            level=ci_level,
            seed=[seed, zlib.crc32(t.x.encode()), zlib.crc32(t.y.encode())],
        )
        gxy = gyx = math.nan
        if granger and t.q_value < alpha:
            gxy, gyx = granger_pvalues(prepared[t.x].resid, prepared[t.y].resid, max(1, abs(t.lag)))
        lag = int(t.lag)
        rows.append(
            {
                "x": t.x,
                "y": t.y,
                "system_x": t.system_x,
                "system_y": t.system_y,
                "leader": t.x if lag > 0 else t.y if lag < 0 else None,
                "follower": t.y if lag > 0 else t.x if lag < 0 else None,
                "lag": lag,
                "n": int(t.n),
                "n_eff": float(t.n_eff),
                "method": method,
                "r": float(getattr(t, f"{method}_r")),
                "p_value": float(t.p_value),
                "q_value": float(t.q_value),
                "ci_low": lo,
                "ci_high": hi,
                "pearson_r": float(t.pearson_r),
                "pearson_p": float(t.pearson_p),
                "spearman_r": float(t.spearman_r),
                "spearman_p": float(t.spearman_p),
                "detrend_x": prepared[t.x].detrend,
                "detrend_y": prepared[t.y].detrend,
                "granger_x_to_y_p": gxy,
                "granger_y_to_x_p": gyx,
                "significant": bool(t.q_value < alpha),
            }
        )
    out = pd.DataFrame(rows, columns=list(PAIR_COLUMNS))
    out = out.assign(_abs=-out["r"].abs()).sort_values(["q_value", "_abs"], kind="stable")
    return out.drop(columns="_abs").reset_index(drop=True)


def block_bootstrap_ci(
    x: np.ndarray,
    y: np.ndarray,
    *,
    method: str = "spearman",
    n_boot: int = 999,
    level: float = 0.95,
    seed: Any = 0,
    block: int | None = None,
) -> tuple[float, float]:
    """Moving-block bootstrap percentile interval of the correlation of aligned ``x`` and ``y``.

    Blocks of ``block`` consecutive pairs (default ``⌈n^(1/3)⌉``) are drawn with replacement
    until ``n`` pairs are collected, which keeps the serial dependence within blocks. Returns
    ``(nan, nan)`` when ``n_boot == 0`` or there are fewer than 10 pairs.

    Examples
    --------
    >>> rng = np.random.default_rng(3)
    >>> a = rng.normal(size=200); b = a + rng.normal(size=200)
    >>> lo, hi = block_bootstrap_ci(a, b, method="pearson", n_boot=500, seed=1)
    >>> bool(lo < 0.707 < hi)
    True
    """
    n = len(x)
    if n_boot <= 0 or n < 10:
        return math.nan, math.nan
    size = block or max(1, math.ceil(n ** (1 / 3)))
    n_blocks = math.ceil(n / size)
    rng = np.random.default_rng(seed)
    starts = rng.integers(0, n - size + 1, size=(n_boot, n_blocks))
    idx = (starts[:, :, None] + np.arange(size)[None, None, :]).reshape(n_boot, -1)[:, :n]
    xs, ys = x[idx], y[idx]
    if method == "spearman":
        xs, ys = sps.rankdata(xs, axis=1), sps.rankdata(ys, axis=1)
    xs = xs - xs.mean(axis=1, keepdims=True)
    ys = ys - ys.mean(axis=1, keepdims=True)
    denom = np.sqrt((xs * xs).sum(axis=1) * (ys * ys).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (xs * ys).sum(axis=1) / denom
    r = r[np.isfinite(r)]
    if r.size == 0:
        return math.nan, math.nan
    tail = (1 - level) / 2
    return float(np.quantile(r, tail)), float(np.quantile(r, 1 - tail))


def granger_pvalues(x: np.ndarray, y: np.ndarray, lag: int) -> tuple[float, float]:
    """Granger F-test p-values ``(x → y, y → x)`` with ``lag`` lags (statsmodels, ssr F-test).

    NaN when the series are too short or the regression is singular.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> a = rng.normal(size=200); b = np.r_[0.0, a[:-1]] + 0.5 * rng.normal(size=200)
    >>> xy, yx = granger_pvalues(a, b, 1)
    >>> bool(xy < 1e-6), bool(yx > 0.01)
    (True, True)
    """
    from statsmodels.tsa.stattools import grangercausalitytests

    x, y = numbers(x, "x"), numbers(y, "y")
    if len(x) != len(y):
        raise QueryParameterError(f"x and y must have the same length, not {len(x)} and {len(y)}")
    lag = check_count("lag", lag)
    ok = np.isfinite(x) & np.isfinite(y)
    a, b = x[ok], y[ok]
    if len(a) < 3 * lag + 10:
        return math.nan, math.nan

    def one(cause: np.ndarray, effect: np.ndarray) -> float:
        try:
            out = grangercausalitytests(np.column_stack([effect, cause]), maxlag=[lag])
        except (ValueError, np.linalg.LinAlgError):
            return math.nan
        return float(out[lag][0]["ssr_ftest"][1])

    return one(a, b), one(b, a)


# ============================================================ tests used by insights
def robust_z(
    resid: Any, *, floor: float = 0.0, centre: bool = True, asymmetric: bool = False
) -> np.ndarray:
    """Robust z-scores: ``(r - median) / (1.4826 * MAD)``.

    When the MAD is 0 (more than half the values equal) the scale falls back to
    ``1.2533 * mean absolute deviation`` from the median, then to the standard deviation;
    ``floor`` is a lower bound for the scale (1 for residuals already in standard-error units).
    ``centre=False`` measures from 0 instead of the median (scores that are already centred by
    construction, such as the normal scores of exact tests, whose median need not be 0).
    ``asymmetric=True`` scales the values above the centre by the MAD of those above and the
    values below by the MAD of those below, so that a skewed residual (a daily mean of a few
    right-skewed values) is not scored against the narrower side. NaNs stay NaN; a series with no
    spread gives all zeros.

    Examples
    --------
    >>> robust_z([0.0, 1.0, -1.0, 0.5, -0.5, 10.0]).round(2).tolist()
    [-0.22, 0.67, -1.12, 0.22, -0.67, 8.77]
    >>> skewed = np.r_[-np.arange(1.0, 6), np.arange(2.0, 12, 2)]  # wider above the median
    >>> robust_z(skewed, asymmetric=True).round(2).tolist()
    [-0.29, -0.48, -0.67, -0.87, -1.06, 0.18, 0.43, 0.67, 0.92, 1.17]
    """
    r = np.asarray(resid, dtype=float)
    ok = np.isfinite(r)
    z = np.full_like(r, np.nan)
    if not ok.any():
        return z
    med = float(np.median(r[ok])) if centre else 0.0
    dev = r[ok] - med
    if not asymmetric:
        z[ok] = dev / _robust_scale(np.abs(dev), floor)
        return z
    up = dev >= 0
    both = _robust_scale(np.abs(dev), floor)
    upper = _robust_scale(dev[up & (dev > 0)], floor) if (dev > 0).sum() >= 5 else both
    lower = _robust_scale(-dev[~up], floor) if (~up).sum() >= 5 else both
    z[ok] = np.where(up, dev / upper, dev / lower)
    return z


def _robust_scale(abs_dev: np.ndarray, floor: float) -> float:
    """``1.4826 * median`` of absolute deviations, with the fallbacks of :func:`robust_z`; inf
    (scores of 0) when there is no spread at all."""
    if abs_dev.size == 0:
        return max(floor, 1.0)
    scale = 1.4826 * float(np.median(abs_dev))
    if scale <= 1e-12:
        scale = 1.2533 * float(abs_dev.mean())
    if scale <= 1e-12:
        scale = float(np.sqrt(np.mean(abs_dev**2)))
    scale = max(scale, floor)
    return scale if scale > 1e-12 else math.inf


def mann_kendall(values: Any, *, calibrate: bool = True) -> MannKendall:
    """Mann–Kendall test for a monotonic trend, corrected for autocorrelation.

    S counts concordant minus discordant pairs; its variance has the tie correction and is
    inflated by Hamed & Rao's (1998) ``n/n*``, with the autocorrelations of the ranks of the
    series after removing its Theil–Sen slope modelled as an AR(1): ``ρ_k = ρ^k`` with ``ρ`` the
    bias-corrected lag-1 autocorrelation ``(n ρ̂ + 1) / (n - 4)`` clipped to [0, 0.95]. (Summing
    the sample autocorrelations of every significant lag, as the original does, under-corrects:
    about 15 % false trends at 5 % for an AR(1) with φ = 0.6; this keeps it near 5 %.) NaNs are
    dropped.

    With ``calibrate`` (default) the p-value is ``2 Φ(-|z| / c)`` with ``c`` a tail scale
    (:func:`calibrated_tail_scale`) from 1,999 simulated series of the ARMA(1,1) fitted to those
    detrended ranks (an AR(1) signal plus white noise, :func:`_arma11_fit`; Gaussian
    innovations, as ranks have no heavy tails), put through the same statistic; scales are
    cached per ``n`` (to 10), ``φ`` (to 0.1) and the signal's share of the variance (to 0.25).

    Examples
    --------
    >>> mk = mann_kendall(np.arange(20.0))
    >>> mk.s, mk.tau, mk.p_value < 1e-6
    (190.0, 1.0, True)
    """
    y = np.asarray(values, dtype=float)
    y = y[np.isfinite(y)]
    n = len(y)
    if n < 4:
        return MannKendall(n, math.nan, math.nan, math.nan, math.nan, math.nan)
    diff = np.sign(y[None, :] - y[:, None])
    s = float(np.triu(diff, k=1).sum())
    _, counts = np.unique(y, return_counts=True)
    var = (n * (n - 1) * (2 * n + 5) - float(np.sum(counts * (counts - 1) * (2 * counts + 5)))) / 18
    slope = theil_sen(y).slope
    detr = y - slope * np.arange(n)
    ranks = sps.rankdata(detr)
    rc = ranks - ranks.mean()
    denom = float(rc @ rc)
    factor = 1.0
    if denom > 0 and n > 4:
        rho = float(rc[:-1] @ rc[1:]) / denom
        rho = min(max((n * rho + 1) / (n - 4), 0.0), 0.95)  # bias-corrected lag-1, as AR(1)
        k = np.arange(1, n - 2)
        factor = 1 + 2 * float(np.sum((n - k) * (n - k - 1) * (n - k - 2) * rho**k)) / (
            n * (n - 1) * (n - 2)
        )
    var *= factor
    if var <= 0:
        return MannKendall(n, s, math.nan, math.nan, math.nan, factor)
    z = (s - math.copysign(1, s)) / math.sqrt(var) if s != 0 else 0.0
    tau = s / (n * (n - 1) / 2)
    scale = 1.0
    if calibrate:
        fit = _arma11_fit(ranks)
        scale = _mk_tail_scale(
            max(10, 10 * round(n / 10)),
            min(round(fit.phi / _PHI_BIN), round(0.9 / _PHI_BIN)),
            round(fit.share / _SHARE_BIN),
        )
    return MannKendall(n, s, tau, z, float(2 * sps.norm.sf(abs(z) / scale)), factor)


def theil_sen(values: Any, *, level: float = 0.95) -> TheilSen:
    """Theil–Sen slope per period of the finite values (x = period index), with its interval.

    Examples
    --------
    >>> ts = theil_sen([1.0, 3.0, 5.0, 7.0, 100.0])
    >>> ts.slope
    2.0
    """
    y = numbers(values)
    check_share("level", level, low=0, high=1)
    x = np.arange(len(y), dtype=float)
    ok = np.isfinite(y)
    if ok.sum() < 3:
        return TheilSen(math.nan, math.nan, math.nan, math.nan)
    res = sps.theilslopes(y[ok], x[ok], alpha=level)
    return TheilSen(
        float(res.slope), float(res.intercept), float(res.low_slope), float(res.high_slope)
    )


def long_run_sd(resid: Any) -> float:
    """Newey–West long-run standard deviation (Bartlett kernel, bandwidth ``⌊4 (n/100)^(2/9)⌋``).

    Examples
    --------
    >>> round(long_run_sd(np.tile([1.0, -1.0], 50)), 3)
    0.447
    """
    e = np.asarray(resid, dtype=float)
    e = e[np.isfinite(e)] - np.nanmean(e)
    n = len(e)
    if n < 2:
        return math.nan
    bw = int(4 * (n / 100) ** (2 / 9))
    var = float(e @ e) / n
    for k in range(1, bw + 1):
        var += 2 * (1 - k / (bw + 1)) * float(e[: n - k] @ e[k:]) / n
    return math.sqrt(max(var, 0.0))


def cusum_change_point(
    values: Any, *, min_segment: int = 7, noise_floor: float = 0.0, calibrate: bool = True
) -> ChangePoint | None:
    """The best single level shift of a series and the CUSUM test of "no shift".

    The split minimises the two-segment sum of squares with at least ``min_segment`` periods on
    each side. The statistic is ``max_k |Σ_{i<k} (y_i - ȳ)| / (σ_LR √n)``, whose limit under no
    shift is the Kolmogorov distribution (supremum of a Brownian bridge), so the p-value
    accounts for the search over all splits. ``σ_LR`` is the long-run standard deviation of the
    residuals around the two means (:func:`ar1_long_run_sd`): measured around the step, a real
    shift does not inflate it. ``noise_floor`` is a lower bound for ``σ_LR``: the sampling noise
    of a rate or count series (a run of days without a single failure has no spread around its
    mean, which would make any earlier failure look like a shift).

    With ``calibrate`` (default) the p-value is ``K(stat / c)`` with ``K`` the Kolmogorov tail
    and ``c`` a tail scale (:func:`calibrated_tail_scale`) from a residual bootstrap: the
    residuals around the two means are fitted as an AR(1) signal plus white noise (an
    ARMA(1,1), :func:`_arma11_fit`), and 1,999 seeded series of that model, driven by its
    fitted innovations drawn with replacement, are put through the same statistic (estimated
    σ_LR, same floor). In short series ``σ_LR`` is itself noisy, which gives the uncalibrated
    statistic a far tail heavier than its limit (on AR(1) noise with n = 120 and φ = 0.7, 0.5 %
    of p-values below 0.001); a daily metric is a daily factor seen through the sampling noise
    of a few observations, whose lag-1 autocorrelation understates its persistence (half signal
    with φ = 0.6, half noise: an AR(1) fit put 1.7 % of such p-values below 0.001); and a sparse
    segment's values are skewed and heavy-tailed, which Gaussian simulation misses. ``c``
    absorbs all three. ``bic_*`` compare the step model with a straight line and a constant
    (lower is better) so that callers can tell a shift from a trend. None when the series has
    fewer than ``2 * min_segment`` finite values.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> cp = cusum_change_point(np.r_[rng.normal(0, 1, 40), rng.normal(3, 1, 40)])
    >>> cp.index, cp.p_value < 1e-6, cp.bic_step < cp.bic_linear
    (40, True, True)
    """
    y = numbers(values)
    y = y[np.isfinite(y)]
    n = len(y)
    min_segment = check_count("min_segment", min_segment)
    if n < 2 * min_segment or np.ptp(y) <= 0:
        return None
    best_at, stats, resid = _cusum(y[None, :], min_segment, noise_floor)
    best, stat, resid = int(best_at[0]), float(stats[0]), resid[0]
    before, after = float(y[:best].mean()), float(y[best:].mean())
    scale = 1.0
    if calibrate and math.isfinite(stat):
        fit = _arma11_fit(resid, fixed=2)
        paths = _arma11_paths(fit, n, _BOOTSTRAP, seed=n, resample=True)
        simulated = _cusum(paths, min_segment, noise_floor)[1]
        scale = calibrated_tail_scale(simulated, sps.kstwobign.isf)
    t = np.arange(n, dtype=float)
    line = np.polyval(np.polyfit(t, y, 1), t)

    def bic(sse: float, params: int) -> float:
        return n * math.log(max(sse, 1e-300) / n) + params * math.log(n)

    return ChangePoint(
        index=best,
        statistic=stat,
        p_value=float(sps.kstwobign.sf(stat / scale)),
        before=before,
        after=after,
        bic_step=bic(float(resid @ resid), 3),
        bic_linear=bic(float(((y - line) ** 2).sum()), 2),
        bic_constant=bic(float(((y - y.mean()) ** 2).sum()), 1),
    )


_BOOTSTRAP = 1999  # simulated null series per calibration
_BURN_IN = 100  # periods simulated and dropped before each path (φ ≤ 0.95: 0.95^100 < 0.01)
_PHI_GRID = np.round(np.arange(0.0, 0.951, 0.01), 2)
_PHI_BIN, _SHARE_BIN = 0.1, 0.25  # Mann–Kendall calibrations are cached on this grid
_TAIL_QUANTILES = (0.95, 0.99, 0.995)


def calibrated_tail_scale(
    simulated: Any, isf: Callable[[np.ndarray], np.ndarray], quantiles: Iterable[float] = ()
) -> float:
    """How much wider a statistic's simulated null is than its asymptotic law, in the tail.

    The largest ratio of the simulated upper quantiles (95, 99 and 99.5 % by default) to the
    asymptotic ones (``isf``: upper-tail probability → quantile); p-values computed at
    ``statistic / scale`` then meet their level at those quantiles and keep the asymptotic
    shape beyond them, where a bootstrap of a few thousand series cannot reach (a family of
    a hundred tests needs p-values far below 1/2000). Non-finite simulated values are dropped.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> round(calibrated_tail_scale(np.abs(rng.normal(0, 2, 20000)),
    ...                             lambda p: sps.norm.isf(p / 2)), 1)
    2.0
    """
    sim = numbers(simulated, "simulated")
    sim = sim[np.isfinite(sim)]
    qs = numbers(tuple(quantiles) or _TAIL_QUANTILES, "quantiles")
    if not ((qs > 0) & (qs < 1)).all():
        raise QueryParameterError(f"quantiles must be in (0, 1), not {qs.tolist()}")
    if len(sim) < 100:
        return 1.0
    return max(1.0, float(np.max(np.quantile(sim, qs) / isf(1 - qs))))


@dataclass(frozen=True)
class _Arma11:
    """A fitted ARMA(1,1) ``x_t = φ x_{t-1} + σ (e_t + θ e_{t-1})``: ``share`` is its AR(1)
    signal's share of the variance, ``innovations`` the standardised ``e`` (for the residual
    bootstrap)."""

    phi: float
    theta: float
    share: float
    sigma: float
    innovations: np.ndarray


def _arma11_fit(resid: np.ndarray, *, fixed: int = 1) -> _Arma11:
    """ARMA(1,1) of a residual series, fitted as "AR(1) signal plus white noise".

    The sample autocorrelations at lags 1..K (``K = min(10, n // 5)``), with the first-order
    bias of removing ``fixed`` means added back (``fixed · λ / n`` at every lag, ``λ`` the ratio
    of long-run to marginal variance), are fitted by least squares to ``ρ_k = s φ^k`` (``φ`` on
    a 0.01 grid in [0, 0.95], ``s`` in [0, 1], the signal's share of the variance). ``λ`` starts
    at ``1 + 2 Σ max(ρ̂_j, 0)`` and is refitted from the model (``s (1 + φ)/(1 - φ) + 1 - s``)
    three times: the bias grows with the persistence it hides. ``s φ^k`` is the autocorrelation
    of an ARMA(1,1) whose MA coefficient ``θ`` is the invertible root of
    ``ρ_1 = (1 + φθ)(φ + θ) / (1 + 2φθ + θ²)``. ``σ`` matches the residual variance (``fixed``
    degrees of freedom spent); the innovations are recovered by inverting the fitted filter,
    centred and scaled to 1.
    """
    r = np.asarray(resid, dtype=float)
    n = len(r)
    k = max(2, min(10, n // 5))
    c = r - r.mean()
    denom = float(c @ c)
    if denom <= 0 or n < 8:
        return _Arma11(0.0, 0.0, 0.0, 0.0, np.zeros(1))
    raw = np.array([float(c[:-j] @ c[j:]) / denom for j in range(1, k + 1)])
    powers = _PHI_GRID[:, None] ** np.arange(1, k + 1)[None, :]
    norm = (powers * powers).sum(axis=1)
    long_run = 1 + 2 * float(np.clip(raw, 0, None).sum())  # long-run / marginal variance
    for _ in range(3):  # the bias depends on the persistence it hides: refit
        rho = raw + fixed * long_run / n
        share = np.clip(
            np.divide(powers @ rho, norm, out=np.zeros(len(norm)), where=norm > 0), 0.0, 1.0
        )
        best = int(np.argmin(((rho[None, :] - share[:, None] * powers) ** 2).sum(axis=1)))
        phi, s = float(_PHI_GRID[best]), float(share[best])
        long_run = s * (1 + phi) / (1 - phi) + 1 - s
    if s <= 1e-9 or phi <= 0:
        phi = s = 0.0
    theta = _ma_coefficient(phi, s)
    gamma0 = (1 + 2 * phi * theta + theta * theta) / (1 - phi * phi)
    sigma = math.sqrt(denom / max(n - fixed, 1) / gamma0)
    e = sps_signal.lfilter([1.0], [1.0, theta], c[1:] - phi * c[:-1])
    e = e - e.mean()
    spread = float(e.std())
    return _Arma11(phi, theta, s, sigma, e / spread if spread > 0 else np.zeros(1))


def _ma_coefficient(phi: float, share: float) -> float:
    """θ of the ARMA(1,1) with autocorrelations ``share * φ^k`` (0 for a pure AR(1))."""
    a = share * phi - phi
    if abs(a) < 1e-12 or phi <= 0:
        return 0.0
    b = 2 * phi * share * phi - 1 - phi * phi
    return (-b - math.sqrt(max(b * b - 4 * a * a, 0.0))) / (2 * a)


def _arma11_paths(fit: _Arma11, n: int, b: int, *, seed: int, resample: bool) -> np.ndarray:
    """``b`` seeded series of length ``n`` from a fitted ARMA(1,1) (after a burn-in of 100):
    Gaussian innovations, or with ``resample`` the fitted innovations drawn with replacement
    (the residual bootstrap: heavy tails and skew carry over)."""
    rng = np.random.default_rng(seed)
    size = (b, n + _BURN_IN)
    e = rng.choice(fit.innovations, size=size) if resample else rng.normal(size=size)
    paths = sps_signal.lfilter([1.0, fit.theta], [1.0, -fit.phi], e, axis=1)[:, _BURN_IN:]
    return paths * fit.sigma


def _ar1_fit(resid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row: the bias-corrected lag-1 autocorrelation (see :func:`ar1_long_run_sd`) and the
    standard deviation of the innovations."""
    n = resid.shape[1]
    c = resid - resid.mean(axis=1, keepdims=True)
    denom = (c * c).sum(axis=1)
    raw = np.divide(
        (c[:, :-1] * c[:, 1:]).sum(axis=1), denom, out=np.zeros(len(c)), where=denom > 0
    )
    rho = np.clip(raw + 3 * (1 + 3 * raw) / n, 0.0, 0.95)
    e = resid[:, 1:] - rho[:, None] * resid[:, :-1]
    return rho, np.sqrt((e * e).sum(axis=1) / (n - 4))


def _cusum(
    y: np.ndarray, min_segment: int, noise_floor: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row of ``y``: the best split, the scaled CUSUM statistic and the residuals around
    the two segment means."""
    b, n = y.shape
    csum = np.cumsum(y, axis=1)
    csq = np.cumsum(y * y, axis=1)
    k = np.arange(min_segment, n - min_segment + 1)
    left_sse = csq[:, k - 1] - csum[:, k - 1] ** 2 / k
    right_sum = csum[:, -1:] - csum[:, k - 1]
    right_sse = (csq[:, -1:] - csq[:, k - 1]) - right_sum**2 / (n - k)
    best = k[np.argmin(left_sse + right_sse, axis=1)]
    left = np.arange(n)[None, :] < best[:, None]
    mean_before = np.where(left, y, 0.0).sum(axis=1) / best
    mean_after = np.where(left, 0.0, y).sum(axis=1) / (n - best)
    resid = y - np.where(left, mean_before[:, None], mean_after[:, None])
    rho, innovation_sd = _ar1_fit(resid)
    sigma = np.maximum(innovation_sd / (1 - rho), noise_floor)
    partial = np.abs(np.cumsum(y - y.mean(axis=1, keepdims=True), axis=1)).max(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = np.where(sigma > 0, partial / (sigma * math.sqrt(n)), math.inf)
    return best, stat, resid


def ar1_long_run_sd(resid: Any) -> float:
    """Long-run standard deviation of residuals by AR(1) prewhitening: ``s_e / (1 - ρ)``.

    ``ρ`` is the lag-1 autocorrelation with three times the first-order bias ``(1 + 3ρ) / n``
    added back (clipped to [0, 0.95]): small samples underestimate ρ, and an underestimated ρ
    makes change-point tests too eager; ``s_e`` the standard deviation of the innovations
    ``r_t - ρ r_{t-1}`` (two degrees of freedom spent on the two means, two more on ρ and the
    edge). NaN for fewer than 6 values.

    Examples
    --------
    >>> round(ar1_long_run_sd(np.tile([1.0, -1.0], 50)), 3)  # negative ρ is clipped to 0
    1.016
    """
    r = np.asarray(resid, dtype=float)
    r = r[np.isfinite(r)]
    if len(r) < 6:
        return math.nan
    rho, innovation_sd = _ar1_fit(r[None, :])
    return float(innovation_sd[0] / (1 - rho[0]))


@functools.lru_cache(maxsize=1024)
def _mk_tail_scale(n: int, phi_bin: int, share_bin: int) -> float:
    """The Mann–Kendall tail scale for ``n`` values of an ARMA(1,1) with φ = ``phi_bin`` × 0.1
    whose AR(1) signal has ``share_bin`` × 0.25 of the variance (callers round ``n`` to a
    multiple of 10: the scale barely depends on it)."""
    phi, share = phi_bin * _PHI_BIN, min(share_bin * _SHARE_BIN, 1.0)
    if share <= 0 or phi <= 0:
        phi = share = 0.0
    fit = _Arma11(phi, _ma_coefficient(phi, share), share, 1.0, np.zeros(1))
    seed = (n * 100 + phi_bin) * 10 + share_bin
    z = _mk_z(_arma11_paths(fit, n, _BOOTSTRAP, seed=seed, resample=False))
    return calibrated_tail_scale(np.abs(z), lambda p: sps.norm.isf(p / 2))


def _mk_z(y: np.ndarray) -> np.ndarray:
    """:func:`mann_kendall`'s uncalibrated z per row of tie-free series (vectorised)."""
    b, n = y.shape
    s = np.zeros(b)
    for i in range(n - 1):
        s += np.sign(y[:, i + 1 :] - y[:, i : i + 1]).sum(axis=1)
    i, j = np.triu_indices(n, k=1)
    slope = np.median((y[:, j] - y[:, i]) / (j - i), axis=1)
    ranks = np.argsort(np.argsort(y - slope[:, None] * np.arange(n), axis=1), axis=1) + 1.0
    rc = ranks - ranks.mean(axis=1, keepdims=True)
    rho = (rc[:, :-1] * rc[:, 1:]).sum(axis=1) / (rc * rc).sum(axis=1)
    rho = np.clip((n * rho + 1) / (n - 4), 0.0, 0.95)
    k = np.arange(1, n - 2)
    weights = (n - k) * (n - k - 1) * (n - k - 2) / (n * (n - 1) * (n - 2))
    factor = 1 + 2 * (rho[:, None] ** k[None, :] * weights).sum(axis=1)
    var = n * (n - 1) * (2 * n + 5) / 18 * factor
    return (s - np.sign(s)) / np.sqrt(var)


def welch(before: Any, after: Any, *, level: float = 0.95) -> Welch:
    """Welch t-test of ``mean(after) - mean(before)`` (NaNs dropped) with its interval.

    Examples
    --------
    >>> w = welch([1.0, 2.0, 3.0, 2.0], [4.0, 5.0, 6.0, 5.0])
    >>> w.difference, round(w.p_value, 4)
    (3.0, 0.002)
    """
    a = np.asarray(before, dtype=float)
    b = np.asarray(after, dtype=float)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if len(a) < 2 or len(b) < 2:
        diff = float(b.mean() - a.mean()) if len(a) and len(b) else math.nan
        return Welch(diff, math.nan, math.nan, math.nan, math.nan, math.nan)
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    diff = float(b.mean() - a.mean())
    se = math.sqrt(va + vb)
    if se == 0:
        p = 1.0 if diff == 0 else 0.0
        return Welch(diff, math.copysign(math.inf, diff) if diff else 0.0, math.nan, p, diff, diff)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    t = diff / se
    crit = float(sps.t.ppf(0.5 + level / 2, df))
    return Welch(diff, t, df, float(2 * sps.t.sf(abs(t), df)), diff - crit * se, diff + crit * se)
