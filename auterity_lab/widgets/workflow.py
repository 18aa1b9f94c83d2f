"""Workflow tab widgets: date, workflow and period filters over the workflow figures.

Examples
--------
>>> app = workflow_explorer(wb, start="2026-08-01", end="2026-11-01")   # doctest: +SKIP
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import plotly.graph_objects as go

from auterity_lab import workflow
from auterity_lab.charts import workflow as workflow_charts
from auterity_lab.errors import AuterityLabError
from auterity_lab.periods import DateRange
from auterity_lab.widgets import date_range_picker

if TYPE_CHECKING:
    from auterity_lab.warehouse import Workbench

_ALL = "(all workflows)"


def workflow_explorer(wb: Workbench, /, *, start: Any, end: Any) -> widgets.VBox:
    """Filters (dates, workflow, period) over runs, durations, bottlenecks, AI cost and SLAs.

    Every figure is rebuilt from the library when a filter changes; an invalid choice (an empty
    date range) shows the error above the figures and keeps them as they were.
    """
    start_w, end_w = date_range_picker(start, end)
    names = workflow.run_summary(wb, start=start, end=end)["workflow_id"]
    choose = widgets.Dropdown(
        description="Workflow",
        options=[_ALL, *sorted(set(names) - {"all"})],
        layout=widgets.Layout(width="auto"),
    )
    period = widgets.ToggleButtons(
        options=["day", "week", "month"], value="week", layout=widgets.Layout(width="auto")
    )
    status = widgets.HTML()
    figures = widgets.VBox(layout=widgets.Layout(width="100%"))

    def redraw(_: object = None) -> None:
        try:
            rng = DateRange.of(start_w.value, end_w.value)
            built = _figures(wb, rng, None if choose.value == _ALL else choose.value, period.value)
        except AuterityLabError as exc:
            status.value = f"<span style='color:#dc2626'>{html.escape(str(exc))}</span>"
            return
        status.value = ""
        figures.children = [
            widgets.VBox(
                [widgets.HTML(f"<h4>{title}</h4>"), go.FigureWidget(fig)],
                layout=widgets.Layout(width="100%"),
            )
            for title, fig in built
        ]

    for control in (start_w, end_w, choose, period):
        control.observe(redraw, names="value")
    redraw()
    filters = widgets.HBox(
        [start_w, end_w, choose, period], layout=widgets.Layout(flex_flow="row wrap", width="100%")
    )
    return widgets.VBox([filters, status, figures], layout=widgets.Layout(width="100%"))


def _figures(
    wb: Workbench, rng: DateRange, name: str | None, period: str
) -> list[tuple[str, go.Figure]]:
    kw = {**rng.params(), "workflow": name}
    return [
        (
            "Runs and outcomes",
            workflow_charts.run_outcomes(workflow.run_trends(wb, period=period, **kw)),
        ),
        ("Run duration", workflow_charts.duration_percentiles(workflow.run_summary(wb, **kw))),
        ("Where run time goes", workflow_charts.step_shares(workflow.step_breakdown(wb, **kw))),
        (
            "Bottleneck over time",
            workflow_charts.bottleneck_timeline(
                workflow.bottleneck_history(wb, period=period, **kw)
            ),
        ),
        ("AI cost", workflow_charts.ai_cost_bars(workflow.ai_cost_by_workflow(wb, **kw))),
        ("SLA", workflow_charts.sla_attainment(workflow.sla_breaches(wb, **kw))),
    ]
