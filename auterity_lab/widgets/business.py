"""Business tab widgets: filters (dates, interval, breakdown, device, country, plan, channel) over
the tab's figures, each redrawn only when a filter it depends on changes.

Each panel declares the filters it reads; changing the breakdown, say, recomputes the activity,
funnel, revenue and breakdown panels and leaves the retention heatmap and system performance alone.

Examples
--------
>>> app = business_explorer(wb, start="2026-08-03", end="2026-11-01")   # doctest: +SKIP
>>> app.controls["device"].value = ("mobile",)                          # doctest: +SKIP
>>> app.last_refreshed                                                  # doctest: +SKIP
('kpis', 'activity', 'retention', 'lifecycle', 'acquisition', 'funnel', 'revenue', 'breakdown')
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets
import plotly.graph_objects as go

from auterity_lab import business
from auterity_lab.business.scope import BREAKDOWNS
from auterity_lab.charts import business as charts
from auterity_lab.errors import AuterityLabError, QueryParameterError
from auterity_lab.periods import DateRange
from auterity_lab.widgets import date_range_picker

if TYPE_CHECKING:
    from auterity_lab.warehouse import Workbench

_INTERVALS = ("day", "week", "month")
_RANGE = frozenset({"start", "end"})
_USERS = frozenset({"device", "country", "plan", "channel"})
FUNNEL_STEPS = ("signup", "activate", "subscribe")
FUNNEL_WINDOW = "30d"


@dataclass(frozen=True)
class _Panel:
    depends_on: frozenset[str]
    draw: Callable[[Workbench, Mapping[str, Any]], go.Figure]


def _filters(state: Mapping[str, Any]) -> dict[str, Any]:
    """Range and user filters of the state, as keyword arguments."""
    return {k: state[k] for k in ("start", "end", *sorted(_USERS))}


# panel name -> the filters it reads and how it draws itself (in display order)
PANELS: dict[str, _Panel] = {
    "kpis": _Panel(
        _RANGE | _USERS,
        lambda wb, s: charts.kpi_cards(business.business_metrics(wb, **_filters(s))),
    ),
    "activity": _Panel(
        _RANGE | _USERS | {"interval", "breakdown"},
        lambda wb, s: charts.activity_trend(
            business.user_activity(
                wb, interval=s["interval"], breakdown=s["breakdown"], **_filters(s)
            )
        ),
    ),
    "retention": _Panel(
        _RANGE | _USERS | {"interval"},
        lambda wb, s: charts.retention_heatmap(
            business.retention(wb, interval=s["interval"], **_filters(s))
        ),
    ),
    "lifecycle": _Panel(
        _RANGE | _USERS | {"interval"},
        lambda wb, s: charts.lifecycle_chart(
            business.lifecycle(wb, interval=s["interval"], **_filters(s))
        ),
    ),
    "acquisition": _Panel(
        _RANGE | _USERS | {"interval"},
        lambda wb, s: charts.acquisition_trend(
            business.acquisition(wb, interval=s["interval"], **_filters(s))
        ),
    ),
    "funnel": _Panel(
        _RANGE | _USERS | {"breakdown"},
        lambda wb, s: charts.funnel_chart(
            business.funnel(
                wb,
                steps=FUNNEL_STEPS,
                window=FUNNEL_WINDOW,
                breakdown=s["breakdown"],
                **_filters(s),
            )
        ),
    ),
    "revenue": _Panel(
        _RANGE | _USERS | {"interval", "breakdown"},
        lambda wb, s: charts.revenue_trend(
            business.revenue(wb, interval=s["interval"], breakdown=s["breakdown"], **_filters(s))
        ),
    ),
    "breakdown": _Panel(
        _RANGE | _USERS | {"breakdown"},
        lambda wb, s: charts.breakdown_bars(
            business.segment_kpis(wb, by=s["breakdown"] or "device", **_filters(s))
        ),
    ),
    "performance": _Panel(
        _RANGE | {"interval"},
        lambda wb, s: charts.performance_chart(
            business.system_performance(
                wb, start=s["start"], end=s["end"], interval=s["interval"], level="service"
            )
        ),
    ),
}


class BusinessExplorer(widgets.VBox):
    """The Business tab: a filter bar over the panels of :data:`PANELS`.

    Attributes
    ----------
    controls
        Filter name → its widget (``start``, ``end``, ``interval``, ``breakdown``, ``device``,
        ``country``, ``plan``, ``channel``).
    figures
        Panel name → its ``FigureWidget``.
    last_refreshed
        Names of the panels the last filter change redrew.
    """

    def __init__(self, wb: Workbench, *, start: Any, end: Any, interval: str = "week") -> None:
        if interval not in _INTERVALS:
            raise QueryParameterError(
                f"interval must be one of {', '.join(_INTERVALS)}, not {interval!r}"
            )
        self._wb = wb
        values = business.dimension_values(wb)
        start_w, end_w = date_range_picker(start, end)
        self.controls: dict[str, widgets.Widget] = {
            "start": start_w,
            "end": end_w,
            "interval": widgets.Dropdown(
                description="Interval",
                options=list(_INTERVALS),
                value=interval,
                layout=widgets.Layout(width="auto"),
            ),
            "breakdown": widgets.Dropdown(
                description="Breakdown",
                options=[("none", None), *((k, k) for k in BREAKDOWNS)],
                value=None,
                layout=widgets.Layout(width="auto"),
            ),
            **{
                name: widgets.SelectMultiple(
                    description=name.capitalize(),
                    rows=3,
                    layout=widgets.Layout(width="auto", flex="1 1 160px"),
                    options=values.loc[values["dimension"] == name, "value"].tolist(),
                )
                for name in ("device", "country", "plan", "channel")
            },
        }
        self.status = widgets.HTML()
        state = self._state()
        self.figures = {
            name: go.FigureWidget(panel.draw(wb, state)) for name, panel in PANELS.items()
        }
        self.last_refreshed: tuple[str, ...] = ()
        for name, control in self.controls.items():
            control.observe(lambda _change, name=name: self.refresh(name), names="value")
        bar = widgets.HBox(
            list(self.controls.values()), layout=widgets.Layout(flex_flow="row wrap", width="100%")
        )
        super().__init__(
            [bar, self.status, *self.figures.values()], layout=widgets.Layout(width="100%")
        )

    def _state(self) -> dict[str, Any]:
        state: dict[str, Any] = {name: control.value for name, control in self.controls.items()}
        for name in _USERS:  # an empty selection keeps everyone
            state[name] = list(state[name]) or None
        return state

    def refresh(self, changed: str) -> tuple[str, ...]:
        """Redraw the panels that depend on the filter ``changed``; return their names."""
        state = self._state()
        try:
            DateRange.of(state["start"], state["end"])
            drawn = {
                name: panel.draw(self._wb, state)
                for name, panel in PANELS.items()
                if changed in panel.depends_on
            }
        except AuterityLabError as exc:
            self.status.value = f"<span style='color:#dc2626'>{exc}</span>"
            self.last_refreshed = ()
            return ()
        self.status.value = ""
        for name, fig in drawn.items():
            _swap(self.figures[name], fig)
        self.last_refreshed = tuple(drawn)
        return self.last_refreshed


def _swap(target: go.FigureWidget, source: go.Figure) -> None:
    """Show ``source`` in ``target``; unlike ``replace_figure_data`` the trace count may change
    (a new breakdown has other segments)."""
    target.data = ()
    target.add_traces(list(source.data))
    target.layout = source.layout


def business_explorer(
    wb: Workbench, /, *, start: Any, end: Any, interval: str = "week"
) -> BusinessExplorer:
    """The Business tab's filters and figures over ``[start, end)``: a :class:`BusinessExplorer`."""
    return BusinessExplorer(wb, start=start, end=end, interval=interval)
