"""Overview KPIs and daily series against independent pandas computations on the demo."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from auterity_lab import overview
from auterity_lab.errors import QueryParameterError
from auterity_lab.warehouse import Workbench

from .test_warehouse import _raw

START, END = "2026-09-01", "2026-10-01"


def _window(frame: pd.DataFrame, start: str, end: str) -> pd.DataFrame:
    t = frame["created_at"]
    return frame[(t >= pd.Timestamp(start, tz="UTC")) & (t < pd.Timestamp(end, tz="UTC"))]


def _expected(demo_dir: Path, start: str, end: str) -> dict[str, float]:
    s = _window(_raw(demo_dir, "user_sessions", "acme"), start, end)
    u = _window(_raw(demo_dir, "users", "acme"), start, end)
    e = _window(_raw(demo_dir, "events", "acme"), start, end)
    p = _window(_raw(demo_dir, "prompt_outputs", "acme"), start, end)
    w = _window(_raw(demo_dir, "workflow_runs", "acme"), start, end)
    return {
        "active_users": s["user_id"].nunique(),
        "new_users": len(u),
        "sessions": len(s),
        "avg_session_duration": s["duration"].mean(),
        "revenue": float(e["revenue"].dropna().astype(float).sum()),
        "ai_requests": len(p),
        "ai_p95_latency": float(np.percentile(p["response_time_ms"], 95)),
        "ai_error_rate": float((p["status"] == "error").mean()),
        "ai_mean_rating": float(p["user_rating"].dropna().astype(float).mean()),
        "ai_tokens": float(p["tokens_used"].sum()),
        "workflow_runs": len(w),
        "workflow_failure_rate": float((w["status"] == "failed").mean()),
        "workflow_p95_duration": float(np.percentile(w["duration_ms"], 95)),
    }


def test_headline_kpis_and_previous_period(wb: Workbench, demo_dir: Path) -> None:
    kpis = overview.headline_kpis(wb, start=START, end=END).set_index("metric")
    now = _expected(demo_dir, START, END)
    before = _expected(demo_dir, "2026-08-02", START)  # 30 days before
    for metric, value in now.items():
        assert kpis.loc[metric, "value"] == pytest.approx(value, rel=1e-9), metric
        assert kpis.loc[metric, "previous"] == pytest.approx(before[metric], rel=1e-9), metric
        if before[metric]:
            assert kpis.loc[metric, "change"] == pytest.approx(value / before[metric] - 1, rel=1e-9)
        else:
            assert np.isnan(kpis.loc[metric, "change"]), metric
    assert set(kpis["system"]) == {"auterity", "neuroweaver", "relaycore"}


def test_daily_series_has_every_day(wb: Workbench, demo_dir: Path) -> None:
    daily = overview.daily(wb, start=START, end=END)
    assert len(daily) == 30
    s = _window(_raw(demo_dir, "user_sessions", "acme"), START, END)
    per_day = s.groupby(s["created_at"].dt.date)["user_id"].nunique()
    by_day = daily.set_index(daily["date"].map(pd.Timestamp.date))
    assert by_day["active_users"].to_dict() == per_day.to_dict()
    runs = _window(_raw(demo_dir, "workflow_runs", "acme"), START, END)
    assert daily["workflow_runs"].sum() == len(runs)


def test_days_without_data_are_zero_not_missing(wb: Workbench) -> None:
    daily = overview.daily(wb, start="2030-01-01", end="2030-01-04")
    assert daily["sessions"].tolist() == [0, 0, 0]
    assert daily["ai_p95_latency"].isna().all()
    kpis = overview.headline_kpis(wb, start="2030-01-01", end="2030-01-04")
    assert kpis.set_index("metric").loc["sessions", "value"] == 0


def test_bad_range_is_a_clear_error(wb: Workbench) -> None:
    with pytest.raises(QueryParameterError, match="must be after start"):
        overview.headline_kpis(wb, start=END, end=START)


# ------------------------------------------------------------ per-system queries, tab, charts
def test_per_system_queries_equal_the_all_systems_queries(wb: Workbench) -> None:
    """The library reads overview_{kpis,daily}_<system>.sql; they must keep the definitions of
    overview_kpis.sql / overview_daily.sql, which the CLI and other tests use."""
    together = wb.query("overview_kpis", start=START, end=END)
    apart = overview.headline_kpis(wb, start=START, end=END)[["system", "metric", "value", "unit"]]
    pd.testing.assert_frame_equal(together, apart)
    pd.testing.assert_frame_equal(wb.query("overview_daily", start=START, end=END),
                                  overview.daily(wb, start=START, end=END))


def test_documented_columns_and_bad_system(wb: Workbench) -> None:
    assert overview.headline_kpis(wb, start=START, end=END).columns.tolist() == overview.KPI_COLUMNS
    daily = overview.daily(wb, start=START, end=END)
    assert daily.columns.tolist() == ["date", *sum(overview.DAILY_COLUMNS.values(), [])]
    relay = overview.system_kpis(wb, system="relaycore", start=START, end=END)
    assert relay["metric"].tolist() == [
        "workflow_runs", "workflow_failure_rate", "workflow_p95_duration"]
    with pytest.raises(QueryParameterError, match="system must be one of auterity, neuroweaver"):
        overview.system_kpis(wb, system="sap", start=START, end=END)


def test_health_strip_shows_status_and_reasons() -> None:
    from auterity_lab.charts.overview import STATUS_COLORS, health_strip

    systems = pd.DataFrame({
        "system": ["auterity", "neuroweaver", "relaycore"],
        "status": ["healthy", "down", "degraded"],
        "reasons": ["all checks passed", "table x is unavailable: gone", "a; b"],
        "data_age_hours": [1.0, np.nan, 30.0], "error_rate": [0.01, np.nan, 0.2],
        "p95_ms": [100.0, None, 900.0], "requests": [10, None, 5],
    })
    bar = health_strip(systems).data[0]
    assert list(bar.marker.color) == [STATUS_COLORS[s] for s in systems["status"]]
    assert "table x is unavailable: gone" in bar.hovertext[1]
    assert "a<br>b" in bar.hovertext[2] and "data – · errors –" in bar.text[1]


def test_overview_explorer_names_an_unavailable_system(tmp_path: Path) -> None:
    import json

    from auterity_lab.widgets.overview import overview_explorer

    from .builders import build_data_dir

    d = build_data_dir(tmp_path, {
        "user_sessions": [{"tenant_id": "t1", "start_time": f"2026-03-0{i}T10:00:00Z",
                           "duration": 5} for i in range(1, 8)],
        "prompt_outputs": [{"tenant_id": "t1", "created_at": f"2026-03-0{i}T10:00:00Z"}
                           for i in range(1, 8)],
    })
    manifest = json.loads((d / "manifest.json").read_text())
    del manifest["tables"]["relaycore.workflow_runs"]
    (d / "manifest.json").write_text(json.dumps(manifest))
    with Workbench.open(d, tenant="t1", strict=False) as bench:
        app = overview_explorer(bench, start="2026-03-01", end="2026-03-08")
    _, status, notice, figures = app.children
    assert status.value == ""
    said = "relaycore</b>: table relaycore.workflow_runs is unavailable: not in the manifest"
    assert said in notice.value
    strip = figures.children[0].data[0]
    assert list(strip.x) == ["auterity", "neuroweaver", "relaycore"]
    assert "down" in strip.text[2]
