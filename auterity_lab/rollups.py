"""Pre-aggregated rollups of the extracts, kept next to them and rebuilt per day partition.

A rollup turns row-level extracts into a small table that answers the dashboard's most frequent
question cheaply. The one rollup, ``user_day_activity``, holds one row per tenant, user and UTC
day with a session: how many sessions, their summed duration and page views (integer sums, so
averages computed from it equal the row-level ones exactly). Daily active users become a plain
count of its rows instead of an exact ``COUNT(DISTINCT user_id)`` over every session.

Layout::

    DIR/rollups/<name>.json                                   state, written last (atomic)
    DIR/rollups/<name>/date=YYYY-MM-DD/<signature>.parquet    one file per day partition

:func:`build_rollups` reads the source table's files from the manifest and rebuilds only the
day partitions whose source files changed (a day's signature hashes its files' paths, sizes
and row counts), deletes the days the source no longer has, and records the manifest
fingerprint of the source table. :func:`attach_rollups` defines a rollup as a view on a
workbench only when that fingerprint equals the workbench's: a stale or missing rollup is never
read, and the analytics fall back to the row-level query (:func:`usable` tells them which).
A day file's name is its signature, so its content never changes under its name: the result
cache treats a read of the attached files as a read of the source table
(:func:`auterity_lab.cache.register_derived_files`), and rollup-backed results are cached.

Examples
--------
>>> build_rollups(data_dir)                                   # doctest: +SKIP
{'user_day_activity': RollupBuild(name='user_day_activity', rebuilt=120, kept=0, removed=0, ...)}
>>> usable(wb, "user_day_activity", start="2026-10-01", end="2026-11-01")  # doctest: +SKIP
True
>>> sorted(ROLLUPS)
['user_day_activity']
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
from typing import TYPE_CHECKING, Any

import duckdb

from auterity_lab.cache import register_derived_files, register_equivalent_view
from auterity_lab.errors import AuterityLabError, QueryNotFoundError
from auterity_lab.manifest import FileEntry, read_manifest
from auterity_lab.queries import coerce, parse_query, queries_root
from auterity_lab.schema import PARTITION_FIELD, table

if TYPE_CHECKING:
    import pandas as pd

    from auterity_lab.warehouse import Workbench

ROLLUPS_DIR = "rollups"
_NAME = re.compile(r"[a-z][a-z0-9_]*")
_PARTITION = re.compile(rf"(?:^|/){PARTITION_FIELD}=(\d{{4}}-\d{{2}}-\d{{2}})/")


@dataclass(frozen=True)
class Rollup:
    """A rollup: its source table, the aggregation of one day's source files, its columns."""

    name: str
    source: str
    aggregate_sql: str  # reads the relation ``day_rows`` (one day of the source), no parameters
    columns: tuple[tuple[str, str], ...]  # (name, DuckDB type) in file order, without ``date``

    @property
    def qualified_source(self) -> str:
        return table(self.source).qualified_name

    @property
    def definition(self) -> str:
        """Hash of what the files hold: a changed aggregation invalidates every day."""
        text = self.aggregate_sql + repr(self.columns) + table(self.source).fingerprint()
        return hashlib.sha256(text.encode()).hexdigest()[:16]


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
}
"""Rollup name → definition. ``user_day_activity``: one row per (tenant, user, UTC day) with
``sessions``, ``duration_sum``/``duration_count`` (seconds; sessions with a duration),
``page_views_sum``/``page_views_count`` and ``bounced_sessions`` (exactly one page view);
sessions without a user form the row with a NULL ``user_id``."""


class RollupError(AuterityLabError):
    """A rollup cannot be built or its state cannot be read."""


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
    if name not in ROLLUPS:
        raise RollupError(f"unknown rollup {name!r}; known: {', '.join(ROLLUPS)}")
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
    fresh = set()
    for name, rollup in ROLLUPS.items():
        register_equivalent_view(name)  # fresh it equals the rows, stale it is never read
        if is_fresh(wb, name):
            state = _read_state(wb.data_dir, name) or {}
            paths = [str(wb.data_dir / p["path"]) for p in state["partitions"].values()]
            # day files are named by their signature: results over them can be cached
            register_derived_files(paths, sources=[rollup.source])
            wb.create_view(name, _view_sql(rollup, paths))
            fresh.add(name)
        else:
            wb.create_view(name, _stale_view_sql(rollup))
    attached = frozenset(fresh)
    _ATTACHED[wb] = (wb.fingerprint(), attached)
    return attached


def usable(wb: Workbench, name: str, *, start: Any, end: Any) -> bool:
    """True when a query over ``[start, end)`` may read rollup ``name`` instead of the rows.

    The rollup must be fresh for ``wb`` (attached on first use) and both bounds must fall on
    UTC midnight, since the rollup counts whole days.
    """
    lo = coerce(start, "TIMESTAMPTZ", "start")
    hi = coerce(end, "TIMESTAMPTZ", "end")
    if not (_midnight(lo) and _midnight(hi)):
        return False
    known = _ATTACHED.get(wb)
    if known is None or known[0] != wb.fingerprint():
        return name in attach_rollups(wb)
    return name in known[1]


# workbench -> (its manifest fingerprint, the rollups attached to it)
_ATTACHED: weakref.WeakKeyDictionary[Workbench, tuple[str, frozenset[str]]] = (
    weakref.WeakKeyDictionary()
)


def query(wb: Workbench, name: str, /, **params: Any) -> pd.DataFrame:
    """Run ``queries/rollups/<name>.sql``: the rollup form of ``queries/<name>.sql``.

    Call it only when :func:`usable` is True; it gives the same frame as the row-level query.

    Examples
    --------
    >>> if usable(wb, "user_day_activity", start=s, end=e):          # doctest: +SKIP
    ...     daily = query(wb, "overview_daily_auterity", start=s, end=e)
    """
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise QueryNotFoundError(f"{name!r} is not a query name (lowercase letters, digits, _)")
    path = queries_root() / ROLLUPS_DIR / f"{name}.sql"
    if not path.is_file():
        raise QueryNotFoundError(f"no rollup query named {name!r} in {path.parent}")
    q = parse_query(name, path.read_text(encoding="utf-8"))
    return wb.library_sql(q.sql, **q.bind(params))


def _midnight(ts: dt.datetime) -> bool:
    return ts.astimezone(dt.UTC).time() == dt.time(0)


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
    return f"SELECT {cols}, CAST(NULL AS DATE) AS {PARTITION_FIELD} WHERE error('{reason}') IS NULL"


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
    "ROLLUPS",
    "Rollup",
    "RollupBuild",
    "RollupError",
    "attach_rollups",
    "build_rollups",
    "is_fresh",
    "query",
    "rollup_state",
    "usable",
]
