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
B. **Series tests on simulated null series** (same seeds): the share of runs with any anomaly,
   trend or change point, and the per-series rates.
C. **Planted effects of the demo generator** (``--demo-seeds``, default 50, at each of
   ``--scales``): for each seed, ``generate_demo(tenants=1, scale=...)`` (the tenant ``acme``;
   scale 0.05 is the test fixture, about 25 sessions and AI calls a day, 0.25 five times that) and
   :func:`auterity_lab.insights.generate_insights`
   over the whole range; each effect of ``ground_truth.json`` is checked on the right metrics,
   direction, date and lag. ``experiment_null`` counts as found when it is (wrongly) reported.

Run::

    .venv/bin/python benchmarks/detection_study.py                 # everything, ~25 min
    .venv/bin/python benchmarks/detection_study.py --demo-seeds 0  # parts A and B, ~3 min
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from auterity_lab.insights import generate_insights, scan_series
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


def series_null_study(seeds: int) -> pd.DataFrame:
    rows = []
    catalogish = {
        "auterity": ("avg_session_duration", "sessions"),
        "neuroweaver": ("ai_mean_latency", "ai_requests"),
        "relaycore": ("workflow_mean_duration", "workflow_runs"),
    }
    days = pd.date_range("2026-01-01", periods=120, freq="D", tz="UTC")
    for seed in range(seeds):
        rng = np.random.default_rng([seed, 7])
        frames = []
        for system, (mean_metric, count_metric) in catalogish.items():
            for j in range(3):  # three segments per metric
                level = np.exp(
                    6
                    + 0.1 * np.tile([1, 0, 0, 0, 0, -1, -1], 18)[:120]
                    + 0.15 * _ar1(rng, 120, 0.5)
                    + rng.normal(0, 0.1, 120)
                )
                frames.append(
                    pd.DataFrame(
                        {
                            "period": days,
                            "system": system,
                            "metric": mean_metric,
                            "segment": f"s{j}",
                            "value": level,
                            "n": 40.0,
                        }
                    )
                )
                lam = 40 * np.exp(0.1 * np.tile([1, 0, 0, 0, 0, -1, -1], 18)[:120])
                counts = rng.poisson(lam).astype(float)
                frames.append(
                    pd.DataFrame(
                        {
                            "period": days,
                            "system": system,
                            "metric": count_metric,
                            "segment": f"s{j}",
                            "value": counts,
                            "n": counts,
                        }
                    )
                )
        found = scan_series(pd.concat(frames, ignore_index=True), alpha=ALPHA)
        rows.append(
            {
                "seed": seed,
                "series": found.trends.shape[0],
                "anomalies": int(found.anomalies["is_anomaly"].sum()),
                "trends": int(found.trends["is_trend"].sum()),
                "change_points": int(found.change_points["is_change_point"].sum()),
            }
        )
    runs = pd.DataFrame(rows)
    return pd.DataFrame(
        [
            {
                "runs": len(runs),
                "series_per_run": int(runs["series"].iloc[0]),
                "runs_with_any_anomaly": (runs["anomalies"] > 0).mean(),
                "runs_with_any_trend": (runs["trends"] > 0).mean(),
                "runs_with_any_change_point": (runs["change_points"] > 0).mean(),
                "false_anomalies_per_series_day": runs["anomalies"].sum()
                / (runs["series"].sum() * 120),
            }
        ]
    )


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


def demo_study(seeds: int, scale: float) -> pd.DataFrame:
    rows = []
    for seed in range(1, seeds + 1):
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
            rows.append({"seed": seed} | check_demo(report.insights, truth))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        print(
            f"  demo seed {seed}: {sum(rows[-1][k] for k in _PLANTED)}/{len(_PLANTED)} found",
            file=sys.stderr,
            flush=True,
        )
    return pd.DataFrame(rows)


def summarise_demo(runs: pd.DataFrame) -> pd.DataFrame:
    effects = [c for c in runs.columns if c != "seed"]
    out = pd.DataFrame(
        {"effect": effects, "runs": len(runs), "share_found": [runs[c].mean() for c in effects]}
    )
    overall = runs[list(_PLANTED)].to_numpy().mean()
    return pd.concat(
        [
            out,
            pd.DataFrame(
                [{"effect": "ALL planted effects", "runs": len(runs), "share_found": overall}]
            ),
        ],
        ignore_index=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=50, help="seeds of parts A and B")
    parser.add_argument("--demo-seeds", type=int, default=50, help="seeds of part C (0 skips it)")
    parser.add_argument(
        "--scales", default="0.05,0.25", help="demo generator scales, comma-separated"
    )
    parser.add_argument("--out", type=Path, help="write every run and summary as JSON")
    args = parser.parse_args(argv)
    pd.set_option("display.width", 160)
    results: dict[str, Any] = {}
    started = time.time()
    corr_runs = correlation_study(args.seeds)
    corr = summarise_correlations(corr_runs)
    print(
        f"\nA. Correlations on simulated series ({args.seeds} seeds, BH q < {ALPHA}, "
        f"{int(corr_runs['tests'].iloc[0])} pair-lag tests per run)"
    )
    print(corr.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    series = series_null_study(args.seeds)
    print(f"\nB. Anomaly, trend and change-point tests on null series ({args.seeds} seeds)")
    print(series.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    results |= {"correlations": corr.to_dict("records"), "series_null": series.to_dict("records")}
    for scale in [float(v) for v in args.scales.split(",")] if args.demo_seeds else []:
        demo_runs = demo_study(args.demo_seeds, scale)
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
