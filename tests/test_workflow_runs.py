"""Workflow runs: hand-worked counts, rates and percentiles; the demo against pandas."""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from auterity_lab.errors import QueryParameterError
from auterity_lab.warehouse import Workbench
from auterity_lab.workflow import run_summary, run_trends

from .builders import build_data_dir
from .test_warehouse import _raw


def _id(n: int) -> str:
    return str(uuid.UUID(int=n))


def _run(
    n: int, wf: str, status: str, trigger: str | None, at: str, ms: int | None, tenant: str = "t1"
) -> dict[str, object]:
    return {
        "id": _id(n),
        "tenant_id": tenant,
        "workflow_id": wf,
        "status": status,
        "trigger": trigger,
        "started_at": at,
        "duration_ms": ms,
    }


RUNS = [
    _run(1, "A", "success", "api", "2026-03-02T10:00:00Z", 100),
    _run(2, "A", "failed", "api", "2026-03-02T11:00:00Z", 300),
    _run(3, "A", "success", "event", "2026-03-03T09:00:00Z", 200),
    _run(4, "A", "cancelled", "event", "2026-03-04T09:00:00Z", None),
    _run(5, "B", "success", None, "2026-03-03T12:00:00Z", 1000),
    _run(6, "B", "running", "schedule", "2026-03-04T23:59:59Z", None),
    _run(7, "A", "success", "api", "2026-03-10T00:00:00Z", 50),  # after the range
    _run(8, "A", "failed", "api", "2026-03-02T10:30:00Z", 9999, tenant="t2"),  # other tenant
]


@pytest.fixture(scope="module")
def hand(tmp_path_factory: pytest.TempPathFactory) -> Workbench:
    d = build_data_dir(tmp_path_factory.mktemp("runs"), {"workflow_runs": RUNS})
    with Workbench.open(d, tenant="t1") as wb:
        yield wb


def test_summary_hand_worked(hand: Workbench) -> None:
    got = run_summary(hand, start="2026-03-01", end="2026-03-09")
    keys = list(zip(got["workflow_id"], got["trigger"], strict=True))
    assert keys == [
        ("A", "api"),
        ("A", "event"),
        ("A", "all"),
        ("B", "schedule"),
        ("B", "unknown"),
        ("B", "all"),
        ("all", "all"),
    ]
    row = got.set_index(["workflow_id", "trigger"])
    # runs succeeded failed cancelled other unfinished
    expected_counts = {
        ("A", "api"): (2, 1, 1, 0, 0, 0),
        ("A", "event"): (2, 1, 0, 1, 0, 1),
        ("A", "all"): (4, 2, 1, 1, 0, 1),
        ("B", "schedule"): (1, 0, 0, 0, 1, 1),
        ("B", "unknown"): (1, 1, 0, 0, 0, 0),
        ("B", "all"): (2, 1, 0, 0, 1, 1),
        ("all", "all"): (6, 3, 1, 1, 1, 2),
    }
    for key, counts in expected_counts.items():
        cols = ["runs", "succeeded", "failed", "cancelled", "other", "unfinished"]
        assert tuple(row.loc[key, cols]) == counts, key
    # durations: A api [100, 300]; A all [100, 200, 300]; everything [100, 200, 300, 1000]
    pct = ["p50_ms", "p95_ms", "p99_ms", "mean_ms"]
    assert row.loc[("A", "api"), pct].tolist() == pytest.approx([200, 290, 298, 200])
    assert row.loc[("A", "all"), pct].tolist() == pytest.approx([200, 290, 298, 200])
    assert row.loc[("all", "all"), pct].tolist() == pytest.approx([250, 895, 979, 400])
    assert np.isnan(row.loc[("B", "schedule"), "p50_ms"])
    assert row.loc[("A", "event"), "cancel_rate"] == 0.5
    assert row.loc[("all", "all"), "success_rate"] == 0.5
    lo, hi = proportion_confint(1, 2, alpha=0.05, method="wilson")
    assert row.loc[("A", "api"), "failure_rate_ci_low"] == pytest.approx(lo)
    assert row.loc[("A", "api"), "failure_rate_ci_high"] == pytest.approx(hi)


def test_summary_filters(hand: Workbench) -> None:
    only = run_summary(hand, start="2026-03-01", end="2026-03-09", workflow="A", trigger="api")
    assert only[["workflow_id", "trigger", "runs"]].values.tolist() == [
        ["A", "api", 2],
        ["A", "all", 2],
        ["all", "all", 2],
    ]
    unknown = run_summary(hand, start="2026-03-01", end="2026-03-09", trigger="unknown")
    assert unknown["runs"].tolist() == [1, 1, 1]


def test_trends_fill_every_period(hand: Workbench) -> None:
    day = run_trends(hand, start="2026-03-02", end="2026-03-05")
    assert len(day) == 6  # 3 days x workflows A and B
    a = day[day["workflow_id"] == "A"].set_index(
        day["period_start"][day["workflow_id"] == "A"].map(pd.Timestamp.date)
    )
    assert a["runs"].tolist() == [2, 1, 1] and a["failed"].tolist() == [1, 0, 0]
    assert a["failure_rate"].tolist()[:2] == [0.5, 0.0] and np.isnan(a["p50_ms"].iloc[2])
    b = day[day["workflow_id"] == "B"]
    assert b["runs"].tolist() == [0, 1, 1] and np.isnan(b["failure_rate"].iloc[0])
    week = run_trends(hand, start="2026-03-01", end="2026-03-09", period="week", workflow="A")
    assert week["period_start"].map(pd.Timestamp.date).astype(str).tolist() == [
        "2026-02-23",
        "2026-03-02",
    ]
    assert week["runs"].tolist() == [0, 4]


def test_empty_range_and_bad_parameters(hand: Workbench) -> None:
    empty = run_summary(hand, start="2030-01-01", end="2030-01-02")
    assert empty.empty and "failure_rate_ci_low" in empty.columns and "p99_ms" in empty.columns
    assert run_trends(hand, start="2030-01-01", end="2030-01-02").empty
    with pytest.raises(QueryParameterError, match="period must be one of day, week, month"):
        run_trends(hand, start="2026-03-01", end="2026-03-09", period="hour")
    with pytest.raises(QueryParameterError, match="must be after start"):
        run_summary(hand, start="2026-03-09", end="2026-03-01")


def test_summary_equals_pandas_on_the_demo(wb: Workbench, demo_dir: Path) -> None:
    runs = _raw(demo_dir, "workflow_runs", "acme")
    runs = runs[
        (runs["created_at"] >= pd.Timestamp("2026-08-01", tz="UTC"))
        & (runs["created_at"] < pd.Timestamp("2026-10-01", tz="UTC"))
    ]
    got = run_summary(wb, start="2026-08-01", end="2026-10-01").set_index(
        ["workflow_id", "trigger"]
    )
    for (wf, trig), group in runs.groupby(["workflow_id", "trigger"]):
        row = got.loc[(wf, trig)]
        assert row["runs"] == len(group)
        assert row["failed"] == (group["status"] == "failed").sum()
        assert row["p95_ms"] == pytest.approx(np.percentile(group["duration_ms"], 95))
        assert row["p99_ms"] == pytest.approx(np.percentile(group["duration_ms"], 99))
    assert got.loc[("all", "all"), "runs"] == len(runs)
    assert got.loc[("all", "all"), "p50_ms"] == pytest.approx(runs["duration_ms"].median())
    weekly = run_trends(wb, start="2026-08-01", end="2026-10-01", period="month")
    assert weekly["runs"].sum() == len(runs)
