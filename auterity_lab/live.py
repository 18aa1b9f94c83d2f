"""Live updates (spec §3): typed events for subscribers, pushed by Postgres or polled.

:func:`subscribe` registers a callback for some event types of one tenant and returns the
function that unsubscribes it. Events are frozen dataclasses, one per spec event type:
:class:`MetricUpdate` (``metric_update``), :class:`AlertRaised` (``alert``),
:class:`InsightFound` (``insight``), :class:`CorrelationUpdate` (``correlation_update``) and
:class:`HealthChange` (``health_change``).

Where a Postgres source is configured, a :class:`LiveFeed` listens (``LISTEN
auterity_lab_changes``) for the notifications that triggers installed by
:func:`install_triggers` send after every INSERT or UPDATE statement on a source table (one per
statement, COPY included, naming the table, tenants and time span). Each change runs an
incremental extract of the changed tables (:func:`auterity_lab.extract.extract`), recomputes only
what the subscribers asked for, over only the changed span, and sends the events. A lost
connection is retried with backoff (spec: at most 5 attempts, the delay doubling from 1 s); after
that, and wherever no Postgres is configured, the feed polls every 30 s (spec
``PollingFallback``): an incremental extract when there is a source, then a look at the
manifest, and the same recomputation when a table changed. :attr:`LiveFeed.state` (and
:meth:`LiveFeed.on_state`) tell which of ``connecting``, ``live``, ``reconnecting``, ``polling``
or ``closed`` the feed is in.

What each event type recomputes (:data:`RECOMPUTERS`):

* ``metric_update``: the metric catalog's series of the changed tables, per day of the changed
  span; an event per (metric, day) whose value changed, with the value before.
* ``alert``: the alert rules over the changed span (:func:`auterity_lab.alerts.check_alerts`,
  which also delivers to the rules' channels); an event per firing.
* ``health_change``: system health now; an event per system whose status changed.
* ``insight`` and ``correlation_update``: insights and correlations over the eight weeks up to
  the newest data, at most every ``slow_interval_s`` (15 minutes, the spec's insight cache
  time); an event per new open insight and per significant pair whose coefficient changed.

Callbacks run on the feed's worker thread; one that raises is logged and the others still run.

Examples
--------
>>> events = []
>>> unsubscribe = subscribe(events.append, ["metric_update"], tenant="acme")   # doctest: +SKIP
>>> track_prompt_output({"tenant_id": "acme", "model_id": "gpt-4o"})           # doctest: +SKIP
>>> events[-1].metric, events[-1].value - events[-1].previous                  # doctest: +SKIP
('ai_requests', 1.0)
>>> unsubscribe()                                                              # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import queue
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from auterity_lab.config import Settings, load_settings, packaged_dir
from auterity_lab.errors import AuterityLabError, ConfigError, ExtractError, QueryParameterError

if TYPE_CHECKING:
    from auterity_lab.privacy import Policy
    from auterity_lab.warehouse import Workbench

log = logging.getLogger(__name__)

CHANNEL = "auterity_lab_changes"
"""The Postgres notification channel the triggers send on."""

APPLICATION_NAME = "auterity-lab-live"
"""``application_name`` of the listening sessions (to find them in ``pg_stat_activity``)."""

EVENT_TYPES: tuple[str, ...] = (
    "metric_update",
    "alert",
    "insight",
    "correlation_update",
    "health_change",
)
"""The spec's event types, which :func:`subscribe` takes as channels."""

Status = Literal["connecting", "live", "reconnecting", "polling", "closed"]
Callback = Callable[["Event"], None]


# ============================================================================ events
def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class _EventMixin:
    type: ClassVar[str]

    def to_dict(self) -> dict[str, Any]:
        """The event as JSON-ready data, with its ``type`` (timestamps in ISO 8601)."""
        body = {"type": self.type, **asdict(self)}  # type: ignore[call-overload]
        return {k: _plain(v) for k, v in body.items()}


@dataclass(frozen=True)
class MetricUpdate(_EventMixin):
    """A metric of the catalog has a new value for a period (spec ``metric_update``).

    ``source`` is the system; ``previous`` the value before the change (None when the period
    had not been computed yet).
    """

    type: ClassVar[str] = "metric_update"
    tenant: str
    source: str
    metric: str
    period: dt.datetime
    value: float
    previous: float | None
    unit: str
    at: dt.datetime = field(default_factory=_now)


@dataclass(frozen=True)
class AlertRaised(_EventMixin):
    """An alert rule fired (spec ``alert``); ``severity`` is low, medium, high or critical."""

    type: ClassVar[str] = "alert"
    tenant: str
    alert_id: str
    rule_id: str
    severity: str
    metric: str
    value: float
    threshold: float
    message: str
    at: dt.datetime = field(default_factory=_now)


@dataclass(frozen=True)
class InsightFound(_EventMixin):
    """A new open insight (spec ``insight``); ``confidence`` is 1 - its q-value (or p-value)."""

    type: ClassVar[str] = "insight"
    tenant: str
    insight_id: str
    insight_type: str
    severity: str
    title: str
    confidence: float
    at: dt.datetime = field(default_factory=_now)


@dataclass(frozen=True)
class CorrelationUpdate(_EventMixin):
    """A significant cross-system correlation appeared or changed (spec ``correlation_update``).

    ``lag > 0``: ``x`` leads ``y``; ``previous_r`` is None for a newly significant pair.
    """

    type: ClassVar[str] = "correlation_update"
    tenant: str
    x: str
    y: str
    lag: int
    r: float
    q_value: float
    previous_r: float | None
    timestamp: dt.datetime = field(default_factory=_now)


@dataclass(frozen=True)
class HealthChange(_EventMixin):
    """A system's health status changed (spec ``health_change``)."""

    type: ClassVar[str] = "health_change"
    tenant: str
    system: str
    status: str
    previous: str | None
    reasons: str
    at: dt.datetime = field(default_factory=_now)


Event = MetricUpdate | AlertRaised | InsightFound | CorrelationUpdate | HealthChange


@dataclass(frozen=True)
class ConnectionState:
    """Where the feed's updates come from, for a visible indicator.

    ``status``: ``connecting``, ``live`` (push), ``reconnecting`` (``attempt`` of
    ``max_attempts``, next try in ``retry_in_s``), ``polling`` (every ``poll_interval_s``) or
    ``closed``; ``detail`` says why.
    """

    status: Status
    mode: Literal["push", "poll"]
    attempt: int = 0
    max_attempts: int = 5
    retry_in_s: float | None = None
    poll_interval_s: float = 30.0
    detail: str = ""
    since: dt.datetime = field(default_factory=_now)

    @property
    def label(self) -> str:
        """One line for people: ``live (Postgres LISTEN)``, ``reconnecting 2/5 in 2 s`` ..."""
        if self.status == "live":
            return "live (Postgres LISTEN/NOTIFY)"
        if self.status == "reconnecting":
            wait = f" in {self.retry_in_s:g} s" if self.retry_in_s is not None else ""
            return f"reconnecting {self.attempt}/{self.max_attempts}{wait}"
        if self.status == "polling":
            return f"polling every {self.poll_interval_s:g} s"
        return self.status


@dataclass(frozen=True)
class Backoff:
    """Reconnection policy (spec ``RealtimeManager``): ``max_attempts`` tries after a lost
    connection, waiting ``base_delay_s``, then twice as long each time.

    Examples
    --------
    >>> Backoff().delays()
    [1.0, 2.0, 4.0, 8.0, 16.0]
    """

    max_attempts: int = 5
    base_delay_s: float = 1.0

    def delays(self) -> list[float]:
        """The wait before each attempt."""
        return [self.base_delay_s * 2**i for i in range(self.max_attempts)]


@dataclass(frozen=True)
class Change:
    """Source tables that changed: qualified names, tenants (None: any) and the time span of the
    changed rows (None: unknown).

    Examples
    --------
    >>> c = parse_notification('{"schema": "public", "table": "prompt_outputs", "op": "INSERT", '
    ...     '"rows": 1, "tenants": ["acme"], "min_created_at": "2026-11-02T10:00:00+00:00", '
    ...     '"max_created_at": "2026-11-02T10:00:00+00:00"}')
    >>> sorted(c.tables), sorted(c.tenants), c.start.isoformat()
    (['neuroweaver.prompt_outputs'], ['acme'], '2026-11-02T10:00:00+00:00')
    """

    tables: frozenset[str]
    tenants: frozenset[str] | None = None
    start: dt.datetime | None = None
    end: dt.datetime | None = None

    def merge(self, other: Change) -> Change:
        """One change covering both."""
        tenants = (
            None if self.tenants is None or other.tenants is None else self.tenants | other.tenants
        )
        starts = [t for t in (self.start, other.start) if t is not None]
        ends = [t for t in (self.end, other.end) if t is not None]
        unknown = (self.start is None) or (other.start is None)
        return Change(
            self.tables | other.tables,
            tenants,
            None if unknown else min(starts),
            None if unknown else max(ends),
        )


def parse_notification(payload: str) -> Change:
    """The :class:`Change` a trigger's notification describes.

    Raises
    ------
    ConfigError
        The payload is not the triggers' JSON or names a table outside the data model.
    """
    from auterity_lab.errors import SchemaError
    from auterity_lab.schema import table

    try:
        body = json.loads(payload)
        tbl = table(str(body["table"]))
    except (ValueError, KeyError, TypeError, SchemaError) as exc:
        raise ConfigError(f"not a change notification of auterity-lab's triggers: {exc}") from None
    tenants = body.get("tenants")
    start, end = body.get("min_created_at"), body.get("max_created_at")
    return Change(
        frozenset({tbl.qualified_name}),
        frozenset(map(str, tenants)) if isinstance(tenants, list) else None,
        _parse_time(start),
        _parse_time(end),
    )


# ============================================================================ triggers
def install_triggers(
    settings: Settings | None = None, *, systems: Sequence[str] | None = None
) -> list[str]:
    """Install (or refresh) the change-notification triggers on every source table.

    Needs a role that may create functions and triggers in each system's database; idempotent.

    Returns
    -------
    list of str
        The qualified tables now sending notifications.

    Raises
    ------
    ConfigError
        No DSN for a system, an unreachable database, or the DDL was refused (the message
        names the database without its password).

    Examples
    --------
    >>> install_triggers()                                                  # doctest: +SKIP
    ['auterity.users', 'auterity.user_sessions', ...]
    """
    import psycopg
    from psycopg import sql

    from auterity_lab.schema import SYSTEMS, source_tables
    from auterity_lab.sources import SOURCE_SCHEMA, connect, describe_dsn, redact, resolve_dsns

    settings = settings or load_settings()
    chosen = list(systems or SYSTEMS)
    dsns = resolve_dsns(chosen, settings)
    function = _ops_sql("live_notify_function.sql")
    triggers = _ops_sql("live_notify_triggers.sql")
    done: list[str] = []
    by_dsn: dict[str, list[str]] = {}
    for system, dsn in dsns.items():
        by_dsn.setdefault(dsn.get_secret_value(), []).append(system)
    for raw, owned in by_dsn.items():
        try:
            with connect(raw) as con, con.transaction():
                con.execute(function)
                for tbl in [t for s in owned for t in source_tables(s)]:
                    con.execute(
                        sql.SQL(triggers).format(
                            schema=sql.Identifier(SOURCE_SCHEMA), table=sql.Identifier(tbl.name)
                        )
                    )
                    done.append(tbl.qualified_name)
        except psycopg.Error as exc:
            message = redact(str(exc).strip(), [raw])
            raise ConfigError(
                f"cannot install live triggers in {describe_dsn(raw)}: {message}"
            ) from None
    return done


# ============================================================================ the feed
@dataclass
class _Subscription:
    callback: Callback
    tenant: str
    channels: frozenset[str]


@dataclass
class _TenantCache:
    metrics: dict[tuple[str, dt.datetime], float] = field(default_factory=dict)
    health: dict[str, str] = field(default_factory=dict)
    insights: set[str] = field(default_factory=set)
    correlations: dict[tuple[str, str], float] = field(default_factory=dict)
    computed_at: dict[str, float] = field(default_factory=dict)  # slow kinds: when last run
    primed: set[str] = field(default_factory=set)

    def due(self, kind: str, interval_s: float) -> bool:
        """Whether a slow kind may run again (and, if so, mark it run now)."""
        now = time.monotonic()
        if now - self.computed_at.get(kind, -math.inf) < interval_s:
            return False
        self.computed_at[kind] = now
        return True


class LiveFeed:
    """Changes of one data directory, turned into events for its subscribers.

    Parameters
    ----------
    data_dir
        The data directory (default: the configured one).
    settings
        DSNs (push needs one), data directory, HMAC key for extraction.
    policy
        The privacy policy of the incremental extracts (default: the configured one).
    push
        Listen to Postgres; default: whenever a DSN is configured.
    poll_interval_s
        Seconds between polls when not pushed (spec: 30).
    backoff
        Reconnection policy (spec: 5 attempts from 1 s, doubling).
    slow_interval_s
        Minimum seconds between two recomputations of insights and correlations for a tenant.
    debounce_s
        Changes arriving this close together are handled as one.

    Examples
    --------
    >>> with LiveFeed("data", poll_interval_s=5) as feed:                   # doctest: +SKIP
    ...     feed.subscribe(print, tenant="acme", channels=["metric_update"])
    """

    def __init__(
        self,
        data_dir: str | Path | None = None,
        *,
        settings: Settings | None = None,
        policy: Policy | None = None,
        push: bool | None = None,
        poll_interval_s: float = 30.0,
        backoff: Backoff = Backoff(),  # noqa: B008 - frozen, immutable default
        slow_interval_s: float = 900.0,
        debounce_s: float = 0.3,
    ) -> None:
        if poll_interval_s <= 0 or debounce_s < 0 or slow_interval_s < 0:
            raise QueryParameterError(
                "poll_interval_s must be > 0; debounce_s and slow_interval_s >= 0"
            )
        self.settings = settings or load_settings()
        self.data_dir = Path(data_dir if data_dir is not None else self.settings.data_dir).resolve()
        self.policy = policy
        self.poll_interval_s = float(poll_interval_s)
        self.backoff = backoff
        self.slow_interval_s = float(slow_interval_s)
        self.debounce_s = float(debounce_s)
        self._dsns = _configured_dsns(self.settings)
        self._push = bool(self._dsns) if push is None else push
        if self._push and not self._dsns:
            raise ConfigError(
                "push needs a Postgres DSN: set AUTERITY_LAB_POSTGRES_DSN or a system's DSN"
            )
        self._subs: list[_Subscription] = []
        self._state_observers: list[Callable[[ConnectionState], None]] = []
        self._lock = threading.RLock()
        self._work: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._caches: dict[str, _TenantCache] = {}
        self._listeners: dict[str, ConnectionState] = {}
        self._fingerprints: dict[str, str] = self._table_fingerprints()
        self._polling = not self._push
        self._state = ConnectionState(
            "connecting" if self._push else "polling",
            "push" if self._push else "poll",
            max_attempts=backoff.max_attempts,
            poll_interval_s=self.poll_interval_s,
            detail="no Postgres source configured" if not self._push else "",
        )
        self.errors: list[str] = []

    # ------------------------------------------------------------------ public
    @property
    def state(self) -> ConnectionState:
        """The connection state now."""
        return self._state

    @property
    def subscriber_count(self) -> int:
        with self._lock:
            return len(self._subs)

    def subscribe(
        self, callback: Callback, *, tenant: str, channels: Iterable[str] = EVENT_TYPES
    ) -> Callable[[], None]:
        """Call ``callback(event)`` for each event of ``channels`` about ``tenant``.

        The feed first computes the current values silently (so the first events are changes),
        on its worker thread. Returns the function that unsubscribes.

        Raises
        ------
        QueryParameterError
            An unknown channel or an empty list.
        """
        chosen = _channels(channels)
        sub = _Subscription(callback, tenant, chosen)
        with self._lock:
            self._subs.append(sub)
        self._work.put(("prime", (tenant, chosen)))

        def unsubscribe() -> None:
            with self._lock:
                if sub in self._subs:
                    self._subs.remove(sub)

        return unsubscribe

    def on_state(self, callback: Callable[[ConnectionState], None]) -> Callable[[], None]:
        """Call ``callback(state)`` now and on every change of :attr:`state`; returns the
        function that stops it."""
        with self._lock:
            self._state_observers.append(callback)
        callback(self._state)

        def stop() -> None:
            with self._lock:
                if callback in self._state_observers:
                    self._state_observers.remove(callback)

        return stop

    def start(self) -> LiveFeed:
        """Start the worker (and, for push, one listener per source database)."""
        if self._threads:
            return self
        self._stop.clear()
        worker = threading.Thread(target=self._run_worker, name="auterity-live-worker", daemon=True)
        self._threads.append(worker)
        if self._push:
            for dsn in dict.fromkeys(self._dsns.values()):
                listener = threading.Thread(
                    target=self._listen, args=(dsn,), name="auterity-live-listener", daemon=True
                )
                self._threads.append(listener)
        for thread in self._threads:
            thread.start()
        return self

    def close(self) -> None:
        """Stop every thread and close the connections; the state becomes ``closed``."""
        self._stop.set()
        self._work.put(("stop", None))
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout=10)
        self._threads.clear()
        self._set_state(
            ConnectionState("closed", self._state.mode, poll_interval_s=self.poll_interval_s)
        )

    def __enter__(self) -> LiveFeed:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def wait_until_idle(self, timeout_s: float = 60.0) -> bool:
        """Block until the worker has handled everything queued so far (subscriptions being
        primed, changes); False if that took longer than ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        with self._work.all_tasks_done:
            while self._work.unfinished_tasks:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._work.all_tasks_done.wait(left)
        return True

    def refresh(self, change: Change | None = None) -> list[Event]:
        """Handle ``change`` now (default: whatever the manifest says changed since the last
        look), on the calling thread; send and return the events."""
        if change is None:
            change = self._manifest_change()
            if change is None:
                return []
        return self._handle(change, extract=False)

    # ------------------------------------------------------------------ push
    def _listen(self, dsn: str) -> None:
        import psycopg

        from auterity_lab.sources import describe_dsn, redact, with_application_name

        where = describe_dsn(dsn)
        attempt = 0
        first = True
        while not self._stop.is_set():
            try:
                with psycopg.connect(
                    with_application_name(dsn, APPLICATION_NAME), autocommit=True, connect_timeout=5
                ) as con:
                    con.execute(f"LISTEN {CHANNEL}")
                    attempt = 0
                    self._listener_state(
                        dsn,
                        ConnectionState(
                            "live",
                            "push",
                            max_attempts=self.backoff.max_attempts,
                            poll_interval_s=self.poll_interval_s,
                            detail=where,
                        ),
                    )
                    if not first:  # rows may have arrived while we were away
                        self._work.put(("change", Change(frozenset(self._tables_of(dsn)))))
                    first = False
                    while not self._stop.is_set():
                        for note in con.notifies(timeout=0.5):
                            self._on_notification(note.payload)
            except psycopg.Error as exc:
                if self._stop.is_set():
                    return
                attempt += 1
                reason = redact(
                    str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__,
                    [dsn],
                )
                if attempt > self.backoff.max_attempts:
                    self._listener_state(
                        dsn,
                        ConnectionState(
                            "polling",
                            "poll",
                            attempt=attempt - 1,
                            max_attempts=self.backoff.max_attempts,
                            poll_interval_s=self.poll_interval_s,
                            detail=f"gave up on {where} after {attempt - 1} attempts: {reason}",
                        ),
                    )
                    return
                delay = self.backoff.delays()[attempt - 1]
                self._listener_state(
                    dsn,
                    ConnectionState(
                        "reconnecting",
                        "push",
                        attempt=attempt,
                        max_attempts=self.backoff.max_attempts,
                        retry_in_s=delay,
                        poll_interval_s=self.poll_interval_s,
                        detail=f"{where}: {reason}",
                    ),
                )
                self._stop.wait(delay)

    def _on_notification(self, payload: str) -> None:
        try:
            self._work.put(("change", parse_notification(payload)))
        except ConfigError as exc:
            self._error(f"ignored a notification: {exc}")

    def _listener_state(self, dsn: str, state: ConnectionState) -> None:
        with self._lock:
            self._listeners[dsn] = state
            states = list(self._listeners.values())
            was_polling, self._polling = self._polling, any(s.status == "polling" for s in states)
        if self._polling and not was_polling:
            self._work.put(("wake", None))  # the worker now waits with the poll interval
        order = ("polling", "reconnecting", "connecting", "live")
        worst = min(states, key=lambda s: order.index(s.status) if s.status in order else 0)
        self._set_state(worst)

    def _tables_of(self, dsn: str) -> list[str]:
        from auterity_lab.schema import source_tables

        return [
            t.qualified_name for s, d in self._dsns.items() if d == dsn for t in source_tables(s)
        ]

    # ------------------------------------------------------------------ the worker
    def _run_worker(self) -> None:
        pending: Change | None = None
        while not self._stop.is_set():
            timeout = (
                self.debounce_s
                if pending is not None
                else (self.poll_interval_s if self._polling else None)
            )
            try:
                kind, item = self._work.get(timeout=timeout)
            except queue.Empty:
                if pending is not None:
                    change, pending = pending, None
                    self._guarded(self._handle, change, extract=self._push or bool(self._dsns))
                    self._work.task_done()  # the change items merged into it are done now
                elif self._polling:
                    self._guarded(self._poll)
                continue
            if kind == "stop":
                self._work.task_done()
                return
            if kind == "prime":
                tenant, channels = item
                self._guarded(self._prime, tenant, channels)
            elif kind == "change":
                if pending is not None:
                    self._work.task_done()  # merged: finished when the merged change is
                pending = item if pending is None else pending.merge(item)
                continue
            self._work.task_done()

    def _guarded(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        try:
            fn(*args, **kwargs)
        except AuterityLabError as exc:
            self._error(f"{type(exc).__name__}: {exc}")

    def _poll(self) -> None:
        if self._dsns:
            self._extract(None)
        change = self._manifest_change()
        if change is not None:
            self._handle(change, extract=False)

    def _handle(self, change: Change, *, extract: bool) -> list[Event]:
        tenants = self._tenants_for(change)
        if not tenants:
            if extract:
                self._extract(change.tables)
            return []
        window = self._window(change)
        for tenant in tenants:  # the values before the change, where not known yet
            self._fill_metric_cache(tenant, change.tables, window)
        if extract:
            self._extract(change.tables)
        self._fingerprints = self._table_fingerprints()
        window = self._window(change)
        events: list[Event] = []
        for tenant in tenants:
            channels = self._channels_of(tenant)
            with self._workbench(tenant) as wb:
                for channel in EVENT_TYPES:
                    if channel in channels:
                        events += RECOMPUTERS[channel](self, wb, change, window)
        self._dispatch(events)
        return events

    def _prime(self, tenant: str, channels: frozenset[str]) -> None:
        cache = self._cache(tenant)
        todo = [c for c in channels if c not in cache.primed]
        if not todo:
            return
        change = Change(frozenset(self._fingerprints), None)
        window = self._window(change)
        with self._workbench(tenant) as wb:
            for channel in todo:
                PRIMERS[channel](self, wb, window)
                cache.primed.add(channel)

    def _extract(self, tables: Iterable[str] | None) -> None:
        from auterity_lab.extract import extract

        for _ in range(40):  # another extract of this data directory may be running
            try:
                run = extract(
                    self.data_dir,
                    tables=sorted(tables) if tables else None,
                    settings=self.settings,
                    policy=self.policy,
                )
            except ExtractError as exc:
                if "another extract is running" not in str(exc):
                    raise
                self._stop.wait(0.5)
                continue
            for failed in (t for t in run.tables if t.status != "ok"):
                self._error(f"extract of {failed.table} failed: {failed.error}")
            return
        raise ExtractError(f"{self.data_dir} stayed locked by another extract for 20 s")

    # ------------------------------------------------------------------ helpers
    def _dispatch(self, events: Sequence[Event]) -> None:
        with self._lock:
            subs = list(self._subs)
        for event in events:
            for sub in subs:
                if sub.tenant == event.tenant and event.type in sub.channels:
                    try:
                        sub.callback(event)
                    except Exception as exc:  # a subscriber's bug must not stop the others
                        self._error(
                            f"subscriber {getattr(sub.callback, '__name__', sub.callback)!r} "
                            f"raised {type(exc).__name__}: {exc}"
                        )

    def _set_state(self, state: ConnectionState) -> None:
        with self._lock:
            if _without_since(state) == _without_since(self._state):
                return
            self._state = state
            observers = list(self._state_observers)
        for observer in observers:
            try:
                observer(state)
            except Exception as exc:  # an indicator's bug must not stop the feed
                self._error(f"state observer raised {type(exc).__name__}: {exc}")

    def _error(self, message: str) -> None:
        log.warning("live feed %s: %s", self.data_dir, message)
        with self._lock:
            self.errors.append(message)

    def _cache(self, tenant: str) -> _TenantCache:
        with self._lock:
            return self._caches.setdefault(tenant, _TenantCache())

    def _channels_of(self, tenant: str) -> frozenset[str]:
        with self._lock:
            return frozenset(c for s in self._subs if s.tenant == tenant for c in s.channels)

    def _tenants_for(self, change: Change) -> list[str]:
        with self._lock:
            subscribed = list(dict.fromkeys(s.tenant for s in self._subs))
        return [t for t in subscribed if change.tenants is None or t in change.tenants]

    def _workbench(self, tenant: str) -> Workbench:
        from auterity_lab.warehouse import Workbench

        return Workbench.open(self.data_dir, tenant=tenant, settings=self.settings, strict=False)

    def _table_fingerprints(self) -> dict[str, str]:
        from auterity_lab.manifest import read_manifest

        try:
            manifest = read_manifest(self.data_dir)
        except AuterityLabError:
            return {}
        return {name: entry.fingerprint() for name, entry in manifest.tables.items()}

    def _manifest_change(self) -> Change | None:
        now = self._table_fingerprints()
        changed = frozenset(
            n for n in set(now) | set(self._fingerprints) if now.get(n) != self._fingerprints.get(n)
        )
        self._fingerprints = now
        return Change(changed) if changed else None

    def _window(self, change: Change) -> tuple[dt.datetime, dt.datetime]:
        """UTC days covering the changed rows; unknown: the last two days of the changed tables."""
        if change.start is not None and change.end is not None:
            return _day(change.start), _day(change.end) + dt.timedelta(days=1)
        from auterity_lab.manifest import read_manifest

        newest = [
            dt.datetime.fromisoformat(e.max_ts)
            for n, e in read_manifest(self.data_dir).tables.items()
            if e.max_ts and (not change.tables or n in change.tables)
        ]
        last = _day(max(newest)) if newest else _day(_now())
        return last - dt.timedelta(days=1), last + dt.timedelta(days=1)

    def _fill_metric_cache(
        self, tenant: str, tables: frozenset[str], window: tuple[dt.datetime, dt.datetime]
    ) -> None:
        cache = self._cache(tenant)
        if "metric_update" not in self._channels_of(tenant) or not self._fingerprints:
            return
        names = _metrics_of(tables)
        days = _days(window)
        if all((m, d) in cache.metrics for m in names for d in days):
            return
        with self._workbench(tenant) as wb:
            for row in _metric_rows(wb, names, window):
                cache.metrics.setdefault((row["metric"], row["period"]), row["value"])


# ============================================================================ recomputation
def _metric_events(
    feed: LiveFeed, wb: Workbench, change: Change, window: tuple[dt.datetime, dt.datetime]
) -> list[Event]:
    from auterity_lab.metrics import CATALOG

    cache = feed._cache(wb.tenant)
    out: list[Event] = []
    for row in _metric_rows(wb, _metrics_of(change.tables), window):
        key = (row["metric"], row["period"])
        before = cache.metrics.get(key)
        value = row["value"]
        cache.metrics[key] = value
        if _same(before, value):
            continue
        m = CATALOG[row["metric"]]
        out.append(MetricUpdate(wb.tenant, m.system, m.name, row["period"], value, before, m.unit))
    return out


def _prime_metrics(feed: LiveFeed, wb: Workbench, window: tuple[dt.datetime, dt.datetime]) -> None:
    cache = feed._cache(wb.tenant)
    for row in _metric_rows(wb, _metrics_of(frozenset(feed._fingerprints)), window):
        cache.metrics[(row["metric"], row["period"])] = row["value"]


def _alert_events(
    feed: LiveFeed, wb: Workbench, change: Change, window: tuple[dt.datetime, dt.datetime]
) -> list[Event]:
    from auterity_lab.alerts import check_alerts

    start = window[0] - dt.timedelta(days=1)  # rules with a duration look back across midnight
    check = check_alerts(wb, start=start, end=window[1])
    return [
        AlertRaised(
            wb.tenant,
            str(a.alert_id),
            str(a.rule_id),
            str(a.severity),
            str(a.metric),
            float(a.value),
            float(a.threshold),
            str(a.message),
        )
        for a in check.alerts.itertuples(index=False)
    ]


def _health_events(
    feed: LiveFeed, wb: Workbench, change: Change, window: tuple[dt.datetime, dt.datetime]
) -> list[Event]:
    cache = feed._cache(wb.tenant)
    out: list[Event] = []
    for system, status, reasons in _health_rows(wb):
        before = cache.health.get(system)
        cache.health[system] = status
        if before != status:
            out.append(HealthChange(wb.tenant, system, status, before, reasons))
    return out


def _prime_health(feed: LiveFeed, wb: Workbench, window: tuple[dt.datetime, dt.datetime]) -> None:
    feed._cache(wb.tenant).health.update({s: status for s, status, _ in _health_rows(wb)})


def _insight_events(
    feed: LiveFeed, wb: Workbench, change: Change, window: tuple[dt.datetime, dt.datetime]
) -> list[Event]:
    cache = feed._cache(wb.tenant)
    if not cache.due("insight", feed.slow_interval_s):
        return []
    out: list[Event] = []
    for rec in _open_insights(wb, window):
        if rec["id"] not in cache.insights:
            cache.insights.add(rec["id"])
            out.append(
                InsightFound(
                    wb.tenant,
                    rec["id"],
                    rec["insight_type"],
                    rec["severity"],
                    rec["title"],
                    rec["confidence"],
                )
            )
    return out


def _prime_insights(feed: LiveFeed, wb: Workbench, window: tuple[dt.datetime, dt.datetime]) -> None:
    cache = feed._cache(wb.tenant)
    cache.insights.update(rec["id"] for rec in _open_insights(wb, window))
    cache.due("insight", 0.0)


def _correlation_events(
    feed: LiveFeed, wb: Workbench, change: Change, window: tuple[dt.datetime, dt.datetime]
) -> list[Event]:
    cache = feed._cache(wb.tenant)
    if not cache.due("correlation_update", feed.slow_interval_s):
        return []
    out: list[Event] = []
    for c in _significant_pairs(wb, window):
        key = (c.x, c.y)
        before = cache.correlations.get(key)
        cache.correlations[key] = c.r
        if before is None or abs(before - c.r) >= 0.01:
            out.append(CorrelationUpdate(wb.tenant, c.x, c.y, c.lag, c.r, c.q_value, before))
    return out


def _prime_correlations(
    feed: LiveFeed, wb: Workbench, window: tuple[dt.datetime, dt.datetime]
) -> None:
    cache = feed._cache(wb.tenant)
    cache.correlations.update({(c.x, c.y): c.r for c in _significant_pairs(wb, window)})
    cache.due("correlation_update", 0.0)


Recomputer = Callable[[LiveFeed, "Workbench", Change, tuple[dt.datetime, dt.datetime]], list[Event]]
RECOMPUTERS: dict[str, Recomputer] = {
    "metric_update": _metric_events,
    "alert": _alert_events,
    "health_change": _health_events,
    "insight": _insight_events,
    "correlation_update": _correlation_events,
}
"""Event type → what a change recomputes (only the subscribed types run)."""

PRIMERS: dict[str, Callable[[LiveFeed, Workbench, tuple[dt.datetime, dt.datetime]], None]] = {
    "metric_update": _prime_metrics,
    "alert": lambda feed, wb, window: None,  # alert rules keep their own state (cooldown)
    "health_change": _prime_health,
    "insight": _prime_insights,
    "correlation_update": _prime_correlations,
}
"""Event type → how a new subscription learns the current values (silently)."""


def _metric_rows(
    wb: Workbench, names: list[str], window: tuple[dt.datetime, dt.datetime]
) -> list[dict[str, Any]]:
    from auterity_lab.metrics import metric_series

    if not names:
        return []
    series = metric_series(wb, start=window[0], end=window[1], metrics=names)
    return [
        {"metric": r.metric, "period": r.period.to_pydatetime(), "value": float(r.value)}
        for r in series.itertuples(index=False)
    ]


def _health_rows(wb: Workbench) -> list[tuple[str, str, str]]:
    from auterity_lab.health import system_health

    systems = system_health(wb).systems
    return [(str(r.system), str(r.status), str(r.reasons)) for r in systems.itertuples(index=False)]


def _open_insights(wb: Workbench, window: tuple[dt.datetime, dt.datetime]) -> list[dict[str, Any]]:
    from auterity_lab.insights import generate_insights

    frame = generate_insights(
        wb,
        start=window[1] - dt.timedelta(days=56),
        end=window[1],
        kinds=["anomaly", "trend", "change_point", "deployment"],
    ).insights
    if frame.empty or "status" not in frame.columns:
        return []
    out = []
    for rec in frame[frame["status"].isin(["active", "acknowledged"])].to_dict("records"):
        evidence = rec.get("evidence") or {}
        q = (
            evidence.get("q_value", evidence.get("p_value"))
            if isinstance(evidence, Mapping)
            else None
        )
        confidence = (
            1.0 - float(q) if isinstance(q, int | float) and math.isfinite(q) else float("nan")
        )
        out.append({**rec, "confidence": confidence})
    return out


def _significant_pairs(wb: Workbench, window: tuple[dt.datetime, dt.datetime]) -> list[Any]:
    from auterity_lab.stats import correlations

    result = correlations(wb, start=window[1] - dt.timedelta(days=56), end=window[1], n_boot=199)
    return [c for c in result.correlations() if c.significant]


def _metrics_of(tables: Iterable[str]) -> list[str]:
    """Catalog metrics computed from any of the (qualified) tables."""
    from auterity_lab.metrics import CATALOG

    bare = {t.split(".", 1)[-1] for t in tables}
    return [m.name for m in CATALOG.values() if m.query is not None and set(m.sources) & bare]


# ============================================================================ module API
_FEEDS: dict[tuple[str, float], LiveFeed] = {}
_FEEDS_LOCK = threading.Lock()


def subscribe(
    callback: Callback,
    channels: Iterable[str] = EVENT_TYPES,
    *,
    tenant: str,
    data_dir: str | Path | None = None,
    settings: Settings | None = None,
    poll_interval_s: float = 30.0,
) -> Callable[[], None]:
    """Call ``callback(event)`` for each event of ``channels`` about ``tenant``; returns the
    function that unsubscribes (spec ``subscribeToUpdates``).

    Subscribers of one data directory share one :class:`LiveFeed`, started with the first
    subscription and closed with the last unsubscription.

    Raises
    ------
    QueryParameterError
        An unknown channel.

    Examples
    --------
    >>> stop = subscribe(lambda e: print(e.to_dict()), ["alert"], tenant="acme")  # doctest: +SKIP
    >>> stop()                                                                     # doctest: +SKIP
    """
    chosen = _channels(channels)
    settings = settings or load_settings()
    path = Path(data_dir if data_dir is not None else settings.data_dir).resolve()
    key = (str(path), float(poll_interval_s))
    with _FEEDS_LOCK:
        feed = _FEEDS.get(key)
        if feed is None:
            feed = LiveFeed(path, settings=settings, poll_interval_s=poll_interval_s).start()
            _FEEDS[key] = feed
        unsubscribe_one = feed.subscribe(callback, tenant=tenant, channels=chosen)

    def unsubscribe() -> None:
        unsubscribe_one()
        with _FEEDS_LOCK:
            if feed.subscriber_count == 0 and _FEEDS.get(key) is feed:
                del _FEEDS[key]
                feed.close()

    return unsubscribe


def _channels(channels: Iterable[str]) -> frozenset[str]:
    chosen = [channels] if isinstance(channels, str) else list(channels)
    unknown = sorted(set(chosen) - set(EVENT_TYPES))
    if unknown or not chosen:
        raise QueryParameterError(
            f"unknown channel {', '.join(unknown)}; choose from {', '.join(EVENT_TYPES)}"
            if unknown
            else f"no channel given; choose from {', '.join(EVENT_TYPES)}"
        )
    return frozenset(chosen)


def _configured_dsns(settings: Settings) -> dict[str, str]:
    from auterity_lab.schema import SYSTEMS
    from auterity_lab.sources import resolve_dsn

    found = {}
    for system in SYSTEMS:
        try:
            found[system] = resolve_dsn(system, settings).get_secret_value()
        except ConfigError:
            continue
    return found


def _ops_sql(name: str) -> str:
    return (packaged_dir("queries") / "postgres" / "ops" / name).read_text(encoding="utf-8")


def _parse_time(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    parsed = dt.datetime.fromisoformat(value)
    return parsed.replace(tzinfo=dt.UTC) if parsed.tzinfo is None else parsed.astimezone(dt.UTC)


def _day(at: dt.datetime) -> dt.datetime:
    at = at.astimezone(dt.UTC)
    return dt.datetime(at.year, at.month, at.day, tzinfo=dt.UTC)


def _days(window: tuple[dt.datetime, dt.datetime]) -> list[dt.datetime]:
    out, day = [], window[0]
    while day < window[1]:
        out.append(day)
        day += dt.timedelta(days=1)
    return out


def _without_since(state: ConnectionState) -> tuple[Any, ...]:
    return (state.status, state.mode, state.attempt, state.retry_in_s, state.detail)


def _same(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    if math.isnan(a) and math.isnan(b):
        return True
    return a == b


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, tuple):
        return list(value)
    return value


__all__ = [
    "APPLICATION_NAME",
    "CHANNEL",
    "EVENT_TYPES",
    "PRIMERS",
    "RECOMPUTERS",
    "AlertRaised",
    "Backoff",
    "Change",
    "ConnectionState",
    "CorrelationUpdate",
    "Event",
    "HealthChange",
    "InsightFound",
    "LiveFeed",
    "MetricUpdate",
    "install_triggers",
    "parse_notification",
    "subscribe",
]
