"""Overview tab figures: the health strip, KPI cards and the daily trends of the three systems.

Examples
--------
>>> import pandas as pd
>>> kpis = pd.DataFrame({"system": ["auterity"], "metric": ["sessions"], "value": [120.0],
...                      "unit": ["sessions"], "previous": [100.0], "change": [0.2]})
>>> kpi_cards(kpis).data[0].type
'indicator'
>>> systems = pd.DataFrame({"system": ["auterity"], "status": ["degraded"],
...     "reasons": ["error rate is 9%"], "data_age_hours": [1.5], "error_rate": [0.09],
...     "p95_ms": [420.0], "requests": [120]})
>>> health_strip(systems).data[0].marker.color
('#f59e0b',)
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from auterity_lab.charts import SYSTEM_COLORS, UP_IS_BAD, format_for, label

if TYPE_CHECKING:
    import pandas as pd

STATUS_COLORS = {"healthy": "#16a34a", "degraded": "#f59e0b", "down": "#dc2626"}
"""Colour of each health status (green, amber, red)."""


def kpi_cards(kpis: pd.DataFrame, *, columns: int = 4) -> go.Figure:
    """A grid of indicator cards: value and relative change against the previous period.

    ``kpis`` has columns ``system``, ``metric``, ``value``, ``unit``, ``previous`` (optional).
    """
    rows = max(1, math.ceil(len(kpis) / columns))
    fig = go.Figure()
    for i, rec in enumerate(kpis.itertuples(index=False)):
        r, c = divmod(i, columns)
        prev = getattr(rec, "previous", None)
        has_prev = (
            prev is not None and isinstance(prev, float | int) and math.isfinite(prev) and prev
        )
        value = rec.value if rec.value is not None and math.isfinite(rec.value) else None
        bad_up = rec.metric in UP_IS_BAD
        fig.add_trace(
            go.Indicator(
                mode="number+delta" if has_prev else "number",
                value=value,
                title={
                    "text": f"{label(rec.metric)}<br><sub>{rec.system}</sub>",
                    "font": {"size": 15},
                },
                number={"valueformat": format_for(rec.unit), "font": {"size": 40}},
                delta={
                    "reference": prev,
                    "relative": True,
                    "valueformat": ".1%",
                    "increasing": {"color": "#dc2626" if bad_up else "#16a34a"},
                    "decreasing": {"color": "#16a34a" if bad_up else "#dc2626"},
                }
                if has_prev
                else None,
                domain={"row": r, "column": c},
            )
        )
    fig.update_layout(
        grid={"rows": rows, "columns": columns, "pattern": "independent"},
        height=190 * rows + 30,
        margin={"l": 20, "r": 20, "t": 70, "b": 10},
        autosize=True,
    )
    return fig


def overview_trends(daily: pd.DataFrame) -> go.Figure:
    """Three stacked daily panels: users and sessions, AI requests and p95 latency, workflow runs
    and failure rate. ``daily`` is :func:`auterity_lab.overview.daily`'s frame."""
    fig = make_subplots(
        rows=3,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.08,
        specs=[[{"secondary_y": True}]] * 3,
        subplot_titles=("Auterity: users", "Neuroweaver: AI calls", "RelayCore: workflows"),
    )
    x = daily["date"]
    panels = [
        ("active_users", "sessions", "auterity"),
        ("ai_requests", "ai_p95_latency", "neuroweaver"),
        ("workflow_runs", "workflow_failure_rate", "relaycore"),
    ]
    for row, (left, right, system) in enumerate(panels, start=1):
        color = SYSTEM_COLORS[system]
        fig.add_trace(
            go.Bar(x=x, y=daily[left], name=label(left), marker_color=color, opacity=0.55),
            row=row, col=1, secondary_y=False,
        )
        fig.add_trace(
            go.Scatter(x=x, y=daily[right], name=label(right), mode="lines",
                       line={"color": "#111827", "width": 1.5}),
            row=row, col=1, secondary_y=True,
        )
        fig.update_yaxes(title_text=label(left), row=row, col=1, secondary_y=False)
        fig.update_yaxes(title_text=label(right), row=row, col=1, secondary_y=True)
    fig.update_layout(
        height=720, autosize=True, legend={"orientation": "h", "y": -0.08},
        margin={"l": 60, "r": 60, "t": 60, "b": 40}, bargap=0.15,
    )
    return fig


def health_strip(systems: pd.DataFrame, *, title: str | None = None) -> go.Figure:
    """One tile per system, coloured by its health status, with data age and error rate.

    ``systems`` is :attr:`auterity_lab.health.SystemHealth.systems` (``system``, ``status``,
    ``reasons``, ``data_age_hours``, ``error_rate``, ``p95_ms``, ``requests``); hovering a tile
    shows the reasons that decided its status.
    """
    text = [
        f"<b>{rec.system}</b><br>{rec.status}<br>"
        f"data {_num(rec.data_age_hours, '{:.1f} h old')} · errors {_num(rec.error_rate, '{:.1%}')}"
        for rec in systems.itertuples(index=False)
    ]
    hover = [
        f"<b>{rec.system}: {rec.status}</b><br>{'<br>'.join(str(rec.reasons).split('; '))}"
        f"<br>requests in window: {_num(rec.requests, '{:,.0f}')}"
        f" · p95 {_num(rec.p95_ms, '{:,.0f} ms')}"
        for rec in systems.itertuples(index=False)
    ]
    fig = go.Figure(
        go.Bar(
            x=systems["system"].tolist(),
            y=[1] * len(systems),
            marker={"color": [STATUS_COLORS.get(s, "#9ca3af") for s in systems["status"]],
                    "line": {"color": [SYSTEM_COLORS.get(s, "#374151") for s in systems["system"]],
                             "width": 3}},
            text=text,
            textposition="inside",
            insidetextanchor="middle",
            textfont={"color": "white", "size": 14},
            hovertext=hover,
            hoverinfo="text",
        )
    )
    fig.update_layout(
        title=title, height=170, autosize=True, bargap=0.06, showlegend=False,
        margin={"l": 10, "r": 10, "t": 40 if title else 10, "b": 10},
        xaxis={"visible": False}, yaxis={"visible": False, "range": [0, 1]},
    )
    return fig


def _num(value: object, fmt: str) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return fmt.format(value)
