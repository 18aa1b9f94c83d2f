"""Workflow tab figures: runs and outcomes, durations, bottlenecks, shifts, failures, AI cost, SLAs.

Each figure takes the frame of the :mod:`auterity_lab.workflow` function named in its docstring and
only draws it.

Examples
--------
>>> import pandas as pd
>>> shifts = pd.DataFrame({"workflow_id": ["w"], "step_name": ["s"], "ratio": [4.0],
...     "ci_low": [2.5], "ci_high": [6.1], "q_value": [1e-6],
...     "change_date": [pd.Timestamp("2026-09-02")]})
>>> step_shift_forest(shifts).data[0].error_x.arrayminus
(1.5,)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from auterity_lab.charts import SYSTEM_COLORS

if TYPE_CHECKING:
    import pandas as pd

OUTCOME_COLORS = {"succeeded": "#16a34a", "failed": "#dc2626", "cancelled": "#9ca3af"}
_KIND_COLORS = {"ai": "#9333ea", "other": "#64748b"}
_ROLE_COLORS = {
    "root": "#dc2626",
    "run": "#b91c1c",
    "cascade": "#f97316",
    "tolerated": "#eab308",
    "recovered": "#0ea5e9",
    "cancelled": "#9ca3af",
}
_LAYOUT = {"autosize": True, "legend": {"orientation": "h", "y": -0.15}}


def run_outcomes(trends: pd.DataFrame) -> go.Figure:
    """Stacked succeeded / failed / cancelled runs per period, one panel per workflow, with the
    failure rate on the right axis. ``trends`` is :func:`auterity_lab.workflow.run_trends`."""
    workflows = list(dict.fromkeys(trends["workflow_id"]))
    fig = make_subplots(
        rows=max(1, len(workflows)),
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.04,
        subplot_titles=workflows or None,
        specs=[[{"secondary_y": True}]] * max(1, len(workflows)),
    )
    for row, wf in enumerate(workflows, start=1):
        part = trends[trends["workflow_id"] == wf]
        for outcome, color in OUTCOME_COLORS.items():
            fig.add_trace(
                go.Bar(
                    x=part["period_start"],
                    y=part[outcome],
                    name=outcome,
                    marker_color=color,
                    legendgroup=outcome,
                    showlegend=row == 1,
                ),
                row=row,
                col=1,
                secondary_y=False,
            )
        fig.add_trace(
            go.Scatter(
                x=part["period_start"],
                y=part["failure_rate"],
                mode="lines",
                name="failure rate",
                line={"color": "#111827", "width": 1},
                legendgroup="rate",
                showlegend=row == 1,
            ),
            row=row,
            col=1,
            secondary_y=True,
        )
        fig.update_yaxes(tickformat=".0%", rangemode="tozero", row=row, col=1, secondary_y=True)
    fig.update_layout(barmode="stack", height=170 * max(1, len(workflows)) + 80, **_LAYOUT)
    return fig


def duration_percentiles(summary: pd.DataFrame) -> go.Figure:
    """p50 / p95 / p99 run duration per workflow: the ``trigger == 'all'`` rows of
    :func:`auterity_lab.workflow.run_summary` (the overall row left out)."""
    rows = summary[(summary["trigger"] == "all") & (summary["workflow_id"] != "all")]
    fig = go.Figure()
    for col, color in (("p50_ms", "#93c5fd"), ("p95_ms", "#3b82f6"), ("p99_ms", "#1e3a8a")):
        fig.add_trace(
            go.Bar(
                x=rows["workflow_id"], y=rows[col], name=col.removesuffix("_ms"), marker_color=color
            )
        )
    fig.update_layout(barmode="group", height=360, yaxis_title="run duration (ms)", **_LAYOUT)
    return fig


def step_shares(breakdown: pd.DataFrame) -> go.Figure:
    """Each step's share of its workflow's run time as stacked horizontal bars, the bottleneck
    outlined. ``breakdown`` is :func:`auterity_lab.workflow.step_breakdown`."""
    fig = go.Figure()
    for rec in breakdown.sort_values(["workflow_id", "step_index"]).itertuples(index=False):
        fig.add_trace(
            go.Bar(
                y=[rec.workflow_id],
                x=[rec.share_of_run_time],
                orientation="h",
                name=rec.step_name,
                text=rec.step_name,
                textposition="inside",
                showlegend=False,
                marker={
                    "color": _KIND_COLORS["ai"] if rec.step_type == "ai" else _KIND_COLORS["other"],
                    "line": {
                        "color": "#dc2626" if rec.is_bottleneck else "white",
                        "width": 4 if rec.is_bottleneck else 1,
                    },
                },
                hovertemplate=(
                    f"{rec.workflow_id} · {rec.step_name} ({rec.step_type})<br>"
                    f"share %{{x:.1%}} · {rec.ms_per_run:,.0f} ms per run<extra></extra>"
                ),
            )
        )
    fig.update_layout(
        barmode="stack",
        height=90 * max(1, breakdown["workflow_id"].nunique()) + 80,
        xaxis={"tickformat": ".0%", "title": "share of run time (red outline: bottleneck)"},
        **_LAYOUT,
    )
    return fig


def bottleneck_timeline(history: pd.DataFrame) -> go.Figure:
    """Each step's share of run time per period, one panel per workflow; the period's bottleneck
    is a filled marker. ``history`` is :func:`auterity_lab.workflow.bottleneck_history`."""
    workflows = list(dict.fromkeys(history["workflow_id"]))
    fig = make_subplots(
        rows=max(1, len(workflows)),
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.05,
        subplot_titles=workflows or None,
    )
    for row, wf in enumerate(workflows, start=1):
        part = history[history["workflow_id"] == wf]
        for step in dict.fromkeys(part.sort_values("step_index")["step_name"]):
            line = part[part["step_name"] == step]
            fig.add_trace(
                go.Scatter(
                    x=line["period_start"],
                    y=line["share_of_run_time"],
                    name=f"{wf}: {step}",
                    mode="lines+markers",
                    marker={
                        "size": [11 if b else 5 for b in line["is_bottleneck"]],
                        "symbol": ["star" if b else "circle" for b in line["is_bottleneck"]],
                    },
                ),
                row=row,
                col=1,
            )
        fig.update_yaxes(tickformat=".0%", row=row, col=1)
    fig.update_layout(height=200 * max(1, len(workflows)) + 80, **_LAYOUT)
    return fig


def step_shift_forest(shifts: pd.DataFrame, *, q: float = 0.05) -> go.Figure:
    """Duration ratio (after / before) of each step's largest shift with its interval; shifts
    with ``q_value < q`` are red. ``shifts`` is :func:`auterity_lab.workflow.step_shifts`."""
    rows = shifts.dropna(subset=["ratio"])
    labels = [f"{r.workflow_id} · {r.step_name}" for r in rows.itertuples(index=False)]
    fig = go.Figure(
        go.Scatter(
            x=rows["ratio"],
            y=labels,
            mode="markers",
            marker={
                "size": 10,
                "color": ["#dc2626" if v < q else "#64748b" for v in rows["q_value"]],
            },
            error_x={
                "type": "data",
                "symmetric": False,
                "array": (rows["ci_high"] - rows["ratio"]).tolist(),
                "arrayminus": (rows["ratio"] - rows["ci_low"]).tolist(),
            },
            customdata=list(zip(rows["change_date"].astype(str), rows["q_value"], strict=True)),
            hovertemplate=(
                "%{y}<br>×%{x:.2f} from %{customdata[0]}<br>q = %{customdata[1]:.2g}<extra></extra>"
            ),
        )
    )
    fig.add_vline(x=1, line={"dash": "dot", "color": "#111827"})
    fig.update_layout(
        height=60 + 26 * max(1, len(rows)),
        xaxis={"type": "log", "title": "duration ratio"},
        yaxis={"autorange": "reversed"},
        **_LAYOUT,
    )
    return fig


def failure_reasons_bars(failures: pd.DataFrame) -> go.Figure:
    """Failed executions by reason, coloured by role (root, cascade, recovered ...).
    ``failures`` is :func:`auterity_lab.workflow.failure_reasons`."""
    fig = go.Figure()
    for role, color in _ROLE_COLORS.items():
        part = failures[failures["role"] == role]
        if part.empty:
            continue
        fig.add_trace(
            go.Bar(
                y=[
                    f"{r.workflow_id} · {r.step_name}: {r.reason}"
                    for r in part.itertuples(index=False)
                ],
                x=part["executions"],
                orientation="h",
                name=role,
                marker_color=color,
            )
        )
    fig.update_layout(
        barmode="stack",
        height=80 + 24 * max(1, len(failures)),
        yaxis={"autorange": "reversed"},
        xaxis_title="failed executions",
        **_LAYOUT,
    )
    return fig


def ai_cost_bars(by_workflow: pd.DataFrame) -> go.Figure:
    """AI cost per successful run and per run of each workflow; workflows with unpriced or unlinked
    calls are marked. ``by_workflow`` is :func:`auterity_lab.workflow.ai_cost_by_workflow`."""
    rows = by_workflow[by_workflow["workflow_id"] != "all"]
    names = [
        w if complete else f"{w} (incomplete: unpriced calls)"
        for w, complete in zip(rows["workflow_id"], rows["cost_complete"], strict=True)
    ]
    fig = go.Figure(
        [
            go.Bar(
                x=names,
                y=rows["cost_per_successful_run"],
                name="per successful run",
                marker_color=SYSTEM_COLORS["neuroweaver"],
            ),
            go.Bar(x=names, y=rows["cost_per_run"], name="per run", marker_color="#c4b5fd"),
        ]
    )
    fig.update_layout(
        barmode="group",
        height=360,
        yaxis={"title": "AI cost (USD)", "tickformat": "$.4f"},
        **_LAYOUT,
    )
    return fig


def ai_latency_bars(latency: pd.DataFrame) -> go.Figure:
    """p50 and p95 duration of AI steps against the other steps, per workflow.
    ``latency`` is :func:`auterity_lab.workflow.ai_step_latency`."""
    fig = go.Figure()
    for kind in ("ai", "other"):
        part = latency[latency["kind"] == kind]
        fig.add_trace(
            go.Bar(
                x=part["workflow_id"],
                y=part["p50_ms"],
                name=f"{kind} p50",
                marker_color=_KIND_COLORS[kind],
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": (part["p95_ms"] - part["p50_ms"]).tolist(),
                    "arrayminus": [0] * len(part),
                },
            )
        )
    fig.update_layout(
        barmode="group", height=360, yaxis_title="step duration (ms); whisker: p95", **_LAYOUT
    )
    return fig


def sla_attainment(sla: pd.DataFrame) -> go.Figure:
    """Share of runs within their duration target per workflow, against the objective (diamond).
    ``sla`` is :func:`auterity_lab.workflow.sla_breaches`."""
    colors = ["#16a34a" if ok else "#dc2626" for ok in sla["meets_objective"].fillna(False)]
    fig = go.Figure(
        [
            go.Bar(
                x=sla["workflow_id"],
                y=sla["attainment"],
                name="within target",
                marker_color=colors,
                customdata=list(
                    zip(sla["target_ms"], sla["breaches"], sla["measured"], strict=True)
                ),
                hovertemplate=(
                    "%{x}: %{y:.1%} within %{customdata[0]:,.0f} ms "
                    "(%{customdata[1]} of %{customdata[2]} over)<extra></extra>"
                ),
            ),
            go.Scatter(
                x=sla["workflow_id"],
                y=sla["objective"],
                mode="markers",
                name="objective",
                marker={"symbol": "diamond", "size": 12, "color": "#111827"},
            ),
        ]
    )
    fig.update_layout(height=340, yaxis={"tickformat": ".0%", "range": [0, 1.05]}, **_LAYOUT)
    return fig
