"""Overview tab figures: KPI cards and the daily trends of the three systems.

Examples
--------
>>> import pandas as pd
>>> kpis = pd.DataFrame({"system": ["auterity"], "metric": ["sessions"], "value": [120.0],
...                      "unit": ["sessions"], "previous": [100.0], "change": [0.2]})
>>> kpi_cards(kpis).data[0].type
'indicator'
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from auterity_lab.charts import SYSTEM_COLORS, UP_IS_BAD, format_for, label

if TYPE_CHECKING:
    import pandas as pd


def kpi_cards(kpis: pd.DataFrame, *, columns: int = 4) -> go.Figure:
    """A grid of indicator cards: value and relative change against the previous period.

    ``kpis`` has columns ``system``, ``metric``, ``value``, ``unit``, ``previous`` (optional).
    """
    rows = max(1, math.ceil(len(kpis) / columns))
    fig = go.Figure()
    for i, rec in enumerate(kpis.itertuples(index=False)):
        r, c = divmod(i, columns)
        prev = getattr(rec, "previous", None)
        has_prev = prev is not None and isinstance(prev, float | int) and math.isfinite(prev) and prev
        value = rec.value if rec.value is not None and math.isfinite(rec.value) else None
        bad_up = rec.metric in UP_IS_BAD
        fig.add_trace(
            go.Indicator(
                mode="number+delta" if has_prev else "number",
                value=value,
                title={"text": f"{label(rec.metric)}<br><sub>{rec.system}</sub>"},
                number={"valueformat": format_for(rec.unit)},
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
        height=150 * rows,
        margin={"l": 20, "r": 20, "t": 40, "b": 10},
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
