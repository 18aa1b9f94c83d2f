"""The unified dashboard (spec §2.1): one ipywidgets app with the tabs Overview, Business, AI/ML,
Workflow and Insights over shared filters, with live updates, actions and exports.

The tabs are a registry (:data:`TABS`) of panels. A panel computes one DataFrame with the
analytics of its tab's module (:mod:`auterity_lab.unified`, :mod:`auterity_lab.business`,
:mod:`auterity_lab.ml`, :mod:`auterity_lab.workflow`, :mod:`auterity_lab.stats`) and draws it
with that tab's chart module, and declares which shared filters it reads. The dashboard keeps
each panel's frame with the filter values it was computed for, so:

* a tab is computed when it is first opened, not at start;
* changing a filter recomputes, on the visible tab, only the panels that read it, and marks the
  others' panels stale until their tab is opened again (the Business panels read device and
  country, the AI/ML panels the model, every panel the tenant and dates);
* the CSV and JSON exports hand over exactly the frames behind the visible tab, and the HTML and
  PDF exports draw the same figures offline.

The Insights tab lists the open insights and the fired alerts with Acknowledge / Dismiss /
Resolve buttons (:mod:`auterity_lab.actions`: persisted, then the caller's
``on_insight_action(insight_id, action)`` / ``on_alert_action(alert_id, action)``). With
``live=True`` a :class:`~auterity_lab.live.LiveFeed` feeds the dashboard: its connection state
shows in the header, metric and health events mark the panels stale and redraw the visible tab,
alert events reload the Insights tab's lists.

Every layout is fluid (widths in %, ``auto`` or ``em``, rows that wrap), so the app works from a
phone's width to a wide screen.

Examples
--------
>>> app = dashboard(wb, start="2026-09-06", end="2026-11-01")                 # doctest: +SKIP
>>> app.filter_controls["model"].value = "gpt-4o"                             # doctest: +SKIP
>>> app.export("csv").filename                                                # doctest: +SKIP
'acme-overview-2026-09-06_2026-11-01.zip'
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import json
import threading
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import pandas as pd
import plotly.graph_objects as go

from auterity_lab import actions, business, ml, workflow
from auterity_lab.charts import business as business_charts
from auterity_lab.charts import insights as insight_charts
from auterity_lab.charts import ml as ml_charts
from auterity_lab.charts import overview as overview_charts
from auterity_lab.charts import workflow as workflow_charts
from auterity_lab.errors import AccessDeniedError, AuterityLabError, QueryParameterError
from auterity_lab.widgets.business import FUNNEL_STEPS, FUNNEL_WINDOW

if TYPE_CHECKING:
    from auterity_lab.live import ConnectionState, Event, LiveFeed
    from auterity_lab.warehouse import Workbench

FILTERS = ("tenant", "start", "end", "model", "device", "country")
"""The shared filters, in the order of the filter bar."""

EXPORT_FORMATS = ("csv", "json", "html", "pdf")
_RANGE = frozenset({"tenant", "start", "end"})
_STATE_COLORS = {
    "live": "#16a34a",
    "polling": "#d97706",
    "reconnecting": "#dc2626",
    "connecting": "#6b7280",
    "closed": "#6b7280",
}
_MIME = {
    "csv": "application/zip",
    "json": "application/json",
    "html": "text/html",
    "pdf": "application/pdf",
}
_FLUID = {"width": "auto", "flex": "1 1 12em", "min_width": "9em"}
_TABLE_ROWS = 200


@dataclass(frozen=True)
class Filters:
    """The shared filter values; ``end`` is exclusive; None means all."""

    tenant: str
    start: dt.date
    end: dt.date
    model: str | None = None
    device: str | None = None
    country: str | None = None

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise QueryParameterError(f"end ({self.end}) must be after start ({self.start})")

    def key(self, names: frozenset[str]) -> tuple[Any, ...]:
        """The values of ``names`` (in :data:`FILTERS` order): what a panel was computed for."""
        return tuple(getattr(self, n) for n in FILTERS if n in names)

    def range(self) -> dict[str, dt.datetime]:
        """``{"start", "end"}`` as UTC datetimes."""
        return {"start": _utc(self.start), "end": _utc(self.end)}

    def describe(self) -> dict[str, Any]:
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}


def default_filters(wb: Workbench) -> Filters:
    """The filters a dashboard opens with: ``wb``'s tenant, the eight weeks up to the latest
    complete day of data, no model, device or country.

    Examples
    --------
    >>> default_filters(wb)                                                  # doctest: +SKIP
    Filters(tenant='acme', start=datetime.date(2026, 9, 6), end=datetime.date(2026, 11, 1), ...)
    """
    from auterity_lab.digest import latest_complete_day

    end = latest_complete_day(wb) + dt.timedelta(days=1)
    return Filters(wb.tenant, end - dt.timedelta(weeks=8), end)


@dataclass
class PanelContext:
    """What a panel computes from: the tenant's workbench, the filters and a shared memo (so
    panels of one tab that read the same result compute it once)."""

    wb: Workbench
    filters: Filters
    memo: dict[tuple[Any, ...], Any] = field(default_factory=dict)

    def once(self, key: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
        """``compute()``, once per ``key``."""
        if key not in self.memo:
            self.memo[key] = compute()
        return self.memo[key]


@dataclass(frozen=True)
class Panel:
    """One figure (or table, when ``chart`` is None) of a tab and the filters it reads."""

    name: str
    title: str
    depends_on: frozenset[str]
    compute: Callable[[PanelContext], pd.DataFrame]
    chart: Callable[[pd.DataFrame], go.Figure] | None = None


@dataclass(frozen=True)
class Tab:
    """A tab: its title and panels; the Insights tab adds its action lists."""

    key: str
    title: str
    panels: tuple[Panel, ...]
    actions: bool = False


@dataclass(frozen=True)
class Export:
    """An exported tab: file name, MIME type and bytes (and where it was saved, if anywhere)."""

    filename: str
    mimetype: str
    data: bytes
    path: Path | None = None


# ============================================================================ the panels
def _unified(ctx: PanelContext) -> Any:
    from auterity_lab.unified import unified_analytics

    f = ctx.filters
    return ctx.once(
        ("unified", f.start, f.end), lambda: unified_analytics(ctx.wb, **f.range(), details=False)
    )


def _interval(f: Filters) -> str:
    days = (f.end - f.start).days
    return "day" if days <= 31 else "week" if days <= 182 else "month"


def _users(f: Filters) -> dict[str, Any]:
    return {**f.range(), "device": f.device, "country": f.country}


def _ai(f: Filters) -> dict[str, Any]:
    return {**f.range(), "model": f.model}


def _performance(ctx: PanelContext) -> pd.DataFrame:
    f = ctx.filters
    return ctx.once(
        ("models", f.start, f.end, f.model), lambda: ml.model_performance(ctx.wb, **_ai(f))
    )


def _correlations(ctx: PanelContext) -> pd.DataFrame:
    from auterity_lab.stats import correlations

    f = ctx.filters
    return correlations(ctx.wb, **f.range(), n_boot=199, store=False).pairs


_U = _RANGE | {"device", "country"}
_M = _RANGE | {"model"}

TABS: dict[str, Tab] = {
    "overview": Tab(
        "overview",
        "Overview",
        (
            Panel(
                "health",
                "Health",
                _RANGE,
                lambda c: _unified(c).health.systems,
                lambda d: overview_charts.health_strip(d),
            ),
            Panel(
                "kpis",
                "Headline KPIs",
                _RANGE,
                lambda c: _unified(c).kpis(),
                overview_charts.kpi_cards,
            ),
            Panel(
                "daily",
                "Daily trends",
                _RANGE,
                lambda c: _unified(c).daily(),
                overview_charts.overview_trends,
            ),
        ),
    ),
    "business": Tab(
        "business",
        "Business",
        (
            Panel(
                "kpis",
                "Business KPIs",
                _U,
                lambda c: business.business_metrics(c.wb, **_users(c.filters)),
                business_charts.kpi_cards,
            ),
            Panel(
                "activity",
                "Active users",
                _U,
                lambda c: business.user_activity(
                    c.wb, interval=_interval(c.filters), **_users(c.filters)
                ),
                business_charts.activity_trend,
            ),
            Panel(
                "retention",
                "Retention",
                _U,
                lambda c: business.retention(
                    c.wb, interval=_interval(c.filters), **_users(c.filters)
                ),
                business_charts.retention_heatmap,
            ),
            Panel(
                "funnel",
                "Signup → activate → subscribe",
                _U,
                lambda c: business.funnel(
                    c.wb, steps=FUNNEL_STEPS, window=FUNNEL_WINDOW, **_users(c.filters)
                ),
                business_charts.funnel_chart,
            ),
            Panel(
                "revenue",
                "Revenue",
                _U,
                lambda c: business.revenue(
                    c.wb, interval=_interval(c.filters), **_users(c.filters)
                ),
                business_charts.revenue_trend,
            ),
            Panel(
                "breakdown",
                "By device",
                _U,
                lambda c: business.segment_kpis(c.wb, by="device", **_users(c.filters)),
                business_charts.breakdown_bars,
            ),
            Panel(
                "performance",
                "API performance",
                _RANGE,
                lambda c: business.system_performance(
                    c.wb, interval=_interval(c.filters), level="service", **c.filters.range()
                ),
                business_charts.performance_chart,
            ),
        ),
    ),
    "ml": Tab(
        "ml",
        "AI/ML",
        (
            Panel(
                "summary",
                "Headline",
                _M,
                lambda c: ml.ml_summary(c.wb, **_ai(c.filters)),
                ml_charts.summary_cards,
            ),
            Panel("models", "Model comparison", _M, _performance, ml_charts.model_comparison),
            Panel(
                "latency", "Latency percentiles", _M, _performance, ml_charts.latency_percentiles
            ),
            Panel(
                "cost",
                "Spend over time",
                _M,
                lambda c: ml.cost_over_time(
                    c.wb,
                    grain="day" if (c.filters.end - c.filters.start).days <= 62 else "week",
                    **_ai(c.filters),
                ),
                ml_charts.cost_over_time,
            ),
            Panel(
                "prompts",
                "Prompts",
                _M,
                lambda c: ml.prompt_analytics(c.wb, top=_TABLE_ROWS, **_ai(c.filters)),
                lambda d: ml_charts.prompt_table(d, rows=15),
            ),
        ),
    ),
    "workflow": Tab(
        "workflow",
        "Workflow",
        (
            Panel(
                "runs",
                "Runs and outcomes",
                _RANGE,
                lambda c: workflow.run_trends(
                    c.wb, period=_interval(c.filters), **c.filters.range()
                ),
                workflow_charts.run_outcomes,
            ),
            Panel(
                "durations",
                "Run duration",
                _RANGE,
                lambda c: workflow.run_summary(c.wb, **c.filters.range()),
                workflow_charts.duration_percentiles,
            ),
            Panel(
                "steps",
                "Where run time goes",
                _RANGE,
                lambda c: workflow.step_breakdown(c.wb, **c.filters.range()),
                workflow_charts.step_shares,
            ),
            Panel(
                "bottlenecks",
                "Bottleneck over time",
                _RANGE,
                lambda c: workflow.bottleneck_history(
                    c.wb, period=_interval(c.filters), **c.filters.range()
                ),
                workflow_charts.bottleneck_timeline,
            ),
            Panel(
                "ai_cost",
                "AI cost per workflow",
                _RANGE,
                lambda c: workflow.ai_cost_by_workflow(c.wb, **c.filters.range()),
                workflow_charts.ai_cost_bars,
            ),
            Panel(
                "sla",
                "SLA",
                _RANGE,
                lambda c: workflow.sla_breaches(c.wb, **c.filters.range()),
                workflow_charts.sla_attainment,
            ),
        ),
    ),
    "insights": Tab(
        "insights",
        "Insights",
        (
            Panel(
                "correlations",
                "Cross-system correlations",
                _RANGE,
                _correlations,
                insight_charts.correlation_heatmap,
            ),
            Panel("insights", "Insights", frozenset({"tenant"}), lambda c: _insight_list(c.wb)),
            Panel("alerts", "Alerts", frozenset({"tenant"}), lambda c: actions.alerts(c.wb)),
        ),
        actions=True,
    ),
}
"""Tab key → its panels, in display order."""


def _insight_list(wb: Workbench) -> pd.DataFrame:
    from auterity_lab.insights import list_insights

    frame = list_insights(wb)
    return frame[["id", "severity", "insight_type", "title", "description", "status", "updated_at"]]


# ============================================================================ the app
class Dashboard(widgets.VBox):
    """The dashboard app. Build it with :func:`dashboard`.

    Attributes
    ----------
    filters
        The current :class:`Filters`.
    filter_controls
        Filter name → its widget.
    tab
        The tab widget (``tab.selected_index``); :meth:`select` opens a tab by key.
    frames
        Tab key → panel name → the frame last computed (for the filters in :attr:`computed_for`).
    computed
        Every (tab, panel) computed so far, in order: what a filter change cost.
    live_indicator
        The connection state of live updates (an HTML widget).
    """

    def __init__(
        self,
        wb: Workbench,
        *,
        tenants: Sequence[str] | None = None,
        start: Any = None,
        end: Any = None,
        live: bool | LiveFeed = True,
        on_insight_action: actions.ActionCallback | None = None,
        on_alert_action: actions.ActionCallback | None = None,
        export_dir: str | Path | None = None,
        tabs: Mapping[str, Tab] = TABS,
    ) -> None:
        self._tabs = dict(tabs)
        self._benches: dict[str, Workbench] = {wb.tenant: wb}
        self._root = wb
        self.tenants = list(dict.fromkeys([wb.tenant, *(tenants or [])]))
        self.on_insight_action = on_insight_action
        self.on_alert_action = on_alert_action
        self.export_dir = Path(export_dir) if export_dir is not None else None
        default = default_filters(wb)
        self.filters = Filters(
            wb.tenant,
            _date(start) if start is not None else default.start,
            _date(end) if end is not None else default.end,
        )
        self.frames: dict[str, dict[str, pd.DataFrame]] = {k: {} for k in self._tabs}
        self.computed_for: dict[str, dict[str, tuple[Any, ...]]] = {k: {} for k in self._tabs}
        self.computed: list[tuple[str, str]] = []
        self._bodies: dict[str, dict[str, widgets.Widget]] = {k: {} for k in self._tabs}
        self._lock = threading.RLock()
        self._quiet = False
        self._owns_feed = False

        self.status = widgets.HTML(layout=widgets.Layout(width="100%"))
        self.live_indicator = widgets.HTML(_indicator(None), layout=widgets.Layout(width="auto"))
        self.filter_controls = self._build_filters()
        self.download = widgets.HTML(layout=widgets.Layout(width="100%"))
        self.export_buttons = {
            fmt: widgets.Button(
                description=f"Export {fmt.upper()}",
                icon="download",
                tooltip=f"{fmt.upper()} of the visible tab",
                layout=widgets.Layout(width="auto"),
            )
            for fmt in EXPORT_FORMATS
        }
        for fmt, button in self.export_buttons.items():
            button.on_click(lambda _b, fmt=fmt: self._export_clicked(fmt))
        self._pages = {k: widgets.VBox(layout=widgets.Layout(width="100%")) for k in self._tabs}
        self.tab = widgets.Tab(
            children=list(self._pages.values()), layout=widgets.Layout(width="100%")
        )
        self.tab.titles = [t.title for t in self._tabs.values()]
        self.tab.observe(lambda _c: self._show(self.visible_tab), names="selected_index")
        self.insight_list = _ActionList("insight", self._insight_action)
        self.alert_list = _ActionList("alert", self._alert_action)

        header = widgets.HBox(
            [
                widgets.HTML(
                    "<h2 style='margin:0.2em 0'>Auterity unified analytics</h2>",
                    layout=widgets.Layout(flex="1 1 auto", width="auto"),
                ),
                self.live_indicator,
            ],
            layout=widgets.Layout(
                width="100%",
                flex_flow="row wrap",
                justify_content="space-between",
                align_items="center",
            ),
        )
        bar = widgets.HBox(
            list(self.filter_controls.values()),
            layout=widgets.Layout(width="100%", flex_flow="row wrap"),
        )
        exports = widgets.HBox(
            list(self.export_buttons.values()),
            layout=widgets.Layout(width="100%", flex_flow="row wrap"),
        )
        super().__init__(
            [header, bar, exports, self.download, self.status, self.tab],
            layout=widgets.Layout(width="100%", max_width="100%"),
        )
        self.add_class("auterity-dashboard")
        self._feed: LiveFeed | None = None
        self._unsubscribe: list[Callable[[], None]] = []
        self._show(self.visible_tab)
        if live is not False:
            self._start_live(None if live is True else live)

    # ------------------------------------------------------------------ public
    @property
    def visible_tab(self) -> str:
        """Key of the tab on screen."""
        return list(self._tabs)[self.tab.selected_index or 0]

    @property
    def wb(self) -> Workbench:
        """The workbench of the selected tenant."""
        return self._bench(self.filters.tenant)

    def select(self, key: str) -> None:
        """Open the tab ``key`` (computing what it lacks)."""
        if key not in self._tabs:
            raise QueryParameterError(f"no tab {key!r}; tabs: {', '.join(self._tabs)}")
        self.tab.selected_index = list(self._tabs).index(key)

    def set_filters(self, **values: Any) -> tuple[str, ...]:
        """Change filters (as the filter bar does) and recompute what depends on them on the
        visible tab; returns the names of the filters that changed."""
        unknown = sorted(set(values) - set(FILTERS))
        if unknown:
            raise QueryParameterError(
                f"unknown filter {', '.join(unknown)}; filters: {', '.join(FILTERS)}"
            )
        if "tenant" in values and values["tenant"] not in self.tenants:
            raise QueryParameterError(
                f"tenant {values['tenant']!r} is not among {', '.join(self.tenants)}"
            )
        new = replace(
            self.filters, **{k: _date(v) if k in ("start", "end") else v for k, v in values.items()}
        )
        changed = tuple(n for n in FILTERS if getattr(new, n) != getattr(self.filters, n))
        if not changed:
            return ()
        self.filters = new
        if "tenant" in changed or "start" in changed or "end" in changed:
            self._refresh_options()
        self._sync_controls()
        self._show(self.visible_tab)
        return changed

    def refresh(self, tab: str | None = None) -> None:
        """Recompute every panel of ``tab`` (default: the visible one) from fresh data."""
        key = tab or self.visible_tab
        with self._lock:
            self.computed_for[key].clear()
        if key == self.visible_tab:
            self._show(key)

    def export(self, fmt: str, *, tab: str | None = None) -> Export:
        """The data behind a tab (default: the visible one) as ``csv`` (a zip of one CSV per
        panel plus ``meta.json``), ``json`` (meta and every panel's records), or the tab drawn as
        ``html`` (self-contained, offline) or ``pdf``; saved to ``export_dir`` when set.

        Raises
        ------
        QueryParameterError
            An unknown format or tab.
        """
        if fmt not in EXPORT_FORMATS:
            raise QueryParameterError(
                f"format must be one of {', '.join(EXPORT_FORMATS)}, not {fmt!r}"
            )
        key = tab or self.visible_tab
        if key not in self._tabs:
            raise QueryParameterError(f"no tab {key!r}; tabs: {', '.join(self._tabs)}")
        self._compute(key)
        frames = {
            p.name: self.frames[key][p.name]
            for p in self._tabs[key].panels
            if p.name in self.frames[key]
        }
        meta = self._meta(key)
        stem = f"{self.filters.tenant}-{key}-{self.filters.start}_{self.filters.end}"
        data = _EXPORTERS[fmt](self, key, frames, meta)
        suffix = "zip" if fmt == "csv" else fmt
        result = Export(f"{stem}.{suffix}", _MIME[fmt], data)
        if self.export_dir is not None:
            self.export_dir.mkdir(parents=True, exist_ok=True)
            path = self.export_dir / result.filename
            path.write_bytes(data)
            result = replace(result, path=path)
        return result

    def close(self) -> None:
        """Stop live updates and close the widgets."""
        for stop in self._unsubscribe:
            stop()
        self._unsubscribe.clear()
        if self._feed is not None and self._owns_feed:
            self._feed.close()
        super().close()

    # ------------------------------------------------------------------ filters
    def _build_filters(self) -> dict[str, widgets.Widget]:
        style = {"description_width": "initial"}
        controls: dict[str, widgets.Widget] = {
            "tenant": widgets.Dropdown(
                description="Tenant",
                options=self.tenants,
                value=self.filters.tenant,
                style=style,
                layout=widgets.Layout(
                    **_FLUID, display="flex" if len(self.tenants) > 1 else "none"
                ),
            ),
            "start": widgets.DatePicker(
                description="From",
                value=self.filters.start,
                style=style,
                layout=widgets.Layout(**_FLUID),
            ),
            "end": widgets.DatePicker(
                description="To (excl.)",
                value=self.filters.end,
                style=style,
                layout=widgets.Layout(**_FLUID),
            ),
            "model": widgets.Dropdown(
                description="Model", style=style, layout=widgets.Layout(**_FLUID)
            ),
            "device": widgets.Dropdown(
                description="Device", style=style, layout=widgets.Layout(**_FLUID)
            ),
            "country": widgets.Dropdown(
                description="Country", style=style, layout=widgets.Layout(**_FLUID)
            ),
        }
        self.filter_controls = controls
        self._refresh_options()
        for name, control in controls.items():
            control.observe(
                lambda change, name=name: self._control_changed(name, change["new"]), names="value"
            )
        return controls

    def _refresh_options(self) -> None:
        """Model, device and country choices of the selected tenant and dates (a value that is
        no longer offered is cleared)."""
        f = self.filters
        wb = self._bench(f.tenant)
        try:
            models = sorted(ml.filter_values(wb, **f.range())["model_id"].dropna().unique())
            dims = business.dimension_values(wb)
        except AuterityLabError as exc:
            self.status.value = _error_html(exc)
            return
        options = {
            "model": models,
            "device": dims.loc[dims["dimension"] == "device", "value"].tolist(),
            "country": dims.loc[dims["dimension"] == "country", "value"].tolist(),
        }
        cleared = {k: None for k, opts in options.items() if getattr(f, k) not in (None, *opts)}
        self.filters = replace(f, **cleared)
        self._quiet = True
        try:
            for name, opts in options.items():
                control = self.filter_controls[name]
                control.options = [("(all)", None), *((str(o), o) for o in opts)]
                control.value = getattr(self.filters, name)
        finally:
            self._quiet = False

    def _control_changed(self, name: str, value: Any) -> None:
        if self._quiet or value is None and name in ("start", "end"):
            return
        try:
            self.set_filters(**{name: value})
        except AuterityLabError as exc:
            self.status.value = _error_html(exc)
            self._sync_controls()

    def _sync_controls(self) -> None:
        self._quiet = True
        try:
            for name in FILTERS:
                control = self.filter_controls[name]
                if control.value != getattr(self.filters, name):
                    control.value = getattr(self.filters, name)
        finally:
            self._quiet = False

    # ------------------------------------------------------------------ computing and drawing
    def _bench(self, tenant: str) -> Workbench:
        from auterity_lab.warehouse import Workbench

        if tenant not in self.tenants:
            raise QueryParameterError(f"tenant {tenant!r} is not among {', '.join(self.tenants)}")
        if tenant not in self._benches:
            root = self._root
            self._benches[tenant] = Workbench.open(
                root.data_dir, tenant=tenant, settings=root.settings
            )
        return self._benches[tenant]

    def _stale(self, key: str) -> list[Panel]:
        done = self.computed_for[key]
        return [
            p for p in self._tabs[key].panels if done.get(p.name) != self.filters.key(p.depends_on)
        ]

    def _compute(self, key: str) -> list[Panel]:
        """Compute the stale panels of tab ``key``; returns them."""
        with self._lock:
            stale = self._stale(key)
            if not stale:
                return []
            ctx = PanelContext(self._bench(self.filters.tenant), self.filters)
            for panel in stale:
                try:
                    frame = panel.compute(ctx)
                except AuterityLabError as exc:
                    frame = _problem_frame(exc)
                self.frames[key][panel.name] = frame
                self.computed_for[key][panel.name] = self.filters.key(panel.depends_on)
                self.computed.append((key, panel.name))
            return stale

    def _show(self, key: str) -> None:
        try:
            stale = self._compute(key)
        except AuterityLabError as exc:
            self.status.value = _error_html(exc)
            return
        self.status.value = ""
        bodies = self._bodies[key]
        for panel in stale:
            bodies[panel.name] = self._draw(
                panel, self.frames[key][panel.name], bodies.get(panel.name)
            )
        children = [
            widgets.VBox(
                [
                    widgets.HTML(f"<h3 style='margin:0.6em 0 0.2em'>{html.escape(p.title)}</h3>"),
                    bodies[p.name],
                ],
                layout=widgets.Layout(width="100%"),
            )
            for p in self._tabs[key].panels
            if not (self._tabs[key].actions and p.name in ("insights", "alerts"))
        ]
        if self._tabs[key].actions:
            self.insight_list.show(self.frames[key].get("insights"))
            self.alert_list.show(self.frames[key].get("alerts"))
            find = widgets.Button(
                description="Find insights for these dates",
                icon="search",
                layout=widgets.Layout(width="auto"),
            )
            find.on_click(lambda _b: self._find_insights())
            children = [
                widgets.HTML("<h3 style='margin:0.6em 0 0.2em'>Insights</h3>"),
                find,
                self.insight_list,
                widgets.HTML("<h3 style='margin:0.6em 0 0.2em'>Alerts</h3>"),
                self.alert_list,
                *children,
            ]
        self._pages[key].children = children

    def _draw(
        self, panel: Panel, frame: pd.DataFrame, current: widgets.Widget | None
    ) -> widgets.Widget:
        if "problem" in frame.columns and len(frame.columns) == 1:
            return widgets.HTML(
                _error_html(frame["problem"].iloc[0]), layout=widgets.Layout(width="100%")
            )
        if panel.chart is None:
            return widgets.HTML(_table_html(frame), layout=widgets.Layout(width="100%"))
        try:
            fig = panel.chart(frame)
        except (ValueError, KeyError, IndexError) as exc:  # a chart that cannot draw this frame
            return widgets.HTML(_error_html(f"{panel.title} cannot be drawn: {exc}"))
        fig.update_layout(autosize=True, width=None)
        if isinstance(current, go.FigureWidget):
            with current.batch_update():
                current.data = ()
                current.add_traces(list(fig.data))
                current.layout = fig.layout
            return current
        widget = go.FigureWidget(fig)
        widget.layout.width = None
        return widget

    # ------------------------------------------------------------------ actions
    def _insight_action(self, insight_id: str, action: str) -> None:
        actions.apply_insight_action(self.wb, insight_id, action, callback=self.on_insight_action)
        self._reload_lists()

    def _alert_action(self, alert_id: str, action: str) -> None:
        actions.apply_alert_action(self.wb, alert_id, action, callback=self.on_alert_action)
        self._reload_lists()

    def _reload_lists(self) -> None:
        with self._lock:
            for name in ("insights", "alerts"):
                self.computed_for["insights"].pop(name, None)
        if self.visible_tab == "insights":
            self._show("insights")
        else:
            self._compute("insights")

    def _find_insights(self) -> None:
        from auterity_lab.insights import generate_insights

        try:
            generate_insights(self.wb, **self.filters.range())
        except AuterityLabError as exc:
            self.status.value = _error_html(exc)
            return
        self._reload_lists()

    # ------------------------------------------------------------------ live updates
    def _start_live(self, feed: LiveFeed | None) -> None:
        from auterity_lab.live import LiveFeed

        self._owns_feed = feed is None
        self._feed = feed or LiveFeed(self._root.data_dir, settings=self._root.settings).start()
        self._unsubscribe.append(self._feed.on_state(self._on_state))
        for tenant in self.tenants:
            # insights are found on demand (the button) or by the scheduled reports, not on
            # every change: the dashboard follows data, health and alerts
            self._unsubscribe.append(
                self._feed.subscribe(
                    self._on_event,
                    tenant=tenant,
                    channels=("metric_update", "health_change", "alert"),
                )
            )

    def _on_state(self, state: ConnectionState) -> None:
        self.live_indicator.value = _indicator(state)

    def _on_event(self, event: Event) -> None:
        if event.tenant != self.filters.tenant:
            return
        lists = {("insights", "insights"), ("insights", "alerts")}
        with self._lock:
            for key, done in self.computed_for.items():
                for name in list(done):
                    # data changed: every data panel; an alert or insight: only the action lists
                    if ((key, name) in lists) != (event.type in ("metric_update", "health_change")):
                        del done[name]
        self._show(self.visible_tab)

    def _export_clicked(self, fmt: str) -> None:
        try:
            result = self.export(fmt)
        except AuterityLabError as exc:
            self.status.value = _error_html(exc)
            return
        encoded = base64.b64encode(result.data).decode()
        saved = f" (saved to {html.escape(str(result.path))})" if result.path else ""
        self.download.value = (
            f"<a download='{html.escape(result.filename)}' "
            f"href='data:{result.mimetype};base64,{encoded}'>"
            f"Download {html.escape(result.filename)}</a> · {len(result.data) / 1024:,.0f} KB"
            f"{saved}"
        )

    def _meta(self, key: str) -> dict[str, Any]:
        from auterity_lab import __version__

        return {
            "tab": key,
            "title": self._tabs[key].title,
            "filters": self.filters.describe(),
            "data_fingerprint": self.wb.fingerprint(),
            "package_version": __version__,
            "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "panels": {p.name: p.title for p in self._tabs[key].panels},
        }


def dashboard(
    wb: Workbench,
    /,
    *,
    tenants: Sequence[str] | None = None,
    start: Any = None,
    end: Any = None,
    live: bool | LiveFeed = True,
    on_insight_action: actions.ActionCallback | None = None,
    on_alert_action: actions.ActionCallback | None = None,
    export_dir: str | Path | None = None,
    locked_tenant: str | None = None,
) -> Dashboard:
    """The unified dashboard of ``wb``'s tenant (and of ``tenants``, if the user may see more).

    Parameters
    ----------
    wb
        The workbench of the first tenant shown.
    tenants
        Further tenants the user may see: a tenant filter appears; each is opened on ``wb``'s
        data directory.
    start, end
        The initial date range (end exclusive); default: the eight weeks up to the latest
        complete day of data.
    live
        Follow changes with a :class:`~auterity_lab.live.LiveFeed` (push from Postgres where
        configured, else polling every 30 s), or with the running feed given (shared, not closed
        by the dashboard); the header shows its connection state.
    on_insight_action, on_alert_action
        Called as ``f(id, action)`` after an Acknowledge / Dismiss / Resolve click has been
        persisted (spec ``onInsightAction``, ``onAlertAction``).
    export_dir
        Where the export buttons also save their files (they always offer a download link).
    locked_tenant
        The only tenant this dashboard may show (``auterity-lab serve`` binds it from the
        visitor's identity): ``wb`` must be that tenant's and ``tenants`` may name no other,
        else :class:`~auterity_lab.errors.AccessDeniedError`; no tenant filter is offered.

    Returns
    -------
    Dashboard
        The app (an ``ipywidgets.VBox``); the Overview tab is computed, the others when opened.

    Examples
    --------
    >>> app = dashboard(wb, live=False)                                        # doctest: +SKIP
    >>> app.select("ml"); app.set_filters(model="gpt-4o")                       # doctest: +SKIP
    ('model',)
    """
    if locked_tenant is not None:
        others = sorted({wb.tenant, *(tenants or [])} - {locked_tenant})
        if others:
            raise AccessDeniedError(
                f"the dashboard is locked to tenant {locked_tenant!r}; it cannot show "
                f"{', '.join(repr(t) for t in others)}"
            )
    return Dashboard(
        wb,
        tenants=tenants,
        start=start,
        end=end,
        live=live,
        on_insight_action=on_insight_action,
        on_alert_action=on_alert_action,
        export_dir=export_dir,
    )


# ============================================================================ action lists
class _ActionList(widgets.VBox):
    """Rows of insights or alerts, each with Acknowledge / Resolve / Dismiss buttons."""

    def __init__(self, kind: str, act: Callable[[str, str], None]) -> None:
        self.kind = kind
        self._act = act
        self.buttons: dict[str, dict[str, widgets.Button]] = {}  # id -> action -> its button
        self.message = widgets.HTML()
        self.rows = widgets.VBox(layout=widgets.Layout(width="100%"))
        super().__init__([self.message, self.rows], layout=widgets.Layout(width="100%"))

    def show(self, frame: pd.DataFrame | None) -> None:
        if frame is None or frame.empty or "problem" in frame.columns:
            self.buttons = {}
            note = (
                frame["problem"].iloc[0]
                if frame is not None and "problem" in frame.columns
                else None
            )
            self.rows.children = [
                widgets.HTML(_error_html(note) if note else f"<i>No {self.kind}s.</i>")
            ]
            return
        open_ = frame[frame["status"].isin(["active", "open", "acknowledged"])]
        self.buttons = {}
        self.rows.children = [self._row(rec) for rec in open_.head(50).to_dict("records")] or [
            widgets.HTML(f"<i>No open {self.kind}s.</i>")
        ]

    def _row(self, rec: dict[str, Any]) -> widgets.Widget:
        ident = str(rec["id"] if self.kind == "insight" else rec["alert_id"])
        title = rec["title"] if self.kind == "insight" else rec["message"]
        color = insight_charts.SEVERITY_COLORS.get(str(rec["severity"]), "#64748b")
        text = widgets.HTML(
            f"<span style='background:{color};color:#fff;padding:0 0.4em;border-radius:3px'>"
            f"{html.escape(str(rec['severity']))}</span> {html.escape(str(title))} "
            f"<small style='color:#6b7280'>({html.escape(str(rec['status']))})</small>",
            layout=widgets.Layout(flex="1 1 20em", width="auto"),
        )
        buttons = []
        for action, label, style in (
            ("acknowledge", "Acknowledge", "info"),
            ("resolve", "Resolve", "success"),
            ("dismiss", "Dismiss", "warning"),
        ):
            button = widgets.Button(
                description=label,
                button_style=style,
                layout=widgets.Layout(width="auto"),
                tooltip=f"{label} this {self.kind}",
            )
            button.on_click(lambda _b, a=action, i=ident: self._click(i, a))
            buttons.append(button)
            self.buttons.setdefault(ident, {})[action] = button
        return widgets.HBox(
            [text, *buttons],
            layout=widgets.Layout(width="100%", flex_flow="row wrap", align_items="center"),
        )

    def _click(self, ident: str, action: str) -> None:
        try:
            self._act(ident, action)
        except AuterityLabError as exc:
            self.message.value = _error_html(exc)
            return
        self.message.value = (
            f"<span style='color:#16a34a'>{html.escape(action)}d {self.kind} "
            f"{html.escape(ident)}</span>"
        )


# ============================================================================ exports
def _export_csv(
    app: Dashboard, key: str, frames: dict[str, pd.DataFrame], meta: dict[str, Any]
) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, frame in frames.items():
            archive.writestr(f"{name}.csv", _flat(frame).to_csv(index=False))
        archive.writestr("meta.json", json.dumps(meta, indent=2))
    return buffer.getvalue()


def _export_json(
    app: Dashboard, key: str, frames: dict[str, pd.DataFrame], meta: dict[str, Any]
) -> bytes:
    tables = {
        name: json.loads(_flat(f).to_json(orient="records", date_format="iso", date_unit="s"))
        for name, f in frames.items()
    }
    return json.dumps({"meta": meta, "tables": tables}, indent=1).encode()


def _export_html(
    app: Dashboard, key: str, frames: dict[str, pd.DataFrame], meta: dict[str, Any]
) -> bytes:
    import plotly.offline

    tab = app._tabs[key]
    parts = []
    for panel in tab.panels:
        frame = frames.get(panel.name)
        if frame is None:
            continue
        parts.append(f"<h2>{html.escape(panel.title)}</h2>")
        if panel.chart is not None and "problem" not in frame.columns:
            fig = panel.chart(frame)
            fig.update_layout(autosize=True, width=None)
            parts.append(
                fig.to_html(full_html=False, include_plotlyjs=False, config={"responsive": True})
            )
        else:
            parts.append(_table_html(frame))
    f = meta["filters"]
    chosen = " · ".join(f"{k} {v}" for k, v in f.items() if v is not None)
    from auterity_lab.pdf import PRINT_CSS

    style = (
        "body{font-family:system-ui,sans-serif;margin:1.5em;max-width:100%} "
        "table{border-collapse:collapse;font-size:0.85em} "
        "td,th{padding:2px 6px;border-bottom:1px solid #e5e7eb;text-align:right} "
        ".scroll{overflow-x:auto;max-width:100%} "
        + PRINT_CSS.replace("h2 { break-before: page; }", "")
    )
    stamp = (
        f"data {html.escape(meta['data_fingerprint'])} · auterity-lab "
        f"{html.escape(meta['package_version'])} · {html.escape(meta['generated_at'])}"
    )
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(tab.title)} · {html.escape(f['tenant'])}</title>"
        f"<style>{style}</style><script>{plotly.offline.get_plotlyjs()}</script></head>\n"
        f"<body><h1>{html.escape(tab.title)}</h1><p>{html.escape(chosen)}<br><small>{stamp}</small></p>"
        f"{''.join(parts)}</body></html>"
    )
    return page.encode()


def _export_pdf(
    app: Dashboard, key: str, frames: dict[str, pd.DataFrame], meta: dict[str, Any]
) -> bytes:
    import tempfile

    from auterity_lab.pdf import html_to_pdf

    with tempfile.TemporaryDirectory(prefix="auterity-lab-export-") as tmp:
        page = Path(tmp) / "tab.html"
        page.write_bytes(_export_html(app, key, frames, meta))
        return html_to_pdf(page, Path(tmp) / "tab.pdf").read_bytes()


_EXPORTERS: dict[
    str, Callable[[Dashboard, str, dict[str, pd.DataFrame], dict[str, Any]], bytes]
] = {
    "csv": _export_csv,
    "json": _export_json,
    "html": _export_html,
    "pdf": _export_pdf,
}


# ============================================================================ helpers
def _flat(frame: pd.DataFrame) -> pd.DataFrame:
    """Nested values (lists, dicts) as JSON text, so every format can hold them."""
    out = frame.copy()
    for col in out.columns:
        if (
            out[col].dtype == object
            and out[col].map(lambda v: isinstance(v, list | dict | tuple)).any()
        ):
            out[col] = [
                json.dumps(v, default=str) if isinstance(v, list | dict | tuple) else v
                for v in out[col]
            ]
    return out


def _table_html(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "<i>Nothing in this range.</i>"
    shown = _flat(frame.head(_TABLE_ROWS))
    more = (
        f"<small>first {_TABLE_ROWS} of {len(frame):,} rows</small>"
        if len(frame) > _TABLE_ROWS
        else ""
    )
    table = shown.to_html(index=False, border=0, na_rep="–", float_format=lambda v: f"{v:,.4g}")
    return f"<div class='scroll' style='overflow-x:auto;max-width:100%'>{table}</div>{more}"


def _problem_frame(exc: Exception) -> pd.DataFrame:
    return pd.DataFrame({"problem": [f"{type(exc).__name__}: {exc}"]})


def _error_html(exc: object) -> str:
    return f"<span style='color:#dc2626'>{html.escape(str(exc))}</span>"


def _indicator(state: ConnectionState | None) -> str:
    if state is None:
        return "<span title='live updates off' style='color:#6b7280'>○ live updates off</span>"
    color = _STATE_COLORS.get(state.status, "#6b7280")
    return (
        f"<span class='auterity-live-state' data-status='{state.status}' "
        f"title='{html.escape(state.detail)}' "
        f"style='color:{color}'>● {html.escape(state.label)}</span>"
    )


def _date(value: Any) -> dt.date:
    from auterity_lab.queries import coerce

    return coerce(value, "DATE", "date")


def _utc(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date) else value


__all__ = [
    "EXPORT_FORMATS",
    "FILTERS",
    "TABS",
    "Dashboard",
    "Export",
    "Filters",
    "Panel",
    "PanelContext",
    "Tab",
    "dashboard",
    "default_filters",
]
