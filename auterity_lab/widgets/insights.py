"""Insights tab widgets: the stored insights with Acknowledge / Dismiss / Resolve buttons.

The buttons call :func:`auterity_lab.insights.update_insight`; the list is re-read from the
state store after every action, so it always shows what is stored.

Examples
--------
>>> browser = insight_browser(wb)                                           # doctest: +SKIP
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

import ipywidgets as widgets

from auterity_lab import insights
from auterity_lab.charts.insights import SEVERITY_COLORS, STATUS_COLORS
from auterity_lab.errors import AuterityLabError

if TYPE_CHECKING:
    import pandas as pd

    from auterity_lab.state import StateStore
    from auterity_lab.warehouse import Workbench

_ACTIONS = (
    ("acknowledge", "Acknowledge", "info"),
    ("resolve", "Resolve", "success"),
    ("dismiss", "Dismiss", "warning"),
)


def insight_browser(wb: Workbench, /, *, state: StateStore | None = None) -> widgets.VBox:
    """A status filter, the insight list, a picker and the lifecycle buttons.

    Selecting an insight shows its description, evidence and recommendations; a button applies
    its action to the selected insight and redraws the list (a refused transition, e.g.
    acknowledging a dismissed insight, is shown as a message).
    """
    status = widgets.Dropdown(
        options=[
            ("open (active + acknowledged)", "open"),
            ("all", "all"),
            ("active", "active"),
            ("acknowledged", "acknowledged"),
            ("resolved", "resolved"),
            ("dismissed", "dismissed"),
        ],
        value="open",
        description="Show",
        layout=widgets.Layout(width="auto"),
    )
    picker = widgets.Dropdown(description="Insight", layout=widgets.Layout(width="100%"))
    table = widgets.HTML(layout=widgets.Layout(width="100%"))
    detail = widgets.HTML(layout=widgets.Layout(width="100%"))
    message = widgets.HTML()
    buttons = [
        widgets.Button(description=label, button_style=style, layout=widgets.Layout(width="auto"))
        for _, label, style in _ACTIONS
    ]
    frame: dict[str, pd.DataFrame] = {}

    def load(_: object = None) -> None:
        stored = insights.list_insights(wb, state=state)
        if status.value == "open":
            stored = stored[stored["status"].isin(["active", "acknowledged"])]
        elif status.value != "all":
            stored = stored[stored["status"] == status.value]
        frame["shown"] = stored.reset_index(drop=True)
        table.value = _table_html(frame["shown"])
        current = picker.value
        picker.options = [
            (f"[{r.severity}] {r.title} ({r.status})", r.id)
            for r in frame["shown"].itertuples(index=False)
        ]
        ids = list(frame["shown"]["id"])
        picker.value = current if current in ids else (ids[0] if ids else None)
        show()

    def show(_: object = None) -> None:
        shown = frame.get("shown")
        if shown is None or picker.value is None or shown.empty:
            detail.value = "<i>No insight selected.</i>"
            return
        row = shown[shown["id"] == picker.value].iloc[0]
        detail.value = _detail_html(row)

    def act(action: str) -> None:
        if picker.value is None:
            message.value = "<span style='color:#b91c1c'>Pick an insight first.</span>"
            return
        try:
            row = insights.update_insight(wb, picker.value, action=action, state=state)
        except AuterityLabError as exc:
            message.value = f"<span style='color:#b91c1c'>{html.escape(str(exc))}</span>"
            return
        message.value = (
            f"<span style='color:#16a34a'>{html.escape(str(row['title']))}: {row['status']}</span>"
        )
        load()

    for button, (action, _, _) in zip(buttons, _ACTIONS, strict=True):
        button.on_click(lambda _b, a=action: act(a))
    status.observe(load, names="value")
    picker.observe(show, names="value")
    load()
    controls = widgets.HBox(
        [status, *buttons], layout=widgets.Layout(flex_flow="row wrap", width="100%")
    )
    return widgets.VBox(
        [controls, message, picker, detail, table], layout=widgets.Layout(width="100%")
    )


def _table_html(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "<i>No insights with this status.</i>"
    rows = "".join(
        f"<tr><td style='color:#fff;background:{SEVERITY_COLORS.get(r.severity, '#64748b')};"
        f"padding:2px 6px'>{r.severity}</td><td>{html.escape(r.insight_type)}</td>"
        f"<td>{html.escape(r.title)}</td>"
        f"<td style='color:{STATUS_COLORS.get(r.status, '#111827')}'>{r.status}</td></tr>"
        for r in frame.itertuples(index=False)
    )
    return (
        "<table style='width:100%;border-collapse:collapse'><thead><tr><th>severity</th>"
        "<th>kind</th><th>insight</th><th>status</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
    )


def _detail_html(row: pd.Series) -> str:
    meta = row["metrics"] if isinstance(row["metrics"], dict) else {}
    evidence = meta.get("evidence", {})
    recs = "".join(f"<li>{html.escape(str(r))}</li>" for r in row["recommendations"] or [])
    ev = ", ".join(
        f"{html.escape(str(k))}: {html.escape(_short(v))}"
        for k, v in evidence.items()
        if not isinstance(v, dict | list) or k in ("interval", "violations")
    )
    return (
        f"<b>{html.escape(str(row['title']))}</b> <small>({row['insight_key']})</small>"
        f"<p>{html.escape(str(row['description']))}</p><p><small>{ev}</small></p>"
        f"<ul>{recs}</ul>"
    )


def _short(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, list):
        return "[" + ", ".join(_short(v) for v in value) + "]"
    return str(value)
