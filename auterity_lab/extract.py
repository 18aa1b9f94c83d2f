"""Extract the Postgres sources into the Parquet layout: incremental by default, crash-safe.

DuckDB's Postgres scanner (loaded from its pip wheel, never downloaded) reads each table with
``COPY ... TO STDOUT (FORMAT binary)`` on parallel connections, the privacy policy is applied
in the same pass (:mod:`auterity_lab.privacy`), and :func:`auterity_lab.manifest.write_extract`
writes day partitions, staged and then published by one atomic manifest swap.

Incremental extraction
    Each table's manifest entry keeps a watermark: the newest ``created_at`` (the table's
    watermark column) the source held when the last extract began, capped at the server clock.
    The next run reads the rows at or after ``watermark - overlap`` (``extract_overlap_minutes``,
    60 by default, for rows that commit late), unions them with the rows already extracted for
    the days they touch, keeps the newest version of each primary key and rewrites only those
    days. Re-running never duplicates a row, and misses none that commits within the overlap of
    its timestamp. A table extracts in full the first time, with ``full=True``, and whenever its
    source, schema, privacy policy or HMAC key differs from the one its extract was made with.
    The partition column (``created_at``) is assumed never to change in the source.

Crash safety
    Files are staged under ``DIR/.staging`` and published by renames, the manifest moving last,
    so a reader sees the old or the new extract of a table, never a mix. A killed run leaves
    the previous extract and watermark in place; the next run sweeps its leftovers and reads
    the same rows again.

Schema drift
    A source column that the model lacks is carried into the extract and reported; a missing
    or retyped model column stops that table with a :class:`SchemaError` naming both, and its
    previous extract stays as it was. The other tables go on.

Examples
--------
>>> run = extract("data", systems=["neuroweaver"])                    # doctest: +SKIP
>>> [(t.table, t.mode, t.rows_read) for t in run.tables]               # doctest: +SKIP
[('neuroweaver.prompt_outputs', 'incremental', 1204), ...]
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import duckdb

from auterity_lab.config import Settings, load_settings, packaged_dir
from auterity_lab.errors import ConfigError, DataNotFoundError, ExtractError, SchemaError
from auterity_lab.manifest import (
    TableEntry,
    append_run,
    new_run_id,
    read_manifest,
    staging_dir,
    sweep_orphans,
    write_extract,
)
from auterity_lab.privacy import (
    Policy,
    column_sql,
    install,
    load_policy,
    policy_fingerprint,
    retention_cutoff,
    sql_params,
)
from auterity_lab.schema import PARTITION_FIELD, SYSTEMS, Table, source_tables, table
from auterity_lab.sources import (
    SOURCE_SCHEMA,
    attach,
    connect,
    describe_dsn,
    redact,
    resolve_dsns,
    with_application_name,
)

if TYPE_CHECKING:
    import psycopg
    from psycopg import sql

Mode = Literal["full", "incremental"]
_LOCK = ".extract.lock"
_SPILL = "extract-spill"
_NO_CONSENT = "_no_consent"
_POLL_SECONDS = 0.2
_PG_KINDS = {
    "uuid": "uuid",
    "text": "text",
    "character varying": "text",
    "character": "text",
    "smallint": "smallint",
    "integer": "int",
    "bigint": "bigint",
    "double precision": "double",
    "boolean": "bool",
    "timestamp with time zone": "timestamptz",
    "date": "date",
    "jsonb": "jsonb",
    "json": "jsonb",
}


@dataclass(frozen=True)
class TableResult:
    """How one table's extraction went.

    ``rows_read`` came from the source in this run; ``rows`` and ``bytes`` describe the table's
    whole extract afterwards; ``watermark`` is the one recorded for the next run.
    """

    table: str
    mode: Mode
    status: Literal["ok", "failed"]
    rows_read: int = 0
    rows: int = 0
    bytes: int = 0
    seconds: float = 0.0
    watermark: str | None = None
    extra_columns: tuple[str, ...] = ()
    error: str | None = None

    @property
    def rows_per_second(self) -> float:
        """Rows read from the source per second of this table's extraction."""
        return self.rows_read / self.seconds if self.seconds > 0 else 0.0


@dataclass(frozen=True)
class ExtractRun:
    """One run of :func:`extract`: its id, timing, privacy policy and per-table results."""

    run_id: str
    started_at: str
    seconds: float
    policy: str
    tables: tuple[TableResult, ...]

    @property
    def ok(self) -> bool:
        """True when every table was extracted."""
        return all(t.status == "ok" for t in self.tables)

    def raise_for_errors(self) -> None:
        """Raise :class:`ExtractError` naming every table that failed, if any did."""
        failed = [t for t in self.tables if t.status != "ok"]
        if failed:
            raise ExtractError(
                f"{len(failed)} of {len(self.tables)} tables failed: "
                + "; ".join(f"{t.table}: {t.error}" for t in failed)
            )

    def record(self) -> dict[str, Any]:
        """The run as the manifest's ``runs`` keeps it."""
        return {
            "kind": "extract",
            "run_id": self.run_id,
            "started_at": self.started_at,
            "seconds": round(self.seconds, 3),
            "policy": self.policy,
            "tables": {
                t.table: {k: v for k, v in asdict(t).items() if k != "table"} for t in self.tables
            },
        }


@dataclass(frozen=True)
class ProgressUpdate:
    """Rows read so far from one table; ``done`` with the exact count when it finishes."""

    table: str
    rows: int
    total: int | None
    done: bool = False


Progress = Callable[[ProgressUpdate], None]


def extract(
    data_dir: str | Path | None = None,
    *,
    systems: Sequence[str] | None = None,
    tables: Sequence[str] | None = None,
    full: bool = False,
    settings: Settings | None = None,
    policy: Policy | None = None,
    progress: Progress | None = None,
) -> ExtractRun:
    """Extract source tables from Postgres into ``data_dir`` (incrementally unless ``full``).

    Parameters
    ----------
    data_dir
        The data directory; defaults to the configured one.
    systems, tables
        Restrict the run to these systems and/or tables (``events`` or ``auterity.events``).
    full
        Re-extract every selected table and replace its extract atomically.
    settings
        DSNs, HMAC key, DuckDB limits, overlap; read from the environment by default.
    policy
        The privacy policy; the configured (or packaged) one by default.
        ``Policy.disabled()`` extracts rows exactly as the source holds them.
    progress
        Called with a :class:`ProgressUpdate` while tables are read.

    Returns
    -------
    ExtractRun
        Per-table results; the run is also recorded in the manifest. A table that failed
        (schema drift, a source error) keeps its previous extract; see
        :meth:`ExtractRun.raise_for_errors`.

    Raises
    ------
    ConfigError
        No DSN for a needed system, an unreachable database, an unknown table or system, an
        invalid policy, or a hash rule without ``AUTERITY_LAB_HMAC_KEY``.
    ExtractError
        Another extract is running on the same data directory.

    Examples
    --------
    >>> run = extract("data", tables=["events"], full=True)                # doctest: +SKIP
    >>> run.ok, run.tables[0].mode                                          # doctest: +SKIP
    (True, 'full')
    """
    started = time.monotonic()
    settings = settings or load_settings()
    target = Path(data_dir) if data_dir is not None else settings.data_dir
    policy = policy if policy is not None else load_policy(settings=settings)
    selected = select_tables(systems, tables)
    key = settings.hmac_key.get_secret_value() if settings.hmac_key else None
    params = {t.qualified_name: sql_params(policy, t, key) for t in selected}
    consent = any(policy.needs_consent(t.name) for t in selected)
    needed = [
        s for s in SYSTEMS if any(t.system == s for t in selected) or (consent and s == "auterity")
    ]
    dsns = {s: d.get_secret_value() for s, d in resolve_dsns(needed, settings).items()}
    run_id = new_run_id()
    job = _Job(
        data_dir=target,
        run_id=run_id,
        application=f"auterity-lab-extract-{run_id}",
        dsns=dsns,
        policy=policy,
        policy_id=policy_fingerprint(policy, key),
        overlap=dt.timedelta(minutes=settings.extract_overlap_minutes),
        progress=progress,
    )
    started_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    target.mkdir(parents=True, exist_ok=True)
    with _exclusive(target):
        sweep_orphans(target, [t.qualified_name for t in selected] + [_SPILL])
        spill = staging_dir(target, _SPILL)
        con = duckdb.connect(
            config={
                "threads": settings.duckdb_threads,
                "memory_limit": settings.duckdb_memory_limit,
                "temp_directory": str(spill),
                "preserve_insertion_order": False,
            }
        )
        try:
            con.execute("SET TimeZone='UTC'")
            catalogs = attach(
                con, {s: with_application_name(d, job.application) for s, d in dsns.items()}
            )
            install(con)
            with _Controls(dsns) as controls:
                if consent:
                    _load_non_consenting(con, catalogs["auterity"], job)
                results = tuple(
                    _run_table(
                        con, controls, job, t, catalogs[t.system], params[t.qualified_name], full
                    )
                    for t in selected
                )
        finally:
            con.close()
            _rmtree(spill)
        run = ExtractRun(run_id, started_at, time.monotonic() - started, job.policy_id, results)
        append_run(target, run.record())
    return run


def select_tables(
    systems: Sequence[str] | None = None, tables: Sequence[str] | None = None
) -> list[Table]:
    """The source tables a run covers, in model order.

    Raises
    ------
    ConfigError
        An unknown system or table, or a table outside the given systems.

    Examples
    --------
    >>> [t.name for t in select_tables(["relaycore"])]
    ['workflow_runs', 'workflow_steps']
    >>> select_tables(["relaycore"], ["users"])
    Traceback (most recent call last):
    ...
    auterity_lab.errors.ConfigError: table auterity.users is not in the selected systems: relaycore
    """
    for system in systems or ():
        if system not in SYSTEMS:
            raise ConfigError(f"unknown system {system!r}; known: {', '.join(SYSTEMS)}")
    chosen = [t for t in source_tables() if not systems or t.system in systems]
    if not tables:
        return chosen
    wanted: set[str] = set()
    for name in tables:
        try:
            tbl = table(name)
        except SchemaError as exc:
            raise ConfigError(str(exc)) from None
        if tbl.derived:
            raise ConfigError(f"{tbl.qualified_name} is derived by the workbench, not extracted")
        if tbl not in chosen:
            raise ConfigError(
                f"table {tbl.qualified_name} is not in the selected systems: "
                + ", ".join(systems or ())
            )
        wanted.add(tbl.qualified_name)
    return [t for t in chosen if t.qualified_name in wanted]


# ----------------------------------------------------------------------------- one run
@dataclass(frozen=True)
class _Job:
    data_dir: Path
    run_id: str
    application: str
    dsns: dict[str, str]
    policy: Policy
    policy_id: str
    overlap: dt.timedelta
    progress: Progress | None


class _Controls:
    """One psycopg connection per source database, for catalog and watermark queries."""

    def __init__(self, dsns: dict[str, str]) -> None:
        self._dsns = dsns
        self._open: dict[str, psycopg.Connection] = {}

    def __enter__(self) -> _Controls:
        return self

    def __exit__(self, *exc: object) -> None:
        for con in self._open.values():
            con.close()

    def get(self, system: str) -> psycopg.Connection:
        dsn = self._dsns[system]
        if dsn not in self._open:
            self._open[dsn] = connect(dsn, autocommit=True)
        return self._open[dsn]


def _run_table(
    con: duckdb.DuckDBPyConnection,
    controls: _Controls,
    job: _Job,
    tbl: Table,
    catalog: str,
    params: dict[str, Any],
    full: bool,
) -> TableResult:
    import psycopg

    started = time.monotonic()
    dsn = job.dsns[tbl.system]
    identity = describe_dsn(dsn)
    previous = _previous_entry(job.data_dir, tbl)
    mode: Mode = (
        "full" if full or not _continues(previous, tbl, identity, job.policy_id) else "incremental"
    )
    try:
        pg = controls.get(tbl.system)
        extra = _check_source(pg, tbl, identity)
        entry, rows_read = _extract_table(
            con, pg, job, tbl, catalog, params, extra, mode, previous, identity
        )
    except SchemaError as exc:
        return TableResult(
            tbl.qualified_name,
            mode,
            "failed",
            seconds=time.monotonic() - started,
            error=redact(str(exc), [dsn]),
        )
    except (duckdb.Error, psycopg.Error) as exc:
        message = redact(f"{type(exc).__name__}: {exc}".strip(), [dsn])
        return TableResult(
            tbl.qualified_name, mode, "failed", seconds=time.monotonic() - started, error=message
        )
    seconds = time.monotonic() - started
    if job.progress is not None:
        job.progress(ProgressUpdate(tbl.qualified_name, rows_read, rows_read, done=True))
    return TableResult(
        table=tbl.qualified_name,
        mode=mode,
        status="ok",
        rows_read=rows_read,
        rows=entry.rows if entry else 0,
        bytes=sum(f.bytes for f in entry.files) if entry else 0,
        seconds=seconds,
        watermark=(entry.watermark or {}).get("value") if entry else None,
        extra_columns=entry.extra_columns if entry else (),
    )


def _extract_table(
    con: duckdb.DuckDBPyConnection,
    pg: psycopg.Connection,
    job: _Job,
    tbl: Table,
    catalog: str,
    params: dict[str, Any],
    extra: tuple[str, ...],
    mode: Mode,
    previous: TableEntry | None,
    identity: str,
) -> tuple[TableEntry | None, int]:
    since = None
    if mode == "incremental":
        assert previous is not None and previous.watermark is not None
        since = dt.datetime.fromisoformat(previous.watermark["value"]) - job.overlap
    kept = job.policy.retention(tbl.name)
    cutoff = None
    if kept is not None:
        day = retention_cutoff(kept[1])
        cutoff = dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
    mark = {
        "column": tbl.watermark_column,
        "value": _watermark(pg, tbl),
        "source": identity,
        "policy": job.policy_id,
    }
    select = _source_select(
        tbl, catalog, job.policy, extra, since=since is not None, cutoff=cutoff is not None
    )
    bound = dict(params)
    if since is not None:
        bound["since"] = since
    if cutoff is not None:
        bound["cutoff"] = cutoff
    # parallel ctid ranges for whole tables; one index range scan for an increment
    con.execute(f"SET pg_use_ctid_scan = {'true' if mode == 'full' else 'false'}")
    total = _count_since(pg, tbl, since) if since is not None else _estimate(pg, tbl)
    # sort=False: rows keep the order the parallel scan delivers them in; a sort would be a
    # pipeline breaker costing a third of the run, and no reader depends on row order
    with _CopyWatcher(job, tbl.qualified_name, total):
        if mode == "full":
            entry = write_extract(
                con,
                job.data_dir,
                tbl,
                select,
                bound,
                run_id=job.run_id,
                replace_partitions="all",
                watermark=mark,
                sort=False,
            )
            return entry, entry.rows
        return _merge_increment(con, job, tbl, select, bound, previous, mark)


def _merge_increment(
    con: duckdb.DuckDBPyConnection,
    job: _Job,
    tbl: Table,
    select: str,
    params: dict[str, Any],
    previous: TableEntry | None,
    mark: dict[str, Any],
) -> tuple[TableEntry | None, int]:
    assert previous is not None and tbl.partition_column is not None
    stage = staging_dir(job.data_dir, tbl.qualified_name)
    try:
        new_rows = stage / "new.parquet"
        con.execute(f"COPY ({select}) TO '{_literal(str(new_rows))}' (FORMAT parquet)", params)
        (rows_read, days) = con.execute(
            f"SELECT count(*), list(DISTINCT strftime(CAST({_q(tbl.partition_column)} AS DATE), "
            "'%Y-%m-%d')) FROM read_parquet($p, hive_partitioning = false)",
            {"p": str(new_rows)},
        ).fetchone()
        if rows_read == 0:
            return previous, 0
        touched = {f"{PARTITION_FIELD}={d}" for d in days}
        old_rows = [
            str(job.data_dir / f.path)
            for f in previous.files
            if Path(f.path).parent.name in touched
        ]
        if old_rows:
            merge = _extract_sql("merge_increment.sql").format(
                primary_key=", ".join(_q(c) for c in tbl.primary_key)
            )
            merge_params: dict[str, Any] = {"new_rows": str(new_rows), "old_rows": old_rows}
        else:
            merge = "SELECT * FROM read_parquet($new_rows, hive_partitioning = false)"
            merge_params = {"new_rows": str(new_rows)}
        entry = write_extract(
            con,
            job.data_dir,
            tbl,
            merge,
            merge_params,
            run_id=job.run_id,
            replace_partitions="touched",
            watermark=mark,
            sort=False,
        )
        return entry, int(rows_read)
    finally:
        _rmtree(stage)


def _source_select(
    tbl: Table, catalog: str, policy: Policy, extra: tuple[str, ...], *, since: bool, cutoff: bool
) -> str:
    """The table's rows from the attached source, privacy applied, typed JSON copies added."""
    cols = [f"{column_sql(tbl, c, policy, _q(c.name))} AS {_q(c.name)}" for c in tbl.source_columns]
    cols += [_q(name) for name in extra]
    where = []
    if since:
        where.append(f"{_q(tbl.watermark_column or '')} >= $since")
    if cutoff:
        where.append(f"{_q(tbl.partition_column or '')} >= $cutoff")
    if policy.needs_consent(tbl.name):
        where.append(
            "analytics_consent"
            if tbl.name == "users"
            else f"(user_id IS NULL OR user_id NOT IN (SELECT id FROM {_NO_CONSENT}))"
        )
    source = f"{catalog}.{_q(SOURCE_SCHEMA)}.{_q(tbl.name)}"
    inner = f"SELECT {', '.join(cols)} FROM {source}" + (
        f" WHERE {' AND '.join(where)}" if where else ""
    )
    copies = [
        f"TRY_CAST(json_extract_string({_q(c.json_source[0])}, '$.\"{c.json_source[1]}\"') "
        f"AS {c.duckdb_type}) AS {_q(c.name)}"
        for c in tbl.columns
        if c.json_source is not None
    ]
    return f"SELECT *, {', '.join(copies)} FROM ({inner})" if copies else inner


def _load_non_consenting(con: duckdb.DuckDBPyConnection, catalog: str, job: _Job) -> None:
    try:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {_NO_CONSENT} AS SELECT id FROM "
            f"{catalog}.{_q(SOURCE_SCHEMA)}.users WHERE NOT analytics_consent"
        )
    except duckdb.Error as exc:
        message = redact(str(exc), job.dsns.values())
        raise ConfigError(
            "the privacy policy excludes users without analytics consent, but "
            f"auterity.users.analytics_consent cannot be read: {message}"
        ) from None


# ----------------------------------------------------------------------------- the source side
def _check_source(pg: psycopg.Connection, tbl: Table, identity: str) -> tuple[str, ...]:
    """Compare the source table with the model; return its extra columns.

    Raises SchemaError naming the table and column when a model column is missing or has another
    type, or the table is missing or lacks its primary key.
    """
    rows = pg.execute(
        _pg_sql("table_columns.sql"), {"schema": SOURCE_SCHEMA, "table": tbl.name}
    ).fetchall()
    if not rows:
        raise SchemaError(
            f"{tbl.qualified_name}: no table {SOURCE_SCHEMA}.{tbl.name} in {identity}"
        )
    found = {name: (pg_type, in_pk) for name, pg_type, in_pk in rows}
    for col in tbl.source_columns:
        if col.name not in found:
            raise SchemaError(
                f"{tbl.qualified_name}: column {col.name!r} is missing from the source ({identity})"
            )
        pg_type = found[col.name][0]
        if _kind(pg_type) != col.kind:
            raise SchemaError(
                f"{tbl.qualified_name}: column {col.name!r} is {pg_type} in the source, "
                f"expected {col.postgres_type}"
            )
    pk = tuple(name for name, (_, in_pk) in found.items() if in_pk)
    if set(pk) != set(tbl.primary_key):
        raise SchemaError(
            f"{tbl.qualified_name}: the source's primary key is ({', '.join(pk) or 'none'}), "
            f"expected ({', '.join(tbl.primary_key)}); rows could not be deduplicated"
        )
    return tuple(name for name in found if name not in tbl.column_names)


def _kind(pg_type: str) -> str:
    if re.fullmatch(r"numeric\(\d+,\d+\)", pg_type):
        return pg_type
    return _PG_KINDS.get(re.sub(r"\(\d+\)$", "", pg_type), pg_type)


def _watermark(pg: psycopg.Connection, tbl: Table) -> str | None:
    (value,) = pg.execute(_pg_sql("watermark.sql", tbl)).fetchone()
    return value.astimezone(dt.UTC).isoformat() if value is not None else None


def _count_since(pg: psycopg.Connection, tbl: Table, since: dt.datetime) -> int:
    (n,) = pg.execute(_pg_sql("count_since.sql", tbl), {"since": since}).fetchone()
    return int(n)


def _estimate(pg: psycopg.Connection, tbl: Table) -> int | None:
    (n,) = pg.execute(
        _pg_sql("row_estimate.sql"), {"relation": f"{SOURCE_SCHEMA}.{tbl.name}"}
    ).fetchone()
    return int(n) if n >= 0 else None


def _pg_sql(name: str, tbl: Table | None = None) -> sql.Composable:
    from psycopg import sql

    text = (packaged_dir("queries") / "postgres" / "ops" / name).read_text(encoding="utf-8")
    if tbl is None:
        return sql.SQL(text)
    return sql.SQL(text).format(
        schema=sql.Identifier(SOURCE_SCHEMA),
        table=sql.Identifier(tbl.name),
        column=sql.Identifier(tbl.watermark_column or ""),
    )


class _CopyWatcher:
    """Reports rows sent by the source's COPY commands for this run while a table is read.

    DuckDB's scanner splits a table into ranges read by successive COPY commands on a few
    connections; ``pg_stat_progress_copy`` counts rows per running command, so a command whose
    count drops or vanishes has finished and its last count is added to the total.
    """

    def __init__(self, job: _Job, table_name: str, total: int | None) -> None:
        self._job, self._table, self._total = job, table_name, total
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> _CopyWatcher:
        if self._job.progress is not None:
            self._job.progress(ProgressUpdate(self._table, 0, self._total))
            self._thread = threading.Thread(target=self._poll, name="extract-progress", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _poll(self) -> None:
        import psycopg

        assert self._job.progress is not None
        dsn = self._job.dsns[table(self._table).system]
        finished, last = 0, {}
        try:
            with connect(dsn, autocommit=True) as pg:
                while not self._stop.wait(_POLL_SECONDS):
                    now = dict(
                        pg.execute(
                            _pg_sql("copy_progress.sql"), {"application": self._job.application}
                        ).fetchall()
                    )
                    finished += sum(n for pid, n in last.items() if now.get(pid, -1) < n)
                    last = now
                    self._job.progress(
                        ProgressUpdate(self._table, finished + sum(now.values()), self._total)
                    )
        except (psycopg.Error, ConfigError):
            return  # progress display only: the extract itself reports its own errors


# ----------------------------------------------------------------------------- the data dir side
def _previous_entry(data_dir: Path, tbl: Table) -> TableEntry | None:
    try:
        return read_manifest(data_dir).tables.get(tbl.qualified_name)
    except DataNotFoundError:
        return None


def _continues(previous: TableEntry | None, tbl: Table, identity: str, policy_id: str) -> bool:
    """Whether an incremental run may add to ``previous`` (else the table is extracted in full)."""
    mark = previous.watermark if previous is not None else None
    return (
        previous is not None
        and mark is not None
        and mark.get("value") is not None
        and mark.get("column") == tbl.watermark_column
        and mark.get("source") == identity
        and mark.get("policy") == policy_id
        and previous.schema_fingerprint == tbl.fingerprint()
    )


@contextlib.contextmanager
def _exclusive(data_dir: Path) -> Iterator[None]:
    with open(data_dir / _LOCK, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ExtractError(f"another extract is running on {data_dir}") from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _extract_sql(name: str) -> str:
    return (packaged_dir("queries") / "extract" / name).read_text(encoding="utf-8")


def _q(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return text.replace("'", "''")


def _rmtree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
