"""Insights tab figures: the correlation heatmap, lag plots, the insight list, anomalies.

Figures display the results of :mod:`auterity_lab.stats` and :mod:`auterity_lab.insights`;
they compute nothing (reshaping for display aside).

Examples
--------
>>> import pandas as pd
>>> pairs = pd.DataFrame({"x": ["a"], "y": ["b"], "system_x": ["auterity"],
...                       "system_y": ["neuroweaver"], "lag": [1], "r": [-0.5], "q_value": [0.0005],
...                       "n": [100], "significant": [True]})
>>> fig = correlation_heatmap(pairs)
>>> fig.data[0].type, fig.data[0].text[0][1]
('heatmap', '−0.50***<br>lag 1')
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from auterity_lab.charts import SYSTEM_COLORS

if TYPE_CHECKING:
    from collections.abc import Iterable

SEVERITY_COLORS = {"critical": "#b91c1c", "high": "#ea580c", "medium": "#ca8a04", "low": "#64748b"}
STATUS_COLORS = {
    "active": "#111827",
    "acknowledged": "#2563eb",
    "resolved": "#16a34a",
    "dismissed": "#9ca3af",
}


def _stars(q: float) -> str:
    if not math.isfinite(q):
        return ""
    return "***" if q < 0.001 else "**" if q < 0.01 else "*" if q < 0.05 else ""


def _fmt_r(r: float) -> str:
    return f"{r:+.2f}".replace("-", "−") if math.isfinite(r) else ""


def correlation_heatmap(
    pairs: pd.DataFrame, *, title: str = "Cross-system correlations"
) -> go.Figure:
    """Series × series heatmap of the coefficient at each pair's best lag.

    ``pairs`` is :attr:`auterity_lab.stats.CorrelationResult.pairs`. Each cell shows ``r`` with
    stars for its BH q-value (``*`` < 0.05, ``**`` < 0.01, ``***`` < 0.001) and the lag; cells of
    pairs that were not tested (same system) are empty. The matrix is symmetric; the lag is
    stated from the row's point of view (positive: the row leads).
    """
    names = list(dict.fromkeys([*pairs["x"], *pairs["y"]]))
    idx = {n: i for i, n in enumerate(names)}
    size = len(names)
    z = np.full((size, size), np.nan)
    text = [["" for _ in names] for _ in names]
    hover = [["not tested" for _ in names] for _ in names]
    for rec in pairs.itertuples(index=False):
        i, j = idx[rec.x], idx[rec.y]
        for a, b, lag in ((i, j, rec.lag), (j, i, -rec.lag)):
            z[a, b] = rec.r
            text[a][b] = f"{_fmt_r(rec.r)}{_stars(rec.q_value)}<br>lag {lag}"
            hover[a][b] = (
                f"{names[a]} vs {names[b]}<br>r = {rec.r:+.3f} at lag {lag} "
                f"({'row leads' if lag > 0 else 'column leads' if lag < 0 else 'same day'})"
                f"<br>q = {rec.q_value:.3g}, n = {rec.n}"
            )
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=names,
            y=names,
            text=text,
            texttemplate="%{text}",
            hovertext=hover,
            hoverinfo="text",
            colorscale="RdBu",
            zmid=0,
            zmin=-1,
            zmax=1,
            colorbar={"title": "r"},
        )
    )
    fig.update_layout(
        title=f"{title}<br><sub>coefficient at the best lag; * q < 0.05, ** q < 0.01, "
        "*** q < 0.001 (Benjamini–Hochberg over every pair and lag)</sub>",
        height=max(420, 38 * size + 160),
        autosize=True,
        yaxis={"autorange": "reversed"},
        margin={"l": 160, "r": 40, "t": 90, "b": 140},
    )
    return fig


def lag_plot(tests: pd.DataFrame, pairs: pd.DataFrame, *, top: int = 6) -> go.Figure:
    """The coefficient at every lag for the ``top`` most significant pairs.

    ``tests`` and ``pairs`` are :class:`auterity_lab.stats.CorrelationResult`'s frames. Filled
    markers are significant (q < alpha); the best lag carries its bootstrap interval.
    """
    chosen = pairs.head(top)
    rows = max(1, math.ceil(len(chosen) / 2))
    titles = [f"{p.x} vs {p.y}" for p in chosen.itertuples(index=False)] or ["no pairs"]
    fig = make_subplots(rows=rows, cols=2, subplot_titles=titles, vertical_spacing=0.12)
    method = str(chosen["method"].iloc[0]) if len(chosen) else "spearman"
    for k, p in enumerate(chosen.itertuples(index=False)):
        row, col = divmod(k, 2)
        t = tests[(tests["x"] == p.x) & (tests["y"] == p.y)].sort_values("lag")
        r = t[f"{method}_r"]
        sig = t["significant"].astype(bool)
        fig.add_trace(
            go.Scatter(x=t["lag"], y=r, mode="lines", line={"color": "#94a3b8"}, showlegend=False),
            row=row + 1,
            col=col + 1,
        )
        fig.add_trace(
            go.Scatter(
                x=t["lag"],
                y=r,
                mode="markers",
                showlegend=False,
                marker={
                    "size": 9,
                    "color": np.where(sig, "#b91c1c", "white"),
                    "line": {"color": "#b91c1c", "width": 1.5},
                },
                hovertext=[
                    f"lag {lag}: r = {v:+.3f}, q = {q:.3g}"
                    for lag, v, q in zip(t["lag"], r, t["q_value"], strict=True)
                ],
                hoverinfo="text",
            ),
            row=row + 1,
            col=col + 1,
        )
        if math.isfinite(p.ci_low):
            fig.add_trace(
                go.Scatter(
                    x=[p.lag],
                    y=[p.r],
                    mode="markers",
                    showlegend=False,
                    marker={"size": 12, "symbol": "diamond", "color": "#111827"},
                    error_y={
                        "type": "data",
                        "symmetric": False,
                        "array": [p.ci_high - p.r],
                        "arrayminus": [p.r - p.ci_low],
                    },
                    hovertext=(
                        f"best lag {p.lag}: r = {p.r:+.3f}, "
                        f"95% CI {p.ci_low:+.2f} to {p.ci_high:+.2f}"
                    ),
                    hoverinfo="text",
                ),
                row=row + 1,
                col=col + 1,
            )
        fig.add_hline(y=0, line={"color": "#cbd5e1", "width": 1}, row=row + 1, col=col + 1)
    fig.update_xaxes(title_text="lag (x leads y when > 0)", dtick=1)
    fig.update_yaxes(title_text="r", range=[-1, 1])
    fig.update_layout(
        height=300 * rows + 80,
        autosize=True,
        title="Coefficient by lag (filled: significant after BH)",
        margin={"l": 60, "r": 30, "t": 90, "b": 50},
    )
    return fig


def insight_table(insights: pd.DataFrame) -> go.Figure:
    """The insights as a table, most severe first: severity, kind, title, evidence, status.

    ``insights`` is :attr:`auterity_lab.insights.InsightReport.insights` or
    :func:`auterity_lab.insights.list_insights` (evidence then sits in ``metrics``).
    """
    if insights.empty:
        return go.Figure(go.Table(header={"values": ["No insights"]}, cells={"values": [[]]}))
    evidence = (
        insights["evidence"]
        if "evidence" in insights
        else insights["metrics"].map(lambda m: m.get("evidence", {}) if isinstance(m, dict) else {})
    )
    status = insights["status"] if "status" in insights else pd.Series("new", index=insights.index)
    summary = [_evidence_text(e) for e in evidence]
    fill = [[SEVERITY_COLORS.get(s, "#ffffff") for s in insights["severity"]]]
    fig = go.Figure(
        go.Table(
            columnwidth=[70, 90, 330, 220, 80],
            header={
                "values": ["severity", "kind", "insight", "evidence", "status"],
                "fill_color": "#f1f5f9",
                "align": "left",
            },
            cells={
                "values": [
                    insights["severity"],
                    insights["insight_type"],
                    insights["title"],
                    summary,
                    status,
                ],
                "fill_color": fill + [["#ffffff"] * len(insights)] * 4,
                "font": {
                    "color": [
                        ["#ffffff"] * len(insights),
                        ["#111827"] * len(insights),
                        ["#111827"] * len(insights),
                        ["#334155"] * len(insights),
                        [STATUS_COLORS.get(s, "#111827") for s in status],
                    ]
                },
                "align": "left",
                "height": 28,
            },
        )
    )
    fig.update_layout(
        height=min(1200, 80 + 34 * len(insights)),
        autosize=True,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
    )
    return fig


def _evidence_text(e: object) -> str:
    if not isinstance(e, dict):
        return ""
    parts = []
    n = e.get("n")
    if isinstance(n, int | float):
        parts.append(f"n = {n:,.0f}")
    stat = e.get("statistic")
    if isinstance(stat, int | float) and math.isfinite(stat):
        parts.append(f"stat = {stat:.3g}")
    for key in ("p_value", "q_value"):
        v = e.get(key)
        if isinstance(v, int | float) and math.isfinite(v):
            parts.append(f"{key[0]} = {v:.2g}")
    interval = e.get("interval")
    if (
        isinstance(interval, list)
        and len(interval) == 2
        and all(isinstance(v, int | float) and math.isfinite(v) for v in interval)
    ):
        parts.append(f"CI [{interval[0]:.3g}, {interval[1]:.3g}]")
    return ", ".join(parts)


def severity_bars(insights: pd.DataFrame) -> go.Figure:
    """How many insights of each kind per severity (stacked bars)."""
    order = ["critical", "high", "medium", "low"]
    counts = (
        (
            insights.groupby(["severity", "insight_type"])
            .size()
            .unstack(fill_value=0)
            .reindex(order, fill_value=0)
        )
        if not insights.empty
        else pd.DataFrame(index=order)
    )
    fig = go.Figure([go.Bar(x=counts.index, y=counts[kind], name=kind) for kind in counts.columns])
    fig.update_layout(
        barmode="stack",
        height=320,
        autosize=True,
        title="Insights by severity",
        margin={"l": 50, "r": 20, "t": 50, "b": 40},
    )
    return fig


def anomaly_chart(
    anomalies: pd.DataFrame, *, series: Iterable[str] | None = None, max_series: int = 6
) -> go.Figure:
    """Each series with its expected value (dashed) and its significant anomalies (red).

    ``anomalies`` is :attr:`auterity_lab.insights.SeriesScan.anomalies`; by default the series
    with the most significant anomalies are drawn (at most ``max_series``).
    """
    flagged = anomalies[anomalies["is_anomaly"].astype(bool)] if not anomalies.empty else anomalies
    if series is None:
        series = (
            flagged["series"].value_counts().index[:max_series].tolist() if len(flagged) else []
        )
    names = list(series)
    fig = make_subplots(
        rows=max(1, len(names)),
        cols=1,
        shared_xaxes=True,
        subplot_titles=names or ["no anomalies"],
        vertical_spacing=0.06,
    )
    for i, name in enumerate(names, start=1):
        s = anomalies[anomalies["series"] == name].sort_values("period")
        color = SYSTEM_COLORS.get(str(s["system"].iloc[0]), "#334155") if len(s) else "#334155"
        fig.add_trace(
            go.Scatter(
                x=s["period"],
                y=s["value"],
                mode="lines",
                name=name,
                line={"color": color},
                showlegend=False,
            ),
            row=i,
            col=1,
        )
        fig.add_trace(
            go.Scatter(
                x=s["period"],
                y=s["expected"],
                mode="lines",
                name="expected",
                line={"color": "#94a3b8", "dash": "dash"},
                showlegend=i == 1,
            ),
            row=i,
            col=1,
        )
        hit = s[s["is_anomaly"].astype(bool)]
        fig.add_trace(
            go.Scatter(
                x=hit["period"],
                y=hit["value"],
                mode="markers",
                name="anomaly",
                showlegend=i == 1,
                marker={"color": "#dc2626", "size": 11, "symbol": "x"},
                hovertext=[
                    f"z = {z:+.1f}, q = {q:.2g}"
                    for z, q in zip(hit["z"], hit["q_value"], strict=True)
                ],
                hoverinfo="text+x+y",
            ),
            row=i,
            col=1,
        )
    fig.update_layout(
        height=max(300, 220 * len(names)),
        autosize=True,
        legend={"orientation": "h", "y": -0.05},
        margin={"l": 60, "r": 30, "t": 50, "b": 40},
    )
    return fig


def change_chart(
    values: pd.DataFrame, change_points: pd.DataFrame, *, max_series: int = 4
) -> go.Figure:
    """Series with a significant level shift: the values, and the before/after levels.

    ``values`` is :attr:`auterity_lab.insights.SeriesScan.anomalies` (its ``value`` column per
    period); ``change_points`` is :attr:`auterity_lab.insights.SeriesScan.change_points`.
    """
    hits = (
        change_points[change_points["is_change_point"].astype(bool)].head(max_series)
        if not change_points.empty
        else change_points
    )
    names = hits["series"].tolist()
    fig = make_subplots(
        rows=max(1, len(names)),
        cols=1,
        subplot_titles=names or ["no change points"],
        vertical_spacing=0.08,
    )
    for i, rec in enumerate(hits.itertuples(index=False), start=1):
        s = values[values["series"] == rec.series].sort_values("period")
        fig.add_trace(
            go.Scatter(
                x=s["period"],
                y=s["value"],
                mode="lines+markers",
                marker={"size": 4},
                line={"color": "#334155"},
                showlegend=False,
            ),
            row=i,
            col=1,
        )
        first, last = s["period"].min(), s["period"].max()
        for x0, x1, level in ((first, rec.change_at, rec.before), (rec.change_at, last, rec.after)):
            fig.add_trace(
                go.Scatter(
                    x=[x0, x1],
                    y=[level, level],
                    mode="lines",
                    showlegend=False,
                    line={"color": "#dc2626", "width": 3},
                ),
                row=i,
                col=1,
            )
    fig.update_layout(
        height=max(300, 240 * len(names)),
        autosize=True,
        margin={"l": 60, "r": 30, "t": 50, "b": 40},
    )
    return fig
