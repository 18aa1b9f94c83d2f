"""Overview tab widgets: date filters over the health strip, KPI cards and daily trends.

Everything comes from :func:`auterity_lab.unified.unified_analytics`, so a system whose extracts
are broken shows as unavailable (with the reason) while the others are drawn.

Examples
--------
>>> app = overview_explorer(wb, start="2026-08-01", end="2026-11-01")   # doctest: +SKIP
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import plotly.graph_objects as go

from auterity_lab.charts import overview as overview_charts
from auterity_lab.errors import AuterityLabError
from auterity_lab.periods import DateRange
from auterity_lab.unified import UnifiedAnalytics, unified_analytics
from auterity_lab.widgets import date_range_picker

if TYPE_CHECKING:
    from auterity_lab.warehouse import Workbench


def overview_explorer(wb: Workbench, /, *, start: Any, end: Any) -> widgets.VBox:
    """Date filters over the Overview: health per system, headline KPIs and daily trends.

    Health is assessed at the range's end (or now, for a range reaching into the future).
    """
    start_w, end_w = date_range_picker(start, end)
    status = widgets.HTML()
    notice = widgets.HTML()
    figures = widgets.VBox(layout=widgets.Layout(width="100%"))

    def redraw(_: object = None) -> None:
        try:
            rng = DateRange.of(start_w.value, end_w.value)
            result = unified_analytics(wb, **rng.params())
        except AuterityLabError as exc:
            status.value = f"<span style='color:#dc2626'>{html.escape(str(exc))}</span>"
            return
        status.value = ""
        notice.value = unavailable_notice(result)
        figures.children = [
            go.FigureWidget(
                overview_charts.health_strip(
                    result.health.systems, title=f"Health as of {result.as_of:%Y-%m-%d %H:%M} UTC"
                )
            ),
            go.FigureWidget(overview_charts.kpi_cards(result.kpis())),
            go.FigureWidget(overview_charts.overview_trends(result.daily())),
        ]

    start_w.observe(redraw, names="value")
    end_w.observe(redraw, names="value")
    redraw()
    filters = widgets.HBox(
        [start_w, end_w], layout=widgets.Layout(flex_flow="row wrap", width="100%")
    )
    return widgets.VBox([filters, status, notice, figures], layout=widgets.Layout(width="100%"))


def unavailable_notice(result: UnifiedAnalytics) -> str:
    """HTML listing the sections that are not shown and why (empty when all are available)."""
    rows = result.sections()
    missing = rows[rows["status"] == "unavailable"]
    if missing.empty:
        return ""
    items = "".join(
        f"<li><b>{html.escape(r.section)}</b>: {html.escape(str(r.reason))}</li>"
        for r in missing.itertuples(index=False)
    )
    return f"<div style='color:#b45309'>Not shown (unavailable):<ul>{items}</ul></div>"
