"""Pre-aggregated rollups of the extracts, kept next to them and rebuilt per day partition.

A rollup turns row-level extracts into a small table that answers a frequent question cheaply.
Each day partition of the source table gives one rollup file, and every group of a rollup lies
inside one UTC day (the extract partitions by the UTC day of ``created_at``), so a day file is
final: nothing is ever merged across days.

* ``user_day_activity`` (from ``user_sessions``): one row per tenant, user and UTC day with a
  session: sessions, summed duration and page views (integer sums, so averages computed from it
  equal the row-level ones exactly). Daily active users become a plain count of its rows
  instead of an exact ``COUNT(DISTINCT user_id)`` over every session.
* ``daily_user_analytics`` (from ``user_sessions``): the spec's daily view, one answer row per
  tenant and UTC day.
* ``hourly_ai_performance`` (from ``prompt_outputs``): the spec's hourly view, one answer row per
  tenant, UTC hour and model.
* ``money_events`` (from ``events``): the events with a revenue, and the subscription ends
  (``cancel``), row for row: what revenue and MRR read, ~4% of the events. Each user's first
  positive revenue (whole history) is a cheap minimum over it.
* ``model_days``, ``model_user_days``, ``model_latency_days`` (from ``prompt_outputs``): per
  tenant, model version and UTC day, the additive figures of model performance; each user of
  the version that day; and how many outputs took each response time, errors apart. Model
  performance takes exact distinct users and exact percentiles from them
  (:mod:`auterity_lab.ml._rollup_forms`), and the Overview and the metric catalog their daily
  AI figures.

Layout::

    DIR/rollups/<name>.json                                   state, written last (atomic)
    DIR/rollups/<name>/date=YYYY-MM-DD/<signature>.parquet    one file per day partition

:func:`build_rollups` reads the source table's files from the manifest and rebuilds only the
day partitions whose source files changed (a day's signature hashes its files' paths, sizes
and row counts), deletes the days the source no longer has, and records the manifest
fingerprint of the source table. :func:`attach_rollups` defines a rollup as a view on a
workbench only when that fingerprint equals the workbench's: a stale or missing rollup is never
read. :func:`usable` tells whether a range may be answered from a rollup (fresh, and bounds on
whole days, or whole hours for the hourly one, or NULL), and :func:`run` asks a named query,
from its rollup form (``queries/rollups/<name>.sql``, the same frame) when that is usable and
from the rows otherwise. A day file's name is its signature, so its content never changes under
its name: the result cache treats a read of the attached files as a read of the source table
(:func:`auterity_lab.cache.register_derived_files`), and rollup-backed results are cached.

Examples
--------
>>> build_rollups(data_dir)                                   # doctest: +SKIP
{'user_day_activity': RollupBuild(name='user_day_activity', rebuilt=120, kept=0, removed=0, ...)}
>>> usable(wb, "user_day_activity", start="2026-10-01", end="2026-11-01")  # doctest: +SKIP
True
>>> run(wb, "hourly_ai_performance", start=None, end=None)   # doctest: +SKIP
>>> sorted(ROLLUPS)  # doctest: +NORMALIZE_WHITESPACE
['daily_user_analytics', 'hourly_ai_performance', 'model_days', 'model_latency_days',
 'model_user_days', 'money_events', 'user_day_activity']
>>> QUERY_ROLLUPS["overview_daily_auterity"]
('user_day_activity',)
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import os
import re
import uuid
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import duckdb

from auterity_lab.cache import register_derived_files, register_equivalent_view
from auterity_lab.errors import AuterityLabError, ConfigError, QueryNotFoundError
from auterity_lab.manifest import FileEntry, Manifest, read_manifest
from auterity_lab.queries import Query, coerce, parse_query, queries_root
from auterity_lab.schema import PARTITION_FIELD, table

if TYPE_CHECKING:
    import pandas as pd

    from auterity_lab.warehouse import Workbench

ROLLUPS_DIR = "rollups"
_NAME = re.compile(r"[a-z][a-z0-9_]*")
_PARTITION = re.compile(rf"(?:^|/){PARTITION_FIELD}=(\d{{4}}-\d{{2}}-\d{{2}})/")


class RollupError(AuterityLabError):
    """A rollup cannot be built or its state cannot be read."""


UNITS = ("day", "hour")
"""Alignment units of rollups: the finest range bound a rollup can answer exactly."""


@dataclass(frozen=True)
class Rollup:
    """A rollup: its source table, the aggregation of one day's source files, its columns.

    ``unit`` is the finest granule of its groups: a query may read it over ``[start, end)``
    only when both bounds fall on that unit (UTC midnight for ``"day"``, a whole UTC hour for
    ``"hour"``) or are NULL (everything).
    """

    name: str
    source: str
    aggregate_sql: str  # reads the relation ``day_rows`` (one day of the source), no parameters
    columns: tuple[tuple[str, str], ...]  # (name, DuckDB type) in file order, without ``date``
    unit: str = "day"

    def __post_init__(self) -> None:
        if self.unit not in UNITS:
            raise RollupError(f"rollup {self.name}: unit must be one of {UNITS}, not {self.unit!r}")

    @property
    def qualified_source(self) -> str:
        return table(self.source).qualified_name

    @property
    def definition(self) -> str:
        """Hash of what the files hold: a changed aggregation invalidates every day."""
        text = self.aggregate_sql + repr(self.columns) + table(self.source).fingerprint()
        return hashlib.sha256(text.encode()).hexdigest()[:16]


MONEY_CANCEL_EVENTS = ("cancel",)
"""Event types the ``money_events`` rollup keeps although they carry no revenue: the
subscription ends an MRR question may name (``mrr(cancel_event=...)``)."""

ROLLUPS: dict[str, Rollup] = {
    "user_day_activity": Rollup(
        name="user_day_activity",
        source="user_sessions",
        aggregate_sql=(
            "SELECT tenant_id, user_id, "
            "CAST(COUNT(*) AS BIGINT) AS sessions, "
            "CAST(SUM(duration) AS BIGINT) AS duration_sum, "
            "CAST(COUNT(duration) AS BIGINT) AS duration_count, "
            "CAST(SUM(page_views) AS BIGINT) AS page_views_sum, "
            "CAST(COUNT(page_views) AS BIGINT) AS page_views_count, "
            "CAST(COUNT(*) FILTER (WHERE page_views = 1) AS BIGINT) AS bounced_sessions "
            "FROM day_rows GROUP BY tenant_id, user_id ORDER BY tenant_id, user_id"
        ),
        columns=(
            ("tenant_id", "VARCHAR"),
            ("user_id", "UUID"),
            ("sessions", "BIGINT"),
            ("duration_sum", "BIGINT"),
            ("duration_count", "BIGINT"),
            ("page_views_sum", "BIGINT"),
            ("page_views_count", "BIGINT"),
            ("bounced_sessions", "BIGINT"),
        ),
    ),
    "daily_user_analytics": Rollup(
        name="daily_user_analytics",
        source="user_sessions",
        # the day's answer row of queries/daily_user_analytics.sql (its group is the day)
        aggregate_sql=(
            "SELECT tenant_id, "
            "CAST(COUNT(DISTINCT user_id) AS BIGINT) AS unique_users, "
            "CAST(COUNT(*) AS BIGINT) AS total_sessions, "
            "AVG(CAST(duration AS DOUBLE)) AS avg_session_duration, "
            "CAST(SUM(page_views) AS BIGINT) AS total_page_views, "
            "AVG(conversion_rate) AS avg_conversion_rate "
            "FROM day_rows GROUP BY tenant_id ORDER BY tenant_id"
        ),
        columns=(
            ("tenant_id", "VARCHAR"),
            ("unique_users", "BIGINT"),
            ("total_sessions", "BIGINT"),
            ("avg_session_duration", "DOUBLE"),
            ("total_page_views", "BIGINT"),
            ("avg_conversion_rate", "DOUBLE"),
        ),
    ),
    "money_events": Rollup(
        name="money_events",
        source="events",
        # the rows a revenue or MRR question reads (~4% of the events), as they are
        aggregate_sql=(
            "SELECT tenant_id, user_id, id, created_at, event_type, revenue FROM day_rows "
            "WHERE revenue IS NOT NULL OR event_type IN ("
            + ", ".join(f"'{t}'" for t in MONEY_CANCEL_EVENTS)
            + ") ORDER BY tenant_id, user_id, created_at, id"
        ),
        columns=(
            ("tenant_id", "VARCHAR"),
            ("user_id", "UUID"),
            ("id", "UUID"),
            ("created_at", "TIMESTAMP WITH TIME ZONE"),
            ("event_type", "VARCHAR"),
            ("revenue", "DECIMAL(12,2)"),
        ),
    ),
    "model_days": Rollup(
        name="model_days",
        source="prompt_outputs",
        # the additive figures of queries/ml_model_performance.sql per model version and day
        aggregate_sql=(
            "SELECT tenant_id, model_id, model_version, "
            "CAST(COUNT(*) AS BIGINT) AS requests, "
            "CAST(COUNT(*) FILTER (WHERE status = 'error') AS BIGINT) AS errors, "
            "CAST(SUM(COALESCE(input_tokens, tokens_used - output_tokens)) AS BIGINT) "
            "AS input_tokens_sum, "
            "CAST(COUNT(COALESCE(input_tokens, tokens_used - output_tokens)) AS BIGINT) "
            "AS input_tokens_count, "
            "CAST(SUM(COALESCE(output_tokens, tokens_used - input_tokens)) AS BIGINT) "
            "AS output_tokens_sum, "
            "CAST(COUNT(COALESCE(output_tokens, tokens_used - input_tokens)) AS BIGINT) "
            "AS output_tokens_count, "
            "CAST(SUM(tokens_used) AS BIGINT) AS tokens_used_sum, "
            "CAST(COUNT(user_rating) AS BIGINT) AS rated, "
            "CAST(SUM(user_rating) AS DECIMAL(18,2)) AS rating_sum, "
            "CAST(SUM(user_rating * user_rating) AS DECIMAL(18,4)) AS rating_square_sum, "
            "CAST(COUNT(*) FILTER (WHERE user_rating >= 4) AS BIGINT) AS high_rated, "
            "MIN(created_at) AS first_seen, MAX(created_at) AS last_seen "
            "FROM day_rows GROUP BY tenant_id, model_id, model_version "
            "ORDER BY tenant_id, model_id, model_version"
        ),
        columns=(
            ("tenant_id", "VARCHAR"),
            ("model_id", "VARCHAR"),
            ("model_version", "VARCHAR"),
            ("requests", "BIGINT"),
            ("errors", "BIGINT"),
            ("input_tokens_sum", "BIGINT"),
            ("input_tokens_count", "BIGINT"),
            ("output_tokens_sum", "BIGINT"),
            ("output_tokens_count", "BIGINT"),
            ("tokens_used_sum", "BIGINT"),
            ("rated", "BIGINT"),
            ("rating_sum", "DECIMAL(18,2)"),
            ("rating_square_sum", "DECIMAL(18,4)"),
            ("high_rated", "BIGINT"),
            ("first_seen", "TIMESTAMP WITH TIME ZONE"),
            ("last_seen", "TIMESTAMP WITH TIME ZONE"),
        ),
    ),
    "model_user_days": Rollup(
        name="model_user_days",
        source="prompt_outputs",
        # who used each model version on the day: exact distinct users over ~70% as many,
        # much narrower rows
        aggregate_sql=(
            "SELECT DISTINCT tenant_id, model_id, model_version, user_id FROM day_rows "
            "ORDER BY tenant_id, model_id, model_version, user_id"
        ),
        columns=(
            ("tenant_id", "VARCHAR"),
            ("model_id", "VARCHAR"),
            ("model_version", "VARCHAR"),
            ("user_id", "UUID"),
        ),
    ),
    "model_latency_days": Rollup(
        name="model_latency_days",
        source="prompt_outputs",
        # how many outputs took each response time, errors apart: exact percentiles
        aggregate_sql=(
            "SELECT tenant_id, model_id, model_version, status = 'error' AS errored, "
            "response_time_ms, CAST(COUNT(*) AS BIGINT) AS outputs "
            "FROM day_rows WHERE response_time_ms IS NOT NULL "
            "GROUP BY tenant_id, model_id, model_version, status = 'error', response_time_ms "
            "ORDER BY tenant_id, model_id, model_version, errored, response_time_ms"
        ),
        columns=(
            ("tenant_id", "VARCHAR"),
            ("model_id", "VARCHAR"),
            ("model_version", "VARCHAR"),
            ("errored", "BOOLEAN"),
            ("response_time_ms", "INTEGER"),
            ("outputs", "BIGINT"),
        ),
    ),
    "hourly_ai_performance": Rollup(
        name="hourly_ai_performance",
        source="prompt_outputs",
        # the answer rows of queries/hourly_ai_performance.sql; an hour lies in one UTC day
        aggregate_sql=(
            "SELECT tenant_id, date_trunc('hour', created_at) AS hour, model_id, "
            "CAST(COUNT(*) AS BIGINT) AS request_count, "
            "AVG(CAST(response_time_ms AS DOUBLE)) AS avg_response_time, "
            "AVG(CAST(user_rating AS DOUBLE)) AS avg_rating, "
            "CAST(SUM(tokens_used) AS BIGINT) AS total_tokens, "
            "CAST(COUNT(*) FILTER (WHERE user_rating >= 4) AS BIGINT) AS high_rated_requests "
            "FROM day_rows GROUP BY tenant_id, date_trunc('hour', created_at), model_id "
            "ORDER BY tenant_id, hour, model_id"
        ),
        columns=(
            ("tenant_id", "VARCHAR"),
            ("hour", "TIMESTAMP WITH TIME ZONE"),
            ("model_id", "VARCHAR"),
            ("request_count", "BIGINT"),
            ("avg_response_time", "DOUBLE"),
            ("avg_rating", "DOUBLE"),
            ("total_tokens", "BIGINT"),
            ("high_rated_requests", "BIGINT"),
        ),
        unit="hour",
    ),
}
"""Rollup name → definition.

``user_day_activity``: one row per (tenant, user, UTC day) with ``sessions``,
``duration_sum``/``duration_count`` (seconds; sessions with a duration),
``page_views_sum``/``page_views_count`` and ``bounced_sessions`` (exactly one page view);
sessions without a user form the row with a NULL ``user_id``.
``daily_user_analytics``: one row per (tenant, UTC day with a session) holding that day's row of
``queries/daily_user_analytics.sql``. ``hourly_ai_performance``: one row per (tenant, UTC hour,
``model_id``) with an output, holding that row of ``queries/hourly_ai_performance.sql`` (a NULL
``model_id`` is its own group, as there). ``money_events`` (from ``events``): the events with a
revenue and those of :data:`MONEY_CANCEL_EVENTS`, row for row (``id``, ``user_id``,
``created_at``, ``event_type``, ``revenue``), so revenue and MRR read a few percent of the
events instead of all of them. ``model_days``: one row per (tenant, ``model_id``,
``model_version``, UTC day) with an output: ``requests``, ``errors``, token sums and counts,
``rated``, exact rating sums (``rating_sum``, ``rating_square_sum``), ``high_rated``,
``first_seen``, ``last_seen``, and ``tokens_used_sum``. ``model_user_days``: one row per
(tenant, model, version, user, UTC day) with an output. ``model_latency_days``: one row per
(tenant, model, version, ``errored`` (status is ``error``; NULL for a NULL status),
``response_time_ms``, UTC day) counting the ``outputs`` with a response time."""

QUERY_ROLLUPS: dict[str, tuple[str, ...]] = {
    "daily_user_analytics": ("daily_user_analytics",),
    "hourly_ai_performance": ("hourly_ai_performance",),
    "overview_daily_auterity": ("user_day_activity",),
    "overview_kpis_auterity": ("user_day_activity",),
    "overview_daily_neuroweaver": ("model_days", "model_latency_days"),
    "overview_kpis_neuroweaver": ("model_days", "model_latency_days"),
    "business_stickiness": ("user_day_activity",),
}
"""Query name → the rollups its form in ``queries/rollups/`` reads: :func:`run` answers from the
form when every one is usable. Each form declares the query's parameters and gives the query's
frame. The other forms hold for some parameter values only, and their callers choose them with
:func:`query_or_rows`: the Business tab's (``business_revenue``, ``business_mrr``,
``business_user_activity``, ``business_retention``) in :mod:`auterity_lab.business`, the AI/ML
ones (``ml_model_performance``, ``ml_latency_histogram``) in :mod:`auterity_lab.ml._rollup_forms`
and the metric catalog's daily ones (``metric_auterity``, ``metric_neuroweaver``) in
:mod:`auterity_lab.metrics`."""


@dataclass(frozen=True)
class RollupBuild:
    """What one build did: day partitions rebuilt, kept and removed; rows now held."""

    name: str
    rebuilt: int
    kept: int
    removed: int
    rows: int
    source_fingerprint: str


# ============================================================================ building
def build_rollups(
    data_dir: str | Path, *, names: list[str] | None = None, full: bool = False
) -> dict[str, RollupBuild]:
    """Bring the rollups of ``data_dir`` up to date with its extracts.

    Parameters
    ----------
    data_dir
        Folder holding ``manifest.json`` and ``extracts/``.
    names
        Rollups to build (default: all of :data:`ROLLUPS`).
    full
        Rebuild every day partition instead of only the changed ones.

    Returns
    -------
    dict
        Rollup name → :class:`RollupBuild`.

    Raises
    ------
    RollupError
        An unknown rollup name, or a source file cannot be read.

    Examples
    --------
    >>> build_rollups("/nonexistent")
    Traceback (most recent call last):
    ...
    auterity_lab.errors.DataNotFoundError: data directory /nonexistent does not exist; ...
    """
    data_dir = Path(data_dir)
    manifest = read_manifest(data_dir)
    chosen = list(ROLLUPS) if names is None else names
    unknown = [n for n in chosen if n not in ROLLUPS]
    if unknown:
        raise RollupError(f"unknown rollup {', '.join(unknown)}; known: {', '.join(ROLLUPS)}")
    out = {}
    with _lock(data_dir):
        for name in chosen:
            rollup = ROLLUPS[name]
            entry = manifest.tables.get(rollup.qualified_source)
            files = entry.files if entry is not None else ()
            fingerprint = manifest.fingerprint([rollup.qualified_source])
            out[name] = _build(data_dir, rollup, files, fingerprint, full=full)
    return out


def _build(
    data_dir: Path, rollup: Rollup, files: tuple[FileEntry, ...], fingerprint: str, *, full: bool
) -> RollupBuild:
    by_day = _files_by_day(files, rollup)
    try:
        previous = _read_state(data_dir, rollup.name)
    except RollupError:  # a damaged state is rebuilt from scratch
        previous = None
    old_parts: dict[str, Any] = {}
    if previous is not None and previous.get("definition") == rollup.definition:
        old_parts = previous.get("partitions", {})
    parts: dict[str, dict[str, Any]] = {}
    written: list[Path] = []
    rebuilt = kept = 0
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        for day, day_files in sorted(by_day.items()):
            signature = _signature(rollup, day_files)
            old = old_parts.get(day)
            unchanged = old and old["signature"] == signature and (data_dir / old["path"]).is_file()
            if unchanged and not full:
                parts[day] = old
                kept += 1
                continue
            rel = f"{ROLLUPS_DIR}/{rollup.name}/{PARTITION_FIELD}={day}/{signature}.parquet"
            rows = _write_day(con, data_dir, rollup, day_files, data_dir / rel)
            written.append(data_dir / rel)
            parts[day] = {"signature": signature, "path": rel, "rows": rows}
            rebuilt += 1
    except (duckdb.Error, OSError) as exc:
        for path in written:
            if not any(p["path"] == str(path.relative_to(data_dir)) for p in old_parts.values()):
                path.unlink(missing_ok=True)
        raise RollupError(f"rollup {rollup.name} could not be built: {exc}") from exc
    finally:
        con.close()
    state = {
        "rollup": rollup.name,
        "source": rollup.qualified_source,
        "definition": rollup.definition,
        "source_fingerprint": fingerprint,
        "built_at": dt.datetime.now(dt.UTC).isoformat(),
        "partitions": parts,
    }
    _write_state(data_dir, rollup.name, state)  # the state moves last
    keep = {p["path"] for p in parts.values()}
    removed = sum(1 for day in old_parts if day not in parts)
    _remove_unlisted(data_dir, rollup.name, keep)
    return RollupBuild(
        rollup.name, rebuilt, kept, removed, sum(p["rows"] for p in parts.values()), fingerprint
    )


def _files_by_day(files: tuple[FileEntry, ...], rollup: Rollup) -> dict[str, list[FileEntry]]:
    by_day: dict[str, list[FileEntry]] = {}
    for f in files:
        m = _PARTITION.search(f.path)
        if m is None:
            raise RollupError(
                f"{rollup.qualified_source}: {f.path} is not in a {PARTITION_FIELD}= partition"
            )
        by_day.setdefault(m[1], []).append(f)
    return by_day


def _signature(rollup: Rollup, files: list[FileEntry]) -> str:
    text = rollup.definition + "".join(
        f"{f.path}:{f.bytes}:{f.rows}" for f in sorted(files, key=lambda f: f.path)
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _write_day(
    con: duckdb.DuckDBPyConnection,
    data_dir: Path,
    rollup: Rollup,
    files: list[FileEntry],
    target: Path,
) -> int:
    paths = [str(data_dir / f.path) for f in files]
    con.execute(
        "CREATE OR REPLACE TEMP VIEW day_rows AS "
        f"SELECT * FROM read_parquet({_sql_list(paths)}, union_by_name = true)"
    )
    cols = ", ".join(f"CAST({n} AS {t}) AS {n}" for n, t in rollup.columns)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        con.execute(
            f"COPY (SELECT {cols} FROM ({rollup.aggregate_sql})) TO '{_quote(tmp)}' "
            "(FORMAT parquet, COMPRESSION zstd)"
        )
        rows = con.execute(f"SELECT count(*) FROM read_parquet('{_quote(tmp)}')").fetchone()
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return int(rows[0]) if rows else 0


def _remove_unlisted(data_dir: Path, name: str, keep: set[str]) -> None:
    root = data_dir / ROLLUPS_DIR / name
    if not root.is_dir():
        return
    for path in root.rglob("*.parquet"):
        if str(path.relative_to(data_dir)) not in keep:
            path.unlink(missing_ok=True)
    for folder in sorted((p for p in root.iterdir() if p.is_dir()), reverse=True):
        with contextlib.suppress(OSError):
            folder.rmdir()  # only empty ones go


# ============================================================================ reading
def rollup_state(data_dir: str | Path, name: str) -> dict[str, Any] | None:
    """The recorded state of rollup ``name`` (None when it was never built).

    Raises
    ------
    RollupError
        The state file exists but cannot be read.
    """
    _rollup(name)
    return _read_state(Path(data_dir), name)


def is_fresh(wb: Workbench, name: str) -> bool:
    """True when rollup ``name`` was built from exactly the extracts ``wb`` reads.

    A corrupt state file, a changed definition, a missing partition file or a source table the
    workbench cannot read all make it not fresh.
    """
    rollup = ROLLUPS[name]
    if rollup.qualified_source in wb.unavailable:
        return False
    try:
        state = _read_state(wb.data_dir, name)
    except RollupError:
        return False
    return (
        state is not None
        and state.get("definition") == rollup.definition
        and state.get("source_fingerprint") == wb.fingerprint([rollup.qualified_source])
        and all((wb.data_dir / p["path"]).is_file() for p in state["partitions"].values())
    )


def attach_rollups(wb: Workbench) -> frozenset[str]:
    """Define every fresh rollup as a view of the workbench's tenant; return their names.

    A view that is not fresh is not (re)defined, so a stale rollup is never read through it.
    Attaching again after a new extract drops the views whose rollup went stale.

    Examples
    --------
    >>> attach_rollups(wb)                                       # doctest: +SKIP
    frozenset({'user_day_activity'})
    """
    stamp = _states_stamp(wb.data_dir)  # before reading them: a later build re-attaches
    fresh = set()
    for name, rollup in ROLLUPS.items():
        register_equivalent_view(name)  # fresh it equals the rows, stale it is never read
        if is_fresh(wb, name):
            state = _read_state(wb.data_dir, name) or {}
            paths = [str(wb.data_dir / p["path"]) for p in state["partitions"].values()]
            try:
                # day files are named by their signature: results over them can be cached
                register_derived_files(paths, sources=[rollup.source])
            except ConfigError:  # a glob character in the data directory's path: the rows
                wb.create_view(name, _stale_view_sql(rollup))
                continue
            wb.create_view(name, _view_sql(rollup, paths))
            fresh.add(name)
        else:
            wb.create_view(name, _stale_view_sql(rollup))
    attached = frozenset(fresh)
    _ATTACHED[wb] = (wb.manifest, wb.fingerprint(), attached, stamp)
    return attached


def usable(wb: Workbench, name: str, *, start: Any, end: Any) -> bool:
    """True when a query over ``[start, end)`` may read rollup ``name`` instead of the rows.

    The rollup must be fresh for ``wb`` (attached on first use) and each bound must be NULL
    (no bound) or fall on the rollup's unit: UTC midnight for a daily rollup, a whole UTC hour
    for ``hourly_ai_performance``.

    Raises
    ------
    RollupError
        ``name`` is not a rollup.
    QueryParameterError
        A bound is not a timestamp.

    Examples
    --------
    >>> usable(wb, "hourly_ai_performance", start="2026-10-01 13:00", end=None)  # doctest: +SKIP
    True
    """
    rollup = _rollup(name)
    lo = coerce(start, "TIMESTAMPTZ", "start")
    hi = coerce(end, "TIMESTAMPTZ", "end")
    if not all(bound is None or _aligned(bound, rollup.unit) for bound in (lo, hi)):
        return False
    manifest = wb.current_manifest()  # an extract since the last query: attach anew
    known = _ATTACHED.get(wb)
    moved = known is None or (known[0] is not manifest and known[1] != wb.fingerprint())
    if moved or (name not in known[2] and known[3] != _states_stamp(wb.data_dir)):
        return name in attach_rollups(wb)  # a new extract, or a build since the last attach
    return name in known[2]


# workbench -> (the manifest it read, that manifest's fingerprint, the rollups attached to it,
# the state files' stamp then); the manifest's identity spares hashing it again on every call
_ATTACHED: weakref.WeakKeyDictionary[
    Workbench, tuple[Manifest, str, frozenset[str], tuple[int, ...]]
] = weakref.WeakKeyDictionary()


def _states_stamp(data_dir: Path) -> tuple[int, ...]:
    """When each rollup's state file last moved (0: none): a build since then re-attaches."""
    stamps = []
    for name in ROLLUPS:
        try:
            stamps.append(_state_path(data_dir, name).stat().st_mtime_ns)
        except OSError:
            stamps.append(0)
    return tuple(stamps)


def run(
    wb: Workbench,
    name: str,
    /,
    *,
    frame: Literal["pandas", "polars"] = "pandas",
    limit: int | None = None,
    offset: int | None = None,
    cache: bool = True,
    **params: Any,
) -> pd.DataFrame:
    """Run the named query, from its rollup when one is usable, else from the rows.

    The same call and the same frame as ``wb.query(name, ...)``: the parameters are checked as
    ``wb.query`` checks them (a rollup form declares its query's parameters); when
    :data:`QUERY_ROLLUPS` names rollups for the query and :func:`usable` accepts its
    ``start``/``end`` for each, the rollup form ``queries/rollups/<name>.sql`` answers (a few
    rows per day instead of every session), otherwise the row-level query does.
    A page (``limit``/``offset``) is the same page either way (the same stable order over the
    same rows). On a workbench opened with a security context, a page or a polars frame is read
    from the rows (the context's page path is the checked row-level query).

    Parameters
    ----------
    wb
        The tenant's workbench.
    name
        A query of ``queries/`` (any: those without a rollup simply run on the rows).
    frame, limit, offset, cache
        As :meth:`auterity_lab.warehouse.Workbench.query`.
    **params
        The query's parameters.

    Raises
    ------
    QueryNotFoundError, QueryParameterError, QueryError
        As ``wb.query``.

    Examples
    --------
    >>> run(wb, "daily_user_analytics", start="2026-10-01", end="2026-11-01")  # doctest: +SKIP
             date  unique_users  total_sessions  ...
    """
    on = QUERY_ROLLUPS.get(name)
    if on is not None:
        form = _form(name)
        bound = form.bind(params)  # the query's own parameters: wb.query's checks
        on_rollup = _all_usable(wb, on, bound)
        if on_rollup and wb.context is None:  # no ad-hoc checks: the page path of wb.sql
            return wb.sql(form.sql, frame=frame, limit=limit, offset=offset, cache=cache, **bound)
        if on_rollup and limit is None and frame == "pandas":
            with contextlib.nullcontext() if cache else wb.no_cache():
                return wb.library_sql(form.sql, **bound)
    return wb.query(name, frame=frame, limit=limit, offset=offset, cache=cache, **params)


def query_or_rows(
    wb: Workbench, name: str, /, *, on: tuple[str, ...], **params: Any
) -> pd.DataFrame:
    """The rollup form ``queries/rollups/<name>.sql`` when every rollup of ``on`` is usable
    for the ``start``/``end`` of ``params``, else ``wb.query(name, ...)``: the same frame.

    For forms that read several rollups or hold for some parameters only (the caller then
    passes ``on=()``); :func:`run` serves the forms of :data:`QUERY_ROLLUPS`.

    Examples
    --------
    >>> query_or_rows(wb, "business_stickiness", on=("user_day_activity",),
    ...               start=s, end=e)                                  # doctest: +SKIP
    """
    if _all_usable(wb, on, params):
        return query(wb, name, **params)
    return wb.query(name, **params)


def query(wb: Workbench, name: str, /, **params: Any) -> pd.DataFrame:
    """Run ``queries/rollups/<name>.sql``: the rollup form of ``queries/<name>.sql``.

    Call it only when :func:`usable` is True; it gives the same frame as the row-level query.
    :func:`run` does both in one call.

    Examples
    --------
    >>> if usable(wb, "user_day_activity", start=s, end=e):          # doctest: +SKIP
    ...     daily = query(wb, "overview_daily_auterity", start=s, end=e)
    """
    q = _form(name)
    return wb.library_sql(q.sql, **q.bind(params))


def _all_usable(wb: Workbench, on: tuple[str, ...], params: dict[str, Any]) -> bool:
    """Whether ``on`` names rollups and each is usable for the ``start``/``end`` of ``params``."""
    bounds = {"start": params.get("start"), "end": params.get("end")}
    return bool(on) and all(usable(wb, rollup, **bounds) for rollup in on)


def _form(name: str) -> Query:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise QueryNotFoundError(f"{name!r} is not a query name (lowercase letters, digits, _)")
    path = queries_root() / ROLLUPS_DIR / f"{name}.sql"
    if not path.is_file():
        raise QueryNotFoundError(f"no rollup query named {name!r} in {path.parent}")
    return parse_query(name, path.read_text(encoding="utf-8"))


def _rollup(name: str) -> Rollup:
    if name not in ROLLUPS:
        raise RollupError(f"unknown rollup {name!r}; known: {', '.join(ROLLUPS)}")
    return ROLLUPS[name]


def _aligned(ts: dt.datetime, unit: str) -> bool:
    """Whether ``ts`` starts a UTC ``unit`` (a day: midnight; an hour: minute 0, second 0)."""
    utc = ts.astimezone(dt.UTC)
    if unit == "day":
        return utc.time() == dt.time(0)
    return utc.time().replace(hour=0) == dt.time(0)


def _view_sql(rollup: Rollup, paths: list[str]) -> str:
    cols = ", ".join(n for n, _ in rollup.columns)
    if not paths:
        return _empty_sql(rollup)
    return (
        f"SELECT {cols}, {PARTITION_FIELD} FROM read_parquet({_sql_list(paths)}, "
        f"hive_partitioning = true, hive_types = {{'{PARTITION_FIELD}': DATE}}) "
        "WHERE tenant_id = getvariable('tenant')"
    )


def _empty_sql(rollup: Rollup) -> str:
    cols = ", ".join(f"CAST(NULL AS {t}) AS {n}" for n, t in rollup.columns)
    return f"SELECT {cols}, CAST(NULL AS DATE) AS {PARTITION_FIELD} WHERE false"


def _stale_view_sql(rollup: Rollup) -> str:
    # Reading a stale rollup is a bug in the caller: fail loudly instead of answering from it.
    reason = f"rollup {rollup.name} is not fresh for this workbench; read the rows instead"
    cols = ", ".join(f"CAST(error('{reason}') AS {t}) AS {n}" for n, t in rollup.columns)
    # the partition day errors too: a filter on it (every form has one) cannot fold the read away
    return (
        f"SELECT {cols}, CAST(error('{reason}') AS DATE) AS {PARTITION_FIELD} "
        f"WHERE error('{reason}') IS NULL"
    )


# ============================================================================ state files
def _state_path(data_dir: Path, name: str) -> Path:
    return data_dir / ROLLUPS_DIR / f"{name}.json"


def _read_state(data_dir: Path, name: str) -> dict[str, Any] | None:
    path = _state_path(data_dir, name)
    if not path.is_file():
        return None
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(state, dict) or not isinstance(state.get("partitions"), dict):
            raise ValueError("not a rollup state")
        return state
    except (OSError, ValueError) as exc:
        raise RollupError(f"rollup state {path} cannot be read: {exc}") from exc


def _write_state(data_dir: Path, name: str, state: dict[str, Any]) -> None:
    path = _state_path(data_dir, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(state, indent=1, sort_keys=True) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


@contextlib.contextmanager
def _lock(data_dir: Path) -> Iterator[None]:
    root = data_dir / ROLLUPS_DIR
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _quote(path: Path | str) -> str:
    return str(path).replace("'", "''")


def _sql_list(paths: list[str]) -> str:
    return "[" + ", ".join(f"'{_quote(p)}'" for p in paths) + "]"


__all__ = [
    "MONEY_CANCEL_EVENTS",
    "QUERY_ROLLUPS",
    "ROLLUPS",
    "UNITS",
    "Rollup",
    "RollupBuild",
    "RollupError",
    "attach_rollups",
    "build_rollups",
    "is_fresh",
    "query",
    "query_or_rows",
    "rollup_state",
    "run",
    "usable",
]
