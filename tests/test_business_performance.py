"""System performance: hand-worked percentiles and error rates, pandas on the demo, and the planted
outage of ground_truth.json found as the day with the most certain 5xx spike."""

# ruff: noqa: F811  (test functions take the fixtures imported from test_business_data)

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from auterity_lab.business import system_performance
from auterity_lab.errors import QueryParameterError
from auterity_lab.warehouse import Workbench

from .test_business_data import (  # noqa: F401  (hand, hand_dir, nothing are fixtures)
    declared_columns,
    hand,
    hand_dir,
    nothing,
    raw,
    window,
)

D1, D2 = pd.Timestamp("2026-03-02", tz="UTC"), pd.Timestamp("2026-03-03", tz="UTC")


def test_daily_endpoint_metrics_by_hand(hand: Workbench) -> None:
    got = system_performance(hand, start="2026-03-02", end="2026-03-04", interval="day")
    cells = {(r["service"], r["period"]): r for r in got.to_dict("records")}
    assert set(cells) == {("api", D1), ("api", D2), ("ml", D1), ("ml", D2)}
    api = cells[("api", D1)]  # 100 ms 200, 200 ms 200, 300 ms 404, 400 ms 503
    assert (
        api["endpoint"],
        api["method"],
        api["requests"],
        api["errors_5xx"],
        api["errors_4xx"],
    ) == ("/a", "GET", 4, 1, 1)
    assert (api["error_rate_5xx"], api["error_rate_4xx"]) == (0.25, 0.25)
    assert (api["mean_ms"], api["p50_ms"]) == (250.0, 250.0)
    assert api["p95_ms"] == pytest.approx(385.0) and api["p99_ms"] == pytest.approx(397.0)
    ml = cells[("ml", D1)]  # 1000 ms 200, 3000 ms 500
    assert (ml["requests"], ml["errors_5xx"], ml["p50_ms"]) == (2, 1, 2000.0)
    assert ml["p95_ms"] == pytest.approx(2900.0) and ml["p99_ms"] == pytest.approx(2980.0)
    idle = cells[("ml", D2)]
    assert idle["requests"] == 0 and np.isnan(idle["error_rate_5xx"]) and np.isnan(idle["p95_ms"])
    assert np.isnan(idle["error_rate_5xx_ci_low"])
    assert cells[("api", D2)]["p99_ms"] == 50.0


def test_levels_filters_and_hours(hand: Workbench) -> None:
    whole = system_performance(
        hand, start="2026-03-02", end="2026-03-04", interval="range", level="all"
    ).iloc[0]
    assert (whole["service"], whole["endpoint"], whole["method"]) == ("all", "all", "all")
    assert (whole["requests"], whole["errors_5xx"], whole["errors_4xx"]) == (7, 2, 1)
    assert whole["mean_ms"] == pytest.approx(5050 / 7) and whole["p50_ms"] == 300.0
    ml = system_performance(
        hand, start="2026-03-02", end="2026-03-04", interval="range", level="service", service="ml"
    )
    assert ml[["service", "endpoint", "requests"]].values.tolist() == [["ml", "all", 2]]
    hours = system_performance(
        hand, start="2026-03-02 10:30", end="2026-03-02 16:00", interval="hour", level="all"
    )
    # the 10:00 call is before the range; its hour is cut at 10:30, so it is listed, incomplete
    assert len(hours) == 6 and hours["requests"].tolist() == [0, 1, 1, 1, 1, 1]
    assert hours["complete"].tolist() == [False, True, True, True, True, True]


def test_empty_and_bad_input(hand: Workbench, nothing: Workbench) -> None:
    for bench, start, end in (
        (hand, "2026-01-05", "2026-01-19"),
        (nothing, "2026-03-02", "2026-03-16"),
    ):
        got = system_performance(bench, start=start, end=end)
        assert got.empty and set(declared_columns("business_performance")) <= set(got.columns)
    with pytest.raises(QueryParameterError, match="level must be one of endpoint, service, all"):
        system_performance(hand, start="2026-03-02", end="2026-03-04", level="host")
    with pytest.raises(QueryParameterError, match="interval must be one of hour"):
        system_performance(hand, start="2026-03-02", end="2026-03-04", interval="minute")


def test_service_metrics_equal_pandas_on_demo(wb: Workbench, demo_dir: Path) -> None:
    p = window(raw(demo_dir, "performance_metrics", "acme"), "2026-09-01", "2026-10-01")
    got = system_performance(
        wb, start="2026-09-01", end="2026-10-01", interval="range", level="service"
    )
    got = got.set_index("service")
    for service, calls in p.groupby("service"):
        row = got.loc[service]
        assert row["requests"] == len(calls)
        assert row["errors_5xx"] == calls["status_code"].between(500, 599).sum()
        assert row["errors_4xx"] == calls["status_code"].between(400, 499).sum()
        for q, col in ((0.5, "p50_ms"), (0.95, "p95_ms"), (0.99, "p99_ms")):
            assert row[col] == pytest.approx(np.quantile(calls["response_time_ms"], q)), col
    hourly = system_performance(wb, start="2026-09-01", end="2026-09-02", interval="hour")
    assert hourly["requests"].sum() == len(window(p, "2026-09-01", "2026-09-02"))
    assert hourly["period"].nunique() == 24


def test_planted_outage_is_the_most_certain_5xx_spike(demo_dir: Path) -> None:
    truth = json.loads((demo_dir / "ground_truth.json").read_text())
    outage = next(e for e in truth["effects"] if e["id"] == "outage")
    start, end = truth["parameters"]["start"], truth["parameters"]["end"]
    for tenant in outage["tenants"]:
        with Workbench.open(demo_dir, tenant=tenant) as bench:
            daily = system_performance(bench, start=start, end=end, interval="day", level="all")
        worst = daily.sort_values("error_rate_5xx_ci_low", ascending=False).iloc[0]
        assert worst["period"] == pd.Timestamp(outage["start"], tz="UTC")
        baseline = next(t for t in outage["targets"] if t["metric"] == "5xx_rate")["baseline"]
        assert worst["error_rate_5xx_ci_low"] > 5 * baseline  # well clear of a normal day


@pytest.mark.parametrize("interval", ["week", "month"])
def test_week_and_month_periods_count_the_calls_of_their_utc_days(
    wb: Workbench, demo_dir: Path, interval: str
) -> None:
    rows = window(raw(demo_dir, "performance_metrics", "acme"), "2026-08-03", "2026-10-26")
    got = system_performance(
        wb, start="2026-08-03", end="2026-10-26", interval=interval, level="all"
    )
    utc = rows["created_at"].dt.tz_convert("UTC").dt.tz_localize(None)
    start = utc.dt.to_period("W-SUN" if interval == "week" else "M").dt.start_time
    expected = start.value_counts().sort_index()
    counted = got.set_index(got["period"].dt.tz_convert("UTC").dt.tz_localize(None))["requests"]
    assert counted[counted > 0].to_dict() == expected.to_dict()
