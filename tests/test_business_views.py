"""Business charts draw the frames they are given; the explorer redraws only what a filter feeds."""

# ruff: noqa: F811  (test functions take the fixtures imported from test_business_data)

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest

from auterity_lab import business
from auterity_lab.charts import business as charts
from auterity_lab.errors import QueryParameterError
from auterity_lab.warehouse import Workbench
from auterity_lab.widgets.business import PANELS, BusinessExplorer, business_explorer

from .test_business_data import hand, hand_dir, nothing  # noqa: F401  (fixtures)

KW = {"start": "2026-03-02", "end": "2026-03-23"}


def test_retention_heatmap_shows_the_rates(hand: Workbench) -> None:
    cells = business.retention(hand, **KW)
    fig = charts.retention_heatmap(cells)
    z = np.array(fig.data[0].z, dtype=float)
    assert z.shape == (2, 3)  # cohorts W1, W2 x periods 0..2
    np.testing.assert_allclose(z[0], [1.0, 0.5, 0.5])
    assert np.isnan(z[1, 2]) and fig.data[0].y[0] == "2026-03-02 (n=2)"


def test_figures_follow_segments_and_steps(hand: Workbench) -> None:
    fun = business.funnel(
        hand, **KW, steps=["signup", "activate", "subscribe"], window="7d", breakdown="device"
    )
    fig = charts.funnel_chart(fun)
    assert [t.name for t in fig.data] == ["desktop", "mobile", "tablet"]
    assert list(fig.data[0].x) == fun[fun["segment"] == "desktop"]["users"].tolist()
    life = charts.lifecycle_chart(business.lifecycle(hand, **KW))
    dormant = next(t for t in life.data if t.name == "dormant")
    assert list(dormant.y) == [-1, -1, -4]  # drawn below zero
    bars = charts.breakdown_bars(
        business.segment_kpis(hand, **KW, by="device"), metric="conversion_to_paid"
    )
    assert bars.data[0].error_x.array is not None
    activity = charts.activity_trend(
        business.user_activity(hand, start="2026-03-03", end="2026-03-16")
    )
    assert list(activity.data[0].marker.symbol) == [
        "circle-open",
        "circle",
    ]  # W1 is cut by the range


@pytest.mark.parametrize("bench_name", ["hand", "nothing"])
def test_every_chart_draws_real_and_empty_frames(
    request: pytest.FixtureRequest, bench_name: str
) -> None:
    bench = request.getfixturevalue(bench_name)
    figures = [
        charts.kpi_cards(business.business_metrics(bench, **KW)),
        charts.activity_trend(business.user_activity(bench, **KW)),
        charts.stickiness_chart(business.stickiness(bench, **KW)),
        charts.stickiness_chart(business.stickiness(bench, **KW, breakdown="device")),
        charts.active_days_chart(business.active_days(bench, **KW)),
        charts.retention_heatmap(business.retention(bench, **KW)),
        charts.lifecycle_chart(business.lifecycle(bench, **KW)),
        charts.acquisition_trend(business.acquisition(bench, **KW)),
        charts.funnel_chart(business.funnel(bench, **KW, steps=["signup", "activate"])),
        charts.revenue_trend(business.revenue(bench, **KW)),
        charts.mrr_chart(business.mrr(bench, **KW)),
        charts.ltv_curves(business.ltv(bench, **KW)),
        charts.breakdown_bars(business.segment_kpis(bench, **KW, by="plan")),
        charts.performance_chart(business.system_performance(bench, **KW, interval="day")),
    ]
    assert all(fig.to_dict()["layout"] for fig in figures)
    assert len(figures[0].data) == 23  # one card per KPI, data or not


def test_explorer_redraws_only_dependent_panels(hand_dir: Path) -> None:
    with Workbench.open(hand_dir, tenant="t1") as wb:
        app = business_explorer(wb, **KW)
        assert isinstance(app, BusinessExplorer) and set(app.figures) == set(PANELS)
        assert app.layout.width == "100%"
        assert app.controls["device"].options == ("desktop", "mobile", "tablet")  # most users first
        app.controls["breakdown"].value = "device"
        assert set(app.last_refreshed) == {"activity", "funnel", "revenue", "breakdown"}
        assert [t.name for t in app.figures["activity"].data] == ["desktop", "mobile", "tablet"]
        before = app.figures["performance"].to_json()
        app.controls["device"].value = ("mobile",)
        assert "performance" not in app.last_refreshed and "kpis" in app.last_refreshed
        assert app.figures["performance"].to_json() == before
        assert [t.name for t in app.figures["activity"].data] == ["mobile"]
        app.controls["interval"].value = "day"
        assert set(app.last_refreshed) == {
            n for n, p in PANELS.items() if "interval" in p.depends_on
        }
        assert "performance" in app.last_refreshed and "funnel" not in app.last_refreshed
        app.controls["end"].value = dt.date(2026, 2, 1)  # before start: a message, nothing redrawn
        assert app.last_refreshed == () and "must be after start" in app.status.value
        with pytest.raises(QueryParameterError, match="interval must be one of day, week, month"):
            business_explorer(wb, **KW, interval="range")
