"""AI/ML tab widgets: date range, model, model version and prompt version filters over the
headline cards, the model comparison, latency percentiles, spend over time and the prompt table.

Examples
--------
>>> app = ml_explorer(wb, start="2026-08-01", end="2026-11-01")               # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import plotly.graph_objects as go

from auterity_lab import ml
from auterity_lab.charts import ml as ml_charts
from auterity_lab.errors import AuterityLabError
from auterity_lab.periods import DateRange
from auterity_lab.widgets import date_range_picker

if TYPE_CHECKING:
    import pandas as pd

    from auterity_lab.warehouse import Workbench

ALL = "(all)"
"""The dropdown choice that means no filter."""

_FLUID = {"width": "auto", "min_width": "12em", "flex": "1 1 12em"}


def ml_explorer(wb: Workbench, /, *, start: Any, end: Any) -> widgets.VBox:
    """Filters over the AI/ML figures; every figure is redrawn when a filter changes.

    The model version choices follow the chosen model; choices come from
    :func:`auterity_lab.ml.filter_values` for the chosen dates.
    """
    start_w, end_w = date_range_picker(start, end)
    model_w = widgets.Dropdown(description="Model", layout=widgets.Layout(**_FLUID))
    version_w = widgets.Dropdown(description="Version", layout=widgets.Layout(**_FLUID))
    prompt_w = widgets.Dropdown(description="Prompt ver.", layout=widgets.Layout(**_FLUID))
    status = widgets.HTML()
    figures = {name: go.FigureWidget() for name in _FIGURES}
    state: dict[str, Any] = {"choices": None, "busy": False}

    def choices() -> None:
        rng = DateRange.of(start_w.value, end_w.value)
        values = ml.filter_values(wb, **rng.params())
        state["choices"] = values
        _set_options(model_w, sorted(values["model_id"].dropna().unique()))
        _set_options(prompt_w, sorted(values["prompt_version"].dropna().unique()))
        versions(None)

    def versions(_: object) -> None:
        values: pd.DataFrame = state["choices"]
        if model_w.value != ALL:
            values = values[values["model_id"] == model_w.value]
        _set_options(version_w, sorted(values["model_version"].dropna().unique()))

    def redraw(_: object = None) -> None:
        if state["busy"]:
            return
        try:
            rng = DateRange.of(start_w.value, end_w.value)
            filters = {
                "model": _value(model_w),
                "model_version": _value(version_w),
                "prompt_version": _value(prompt_w),
            }
            new = {name: build(wb, rng, filters) for name, build in _FIGURES.items()}
        except AuterityLabError as exc:
            status.value = f"<span style='color:#dc2626'>{exc}</span>"
            return
        status.value = ""
        for name, fig in new.items():
            _replace(figures[name], fig)

    def on_dates(_: object) -> None:
        state["busy"] = True
        try:
            choices()
        except AuterityLabError as exc:
            status.value = f"<span style='color:#dc2626'>{exc}</span>"
            return
        finally:
            state["busy"] = False
        redraw()

    def on_model(change: object) -> None:
        state["busy"] = True
        try:
            versions(change)
        finally:
            state["busy"] = False
        redraw()

    choices()
    redraw()
    start_w.observe(on_dates, names="value")
    end_w.observe(on_dates, names="value")
    model_w.observe(on_model, names="value")
    version_w.observe(redraw, names="value")
    prompt_w.observe(redraw, names="value")
    filters = widgets.HBox(
        [start_w, end_w, model_w, version_w, prompt_w],
        layout=widgets.Layout(flex_flow="row wrap", width="100%"),
    )
    return widgets.VBox([filters, status, *figures.values()], layout=widgets.Layout(width="100%"))


def _set_options(dropdown: widgets.Dropdown, options: list[str]) -> None:
    keep = dropdown.value if dropdown.value in options else ALL
    dropdown.options = [ALL, *options]
    dropdown.value = keep


def _value(dropdown: widgets.Dropdown) -> str | None:
    return None if dropdown.value in (ALL, None) else dropdown.value


def _replace(target: go.FigureWidget, source: go.Figure) -> None:
    """Put ``source``'s traces and layout into the displayed ``target`` (trace counts differ)."""
    with target.batch_update():
        target.data = ()
        target.add_traces(list(source.data))
        target.layout = source.layout


def _summary(wb: Workbench, rng: DateRange, f: dict[str, Any]) -> go.Figure:
    return ml_charts.summary_cards(ml.ml_summary(wb, **rng.params(), **f))


def _comparison(wb: Workbench, rng: DateRange, f: dict[str, Any]) -> go.Figure:
    return ml_charts.model_comparison(ml.model_performance(wb, **rng.params(), **f))


def _latency(wb: Workbench, rng: DateRange, f: dict[str, Any]) -> go.Figure:
    return ml_charts.latency_percentiles(ml.model_performance(wb, **rng.params(), **f))


def _cost(wb: Workbench, rng: DateRange, f: dict[str, Any]) -> go.Figure:
    grain = "day" if rng.days <= 62 else "week"
    return ml_charts.cost_over_time(ml.cost_over_time(wb, **rng.params(), grain=grain, **f))


def _prompts(wb: Workbench, rng: DateRange, f: dict[str, Any]) -> go.Figure:
    return ml_charts.prompt_table(ml.prompt_analytics(wb, **rng.params(), **f), rows=15)


_FIGURES = {
    "summary": _summary,
    "comparison": _comparison,
    "latency": _latency,
    "cost": _cost,
    "prompts": _prompts,
}
"""Figure name → how it is built from the filters (the order they are shown in)."""
