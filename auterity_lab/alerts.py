"""Alert rules (spec §7.2): YAML rules evaluated over metric series, with duration and cooldown.

A rule's condition is ``metric <operator> threshold`` (``gt``, ``lt``, ``eq``, ``ne``; ``eq`` and
``ne`` compare with a relative tolerance of 1e-9) on the metric's series at the rule's grain.

Semantics (:func:`evaluate_rule`)
---------------------------------
* A period's value stands for the whole period. A period with no value (no observations, or
  fewer than ``min_n``) does not meet the condition.
* **Duration**: the rule fires once the condition has held for ``duration`` seconds, that is for
  ``max(1, ceil(duration / period length))`` consecutive periods; the alert time is the end of
  the last of them.
* **Cooldown** (the spec's ``AlertManager``): while the condition keeps holding, the rule fires
  again at the end of the first period at least ``cooldown`` seconds after its previous firing.
  When the condition stops holding the breach ends and the cooldown resets: the next breach
  fires as soon as it has lasted ``duration``.
* **State** across checks (table ``alert_state``): the last firing time, the number of firings
  and the status (``ok``, ``firing``, or ``acknowledged``: firing, but notifications muted until
  the breach ends). A check re-reading periods up to the last firing does not fire for them
  again; when a breach was ongoing at the end of the previous check and still holds in the first
  period of this one, it continues (with its cooldown). A breach that had not yet lasted
  ``duration`` when the previous check ended is counted again from this check's first period, so
  let consecutive checks overlap by at least ``duration``.

Examples
--------
>>> rule = AlertRule(id="hot", name="Hot", metric="ai_p95_latency", operator="gt",
...                  threshold=2000, duration="2h", grain="hour", severity="high",
...                  channels=["dashboard"], cooldown="3h")
>>> times = pd.date_range("2026-01-01", periods=9, freq="h", tz="UTC")
>>> values = [1, 2500, 2600, 2700, 2800, 2900, 10, 3000, 3100]
>>> fired, state = evaluate_rule(rule, pd.DataFrame({"period": times, "value": values}))
>>> [f.at.hour for f in fired], state.status, state.trigger_count
([3, 6, 9], 'firing', 3)
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from auterity_lab.channels import CHANNELS, DELIVERY_COLUMNS, Alert, ChannelSettings, deliver
from auterity_lab.errors import ConfigError, QueryParameterError
from auterity_lab.metrics import CATALOG, GRAINS, MetricUnavailableError, metric_series
from auterity_lab.periods import DateRange
from auterity_lab.state import StateStore, stable_id, to_json

if TYPE_CHECKING:
    from auterity_lab.warehouse import Workbench

RULES_ENV = "AUTERITY_LAB_ALERT_RULES"
"""Environment variable naming a rules YAML that replaces the shipped one."""

OPERATORS = {
    "gt": lambda v, t: v > t,
    "lt": lambda v, t: v < t,
    "eq": lambda v, t: np.isclose(v, t, rtol=1e-9, atol=1e-12),
    "ne": lambda v, t: ~np.isclose(v, t, rtol=1e-9, atol=1e-12),
}
"""Operator name → vectorised comparison of values with the threshold."""

ALERT_COLUMNS = (
    "alert_id",
    "rule_id",
    "rule_name",
    "metric",
    "segment",
    "severity",
    "operator",
    "threshold",
    "value",
    "period",
    "at",
    "breach_started",
    "message",
    "channels",
    "deliveries",
)
RULE_COLUMNS = (
    "rule_id",
    "metric",
    "segment",
    "grain",
    "evaluated",
    "periods",
    "breaching",
    "fired",
    "status",
    "note",
)

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
_UNIT_S = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class AlertRuleError(ConfigError):
    """A rules file or rule is invalid (the message names the rule and the field)."""


def parse_duration(value: Any) -> int:
    """Seconds from an int/float of seconds or a string like ``90s``, ``15m``, ``2h``, ``1d``.

    Examples
    --------
    >>> parse_duration("2h"), parse_duration(90), parse_duration("1.5d")
    (7200, 90, 129600)
    """
    if isinstance(value, bool):
        raise ConfigError("a duration is a number of seconds or text like '2h'")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        m = _DURATION.match(str(value))
        if not m:
            raise ConfigError(f"{value!r} is not a duration (use seconds or 90s, 15m, 2h, 1d, 1w)")
        seconds = float(m[1]) * _UNIT_S[m[2]]
    if seconds < 0 or not math.isfinite(seconds):
        raise ConfigError(f"duration must be >= 0, not {value!r}")
    return int(round(seconds))


def format_duration(seconds: int) -> str:
    """The largest whole unit of a duration: ``2h``, ``1d``, ``90m``, ``45s``.

    Examples
    --------
    >>> format_duration(7200), format_duration(5400), format_duration(86400 * 7)
    ('2h', '90m', '1w')
    """
    for unit in ("w", "d", "h", "m"):
        size = _UNIT_S[unit]
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


class AlertRule(BaseModel):
    """One rule (spec ``AlertRule``; the spec's nested ``condition`` is accepted too)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    name: str
    metric: str
    segment: str = ""
    operator: Literal["gt", "lt", "eq", "ne"]
    threshold: float
    duration: int = Field(0, description="Seconds the condition must hold.")
    severity: Literal["low", "medium", "high", "critical"]
    channels: tuple[str, ...] = ("dashboard",)
    cooldown: int = Field(0, description="Seconds between firings while it keeps holding.")
    enabled: bool = True
    grain: Literal["hour", "day"] = "hour"
    min_n: int = Field(0, ge=0, description="Fewest observations a period needs to count.")
    description: str = ""

    @model_validator(mode="before")
    @classmethod
    def _lift_condition(cls, data: Any) -> Any:
        if isinstance(data, dict) and "condition" in data:
            cond = data["condition"]
            if not isinstance(cond, dict):
                raise ValueError(
                    "condition must be a mapping of metric, operator, threshold, duration"
                )
            clash = sorted(set(cond) & (set(data) - {"condition"}))
            if clash:
                raise ValueError(f"{', '.join(clash)} given both in condition and at the top")
            data = {k: v for k, v in data.items() if k != "condition"} | cond
        return data

    @field_validator("duration", "cooldown", mode="before")
    @classmethod
    def _seconds(cls, value: Any) -> int:
        return parse_duration(value)

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, value: str) -> str:
        if value not in CATALOG:
            raise ValueError(f"unknown metric {value!r}; known: {', '.join(CATALOG)}")
        return value

    @field_validator("channels")
    @classmethod
    def _known_channels(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [c for c in value if c not in CHANNELS]
        if unknown:
            raise ValueError(f"unknown channel {', '.join(unknown)}; known: {', '.join(CHANNELS)}")
        if not value:
            raise ValueError("a rule needs at least one channel")
        return tuple(dict.fromkeys(value))

    @model_validator(mode="after")
    def _segment_exists(self) -> AlertRule:
        if self.segment and CATALOG[self.metric].segment_query is None:
            raise ValueError(f"metric {self.metric!r} has no segments")
        if not self.segment and CATALOG[self.metric].query is None:
            raise ValueError(f"metric {self.metric!r} exists per segment only: give a segment")
        return self

    @property
    def periods_needed(self) -> int:
        """Consecutive periods the condition must hold before the rule fires."""
        seconds = GRAINS[self.grain].total_seconds()
        return max(1, math.ceil(self.duration / seconds))


class AlertConfig(BaseModel):
    """A rules file: the channels' settings and the rules (ids unique)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    channels: ChannelSettings = Field(default_factory=ChannelSettings)
    rules: tuple[AlertRule, ...] = ()

    @field_validator("rules")
    @classmethod
    def _unique_ids(cls, value: tuple[AlertRule, ...]) -> tuple[AlertRule, ...]:
        seen: set[str] = set()
        repeated = sorted({r.id for r in value if r.id in seen or seen.add(r.id)})  # type: ignore[func-returns-value]
        if repeated:
            raise ValueError(f"rule ids must be unique; repeated: {', '.join(repeated)}")
        return value


def load_rules(source: str | Path | None = None) -> AlertConfig:
    """Read and validate a rules YAML (default: ``$AUTERITY_LAB_ALERT_RULES``, else the shipped
    ``alert_rules.yml``).

    Raises
    ------
    AlertRuleError
        The file is missing, not YAML, or a rule is invalid (the message names it).

    Examples
    --------
    >>> config = load_rules()
    >>> [r.id for r in config.rules][:2], config.rules[0].duration
    (['ai-error-rate-high', 'ai-response-time-slow'], 7200)
    """
    if source is not None and not isinstance(source, str | Path):
        raise AlertRuleError(f"rules source must be a path, not {type(source).__name__}")
    path = Path(source) if source is not None else _default_rules_path()
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise AlertRuleError(f"rules file {path} does not exist") from exc
    except (OSError, UnicodeDecodeError) as exc:  # a directory, a name too long, binary
        raise AlertRuleError(f"rules file {path} cannot be read: {exc}") from exc
    except yaml.YAMLError as exc:
        raise AlertRuleError(f"rules file {path} is not valid YAML: {exc}") from exc
    if not isinstance(loaded, dict):
        raise AlertRuleError(f"rules file {path} must hold a mapping with 'rules' (and 'channels')")
    try:
        return AlertConfig.model_validate(loaded)
    except ValidationError as exc:
        raise AlertRuleError(f"rules file {path}: {_explain(exc, loaded)}") from exc


def _default_rules_path() -> Path:
    env = os.environ.get(RULES_ENV)
    if env:
        return Path(env)
    return Path(str(resources.files("auterity_lab") / "alert_rules.yml"))


def _explain(exc: ValidationError, loaded: dict[str, Any]) -> str:
    parts = []
    for err in exc.errors():
        loc = list(err["loc"])
        where = ".".join(map(str, loc))
        if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
            rules = loaded.get("rules") or []
            rule_id = (
                rules[loc[1]].get("id")
                if loc[1] < len(rules) and isinstance(rules[loc[1]], dict)
                else None
            )
            where = f"rule {rule_id or '#' + str(loc[1] + 1)}" + (
                f" field {'.'.join(map(str, loc[2:]))}" if loc[2:] else ""
            )
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


def rules_table(config: AlertConfig | None = None) -> pd.DataFrame:
    """The rules as a table: ``rule_id``, ``name``, ``metric``, ``segment``, ``operator``,
    ``threshold``, ``duration_s``, ``grain``, ``min_n``, ``severity``, ``channels``,
    ``cooldown_s``, ``enabled``.

    Examples
    --------
    >>> rules_table().set_index("rule_id").loc["no-sessions", "operator"]
    'eq'
    """
    cfg = config or load_rules()
    return pd.DataFrame(
        [
            {
                "rule_id": r.id,
                "name": r.name,
                "metric": r.metric,
                "segment": r.segment,
                "operator": r.operator,
                "threshold": r.threshold,
                "duration_s": r.duration,
                "grain": r.grain,
                "min_n": r.min_n,
                "severity": r.severity,
                "channels": ",".join(r.channels),
                "cooldown_s": r.cooldown,
                "enabled": r.enabled,
            }
            for r in cfg.rules
        ],
        columns=[
            "rule_id",
            "name",
            "metric",
            "segment",
            "operator",
            "threshold",
            "duration_s",
            "grain",
            "min_n",
            "severity",
            "channels",
            "cooldown_s",
            "enabled",
        ],
    )


# ============================================================================ evaluation
@dataclass(frozen=True)
class RuleState:
    """A rule's bookkeeping between checks (a row of ``alert_state``)."""

    last_triggered_at: pd.Timestamp | None = None
    trigger_count: int = 0
    status: str = "ok"  # ok | firing | acknowledged


@dataclass(frozen=True)
class Firing:
    """One firing found by :func:`evaluate_rule`: the period that completed it and its end."""

    period: pd.Timestamp
    at: pd.Timestamp
    value: float
    breach_started: pd.Timestamp
    notify: bool


def evaluate_rule(
    rule: AlertRule, series: pd.DataFrame, state: RuleState | None = None
) -> tuple[list[Firing], RuleState]:
    """Where ``rule`` fires on a series, given the state of the previous check.

    Parameters
    ----------
    series
        ``period`` (start of each period, a regular grid at the rule's grain) and ``value``;
        ``n`` (observations) is used when the rule has ``min_n``.
    state
        The rule's state after the previous check (default: a fresh rule).

    Returns
    -------
    (firings, state)
        The firings in time order and the state to store. ``Firing.notify`` is False for
        firings while the alert is acknowledged.
    """
    state = state or RuleState()
    if series.empty:
        return [], state
    frame = series.sort_values("period")
    periods = pd.to_datetime(frame["period"], utc=True).reset_index(drop=True)
    values = frame["value"].to_numpy(dtype=float)
    holds = condition_holds(rule, frame)
    step = pd.Timedelta(GRAINS[rule.grain])
    cooldown = pd.Timedelta(seconds=rule.cooldown)
    needed = rule.periods_needed
    last = state.last_triggered_at
    ongoing = state.status in ("firing", "acknowledged") and bool(holds[0])
    run = needed if ongoing else 0
    last_fired = last if ongoing else None
    started = periods[0] if ongoing else None
    status = state.status if ongoing else "ok"
    count = state.trigger_count
    fired: list[Firing] = []
    for i, hold in enumerate(holds):
        if not hold:
            run, last_fired, started, status = 0, None, None, "ok"
            continue
        run += 1
        started = periods[i] if started is None else started
        end = periods[i] + step
        if run < needed:
            continue
        if last is not None and end <= last:  # already handled by an earlier check
            last_fired = last if last_fired is None else last_fired
            continue
        if last_fired is not None and end - last_fired < cooldown:
            continue
        notify = status != "acknowledged"
        fired.append(Firing(periods[i], end, float(values[i]), started, notify))
        last_fired = end
        count += 1
        status = "acknowledged" if status == "acknowledged" else "firing"
    final_status = status if bool(holds[-1]) else "ok"
    last_out = fired[-1].at if fired else state.last_triggered_at
    return fired, RuleState(last_out, count, final_status)


def condition_holds(rule: AlertRule, series: pd.DataFrame) -> np.ndarray:
    """Per row of ``series`` (``value``, optional ``n``): does the rule's condition hold?

    A missing value, or fewer than ``min_n`` observations, never holds.

    Examples
    --------
    >>> rule = AlertRule(id="r", name="r", metric="sessions", operator="eq", threshold=0,
    ...                  severity="low")
    >>> condition_holds(rule, pd.DataFrame({"value": [0.0, 1.0, float("nan")]})).tolist()
    [True, False, False]
    """
    values = series["value"].to_numpy(dtype=float)
    ok = np.isfinite(values)
    if rule.min_n and "n" in series:
        ok &= series["n"].to_numpy(dtype=float) >= rule.min_n
    return ok & np.asarray(
        OPERATORS[rule.operator](np.where(ok, values, 0.0), rule.threshold), dtype=bool
    )


# ================================================================================ checks
@dataclass(frozen=True)
class AlertCheck:
    """What :func:`check_alerts` did.

    Attributes
    ----------
    alerts
        One row per firing: :data:`ALERT_COLUMNS` (``at`` is the end of the period that
        completed the duration; ``deliveries`` summarises each channel's outcome, e.g.
        ``dashboard:delivered slack:skipped``).
    deliveries
        One row per alert and channel: ``alert_id``, ``tenant``, ``channel``, ``status``
        (delivered, failed, skipped), ``attempts``, ``error``, ``delivered_at``.
    rules
        One row per rule: :data:`RULE_COLUMNS` (``evaluated`` False with a ``note`` for a
        disabled rule or a metric that cannot be computed).
    """

    alerts: pd.DataFrame
    deliveries: pd.DataFrame
    rules: pd.DataFrame


def check_alerts(
    wb: Workbench,
    /,
    *,
    start: Any,
    end: Any,
    rules: AlertConfig | str | Path | None = None,
    rule_ids: Iterable[str] | None = None,
    notify: bool = True,
    state: StateStore | None = None,
) -> AlertCheck:
    """Evaluate the enabled rules over ``[start, end)``, log and deliver what fires.

    Parameters
    ----------
    rules
        An :class:`AlertConfig`, a rules YAML path, or None for :func:`load_rules`'s default.
    rule_ids
        Only these rules.
    notify
        Deliver firings to their channels (False: evaluate, log and update state only).
    state
        The store (default: the one of the workbench's data directory).

    Returns
    -------
    AlertCheck

    Examples
    --------
    >>> check = check_alerts(wb, start="2026-09-17", end="2026-09-18")          # doctest: +SKIP
    >>> check.alerts[["rule_id", "value", "at", "deliveries"]]                  # doctest: +SKIP
    """
    rng = DateRange.of(start, end)
    config = rules if isinstance(rules, AlertConfig) else load_rules(rules)
    wanted = set(rule_ids) if rule_ids is not None else None
    if wanted is not None:
        unknown = sorted(wanted - {r.id for r in config.rules})
        if unknown:
            raise QueryParameterError(
                f"no rule {', '.join(unknown)}; known: {', '.join(r.id for r in config.rules)}"
            )
    store = state or StateStore.for_data_dir(wb.data_dir)
    stored = store.read("alert_state", tenant=wb.tenant).set_index("rule_id")
    alerts, deliveries, summary, new_state = [], [], [], []
    for rule in config.rules:
        if wanted is not None and rule.id not in wanted:
            continue
        base = {
            "rule_id": rule.id,
            "metric": rule.metric,
            "segment": rule.segment,
            "grain": rule.grain,
        }
        if not rule.enabled:
            summary.append(
                base
                | {
                    "evaluated": False,
                    "periods": 0,
                    "breaching": 0,
                    "fired": 0,
                    "status": None,
                    "note": "disabled",
                }
            )
            continue
        try:
            series = _rule_series(wb, rule, rng)
        except MetricUnavailableError as exc:
            summary.append(
                base
                | {
                    "evaluated": False,
                    "periods": 0,
                    "breaching": 0,
                    "fired": 0,
                    "status": None,
                    "note": str(exc),
                }
            )
            continue
        previous = _state_of(stored, rule.id)
        fired, after = evaluate_rule(rule, series, previous)
        for f in fired:
            alert = _alert(wb.tenant, rule, f)
            sent = (
                deliver(alert, rule.channels, settings=config.channels, store=store)
                if notify and f.notify
                else []
            )
            deliveries += [d.__dict__ for d in sent]
            alerts.append(
                alert.payload()
                | {
                    "at": f.at,
                    "period": f.period,
                    "breach_started": f.breach_started,
                    "channels": ",".join(rule.channels),
                    "deliveries": " ".join(f"{d.channel}:{d.status}" for d in sent)
                    or ("muted (acknowledged)" if not f.notify else "not sent"),
                }
            )
            store.upsert("alert_log", pd.DataFrame([_log_row(alert)]))
        new_state.append(
            {
                "rule_id": rule.id,
                "tenant_id": wb.tenant,
                "last_triggered_at": after.last_triggered_at,
                "trigger_count": after.trigger_count,
                "status": after.status,
                "updated_at": pd.Timestamp.now(tz="UTC"),
            }
        )
        summary.append(
            base
            | {
                "evaluated": True,
                "periods": len(series),
                "breaching": int(condition_holds(rule, series).sum()),
                "fired": len(fired),
                "status": after.status,
                "note": "",
            }
        )
    if new_state:
        store.upsert("alert_state", pd.DataFrame(new_state))
    alert_frame = pd.DataFrame(alerts)
    alert_frame = (
        alert_frame.rename(columns={"tenant": "tenant_id"})[list(ALERT_COLUMNS)]
        if not alert_frame.empty
        else pd.DataFrame(columns=list(ALERT_COLUMNS))
    )
    return AlertCheck(
        alerts=alert_frame,
        deliveries=pd.DataFrame(deliveries, columns=list(DELIVERY_COLUMNS)),
        rules=pd.DataFrame(summary, columns=list(RULE_COLUMNS)),
    )


def acknowledge_alert(
    wb: Workbench, /, rule_id: str, *, state: StateStore | None = None
) -> pd.Series:
    """Mute a firing rule until its breach ends (status ``firing`` → ``acknowledged``).

    Raises
    ------
    QueryParameterError
        The rule is not firing for this tenant.

    Examples
    --------
    >>> acknowledge_alert(wb, "ai-error-rate-high")["status"]                   # doctest: +SKIP
    'acknowledged'
    """
    store = state or StateStore.for_data_dir(wb.data_dir)
    with store.lock():
        rows = store.read("alert_state", tenant=wb.tenant)
        hit = rows[rows["rule_id"] == rule_id]
        if hit.empty or hit.iloc[0]["status"] not in ("firing", "acknowledged"):
            now = "never fired" if hit.empty else hit.iloc[0]["status"]
            raise QueryParameterError(
                f"rule {rule_id!r} is not firing for tenant {wb.tenant!r} ({now})"
            )
        row = hit.iloc[0].copy()
        row["status"] = "acknowledged"
        row["updated_at"] = pd.Timestamp.now(tz="UTC")
        store.upsert("alert_state", row.to_frame().T)
    return row


def alert_history(wb: Workbench, /, *, state: StateStore | None = None) -> pd.DataFrame:
    """The tenant's fired alerts, newest first, with each channel's delivery outcome.

    Returns
    -------
    DataFrame
        The ``alert_log`` columns (``alert_id``, ``rule_id``, ``rule_name``, ``metric``,
        ``segment``, ``severity``, ``operator``, ``threshold``, ``value``, ``period``,
        ``breach_started``, ``message``, ``channels``, ``fired_at``) and ``deliveries`` (e.g.
        ``slack:failed(3)``).
    """
    store = state or StateStore.for_data_dir(wb.data_dir)
    log = store.read("alert_log", tenant=wb.tenant)
    sent = store.read("alert_deliveries", tenant=wb.tenant)
    summary = (
        sent.groupby("alert_id").apply(
            lambda g: " ".join(
                f"{c}:{s}" + (f"({a})" if s == "failed" else "")
                for c, s, a in zip(g["channel"], g["status"], g["attempts"], strict=True)
            ),
            include_groups=False,
        )
        if not sent.empty
        else pd.Series(dtype=object)
    )
    log["deliveries"] = [summary.get(a, "") for a in log["alert_id"]]
    return (
        log.drop(columns="tenant_id")
        .sort_values("fired_at", ascending=False, kind="stable")
        .reset_index(drop=True)
    )


# ------------------------------------------------------------------------------ helpers
def _rule_series(wb: Workbench, rule: AlertRule, rng: DateRange) -> pd.DataFrame:
    series = metric_series(
        wb, **rng.params(), grain=rule.grain, metrics=[rule.metric], segments=bool(rule.segment)
    )
    return series[series["segment"] == rule.segment].reset_index(drop=True)


def _state_of(stored: pd.DataFrame, rule_id: str) -> RuleState:
    if rule_id not in stored.index:
        return RuleState()
    row = stored.loc[rule_id]
    last = row["last_triggered_at"]
    return RuleState(
        None if pd.isna(last) else pd.Timestamp(last), int(row["trigger_count"]), str(row["status"])
    )


def _alert(tenant: str, rule: AlertRule, f: Firing) -> Alert:
    seg = f" [{rule.segment}]" if rule.segment else ""
    held = f"for {format_duration(rule.duration)}" if rule.duration else ""
    message = (
        f"{rule.name}: {rule.metric}{seg} = {f.value:.4g} ({rule.operator} "
        f"{rule.threshold:.4g}) {held} since {f.breach_started.isoformat()}, "
        f"tenant {tenant}"
    ).replace("  ", " ")
    return Alert(
        alert_id=stable_id("alert", tenant, rule.id, f.at.isoformat()),
        tenant=tenant,
        rule_id=rule.id,
        rule_name=rule.name,
        metric=rule.metric,
        segment=rule.segment,
        severity=rule.severity,
        operator=rule.operator,
        threshold=rule.threshold,
        value=f.value,
        period=f.period,
        breach_started=f.breach_started,
        message=message,
        channels=rule.channels,
        fired_at=pd.Timestamp.now(tz="UTC"),
    )


def _log_row(alert: Alert) -> dict[str, Any]:
    return {
        "alert_id": alert.alert_id,
        "tenant_id": alert.tenant,
        "rule_id": alert.rule_id,
        "rule_name": alert.rule_name,
        "metric": alert.metric,
        "segment": alert.segment,
        "severity": alert.severity,
        "operator": alert.operator,
        "threshold": alert.threshold,
        "value": alert.value,
        "period": alert.period,
        "breach_started": alert.breach_started,
        "message": alert.message,
        "channels": to_json(list(alert.channels)),
        "fired_at": alert.fired_at,
    }


__all__ = [
    "AlertCheck",
    "AlertConfig",
    "AlertRule",
    "AlertRuleError",
    "Firing",
    "RuleState",
    "acknowledge_alert",
    "alert_history",
    "check_alerts",
    "evaluate_rule",
    "load_rules",
    "parse_duration",
    "rules_table",
]
