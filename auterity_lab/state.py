"""The workbench's own state: correlations, insights and alerts, kept under ``DATA_DIR/state/``.

One Parquet file per table (``system_correlations``, ``unified_insights``, ``alert_state`` with
the columns of :mod:`auterity_lab.schema`; ``alert_log``, ``alert_deliveries`` and
``dashboard_alerts`` for fired alerts and where they went). Every change is a read-modify-write
under an exclusive lock (``state/.lock``, :func:`fcntl.flock`), and a file is replaced atomically
(written to a temporary name, then renamed), so readers never see half a table and two processes
never lose each other's writes.

Insights follow the spec's lifecycle ``active → acknowledged → resolved | dismissed``
(``active`` may also go straight to ``resolved`` or ``dismissed``; ``resolved`` and
``dismissed`` are final). A re-run of the insight generator updates the insight with the same
``insight_key`` in place: its text, severity and evidence change, its id, ``created_at`` and
status do not, so a dismissed insight stays dismissed.

Examples
--------
>>> store = StateStore.for_data_dir("data")                                  # doctest: +SKIP
>>> store.set_insight_status("acme", "trend:new_users:", "acknowledge")      # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import fcntl
import json
import math
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from auterity_lab.audit import audit_log_for, audited
from auterity_lab.config import load_settings
from auterity_lab.errors import AccessDeniedError, AuterityLabError, QueryParameterError
from auterity_lab.schema import table
from auterity_lab.security import SecurityContext, current_context, require_tenant

STATE_DIR = "state"
"""Folder of the state files inside a data directory."""

INSIGHT_STATUSES = ("active", "acknowledged", "resolved", "dismissed")
ACTIONS = {"acknowledge": "acknowledged", "resolve": "resolved", "dismiss": "dismissed"}
"""Action name → the status it moves an insight to."""

_TRANSITIONS = {
    "active": {"acknowledged", "resolved", "dismissed"},
    "acknowledged": {"resolved", "dismissed"},
    "resolved": set(),
    "dismissed": set(),
}
_NAMESPACE = uuid.UUID("6f1d3c62-5a0e-4d0a-9a52-6d1b0f3c7e11")
_LOCK_TIMEOUT_S = 30.0

# state tables that are not part of the canonical model: fired alerts and their deliveries
_EXTRA_SCHEMAS: dict[str, pa.Schema] = {
    "alert_log": pa.schema(
        [
            pa.field("alert_id", pa.string(), nullable=False),
            pa.field("tenant_id", pa.string(), nullable=False),
            pa.field("rule_id", pa.string(), nullable=False),
            pa.field("rule_name", pa.string()),
            pa.field("metric", pa.string()),
            pa.field("segment", pa.string()),
            pa.field("severity", pa.string()),
            pa.field("operator", pa.string()),
            pa.field("threshold", pa.float64()),
            pa.field("value", pa.float64()),
            pa.field("period", pa.timestamp("us", tz="UTC")),
            pa.field("breach_started", pa.timestamp("us", tz="UTC")),
            pa.field("message", pa.string()),
            pa.field("channels", pa.string()),
            pa.field("fired_at", pa.timestamp("us", tz="UTC"), nullable=False),
        ]
    ),
    "alert_deliveries": pa.schema(
        [
            pa.field("alert_id", pa.string(), nullable=False),
            pa.field("tenant_id", pa.string(), nullable=False),
            pa.field("channel", pa.string(), nullable=False),
            pa.field("status", pa.string(), nullable=False),
            pa.field("attempts", pa.int32(), nullable=False),
            pa.field("error", pa.string()),
            pa.field("delivered_at", pa.timestamp("us", tz="UTC"), nullable=False),
        ]
    ),
    "dashboard_alerts": pa.schema(
        [
            pa.field("alert_id", pa.string(), nullable=False),
            pa.field("tenant_id", pa.string(), nullable=False),
            pa.field("rule_id", pa.string(), nullable=False),
            pa.field("severity", pa.string()),
            pa.field("message", pa.string()),
            pa.field("payload", pa.string()),
            pa.field("stored_at", pa.timestamp("us", tz="UTC"), nullable=False),
        ]
    ),
}
_KEYS: dict[str, tuple[str, ...]] = {
    "system_correlations": ("id",),
    "unified_insights": ("id",),
    "alert_state": ("rule_id", "tenant_id"),
    "alert_log": ("alert_id",),
    "alert_deliveries": ("alert_id", "channel"),
    "dashboard_alerts": ("alert_id",),
}
TABLES: tuple[str, ...] = tuple(_KEYS)
"""Every table the store keeps."""


class StateError(AuterityLabError):
    """The state store cannot be read, locked or written."""


class InsightNotFoundError(LookupError, StateError):
    """No insight of the tenant has the given id or key."""


class InvalidTransitionError(ValueError, StateError):
    """An insight cannot move from its status to the requested one."""


class StateStore:
    """The state tables of one data directory (any tenant). Open with :meth:`for_data_dir`.

    Attributes
    ----------
    root
        The ``state/`` folder.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    @classmethod
    def for_data_dir(cls, data_dir: str | Path) -> StateStore:
        """The store of ``data_dir`` (files under ``data_dir/state/``; created on first write)."""
        return cls(Path(data_dir) / STATE_DIR)

    def __repr__(self) -> str:
        return f"StateStore({str(self.root)!r})"

    # ------------------------------------------------------------------ reading
    def read(self, name: str, *, tenant: str | None = None) -> pd.DataFrame:
        """A state table (one tenant's rows, or all), with JSON columns as text.

        Returns an empty frame with the table's columns when nothing was written yet.

        Examples
        --------
        >>> StateStore("/nonexistent").read("unified_insights").columns.tolist()[:3]
        ['id', 'tenant_id', 'insight_key']
        """
        frame = self._load(name)
        if tenant is not None:
            frame = frame[frame["tenant_id"] == tenant]
        return frame.reset_index(drop=True)

    def insights(self, tenant: str, *, status: str | None = None) -> pd.DataFrame:
        """The tenant's insights, most severe and most recently updated first.

        Parameters
        ----------
        status
            Only insights with this status (``active``, ``acknowledged``, ``resolved``,
            ``dismissed``); None means all.

        Returns
        -------
        DataFrame
            The ``unified_insights`` columns; ``affected_systems``, ``metrics`` and
            ``recommendations`` decoded from JSON.
        """
        if status is not None and status not in INSIGHT_STATUSES:
            raise QueryParameterError(
                f"status must be one of {', '.join(INSIGHT_STATUSES)}, not {status!r}"
            )
        frame = self.read("unified_insights", tenant=tenant)
        if status is not None:
            frame = frame[frame["status"] == status]
        for col in ("affected_systems", "metrics", "recommendations"):
            frame[col] = [json.loads(v) if isinstance(v, str) else v for v in frame[col]]
        rank = {"critical": 0, "high": 1, "medium": 2, "low": 3}
        frame = frame.assign(_r=frame["severity"].map(rank).fillna(4))
        frame = frame.sort_values(["_r", "updated_at"], ascending=[True, False], kind="stable")
        return frame.drop(columns="_r").reset_index(drop=True)

    # ------------------------------------------------------------------ writing
    def upsert(self, name: str, rows: pd.DataFrame) -> pd.DataFrame:
        """Insert ``rows`` into a table, replacing the rows with the same key; returns them.

        The key is ``id`` for correlations and insights, ``(rule_id, tenant_id)`` for alert
        state, ``alert_id`` (and ``channel``) for the alert tables.
        """
        with self.lock():
            current = self._load(name)
            return self._replace(name, current, rows)

    def save_insights(self, tenant: str, insights: pd.DataFrame) -> pd.DataFrame:
        """Store freshly generated insights of ``tenant``, keyed by ``insight_key``.

        ``insights`` has ``insight_key``, ``insight_type``, ``title``, ``description``,
        ``severity``, ``affected_systems``, ``metrics``, ``recommendations`` (lists/dicts or
        JSON text). A key seen before keeps its id, ``created_at`` and status (so a dismissed
        insight stays dismissed) and gets the new content and ``updated_at``; a new key is stored
        as ``active`` with the id ``stable_id("insight", tenant, key)``. Returns the stored rows
        of these keys.
        """
        now = _now()
        with self.lock():
            current = self._load("unified_insights")
            mine = current[current["tenant_id"] == tenant].set_index("insight_key")
            rows = []
            for rec in insights.to_dict("records"):
                key = str(rec["insight_key"])
                old = mine.loc[key] if key in mine.index else None
                rows.append(
                    {
                        "id": old["id"] if old is not None else stable_id("insight", tenant, key),
                        "tenant_id": tenant,
                        "insight_key": key,
                        "insight_type": rec["insight_type"],
                        "title": str(rec["title"])[:255],
                        "description": rec["description"],
                        "severity": rec["severity"],
                        "affected_systems": to_json(rec["affected_systems"]),
                        "metrics": to_json(rec["metrics"]),
                        "recommendations": to_json(rec["recommendations"]),
                        "status": old["status"] if old is not None else "active",
                        "created_at": old["created_at"] if old is not None else now,
                        "updated_at": now,
                    }
                )
            return self._replace("unified_insights", current, pd.DataFrame(rows))

    def set_insight_status(
        self,
        tenant: str,
        insight: str,
        action: str,
        *,
        context: SecurityContext | None = None,
    ) -> pd.Series:
        """Apply ``acknowledge``, ``resolve`` or ``dismiss`` to one insight; returns its row.

        ``insight`` is the insight's id or its ``insight_key``. Repeating the action that led to
        the current status changes nothing.

        ``context`` (default: :func:`~auterity_lab.security.current_context`) is who asks: it
        must be bound to ``tenant`` and hold ``insights:write``. The change, or its denial or
        failure, is written to the audit log (see :func:`~auterity_lab.audit.audit_log_for`).

        Raises
        ------
        AccessDeniedError
            The caller is bound to another tenant or lacks ``insights:write``.
        QueryParameterError
            An unknown action.
        InsightNotFoundError
            The tenant has no such insight.
        InvalidTransitionError
            The lifecycle does not allow it (e.g. acknowledging a dismissed insight).
        """
        context = context if context is not None else current_context()
        log = audit_log_for(load_settings(), self.root.parent, context)
        if context is not None:
            try:
                require_tenant(context, tenant)
            except AccessDeniedError as exc:
                if log is not None:
                    log.record(f"insight.{action}", context=context, tenant=tenant,
                               target=insight, outcome="denied", detail=str(exc))  # fmt: skip
                raise
        with audited(
            log, f"insight.{action}", context=context, permission="insights:write",
            tenant=tenant, target=insight,
        ) as audit_entry:  # fmt: skip
            row = self._set_insight_status(tenant, insight, action)
            audit_entry.rows = 1
            audit_entry.detail = f"status {row['status']}"
        return row

    def _set_insight_status(self, tenant: str, insight: str, action: str) -> pd.Series:
        if action not in ACTIONS:
            raise QueryParameterError(f"action must be one of {', '.join(ACTIONS)}, not {action!r}")
        target = ACTIONS[action]
        with self.lock():
            current = self._load("unified_insights")
            hit = (current["tenant_id"] == tenant) & (
                (current["id"] == insight) | (current["insight_key"] == insight)
            )
            if not hit.any():
                raise InsightNotFoundError(f"tenant {tenant!r} has no insight {insight!r}")
            row = current[hit].iloc[0].copy()
            if row["status"] != target:
                if target not in _TRANSITIONS[row["status"]]:
                    allowed = ", ".join(sorted(_TRANSITIONS[row["status"]])) or "none (final)"
                    raise InvalidTransitionError(
                        f"insight {row['insight_key']!r} is {row['status']}; it cannot become "
                        f"{target} (allowed: {allowed})"
                    )
                row["status"] = target
                row["updated_at"] = _now()
                self._replace("unified_insights", current, row.to_frame().T)
            return row

    def save_correlations(self, records: pd.DataFrame) -> pd.DataFrame:
        """Store ``system_correlations`` rows (replacing rows with the same id); returns them."""
        return self.upsert("system_correlations", records)

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the store's exclusive lock (re-entrant within one store object)."""
        if getattr(self, "_held", False):
            yield
            return
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "a+") as handle:
            deadline = time.monotonic() + _LOCK_TIMEOUT_S
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise StateError(
                            f"state store {self.root} is locked by another process "
                            f"for more than {_LOCK_TIMEOUT_S:.0f} s"
                        ) from None
                    time.sleep(0.05)
            self._held = True
            try:
                yield
            finally:
                self._held = False
                fcntl.flock(handle, fcntl.LOCK_UN)

    # ------------------------------------------------------------------ files
    def _path(self, name: str) -> Path:
        return self.root / f"{name}.parquet"

    def _load(self, name: str) -> pd.DataFrame:
        schema = _schema(name)
        path = self._path(name)
        if not path.is_file():
            return _empty(schema)
        try:
            frame = pq.read_table(path).to_pandas()
        except (OSError, pa.ArrowException) as exc:
            raise StateError(f"state table {name!r} at {path} is unreadable: {exc}") from exc
        for f in schema:
            if isinstance(f.type, pa.BaseExtensionType) or pa.types.is_decimal(f.type):
                frame[f.name] = [_plain(v) for v in frame[f.name]]
        return frame[schema.names]

    def _replace(self, name: str, current: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
        schema = _schema(name)
        missing = [c for c in schema.names if c not in rows.columns]
        if missing:
            raise StateError(f"rows for {name!r} lack columns {', '.join(missing)}")
        rows = rows[schema.names].reset_index(drop=True)
        key = list(_KEYS[name])
        if len(rows) and not current.empty:
            new_keys = set(map(tuple, rows[key].astype(str).to_numpy()))
            keep = [tuple(k) not in new_keys for k in current[key].astype(str).to_numpy()]
            current = current[keep]
        parts = [f for f in (current, rows) if not f.empty]
        self._write(name, pd.concat(parts, ignore_index=True) if parts else _empty(schema), schema)
        return rows

    def _write(self, name: str, frame: pd.DataFrame, schema: pa.Schema) -> None:
        try:
            arrays = [_arrow_column(frame[f.name], f) for f in schema]
            data = pa.Table.from_arrays(arrays, schema=schema)
        except (pa.ArrowException, ValueError, TypeError, decimal.InvalidOperation) as exc:
            raise StateError(f"rows for {name!r} do not fit its schema: {exc}") from exc
        self.root.mkdir(parents=True, exist_ok=True)
        path = self._path(name)
        tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        try:
            pq.write_table(data, tmp)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)


def stable_id(*parts: object) -> str:
    """A deterministic UUID (v5) from the parts, for rows a re-run should replace.

    Examples
    --------
    >>> stable_id("acme", "x") == stable_id("acme", "x") != stable_id("acme", "y")
    True
    """
    return str(uuid.uuid5(_NAMESPACE, "\x1f".join(map(str, parts))))


# ------------------------------------------------------------------------------------ helpers
def _schema(name: str) -> pa.Schema:
    if name in _EXTRA_SCHEMAS:
        return _EXTRA_SCHEMAS[name]
    if name not in _KEYS:
        raise StateError(f"unknown state table {name!r}; known: {', '.join(TABLES)}")
    return table(name).arrow_schema()


def _empty(schema: pa.Schema) -> pd.DataFrame:
    out = {}
    for f in schema:
        if pa.types.is_timestamp(f.type):
            out[f.name] = pd.Series([], dtype="datetime64[us, UTC]")
        elif pa.types.is_integer(f.type):
            out[f.name] = pd.Series([], dtype="int64")
        elif pa.types.is_floating(f.type) or pa.types.is_decimal(f.type):
            out[f.name] = pd.Series([], dtype=float)
        else:
            out[f.name] = pd.Series([], dtype=object)
    return pd.DataFrame(out)


def _plain(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, decimal.Decimal):
        return float(value)
    return value


def _arrow_column(values: pd.Series, f: pa.Field) -> pa.Array:
    items = [None if _missing(v) else v for v in values.tolist()]
    if isinstance(f.type, pa.BaseExtensionType):  # uuid
        return pa.array(
            [None if v is None else uuid.UUID(str(v)).bytes for v in items], type=f.type
        )
    if pa.types.is_decimal(f.type):
        quantum = decimal.Decimal(1).scaleb(-f.type.scale)
        return pa.array(
            [
                None
                if v is None
                else decimal.Decimal(repr(float(v))).quantize(quantum, decimal.ROUND_HALF_UP)
                for v in items
            ],
            type=f.type,
        )
    if pa.types.is_timestamp(f.type):
        return pa.array(pd.to_datetime(pd.Series(items, dtype=object), utc=True), type=f.type)
    return pa.array(items, type=f.type)


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def to_json(value: Any) -> str:
    """JSON text of lists, dicts, numbers (NaN and infinity become null), dates and numpy scalars.

    Text is returned unchanged (it is taken to be JSON already).

    Examples
    --------
    >>> to_json({"p": float("nan"), "n": 3, "at": dt.date(2026, 1, 2)})
    '{"at": "2026-01-02", "n": 3, "p": null}'
    """
    if isinstance(value, str):
        return value
    return json.dumps(_plain_json(value), sort_keys=True, allow_nan=False)


def _plain_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain_json(v) for v in value]
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if hasattr(value, "item") and not isinstance(value, str):  # numpy scalars
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise StateError(f"{type(value).__name__} value {value!r} is not JSON serialisable")


def _now() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC").floor("us")
