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
    assert daily.set_index(daily["date"].map(pd.Timestamp.date))["active_users"].to_dict() == per_day.to_dict()
    assert daily["workflow_runs"].sum() == len(_window(_raw(demo_dir, "workflow_runs", "acme"), START, END))


def test_days_without_data_are_zero_not_missing(wb: Workbench) -> None:
    daily = overview.daily(wb, start="2030-01-01", end="2030-01-04")
    assert daily["sessions"].tolist() == [0, 0, 0]
    assert daily["ai_p95_latency"].isna().all()
    kpis = overview.headline_kpis(wb, start="2030-01-01", end="2030-01-04")
    assert kpis.set_index("metric").loc["sessions", "value"] == 0


def test_bad_range_is_a_clear_error(wb: Workbench) -> None:
    with pytest.raises(QueryParameterError, match="must be after start"):
        overview.headline_kpis(wb, start=END, end=START)
