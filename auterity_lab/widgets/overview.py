"""Overview tab widgets: date filters over the KPI cards and daily trends.

Examples
--------
>>> app = overview_explorer(wb, start="2026-08-01", end="2026-11-01")   # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import plotly.graph_objects as go

from auterity_lab import overview
from auterity_lab.charts import overview as overview_charts
from auterity_lab.errors import AuterityLabError
from auterity_lab.periods import DateRange
from auterity_lab.widgets import date_range_picker, replace_figure_data

if TYPE_CHECKING:
    from auterity_lab.warehouse import Workbench


def overview_explorer(wb: Workbench, /, *, start: Any, end: Any) -> widgets.VBox:
    """Date filters over the Overview KPIs and daily trends; both redraw when a date changes."""
    start_w, end_w = date_range_picker(start, end)
    status = widgets.HTML()
    cards = go.FigureWidget(overview_charts.kpi_cards(overview.headline_kpis(wb, start=start, end=end)))
    trends = go.FigureWidget(overview_charts.overview_trends(overview.daily(wb, start=start, end=end)))

    def redraw(_: object = None) -> None:
        try:
            rng = DateRange.of(start_w.value, end_w.value)
            new_cards = overview_charts.kpi_cards(overview.headline_kpis(wb, **rng.params()))
            new_trends = overview_charts.overview_trends(overview.daily(wb, **rng.params()))
        except AuterityLabError as exc:
            status.value = f"<span style='color:#dc2626'>{exc}</span>"
            return
        status.value = ""
        replace_figure_data(cards, new_cards)
        replace_figure_data(trends, new_trends)

    start_w.observe(redraw, names="value")
    end_w.observe(redraw, names="value")
    filters = widgets.HBox(
        [start_w, end_w], layout=widgets.Layout(flex_flow="row wrap", width="100%")
    )
    return widgets.VBox([filters, status, cards, trends], layout=widgets.Layout(width="100%"))
