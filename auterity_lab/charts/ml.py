"""AI/ML tab figures. Each takes a frame of :mod:`auterity_lab.ml` and draws it; none computes.

Examples
--------
>>> import pandas as pd
>>> perf = pd.DataFrame({"model_id": ["a", "b"], "model_version": ["1", "1"],
...                      "mean_rating": [4.2, 3.1], "rating_ci_low": [4.0, 2.8],
...                      "rating_ci_high": [4.4, 3.4], "rated": [120, 80]})
>>> model_comparison(perf).data[0].error_y.array
(0.20000000000000018, 0.2999999999999998)
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from auterity_lab.charts import SYSTEM_COLORS, format_for, label

if TYPE_CHECKING:
    import pandas as pd

    from auterity_lab.ml.experiments import ExperimentAnalysis

_PALETTE = qualitative.Safe
_STATUS_COLORS = {
    "healthy": "#dcfce7",
    "unknown": "#f3f4f6",
    "degraded": "#fef3c7",
    "down": "#fee2e2",
}
_LAYOUT = {"autosize": True, "margin": {"l": 60, "r": 30, "t": 60, "b": 50}}


def _arm(frame: pd.DataFrame) -> list[str]:
    """``model`` or ``model @ version`` when a model appears with several versions."""
    if "model_version" not in frame:
        return frame["model_id"].astype(str).tolist()
    several = frame.groupby("model_id")["model_version"].transform("nunique") > 1
    return [
        f"{m} @ {v}" if s else str(m)
        for m, v, s in zip(frame["model_id"], frame["model_version"], several, strict=True)
    ]


def _color(i: int) -> str:
    return _PALETTE[i % len(_PALETTE)]


def model_comparison(perf: pd.DataFrame) -> go.Figure:
    """Mean rating per model (and version) with its confidence interval as error bars.

    ``perf`` is :func:`auterity_lab.ml.model_performance`'s frame.
    """
    arms = _arm(perf)
    fig = go.Figure(
        go.Bar(
            x=arms,
            y=perf["mean_rating"],
            error_y={
                "type": "data",
                "symmetric": False,
                "array": (perf["rating_ci_high"] - perf["mean_rating"]).tolist(),
                "arrayminus": (perf["mean_rating"] - perf["rating_ci_low"]).tolist(),
            },
            marker_color=[_color(i) for i in range(len(arms))],
            customdata=perf[["rated"]].to_numpy(),
            hovertemplate="%{x}<br>mean rating %{y:.2f}<br>%{customdata[0]:,} ratings"
            "<extra></extra>",
        )
    )
    fig.update_layout(
        title="Mean rating with 95% CI",
        yaxis={"title": "Mean rating (1-5)", "range": [1, 5.2]},
        xaxis_title="Model",
        **_LAYOUT,
    )
    return fig


def pairwise_differences(pairs: pd.DataFrame, *, metric: str = "mean_rating") -> go.Figure:
    """Forest plot of one metric's pairwise differences (``a − b``) with their intervals.

    ``pairs`` is :func:`auterity_lab.ml.compare_models`'s frame; significant pairs (BH
    q-value) are drawn solid, the others hollow.
    """
    rows = pairs[pairs["metric"] == metric]
    names = [f"{a} − {b}" for a, b in zip(rows["arm_a"], rows["arm_b"], strict=True)]
    significant = rows["significant"].astype(bool).tolist()
    fig = go.Figure(
        go.Scatter(
            x=rows["difference"],
            y=names,
            mode="markers",
            error_x={
                "type": "data",
                "symmetric": False,
                "array": (rows["ci_high"] - rows["difference"]).tolist(),
                "arrayminus": (rows["difference"] - rows["ci_low"]).tolist(),
            },
            marker={
                "size": 10,
                "color": SYSTEM_COLORS["neuroweaver"],
                "symbol": ["circle" if s else "circle-open" for s in significant],
            },
            customdata=rows[["p_value", "q_value"]].to_numpy(),
            hovertemplate="%{y}: %{x:.3g}<br>p %{customdata[0]:.2g}, q %{customdata[1]:.2g}"
            "<extra></extra>",
        )
    )
    fig.add_vline(x=0, line={"color": "#6b7280", "dash": "dot"})
    fig.update_layout(
        title=f"Pairwise differences: {label(metric)} (solid = significant after BH)",
        xaxis_title=f"Difference in {label(metric)}",
        height=max(300, 60 + 40 * len(rows)),
        **_LAYOUT,
    )
    fig.update_yaxes(autorange="reversed")
    return fig


def cost_over_time(costs: pd.DataFrame) -> go.Figure:
    """Stacked spend per period and model; periods with unpriced requests get a marker on top.

    ``costs`` is :func:`auterity_lab.ml.cost_over_time`'s frame. Unpriced requests have no cost
    and are shown as a count, never as $0.
    """
    fig = go.Figure()
    for i, (model, g) in enumerate(costs.groupby("model_id", sort=True)):
        fig.add_trace(
            go.Bar(
                x=g["period"],
                y=g["cost_usd"],
                name=str(model),
                marker_color=_color(i),
                customdata=g[["requests"]].to_numpy(),
                hovertemplate="%{x}<br>$%{y:,.4f}<br>%{customdata[0]:,} requests"
                f"<extra>{model}</extra>",
            )
        )
    unpriced = costs[costs["unpriced_requests"] > 0]
    if len(unpriced):
        totals = costs.groupby("period")["cost_usd"].sum()
        fig.add_trace(
            go.Scatter(
                x=unpriced["period"],
                y=unpriced["period"].map(totals),
                mode="markers",
                name="unpriced requests",
                marker={"symbol": "triangle-down", "size": 10, "color": "#dc2626"},
                customdata=unpriced[["model_id", "unpriced_requests"]].to_numpy(),
                hovertemplate="%{x}<br>%{customdata[1]:,} unpriced requests of %{customdata[0]}"
                "<extra></extra>",
            )
        )
    fig.update_layout(
        title="AI spend by model",
        barmode="stack",
        yaxis_title="Cost (USD)",
        yaxis_tickformat="$,.2f",
        legend={"orientation": "h", "y": -0.15},
        **_LAYOUT,
    )
    return fig


def latency_percentiles(perf: pd.DataFrame) -> go.Figure:
    """p50 / p95 / p99 latency per model (and version) as grouped bars.

    ``perf`` is :func:`auterity_lab.ml.model_performance`'s frame.
    """
    arms = _arm(perf)
    fig = go.Figure()
    for i, q in enumerate((50, 95, 99)):
        fig.add_trace(
            go.Bar(
                x=arms,
                y=perf[f"latency_p{q}_ms"],
                name=f"p{q}",
                marker_color=_PALETTE[i],
                hovertemplate="%{x}<br>%{y:,.0f} ms",
            )
        )
    fig.update_layout(
        title="Latency percentiles (requests that did not error)",
        barmode="group",
        yaxis_title="Latency (ms)",
        yaxis_tickformat=format_for("ms"),
        **_LAYOUT,
    )
    return fig


def latency_over_time(over_time: pd.DataFrame, *, percentile: int = 95) -> go.Figure:
    """One line per model of a latency percentile over time.

    ``over_time`` is :func:`auterity_lab.ml.performance_over_time`'s frame.
    """
    column = f"latency_p{percentile}_ms"
    fig = go.Figure()
    for i, (model, g) in enumerate(over_time.groupby("model_id", sort=True)):
        fig.add_trace(
            go.Scatter(
                x=g["period"], y=g[column], name=str(model), mode="lines", line={"color": _color(i)}
            )
        )
    fig.update_layout(
        title=f"p{percentile} latency by model",
        yaxis_title="Latency (ms)",
        legend={"orientation": "h", "y": -0.15},
        **_LAYOUT,
    )
    return fig


def rating_distribution(dist: pd.DataFrame) -> go.Figure:
    """Share of each rating per arm as 100 % stacked bars (red 1 → green 5).

    ``dist`` is :func:`auterity_lab.ml.rating_distribution`'s frame.
    """
    colors = {1: "#dc2626", 2: "#f97316", 3: "#facc15", 4: "#84cc16", 5: "#16a34a"}
    fig = go.Figure()
    for rating, g in dist.groupby("rating", sort=True):
        fig.add_trace(
            go.Bar(
                x=g["arm"],
                y=g["share"],
                name=f"{rating}★",
                marker_color=colors.get(int(rating), "#9ca3af"),
                customdata=g[["n"]].to_numpy(),
                hovertemplate="%{x}: %{y:.1%} (%{customdata[0]:,})",
            )
        )
    fig.update_layout(
        title="Rating distribution",
        barmode="stack",
        yaxis_tickformat=".0%",
        yaxis_title="Share of ratings",
        **_LAYOUT,
    )
    return fig


def _table(
    frame: pd.DataFrame, columns: dict[str, str], *, title: str, fill: list[str] | None = None
) -> go.Figure:
    cells = [[_cell(v, fmt) for v in frame[col]] for col, fmt in columns.items()]
    fig = go.Figure(
        go.Table(
            header={
                "values": [label(c) for c in columns],
                "fill_color": "#ede9fe",
                "align": "left",
            },
            cells={
                "values": cells,
                "align": "left",
                **({"fill_color": [fill] * len(columns)} if fill is not None else {}),
            },
        )
    )
    fig.update_layout(title=title, height=min(900, 120 + 30 * max(len(frame), 1)), **_LAYOUT)
    return fig


def _cell(value: object, fmt: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return format(value, fmt) if fmt else str(value)


def prompt_table(prompts: pd.DataFrame, *, rows: int = 20) -> go.Figure:
    """The most used prompts with volume, rating, latency, tokens, cost and quality score.

    ``prompts`` is :func:`auterity_lab.ml.prompt_analytics`'s (or ``prompt_rankings``') frame.
    """
    columns = {
        "prompt_preview": "",
        "prompt_version": "",
        "requests": ",d",
        "mean_rating": ".2f",
        "rated": ",d",
        "error_rate": ".1%",
        "latency_p95_ms": ",.0f",
        "mean_output_tokens": ",.0f",
        "cost_usd": ",.4f",
        "quality_score": ".1f",
    }
    if "ranking" in prompts:
        columns = {"ranking": "", **columns}
    return _table(prompts.head(rows), columns, title="Prompts")


def suggestions_table(suggestions: pd.DataFrame) -> go.Figure:
    """Optimization suggestions with their monthly savings and test results."""
    columns = {
        "kind": "",
        "title": "",
        "estimated_monthly_savings_usd": ",.2f",
        "impact": "",
        "p_value": ".2g",
        "q_value": ".2g",
    }
    return _table(suggestions, columns, title="Optimization suggestions")


def health_table(health: pd.DataFrame) -> go.Figure:
    """Model health, one coloured row per model."""
    columns = {
        "model_id": "",
        "status": "",
        "reason": "",
        "recent_requests": ",d",
        "recent_error_rate": ".1%",
        "recent_p95_ms": ",.0f",
        "baseline_p95_ms": ",.0f",
    }
    fill = [_STATUS_COLORS.get(s, "white") for s in health["status"]]
    return _table(health, columns, title="Model health", fill=fill)


def summary_cards(summary: pd.DataFrame, *, columns: int = 4) -> go.Figure:
    """Indicator cards of :func:`auterity_lab.ml.ml_summary`: value and change vs the period before.

    A change is green when it goes the good way (``higher_is_better``), red otherwise, grey for
    volumes.
    """
    rows = max(1, math.ceil(len(summary) / columns))
    fig = go.Figure()
    for i, rec in enumerate(summary.itertuples(index=False)):
        r, c = divmod(i, columns)
        prev = rec.previous
        has_prev = prev is not None and math.isfinite(prev) and prev != 0
        good, bad = {True: ("#16a34a", "#dc2626"), False: ("#dc2626", "#16a34a")}.get(
            rec.higher_is_better, ("#6b7280", "#6b7280")
        )
        fig.add_trace(
            go.Indicator(
                mode="number+delta" if has_prev else "number",
                value=rec.value if rec.value is not None and math.isfinite(rec.value) else None,
                title={"text": label(rec.metric)},
                number={"valueformat": format_for(rec.unit)},
                delta={
                    "reference": prev,
                    "relative": True,
                    "valueformat": ".1%",
                    "increasing": {"color": good},
                    "decreasing": {"color": bad},
                }
                if has_prev
                else None,
                domain={"row": r, "column": c},
            )
        )
    fig.update_layout(
        grid={"rows": rows, "columns": columns, "pattern": "independent"},
        height=140 * rows,
        margin={"l": 20, "r": 20, "t": 30, "b": 10},
        autosize=True,
    )
    return fig


def experiment_readout(analysis: ExperimentAnalysis) -> go.Figure:
    """Relative lift of every metric with its CI, one panel per treatment; SRM in the title.

    The primary metric is drawn larger; the dotted line is no change.
    """
    effects = analysis.effects
    treatments = list(dict.fromkeys(effects["variant"])) or ["(no data)"]
    fig = make_subplots(
        rows=1,
        cols=len(treatments),
        subplot_titles=[f"{t} vs {analysis.experiment.control}" for t in treatments],
        shared_yaxes=True,
    )
    for col, treatment in enumerate(treatments, start=1):
        g = effects[effects["variant"] == treatment]
        fig.add_trace(
            go.Scatter(
                x=g["lift"],
                y=[label(m) for m in g["metric"]],
                mode="markers",
                error_x={
                    "type": "data",
                    "symmetric": False,
                    "array": (g["lift_ci_high"] - g["lift"]).tolist(),
                    "arrayminus": (g["lift"] - g["lift_ci_low"]).tolist(),
                },
                marker={
                    "size": [16 if p else 9 for p in g["primary"]],
                    "color": ["#16a34a" if s else "#6b7280" for s in g["significant"]],
                },
                customdata=g[["p_value", "q_value", "mde_relative"]].to_numpy(),
                showlegend=False,
                hovertemplate="%{y}: %{x:+.1%}<br>p %{customdata[0]:.2g}, q %{customdata[1]:.2g}"
                "<br>MDE %{customdata[2]:.1%}<extra></extra>",
            ),
            row=1,
            col=col,
        )
        fig.add_vline(x=0, line={"color": "#6b7280", "dash": "dot"}, row=1, col=col)
        fig.update_xaxes(tickformat="+.0%", title_text="Lift vs control", row=1, col=col)
    srm = analysis.srm
    if srm.empty:
        srm_text = "SRM: no data"
    else:
        verdict = "MISMATCH" if srm["mismatch"].iloc[0] else "ok"
        srm_text = f"SRM {verdict} (p = {srm['p_value'].iloc[0]:.2g})"
    fig.update_layout(
        title=f"Experiment {analysis.experiment.key}: lift with 95% CI · {srm_text}",
        height=360,
        **_LAYOUT,
    )
    fig.update_yaxes(autorange="reversed")
    return fig
