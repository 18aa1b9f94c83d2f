"""Insight and alert actions (spec ``onInsightAction`` / ``onAlertAction``): acknowledge, dismiss
or resolve, persisted, then handed to the caller's callback.

Insights keep their lifecycle in the state store (:func:`auterity_lab.insights.update_insight`).
Fired alerts (the ``alert_log`` of :mod:`auterity_lab.alerts`) get the same lifecycle, ``open →
acknowledged → resolved | dismissed`` (``open`` may also go straight to resolved or dismissed;
resolved and dismissed are final), kept per tenant in ``DATA_DIR/state/alert_status.json``,
changed under the state store's lock and replaced atomically. Acknowledging an alert whose rule
is still firing also mutes the rule's notifications until the breach ends
(:func:`auterity_lab.alerts.acknowledge_alert`).

Examples
--------
>>> apply_alert_action(wb, "3f2c...", "resolve", callback=print)            # doctest: +SKIP
3f2c... resolve
>>> ALERT_TRANSITIONS["acknowledged"]
('resolved', 'dismissed')
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from auterity_lab.audit import audit_log_for, audited
from auterity_lab.errors import AuterityLabError, QueryParameterError
from auterity_lab.security import current_context
from auterity_lab.state import ACTIONS, InvalidTransitionError, StateStore

if TYPE_CHECKING:
    from auterity_lab.warehouse import Workbench

ActionCallback = Callable[[str, str], None]
"""``callback(id, action)``, as the spec's ``onInsightAction(insightId, action)``."""

ALERT_STATUSES = ("open", "acknowledged", "resolved", "dismissed")
ALERT_TRANSITIONS: dict[str, tuple[str, ...]] = {
    "open": ("acknowledged", "resolved", "dismissed"),
    "acknowledged": ("resolved", "dismissed"),
    "resolved": (),
    "dismissed": (),
}
"""Status → the statuses an alert may move to."""

ALERT_COLUMNS = [
    "alert_id",
    "rule_id",
    "rule_name",
    "severity",
    "metric",
    "value",
    "threshold",
    "period",
    "fired_at",
    "message",
    "deliveries",
    "status",
    "status_updated_at",
]
"""Columns of :func:`alerts`."""

_STATUS_FILE = "alert_status.json"


class AlertNotFoundError(LookupError, AuterityLabError):
    """The tenant has no fired alert with that id."""


def apply_insight_action(
    wb: Workbench, /, insight_id: str, action: str, *, callback: ActionCallback | None = None
) -> pd.Series:
    """Acknowledge, resolve or dismiss an insight, persist it, then call ``callback(id, action)``.

    Returns
    -------
    Series
        The stored insight row after the action.

    Raises
    ------
    QueryParameterError
        An unknown action.
    auterity_lab.state.InsightNotFoundError, auterity_lab.state.InvalidTransitionError
        No such insight, or its lifecycle forbids the action (nothing changes, no callback).
    """
    from auterity_lab.insights import update_insight

    row = update_insight(wb, insight_id, action=_action(action))
    if callback is not None:
        callback(str(row["id"]), action)
    return row


def apply_alert_action(
    wb: Workbench, /, alert_id: str, action: str, *, callback: ActionCallback | None = None
) -> str:
    """Acknowledge, resolve or dismiss a fired alert, persist it, then call
    ``callback(alert_id, action)``; returns the new status.

    Repeating the action that led to the current status changes nothing (and still calls back).

    Raises
    ------
    QueryParameterError
        An unknown action.
    AlertNotFoundError
        The tenant has no such alert.
    auterity_lab.state.InvalidTransitionError
        The lifecycle forbids it (e.g. acknowledging a dismissed alert).
    """
    from auterity_lab.alerts import acknowledge_alert

    target = ACTIONS[_action(action)]
    ctx = wb.context or current_context()
    store = StateStore.for_data_dir(wb.data_dir)
    log = store.read("alert_log", tenant=wb.tenant)
    hit = log[log["alert_id"] == alert_id]
    if hit.empty:
        raise AlertNotFoundError(f"tenant {wb.tenant!r} has no alert {alert_id!r}")
    with (
        audited(
            audit_log_for(wb.settings, wb.data_dir, ctx),
            f"alert.{target}",
            context=ctx,
            permission="insights:write",
            tenant=wb.tenant,
            target=alert_id,
        ),
        store.lock(),
    ):
        statuses = _read(store)
        mine = statuses.setdefault(wb.tenant, {})
        current = mine.get(alert_id, {}).get("status", "open")
        if current != target:
            if target not in ALERT_TRANSITIONS[current]:
                allowed = ", ".join(ALERT_TRANSITIONS[current]) or "none (final)"
                raise InvalidTransitionError(
                    f"alert {alert_id!r} is {current}; it cannot become {target} "
                    f"(allowed: {allowed})"
                )
            mine[alert_id] = {
                "status": target,
                "updated_at": pd.Timestamp.now(tz="UTC").isoformat(),
            }
            _write(store, statuses)
    if target == "acknowledged":
        with contextlib.suppress(QueryParameterError):  # a breach that is over: nothing to mute
            acknowledge_alert(wb, str(hit.iloc[0]["rule_id"]), state=store)
    if callback is not None:
        callback(alert_id, action)
    return target


def alerts(wb: Workbench, /, *, status: str | None = None) -> pd.DataFrame:
    """The tenant's fired alerts, newest first, with their status.

    Parameters
    ----------
    status
        ``open`` (the default view of the dashboard), ``acknowledged``, ``resolved``,
        ``dismissed``, or None for all.

    Returns
    -------
    DataFrame
        :data:`ALERT_COLUMNS`; ``deliveries`` summarises each channel's outcome; an alert never
        acted on is ``open`` with ``status_updated_at`` NaT.
    """
    from auterity_lab.alerts import alert_history

    if status is not None and status not in ALERT_STATUSES:
        raise QueryParameterError(
            f"status must be one of {', '.join(ALERT_STATUSES)}, not {status!r}"
        )
    store = StateStore.for_data_dir(wb.data_dir)
    log = alert_history(wb, state=store)
    mine = _read(store).get(wb.tenant, {})
    log["status"] = [mine.get(a, {}).get("status", "open") for a in log["alert_id"]]
    log["status_updated_at"] = pd.to_datetime(
        [mine.get(a, {}).get("updated_at") for a in log["alert_id"]], utc=True
    )
    if status is not None:
        log = log[log["status"] == status]
    return log.reindex(columns=ALERT_COLUMNS).reset_index(drop=True)


def _action(action: str) -> str:
    if action not in ACTIONS:
        raise QueryParameterError(f"action must be one of {', '.join(ACTIONS)}, not {action!r}")
    return action


def _path(store: StateStore) -> Path:
    return store.root / _STATUS_FILE


def _read(store: StateStore) -> dict[str, dict[str, dict[str, str]]]:
    try:
        return json.loads(_path(store).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except ValueError as exc:
        raise AuterityLabError(f"alert statuses {_path(store)} are not valid JSON: {exc}") from None


def _write(store: StateStore, statuses: dict[str, dict[str, dict[str, str]]]) -> None:
    path = _path(store)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    tmp.write_text(json.dumps(statuses, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)
