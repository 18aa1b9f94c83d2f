"""The metric catalog: definitions, a hand-worked data directory, and the demo against pandas."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from auterity_lab import metrics, rollups
from auterity_lab.metrics import CATALOG, MetricUnavailableError, UnknownMetricError, metric_series
from auterity_lab.queries import load_query
from auterity_lab.warehouse import Workbench

from .builders import build_data_dir
from .test_rollups import _tamper
from .test_warehouse import _raw

REQUIRED = {  # the list: metric -> (system, up is good)
    "active_users": ("auterity", True),
    "sessions": ("auterity", True),
    "avg_session_duration": ("auterity", True),
    "conversion_rate": ("auterity", True),
    "revenue": ("auterity", True),
    "ai_requests": ("neuroweaver", True),
    "ai_p95_latency": ("neuroweaver", False),
    "ai_error_rate": ("neuroweaver", False),
    "ai_mean_rating": ("neuroweaver", True),
    "ai_tokens": ("neuroweaver", None),
    "ai_cost": ("neuroweaver", False),
    "workflow_runs": ("relaycore", None),
    "workflow_failure_rate": ("relaycore", False),
    "workflow_p95_duration": ("relaycore", False),
    "api_error_rate": ("auterity", False),
    "api_p95_latency": ("auterity", False),
}


def test_catalog_defines_every_required_metric_once() -> None:
    table = metrics.catalog().set_index("metric")
    assert table.index.is_unique
    for name, (system, up) in REQUIRED.items():
        assert (table.loc[name, "system"], table.loc[name, "up_is_good"]) == (system, up), name
        assert table.loc[name, "unit"]
    for m in CATALOG.values():  # every metric is a documented column of its SQL file(s)
        for query in {m.query, m.segment_query} - {None}:
            header = load_query(query).sql.split("WITH", 1)[0]
            assert f" {m.name} " in header.replace(",", " "), (m.name, query)
            if m.support:
                assert f" {m.support} " in header.replace(",", " "), (m.support, query)


T1 = "2026-05-01"
RUN_1, RUN_2, RUN_3 = (str(uuid.UUID(int=i)) for i in (101, 102, 103))


def _ts(day: int, hour: int, minute: int = 0) -> str:
    return f"2026-05-0{day}T{hour:02d}:{minute:02d}:00Z"


def _hand_dir(path: Path) -> Path:
    u1, u2, u3, u4 = (str(uuid.UUID(int=i)) for i in (1, 2, 3, 4))
    return build_data_dir(
        path,
        {
            "users": [
                {"id": u1, "tenant_id": "t1", "created_at": _ts(1, 8)},
                {"id": u2, "tenant_id": "t1", "created_at": _ts(1, 9)},
                {"id": u3, "tenant_id": "t1", "created_at": _ts(2, 9)},
                {"id": u4, "tenant_id": "t2", "created_at": _ts(1, 9)},
            ],
            "user_sessions": [
                {
                    "tenant_id": "t1",
                    "user_id": u1,
                    "start_time": _ts(1, 10),
                    "duration": 100,
                    "events": {"conversion_rate": 0.0},
                },
                {
                    "tenant_id": "t1",
                    "user_id": u2,
                    "start_time": _ts(1, 11),
                    "duration": 300,
                    "events": {"conversion_rate": 0.5},
                },
                {
                    "tenant_id": "t1",
                    "user_id": u1,
                    "start_time": _ts(2, 9),
                    "duration": 200,
                    "events": {"conversion_rate": 1.0},
                },
                {"tenant_id": "t2", "user_id": u3, "start_time": _ts(1, 9), "duration": 9999},
            ],
            "events": [
                {
                    "tenant_id": "t1",
                    "event_type": "payment",
                    "revenue": 10.5,
                    "created_at": _ts(1, 12),
                },
                {
                    "tenant_id": "t1",
                    "event_type": "subscribe",
                    "revenue": 20,
                    "created_at": _ts(2, 12),
                },
                {"tenant_id": "t1", "event_type": "feature_use", "created_at": _ts(2, 13)},
            ],
            "prompt_outputs": [
                *(
                    {
                        "tenant_id": "t1",
                        "model_id": "m1",
                        "response_time_ms": ms,
                        "tokens_used": 10,
                        "user_rating": rating,
                        "status": "success",
                        "created_at": _ts(1, 10, i),
                    }
                    for i, (ms, rating) in enumerate([(100, 4), (200, 5), (300, None), (400, None)])
                ),
                {
                    "tenant_id": "t1",
                    "model_id": "m2",
                    "response_time_ms": 1000,
                    "tokens_used": 5,
                    "status": "error",
                    "created_at": _ts(1, 14),
                },
                {
                    "tenant_id": "t1",
                    "model_id": "m1",
                    "response_time_ms": 500,
                    "tokens_used": 10,
                    "status": "success",
                    "created_at": _ts(3, 9),
                },
            ],
            "workflow_runs": [
                {
                    "id": RUN_1,
                    "tenant_id": "t1",
                    "workflow_id": "wf",
                    "status": "success",
                    "started_at": _ts(1, 10),
                    "duration_ms": 1000,
                },
                {
                    "id": RUN_2,
                    "tenant_id": "t1",
                    "workflow_id": "wf",
                    "status": "failed",
                    "started_at": _ts(1, 11),
                    "duration_ms": 3000,
                },
                {
                    "id": RUN_3,
                    "tenant_id": "t1",
                    "workflow_id": "wf",
                    "status": "cancelled",
                    "started_at": _ts(2, 11),
                },
            ],
            "workflow_steps": [
                {
                    "tenant_id": "t1",
                    "run_id": RUN_1,
                    "step_name": "a",
                    "duration_ms": 400,
                    "status": "success",
                    "started_at": _ts(1, 10),
                },
                {
                    "tenant_id": "t1",
                    "run_id": RUN_1,
                    "step_name": "b",
                    "duration_ms": 600,
                    "status": "success",
                    "started_at": _ts(1, 10, 1),
                },
                {
                    "tenant_id": "t1",
                    "run_id": RUN_2,
                    "step_name": "a",
                    "duration_ms": 100,
                    "status": "failed",
                    "started_at": _ts(1, 11),
                },
            ],
            "performance_metrics": [
                {
                    "tenant_id": "t1",
                    "method": "GET",
                    "endpoint": "/x",
                    "status_code": 200,
                    "response_time_ms": 100,
                    "created_at": _ts(1, 10),
                },
                {
                    "tenant_id": "t1",
                    "method": "GET",
                    "endpoint": "/x",
                    "status_code": 503,
                    "response_time_ms": 1000,
                    "created_at": _ts(1, 11),
                },
                {
                    "tenant_id": "t1",
                    "method": "GET",
                    "endpoint": "/x",
                    "status_code": 404,
                    "response_time_ms": 50,
                    "created_at": _ts(1, 12),
                },
                {
                    "tenant_id": "t1",
                    "endpoint": "/y",
                    "method": "POST",
                    "status_code": 200,
                    "response_time_ms": 120,
                    "created_at": _ts(2, 12),
                },
            ],
        },
    )


@pytest.fixture(scope="module")
def hand(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _hand_dir(tmp_path_factory.mktemp("hand") / "d")


def _wide(series: pd.DataFrame, column: str = "value") -> pd.DataFrame:
    names = metrics.series_name(series["metric"], series["segment"])
    out = series.assign(s=names).pivot(index="period", columns="s", values=column)
    out.index = out.index.strftime("%m-%d")
    return out


def test_hand_worked_daily_values(hand: Path) -> None:
    with Workbench.open(hand, tenant="t1") as wb:
        series = metric_series(
            wb,
            start=T1,
            end="2026-05-04",
            segments=True,
            metrics=[m for m in CATALOG if m != "ai_cost"],
        )
    v, n = _wide(series), _wide(series, "n")
    assert list(v.index) == ["05-01", "05-02", "05-03"]  # every day, even an empty one
    expected = {  # by hand from the rows above
        "active_users": [2, 1, 0],
        "new_users": [2, 1, 0],
        "sessions": [2, 1, 0],
        "avg_session_duration": [200, 200, None],
        "conversion_rate": [0.25, 1.0, None],
        "revenue": [10.5, 20, 0],
        "ai_requests": [5, 0, 1],
        "ai_mean_latency": [400, None, 500],
        "ai_p95_latency": [880, None, 500],  # quantile_cont of 100..400, 1000 at 0.95
        "ai_error_rate": [0.2, None, 0.0],
        "ai_mean_rating": [4.5, None, None],
        "ai_tokens": [45, 0, 10],
        "ai_requests[m1]": [4, 0, 1],
        "ai_p95_latency[m1]": [385, None, 500],
        "ai_error_rate[m2]": [1.0, None, None],
        "workflow_runs": [2, 1, 0],
        "workflow_failure_rate": [0.5, 0.0, None],
        "workflow_mean_duration": [2000, None, None],
        "workflow_p95_duration": [2900, None, None],
        "step_failure_rate[wf/a]": [0.5, None, None],
        "step_mean_duration[wf/a]": [250, None, None],
        "step_p95_duration[wf/b]": [600, None, None],
        "api_requests": [3, 1, 0],
        "api_error_rate": [1 / 3, 0.0, None],  # a 404 is not an error
        "api_mean_latency": [1150 / 3, 120, None],
        "api_p95_latency": [910, 120, None],
        "api_requests[GET /x]": [3, 0, 0],
        "api_error_rate[POST /y]": [None, 0.0, None],
    }
    for name, values in expected.items():
        got = v[name].tolist()
        for g, e in zip(got, values, strict=True):
            assert (e is None and np.isnan(g)) or g == pytest.approx(e), (name, got)
    assert n["avg_session_duration"].tolist() == [2, 1, 0]  # sessions behind the mean
    assert n["ai_mean_rating"].tolist() == [2, 0, 0]  # rated calls behind the mean rating
    assert n["sessions"].tolist() == [2, 1, 0]  # a count is its own support
    assert set(series["system"]) == {"auterity", "neuroweaver", "relaycore"}
    assert series.loc[series["metric"] == "revenue", "unit"].iloc[0] == "USD"


def test_hourly_grain_and_tenant_scope(hand: Path) -> None:
    with Workbench.open(hand, tenant="t1") as wb:
        hourly = metric_series(
            wb,
            start="2026-05-01T09:30",
            end="2026-05-01T12:00",
            grain="hour",
            metrics=["ai_requests", "sessions", "avg_session_duration"],
        )
    v = hourly.pivot(index="period", columns="metric", values="value")
    assert v.index.hour.tolist() == [9, 10, 11]  # the period holding the start, to the end
    assert v["ai_requests"].tolist() == [0, 4, 0] and v["sessions"].tolist() == [0, 1, 1]
    with Workbench.open(hand, tenant="t2") as wb:
        other = metric_series(wb, start=T1, end="2026-05-02", metrics=["avg_session_duration"])
    assert other["value"].tolist() == [9999]


def test_errors_and_unavailable_metrics(hand: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with Workbench.open(hand, tenant="t1") as wb:
        with pytest.raises(UnknownMetricError, match="unknown metric 'sesions'"):
            metric_series(wb, start=T1, end="2026-05-02", metrics=["sesions"])
        with pytest.raises(UnknownMetricError, match="grain must be one of day, hour"):
            metric_series(wb, start=T1, end="2026-05-02", grain="week")  # type: ignore[arg-type]
        monkeypatch.setitem(metrics._PROVIDERS, "prompt_output_costs", lambda wb: False)
        assert "ai_cost" not in set(metric_series(wb, start=T1, end="2026-05-02")["metric"])
        with pytest.raises(
            MetricUnavailableError, match="needs the relation 'prompt_output_costs'"
        ):
            metric_series(wb, start=T1, end="2026-05-02", metrics=["ai_cost"])
        wb.unavailable = {"relaycore.workflow_runs": "footer unreadable"}
        kept = set(metric_series(wb, start=T1, end="2026-05-02")["metric"])
        assert "workflow_runs" not in kept and "sessions" in kept
        with pytest.raises(MetricUnavailableError, match="footer unreadable"):
            metric_series(wb, start=T1, end="2026-05-02", metrics=["workflow_failure_rate"])


def test_empty_range_has_every_period_and_no_values(wb: Workbench) -> None:
    s = metric_series(
        wb, start="2030-01-01", end="2030-01-03", metrics=["sessions", "ai_error_rate"]
    )
    assert len(s) == 4 and s.loc[s["metric"] == "sessions", "value"].tolist() == [0, 0]
    assert s.loc[s["metric"] == "ai_error_rate", "value"].isna().all()
    assert list(s.columns) == list(metrics.SERIES_COLUMNS)


def test_demo_series_match_pandas(wb: Workbench, demo_dir: Path) -> None:
    start, end = "2026-09-01", "2026-10-01"
    s = metric_series(wb, start=start, end=end, segments=True)
    v = _wide(s)
    lo, hi = pd.Timestamp(start, tz="UTC"), pd.Timestamp(end, tz="UTC")

    def window(table: str) -> pd.DataFrame:
        f = _raw(demo_dir, table, "acme")
        f = f[(f["created_at"] >= lo) & (f["created_at"] < hi)]
        return f.assign(day=f["created_at"].dt.strftime("%m-%d"))

    p = window("prompt_outputs")
    p95 = p.groupby("day")["response_time_ms"].apply(lambda x: np.percentile(x, 95))
    assert v.loc[p95.index, "ai_p95_latency"].to_numpy() == pytest.approx(p95.to_numpy())
    gpt = p[p["model_id"] == "gpt-4o"].groupby("day")["response_time_ms"].mean()
    assert v.loc[gpt.index, "ai_mean_latency[gpt-4o]"].to_numpy() == pytest.approx(gpt.to_numpy())
    w = window("workflow_runs")
    failed = w.groupby("day")["status"].apply(lambda x: (x == "failed").mean())
    assert v.loc[failed.index, "workflow_failure_rate"].to_numpy() == pytest.approx(
        failed.to_numpy()
    )
    users = window("user_sessions").groupby("day")["user_id"].nunique()
    assert v.loc[users.index, "active_users"].to_numpy() == pytest.approx(users.to_numpy())
    pm = window("performance_metrics")
    err = pm.groupby("day")["status_code"].apply(lambda x: (x >= 500).mean())
    assert v.loc[err.index, "api_error_rate"].to_numpy() == pytest.approx(err.to_numpy())
    if "ai_cost" in v:  # AI cost from the ML costing view: segments add up to the total
        by_model = [c for c in v.columns if c.startswith("ai_cost[")]
        assert v[by_model].sum(axis=1).to_numpy() == pytest.approx(v["ai_cost"].to_numpy())
        costed = wb.sql(
            "SELECT sum(cost_usd) AS usd FROM prompt_output_costs "
            "WHERE created_at >= $lo AND created_at < $hi",
            lo=lo,
            hi=hi,
        )["usd"].iloc[0]
        assert v["ai_cost"].sum() == pytest.approx(costed)


def test_daily_auterity_and_ai_metrics_from_the_rollups_equal_the_rows(
    demo_dir: Path, tmp_path: Path
) -> None:
    """With the daily_user_analytics and model rollups built, day-grain series of the Auterity
    and Neuroweaver metrics read them: the same frame."""
    copy = tmp_path / "demo"
    shutil.copytree(demo_dir, copy, ignore=shutil.ignore_patterns("rollups", ".*lock*"))
    rollups.build_rollups(copy, names=["daily_user_analytics", "model_days", "model_latency_days"])
    cases = [
        ("acme", "2026-07-05", "2026-11-01", "day"),  # the whole demo
        ("globex", "2026-10-25", "2026-11-06", "day"),  # reaching past the data
        ("initech", "2026-09-03T06:00", "2026-09-10", "day"),  # not midnight: the rows answer
        ("acme", "2026-10-30", "2026-11-01", "hour"),  # hours: the rows answer
        ("globex", "2025-01-01", "2025-01-04", "day"),  # no rows at all
    ]
    from_rollups = [
        m for m, d in CATALOG.items() if d.query in ("metric_auterity", "metric_neuroweaver")
    ]
    assert len(from_rollups) > len({m for m, d in CATALOG.items() if d.query == "metric_auterity"})
    for tenant, start, end, grain in cases:
        kw = dict(start=start, end=end, grain=grain, metrics=from_rollups)
        with (
            Workbench.open(copy, tenant=tenant) as fast,
            Workbench.open(demo_dir, tenant=tenant) as rows,
        ):
            got, want = metric_series(fast, **kw), metric_series(rows, **kw)
        assert len(want) > 0
        pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-12, obj=str(kw))

    _tamper(copy, "daily_user_analytics", "2026-10-01", "total_sessions", 999)
    with Workbench.open(copy, tenant="acme") as fast:
        day = metric_series(fast, start="2026-10-01", end="2026-10-02", metrics=["sessions"])
        hour = metric_series(fast, start="2026-10-01T00:00", end="2026-10-02", grain="hour",
                             metrics=["sessions"])  # fmt: skip
    assert day["value"].tolist() == [999]  # proof that the rollup answered
    assert hour["value"].sum() < 999
    _tamper(copy, "model_days", "2026-10-01", "requests", 1000)  # on every model's row
    with Workbench.open(copy, tenant="acme") as fast:
        day = metric_series(fast, start="2026-10-01", end="2026-10-02", metrics=["ai_requests"])
    assert day["value"].iloc[0] % 1000 == 0  # the tampered rows answered


def test_a_long_lived_workbench_reads_the_rollup_of_a_new_extract(tmp_path: Path) -> None:
    """After an extract and its rollup rebuild, the open workbench's next day-grain series
    reads the new rollup files (not the deleted ones) and equals the new rows."""
    from auterity_lab.synth import generate_demo

    data = tmp_path / "d"
    generate_demo(data, tenants=1, days=14, scale=0.02, seed=3)
    rollups.build_rollups(data, names=["daily_user_analytics"])
    kw = dict(start="2026-10-20", end="2026-11-01", metrics=["active_users", "sessions"])
    with Workbench.open(data, tenant="acme") as wb:
        before = metric_series(wb, **kw)
        generate_demo(data, tenants=1, days=14, scale=0.02, seed=4)
        rollups.build_rollups(data, names=["daily_user_analytics"])
        after = metric_series(wb, **kw)
        with wb.no_cache():
            rows = wb.query("metric_auterity", start=kw["start"], end=kw["end"])
    assert not after.equals(before)
    got = after[after["metric"] == "sessions"]["value"].to_numpy()
    assert got.tolist() == rows["sessions"].astype(float).tolist()
