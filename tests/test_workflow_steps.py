"""Workflow steps: hand-worked shares, retries, failure roles and shifts; the demo's bottleneck."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from auterity_lab.errors import QueryParameterError
from auterity_lab.warehouse import Workbench
from auterity_lab.workflow import (
    bottleneck_history,
    bottlenecks,
    failure_reasons,
    flaky_steps,
    retry_counts,
    step_breakdown,
    step_shifts,
)

from .builders import build_data_dir
from .conftest import DEMO_TENANTS
from .test_warehouse import _raw

START, END = "2026-03-01", "2026-03-09"


def _id(n: int) -> str:
    return str(uuid.UUID(int=n))


def _run(n: int, status: str, at: str, ms: int, error: str | None = None) -> dict[str, object]:
    return {
        "id": _id(n),
        "tenant_id": "t1",
        "workflow_id": "W",
        "status": status,
        "trigger": "api",
        "started_at": at,
        "duration_ms": ms,
        "error": error,
    }


def _step(
    run: int,
    idx: int,
    name: str,
    attempt: int,
    status: str,
    ms: int,
    at: str,
    error: str | None = None,
) -> dict[str, object]:
    return {
        "tenant_id": "t1",
        "run_id": _id(run),
        "step_index": idx,
        "step_name": name,
        "step_type": "http",
        "attempt": attempt,
        "status": status,
        "duration_ms": ms,
        "started_at": at,
        "error": error,
    }


TIMEOUT_1 = "timeout after 30012 ms for 123e4567-e89b-12d3-a456-426614174000"
TIMEOUT_2 = "timeout after 29998 ms for 00000000-0000-0000-0000-00000000abcd"
RUNS = [
    _run(1, "success", "2026-03-02T10:00:00Z", 1000),
    _run(2, "failed", "2026-03-03T10:00:00Z", 600, "step call failed"),
    _run(3, "success", "2026-03-04T10:00:00Z", 400),
    _run(4, "failed", "2026-03-05T10:00:00Z", 50, "scheduler lost the run"),
    _run(5, "cancelled", "2026-03-06T10:00:00Z", 150),
    _run(6, "success", "2026-02-25T10:00:00Z", 1000),  # the previous period
]
STEPS = [
    # R1: call fails once, then succeeds (flaky, recovered)
    _step(1, 0, "fetch", 1, "success", 100, "2026-03-02T10:00:00Z"),
    _step(1, 1, "call", 1, "failed", 50, "2026-03-02T10:00:01Z", "HTTP 503 from upstream"),
    _step(1, 1, "call", 2, "success", 300, "2026-03-02T10:00:02Z"),
    _step(1, 2, "write", 1, "success", 500, "2026-03-02T10:00:03Z"),
    # R2: call exhausts its retries (root), write fails after it (cascade)
    _step(2, 0, "fetch", 1, "success", 100, "2026-03-03T10:00:00Z"),
    _step(2, 1, "call", 1, "failed", 200, "2026-03-03T10:00:01Z", TIMEOUT_1),
    _step(2, 1, "call", 2, "failed", 200, "2026-03-03T10:00:02Z", TIMEOUT_2),
    _step(2, 2, "write", 1, "failed", 100, "2026-03-03T10:00:03Z", "upstream failed"),
    # R3: write fails but the run succeeds (tolerated)
    _step(3, 0, "fetch", 1, "success", 100, "2026-03-04T10:00:00Z"),
    _step(3, 1, "call", 1, "success", 100, "2026-03-04T10:00:01Z"),
    _step(3, 2, "write", 1, "failed", 20, "2026-03-04T10:00:02Z", "disk full"),
    # R4 has no steps: the run's own error is its reason
    # R5: cancelled during call
    _step(5, 0, "fetch", 1, "success", 100, "2026-03-06T10:00:00Z"),
    _step(5, 1, "call", 1, "cancelled", 50, "2026-03-06T10:00:01Z", "cancelled by user"),
    # R6 (previous period): write dominates
    _step(6, 0, "fetch", 1, "success", 100, "2026-02-25T10:00:00Z"),
    _step(6, 1, "call", 1, "success", 100, "2026-02-25T10:00:01Z"),
    _step(6, 2, "write", 1, "success", 800, "2026-02-25T10:00:02Z"),
]


@pytest.fixture(scope="module")
def hand(tmp_path_factory: pytest.TempPathFactory) -> Workbench:
    d = build_data_dir(
        tmp_path_factory.mktemp("steps"), {"workflow_runs": RUNS, "workflow_steps": STEPS}
    )
    with Workbench.open(d, tenant="t1") as wb:
        yield wb


def test_breakdown_hand_worked(hand: Workbench) -> None:
    got = step_breakdown(hand, start=START, end=END).set_index("step_name")
    assert got.index.tolist() == ["fetch", "call", "write"]
    assert (got["runs"] == 5).all() and (got["run_ms"] == 2200).all()
    assert got["executions"].tolist() == [4, 4, 3]
    assert got["attempts"].tolist() == [4, 6, 3]
    assert got["retries"].tolist() == [0, 2, 0]
    assert got["failed_attempts"].tolist() == [0, 3, 2]
    assert got["step_ms"].tolist() == [400, 900, 620]
    assert got["share_of_run_time"].tolist() == pytest.approx([400 / 2200, 900 / 2200, 620 / 2200])
    assert got["ms_per_run"].tolist() == pytest.approx([80, 180, 124])
    # execution times of call: 350 (R1), 400 (R2), 100 (R3), 50 (R5)
    assert got.loc["call", "p50_ms"] == pytest.approx(225)
    assert got.loc["call", "p95_ms"] == pytest.approx(392.5)
    assert got["rank"].tolist() == [3, 1, 2]
    assert got["is_bottleneck"].tolist() == [False, True, False]


def test_bottleneck_moved_from_write_to_call(hand: Workbench) -> None:
    (row,) = bottlenecks(hand, start=START, end=END).to_dict("records")
    assert row["bottleneck_step"] == "call" and row["previous_bottleneck_step"] == "write"
    assert row["changed"] is True or row["changed"] == np.True_
    assert row["share_of_run_time"] == pytest.approx(900 / 2200)
    assert row["previous_share_of_run_time"] == pytest.approx(0.8)
    assert row["share_before"] == pytest.approx(0.1)
    assert row["ms_per_run_ratio"] == pytest.approx(180 / 100)
    assert (row["runs"], row["previous_runs"]) == (5, 1)
    history = bottleneck_history(hand, start="2026-02-23", end=END, period="week")
    tops = history[history["is_bottleneck"]]
    assert tops["step_name"].tolist() == ["write", "call"]
    assert tops["period_start"].map(pd.Timestamp.date).astype(str).tolist() == [
        "2026-02-23",
        "2026-03-02",
    ]


def test_retries_and_flaky_hand_worked(hand: Workbench) -> None:
    got = retry_counts(hand, start=START, end=END).set_index("step_name")
    call = got.loc["call"]
    assert (call["executions"], call["attempts"], call["retries"], call["retried_executions"]) == (
        4,
        6,
        2,
        2,
    )
    assert (call["max_attempts"], call["first_try_failures"], call["flaky_executions"]) == (2, 2, 1)
    assert (call["exhausted_executions"], call["failed_executions"]) == (1, 1)  # R5 was cancelled
    assert (call["retry_rate"], call["flaky_rate"], call["recovery_rate"]) == (0.5, 0.25, 0.5)
    assert call["retry_ms"] == 250  # R1 attempt 1 (50) + R2 attempt 1 (200)
    write = got.loc["write"]
    assert (write["first_try_failures"], write["failed_executions"], write["recovery_rate"]) == (
        2,
        2,
        0,
    )
    assert np.isnan(got.loc["fetch", "recovery_rate"])
    flaky = flaky_steps(hand, start=START, end=END)
    assert flaky["step_name"].tolist() == ["call"]
    lo, hi = stats.binomtest(1, 4).proportion_ci(method="wilson")
    assert (flaky["flaky_rate_ci_low"][0], flaky["flaky_rate_ci_high"][0]) == pytest.approx(
        (lo, hi)
    )


def test_failure_roles_and_masked_reasons(hand: Workbench) -> None:
    got = failure_reasons(hand, start=START, end=END)
    rows = got[["role", "step_name", "reason", "executions", "attempts", "runs"]].values.tolist()
    assert rows == [
        ["root", "call", "timeout after <n> ms for <id>", 1, 2, 1],
        ["run", "(run)", "scheduler lost the run", 1, 1, 1],
        ["cascade", "write", "upstream failed", 1, 1, 1],
        ["tolerated", "write", "disk full", 1, 1, 1],
        ["recovered", "call", "HTTP 503 from upstream", 1, 1, 1],
        ["cancelled", "call", "cancelled by user", 1, 1, 1],
    ]
    assert (got["failed_runs"] == 2).all()
    assert got["share_of_failed_runs"].tolist()[:2] == [0.5, 0.5]
    assert got["share_of_failed_runs"].iloc[2:].isna().all()
    assert got["example_error"].iloc[0] == TIMEOUT_2  # the smaller of the two raw messages
    assert got["first_seen"].iloc[0] == pd.Timestamp("2026-03-03T10:00:01Z")
    assert got["last_seen"].iloc[0] == pd.Timestamp("2026-03-03T10:00:02Z")


def test_empty_and_bad_parameters(hand: Workbench) -> None:
    for fn in (
        step_breakdown,
        bottlenecks,
        failure_reasons,
        retry_counts,
        flaky_steps,
        step_shifts,
    ):
        empty = fn(hand, start="2030-01-01", end="2030-01-02")
        assert empty.empty and len(empty.columns) > 5, fn.__name__
    with pytest.raises(QueryParameterError, match="max_run_days"):
        step_breakdown(hand, start=START, end=END, max_run_days=-1)
    with pytest.raises(QueryParameterError, match="min_days"):
        step_shifts(hand, start=START, end=END, min_days=1)
    with pytest.raises(QueryParameterError, match="period"):
        bottleneck_history(hand, start=START, end=END, period="quarter")


@pytest.fixture(scope="module")
def shifted(tmp_path_factory: pytest.TempPathFactory) -> Workbench:
    """20 days, 2 runs a day; step 'slow' is 4x slower from day 10, step 'flat' never changes."""
    runs, steps, wiggle = [], [], [0.8, 0.9, 1.0, 1.1, 1.2]
    day0 = dt.datetime(2026, 4, 1, 8, tzinfo=dt.UTC)
    for d in range(20):
        for k in range(2):
            n = 100 + 2 * d + k
            at = day0 + dt.timedelta(days=d, hours=k)
            slow = 100 * wiggle[(d + k) % 5] * (4 if d >= 10 else 1)
            flat = 50 * wiggle[(2 * d + k) % 5]
            runs.append(_run(n, "success", at.isoformat(), int(slow + flat)))
            steps.append(_step(n, 0, "slow", 1, "success", round(slow), at.isoformat()))
            steps.append(_step(n, 1, "flat", 1, "success", round(flat), at.isoformat()))
    d = build_data_dir(
        tmp_path_factory.mktemp("shift"), {"workflow_runs": runs, "workflow_steps": steps}
    )
    with Workbench.open(d, tenant="t1") as wb:
        yield wb


def test_step_shift_found_and_its_test_is_the_welch_test(shifted: Workbench) -> None:
    got = step_shifts(shifted, start="2026-04-01", end="2026-04-21").set_index("step_name")
    slow = got.loc["slow"]
    assert slow["change_date"] == pd.Timestamp("2026-04-11")
    assert (slow["days_before"], slow["days_after"], slow["candidates"]) == (10, 10, 11)
    assert slow["ratio"] == pytest.approx(4.0, rel=1e-3)  # same wiggles on both sides
    # independent check: Welch's t-test on the daily mean log durations at that split
    ms = pd.DataFrame([s for s in _slow_rows(shifted)])
    daily = ms.groupby("day")["log_ms"].mean()
    before, after = daily.iloc[:10], daily.iloc[10:]
    welch = stats.ttest_ind(after, before, equal_var=False)
    assert slow["t_stat"] == pytest.approx(welch.statistic)
    assert slow["p_value"] == pytest.approx(min(1.0, welch.pvalue * 11))
    assert slow["ci_low"] < 4 < slow["ci_high"]
    assert got.index[0] == "slow" and got.loc["flat", "q_value"] > 0.05


def _slow_rows(wb: Workbench) -> list[dict[str, object]]:
    frame = wb.sql(
        "SELECT CAST(created_at AS DATE) AS day, duration_ms FROM workflow_steps "
        "WHERE step_name = $name",
        name="slow",
    )
    return [{"day": r.day, "log_ms": np.log(r.duration_ms)} for r in frame.itertuples()]


# ---------------------------------------------------------------------------------- demo
def _bottleneck_effect(demo_dir: Path) -> dict[str, object]:
    truth = json.loads((demo_dir / "ground_truth.json").read_text())
    (effect,) = [e for e in truth["effects"] if e["kind"] == "bottleneck"]
    return effect


@pytest.mark.parametrize("tenant", DEMO_TENANTS)
def test_demo_bottleneck_is_found_for_every_tenant(demo_dir: Path, tenant: str) -> None:
    effect = _bottleneck_effect(demo_dir)
    target = effect["targets"][0]["filter"]
    with Workbench.open(demo_dir, tenant=tenant) as wb:
        got = bottlenecks(wb, start=effect["start"], end=effect["end"]).set_index("workflow_id")
    row = got.loc[target["workflow_id"]]
    assert row["bottleneck_step"] == target["step_name"]
    assert row["changed"] and row["previous_bottleneck_step"] != target["step_name"]
    assert row["ms_per_run_ratio"] > 2


@pytest.mark.parametrize("tenant", ["acme", "globex"])
def test_demo_bottleneck_shift_is_dated_and_sized(demo_dir: Path, tenant: str) -> None:
    effect = _bottleneck_effect(demo_dir)
    target = effect["targets"][0]["filter"]
    truth = json.loads((demo_dir / "ground_truth.json").read_text())["parameters"]
    with Workbench.open(demo_dir, tenant=tenant) as wb:
        shifts = step_shifts(wb, start=truth["start"], end=truth["end"])
    top = shifts.iloc[0]
    assert (top["workflow_id"], top["step_name"]) == (target["workflow_id"], target["step_name"])
    assert abs((top["change_date"] - pd.Timestamp(effect["start"])).days) <= 3
    assert top["ci_low"] < effect["magnitude"] < top["ci_high"]
    assert top["q_value"] < 1e-3


def test_demo_history_switches_to_the_planted_step(wb: Workbench, demo_dir: Path) -> None:
    effect = _bottleneck_effect(demo_dir)
    target = effect["targets"][0]["filter"]
    history = bottleneck_history(
        wb, start="2026-07-04", end="2026-11-01", workflow=target["workflow_id"]
    )
    tops = history[history["is_bottleneck"]]
    planted = pd.Timestamp(effect["start"])
    after = tops[pd.to_datetime(tops["period_start"]) >= planted + pd.Timedelta(days=6)]
    before = tops[pd.to_datetime(tops["period_start"]) + pd.Timedelta(days=6) < planted]
    assert (after["step_name"] == target["step_name"]).all() and len(after) >= 7
    assert (before["step_name"] == target["step_name"]).mean() < 0.5


def test_demo_breakdown_equals_pandas(wb: Workbench, demo_dir: Path) -> None:
    lo, hi = pd.Timestamp("2026-09-01", tz="UTC"), pd.Timestamp("2026-10-01", tz="UTC")
    runs = _raw(demo_dir, "workflow_runs", "acme")
    runs = runs[(runs["created_at"] >= lo) & (runs["created_at"] < hi)]
    steps = _raw(demo_dir, "workflow_steps", "acme")
    steps = steps.merge(runs[["id", "workflow_id"]].rename(columns={"id": "run_id"}), on="run_id")
    step_ms = steps.groupby(["workflow_id", "step_name"])["duration_ms"].sum()
    run_ms = runs.groupby("workflow_id")["duration_ms"].sum()
    got = step_breakdown(wb, start=lo, end=hi).set_index(["workflow_id", "step_name"])
    assert len(got) == len(step_ms)
    for (wf, step), ms in step_ms.items():
        assert got.loc[(wf, step), "step_ms"] == ms
        assert got.loc[(wf, step), "share_of_run_time"] == pytest.approx(ms / run_ms[wf])
        assert (
            got.loc[(wf, step), "attempts"]
            == ((steps["workflow_id"] == wf) & (steps["step_name"] == step)).sum()
        )
    top = step_ms.groupby(level=0).idxmax()
    assert {k: v[1] for k, v in top.items()} == got[got["is_bottleneck"]].reset_index().set_index(
        "workflow_id"
    )["step_name"].to_dict()
