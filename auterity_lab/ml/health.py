"""Model health: healthy / degraded / down per model, against its own recent baseline.

The range ``[start, end)`` splits into a baseline ``[start, end - recent)`` and a recent window
``[end - recent, end)``. Rules (:data:`RULES`, checked in order, every one that holds is
listed in ``reason``; the worst status wins):

``down``
    the recent error rate is at least ``down_error_rate`` (default 50 %) over at least 5
    requests, or the model went silent: no recent request although the baseline rate predicts
    at least 10 (a Poisson probability below 5e-5).
``degraded``
    errors: the recent error count is significantly above the baseline rate (one-sided exact
    binomial test, p < ``alpha``, against the baseline rate with a +1/+2 Laplace smoothing) and
    the recent rate is at least twice the baseline;
    latency: significantly more than 5 % of recent requests are slower than the baseline p95
    (one-sided binomial test, p < ``alpha``) and the recent p95 is at least
    ``latency_factor`` (default 1.25) times the baseline p95.
``unknown``
    fewer than ``min_requests`` baseline requests: no baseline to judge against (unless down).
``healthy``
    none of the above.

Examples
--------
>>> model_health(wb, start="2026-09-10", end="2026-09-18")                    # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats

from auterity_lab.arguments import check_count, check_positive, check_share
from auterity_lab.errors import QueryParameterError
from auterity_lab.ml._params import ai_params
from auterity_lab.periods import DateRange

if TYPE_CHECKING:
    from auterity_lab.warehouse import Workbench

STATUSES = ("healthy", "unknown", "degraded", "down")
"""Health states, from best to worst."""

_SILENT_EXPECTED = 10.0  # expected recent requests above which silence means down
_MIN_DOWN_REQUESTS = 5


def model_health(
    wb: Workbench,
    /,
    *,
    start: Any,
    end: Any,
    model: str | None = None,
    recent_hours: float = 24.0,
    alpha: float = 0.01,
    down_error_rate: float = 0.5,
    latency_factor: float = 1.25,
    min_requests: int = 20,
) -> pd.DataFrame:
    """Health of every model: its recent errors and latency against its own baseline.

    Parameters
    ----------
    wb
        The tenant's workbench.
    start, end
        ``[start, end - recent_hours)`` is the baseline, ``[end - recent_hours, end)`` the
        recent window (UTC).
    model
        Only this model; None means all.
    recent_hours
        Length of the recent window.
    alpha, down_error_rate, latency_factor, min_requests
        Thresholds of the rules (module docstring).

    Returns
    -------
    DataFrame
        One row per model with outputs in the range, worst first: ``model_id``, ``status``
        (``healthy`` | ``degraded`` | ``down`` | ``unknown``), ``reason``, ``recent_requests``,
        ``expected_requests`` (from the baseline rate), ``recent_error_rate``,
        ``baseline_error_rate``, ``error_p_value``, ``recent_p95_ms``, ``baseline_p95_ms``,
        ``latency_ratio`` (recent / baseline p95), ``slow_share`` (recent requests slower than
        the baseline p95), ``latency_p_value``, ``baseline_requests``, ``last_seen``.

    Raises
    ------
    QueryParameterError
        The recent window does not leave a baseline inside ``[start, end)``.

    Examples
    --------
    >>> model_health(wb, start="2026-09-24", end="2026-10-04", recent_hours=72)  # doctest: +SKIP
    """
    rng = DateRange.of(start, end)
    recent = dt.timedelta(hours=check_positive("recent_hours", recent_hours))
    split = rng.end - recent
    if split <= rng.start:
        raise QueryParameterError(
            f"recent_hours={recent_hours:g} leaves no baseline in [{rng.start}, {rng.end}); "
            "start earlier or shorten the recent window"
        )
    limits = {
        "alpha": check_share("alpha", alpha),
        "down_error_rate": check_share("down_error_rate", down_error_rate),
        "latency_factor": check_positive("latency_factor", latency_factor),
        "min_requests": check_count("min_requests", min_requests),
    }
    params = ai_params(rng.start, rng.end, model=model)
    w = wb.query(
        "ml_health_windows",
        split=split,
        model=params["model"],
        start=params["start"],
        end=params["end"],
    )
    return _judge(w, (split - rng.start) / recent, limits)


def _judge(w: pd.DataFrame, baseline_to_recent: float, limits: dict[str, float]) -> pd.DataFrame:
    out = pd.DataFrame({"model_id": w["model_id"]})
    base_n = w["baseline_requests"].to_numpy(float)
    rec_n = w["recent_requests"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["recent_requests"] = w["recent_requests"]
        out["expected_requests"] = base_n / baseline_to_recent
        out["recent_error_rate"] = np.where(rec_n > 0, w["recent_errors"] / rec_n, np.nan)
        out["baseline_error_rate"] = np.where(base_n > 0, w["baseline_errors"] / base_n, np.nan)
        smoothed = (w["baseline_errors"].to_numpy(float) + 1) / (base_n + 2)
        out["error_p_value"] = [
            stats.binomtest(int(k), int(n), p0, alternative="greater").pvalue if n > 0 else math.nan
            for k, n, p0 in zip(w["recent_errors"], rec_n, smoothed, strict=True)
        ]
        out["recent_p95_ms"] = w["recent_p95_ms"]
        out["baseline_p95_ms"] = w["baseline_p95_ms"]
        out["latency_ratio"] = w["recent_p95_ms"] / w["baseline_p95_ms"]
        timed = w["recent_timed"].to_numpy(float)
        out["slow_share"] = np.where(timed > 0, w["recent_over_baseline_p95"] / timed, np.nan)
        out["latency_p_value"] = [
            stats.binomtest(int(k), int(n), 0.05, alternative="greater").pvalue
            if n > 0 and np.isfinite(b)
            else math.nan
            for k, n, b in zip(
                w["recent_over_baseline_p95"],
                timed,
                w["baseline_p95_ms"].astype(float),
                strict=True,
            )
        ]
    out["baseline_requests"] = w["baseline_requests"]
    out["last_seen"] = w["last_seen"]
    verdicts = [_verdict(row, limits) for row in out.to_dict("records")]
    out.insert(1, "status", [v[0] for v in verdicts])
    out.insert(2, "reason", [v[1] for v in verdicts])
    worst_first = out["status"].map({s: -i for i, s in enumerate(STATUSES)})
    return out.iloc[np.lexsort((out["model_id"].to_numpy(), worst_first.to_numpy()))].reset_index(
        drop=True
    )


def _verdict(row: dict[str, Any], limits: dict[str, float]) -> tuple[str, str]:
    found = [(status, reason) for status, rule in RULES for reason in [rule(row, limits)] if reason]
    if not found:
        return "healthy", "error rate and latency in line with the baseline"
    worst = max(found, key=lambda f: STATUSES.index(f[0]))[0]
    return worst, "; ".join(reason for _, reason in found)


def _error_spike_down(row: dict[str, Any], limits: dict[str, float]) -> str:
    if (
        row["recent_requests"] >= _MIN_DOWN_REQUESTS
        and row["recent_error_rate"] >= limits["down_error_rate"]
    ):
        return f"{row['recent_error_rate']:.0%} of {row['recent_requests']} recent requests failed"
    return ""


def _silent(row: dict[str, Any], limits: dict[str, float]) -> str:
    if row["recent_requests"] == 0 and row["expected_requests"] >= _SILENT_EXPECTED:
        return f"no recent request (about {row['expected_requests']:.0f} expected)"
    return ""


def _error_degraded(row: dict[str, Any], limits: dict[str, float]) -> str:
    base = row["baseline_error_rate"] if math.isfinite(row["baseline_error_rate"]) else 0.0
    if (
        row["error_p_value"] < limits["alpha"]
        and row["recent_error_rate"] >= 2 * base
        and row["baseline_requests"] >= limits["min_requests"]
    ):
        return (
            f"error rate {row['recent_error_rate']:.1%} vs {base:.1%} baseline "
            f"(p = {row['error_p_value']:.2g})"
        )
    return ""


def _latency_degraded(row: dict[str, Any], limits: dict[str, float]) -> str:
    if (
        row["latency_p_value"] < limits["alpha"]
        and row["latency_ratio"] >= limits["latency_factor"]
        and row["baseline_requests"] >= limits["min_requests"]
    ):
        return (
            f"p95 {row['recent_p95_ms']:,.0f} ms vs {row['baseline_p95_ms']:,.0f} ms baseline; "
            f"{row['slow_share']:.0%} of recent requests slower than the baseline p95 "
            f"(p = {row['latency_p_value']:.2g})"
        )
    return ""


def _no_baseline(row: dict[str, Any], limits: dict[str, float]) -> str:
    if row["baseline_requests"] < limits["min_requests"]:
        return (
            f"only {row['baseline_requests']} baseline requests (need {limits['min_requests']:.0f})"
        )
    return ""


RULES: tuple[tuple[str, Callable[[dict[str, Any], dict[str, float]], str]], ...] = (
    ("down", _error_spike_down),
    ("down", _silent),
    ("degraded", _error_degraded),
    ("degraded", _latency_degraded),
    ("unknown", _no_baseline),
)
"""(status, rule) pairs; a rule returns the reason when it holds, else an empty string."""
