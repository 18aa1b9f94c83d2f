"""Figures of the ready-made reports: movers against a baseline and the day hour by hour.

Figures display :mod:`auterity_lab.digest` results; they compute nothing.

Examples
--------
>>> import pandas as pd
>>> m = pd.DataFrame({"system": ["auterity"], "metric": ["sessions"], "unit": ["sessions"],
...                   "value": [90.0], "baseline": [100.0], "change": [-0.1], "difference": [-10.0],
...                   "from_zero": [False], "verdict": ["worse"]})
>>> movers_chart(m, baseline="last week").data[0].orientation
'h'
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from auterity_lab.charts import SYSTEM_COLORS, label

if TYPE_CHECKING:
    import pandas as pd

VERDICT_COLORS = {"better": "#16a34a", "worse": "#dc2626", "neutral": "#6b7280"}
"""Bar colour of a change by its verdict (see :func:`auterity_lab.digest.movers`)."""


def movers_chart(movers: pd.DataFrame, *, baseline: str) -> go.Figure:
    """Horizontal bars of the relative change of each mover, green when better, red when worse.

    ``movers`` is :func:`auterity_lab.digest.movers`' frame; ``baseline`` names what the change
    is against (for the axis title). A move from zero (no relative size) is drawn hatched, as
    long as the longest bar, and labelled "from 0".
    """
    ordered = movers.iloc[::-1]  # largest change on top
    finite = ordered["change"].abs().dropna()
    # a move from zero has no relative size: drawn as long as the longest bar, labelled "from 0"
    longest = max(float(finite.max()) if len(finite) else 0.0, 0.5)
    x = [
        longest * (1 if d > 0 else -1) if z else c
        for c, d, z in zip(
            ordered["change"], ordered["difference"], ordered["from_zero"], strict=True
        )
    ]
    fig = go.Figure(
        go.Bar(
            x=x,
            y=[
                f"{label(m)} · {s}"
                for m, s in zip(ordered["metric"], ordered["system"], strict=True)
            ],
            orientation="h",
            marker_color=[VERDICT_COLORS.get(v, "#6b7280") for v in ordered["verdict"]],
            marker_pattern_shape=["/" if z else "" for z in ordered["from_zero"]],
            text=[
                "from 0" if z else f"{c:+.1%}"
                for c, z in zip(ordered["change"], ordered["from_zero"], strict=True)
            ],
            textposition="auto",
            hovertemplate="%{y}: %{x:+.1%}<extra></extra>",
        )
    )
    fig.update_layout(
        xaxis={"title": f"change vs {baseline}", "tickformat": "+.0%", "zeroline": True},
        height=max(220, 60 + 42 * len(movers)),
        margin={"l": 20, "r": 20, "t": 30, "b": 40},
        autosize=True,
    )
    fig.update_yaxes(automargin=True)
    return fig


def hourly_chart(profile: pd.DataFrame) -> go.Figure:
    """One panel per metric: the day hour by hour (bars) and the same hours a week earlier (line).

    ``profile`` is :func:`auterity_lab.digest.hourly_profile`'s frame.
    """
    metrics = list(dict.fromkeys(profile["metric"]))
    fig = make_subplots(
        rows=len(metrics) or 1,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.08,
        subplot_titles=[label(m) for m in metrics] or [""],
    )
    for row, metric in enumerate(metrics, start=1):
        part = profile[profile["metric"] == metric]
        color = SYSTEM_COLORS.get(str(part["system"].iloc[0]), "#2563eb")
        fig.add_trace(
            go.Bar(
                x=part["hour"],
                y=part["value"],
                name=f"{label(metric)}: the day",
                marker_color=color,
                opacity=0.7,
                showlegend=row == 1,
            ),
            row=row,
            col=1,
        )
        fig.add_trace(
            go.Scatter(
                x=part["hour"],
                y=part["last_week"],
                name="same weekday last week",
                mode="lines",
                line={"color": "#111827", "dash": "dot", "width": 1.5},
                showlegend=row == 1,
            ),
            row=row,
            col=1,
        )
    fig.update_xaxes(title_text="hour (UTC)", dtick=2, row=len(metrics) or 1, col=1)
    fig.update_layout(
        height=max(260, 200 * len(metrics)),
        autosize=True,
        bargap=0.1,
        legend={"orientation": "h", "y": -0.12},
        margin={"l": 50, "r": 20, "t": 40, "b": 40},
    )
    return fig
