"""Insights: hand-made series and data directories with known answers, the documented severity
rule recomputed, the planted effects of the demo data, the status lifecycle, and the CLI."""

from __future__ import annotations

import datetime as dt
import io
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps
from typer.testing import CliRunner

from auterity_lab import insights
from auterity_lab.cli import app
from auterity_lab.errors import QueryParameterError
from auterity_lab.state import InsightNotFoundError, InvalidTransitionError, StateStore
from auterity_lab.warehouse import Workbench

from .builders import build_data_dir

DEMO_START, DEMO_END = "2026-07-04", "2026-11-01"
DAYS = pd.date_range("2026-01-01", periods=84, freq="D", tz="UTC")
runner = CliRunner()


def _frame(
    metric: str,
    values: np.ndarray,
    n: float | np.ndarray = 50.0,
    system: str = "x",
    segment: str = "",
) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "period": DAYS[: len(values)],
            "system": system,
            "metric": metric,
            "segment": segment,
            "value": values,
            "n": n,
        }
    )


# ---------------------------------------------------------------------- scan_series
def test_spike_step_and_trend_are_told_apart() -> None:
    rng = np.random.default_rng(0)
    season = np.tile([1.05, 1, 1, 1, 1, 0.95, 0.95], 12)
    spike = 200 * season * np.exp(rng.normal(0, 0.05, 84))
    spike[30] *= 3  # one day three times the usual
    step = 200 * season * np.exp(rng.normal(0, 0.05, 84))
    step[50:] *= 1.4  # +40 % from day 51 on
    trend = np.round(20 * np.exp(0.02 * np.arange(84)) * season * np.exp(rng.normal(0, 0.05, 84)))
    series = pd.concat(
        [
            _frame("ai_mean_latency", spike),
            _frame("api_mean_latency", step),
            _frame("sessions", trend, n=trend),
        ]
    )
    found = insights.scan_series(series)
    anomalies = found.anomalies[found.anomalies["is_anomaly"]]
    assert anomalies[["series", "period"]].values.tolist() == [["ai_mean_latency", DAYS[30]]]
    spike_row = anomalies.iloc[0]
    assert spike_row["value"] / spike_row["expected"] == pytest.approx(3, rel=0.15)
    cps = found.change_points.set_index("series")
    assert cps.loc["api_mean_latency", "is_change_point"]
    assert cps.loc["api_mean_latency", "change_at"] == DAYS[50]
    assert cps.loc["api_mean_latency", "relative_change"] == pytest.approx(0.4, abs=0.05)
    low, high = np.expm1(cps.loc["api_mean_latency", ["shift_low", "shift_high"]].astype(float))
    assert low < 0.4 < high
    trends = found.trends.set_index("series")
    assert trends.loc["sessions", "is_trend"] and not cps.loc["sessions", "is_change_point"]
    assert math.expm1(trends.loc["sessions", "slope"]) == pytest.approx(0.02, abs=0.004)
    assert not trends.loc["ai_mean_latency", "is_trend"]
    assert not cps.loc["ai_mean_latency", "is_change_point"]


def test_noise_gives_nothing() -> None:
    rng = np.random.default_rng(42)
    series = pd.concat(
        [
            _frame(
                f"m{i}",
                100 * np.exp(rng.normal(0, 0.1, 84)) * np.tile([1.1, 1, 1, 1, 1, 0.9, 0.9], 12),
            )
            for i in range(8)
        ]
    )
    found = insights.scan_series(series)
    assert not found.anomalies["is_anomaly"].any()
    assert not found.trends["is_trend"].any()
    assert not found.change_points["is_change_point"].any()


def test_rates_use_their_binomial_noise_and_incidents_combine_systems() -> None:
    rng = np.random.default_rng(7)
    calls = rng.integers(15, 25, 84).astype(float)
    frames = []
    for metric, system in (
        ("api_error_rate", "auterity"),
        ("ai_error_rate", "neuroweaver"),
        ("workflow_failure_rate", "relaycore"),
    ):
        errors = rng.binomial(calls.astype(int), 0.02).astype(float)
        errors[40] = 4.0  # the incident: 4 of ~20 calls fail in every system
        frames.append(_frame(metric, errors / calls, n=calls, system=system))
    found = insights.scan_series(pd.concat(frames))
    incidents = found.incidents[found.incidents["is_incident"]]
    assert incidents["period"].tolist() == [DAYS[40]]
    assert sorted(incidents.iloc[0]["systems"]) == ["auterity", "neuroweaver", "relaycore"]
    # one failure among ~20 calls is ordinary for a 2 % rate: never an anomaly
    single = found.anomalies[(found.anomalies["value"] * found.anomalies["n"]).round() == 1]
    assert not single["is_anomaly"].any()


def test_sparse_and_short_series() -> None:
    rng = np.random.default_rng(3)
    values = np.where(np.arange(84) % 2 == 0, 100 * np.exp(rng.normal(0, 0.1, 84)), np.nan)
    values[44::2] *= 4  # 4x slower from day 45: the planted bottleneck's shape
    sparse = _frame(
        "step_mean_duration", values, n=np.where(np.isnan(values), 0.0, 1.0), segment="wf/step"
    )
    short = _frame("ai_mean_latency", np.full(10, 5.0))
    # one series: a scan's alpha is split over its five families, so give this one room
    found = insights.scan_series(pd.concat([sparse, short]), alpha=0.2)
    assert (
        found.skipped.set_index("series").loc["ai_mean_latency", "reason"].startswith("10 periods")
    )
    cp = found.change_points.iloc[0]
    assert cp["sparse"] and cp["is_change_point"] and cp["change_at"] == DAYS[44]
    assert found.anomalies["z"].isna().all()  # no anomaly scores for a sparse series


def _null_study() -> object:
    """benchmarks/detection_study.py as a module: its null simulator and run are the fast part."""
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "benchmarks" / "detection_study.py"
    spec = importlib.util.spec_from_file_location("detection_study", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_whole_run_on_null_catalog_series_finds_nothing_and_pvalues_are_calibrated() -> None:
    """The fast part of study B: catalog-shaped series without any effect, simulated call by call
    (heavy-tailed latencies, mostly-zero error counts, a few calls per segment and day)."""
    study = _null_study()
    runs = [study.null_run(seed) for seed in range(3)]
    for row in runs:
        assert sum(row[f] for f in study.NULL_FAMILIES) == 0, row
    for family in study.NULL_FAMILIES:
        tests = sum(r[f"{family}_tests"] for r in runs)
        assert tests > 100
        # not anti-conservative: no more small p-values than uniform ones would give (+ noise)
        for cut, key in ((0.05, "below_05"), (0.01, "below_01")):
            share = sum(r[f"{family}_{key}"] for r in runs) / tests
            assert share <= cut + 3 * math.sqrt(cut / tests) + 0.005, (family, cut, share)


def test_run_levels_add_up_to_alpha() -> None:
    every = insights.family_levels(0.05)
    assert sum(every.values()) == pytest.approx(0.05)
    assert every["correlation"] == pytest.approx(0.05 * insights.ALPHA_SHARES["correlation"])
    two = insights.family_levels(0.1, ["trend", "change_point", "correlation"])
    assert set(two) == {"trend_change", "correlation"} and sum(two.values()) == pytest.approx(0.1)
    assert sum(insights.scan_levels(0.02, trend_share=0.3).values()) == pytest.approx(0.02)
    with pytest.raises(QueryParameterError, match="alpha"):
        insights.scan_series(_frame("m", np.ones(30)), alpha=0.0)


def test_counts_and_rates_are_tested_against_their_neighbours_exactly() -> None:
    # a rate of 1.5 % on 20 calls a day: most days have no failure, so a median-based level
    # would be 0; the test compares each day with its 14 neighbours (Fisher's exact test)
    calls = np.full(84, 20.0)
    errors = np.zeros(84)
    errors[::4] = 1.0  # 21 failures in 1,680 calls: 1.25 %
    errors[60] = 6.0  # 30 % on one day
    found = insights.scan_series(_frame("ai_error_rate", errors / calls, n=calls))
    a = found.anomalies.set_index("period")
    assert a.loc[DAYS[60], "is_anomaly"] and a["is_anomaly"].sum() == 1
    # the expectation is the neighbours' pooled rate: 14 neighbours, 4 of them with a failure
    neighbours = [d for d in range(53, 68) if d != 60]
    assert a.loc[DAYS[60], "expected"] == pytest.approx(errors[neighbours].sum() / 280)
    # Fisher's exact test of 6/20 against the neighbours, one-sided, mid-p: the same z
    k, n_nb, k_nb = 6, 280, errors[neighbours].sum()
    dist = sps.hypergeom(20 + n_nb, k + k_nb, 20)
    mid = dist.sf(k) + 0.5 * dist.pmf(k)
    assert a.loc[DAYS[60], "z"] == pytest.approx(sps.norm.isf(mid), rel=1e-6)


def test_deployment_check_against_other_models_is_calibrated_and_finds_the_regression() -> None:
    """The latency test of a model's deploy relative to the other models' calls of the same days
    (cells of successful calls): uniform p-values without an effect although every day has a
    strong shared factor, and a +40 % regression found with its size."""
    rng = np.random.default_rng(11)
    days = pd.date_range("2026-01-01", periods=28, freq="D").date

    def cells(effect: float) -> pd.DataFrame:
        shared = rng.normal(0, 0.3, 28)  # a slow day for every model
        rows = []
        for model, calls, level in (("m1", 6, 7.0), ("m2", 4, 6.4), ("m3", 8, 6.0)):
            for d in range(28):
                n = int(rng.poisson(calls)) + 1
                after = d >= 14
                mu = level + shared[d] + (math.log1p(effect) if after and model == "m1" else 0)
                y = rng.normal(mu, 0.45, n)
                rows.append((days[d], model, after, n, y.sum(), (y**2).sum()))
        return pd.DataFrame(
            rows,
            columns=["day", "model_id", "after", "calls", "log_latency_sum", "log_latency_sq_sum"],
        )

    null = [insights._latency_against_other_models(cells(0.0), "m1")[1] for _ in range(200)]
    assert sps.kstest(null, "uniform").pvalue > 0.01
    change, p = insights._latency_against_other_models(cells(0.4), "m1")
    assert change == pytest.approx(0.4, abs=0.12) and p < 1e-4
    one_model = cells(0.4).query("model_id == 'm1'")
    assert all(math.isnan(v) for v in insights._latency_against_other_models(one_model, "m1"))


def test_severity_rule() -> None:
    assert [insights.severity(s) for s in (0.5, 0.49, 0.3, 0.15, 0.149)] == [
        "critical",
        "high",
        "high",
        "medium",
        "low",
    ]


# -------------------------------------------------------------- deployment checks
def _deploy_rows(*, after_ms: int, after_calls: int, start: str = "2026-01-01") -> list[dict]:
    rows = []
    t0 = pd.Timestamp(start, tz="UTC")
    for day in range(21):
        new = day >= 14
        calls = after_calls if new else 10
        for i in range(calls):
            rows.append(
                {
                    "tenant_id": "t1",
                    "model_id": "m1",
                    "model_version": "v2" if new else "v1",
                    "prompt_version": "p1",
                    "created_at": t0 + pd.Timedelta(days=day, hours=1 + i),
                    "response_time_ms": after_ms if new else 1000,
                    "status": "error" if new and i == 0 else "success",
                    "user_rating": (3 if new else 5) if i < 5 else None,
                }
            )
    return rows


def test_deployment_check_hand_worked(tmp_path: Path) -> None:
    d = build_data_dir(
        tmp_path / "d", {"prompt_outputs": _deploy_rows(after_ms=2500, after_calls=10)}
    )
    with Workbench.open(d, tenant="t1") as wb:
        checks = insights.deployment_checks(wb, start="2026-01-01", end="2026-01-22")
    assert len(checks) == 1
    c = checks.iloc[0]
    assert (c["kind"], c["scope"], c["version"], c["previous_version"]) == (
        "model_version",
        "m1",
        "v2",
        "v1",
    )
    assert c["deployed_at"] == pd.Timestamp("2026-01-15 01:00", tz="UTC")
    assert (c["requests_before"], c["requests_after"]) == (140, 70)
    assert (c["response_time_before"], c["response_time_after"]) == (1000, 2500)
    assert c["response_time_change"] == pytest.approx(1.5)
    assert (c["error_rate_before"], c["error_rate_after"]) == (0, 10)  # one error in ten calls
    assert (c["satisfaction_before"], c["satisfaction_after"]) == (1.0, 0.0)  # 5s, then 3s
    assert c["throughput_after"] == pytest.approx(70 / (7 - 1 / 24))  # calls per day of the window
    assert c["throughput_before"] == pytest.approx(140 / 14)
    assert c["violations"] == ["response_time", "error_rate", "user_satisfaction"]
    assert c["preexisting"] == [] and set(c["regressions"]) == {
        "response_time",
        "error_rate",
        "user_satisfaction",
    }
    assert c["rollback_recommended"] and c["status"] == "rollback"


def test_deployment_check_needs_enough_calls_and_blames_only_new_violations(tmp_path: Path) -> None:
    rows = _deploy_rows(after_ms=2500, after_calls=3)  # 21 calls after: below min_requests
    d = build_data_dir(tmp_path / "d", {"prompt_outputs": rows})
    with Workbench.open(d, tenant="t1") as wb:
        few = insights.deployment_checks(wb, start="2026-01-01", end="2026-01-22").iloc[0]
        assert "response_time" not in few["violations"]
        lenient = insights.DeploymentThresholds(min_requests=10, response_time_ms=500)
        pre = insights.deployment_checks(
            wb, start="2026-01-01", end="2026-01-22", thresholds=lenient
        ).iloc[0]
    # 1000 ms before and 2500 ms after both exceed 500 ms: preexisting, but +150 % is a regression
    assert pre["preexisting"] == ["response_time"] and "response_time" in pre["regressions"]
    assert pre["rollback_recommended"]  # the regression is above max_regression (25 %)


def test_manual_markers(tmp_path: Path) -> None:
    d = build_data_dir(
        tmp_path / "d", {"prompt_outputs": _deploy_rows(after_ms=1000, after_calls=10)}
    )
    with Workbench.open(d, tenant="t1") as wb:
        checks = insights.deployment_checks(
            wb,
            start="2026-01-01",
            end="2026-01-22",
            markers=[{"deployed_at": "2026-01-15T00:00:00Z", "version": "release-42"}],
        )
        with pytest.raises(QueryParameterError, match="deployed_at"):
            insights.deployment_checks(wb, start="2026-01-01", end="2026-01-22", markers=[{"x": 1}])
    c = checks.iloc[0]
    assert c["deployment"] == "manual:all:release-42"
    assert c["response_time_change"] == pytest.approx(0.0)
    assert "response_time" not in c["regressions"]


# ------------------------------------------------------------- severity, recomputed
def test_change_point_insight_follows_the_documented_severity_rule(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    rows = []
    for day in range(60):
        for i in range(30):
            rows.append(
                {
                    "tenant_id": "t1",
                    "model_id": "m1",
                    "status": "success",
                    "created_at": pd.Timestamp("2026-03-01", tz="UTC")
                    + pd.Timedelta(days=day, minutes=20 * i),
                    "response_time_ms": int(
                        800 * (1.6 if day >= 30 else 1.0) * math.exp(rng.normal(0, 0.3))
                    ),
                }
            )
    d = build_data_dir(tmp_path / "d", {"prompt_outputs": rows})
    store = StateStore(tmp_path / "state")
    with Workbench.open(d, tenant="t1") as wb:
        report = insights.generate_insights(
            wb, start="2026-03-01", end="2026-04-30", kinds=["change_point"], state=store
        )
    cp = report.scan.change_points.set_index("series").loc["ai_mean_latency"]
    assert cp["change_at"] == pd.Timestamp("2026-03-31", tz="UTC")
    ins = report.insights.set_index("insight_key").loc["change_point:ai_mean_latency:2026-03-31"]
    expected = min(1.0, abs(cp["relative_change"]) / 0.5) * (1 - cp["q_value"]) * 1.0 * 1.0
    assert ins["score"] == pytest.approx(expected, abs=1e-4)
    assert ins["severity"] == insights.severity(expected) == "critical"
    assert ins["status"] == "active"
    assert {"n", "statistic", "p_value", "q_value", "interval"} <= set(ins["evidence"])
    assert "rose" in ins["title"] and "2026-03-31" in ins["description"]


# ------------------------------------------------------------------------ the demo
@pytest.fixture(scope="module")
def demo_report(
    demo_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[insights.InsightReport, StateStore]:
    store = StateStore(tmp_path_factory.mktemp("state"))
    with Workbench.open(demo_dir, tenant="acme") as wb:
        report = insights.generate_insights(
            wb, start=DEMO_START, end=DEMO_END, n_boot=200, state=store
        )
    return report, store


def _effect(demo_dir: Path, name: str) -> dict:
    truth = json.loads((demo_dir / "ground_truth.json").read_text())
    return next(e for e in truth["effects"] if e["id"] == name)


def _kind(report: insights.InsightReport, kind: str) -> pd.DataFrame:
    return report.insights[report.insights["insight_type"] == kind]


def _on(frame: pd.DataFrame, series: str) -> pd.Series:
    return frame[frame["metrics"].map(lambda m: m == [series])].iloc[0]


def test_planted_lagged_correlation(demo_report: tuple, demo_dir: Path) -> None:
    lagged = _effect(demo_dir, "lagged_correlation")  # AI latency leads duration, negatively
    corr = _kind(demo_report[0], "correlation")
    hits = [
        e
        for e in corr["evidence"]
        if e["leader"] in ("ai_mean_latency", "ai_p95_latency")
        and e["follower"] == "avg_session_duration"
    ]
    assert hits and all(abs(e["lag"]) == lagged["lag_days"] and e["statistic"] < 0 for e in hits)


def test_planted_outage(demo_report: tuple, demo_dir: Path) -> None:
    outage = _effect(demo_dir, "outage")  # one incident, the error rates of all three systems
    day = (
        _kind(demo_report[0], "anomaly").set_index("insight_key").loc[f"anomaly:{outage['start']}"]
    )
    assert {"api_error_rate", "ai_error_rate", "workflow_failure_rate"} <= set(day["metrics"])
    assert day["evidence"]["incident"]["q_value"] < 0.05 and day["severity"] == "critical"
    assert all(a["z"] > 0 for a in day["evidence"]["anomalies"])  # direction "up"


def test_planted_latency_regression(demo_report: tuple, demo_dir: Path) -> None:
    regression = _effect(demo_dir, "latency_regression")  # gpt-4o's new version, 40 % slower
    dep = _kind(demo_report[0], "deployment").set_index("insight_key")
    gpt = dep.loc["deployment:model_version:gpt-4o:2024-11-20"]
    assert gpt["period_start"][:10] == regression["start"]
    values = gpt["evidence"]["values"]
    assert values["response_time_after"] / values["response_time_before"] > 1.2
    assert gpt["evidence"]["p_value"]["response_time"] < 0.05  # daily Welch, before BH
    # the model's own latency shifts up on that day; at this scale (about 6 gpt-4o calls a day)
    # the change-point test alone is not significant after BH over every segment (the study
    # measures its recall: benchmarks/detection_study.py), but its estimate is right
    cps = demo_report[0].scan.change_points.set_index("series")
    shift = cps.loc["ai_mean_latency[gpt-4o]"]
    planted = pd.Timestamp(regression["start"], tz="UTC")
    assert abs((shift["change_at"] - planted).days) <= 1
    assert shift["relative_change"] > 0.2 and shift["p_value"] < 0.05


def test_planted_trend_and_bottleneck(demo_report: tuple, demo_dir: Path) -> None:
    trend = _kind(demo_report[0], "trend").set_index("insight_key").loc["trend:new_users"]
    assert trend["evidence"]["slope"] > 0 and trend["evidence"]["q_value"] < 0.05  # signups grow
    bottleneck = _effect(demo_dir, "bottleneck")  # crm_lookup of lead-enrichment, 4x slower
    step = _on(
        _kind(demo_report[0], "change_point"), "step_mean_duration[lead-enrichment/crm_lookup]"
    )
    assert step["period_start"][:10] == bottleneck["start"]
    assert step["evidence"]["relative_change"] > 1.5


def test_planted_experiments(demo_report: tuple, demo_dir: Path) -> None:
    pytest.importorskip("auterity_lab.ml.experiments")
    lift = _effect(demo_dir, "experiment_lift")["details"]
    exp = _kind(demo_report[0], "experiment").set_index("insight_key")
    key = f"experiment:{lift['experiment_key']}:{lift['treatment']}"
    assert key in exp.index and "beats" in exp.loc[key, "title"]
    null = _effect(demo_dir, "experiment_null")["details"]["experiment_key"]
    assert not any(k.startswith(f"experiment:{null}:") for k in exp.index)


def test_cost_insights_relay_the_ml_suggestions(demo_dir: Path, tmp_path: Path) -> None:
    """Each money-saving suggestion of auterity_lab.ml becomes one insight; for globex (the
    demo tenant with enough ratings at this scale) the planted cheaper model, mistral-small for
    gpt-4o's traffic, is among them."""
    suggestions = pytest.importorskip("auterity_lab.ml.suggestions")
    cheaper = _effect(demo_dir, "cheaper_equal_model")["details"]
    keys = set()
    for tenant in ("globex",):
        with Workbench.open(demo_dir, tenant=tenant) as wb:
            got = insights.generate_insights(
                wb, start=DEMO_START, end=DEMO_END, kinds=["cost_optimization"], store=False
            ).insights
            ml = suggestions.optimization_suggestions(
                wb,
                start=DEMO_START,
                end=DEMO_END,
                kinds=["cheaper_model", "cap_output_tokens", "cache_repeated_prompts"],
            )
        ml = ml[ml["estimated_monthly_savings_usd"] > 0]
        versions = [json.loads(e).get("prompt_version") for e in ml["evidence"]]
        expected = {
            f"cost_optimization:{k}:{m}:{t}" + (f":{v}" if v else "")
            for k, m, t, v in zip(ml["kind"], ml["model_id"], ml["target"], versions, strict=True)
        }
        assert set(got["insight_key"]) == expected
        keys |= expected
    assert f"cost_optimization:cheaper_model:{cheaper['reference']}:{cheaper['cheaper']}" in keys


def test_insights_carry_evidence_and_are_ordered(demo_report: tuple) -> None:
    report, _ = demo_report
    ins = report.insights
    rank = ins["severity"].map({s: i for i, s in enumerate(insights.SEVERITIES)})
    assert rank.is_monotonic_increasing
    for rec in ins.itertuples(index=False):
        assert rec.severity == insights.severity(rec.score) or rec.insight_type == "deployment"
        assert rec.affected_systems and rec.metrics and rec.recommendations
        assert "p_value" in rec.evidence or "incident" in rec.evidence
        assert len(rec.title) <= 255 and rec.description


def test_lifecycle_and_reruns(demo_report: tuple, demo_dir: Path) -> None:
    report, store = demo_report
    first = store.insights("acme")
    assert len(first) == len(report.insights) and set(first["status"]) == {"active"}
    keys = report.insights.set_index("insight_type")["insight_key"]
    trend_key = (
        keys.loc["trend"].iloc[0] if isinstance(keys.loc["trend"], pd.Series) else keys.loc["trend"]
    )
    anomaly_key = (
        keys.loc["anomaly"].iloc[0]
        if isinstance(keys.loc["anomaly"], pd.Series)
        else keys.loc["anomaly"]
    )
    with Workbench.open(demo_dir, tenant="acme") as wb:
        assert insights.acknowledge(wb, trend_key, state=store)["status"] == "acknowledged"
        assert insights.dismiss(wb, anomaly_key, state=store)["status"] == "dismissed"
        with pytest.raises(
            InvalidTransitionError, match="dismissed; it cannot become acknowledged"
        ):
            insights.acknowledge(wb, anomaly_key, state=store)
        with pytest.raises(InsightNotFoundError):
            insights.resolve(wb, "no-such-insight", state=store)
        # a re-run (same options: a subset of kinds would give each family a larger share of
        # alpha, and so possibly new insights) updates the same insights: same ids, statuses
        # kept, nothing duplicated
        again = insights.generate_insights(
            wb, start=DEMO_START, end=DEMO_END, n_boot=200, state=store
        )
        stored = store.insights("acme").set_index("insight_key")
        assert stored.index.is_unique and len(stored) == len(first)
        assert stored.loc[trend_key, "status"] == "acknowledged"
        assert stored.loc[anomaly_key, "status"] == "dismissed"
        rerun = again.insights.set_index("insight_key")
        assert rerun.loc[trend_key, "id"] == first.set_index("insight_key").loc[trend_key, "id"]
        assert rerun.loc[anomaly_key, "status"] == "dismissed"
        assert insights.resolve(wb, trend_key, state=store)["status"] == "resolved"
        assert list(insights.list_insights(wb, status="resolved", state=store)["insight_key"]) == [
            trend_key
        ]


def test_empty_range_and_bad_kinds(wb: Workbench, tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state")
    empty = insights.generate_insights(
        wb,
        start="2030-01-01",
        end="2030-02-01",
        state=store,
        kinds=["anomaly", "trend", "change_point", "deployment"],
    )
    assert empty.insights.empty and list(empty.insights.columns) == list(insights.INSIGHT_COLUMNS)
    assert empty.deployments.empty and list(empty.deployments.columns) == list(
        insights.DEPLOYMENT_COLUMNS
    )
    with pytest.raises(QueryParameterError, match="unknown insight kind horoscope"):
        insights.generate_insights(wb, start=DEMO_START, end=DEMO_END, kinds=["horoscope"])


# ------------------------------------------------------------------------------ CLI
def test_cli_insights_round_trip(demo_dir: Path, tmp_path: Path) -> None:
    data = tmp_path / "demo"
    shutil.copytree(demo_dir, data)
    base = ["-d", str(data), "-t", "acme"]
    res = runner.invoke(
        app,
        [
            "insights",
            *base,
            "--start",
            "2026-09-01",
            "--end",
            DEMO_END,
            "-k",
            "anomaly",
            "-k",
            "deployment",
            "-f",
            "json",
        ],
    )
    assert res.exit_code == 0, res.output
    found = json.loads(res.stdout)
    assert any(r["insight_key"] == "anomaly:2026-09-17" for r in found)
    ack = runner.invoke(app, ["insights", "acknowledge", "anomaly:2026-09-17", *base, "-f", "csv"])
    assert ack.exit_code == 0, ack.output
    assert pd.read_csv(io.StringIO(ack.stdout))["status"].tolist() == ["acknowledged"]
    listed = runner.invoke(
        app, ["insights", "list", *base, "--status", "acknowledged", "-f", "csv"]
    )
    assert pd.read_csv(io.StringIO(listed.stdout))["insight_key"].tolist() == ["anomaly:2026-09-17"]
    bad = runner.invoke(app, ["insights", "resolve", "nope", *base])
    assert bad.exit_code == 1 and "InsightNotFoundError" in bad.output
    missing = runner.invoke(app, ["insights", "-t", "acme"])
    assert missing.exit_code != 0 and "--start, --end required" in missing.output
    dep = runner.invoke(
        app,
        ["insights", "deployments", *base, "--start", DEMO_START, "--end", DEMO_END, "-f", "csv"],
    )
    assert dep.exit_code == 0 and "model_version:gpt-4o:2024-11-20" in dep.stdout
    scan = runner.invoke(
        app,
        [
            "insights",
            "scan",
            *base,
            "--start",
            DEMO_START,
            "--end",
            DEMO_END,
            "--part",
            "incidents",
            "--no-segments",
            "-f",
            "csv",
        ],
    )
    assert scan.exit_code == 0 and "2026-09-17" in scan.stdout


def test_cli_correlations_match_the_library(demo_dir: Path, tmp_path: Path) -> None:
    data = tmp_path / "demo"
    shutil.copytree(demo_dir, data)
    args = [
        "correlations",
        "-d",
        str(data),
        "-t",
        "acme",
        "--start",
        DEMO_START,
        "--end",
        DEMO_END,
        "--n-boot",
        "0",
        "--part",
        "pairs",
        "--no-store",
    ]
    res = runner.invoke(app, [*args, "-f", "csv"])
    assert res.exit_code == 0, res.output
    got = pd.read_csv(io.StringIO(res.stdout))
    from auterity_lab.stats import correlations

    with Workbench.open(data, tenant="acme") as wb:
        lib = correlations(wb, start=DEMO_START, end=DEMO_END, n_boot=0, store=False)
    assert got["r"].to_numpy() == pytest.approx(lib.pairs["r"].to_numpy())
    assert not (data / "state" / "system_correlations.parquet").exists()
    metrics = runner.invoke(
        app,
        [
            "metrics",
            "series",
            "-d",
            str(data),
            "-t",
            "acme",
            "--start",
            "2026-09-17",
            "--end",
            "2026-09-18",
            "-m",
            "ai_error_rate",
            "-f",
            "json",
        ],
    )
    assert metrics.exit_code == 0
    assert json.loads(metrics.stdout)[0]["metric"] == "ai_error_rate"
    assert dt.date.fromisoformat(json.loads(metrics.stdout)[0]["period"][:10]) == dt.date(
        2026, 9, 17
    )


def test_insight_browser_buttons_call_the_library(
    demo_report: tuple, demo_dir: Path, tmp_path: Path
) -> None:
    from auterity_lab.widgets.insights import insight_browser

    store = StateStore(tmp_path / "state")
    store.save_insights("acme", demo_report[0].insights.head(3).drop(columns=["id", "status"]))
    with Workbench.open(demo_dir, tenant="acme") as wb:
        browser = insight_browser(wb, state=store)
        controls, message, picker, detail, table = browser.children
        status, acknowledge, resolve, dismiss = controls.children
        first = picker.value
        assert len(picker.options) == 3 and first == store.insights("acme")["id"].iloc[0]
        assert detail.value.startswith("<b>")  # the selected insight's description and evidence
        dismiss.click()
        assert store.insights("acme").set_index("id").loc[first, "status"] == "dismissed"
        assert len(picker.options) == 2  # "open" hides it now
        status.value = "dismissed"
        picker.value = first
        acknowledge.click()  # refused: dismissed is final, and the message says so
        assert "cannot become acknowledged" in message.value
        assert store.insights("acme").set_index("id").loc[first, "status"] == "dismissed"


def test_bad_arguments_of_the_scan_kernels_are_named() -> None:
    with pytest.raises(QueryParameterError, match=r"unknown insight kind 1\.0"):
        insights.family_levels(0.05, kinds=[1.0])
    with pytest.raises(QueryParameterError, match="z must be a sequence of numbers"):
        insights.tail_pvalues(0)
    with pytest.raises(QueryParameterError, match="body must be"):
        insights.tail_pvalues(np.zeros(20), body=-1)
    frame = pd.DataFrame({"period": [], "metric": [], "segment": [], "value": [], "n": []})
    with pytest.raises(QueryParameterError, match="period must be an integer >= 2"):
        insights.scan_series(frame, period=-(10**12))
    with pytest.raises(QueryParameterError, match="min_segment must be an integer >= 1"):
        insights.scan_series(frame, min_segment=0)


def test_running_level_of_an_all_missing_series_is_missing_without_a_warning() -> None:
    # the suite turns warnings into errors: numpy's "All-NaN slice" must not escape
    assert np.isnan(insights.running_level(np.full(9, np.nan))).all()
