"""Workflow tab figures and widget: they draw the frames they are given, and rebuild on a filter."""

from __future__ import annotations

import pandas as pd

from auterity_lab.charts import workflow as charts
from auterity_lab.warehouse import Workbench
from auterity_lab.widgets.workflow import workflow_explorer


def test_figures_draw_the_given_frames() -> None:
    breakdown = pd.DataFrame(
        {
            "workflow_id": ["w", "w"],
            "step_name": ["a", "b"],
            "step_type": ["ai", "http"],
            "step_index": [0, 1],
            "share_of_run_time": [0.3, 0.6],
            "ms_per_run": [30.0, 60.0],
            "is_bottleneck": [False, True],
        }
    )
    bars = charts.step_shares(breakdown).data
    assert [b.x[0] for b in bars] == [0.3, 0.6]
    assert [b.marker.line.color for b in bars] == ["white", "#dc2626"]  # the bottleneck is outlined
    sla = pd.DataFrame(
        {
            "workflow_id": ["w", "v"],
            "attainment": [0.8, 1.0],
            "objective": [0.95, 0.95],
            "meets_objective": [False, True],
            "target_ms": [100.0, 100.0],
            "breaches": [2, 0],
            "measured": [10, 5],
        }
    )
    fig = charts.sla_attainment(sla)
    assert list(fig.data[0].marker.color) == ["#dc2626", "#16a34a"]
    assert list(fig.data[1].y) == [0.95, 0.95]
    cost = pd.DataFrame(
        {
            "workflow_id": ["w", "all"],
            "cost_complete": [False, False],
            "cost_per_successful_run": [0.2, 0.2],
            "cost_per_run": [0.1, 0.1],
        }
    )
    assert list(charts.ai_cost_bars(cost).data[0].x) == ["w (incomplete: unpriced calls)"]


def test_explorer_rebuilds_on_a_filter(wb: Workbench) -> None:
    app = workflow_explorer(wb, start="2026-09-01", end="2026-10-01")
    filters, status, figures = app.children
    assert len(figures.children) == 6 and status.value == ""
    choose = filters.children[2]
    choose.value = "lead-enrichment"
    shares = figures.children[2].children[1]
    assert {b.y[0] for b in shares.data} == {"lead-enrichment"}
    filters.children[1].value = filters.children[0].value  # an empty range: error, figures kept
    assert "must be after start" in status.value and len(figures.children) == 6
