"""Business tab figures: KPI cards, activity and stickiness trends, retention heatmap, lifecycle,
acquisition, funnel, revenue, MRR, LTV curves, breakdown bars and system performance.

Each function takes the frame of the :mod:`auterity_lab.business` function of the same topic and
draws it; nothing is computed here. Periods a range cuts (``complete`` false) are drawn with
open markers or marked with ``*``: their numbers are partial.

Examples
--------
>>> import pandas as pd
>>> cells = pd.DataFrame({"cohort": pd.to_datetime(["2026-09-07"] * 2), "segment": "all",
...     "cohort_size": 4, "period": [0, 1],
...     "period_start": pd.to_datetime(["2026-09-07", "2026-09-14"]),
...     "complete": True, "retained": [4, 1], "rate": [1.0, 0.25],
...     "rate_ci_low": [0.51, 0.05], "rate_ci_high": [1.0, 0.7]})
>>> retention_heatmap(cells).data[0].type
'heatmap'
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from auterity_lab.charts import SYSTEM_COLORS, format_for, label

if TYPE_CHECKING:
    import pandas as pd

_PALETTE = qualitative.Plotly
_LIFECYCLE = {  # status -> (colour, drawn below zero)
    "new": ("#16a34a", False),
    "returning": ("#2563eb", False),
    "resurrecting": ("#f59e0b", False),
    "dormant": ("#dc2626", True),
}
_MRR_MOVES = {  # column -> (colour, drawn below zero)
    "new_mrr": ("#16a34a", False),
    "expansion_mrr": ("#22c55e", False),
    "reactivation_mrr": ("#84cc16", False),
    "contraction_mrr": ("#f97316", True),
    "churned_mrr": ("#dc2626", True),
}
_LABELS = {
    "total_users": "Total users",
    "median_session_duration": "Median session (s)",
    "pages_per_session": "Pages per session",
    "sessions_per_user": "Sessions per user",
    "stickiness": "Stickiness (DAU/MAU)",
    "arpu": "ARPU",
    "arppu": "ARPPU",
    "mrr": "MRR",
    "net_new_mrr": "Net new MRR",
    "new_mrr": "New MRR",
    "expansion_mrr": "Expansion MRR",
    "reactivation_mrr": "Reactivation MRR",
    "contraction_mrr": "Contraction MRR",
    "churned_mrr": "Churned MRR",
    "closing_mrr": "MRR",
    "error_rate_5xx": "5xx error rate",
    "error_rate_4xx": "4xx error rate",
    "p95_latency": "p95 latency (ms)",
    "conversion_to_paid": "Conversion to paid",
    "paid_rate": "Paid conversion",
    "activation_rate": "Activation rate",
    "new_paying_users": "New paying users",
}
_FORMATS = {
    "pages_per_session": ".2f",
    "sessions_per_user": ".2f",
    "arpu": "$,.2f",
    "arppu": "$,.2f",
}  # metric -> d3 format, where the unit's default is too coarse
_LAYOUT = {
    "autosize": True,
    "margin": {"l": 60, "r": 40, "t": 60, "b": 40},
    "legend": {"orientation": "h", "y": -0.15},
}


def _label(metric: str) -> str:
    return _LABELS.get(metric) or label(metric)


def _color(i: int) -> str:
    return _PALETTE[i % len(_PALETTE)]


def _segments(frame: pd.DataFrame) -> list[str]:
    return list(dict.fromkeys(frame["segment"])) if "segment" in frame else []


def _markers(complete: pd.Series) -> list[str]:
    return ["circle" if c else "circle-open" for c in complete]


def kpi_cards(kpis: pd.DataFrame, *, columns: int = 4) -> go.Figure:
    """Indicator cards of :func:`~auterity_lab.business.business_metrics`: value and change
    against the previous period, green when it moves the good way (``higher_is_better``)."""
    rows = max(1, -(-len(kpis) // columns))
    fig = go.Figure()
    for i, rec in enumerate(kpis.itertuples(index=False)):
        r, c = divmod(i, columns)
        has_prev = rec.previous == rec.previous and bool(rec.previous)  # not NaN, not 0
        good, bad = "#16a34a", "#dc2626"
        if rec.higher_is_better is None:
            good = bad = "#6b7280"
        up, down = (good, bad) if rec.higher_is_better is not False else (bad, good)
        fig.add_trace(
            go.Indicator(
                mode="number+delta" if has_prev else "number",
                value=rec.value if rec.value == rec.value else None,
                title={"text": f"{_label(rec.metric)}<br><sub>{rec.area}</sub>"},
                number={"valueformat": _FORMATS.get(rec.metric) or format_for(rec.unit)},
                delta={
                    "reference": rec.previous,
                    "relative": True,
                    "valueformat": ".1%",
                    "increasing": {"color": up},
                    "decreasing": {"color": down},
                }
                if has_prev
                else None,
                domain={"row": r, "column": c},
            )
        )
    fig.update_layout(
        grid={"rows": rows, "columns": columns, "pattern": "independent", "ygap": 0.45},
        height=175 * rows,
        autosize=True,
        margin={"l": 20, "r": 20, "t": 70, "b": 10},
    )
    return fig


def activity_trend(activity: pd.DataFrame, *, metric: str = "active_users") -> go.Figure:
    """One line per segment of a :func:`~auterity_lab.business.user_activity` column over time
    (open markers: periods the range cuts)."""
    fig = go.Figure()
    for i, seg in enumerate(_segments(activity)):
        part = activity[activity["segment"] == seg]
        fig.add_trace(
            go.Scatter(
                x=part["period"],
                y=part[metric],
                name=str(seg),
                mode="lines+markers",
                line={"color": _color(i)},
                marker={"symbol": _markers(part["complete"]), "size": 8},
            )
        )
    fig.update_layout(title=_label(metric), yaxis_title=_label(metric), **_LAYOUT)
    return fig


def stickiness_chart(daily: pd.DataFrame) -> go.Figure:
    """DAU, WAU and MAU (bars and lines) and DAU/MAU of :func:`~auterity_lab.business.stickiness`;
    with several segments, one DAU/MAU line per segment."""
    segments = _segments(daily)
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    if len(segments) == 1:
        for col, color in (
            ("mau", "#bfdbfe"),
            ("wau", "#60a5fa"),
            ("dau", SYSTEM_COLORS["auterity"]),
        ):
            fig.add_trace(
                go.Scatter(
                    x=daily["date"],
                    y=daily[col],
                    name=col.upper(),
                    mode="lines",
                    line={"color": color},
                ),
                secondary_y=False,
            )
        fig.update_yaxes(title_text="Users", secondary_y=False)
    for i, seg in enumerate(segments):
        part = daily[daily["segment"] == seg]
        name = "DAU/MAU" if len(segments) == 1 else f"{seg} DAU/MAU"
        fig.add_trace(
            go.Scatter(
                x=part["date"],
                y=part["dau_mau"],
                name=name,
                mode="lines",
                line={
                    "color": "#111827" if len(segments) == 1 else _color(i),
                    "dash": "dot" if len(segments) == 1 else "solid",
                },
            ),
            secondary_y=True,
        )
    fig.update_yaxes(title_text="DAU/MAU", tickformat=".0%", secondary_y=True)
    fig.update_layout(title="Stickiness", **_LAYOUT)
    return fig


def active_days_chart(distribution: pd.DataFrame) -> go.Figure:
    """Share of users active on exactly k periods (:func:`~auterity_lab.business.active_days`)."""
    fig = go.Figure()
    for i, seg in enumerate(_segments(distribution)):
        part = distribution[distribution["segment"] == seg]
        fig.add_trace(
            go.Bar(
                x=part["active_periods"],
                y=part["share"],
                name=str(seg),
                marker_color=_color(i),
                customdata=part[["users"]],
                hovertemplate="k=%{x}: %{y:.1%} (%{customdata[0]} users)",
            )
        )
    fig.update_layout(
        title="Active periods per user",
        xaxis_title="Active periods",
        yaxis_tickformat=".0%",
        barmode="group",
        **_LAYOUT,
    )
    return fig


def retention_heatmap(cells: pd.DataFrame, *, segment: str | None = None) -> go.Figure:
    """Cohort × period heatmap of :func:`~auterity_lab.business.retention` rates with the Wilson
    interval in the hover; ``*`` marks cells whose period runs past the range's end."""
    if segment is None and len(cells):
        segment = _segments(cells)[0]
    part = cells[cells["segment"] == segment] if segment is not None else cells
    rate = part.pivot(index="cohort", columns="period", values="rate")
    low = part.pivot(index="cohort", columns="period", values="rate_ci_low").reindex_like(rate)
    high = part.pivot(index="cohort", columns="period", values="rate_ci_high").reindex_like(rate)
    done = part.pivot(index="cohort", columns="period", values="complete").reindex_like(rate)
    sizes = part.groupby("cohort")["cohort_size"].first().reindex(rate.index)
    y = [f"{c:%Y-%m-%d} (n={n})" for c, n in zip(rate.index, sizes, strict=True)]
    text = [
        [
            ("" if v != v else f"{v:.0%}" + ("" if d is True else "*"))
            for v, d in zip(rv, dv, strict=True)
        ]
        for rv, dv in zip(rate.to_numpy(), done.to_numpy(), strict=True)
    ]
    fig = go.Figure(
        go.Heatmap(
            z=rate.to_numpy(),
            x=[str(k) for k in rate.columns],
            y=y,
            text=text,
            texttemplate="%{text}",
            colorscale="Blues",
            zmin=0,
            zmax=1,
            customdata=[
                [[lo, hi] for lo, hi in zip(lr, hr, strict=True)]
                for lr, hr in zip(low.to_numpy(), high.to_numpy(), strict=True)
            ],
            hovertemplate="cohort %{y}, period %{x}: %{z:.1%} (95% CI %{customdata[0]:.1%}–"
            "%{customdata[1]:.1%})<extra></extra>",
            colorbar={"tickformat": ".0%"},
        )
    )
    title = "Retention" + (f" — {segment}" if segment not in (None, "all") else "")
    fig.update_layout(
        title=title,
        xaxis_title="Periods after the cohort's",
        yaxis_autorange="reversed",
        height=max(320, 28 * len(y) + 140),
        **_LAYOUT,
    )
    return fig


def lifecycle_chart(statuses: pd.DataFrame, *, segment: str | None = None) -> go.Figure:
    """Stacked bars of :func:`~auterity_lab.business.lifecycle`: new, returning and resurrecting
    above zero, dormant below."""
    if segment is None and len(statuses):
        segment = _segments(statuses)[0]
    part = statuses[statuses["segment"] == segment] if segment is not None else statuses
    fig = go.Figure()
    for status, (color, below) in _LIFECYCLE.items():
        rows = part[part["status"] == status]
        fig.add_trace(
            go.Bar(
                x=rows["period"],
                y=-rows["users"] if below else rows["users"],
                name=status,
                marker_color=color,
                customdata=rows[["users"]],
                hovertemplate=f"{status}: %{{customdata[0]}}<extra></extra>",
            )
        )
    fig.update_layout(title="Lifecycle", barmode="relative", yaxis_title="Users", **_LAYOUT)
    return fig


def acquisition_trend(acq: pd.DataFrame, *, rate: str = "paid_rate") -> go.Figure:
    """New users per period stacked by segment (top) and each segment's ``rate``
    (``activation_rate`` or ``paid_rate``) with Wilson error bars (bottom)."""
    fig = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.1,
        subplot_titles=("New users", _label(rate)),
    )
    for i, seg in enumerate(_segments(acq)):
        part = acq[acq["segment"] == seg]
        fig.add_trace(
            go.Bar(
                x=part["period"],
                y=part["new_users"],
                name=str(seg),
                marker_color=_color(i),
                legendgroup=str(seg),
            ),
            row=1,
            col=1,
        )
        fig.add_trace(
            go.Scatter(
                x=part["period"],
                y=part[rate],
                name=str(seg),
                mode="lines+markers",
                showlegend=False,
                legendgroup=str(seg),
                line={"color": _color(i)},
                marker={"symbol": ["circle" if m else "circle-open" for m in part["mature"]]},
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": part[f"{rate}_ci_high"] - part[rate],
                    "arrayminus": part[rate] - part[f"{rate}_ci_low"],
                    "thickness": 1,
                },
            ),
            row=2,
            col=1,
        )
    fig.update_yaxes(tickformat=".0%", row=2, col=1)
    fig.update_layout(
        title="Acquisition (open markers: window not yet over)",
        barmode="stack",
        height=620,
        **_LAYOUT,
    )
    return fig


def funnel_chart(steps: pd.DataFrame) -> go.Figure:
    """Funnel of :func:`~auterity_lab.business.funnel`: users per step (one funnel per segment),
    conversion from the first step with its Wilson interval in the hover."""
    fig = go.Figure()
    for i, seg in enumerate(_segments(steps)):
        part = steps[steps["segment"] == seg]
        fig.add_trace(
            go.Funnel(
                y=part["label"],
                x=part["users"],
                name=str(seg),
                marker={"color": _color(i)},
                textinfo="value+percent initial",
                customdata=part[
                    [
                        "conversion_from_first_ci_low",
                        "conversion_from_first_ci_high",
                        "conversion_from_previous",
                    ]
                ],
                hovertemplate="%{y}: %{x} users<br>from first %{percentInitial:.1%} (95% CI "
                "%{customdata[0]:.1%}–%{customdata[1]:.1%})<br>from previous "
                "%{customdata[2]:.1%}<extra>%{fullData.name}</extra>",
            )
        )
    fig.update_layout(title="Funnel", **_LAYOUT)
    return fig


def revenue_trend(rev: pd.DataFrame) -> go.Figure:
    """Revenue per period stacked by segment (bars) and each segment's ARPU (lines)."""
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    for i, seg in enumerate(_segments(rev)):
        part = rev[rev["segment"] == seg]
        fig.add_trace(
            go.Bar(
                x=part["period"],
                y=part["revenue"],
                name=f"{seg} revenue",
                marker_color=_color(i),
                opacity=0.6,
            ),
            secondary_y=False,
        )
        fig.add_trace(
            go.Scatter(
                x=part["period"],
                y=part["arpu"],
                name=f"{seg} ARPU",
                mode="lines+markers",
                line={"color": _color(i)},
                marker={"symbol": _markers(part["complete"])},
            ),
            secondary_y=True,
        )
    fig.update_yaxes(title_text="Revenue (USD)", tickformat="$,.0f", secondary_y=False)
    fig.update_yaxes(title_text="ARPU (USD)", tickformat="$,.2f", secondary_y=True)
    fig.update_layout(title="Revenue and ARPU", barmode="stack", **_LAYOUT)
    return fig


def mrr_chart(movements: pd.DataFrame, *, segment: str | None = None) -> go.Figure:
    """MRR movements of :func:`~auterity_lab.business.mrr` (gains above zero, losses below) and
    the closing MRR line."""
    if segment is None and len(movements):
        segment = _segments(movements)[0]
    part = movements[movements["segment"] == segment] if segment is not None else movements
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    for col, (color, below) in _MRR_MOVES.items():
        fig.add_trace(
            go.Bar(
                x=part["period"],
                y=-part[col] if below else part[col],
                name=_label(col),
                marker_color=color,
            ),
            secondary_y=False,
        )
    fig.add_trace(
        go.Scatter(
            x=part["period"],
            y=part["closing_mrr"],
            name="Closing MRR",
            mode="lines+markers",
            line={"color": "#111827"},
        ),
        secondary_y=True,
    )
    fig.update_yaxes(title_text="Movement (USD)", tickformat="$,.0f", secondary_y=False)
    fig.update_yaxes(
        title_text="MRR (USD)", tickformat="$,.0f", secondary_y=True, rangemode="tozero"
    )
    fig.update_layout(title="MRR", barmode="relative", **_LAYOUT)
    return fig


def ltv_curves(curves: pd.DataFrame, *, segment: str | None = None) -> go.Figure:
    """Cumulative revenue per user of each signup cohort (:func:`~auterity_lab.business.ltv`)."""
    if segment is None and len(curves):
        segment = _segments(curves)[0]
    part = curves[curves["segment"] == segment] if segment is not None else curves
    fig = go.Figure()
    for i, (cohort, rows) in enumerate(part.groupby("cohort", sort=True)):
        fig.add_trace(
            go.Scatter(
                x=rows["period"],
                y=rows["ltv"],
                mode="lines+markers",
                line={"color": _color(i)},
                name=f"{cohort:%Y-%m-%d} (n={rows['cohort_size'].iloc[0]})",
                marker={"symbol": _markers(rows["complete"])},
            )
        )
    fig.update_layout(
        title="LTV: cumulative revenue per user",
        xaxis_title="Periods since signup",
        yaxis_title="USD per user",
        yaxis_tickformat="$,.2f",
        **_LAYOUT,
    )
    return fig


def breakdown_bars(segments: pd.DataFrame, *, metric: str = "active_users") -> go.Figure:
    """Horizontal bars of one :func:`~auterity_lab.business.segment_kpis` column per segment,
    with Wilson error bars when the column has them."""
    has_ci = f"{metric}_ci_low" in segments
    fig = go.Figure(
        go.Bar(
            y=segments["segment"].astype(str),
            x=segments[metric],
            orientation="h",
            marker_color=SYSTEM_COLORS["auterity"],
            error_x={
                "type": "data",
                "symmetric": False,
                "array": segments[f"{metric}_ci_high"] - segments[metric],
                "arrayminus": segments[metric] - segments[f"{metric}_ci_low"],
            }
            if has_ci
            else None,
        )
    )
    fig.update_layout(
        title=_label(metric),
        yaxis_autorange="reversed",
        height=max(260, 32 * len(segments) + 120),
        **_LAYOUT,
    )
    return fig


def performance_chart(perf: pd.DataFrame) -> go.Figure:
    """p95 latency (top) and 5xx error rate (bottom) per group of
    :func:`~auterity_lab.business.system_performance` over time."""
    fig = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.1,
        subplot_titles=("p95 latency (ms)", "5xx error rate"),
    )
    keys = ["service", "endpoint", "method"]
    for i, (group, rows) in enumerate(perf.groupby(keys, sort=True)):
        name = " ".join(str(g) for g in group if g != "all") or "all"
        fig.add_trace(
            go.Scatter(
                x=rows["period"],
                y=rows["p95_ms"],
                name=name,
                mode="lines",
                line={"color": _color(i)},
                legendgroup=name,
            ),
            row=1,
            col=1,
        )
        fig.add_trace(
            go.Scatter(
                x=rows["period"],
                y=rows["error_rate_5xx"],
                name=name,
                mode="lines",
                line={"color": _color(i)},
                legendgroup=name,
                showlegend=False,
                customdata=rows[["requests", "errors_5xx"]],
                hovertemplate="%{y:.1%} (%{customdata[1]} of %{customdata[0]})",
            ),
            row=2,
            col=1,
        )
    fig.update_yaxes(tickformat=".0%", row=2, col=1)
    fig.update_layout(title="System performance", height=620, **_LAYOUT)
    return fig
