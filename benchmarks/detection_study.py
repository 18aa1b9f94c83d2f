"""Detection study: the spec's "correlation accuracy > 95 %", measured over many seeds.

Three parts, each printed as a table (and written as JSON with ``--out``):

A. **Correlations on simulated metric series** (``--seeds``, default 50). Each run has 20 daily
   series over 120 days spread over the three systems like the metric catalog, each with a
   level, a trend, a weekly season, an AR(1) daily factor and sampling noise. *Null* runs have
   nothing in common; *planted* runs add the demo's lagged effect: a latent AR(1) factor raises a
   Neuroweaver series on day d and lowers an Auterity series on day d + 1, at three strengths
   (``weak`` is about the demo at scale 0.05, r ≈ -0.45 after detrending). Reported: the share of
   null runs with any discovery at q < 0.05 (the family-wise rate; BH controls it at 5 % under
   the global null), the mean false-discovery proportion, the per-test false-positive rate, and
   for planted runs the recall (found with the right sign and lag) and the false-discovery
   proportion among the discoveries.
B. **The whole engine on null data** (``--null-seeds``, default 200): metric series shaped like
   the catalog (the tenant series and per-model, per-endpoint and per-step segments of all
   three systems, about the demo's tenant ``acme`` at scale 0.05), simulated call by call with
   no effect at all (:func:`simulate_null_series`: Poisson counts, binomial errors, lognormal
   latencies with 1.5 % of calls 2-5x slower, p95s of a few calls, weekends, an AR(1) daily
   factor per system), run through every series test and the correlation scan at the levels
   :func:`auterity_lab.insights.family_levels` gives a full run at alpha = 0.05. Reported: the
   share of runs with any discovery (every discovery is false here, so this is also the mean
   false-discovery proportion) with its Clopper–Pearson 95 % interval, per family, and the
   share of null p-values below 0.05 and 0.01 per family (calibration).
C. **Planted effects of the demo generator** (``--demo-seeds``, default 50, at each of
   ``--scales``, default 1.0, the demo's own scale, and 0.05): for each seed,
   ``generate_demo(tenants=1, scale=...)`` (the tenant ``acme``; scale 0.05 is the test
   fixture, about 25 sessions and AI calls a day, 1.0 twenty times that) and
   :func:`auterity_lab.insights.generate_insights`
   over the whole range; each effect of ``ground_truth.json`` is checked on the right metrics,
   direction, date and lag. ``experiment_null`` counts as found when it is (wrongly) reported.

Run::

    .venv/bin/python benchmarks/detection_study.py --jobs 2        # everything, ~1 h
    .venv/bin/python benchmarks/detection_study.py --demo-seeds 0  # parts A and B, ~25 min
    .venv/bin/python benchmarks/detection_study.py --jobs 2 --out study.json
    .venv/bin/python benchmarks/detection_study.py --parts B --first-seed 1000 --jobs 2
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from auterity_lab.insights import (
    deployment_checks,
    family_levels,
    generate_insights,
    scan_series,
)
from auterity_lab.metrics import CATALOG, pivot_series, split_series_name
from auterity_lab.state import StateStore
from auterity_lab.stats import correlate
from auterity_lab.synth import generate_demo
from auterity_lab.warehouse import Workbench

SYSTEMS = {"auterity": 9, "neuroweaver": 7, "relaycore": 4}
STRENGTHS = {"weak": 1.0, "medium": 1.5, "strong": 2.0}  # multiplies the planted coefficients
ALPHA = 0.05


# ------------------------------------------------------------------- simulation
def _ar1(rng: np.random.Generator, n: int, phi: float) -> np.ndarray:
    e = rng.normal(size=n)
    out = np.empty(n)
    out[0] = e[0] / math.sqrt(1 - phi * phi)
    for i in range(1, n):
        out[i] = phi * out[i - 1] + e[i]
    return out


def simulate(
    seed: int, *, strength: float | None, n: int = 120
) -> tuple[pd.DataFrame, dict[str, str]]:
    """Log-scale daily metric series; ``strength=None`` for null data."""
    rng = np.random.default_rng([seed, 0 if strength is None else int(strength * 100)])
    t = np.arange(n)
    cols, systems = {}, {}
    for system, count in SYSTEMS.items():
        for j in range(count):
            name = f"{system}_{j}"
            cols[name] = (
                5
                + rng.normal(0, 0.01) * t
                + rng.uniform(0, 0.3) * np.sin(2 * np.pi * t / 7 + rng.uniform(0, 6.3))
                + 0.25 * _ar1(rng, n, rng.uniform(0, 0.7))
                + rng.normal(0, 0.2, n)
            )
            systems[name] = system
    if strength is not None:  # the demo's lagged effect: latency on day d, duration on d + 1
        latent = _ar1(rng, n + 1, 0.6)
        cols["neuroweaver_0"] = 5 + 0.25 * strength * latent[1:] + rng.normal(0, 0.2, n)
        cols["auterity_0"] = 5 - 0.3 * strength * latent[:-1] + rng.normal(0, 0.3, n)
    return pd.DataFrame(cols), systems


def correlation_study(seeds: int) -> pd.DataFrame:
    rows = []
    for seed in range(seeds):
        frame, systems = simulate(seed, strength=None)
        res = correlate(frame, systems=systems, n_boot=0, granger=False, alpha=ALPHA)
        found = int(res.pairs["significant"].sum())
        rows.append(
            {
                "data": "null",
                "seed": seed,
                "discoveries": found,
                "false": found,
                "tests": res.params["n_tests"],
                "false_tests": int(res.tests["significant"].sum()),
                "recall": math.nan,
            }
        )
        for label, strength in STRENGTHS.items():
            frame, systems = simulate(seed, strength=strength)
            res = correlate(frame, systems=systems, n_boot=0, granger=False, alpha=ALPHA)
            sig = res.significant()
            planted = (sig["x"] == "auterity_0") & (sig["y"] == "neuroweaver_0")
            hit = sig[planted]
            right = bool(len(hit) and hit["lag"].iloc[0] == -1 and hit["r"].iloc[0] < 0)
            rows.append(
                {
                    "data": label,
                    "seed": seed,
                    "discoveries": len(sig),
                    "false": int((~planted).sum()),
                    "tests": res.params["n_tests"],
                    "false_tests": math.nan,
                    "recall": float(right),
                }
            )
    return pd.DataFrame(rows)


def summarise_correlations(runs: pd.DataFrame) -> pd.DataFrame:
    out = []
    for data, g in runs.groupby("data", sort=False):
        fdp = (g["false"] / g["discoveries"].clip(lower=1)).mean()
        out.append(
            {
                "data": data,
                "runs": len(g),
                "recall": g["recall"].mean(),
                "runs_with_any_false_discovery": (g["false"] > 0).mean(),
                "false_discovery_proportion": fdp,
                "per_test_false_positive_rate": (
                    g["false_tests"].sum() / g["tests"].sum() if data == "null" else math.nan
                ),
            }
        )
    return pd.DataFrame(out)


# ------------------------------------------------------------- the engine on null data
def _per_day(
    rng: np.random.Generator, counts: np.ndarray, draw, *, spikes: float = 0.0
) -> list[np.ndarray]:
    out = []
    for d, k in enumerate(counts):
        v = draw(d, int(k))
        if spikes and k:
            v = v * np.where(rng.random(int(k)) < spikes, rng.uniform(2.0, 5.0, int(k)), 1.0)
        out.append(v)
    return out


def _stats(values: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    n = np.array([len(v) for v in values], dtype=float)
    mean = np.array([v.mean() if len(v) else np.nan for v in values])
    p95 = np.array([np.quantile(v, 0.95) if len(v) else np.nan for v in values])
    total = np.array([v.sum() for v in values])
    return n, mean, p95, total


def simulate_null_series(seed: int, *, days: int = 120, volume: float = 1.0) -> pd.DataFrame:
    """Tidy metric series (as :func:`auterity_lab.metrics.metric_series`) with no effect at all.

    Each call, session and run is drawn on its own and aggregated per day: counts are Poisson,
    error and failure rates binomial, latencies and durations lognormal with 1.5 % of calls 2-5x
    slower, p95s of those few values; weekends are quieter; each system has its own AR(1) daily
    factor (systems are independent: no cross-system correlation). ``volume`` 1 is about the
    demo's tenant ``acme`` at scale 0.05.
    """
    rng = np.random.default_rng([seed, 2026])
    periods = pd.date_range("2026-07-04", periods=days, freq="D", tz="UTC")
    weekend = np.asarray(periods.day_of_week >= 5)
    busy = np.where(weekend, 0.65, 1.0)
    f = {s: _ar1(rng, days, 0.5) for s in ("auterity", "neuroweaver", "relaycore")}
    rows: list[pd.DataFrame] = []

    def add(system: str, metric: str, segment: str, value: np.ndarray, n: np.ndarray) -> None:
        rows.append(
            pd.DataFrame(
                {
                    "period": periods,
                    "system": system,
                    "metric": metric,
                    "segment": segment,
                    "value": value.astype(float),
                    "n": n.astype(float),
                }
            )
        )

    # ------------------------------------------------------------------ Auterity
    fa = f["auterity"]
    sessions = rng.poisson(16 * volume * busy * np.exp(0.1 * fa))
    dur = _per_day(
        rng,
        sessions,
        lambda d, k: rng.lognormal(math.log(300) + 0.1 * fa[d] + 0.1 * weekend[d], 0.9, k),
    )
    n, mean, _, _ = _stats(dur)
    add("auterity", "sessions", "", sessions, sessions)
    add("auterity", "active_users", "", rng.binomial(sessions, 0.8), sessions)
    new = rng.poisson(3 * volume * busy)
    add("auterity", "new_users", "", new, new)
    add("auterity", "avg_session_duration", "", mean, n)
    conv = _per_day(rng, sessions, lambda d, k: (rng.random(k) < 0.08).astype(float))
    add("auterity", "conversion_rate", "", _stats(conv)[1], n)
    events = rng.poisson(0.8 * volume * np.ones(days))
    money = _per_day(rng, events, lambda d, k: rng.lognormal(math.log(50), 0.5, k))
    add("auterity", "revenue", "", _stats(money)[3], events)
    endpoints = {"GET /a": 6.0, "GET /b": 4.0, "POST /c": 3.0, "POST /d": 2.0}
    pooled_lat: list[list[np.ndarray]] = [[] for _ in range(days)]
    tot_req, tot_err = np.zeros(days), np.zeros(days)
    for ep, rate in endpoints.items():
        req = rng.poisson(rate * volume * busy / 4 * np.exp(0.05 * fa))
        err = rng.binomial(req, 0.015)
        lat = _per_day(
            rng,
            req,
            lambda d, k: rng.lognormal(math.log(120) + 0.1 * fa[d], 0.5, k),
            spikes=0.015,
        )
        n_ep, mean_ep, p95_ep, _ = _stats(lat)
        add("auterity", "api_requests", ep, req, req)
        add(
            "auterity",
            "api_error_rate",
            ep,
            np.where(req > 0, err / np.maximum(req, 1), np.nan),
            req,
        )
        add("auterity", "api_mean_latency", ep, mean_ep, n_ep)
        add("auterity", "api_p95_latency", ep, p95_ep, n_ep)
        tot_req += req
        tot_err += err
        for d in range(days):
            pooled_lat[d].append(lat[d])
    lat_all = [np.concatenate(v) for v in pooled_lat]
    n_all, mean_all, p95_all, _ = _stats(lat_all)
    add("auterity", "api_requests", "", tot_req, tot_req)
    add(
        "auterity",
        "api_error_rate",
        "",
        np.where(tot_req > 0, tot_err / np.maximum(tot_req, 1), np.nan),
        tot_req,
    )
    add("auterity", "api_mean_latency", "", mean_all, n_all)
    add("auterity", "api_p95_latency", "", p95_all, n_all)

    # --------------------------------------------------------------- Neuroweaver
    fn = f["neuroweaver"]
    models = {  # mix, median latency ms, price USD per 1k output tokens
        "gpt-4o": (0.35, 1180.0, 0.01),
        "claude-sonnet": (0.20, 1490.0, 0.015),
        "mistral-small": (0.30, 600.0, 0.0006),
        "llama-3-8b": (0.15, 400.0, 0.0001),
    }
    calls = rng.poisson(18 * volume * busy * np.exp(0.05 * fn))
    split = [rng.multinomial(c, [m[0] for m in models.values()]) for c in calls]
    per_model = np.array(split).T
    pooled: dict[str, list[list[np.ndarray]]] = {
        k: [[] for _ in range(days)] for k in ("lat", "tok", "cost", "rating")
    }
    tot = {"req": np.zeros(days), "err": np.zeros(days)}
    for (name, (_, median, price)), req in zip(models.items(), per_model, strict=True):
        err = rng.binomial(req, 0.015)
        ok = req - err
        lat = _per_day(
            rng,
            req,
            lambda d, k, m=median: rng.lognormal(
                math.log(m) + 0.25 * fn[d] - 0.05 * weekend[d], 0.45, k
            ),
            spikes=0.015,
        )
        tok = _per_day(rng, ok, lambda d, k: np.maximum(1, rng.lognormal(math.log(220), 0.5, k)))
        rated = rng.binomial(req, 0.25)
        rating = _per_day(rng, rated, lambda d, k: np.clip(np.round(rng.normal(4.3, 0.9, k)), 1, 5))
        n_m, mean_m, p95_m, _ = _stats(lat)
        tok_sum = _stats(tok)[3]
        add("neuroweaver", "ai_requests", name, req, req)
        add(
            "neuroweaver",
            "ai_error_rate",
            name,
            np.where(req > 0, err / np.maximum(req, 1), np.nan),
            req,
        )
        add("neuroweaver", "ai_mean_latency", name, mean_m, n_m)
        add("neuroweaver", "ai_p95_latency", name, p95_m, n_m)
        add("neuroweaver", "ai_tokens", name, tok_sum, req)
        add("neuroweaver", "ai_cost", name, tok_sum * price / 1000, req)
        add("neuroweaver", "ai_mean_rating", name, _stats(rating)[1], rated.astype(float))
        tot["req"] += req
        tot["err"] += err
        for d in range(days):
            pooled["lat"][d].append(lat[d])
            pooled["tok"][d].append(tok[d])
            pooled["cost"][d].append(tok[d] * price / 1000)
            pooled["rating"][d].append(rating[d])
    joined = {k: [np.concatenate(x) for x in v] for k, v in pooled.items()}
    n_l, mean_l, p95_l, _ = _stats(joined["lat"])
    add("neuroweaver", "ai_requests", "", tot["req"], tot["req"])
    add(
        "neuroweaver",
        "ai_error_rate",
        "",
        np.where(tot["req"] > 0, tot["err"] / np.maximum(tot["req"], 1), np.nan),
        tot["req"],
    )
    add("neuroweaver", "ai_mean_latency", "", mean_l, n_l)
    add("neuroweaver", "ai_p95_latency", "", p95_l, n_l)
    add("neuroweaver", "ai_tokens", "", _stats(joined["tok"])[3], tot["req"])
    add("neuroweaver", "ai_cost", "", _stats(joined["cost"])[3], tot["req"])
    n_r, mean_r, _, _ = _stats(joined["rating"])
    add("neuroweaver", "ai_mean_rating", "", mean_r, n_r)

    # ------------------------------------------------------------------ RelayCore
    fr = f["relaycore"]
    workflows = {
        "lead-enrichment": (1.2, ("fetch", "lookup", "write")),
        "daily-report": (0.9, ("query", "summarize", "publish")),
    }
    all_runs, all_fail = np.zeros(days), np.zeros(days)
    run_durations: list[list[np.ndarray]] = [[] for _ in range(days)]
    for wf, (rate, steps) in workflows.items():
        runs = rng.poisson(rate * volume * busy * np.exp(0.1 * fr))
        fails = rng.binomial(runs, 0.05)
        total = [np.zeros(int(r)) for r in runs]
        for j, step in enumerate(steps):
            sd = _per_day(
                rng,
                runs,
                lambda d, k, j=j: rng.lognormal(math.log(2000 * (j + 1)) + 0.1 * fr[d], 0.6, k),
                spikes=0.015,
            )
            sf = rng.binomial(runs, 0.02)
            n_s, mean_s, p95_s, _ = _stats(sd)
            seg = f"{wf}/{step}"
            add(
                "relaycore",
                "step_failure_rate",
                seg,
                np.where(runs > 0, sf / np.maximum(runs, 1), np.nan),
                runs,
            )
            add("relaycore", "step_mean_duration", seg, mean_s, n_s)
            add("relaycore", "step_p95_duration", seg, p95_s, n_s)
            total = [t + s for t, s in zip(total, sd, strict=True)]
        all_runs += runs
        all_fail += fails
        for d in range(days):
            run_durations[d].append(total[d])
    n_w, mean_w, p95_w, _ = _stats([np.concatenate(v) for v in run_durations])
    add("relaycore", "workflow_runs", "", all_runs, all_runs)
    add(
        "relaycore",
        "workflow_failure_rate",
        "",
        np.where(all_runs > 0, all_fail / np.maximum(all_runs, 1), np.nan),
        all_runs,
    )
    add("relaycore", "workflow_mean_duration", "", mean_w, n_w)
    add("relaycore", "workflow_p95_duration", "", p95_w, n_w)
    frame = pd.concat(rows, ignore_index=True)
    return frame


NULL_FAMILIES = ("anomaly", "incident", "trend", "change_point", "correlation")


def null_run(seed: int, alpha: float = ALPHA) -> dict[str, Any]:
    """One null run: every series test and the correlation scan at a full run's family levels."""
    series = simulate_null_series(seed)
    levels = family_levels(alpha)
    scan_alpha = levels["anomaly"] + levels["trend_change"]
    found = scan_series(series, alpha=scan_alpha, trend_share=levels["trend_change"] / scan_alpha)
    tenant = pivot_series(series[series["segment"] == ""])
    meta = {c: CATALOG[split_series_name(c)[0]] for c in tenant.columns}
    corr = correlate(
        tenant,
        systems={c: m.system for c, m in meta.items()},
        scales={c: m.scale for c, m in meta.items()},
        n_boot=0,
        granger=False,
        alpha=levels["correlation"],
    )
    a, inc = found.anomalies, found.incidents
    pvalues = {
        "anomaly": a["p_value"].to_numpy(float),
        "incident": inc["p_value"].to_numpy(float) if len(inc) else np.array([]),
        "trend": found.trends["p_value"].to_numpy(float),
        "change_point": found.change_points["p_value"].to_numpy(float),
        "correlation": corr.tests["p_value"].to_numpy(float),
    }
    row: dict[str, Any] = {
        "seed": seed,
        "anomaly": int(a["is_anomaly"].astype(bool).sum()),
        "incident": int(inc["is_incident"].astype(bool).sum()) if len(inc) else 0,
        "trend": int(found.trends["is_trend"].sum()),
        "change_point": int(found.change_points["is_change_point"].sum()),
        "correlation": int(corr.pairs["significant"].sum()),
    }
    for family, p in pvalues.items():
        p = p[np.isfinite(p)]
        row[f"{family}_tests"] = len(p)
        row[f"{family}_below_05"] = int((p < 0.05).sum())
        row[f"{family}_below_01"] = int((p < 0.01).sum())
    print(f"  null seed {json.dumps(row)}", file=sys.stderr, flush=True)
    return row


def clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Exact binomial interval of a share ``k / n``."""
    tail = (1 - level) / 2
    low = 0.0 if k == 0 else float(sps.beta.ppf(tail, k, n - k + 1))
    high = 1.0 if k == n else float(sps.beta.ppf(1 - tail, k + 1, n - k))
    return low, high


def summarise_null(runs: pd.DataFrame) -> pd.DataFrame:
    """Per family and for the whole run: share of runs with any discovery (95 % interval)."""
    any_found = runs[list(NULL_FAMILIES)].sum(axis=1) > 0
    out = []
    for family, hit in [*((f, runs[f] > 0) for f in NULL_FAMILIES), ("ANY (whole run)", any_found)]:
        low, high = clopper_pearson(int(hit.sum()), len(runs))
        tests = runs.get(f"{family}_tests")
        out.append(
            {
                "family": family,
                "runs": len(runs),
                "runs_with_a_discovery": int(hit.sum()),
                "share": hit.mean(),
                "ci_low": low,
                "ci_high": high,
                "tests_per_run": tests.mean() if tests is not None else math.nan,
                "p_below_0.05": (
                    runs[f"{family}_below_05"].sum() / tests.sum()
                    if tests is not None
                    else math.nan
                ),
                "p_below_0.01": (
                    runs[f"{family}_below_01"].sum() / tests.sum()
                    if tests is not None
                    else math.nan
                ),
            }
        )
    return pd.DataFrame(out)


def _map(fn: Callable[[int], Any], seeds: list[int], jobs: int) -> list[Any]:
    if jobs <= 1:
        return [fn(s) for s in seeds]
    with ProcessPoolExecutor(jobs) as pool:
        return list(pool.map(fn, seeds, chunksize=4))


# ------------------------------------------------------------------------ demo
def _effect(truth: dict[str, Any], name: str) -> dict[str, Any]:
    return next(e for e in truth["effects"] if e["id"] == name)


def _series_hit(
    ins: pd.DataFrame, kind: str, series: set[str], day: str, tolerance: int = 2
) -> bool:
    rows = ins[(ins["insight_type"] == kind) & ins["metrics"].map(lambda m: bool(set(m) & series))]
    planted = pd.Timestamp(day, tz="UTC")
    return any(
        abs((pd.Timestamp(r["period_start"]) - planted).days) <= tolerance
        and r["evidence"]["relative_change"] > 0
        for r in rows.to_dict("records")
    )


_PLANTED = (
    "lagged_correlation",
    "outage",
    "latency_regression (change point)",
    "latency_regression (deployment check)",
    "trend",
    "bottleneck",
    "cheaper_equal_model",
    "experiment_lift",
)
"""The checks of planted effects (``experiment_null`` is checked for a false report)."""


def check_demo(ins: pd.DataFrame, truth: dict[str, Any]) -> dict[str, bool]:
    """Which planted effects the insights report (right metrics, direction, date, lag)."""
    by = {k: g for k, g in ins.groupby("insight_type")}
    empty = ins.iloc[0:0]
    corr = by.get("correlation", empty)
    lag = _effect(truth, "lagged_correlation")["lag_days"]
    lagged = any(
        e["leader"] in ("ai_mean_latency", "ai_p95_latency")
        and e["follower"] == "avg_session_duration"
        and abs(e["lag"]) == lag
        and e["statistic"] < 0
        for e in corr["evidence"]
    )
    outage_day = _effect(truth, "outage")["start"]
    anomalies = by.get("anomaly", empty).set_index("insight_key")
    key = f"anomaly:{outage_day}"
    outage = key in anomalies.index and "incident" in anomalies.loc[key, "evidence"]
    reg = _effect(truth, "latency_regression")["start"]
    gpt = {"ai_mean_latency[gpt-4o]", "ai_p95_latency[gpt-4o]"}
    deploy = by.get("deployment", empty)
    deploy_hit = any(
        k == "deployment:model_version:gpt-4o:2024-11-20" and (e["violations"] or e["regressions"])
        for k, e in zip(deploy["insight_key"], deploy["evidence"], strict=True)
    )
    trend = by.get("trend", empty).set_index("insight_key")
    growth = (
        "trend:new_users" in trend.index and trend.loc["trend:new_users", "evidence"]["slope"] > 0
    )
    bottleneck = _effect(truth, "bottleneck")["start"]
    steps = {
        "step_mean_duration[lead-enrichment/crm_lookup]",
        "step_p95_duration[lead-enrichment/crm_lookup]",
    }
    cheaper = _effect(truth, "cheaper_equal_model")["details"]
    cost_keys = set(by.get("cost_optimization", empty)["insight_key"])
    lift = _effect(truth, "experiment_lift")["details"]
    null = _effect(truth, "experiment_null")["details"]["experiment_key"]
    exp_keys = set(by.get("experiment", empty)["insight_key"])
    return {
        "lagged_correlation": lagged,
        "outage": bool(outage),
        "latency_regression (change point)": _series_hit(ins, "change_point", gpt, reg),
        "latency_regression (deployment check)": deploy_hit,
        "trend": bool(growth),
        "bottleneck": _series_hit(ins, "change_point", steps, bottleneck),
        "cheaper_equal_model": (
            f"cost_optimization:cheaper_model:{cheaper['reference']}:{cheaper['cheaper']}"
        )
        in cost_keys,
        "experiment_lift": f"experiment:{lift['experiment_key']}:{lift['treatment']}" in exp_keys,
        "experiment_null reported (false)": any(
            k.startswith(f"experiment:{null}:") for k in exp_keys
        ),
    }


def demo_seed(seed: int, scale: float) -> dict[str, Any]:
    """Which planted effects one demo seed's insights report (one tenant, the whole range)."""
    tmp = Path(tempfile.mkdtemp(prefix="detection_"))
    try:
        generate_demo(tmp, tenants=1, days=120, scale=scale, seed=seed)
        truth = json.loads((tmp / "ground_truth.json").read_text())
        tenant = truth["parameters"]["tenants"][0]
        with Workbench.open(tmp, tenant=tenant) as wb:
            report = generate_insights(
                wb,
                start=truth["parameters"]["start"],
                end=truth["parameters"]["end"],
                n_boot=0,
                state=StateStore(tmp / "state"),
            )
            placebo = deployment_checks(
                wb,
                start=truth["parameters"]["start"],
                end=truth["parameters"]["end"],
                markers=_placebo_markers(truth["parameters"]["start"]),
                alpha=family_levels(ALPHA)["deployment"],
            )
        row = {"seed": seed} | check_demo(report.insights, truth)
        row["placebo_checks"] = len(placebo)
        row["placebo_regressions"] = int(placebo["regressions"].map(bool).sum())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    found = sum(row[k] for k in _PLANTED)
    print(
        f"  demo seed {seed} (scale {scale}): {found}/{len(_PLANTED)} {json.dumps(row)}",
        file=sys.stderr,
        flush=True,
    )
    return row


_PLACEBO_MODELS = ("claude-sonnet", "mistral-small", "llama-3-8b")
_PLACEBO_DAYS = (30, 45, 60)


def _placebo_markers(start: str) -> list[dict[str, Any]]:
    """Deploys that did not happen: models that never change, at days whose 14-day window ends
    before gpt-4o's regression (day 90 of 120), so that the other models are a clean control."""
    t0 = pd.Timestamp(start, tz="UTC")
    return [
        {
            "deployed_at": t0 + pd.Timedelta(days=day, hours=12),
            "kind": "manual",
            "scope": model,
            "version": f"placebo-day-{day}",
        }
        for model in _PLACEBO_MODELS
        for day in _PLACEBO_DAYS
    ]


def demo_study(seeds: int, scale: float, jobs: int = 1, first_seed: int = 0) -> pd.DataFrame:
    """Part C over the demo seeds ``first_seed + 1 .. first_seed + seeds``."""
    chosen = list(range(first_seed + 1, first_seed + seeds + 1))
    return pd.DataFrame(_map(partial(demo_seed, scale=scale), chosen, jobs))


def summarise_demo(runs: pd.DataFrame) -> pd.DataFrame:
    extra = ("seed", "placebo_checks", "placebo_regressions")
    effects = [c for c in runs.columns if c not in extra]
    out = pd.DataFrame(
        {"effect": effects, "runs": len(runs), "share_found": [runs[c].mean() for c in effects]}
    )
    overall = runs[list(_PLANTED)].to_numpy().mean()
    checks, false = int(runs["placebo_checks"].sum()), int(runs["placebo_regressions"].sum())
    low, high = clopper_pearson(false, checks)
    placebo = (
        f"placebo deploys flagged as regressions ({false}/{checks}, 95% CI {low:.3f}-{high:.3f})"
    )
    return pd.concat(
        [
            out,
            pd.DataFrame(
                [
                    {"effect": "ALL planted effects", "runs": len(runs), "share_found": overall},
                    {"effect": placebo, "runs": len(runs), "share_found": false / max(checks, 1)},
                ]
            ),
        ],
        ignore_index=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=50, help="seeds of part A")
    parser.add_argument("--null-seeds", type=int, default=200, help="seeds of part B")
    parser.add_argument(
        "--first-seed", type=int, default=0, help="first seed of parts B and C (default 0)"
    )
    parser.add_argument("--demo-seeds", type=int, default=50, help="seeds of part C (0 skips it)")
    parser.add_argument(
        "--scales", default="1.0,0.05", help="demo generator scales, comma-separated"
    )
    parser.add_argument("--parts", default="ABC", help="which parts to run (default ABC)")
    parser.add_argument("--jobs", type=int, default=1, help="processes for parts B and C")
    parser.add_argument("--out", type=Path, help="write every run and summary as JSON")
    args = parser.parse_args(argv)
    pd.set_option("display.width", 160)
    results: dict[str, Any] = {}
    started = time.time()
    if "A" in args.parts:
        corr_runs = correlation_study(args.seeds)
        corr = summarise_correlations(corr_runs)
        print(
            f"\nA. Correlations on simulated series ({args.seeds} seeds, BH q < {ALPHA}, "
            f"{int(corr_runs['tests'].iloc[0])} pair-lag tests per run)"
        )
        print(corr.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
        results["correlations"] = corr.to_dict("records")
    if "B" in args.parts:
        seeds = list(range(args.first_seed, args.first_seed + args.null_seeds))
        null_runs = pd.DataFrame(_map(null_run, seeds, args.jobs))
        null = summarise_null(null_runs)
        print(
            f"\nB. The whole engine on null data ({args.null_seeds} seeds from "
            f"{args.first_seed}, run-level alpha "
            f"{ALPHA}: {', '.join(f'{k} {v:.4g}' for k, v in family_levels(ALPHA).items())})"
        )
        print(null.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
        results["null"] = {"summary": null.to_dict("records"), "runs": null_runs.to_dict("records")}
    for scale in [float(v) for v in args.scales.split(",")] if "C" in args.parts else []:
        if not args.demo_seeds:
            break
        demo_runs = demo_study(args.demo_seeds, scale, args.jobs, args.first_seed)
        demo = summarise_demo(demo_runs)
        print(
            f"\nC. Planted effects of the demo generator ({args.demo_seeds} seeds, one tenant, "
            f"scale {scale})"
        )
        print(demo.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        results[f"demo_scale_{scale}"] = {
            "summary": demo.to_dict("records"),
            "runs": demo_runs.to_dict("records"),
        }
    print(f"\n{time.time() - started:.0f} s")
    if args.out:
        args.out.write_text(json.dumps(results, indent=2, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
