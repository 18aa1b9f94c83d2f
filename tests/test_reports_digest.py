"""The ready-made reports' numbers on a hand-made tenant; every expected value worked by hand."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import pandas as pd
import pytest

from auterity_lab import digest
from auterity_lab.errors import QueryParameterError
from auterity_lab.pdf import html_to_pdf
from auterity_lab.reports import ReportError
from auterity_lab.warehouse import Workbench

from .builders import build_data_dir

D = dt.datetime(2026, 10, 14, tzinfo=dt.UTC)  # a Wednesday; its ISO week starts Monday 12 October
H = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)
U1, U2, U3 = (
    "00000000-0000-0000-0000-000000000001",
    "00000000-0000-0000-0000-000000000002",
    "00000000-0000-0000-0000-000000000003",
)


@pytest.fixture(scope="module")
def wb(tmp_path_factory: pytest.TempPathFactory) -> Workbench:
    def session(at: dt.datetime, user: str, seconds: int) -> dict:
        return {"tenant_id": "t1", "user_id": user, "start_time": at, "duration": seconds}

    def call(at: dt.datetime, ms: int, status: str = "success") -> dict:
        return {
            "tenant_id": "t1",
            "model_id": "gpt-4o",
            "response_time_ms": ms,
            "status": status,
            "created_at": at,
        }

    rows = {
        "users": [
            {"id": U1, "tenant_id": "t1", "created_at": D - 30 * DAY},
            {"id": U2, "tenant_id": "t1", "created_at": D + 9 * H},
        ],  # a signup on D
        "user_sessions": [
            session(D + 9 * H, U1, 60),
            session(D + 10 * H, U1, 120),
            session(D + 15 * H, U2, 180),
            session(D - DAY + 11 * H, U1, 30),  # the day before
            session(D - 7 * DAY + 9 * H, U1, 100),
            session(D - 7 * DAY + 9 * H, U3, 200),  # last week
        ],
        "events": [
            {
                "tenant_id": "t1",
                "event_type": "subscribe",
                "revenue": 10.5,
                "created_at": D + 9 * H,
            },
            {
                "tenant_id": "t1",
                "event_type": "subscribe",
                "revenue": 4.5,
                "created_at": D + 12 * H,
            },
            {
                "tenant_id": "t1",
                "event_type": "subscribe",
                "revenue": 5.0,
                "created_at": D - 7 * DAY + H,
            },
        ],
        "prompt_outputs": [
            call(D + 9 * H, 100),
            call(D + 9 * H, 200),
            call(D + 10 * H, 300),
            call(D + 10 * H, 400, "error"),
            call(D - 7 * DAY + 9 * H, 100),
            call(D - 7 * DAY + 9 * H, 300),
        ],
        "workflow_runs": [
            {"tenant_id": "t1", "started_at": D + 9 * H, "status": "success", "duration_ms": 1000},
            {"tenant_id": "t1", "started_at": D + 10 * H, "status": "failed", "duration_ms": 3000},
        ],
    }
    data = build_data_dir(tmp_path_factory.mktemp("digest") / "data", rows)
    with Workbench.open(data, tenant="t1") as bench:
        yield bench


def _kpi(frame: pd.DataFrame, metric: str) -> pd.Series:
    return frame.set_index("metric").loc[metric]


def test_day_against_the_day_before_and_last_week(wb: Workbench) -> None:
    c = digest.day_comparison(wb, day="2026-10-14")
    assert list(c.kpis.columns) == digest.DAY_COLUMNS
    assert (c.start, c.end) == (D, D + DAY) and c.unavailable == {}
    s = _kpi(c.kpis, "sessions")
    assert (s.value, s.day_before, s.last_week) == (3, 1, 2)
    assert s.change_vs_day_before == pytest.approx(2.0) and s.change_vs_last_week == pytest.approx(
        0.5
    )
    active = _kpi(c.kpis, "active_users")
    assert (active.value, active.day_before, active.last_week) == (2, 1, 2)
    duration = _kpi(c.kpis, "avg_session_duration")
    assert (duration.value, duration.day_before, duration.last_week) == (120, 30, 150)
    revenue = _kpi(c.kpis, "revenue")
    assert (revenue.value, revenue.day_before, revenue.last_week) == (15.0, 0.0, 5.0)
    assert math.isnan(
        revenue.change_vs_day_before
    ) and revenue.change_vs_last_week == pytest.approx(2.0)
    p95 = _kpi(
        c.kpis, "ai_p95_latency"
    )  # quantile_cont: 300 + 0.85 * 100 = 385; 100 + 0.95 * 200 = 290
    assert (
        p95.value == pytest.approx(385)
        and p95.last_week == pytest.approx(290)
        and math.isnan(p95.day_before)
    )
    errors = _kpi(c.kpis, "ai_error_rate")
    assert (errors.value, errors.last_week) == (0.25, 0.0) and not errors.up_is_good
    runs = _kpi(c.kpis, "workflow_failure_rate")
    assert runs.value == 0.5 and math.isnan(runs.last_week)
    assert _kpi(c.kpis, "new_users").value == 1


def test_movers_rank_a_move_from_zero_first(wb: Workbench) -> None:
    c = digest.day_comparison(wb, day="2026-10-14")
    m = digest.movers(c, against="last_week", top=4)
    assert list(m.columns) == digest.MOVER_COLUMNS
    # from zero (no relative size) first, in catalog order: a signup (0 -> 1) and errors (0 -> 25 %)
    assert m["metric"].tolist()[:2] == ["new_users", "ai_error_rate"] and m["from_zero"][:2].all()
    assert m.set_index("metric").loc["ai_error_rate", "verdict"] == "worse"
    ranked = m[~m["from_zero"]]
    assert ranked["change"].abs().is_monotonic_decreasing
    assert m.set_index("metric").loc["revenue", "verdict"] == "better"  # +200 %
    shown = digest.display_values(m).set_index("metric")
    assert (
        shown.loc["ai_error_rate", "change"] == "from 0"
        and shown.loc["revenue", "value"] == "$15.00"
    )
    assert shown.loc["revenue", "change"] == "+200.0%" and "verdict" in shown.columns
    with pytest.raises(QueryParameterError, match="against must be a baseline column"):
        digest.movers(c, against="unit")
    with pytest.raises(QueryParameterError, match="top must be a whole number"):
        digest.movers(c, top=0)


def test_week_against_the_week_before_and_the_four_week_mean(wb: Workbench) -> None:
    c = digest.week_comparison(wb, week="2026-10-16")  # a Friday of the same ISO week
    assert c.start == dt.datetime(2026, 10, 12, tzinfo=dt.UTC) and c.end == c.start + 7 * DAY
    s = _kpi(c.kpis, "sessions")
    # this week: 3 on Wednesday + 1 on Tuesday; the week before: 2; weeks -2..-4: none
    assert (s.value, s.previous_week) == (4, 2)
    assert s.four_week_mean == pytest.approx(0.5) and s.change_vs_four_week_mean == pytest.approx(
        7.0
    )
    duration = _kpi(
        c.kpis, "avg_session_duration"
    )  # a mean: weeks without sessions are missing, not 0
    assert duration.value == pytest.approx(97.5) and duration.four_week_mean == pytest.approx(150)
    assert _kpi(c.kpis, "revenue").value == 15.0


def test_latest_complete_day_and_week(wb: Workbench) -> None:
    # the newest row is on 14 October; the extract was written today, after that day ended
    assert digest.latest_complete_day(wb, as_of="2026-10-20T08:00") == dt.date(2026, 10, 14)
    assert digest.latest_complete_day(wb, as_of="2026-10-14T08:00") == dt.date(2026, 10, 13)
    assert digest.latest_complete_week(wb, as_of="2026-10-20") == dt.date(2026, 10, 5)
    assert digest.latest_complete_week(wb, as_of="2026-12-01") == dt.date(2026, 10, 5)
    assert digest.resolve_day(wb, "2026-10-02") == dt.date(2026, 10, 2)
    assert digest.resolve_week(wb, "2026-10-18") == dt.date(2026, 10, 12)


def test_hourly_profile(wb: Workbench) -> None:
    p = digest.hourly_profile(wb, day="2026-10-14", metrics=("sessions", "ai_requests"))
    sessions = p[p["metric"] == "sessions"].set_index("hour")
    assert len(sessions) == 24 and sessions["value"].sum() == 3 and sessions["last_week"].sum() == 2
    assert sessions.loc[9, "value"] == 1 and sessions.loc[9, "last_week"] == 2
    assert p[p["metric"] == "ai_requests"].set_index("hour").loc[10, "value"] == 2


def test_empty_day_gives_empty_changes_not_errors(wb: Workbench) -> None:
    c = digest.day_comparison(wb, day="2026-06-01")
    assert (
        c.kpis.set_index("metric").loc["sessions", ["value", "day_before", "last_week"]] == 0
    ).all()
    assert digest.movers(c).empty and list(digest.movers(c).columns) == digest.MOVER_COLUMNS
    with pytest.raises(QueryParameterError, match="day is required"):
        digest.day_comparison(wb, day=None)


def test_pdf_errors_are_clear(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ReportError, match="the file does not exist"):
        html_to_pdf(tmp_path / "missing.html", tmp_path / "x.pdf")
    page = tmp_path / "p.html"
    page.write_text("<h1>x</h1>")
    monkeypatch.setenv("AUTERITY_LAB_CHROMIUM", str(tmp_path / "no-chromium"))
    with pytest.raises(ReportError, match="PDF output needs Chromium"):
        html_to_pdf(page, tmp_path / "x.pdf")
    assert not (tmp_path / "x.pdf").exists()
