"""Unified analytics (spec ``getUnifiedAnalytics``): every system's numbers in one typed result.

:func:`unified_analytics` computes, for one tenant and date range, a section per source system
(``auterity``, ``neuroweaver``, ``relaycore``: headline KPIs with the previous period, daily series
and system details), the ``health`` of all three (:func:`auterity_lab.health.system_health`) and
the ``correlations`` and ``insights`` sections, which stay empty and marked ``not_computed`` until
the insights engine fills them (no placeholder data).

Partial failure: when a system's extracts are missing, unreadable (corrupt file, missing or
retyped column, see ``Workbench.open(strict=False)``) or stale (the health freshness check of a
table the section reads is ``down``), or a query on them fails, its section is ``unavailable``
with the reason and the other sections are still computed. Only when all three are unavailable
does the call raise.

Examples
--------
>>> wb = Workbench.open(data_dir, tenant="acme", strict=False)               # doctest: +SKIP
>>> ua = unified_analytics(wb, start="2026-10-01", end="2026-11-01")         # doctest: +SKIP
>>> ua.sections()                                                             # doctest: +SKIP
        section        status  reason
0      auterity            ok    None
1   neuroweaver   unavailable  table neuroweaver.prompt_outputs is unavailable: ...
...
>>> ua.relaycore.details["bottlenecks"]                                      # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

import pandas as pd

from auterity_lab import overview
from auterity_lab.cache import cached
from auterity_lab.errors import QueryError, UnifiedAnalyticsError
from auterity_lab.health import SloSource, SystemHealth, load_slos, system_health
from auterity_lab.ml.cost import COST_RELATIONS
from auterity_lab.periods import DateRange
from auterity_lab.schema import SYSTEMS, table
from auterity_lab.workflow import ai_cost_by_workflow, bottlenecks, run_summary, sla_breaches
from auterity_lab.workflow.sla import TARGETS_RELATION, load_sla_config

if TYPE_CHECKING:
    from auterity_lab.ml.cost import PriceSource
    from auterity_lab.warehouse import Workbench
    from auterity_lab.workflow.sla import SlaSource

NOT_COMPUTED = "not_computed"
"""Status of the ``correlations`` and ``insights`` sections until the insights engine lands."""


@dataclass(frozen=True)
class SystemSection:
    """One source system's part of :class:`UnifiedAnalytics`.

    Attributes
    ----------
    system
        ``auterity``, ``neuroweaver`` or ``relaycore``.
    status
        ``ok`` or ``unavailable``.
    reason
        Why the section is unavailable (None when ok).
    kpis
        Headline KPIs with the previous period (:func:`auterity_lab.overview.system_kpis`);
        empty with its columns when unavailable.
    daily
        Daily series (:func:`auterity_lab.overview.system_daily`); empty when unavailable.
    details
        Further frames by name (RelayCore: ``workflows``, ``bottlenecks``, ``sla``,
        ``ai_cost``); a detail that could not be computed is absent and explained in ``notes``.
    notes
        Why a detail is missing although the section is ok.
    """

    system: str
    status: str
    reason: str | None
    kpis: pd.DataFrame
    daily: pd.DataFrame
    details: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def available(self) -> bool:
        return self.status == "ok"


@dataclass(frozen=True)
class PendingSection:
    """A section another engine computes (correlations, insights): empty until it does.

    ``frame`` has the columns of the derived table it will hold (``system_correlations`` or
    ``unified_insights`` of the data model) and no rows; ``status`` is ``not_computed``.
    """

    name: str
    status: str
    reason: str
    frame: pd.DataFrame


@dataclass(frozen=True)
class UnifiedAnalytics:
    """The unified result for one tenant and range. Build it with :func:`unified_analytics`.

    Attributes
    ----------
    tenant, start, end, as_of
        What was computed: ``[start, end)`` and the instant health was assessed at.
    auterity, neuroweaver, relaycore
        :class:`SystemSection` per source system.
    correlations, insights
        :class:`PendingSection` (``not_computed`` until the insights engine lands).
    health
        :class:`~auterity_lab.health.SystemHealth` as of ``as_of``.
    manifest_fingerprint, package_version
        The data version and code version the numbers come from (reproducibility).
    """

    tenant: str
    start: dt.datetime
    end: dt.datetime
    as_of: dt.datetime
    auterity: SystemSection
    neuroweaver: SystemSection
    relaycore: SystemSection
    correlations: PendingSection
    insights: PendingSection
    health: SystemHealth
    manifest_fingerprint: str
    package_version: str

    def system(self, name: str) -> SystemSection:
        """The section of one source system."""
        if name not in SYSTEMS:
            raise KeyError(f"no system section {name!r}; sections: {', '.join(SYSTEMS)}")
        return getattr(self, name)

    def sections(self) -> pd.DataFrame:
        """One row per section: ``section``, ``status`` and ``reason``."""
        rows = [(s, self.system(s).status, self.system(s).reason) for s in SYSTEMS]
        rows += [(p.name, p.status, p.reason) for p in (self.correlations, self.insights)]
        rows.append(("health", self.health.status, "; ".join(self.health.reasons) or None))
        return pd.DataFrame(rows, columns=["section", "status", "reason"])

    def kpis(self) -> pd.DataFrame:
        """The headline KPIs of the available systems (columns of :func:`system_kpis`)."""
        frames = [self.system(s).kpis for s in SYSTEMS if self.system(s).available]
        if not frames:
            return pd.DataFrame(columns=overview.KPI_COLUMNS)
        return pd.concat(frames, ignore_index=True)

    def daily(self) -> pd.DataFrame:
        """One row per day with every system's daily series; an unavailable system's are NaN.

        Columns: ``date`` and :data:`auterity_lab.overview.DAILY_COLUMNS` in system order, as
        :func:`auterity_lab.overview.daily`.
        """
        days = pd.DataFrame(
            {
                "date": pd.date_range(
                    self.start.date(),
                    self.end.replace(tzinfo=None),
                    freq="D",
                    inclusive="left",
                    unit="us",
                )
            }
        )
        for s in SYSTEMS:
            section = self.system(s)
            if section.available:
                days = days.merge(
                    section.daily.astype({"date": "datetime64[us]"}),
                    on="date",
                    how="left",
                    validate="one_to_one",
                )
            else:
                days = days.assign(**{c: float("nan") for c in overview.DAILY_COLUMNS[s]})
        return days


def unified_analytics(
    wb: Workbench,
    /,
    *,
    start: Any,
    end: Any,
    as_of: Any = None,
    slos: SloSource = None,
    sla: SlaSource = None,
    prices: PriceSource = None,
    details: bool = True,
) -> UnifiedAnalytics:
    """Compute every section for the workbench's tenant and ``[start, end)``.

    Parameters
    ----------
    wb
        The tenant's workbench; open it with ``strict=False`` so a system with missing or broken
        files becomes an unavailable section instead of an error.
    start, end
        The half-open UTC range.
    as_of
        The instant health (and staleness) is assessed at; None means the range's end if it is
        in the past, else now to the minute (floored: ages are understated by less than a
        minute, and rows of the current minute wait for the next one). The minute is what lets
        repeated calls within it share cached results; ``as_of`` in the result says which
        instant was assessed.
    slos, sla, prices
        Health objectives (:func:`auterity_lab.health.load_slos`), workflow SLA targets
        (:func:`auterity_lab.workflow.sla.load_sla_config`) and AI prices
        (:func:`auterity_lab.ml.cost.load_prices`); None means the defaults.
    details
        False: leave out the sections' further frames (RelayCore's workflows, bottlenecks, SLA
        and AI cost; each is noted as not requested), for a caller that shows only KPIs,
        daily series and health (the Overview tab): about half of the work.

    Raises
    ------
    UnifiedAnalyticsError
        No system's section could be computed.
    QueryParameterError
        The range is empty or reversed.

    Examples
    --------
    >>> ua = unified_analytics(wb, start="2026-10-01", end="2026-11-01")       # doctest: +SKIP
    >>> ua.kpis().head(3)                                                       # doctest: +SKIP
    """
    rng = DateRange.of(start, end)
    if as_of is None:
        as_of = min(rng.end, _now().replace(second=0, microsecond=0))
    return _unified_analytics(
        wb,
        start=rng.start,
        end=rng.end,
        as_of=as_of,
        # the objectives in force, not None: a changed $AUTERITY_LAB_HEALTH_SLOS or
        # $AUTERITY_LAB_WORKFLOW_SLA (or file behind it) changes the cache key
        slos=load_slos(slos).model_dump(mode="json"),
        sla=load_sla_config(sla).model_dump(mode="json"),
        prices=prices,
        details=details,
    )


@cached(  # as_of may be this minute: the short TTL kind
    "system_metrics",
    tables=[
        "auterity.users",
        "auterity.user_sessions",
        "auterity.events",
        "auterity.performance_metrics",
        "neuroweaver.prompt_outputs",
        "relaycore.workflow_runs",
        "relaycore.workflow_steps",
    ],
    relations=[*COST_RELATIONS, TARGETS_RELATION],
)
def _unified_analytics(
    wb: Workbench,
    /,
    *,
    start: dt.datetime,
    end: dt.datetime,
    as_of: Any,
    slos: SloSource,
    sla: SlaSource,
    prices: PriceSource,
    details: bool,
) -> UnifiedAnalytics:
    """:func:`unified_analytics` with ``as_of`` resolved (so the cache key names the instant)."""
    rng = DateRange.of(start, end)
    health = system_health(wb, as_of=as_of, slos=slos, sla=sla)
    sections = {
        s: _section(wb, s, rng, health, sla=sla, prices=prices, details=details) for s in SYSTEMS
    }
    if not any(sec.available for sec in sections.values()):
        raise UnifiedAnalyticsError(
            f"no system could be computed for tenant {wb.tenant!r}: "
            + "; ".join(f"{s}: {sec.reason}" for s, sec in sections.items())
        )
    return UnifiedAnalytics(
        tenant=wb.tenant,
        start=rng.start,
        end=rng.end,
        as_of=health.as_of,
        **sections,
        correlations=_pending("correlations", "system_correlations"),
        insights=_pending("insights", "unified_insights"),
        health=health,
        manifest_fingerprint=wb.fingerprint(),
        package_version=_package_version(),
    )


# ------------------------------------------------------------------------------ sections
Detail = Callable[..., pd.DataFrame]


@dataclass(frozen=True)
class _Spec:
    tables: tuple[str, ...]  # read by the KPIs and daily series
    details: Mapping[str, tuple[Detail, tuple[str, ...]]] = field(default_factory=dict)


def _workflows(wb: Workbench, **kw: Any) -> pd.DataFrame:
    summary = run_summary(wb, start=kw["start"], end=kw["end"])
    return summary[summary["trigger"] == "all"].reset_index(drop=True)


def _bottlenecks(wb: Workbench, **kw: Any) -> pd.DataFrame:
    return bottlenecks(wb, start=kw["start"], end=kw["end"])


def _sla(wb: Workbench, **kw: Any) -> pd.DataFrame:
    return sla_breaches(wb, start=kw["start"], end=kw["end"], targets=kw["sla"])


def _ai_cost(wb: Workbench, **kw: Any) -> pd.DataFrame:
    return ai_cost_by_workflow(wb, start=kw["start"], end=kw["end"], prices=kw["prices"])


# detail name -> (function, tables it reads besides the section's own)
_SPECS: dict[str, _Spec] = {
    "auterity": _Spec(("users", "user_sessions", "events")),
    "neuroweaver": _Spec(("prompt_outputs",)),
    "relaycore": _Spec(
        ("workflow_runs",),
        {
            "workflows": (_workflows, ()),
            "bottlenecks": (_bottlenecks, ("workflow_steps",)),
            "sla": (_sla, ()),
            "ai_cost": (_ai_cost, ("workflow_steps", "prompt_outputs")),
        },
    ),
}


def _section(
    wb: Workbench,
    system: str,
    rng: DateRange,
    health: SystemHealth,
    *,
    sla: SlaSource,
    prices: PriceSource,
    details: bool,
) -> SystemSection:
    spec = _SPECS[system]
    reason = _blocked(wb, spec.tables) or _stale(health, system, spec.tables)
    if reason is None:
        try:
            kpis = overview.system_kpis(wb, system=system, **rng.params())
            daily = overview.system_daily(wb, system=system, **rng.params())
        except QueryError as exc:
            reason = str(exc)
    if reason is not None:
        return SystemSection(system, "unavailable", reason, _empty_kpis(), _empty_daily(system))
    frames: dict[str, pd.DataFrame] = {}
    notes: list[str] = []
    for name, (compute, extra) in spec.details.items():
        if not details:
            notes.append(f"{name} not computed: not requested (details=False)")
            continue
        blocked = _blocked(wb, extra)
        if blocked is not None:
            notes.append(f"{name} not computed: {blocked}")
            continue
        try:
            frames[name] = compute(wb, **rng.params(), sla=sla, prices=prices)
        except QueryError as exc:
            notes.append(f"{name} not computed: {exc}")
    return SystemSection(system, "ok", None, kpis, daily, frames, tuple(notes))


def _blocked(wb: Workbench, tables: tuple[str, ...]) -> str | None:
    """The first unavailable table among ``tables`` and why, or None."""
    for name in tables:
        qualified = table(name).qualified_name
        if qualified in wb.unavailable:
            return f"table {qualified} is unavailable: {wb.unavailable[qualified]}"
    return None


def _stale(health: SystemHealth, system: str, tables: tuple[str, ...]) -> str | None:
    """Why the section's tables are stale (a freshness check of one of them is down), or None."""
    checks = health.checks
    down = checks[
        (checks["system"] == system)
        & (checks["check"] == "freshness")
        & (checks["status"] == "down")
        & checks["subject"].isin(tables)
    ]
    if down.empty:
        return None
    return "stale extract: " + "; ".join(down["reason"])


def _pending(name: str, derived_table: str) -> PendingSection:
    return PendingSection(
        name=name,
        status=NOT_COMPUTED,
        reason=f"{name} are computed by the insights engine, which is not part of this build yet",
        frame=pd.DataFrame(columns=list(table(derived_table).column_names)),
    )


def _empty_kpis() -> pd.DataFrame:
    numeric = {"value", "previous", "change"}
    return pd.DataFrame(
        {c: pd.Series(dtype=float if c in numeric else object) for c in overview.KPI_COLUMNS}
    )


def _empty_daily(system: str) -> pd.DataFrame:
    columns = {"date": pd.Series(dtype="datetime64[us]")}
    columns.update({c: pd.Series(dtype=float) for c in overview.DAILY_COLUMNS[system]})
    return pd.DataFrame(columns)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _package_version() -> str:
    try:
        return version("auterity-lab")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0.0.0+unknown"
