"""System health (spec ``getSystemHealth``): data freshness, error rates and latency against SLOs.

For each system (Auterity, Neuroweaver, RelayCore) a set of checks is run as of one instant
``as_of`` (default: now), and the system is ``healthy``, ``degraded`` or ``down`` with the reasons
that decided it:

``readable``
    Every table of the system can be read (see ``Workbench.open(strict=False)``); a table that
    cannot puts the system ``down``.
``freshness``
    Age of the newest extracted row of each tracked table: ``as_of`` minus the newest row time the
    manifest records for the table's extract (0 when the extract reaches past ``as_of``). This is
    the pipeline's freshness, over all tenants of the extract: a tenant that is merely quiet
    does not make it stale. ``degraded`` above ``degraded_after_hours``, ``down`` above
    ``down_after_hours``; an extract without rows is ``down``. Track high-volume tables.
``activity``
    The tenant's own newest row at or before ``as_of`` in each tracked table, judged against its
    usual traffic at those hours: the gap (newest row to ``as_of``) is laid over each of the 7
    days before; with ``n`` rows in those windows, no row in the gap has probability
    ``exp(-n / 7)`` under a Poisson model. Below ``alpha`` (and longer than
    ``degraded_after_hours``) the check is ``quiet``. It informs and never decides the status:
    a tenant's rows arrive in bursts (sessions, runs) and busy and slow days alternate, so the
    Poisson model overstates the evidence (on the demo, as a deciding check at alpha = 0.01, it
    flagged 31 of 339 ordinary tenant-days).
``extract_age``
    Age of the table's last extract (the manifest's ``written_at``). An extract written after
    ``as_of`` (assessing the past) passes.
``error_rate``
    Share of failed requests in the window ``[as_of - window_hours, as_of)`` against the SLO, by
    a one-sided exact binomial test: ``degraded`` when the rate is above ``error_rate`` with
    p < ``alpha``, ``down`` when it is above ``error_rate_down`` with p < ``alpha``.
``latency``
    Share of requests slower than ``latency_ms`` in the window against ``latency_share``
    (``p95 <= latency_ms`` is ``latency_share = 0.05``), tested the same way. RelayCore has one
    ``sla`` check per workflow instead (run durations against the workflow's SLA target, see
    :mod:`auterity_lab.workflow.sla`).

A check without data in the window is ``no_data``; ``no_data`` and ``quiet`` decide nothing.
The overall status is ``down`` when every system is down, ``degraded`` when any system is not
healthy, else ``healthy``.

Examples
--------
>>> slos = load_slos({"systems": {"auterity": {"error_rate": 0.05}}})
>>> slos.systems["auterity"].error_rate, slos.systems["auterity"].latency_ms
(0.05, 3000.0)
>>> h = system_health(wb, as_of="2026-11-01")                          # doctest: +SKIP
>>> h.status, h.systems[["system", "status"]]                          # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from scipy import stats

from auterity_lab.errors import ConfigError, QueryError, QueryParameterError
from auterity_lab.queries import coerce
from auterity_lab.schema import SYSTEMS, source_tables, table
from auterity_lab.workflow.sla import SlaSource, sla_breaches

if TYPE_CHECKING:
    from auterity_lab.warehouse import Workbench

SLOS_ENV = "AUTERITY_LAB_HEALTH_SLOS"
"""Environment variable naming a YAML of SLO overrides (same shape as :class:`HealthSlos`)."""

STATUSES = ("healthy", "degraded", "down")
CHECK_STATUSES = ("ok", "no_data", "quiet", "degraded", "down")
_SEVERITY = {"ok": 0, "no_data": 0, "quiet": 0, "degraded": 1, "down": 2}
_LOOKBACK_DAYS = 7  # a silence is judged against the same hours of this many days before
_RECENT_DAYS = 2  # newest_row reads these last day partitions first (all of them only if empty)

CHECK_COLUMNS = [
    "system",
    "check",
    "subject",
    "status",
    "value",
    "threshold",
    "unit",
    "n",
    "p_value",
    "reason",
]
SYSTEM_COLUMNS = [
    "system", "status", "reasons", "extracted_through", "data_age_hours", "newest_row_at",
    "quiet_hours", "last_extract_at", "extract_age_hours", "requests", "error_rate", "p95_ms",
]  # fmt: skip


class AgeSlo(BaseModel):
    """Hours after which an age makes a system degraded, and down."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    degraded_after_hours: float = Field(gt=0)
    down_after_hours: float = Field(gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> AgeSlo:
        if self.down_after_hours < self.degraded_after_hours:
            raise ValueError("down_after_hours must not be below degraded_after_hours")
        return self


class SystemSlo(BaseModel):
    """One system's objectives."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tables: tuple[str, ...] = Field(min_length=1, description="Tables whose freshness is checked.")
    error_rate: float = Field(gt=0, lt=1, description="At most this share of requests fail.")
    error_rate_down: float = Field(gt=0, le=1, description="Above this share the system is down.")
    latency_ms: float | None = Field(
        None, gt=0, description="Requests slower than this are slow; None: workflow SLA targets."
    )
    latency_share: float = Field(0.05, gt=0, lt=1, description="At most this share is slow.")


class HealthSlos(BaseModel):
    """All health objectives; every field has a default (see ``DEFAULT_SLOS``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    window_hours: float = Field(gt=0, description="Error and latency checks look this far back.")
    alpha: float = Field(gt=0, lt=0.5, description="Significance level of every test.")
    freshness: AgeSlo
    extract_age: AgeSlo
    systems: dict[str, SystemSlo]

    @model_validator(mode="after")
    def _known_systems_and_tables(self) -> HealthSlos:
        if set(self.systems) != set(SYSTEMS):
            raise ValueError(f"systems must be exactly {', '.join(SYSTEMS)}")
        for system, slo in self.systems.items():
            own = {t.name for t in source_tables(system)}
            if unknown := [t for t in slo.tables if t not in own]:
                raise ValueError(f"{system}: {', '.join(unknown)} is not a table of {system}")
        return self


DEFAULT_SLOS: dict[str, Any] = {
    "window_hours": 24,
    "alpha": 0.01,
    "freshness": {"degraded_after_hours": 6, "down_after_hours": 48},
    "extract_age": {"degraded_after_hours": 26, "down_after_hours": 168},
    "systems": {
        "auterity": {"tables": ["user_sessions", "performance_metrics"], "error_rate": 0.02,
                     "error_rate_down": 0.25, "latency_ms": 3000, "latency_share": 0.05},
        "neuroweaver": {"tables": ["prompt_outputs"], "error_rate": 0.03,
                        "error_rate_down": 0.5, "latency_ms": 8000, "latency_share": 0.05},
        "relaycore": {"tables": ["workflow_runs"], "error_rate": 0.05,
                      "error_rate_down": 0.5, "latency_ms": None},
    },
}  # fmt: skip
"""The shipped objectives; :func:`load_slos` merges overrides into them."""

SloSource = str | Path | Mapping[str, Any] | HealthSlos | None
"""A YAML path or mapping of overrides, a :class:`HealthSlos`, or None (defaults)."""

# system -> (query of the window signals, table it reads)
_SIGNALS: dict[str, tuple[str, str]] = {
    "auterity": ("health_auterity", "performance_metrics"),
    "neuroweaver": ("health_neuroweaver", "prompt_outputs"),
    "relaycore": ("health_relaycore", "workflow_runs"),
}


@dataclass(frozen=True)
class SystemHealth:
    """The health of the three systems as of one instant.

    Attributes
    ----------
    as_of
        The instant assessed (UTC).
    window_start
        Start of the window of the error and latency checks (``as_of - window_hours``).
    status
        Overall: ``healthy``, ``degraded`` or ``down``.
    reasons
        ``"system: reason"`` for every failed check (empty when healthy).
    systems
        One row per system: ``system``, ``status``, ``reasons`` (``"; "``-joined, or ``"all
        checks passed"``), ``extracted_through`` (the extracts of all tracked tables hold rows
        up to this instant) and ``data_age_hours`` (``as_of`` minus it, at least 0),
        ``newest_row_at`` and ``quiet_hours`` (the tenant's newest row), ``last_extract_at``
        and ``extract_age_hours``, ``requests``, ``error_rate`` and ``p95_ms`` in the window.
    checks
        One row per check: ``system``, ``check``, ``subject`` (table or workflow), ``status``
        (``ok``, ``no_data``, ``quiet``, ``degraded``, ``down``), ``value``, ``threshold``,
        ``unit``, ``n``, ``p_value``, ``reason``.
    """

    as_of: dt.datetime
    window_start: dt.datetime
    status: str
    reasons: tuple[str, ...]
    systems: pd.DataFrame
    checks: pd.DataFrame

    def of(self, system: str) -> str:
        """The status of one system."""
        return str(self.systems.set_index("system").loc[system, "status"])


def load_slos(source: SloSource = None) -> HealthSlos:
    """The health objectives: the defaults with overrides merged in.

    Parameters
    ----------
    source
        A YAML path or a mapping of overrides (nested keys replace single values, e.g.
        ``{"systems": {"auterity": {"error_rate": 0.05}}}``), or a :class:`HealthSlos` (returned
        as is). None means ``$AUTERITY_LAB_HEALTH_SLOS`` if set, else the defaults.

    Raises
    ------
    ConfigError
        The file is missing or not YAML, or a value is invalid.

    Examples
    --------
    >>> load_slos().window_hours
    24.0
    >>> load_slos({"alpha": 2})
    Traceback (most recent call last):
    ...
    auterity_lab.errors.ConfigError: health SLOs (mapping) are invalid: alpha: ...
    """
    if isinstance(source, HealthSlos):
        return source
    label = "mapping"
    if source is None and os.environ.get(SLOS_ENV):
        source = os.environ[SLOS_ENV]
    if source is not None and not isinstance(source, str | Path | Mapping):
        raise ConfigError(f"health SLOs must be a path or a mapping, not {type(source).__name__}")
    if isinstance(source, str | Path):
        label = str(source)
        try:
            source = yaml.safe_load(Path(source).read_text(encoding="utf-8")) or {}
        except FileNotFoundError as exc:
            raise ConfigError(f"health SLO file {label} does not exist") from exc
        except (OSError, UnicodeDecodeError) as exc:  # a directory, a name too long, binary
            raise ConfigError(f"health SLO file {label} cannot be read: {exc}") from exc
        except yaml.YAMLError as exc:
            raise ConfigError(f"health SLO file {label} is not valid YAML: {exc}") from exc
        if not isinstance(source, Mapping):
            raise ConfigError(f"health SLO file {label} must hold a mapping")
    try:
        return HealthSlos.model_validate(_merge(DEFAULT_SLOS, source or {}))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg']}"
            for e in exc.errors()
        )
        raise ConfigError(f"health SLOs ({label}) are invalid: {problems}") from exc


def system_health(
    wb: Workbench,
    /,
    *,
    as_of: Any = None,
    slos: SloSource = None,
    sla: SlaSource = None,
) -> SystemHealth:
    """Assess every system's freshness, errors and latency against the SLOs as of ``as_of``.

    Never raises for broken data: an unreadable table is a ``down`` check naming it.

    Parameters
    ----------
    wb
        The tenant's workbench (open it with ``strict=False`` so a broken table does not stop
        the others from being assessed).
    as_of
        The instant to assess (UTC; naive means UTC); None means now. Rows after it are
        ignored, so the fixed-date demo can be assessed deterministically.
    slos
        See :func:`load_slos`.
    sla
        Workflow SLA targets for RelayCore's latency (see
        :func:`auterity_lab.workflow.sla.load_sla_config`).

    Returns
    -------
    SystemHealth

    Examples
    --------
    >>> health = system_health(wb, as_of="2026-09-18")                 # doctest: +SKIP
    >>> health.checks.query("status != 'ok'")[["system", "check", "reason"]]  # doctest: +SKIP
    """
    objectives = load_slos(slos)
    now = coerce(dt.datetime.now(dt.UTC) if as_of is None else as_of, "TIMESTAMPTZ", "as_of")
    window_start = now - dt.timedelta(hours=objectives.window_hours)
    checks: list[dict[str, Any]] = []
    summaries: list[dict[str, Any]] = []
    for system in SYSTEMS:
        own, summary = _assess(wb, system, objectives, now, window_start, sla)
        checks.extend(own)
        summaries.append(summary)
    check_frame = pd.DataFrame(checks, columns=CHECK_COLUMNS)
    systems = pd.DataFrame(summaries, columns=SYSTEM_COLUMNS)
    failing = systems[systems["status"] != "healthy"]
    if (systems["status"] == "down").all():
        overall = "down"
    elif len(failing):
        overall = "degraded"
    else:
        overall = "healthy"
    reasons = tuple(
        f"{c.system}: {c.reason}"
        for c in check_frame.itertuples(index=False)
        if c.status in ("degraded", "down")
    )
    return SystemHealth(now, window_start, overall, reasons, systems, check_frame)


def _assess(
    wb: Workbench,
    system: str,
    objectives: HealthSlos,
    as_of: dt.datetime,
    window_start: dt.datetime,
    sla: SlaSource,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The checks of one system and its summary row."""
    slo = objectives.systems[system]
    checks = [_readable(wb, tbl.qualified_name) for tbl in source_tables(system)]
    broken = {c["subject"] for c in checks if c["status"] == "down"}
    fresh = [_freshness(wb, system, name, objectives, as_of) for name in slo.tables]
    checks.extend(c for c, _ in fresh)
    through = [t for _, t in fresh if t is not None]
    extracts = [_extract_age(wb, system, name, objectives, as_of) for name in slo.tables]
    checks.extend(c for c, _ in extracts)
    written = [w for _, w in extracts if w is not None]
    newest: list[dt.datetime] = []
    for name in slo.tables:
        qualified = table(name).qualified_name
        if qualified in broken:
            continue
        try:
            check, seen = _activity(wb, system, name, objectives, as_of)
        except QueryError as exc:
            checks.append(
                _check(
                    system,
                    "readable",
                    qualified,
                    "down",
                    reason=f"{qualified} cannot be read: {exc}",
                )
            )
            broken.add(qualified)
            continue
        checks.append(check)
        if seen is not None:
            newest.append(seen)
    query, signal_table = _SIGNALS[system]
    signals: dict[str, Any] = {"requests": None, "errors": None, "p95_ms": None}
    if table(signal_table).qualified_name not in broken:
        try:
            checks.extend(
                _signal_checks(
                    wb,
                    system,
                    query,
                    signal_table,
                    slo,
                    objectives,
                    as_of,
                    window_start,
                    sla,
                    signals,
                )
            )
        except QueryError as exc:
            checks.append(
                _check(
                    system,
                    "readable",
                    table(signal_table).qualified_name,
                    "down",
                    reason=f"{table(signal_table).qualified_name} cannot be read: {exc}",
                )
            )
    worst = max((_SEVERITY[c["status"]] for c in checks), default=0)
    status = STATUSES[worst]
    reasons = [c["reason"] for c in checks if c["status"] in ("degraded", "down")]
    newest_row = max(newest) if newest else None
    extracted_through = min(through) if len(through) == len(slo.tables) else None
    last_extract = max(written) if written else None
    requests = signals["requests"]
    summary = {
        "system": system,
        "status": status,
        "reasons": "; ".join(reasons) if reasons else "all checks passed",
        "extracted_through": extracted_through,
        "data_age_hours": (
            max(0.0, _hours(as_of - extracted_through)) if extracted_through else math.nan
        ),
        "newest_row_at": newest_row,
        "quiet_hours": _hours(as_of - newest_row) if newest_row else math.nan,
        "last_extract_at": last_extract,
        "extract_age_hours": _hours(as_of - last_extract) if last_extract else math.nan,
        "requests": requests,
        "error_rate": signals["errors"] / requests if requests else math.nan,
        "p95_ms": signals["p95_ms"],
    }
    return checks, summary


def _readable(wb: Workbench, qualified: str) -> dict[str, Any]:
    system = qualified.split(".", 1)[0]
    problem = wb.unavailable.get(qualified)
    if problem is None:
        return _check(system, "readable", qualified, "ok", reason=f"{qualified} is readable")
    return _check(
        system, "readable", qualified, "down", reason=f"{qualified} is unavailable: {problem}"
    )


def _freshness(
    wb: Workbench, system: str, name: str, objectives: HealthSlos, as_of: dt.datetime
) -> tuple[dict[str, Any], dt.datetime | None]:
    """Pipeline freshness: the newest row time of the table's extract, from the manifest."""
    entry = wb.manifest.tables.get(table(name).qualified_name)
    slo = objectives.freshness
    if entry is None or entry.max_ts is None:
        what = "has never been extracted" if entry is None else "has an extract without rows"
        return _check(
            system,
            "freshness",
            name,
            "down",
            unit="hours",
            threshold=slo.down_after_hours,
            reason=f"{name} {what}",
        ), None
    through = coerce(entry.max_ts, "TIMESTAMPTZ", "max_ts")
    age = _hours(as_of - through)
    if age <= 0:
        return _check(
            system,
            "freshness",
            name,
            "ok",
            value=0.0,
            unit="hours",
            threshold=slo.degraded_after_hours,
            reason=f"the {name} extract reaches past as_of (to {through:%Y-%m-%d %H:%M} UTC)",
        ), through
    if age > slo.down_after_hours:
        status, limit = "down", slo.down_after_hours
    elif age > slo.degraded_after_hours:
        status, limit = "degraded", slo.degraded_after_hours
    else:
        status, limit = "ok", slo.degraded_after_hours
    said = f"newest extracted {name} row is {age:.1f} h old"
    reason = said if status == "ok" else f"{said} (> {limit:g} h)"
    return _check(
        system, "freshness", name, status, value=age, threshold=limit, unit="hours", reason=reason
    ), through


def _activity(
    wb: Workbench, system: str, name: str, objectives: HealthSlos, as_of: dt.datetime
) -> tuple[dict[str, Any], dt.datetime | None]:
    """The tenant's newest row, and how (im)plausible its silence is at these hours."""
    tbl = table(name)
    ts = tbl.watermark_column
    newest = newest_row(wb, name, as_of=as_of)
    if newest is None:
        return _check(
            system,
            "activity",
            name,
            "no_data",
            unit="hours",
            reason=f"the tenant has no {name} rows at or before {as_of:%Y-%m-%d %H:%M} UTC",
        ), None
    same_hours = _same_hours_before(wb, name, ts, newest, as_of, tbl.partition_column == ts)
    age = _hours(as_of - newest)
    expected = same_hours / _LOOKBACK_DAYS
    p_quiet = math.exp(-expected)
    limit = objectives.freshness.degraded_after_hours
    said = f"the tenant's newest {name} row is {age:.1f} h old"
    usual = f"the same hours of the 7 days before held {expected:.1f} rows a day"
    if p_quiet < objectives.alpha and age > limit:
        status, reason = "quiet", f"{said}, unusually quiet ({usual}; p = {p_quiet:.2g})"
    elif age > limit:
        status, reason = "ok", f"{said}: quiet, but plausible ({usual})"
    else:
        status, reason = "ok", said
    return _check(
        system,
        "activity",
        name,
        status,
        value=age,
        threshold=limit,
        unit="hours",
        n=same_hours,
        p_value=p_quiet,
        reason=reason,
    ), newest


def newest_row(wb: Workbench, name: str, /, *, as_of: Any = None) -> dt.datetime | None:
    """Time of the tenant's newest row of table ``name`` (at or before ``as_of``), or None.

    The time is the table's watermark column (``created_at`` for most). A table partitioned on
    that column is searched in its newest day partitions first (the two days up to ``as_of``, or
    up to the newest row of the extract): an active tenant's newest row is there, and a full
    scan of every day is needed only for a tenant quiet for longer.

    Examples
    --------
    >>> newest_row(wb, "user_sessions", as_of="2026-10-15")                  # doctest: +SKIP
    datetime.datetime(2026, 10, 14, 23, 58, 3, tzinfo=datetime.timezone.utc)
    """
    if not isinstance(name, str):
        raise QueryParameterError(f"name must be a table name, not {name!r}")
    tbl = table(name)
    ts = tbl.watermark_column
    bound: dict[str, Any] = {}
    where: list[str] = []
    if as_of is not None:
        bound["as_of"] = coerce(as_of, "TIMESTAMPTZ", "as_of")
        where.append(f"{ts} <= $as_of")
    searches = [(where, bound)]
    if tbl.partition_column == ts:
        entry = wb.current_manifest().tables.get(tbl.qualified_name)
        tops = [bound["as_of"]] if as_of is not None else []
        if entry is not None and entry.max_ts is not None:
            tops.append(coerce(entry.max_ts, "TIMESTAMPTZ", "max_ts"))
        if tops:
            top = min(tops).date()
            first = top - dt.timedelta(days=_RECENT_DAYS - 1)
            every_day = ([*where, "date <= $top"], {**bound, "top": top})
            recent = ([*every_day[0], "date >= $first"], {**every_day[1], "first": first})
            searches = [recent, every_day]
    for conditions, params in searches:
        sql = f"SELECT max({ts}) AS newest FROM {name}"
        if conditions:
            sql += " WHERE " + " AND ".join(conditions)
        newest = wb.library_sql(sql, **params)["newest"].iloc[0]
        if not pd.isna(newest):
            return pd.Timestamp(newest).to_pydatetime()
    return None


def _same_hours_before(
    wb: Workbench, name: str, ts: str, newest: dt.datetime, as_of: dt.datetime, prune: bool
) -> int:
    """Rows of ``name`` in the window ``(newest, as_of]`` shifted back by 1 ... 7 days."""
    days = range(1, _LOOKBACK_DAYS + 1)
    windows = " OR ".join(f"({ts} > $lo{k} AND {ts} <= $hi{k})" for k in days)
    bounds = {f"lo{k}": newest - dt.timedelta(days=k) for k in days}
    bounds |= {f"hi{k}": as_of - dt.timedelta(days=k) for k in days}
    floor = f" AND date >= CAST($lo{_LOOKBACK_DAYS} AS DATE)" if prune else ""
    sql = f"SELECT count(*) AS n FROM {name} WHERE ({windows}){floor}"
    return int(wb.library_sql(sql, **bounds)["n"].iloc[0])


def _extract_age(
    wb: Workbench, system: str, name: str, objectives: HealthSlos, as_of: dt.datetime
) -> tuple[dict[str, Any], dt.datetime | None]:
    entry = wb.manifest.tables.get(table(name).qualified_name)
    slo = objectives.extract_age
    if entry is None:
        return _check(
            system,
            "extract_age",
            name,
            "down",
            unit="hours",
            threshold=slo.down_after_hours,
            reason=f"{name} has never been extracted",
        ), None
    written = coerce(entry.written_at, "TIMESTAMPTZ", "written_at")
    age = _hours(as_of - written)
    if age > slo.down_after_hours:
        status, limit = "down", slo.down_after_hours
    elif age > slo.degraded_after_hours:
        status, limit = "degraded", slo.degraded_after_hours
    else:
        status, limit = "ok", slo.degraded_after_hours
    if age < 0:
        reason = f"{name} was extracted after as_of ({written:%Y-%m-%d %H:%M} UTC)"
    elif status == "ok":
        reason = f"{name} was extracted {age:.1f} h ago"
    else:
        reason = f"last extract of {name} is {age:.1f} h old (> {limit:g} h)"
    return _check(
        system, "extract_age", name, status, value=age, threshold=limit, unit="hours", reason=reason
    ), written


def _signal_checks(
    wb: Workbench,
    system: str,
    query: str,
    signal_table: str,
    slo: SystemSlo,
    objectives: HealthSlos,
    as_of: dt.datetime,
    window_start: dt.datetime,
    sla: SlaSource,
    signals: dict[str, Any],
) -> list[dict[str, Any]]:
    """error_rate and latency (or per-workflow sla) checks over the window; fills ``signals``."""
    params: dict[str, Any] = {"start": window_start, "end": as_of}
    if slo.latency_ms is not None:
        params["slow_ms"] = slo.latency_ms
    row = wb.query(query, **params).iloc[0]
    n, errors = int(row["requests"]), int(row["errors"])
    p95 = None if pd.isna(row["p95_ms"]) else float(row["p95_ms"])
    signals.update(requests=n, errors=errors, p95_ms=p95)
    window = f"the last {objectives.window_hours:g} h"
    out = [
        _rate_check(
            system,
            "error_rate",
            signal_table,
            errors,
            n,
            slo.error_rate,
            slo.error_rate_down,
            objectives.alpha,
            f"error rate of {signal_table}",
            window,
        )
    ]
    if slo.latency_ms is not None:
        slow = int(row["slow"])
        check = _rate_check(
            system,
            "latency",
            signal_table,
            slow,
            n,
            slo.latency_share,
            None,
            objectives.alpha,
            f"share of {signal_table} slower than {slo.latency_ms:g} ms",
            window,
        )
        if p95 is not None:
            check["reason"] += f"; p95 {p95:,.0f} ms"
        out.append(check)
    else:
        breaches = sla_breaches(wb, start=window_start, end=as_of, targets=sla)
        for rec in breaches.itertuples(index=False):
            out.append(_sla_check(system, rec, objectives.alpha, window))
    return out


def _rate_check(
    system: str,
    name: str,
    subject: str,
    k: int,
    n: int,
    limit: float,
    down_limit: float | None,
    alpha: float,
    what: str,
    window: str,
) -> dict[str, Any]:
    if n == 0:
        return _check(
            system,
            name,
            subject,
            "no_data",
            threshold=limit,
            unit="share",
            n=0,
            reason=f"no {subject} rows in {window}",
        )
    rate = k / n
    p = float(stats.binom.sf(k - 1, n, limit))
    p_down = float(stats.binom.sf(k - 1, n, down_limit)) if down_limit is not None else 1.0
    base = f"{what} is {rate:.1%} ({k} of {n}) in {window}"
    if p_down < alpha:
        status, reason = "down", f"{base}, above {down_limit:.0%} (p = {p_down:.2g})"
    elif p < alpha:
        status, reason = "degraded", f"{base}, above the SLO of {limit:.1%} (p = {p:.2g})"
    else:
        status, reason = "ok", f"{base}; SLO {limit:.1%}"
    return _check(
        system,
        name,
        subject,
        status,
        value=rate,
        threshold=limit,
        unit="share",
        n=n,
        p_value=p,
        reason=reason,
    )


def _sla_check(system: str, rec: Any, alpha: float, window: str) -> dict[str, Any]:
    if rec.measured == 0:
        return _check(
            system,
            "sla",
            rec.workflow_id,
            "no_data",
            threshold=rec.objective,
            unit="share",
            n=0,
            reason=f"no measured {rec.workflow_id} runs in {window}",
        )
    base = (
        f"{rec.workflow_id}: {rec.attainment:.1%} of {rec.measured} runs within "
        f"{rec.target_ms:,.0f} ms in {window}"
    )
    if rec.p_value < alpha:
        status, reason = (
            "degraded",
            f"{base}, below the objective of {rec.objective:.0%} (p = {rec.p_value:.2g})",
        )
    else:
        status, reason = "ok", f"{base}; objective {rec.objective:.0%}"
    return _check(
        system,
        "sla",
        rec.workflow_id,
        status,
        value=rec.attainment,
        threshold=rec.objective,
        unit="share",
        n=int(rec.measured),
        p_value=float(rec.p_value),
        reason=reason,
    )


def _check(
    system: str,
    check: str,
    subject: str,
    status: str,
    *,
    value: float = math.nan,
    threshold: float = math.nan,
    unit: str = "",
    n: int | None = None,
    p_value: float = math.nan,
    reason: str,
) -> dict[str, Any]:
    return {
        "system": system,
        "check": check,
        "subject": subject,
        "status": status,
        "value": value,
        "threshold": threshold,
        "unit": unit,
        "n": n,
        "p_value": p_value,
        "reason": reason,
    }


def _hours(delta: dt.timedelta) -> float:
    return delta / dt.timedelta(hours=1)


def _merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out
