"""The extract layout on disk and its manifest.

Layout::

    DIR/manifest.json
    DIR/extracts/<system>/<table>/date=YYYY-MM-DD/<run>-<n>.parquet

The manifest lists, per table, exactly the files that make up the current extract, with row
counts, time range, schema fingerprint and tenants. Readers take the file list from the
manifest, never from a directory listing, so a writer can stage new files, swap the manifest
(atomic rename; it moves last) and only then delete superseded files: a reader never sees a
half-written table.

Examples
--------
>>> import tempfile, duckdb
>>> from auterity_lab.schema import table
>>> d = Path(tempfile.mkdtemp())
>>> con = duckdb.connect()
>>> _ = con.execute("SET TimeZone='UTC'")
>>> users = table("users")
>>> entry = write_extract(con, d, users, "SELECT * FROM (" + empty_select(users) + ")")
>>> entry.rows, read_manifest(d).tables["auterity.users"].files
(0, ())
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from auterity_lab.errors import DataNotFoundError, ManifestError, SchemaError
from auterity_lab.schema import PARTITION_FIELD, Table

if TYPE_CHECKING:
    import duckdb

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1
EXTRACTS_DIR = "extracts"
_STAGING = ".staging"
_LOCK = ".manifest.lock"
_ISO = "%Y-%m-%dT%H:%M:%S.%f+00:00"  # timestamps in the manifest: UTC, ISO 8601
_DAY_US = 86_400_000_000  # microseconds in a day
# zstd level 1: about 35 % less CPU than the default level 3 for files about 7 % larger
_PARQUET_OPTIONS = "COMPRESSION zstd, COMPRESSION_LEVEL 1, ROW_GROUP_SIZE 122880"


@dataclass(frozen=True)
class FileEntry:
    """One Parquet file of an extract; ``path`` is relative to the data directory."""

    path: str
    rows: int
    bytes: int


@dataclass(frozen=True)
class TableEntry:
    """The current extract of one table."""

    table: str
    rows: int
    min_ts: str | None
    max_ts: str | None
    schema_fingerprint: str
    files: tuple[FileEntry, ...]
    tenants: tuple[str, ...]
    written_at: str
    run_id: str
    extra_columns: tuple[str, ...] = ()
    # incremental extraction state (extract.py); a dict, so left out of the hash
    watermark: dict[str, Any] | None = field(default=None, hash=False)

    def fingerprint(self) -> str:
        """Hash of what a reader sees: files, their sizes and rows, and the schema."""
        text = self.schema_fingerprint + "".join(f"{f.path}:{f.bytes}:{f.rows}" for f in self.files)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Manifest:
    """What the data directory holds. Read with :func:`read_manifest`."""

    tables: Mapping[str, TableEntry] = field(default_factory=dict)
    runs: tuple[dict[str, Any], ...] = ()
    source: dict[str, Any] = field(default_factory=dict)
    version: int = MANIFEST_VERSION

    @property
    def tenants(self) -> tuple[str, ...]:
        """Every tenant with rows in any table, sorted."""
        return tuple(sorted({t for e in self.tables.values() for t in e.tenants}))

    def fingerprint(self, tables: list[str] | None = None) -> str:
        """Hash of the listed tables' extracts (all tables by default).

        A cache keyed by it is invalidated exactly when one of those tables changes.
        """
        names = sorted(self.tables if tables is None else tables)
        parts = [f"{n}={self.tables[n].fingerprint() if n in self.tables else '-'}" for n in names]
        return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]

    def to_json(self) -> str:
        body = {
            "version": self.version,
            "source": self.source,
            "tenants": list(self.tenants),
            "tables": {k: asdict(v) for k, v in sorted(self.tables.items())},
            "runs": list(self.runs),
        }
        return json.dumps(body, indent=2, sort_keys=False, default=str) + "\n"


def manifest_path(data_dir: str | Path) -> Path:
    return Path(data_dir) / MANIFEST_NAME


def read_manifest(data_dir: str | Path) -> Manifest:
    """Read ``DIR/manifest.json``.

    Raises
    ------
    DataNotFoundError
        The directory or its manifest does not exist.
    ManifestError
        The manifest is not valid JSON or lacks a required field.
    """
    path = manifest_path(data_dir)
    if not Path(data_dir).is_dir():
        raise DataNotFoundError(
            f"data directory {data_dir} does not exist; run `auterity-lab demo`"
        )
    if not path.is_file():
        raise DataNotFoundError(
            f"{path} does not exist: {data_dir} holds no extracts; run `auterity-lab demo` "
            "or `auterity-lab extract`"
        )
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(raw, dict) or not isinstance(raw.get("tables"), dict):
            raise TypeError("the manifest must be an object with a 'tables' object")
        tables = {
            name: TableEntry(
                **{
                    **entry,
                    "files": tuple(FileEntry(**f) for f in entry["files"]),
                    "tenants": tuple(entry["tenants"]),
                    "extra_columns": tuple(entry.get("extra_columns", ())),
                }
            )
            for name, entry in raw["tables"].items()
        }
        for entry in tables.values():
            for f in entry.files:
                rel = Path(f.path)
                if rel.is_absolute() or ".." in rel.parts or rel.parts[:1] != (EXTRACTS_DIR,):
                    raise ValueError(f"file path {f.path!r} is outside {EXTRACTS_DIR}/")
        return Manifest(
            tables=tables,
            runs=tuple(raw.get("runs", ())),
            source=raw.get("source", {}),
            version=raw["version"],
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:  # incl. JSON, UTF-8
        raise ManifestError(f"{path} is not a valid manifest: {exc!r}") from exc


def write_manifest(data_dir: str | Path, manifest: Manifest) -> None:
    """Write the manifest atomically (temp file, fsync, rename)."""
    path = manifest_path(data_dir)
    tmp = path.with_name(f".{MANIFEST_NAME}.{uuid.uuid4().hex}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(manifest.to_json())
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


@contextlib.contextmanager
def manifest_lock(data_dir: str | Path) -> Iterator[None]:
    """Hold an exclusive lock for a read-modify-write of the manifest."""
    Path(data_dir).mkdir(parents=True, exist_ok=True)
    with open(Path(data_dir) / _LOCK, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def table_dir(data_dir: str | Path, tbl: Table) -> Path:
    """``DIR/extracts/<system>/<table>``."""
    return Path(data_dir) / EXTRACTS_DIR / tbl.system / tbl.name


def empty_select(tbl: Table) -> str:
    """A SELECT with the table's columns and types and no rows (for empty extracts)."""
    cols = ", ".join(f"CAST(NULL AS {c.duckdb_type}) AS {c.name}" for c in tbl.columns)
    return f"SELECT {cols} WHERE false"


def write_extract(
    con: duckdb.DuckDBPyConnection,
    data_dir: str | Path,
    tbl: Table,
    select_sql: str,
    params: Mapping[str, Any] | None = None,
    *,
    run_id: str | None = None,
    replace_partitions: Literal["all", "touched"] = "all",
    source: Mapping[str, Any] | None = None,
    run_record: Mapping[str, Any] | None = None,
    watermark: Mapping[str, Any] | None = None,
    sort: bool = True,
) -> TableEntry:
    """Write the rows of ``select_sql`` as the extract of ``tbl`` and publish them.

    Rows are split into ``date=`` partitions (UTC day of the partition column) and staged; then
    files move into place, the manifest is swapped, and superseded files are deleted. A staged
    file never replaces a file of the same name: it gets a free name (``<run>-<n>.1.parquet``),
    so rewriting with a fixed ``run_id`` leaves the live files intact until the manifest swap.
    With ``replace_partitions="touched"`` only the days present in the new rows are replaced and
    the other days of the previous extract are kept (incremental extraction); ``"all"``
    replaces the whole table.

    With ``sort`` (the default) each file's rows are ordered by tenant, partition time and
    primary key, so equal rows always give byte-identical files; the write then runs on one
    thread, because a partitioned write on several threads does not keep a sort order. Without
    it the write runs on all of the connection's threads and rows keep the order they arrive
    in: much cheaper for large extracts, and nothing that reads extracts depends on row order.

    The select must return exactly the table's columns (extra source columns are carried and
    recorded in ``extra_columns``); a missing or retyped column raises :class:`SchemaError`
    before anything is written. ``watermark`` is stored in the table's entry, published in the
    same manifest swap as the files (incremental extraction reads it back).
    """
    data_dir = Path(data_dir)
    con.execute("SET TimeZone='UTC'")
    run_id = run_id or new_run_id()
    if tbl.partition_column is None:
        raise SchemaError(f"table {tbl.name} is not partitioned and has no extract")
    extra = _check_columns(con, tbl, select_sql, params)
    staging = staging_dir(data_dir, tbl.qualified_name)
    try:
        with _single_thread(con) if sort else contextlib.nullcontext():
            written = con.execute(
                f"COPY ({_partitioned_select(tbl, select_sql, extra, sort=sort)}) "
                f"TO '{_sql_path(staging)}' (FORMAT parquet, PARTITION_BY ({PARTITION_FIELD}), "
                f"FILENAME_PATTERN '{run_id}-{{i}}', {_PARQUET_OPTIONS}, RETURN_STATS true)",
                dict(params or {}),
            ).fetchall()
        staged = sorted(
            _Staged(Path(name), int(rows), _stat_ts(stats, tbl.partition_column))
            for name, rows, _size, _footer, stats, _keys in written
        )
        _check_keys(con, tbl, written)
        with manifest_lock(data_dir):
            return _publish(
                con,
                data_dir,
                tbl,
                staging,
                staged,
                run_id,
                replace_partitions,
                extra,
                source,
                run_record,
                watermark,
            )
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _check_keys(con: duckdb.DuckDBPyConnection, tbl: Table, written: list[tuple]) -> None:
    """Refuse NULLs in NOT NULL columns and repeated primary keys before anything is published.

    NULLs come free from the COPY's column statistics; repeated keys take one pass over the key.
    """
    required = {c.name for c in tbl.columns if not c.nullable}
    nulls = sorted(
        {
            name.strip('"')
            for *_, stats, _keys in written
            for name, col in stats.items()
            if name.strip('"') in required and int(col.get("null_count") or 0)
        }
    )
    if nulls:
        raise SchemaError(f"{tbl.qualified_name}: NULL in NOT NULL column {', '.join(nulls)}")
    if not written:
        return
    key = ", ".join(tbl.primary_key)
    (repeats,) = con.execute(
        f"SELECT count(*) - count(DISTINCT ({key})) FROM read_parquet($files)",
        {"files": [str(name) for name, *_ in written]},
    ).fetchone()
    if repeats:
        raise SchemaError(f"{tbl.qualified_name}: {repeats} rows repeat a primary key ({key})")


@dataclass(frozen=True, order=True)
class _Staged:
    """A file the COPY wrote to staging, with its row count and partition-column range."""

    path: Path
    rows: int
    span: tuple[dt.datetime, dt.datetime] | None


def _publish(
    con: duckdb.DuckDBPyConnection,
    data_dir: Path,
    tbl: Table,
    staging: Path,
    staged: list[_Staged],
    run_id: str,
    replace_partitions: str,
    extra: tuple[str, ...],
    source: Mapping[str, Any] | None,
    run_record: Mapping[str, Any] | None,
    watermark: Mapping[str, Any] | None,
) -> TableEntry:
    try:
        manifest = read_manifest(data_dir)
    except DataNotFoundError:
        manifest = Manifest()
    previous = manifest.tables.get(tbl.qualified_name)
    final_dir = table_dir(data_dir, tbl)
    new_files: list[FileEntry] = []
    spans: dict[str, tuple[dt.datetime, dt.datetime]] = {}
    for item in staged:
        target = _free_name(final_dir / item.path.relative_to(staging))
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(item.path, target)
        entry = FileEntry(str(target.relative_to(data_dir)), item.rows, target.stat().st_size)
        new_files.append(entry)
        if item.span is not None:
            spans[entry.path] = item.span
    touched = {Path(f.path).parent.name for f in new_files}
    kept: list[FileEntry] = []
    if previous is not None and replace_partitions == "touched":
        kept = [f for f in previous.files if Path(f.path).parent.name not in touched]
    files = tuple(sorted(kept + new_files, key=lambda f: f.path))
    entry = _table_entry(con, data_dir, tbl, files, run_id, extra, watermark, spans)
    runs = manifest.runs + ((dict(run_record),) if run_record else ())
    new_manifest = replace(
        manifest,
        tables={**manifest.tables, tbl.qualified_name: entry},
        runs=runs,
        source={**manifest.source, **(source or {})},
    )
    write_manifest(data_dir, new_manifest)
    if previous is not None:
        live = {f.path for f in files}
        for old in previous.files:
            if old.path not in live:
                (data_dir / old.path).unlink(missing_ok=True)
        _remove_empty_dirs(final_dir)
    return entry


def _free_name(target: Path) -> Path:
    """``target``, or the first ``<stem>.<k>.parquet`` beside it that does not exist yet.

    Live files are never overwritten: a reader (or a crash before the manifest swap) must find
    every listed file as the manifest describes it. Deterministic, so a fresh directory always
    gets the plain names.
    """
    candidate, k = target, 0
    while candidate.exists():
        k += 1
        candidate = target.with_name(f"{target.stem}.{k}{target.suffix}")
    return candidate


def remove_partitions(
    con: duckdb.DuckDBPyConnection,
    data_dir: str | Path,
    tbl: Table,
    days: Iterable[dt.date],
    *,
    run_record: Mapping[str, Any] | None = None,
) -> tuple[FileEntry, ...]:
    """Drop the ``date=`` partitions ``days`` from the extract of ``tbl``; return the dropped files.

    The manifest is swapped first (the entry keeps its watermark and extra columns, and
    ``run_record`` is appended in the same swap), then the dropped files are deleted. Days the
    extract does not hold are ignored.

    Examples
    --------
    >>> remove_partitions(con, "data", table("events"), [dt.date(2025, 1, 1)])  # doctest: +SKIP
    (FileEntry(path='extracts/auterity/events/date=2025-01-01/r1-0.parquet', rows=12, ...),)
    """
    data_dir = Path(data_dir)
    names = {f"{PARTITION_FIELD}={day.isoformat()}" for day in days}
    with manifest_lock(data_dir):
        manifest = read_manifest(data_dir)
        previous = manifest.tables.get(tbl.qualified_name)
        if previous is None:
            return ()
        dropped = tuple(f for f in previous.files if Path(f.path).parent.name in names)
        if not dropped:
            return ()
        kept = tuple(f for f in previous.files if Path(f.path).parent.name not in names)
        entry = _table_entry(
            con, data_dir, tbl, kept, previous.run_id, previous.extra_columns, previous.watermark
        )
        write_manifest(
            data_dir,
            replace(
                manifest,
                tables={**manifest.tables, tbl.qualified_name: entry},
                runs=manifest.runs + ((dict(run_record),) if run_record else ()),
            ),
        )
    for f in dropped:
        (data_dir / f.path).unlink(missing_ok=True)
    _remove_empty_dirs(table_dir(data_dir, tbl))
    return dropped


def new_run_id() -> str:
    """A run id: the UTC time and six random hex digits, e.g. ``20261101T120000-1a2b3c``."""
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]


def staging_dir(data_dir: str | Path, name: str) -> Path:
    """A new empty folder ``DIR/.staging/<name>.<random>`` for files not yet published."""
    path = Path(data_dir) / _STAGING / f"{name}.{uuid.uuid4().hex}"
    path.mkdir(parents=True)
    return path


def sweep_orphans(data_dir: str | Path, names: Iterable[str]) -> list[Path]:
    """Delete what writers killed mid-way left behind; return what was deleted.

    For each ``name`` (a qualified table name, or another staging prefix): its staging folders,
    and, for a table, the files in its folder that the manifest does not list (moved into place
    by a writer that died before it swapped the manifest). Call it only while no other writer
    works on these names; it holds the manifest lock, so no publish is half-way meanwhile.
    """
    data_dir = Path(data_dir)
    names = list(names)
    deleted: list[Path] = []
    with manifest_lock(data_dir):
        try:
            tables = read_manifest(data_dir).tables
        except DataNotFoundError:
            tables = {}
        for name in names:
            for leftover in sorted((data_dir / _STAGING).glob(f"{name}.*")):
                shutil.rmtree(leftover, ignore_errors=True)
                deleted.append(leftover)
            system, _, bare = name.partition(".")
            folder = data_dir / EXTRACTS_DIR / system / bare
            if not bare or not folder.is_dir():
                continue
            listed = {f.path for f in tables[name].files} if name in tables else set()
            for path in sorted(folder.rglob("*.parquet")):
                if str(path.relative_to(data_dir)) not in listed:
                    path.unlink()
                    deleted.append(path)
            _remove_empty_dirs(folder)
    return deleted


def append_run(data_dir: str | Path, record: Mapping[str, Any]) -> None:
    """Append ``record`` to the manifest's ``runs`` (creating an empty manifest if needed)."""
    with manifest_lock(data_dir):
        try:
            manifest = read_manifest(data_dir)
        except DataNotFoundError:
            manifest = Manifest()
        write_manifest(data_dir, replace(manifest, runs=manifest.runs + (dict(record),)))


def _table_entry(
    con: duckdb.DuckDBPyConnection,
    data_dir: Path,
    tbl: Table,
    files: tuple[FileEntry, ...],
    run_id: str,
    extra: tuple[str, ...],
    watermark: Mapping[str, Any] | None = None,
    spans: Mapping[str, tuple[dt.datetime, dt.datetime] | None] | None = None,
) -> TableEntry:
    """The entry for ``files``; ``spans`` holds the partition-column range of files just written.

    The range of the other files comes from their Parquet statistics, and the tenants from
    their ``tenant_id`` column alone, so no file is read in full.
    """
    now = dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")
    mark = dict(watermark) if watermark is not None else None
    if not files:
        return TableEntry(
            tbl.qualified_name, 0, None, None, tbl.fingerprint(), (), (), now, run_id, extra, mark
        )
    spans = spans or {}
    known = [spans[f.path] for f in files if f.path in spans]
    others = [str(data_dir / f.path) for f in files if f.path not in spans]
    if others:
        known.append(_parquet_span(con, others, tbl.partition_column or ""))
    bounds = [span for span in known if span is not None]
    (tenants,) = con.execute(
        "SELECT list(DISTINCT tenant_id ORDER BY tenant_id) "
        "FROM read_parquet($paths, hive_partitioning = false)",
        {"paths": [str(data_dir / f.path) for f in files]},
    ).fetchone()
    return TableEntry(
        table=tbl.qualified_name,
        rows=sum(f.rows for f in files),
        min_ts=min(lo for lo, _ in bounds).strftime(_ISO) if bounds else None,
        max_ts=max(hi for _, hi in bounds).strftime(_ISO) if bounds else None,
        schema_fingerprint=tbl.fingerprint(),
        files=files,
        tenants=tuple(tenants),
        written_at=now,
        run_id=run_id,
        extra_columns=extra,
        watermark=mark,
    )


def _parquet_span(
    con: duckdb.DuckDBPyConnection, paths: list[str], column: str
) -> tuple[dt.datetime, dt.datetime] | None:
    """Smallest and largest value of ``column`` in ``paths`` (None: no values).

    Taken from the row groups' statistics, or from the values when a row group lacks them.
    """
    lo, hi, unknown = con.execute(
        "SELECT min(CAST(stats_min_value AS TIMESTAMPTZ)), max(CAST(stats_max_value AS "
        "TIMESTAMPTZ)), bool_or(stats_min_value IS NULL AND stats_null_count IS DISTINCT FROM "
        "num_values) FROM parquet_metadata($paths) WHERE path_in_schema = $column",
        {"paths": paths, "column": column},
    ).fetchone()
    if unknown:
        lo, hi = con.execute(
            f"SELECT min({column}), max({column}) "
            "FROM read_parquet($paths, hive_partitioning = false)",
            {"paths": paths},
        ).fetchone()
    return (lo.astimezone(dt.UTC), hi.astimezone(dt.UTC)) if lo is not None else None


def _stat_ts(
    stats: Mapping[str, Mapping[str, str]], column: str
) -> tuple[dt.datetime, dt.datetime] | None:
    """The ``(min, max)`` of ``column`` in a COPY's RETURN_STATS, in UTC.

    None when the statistics do not say (all NULL, or a form Python does not parse, such as a
    year BC): the range is then taken from the file's own statistics.
    """
    col = stats.get(f'"{column}"', stats.get(column, {}))
    try:
        return (
            dt.datetime.fromisoformat(col["min"]).astimezone(dt.UTC),
            dt.datetime.fromisoformat(col["max"]).astimezone(dt.UTC),
        )
    except (KeyError, ValueError):
        return None


def _check_columns(
    con: duckdb.DuckDBPyConnection, tbl: Table, select_sql: str, params: Mapping[str, Any] | None
) -> tuple[str, ...]:
    described = con.execute(f"DESCRIBE ({select_sql})", dict(params or {})).fetchall()
    got = {row[0]: row[1] for row in described}
    for col in tbl.columns:
        if col.name not in got:
            raise SchemaError(f"{tbl.qualified_name}: column {col.name!r} is missing")
        if got[col.name] != col.duckdb_type and not _compatible(got[col.name], col.duckdb_type):
            raise SchemaError(
                f"{tbl.qualified_name}: column {col.name!r} has type {got[col.name]}, "
                f"expected {col.duckdb_type}"
            )
    return tuple(name for name in got if name not in tbl.column_names)


def _compatible(got: str, expected: str) -> bool:
    # JSON read back from Parquet or Postgres arrives as VARCHAR; both hold the raw JSON text.
    return {got, expected} <= {"JSON", "VARCHAR"}


def _partitioned_select(tbl: Table, select_sql: str, extra: tuple[str, ...], *, sort: bool) -> str:
    """The rows of ``select_sql`` in the model's types, with their ``date`` partition key."""
    cols = [f"CAST({c.name} AS {c.duckdb_type}) AS {c.name}" for c in tbl.columns] + list(extra)
    part = tbl.column(tbl.partition_column or "")
    body = (
        f"SELECT {', '.join(cols)}, {_utc_day(part.name, part.duckdb_type)} AS {PARTITION_FIELD} "
        f"FROM ({select_sql})"
    )
    if not sort:
        return body
    key = ", ".join((PARTITION_FIELD, "tenant_id", part.name, *tbl.primary_key))
    return f"{body} ORDER BY {key}"


def _utc_day(expr: str, duckdb_type: str) -> str:
    """SQL for the UTC calendar day of ``expr``.

    For TIMESTAMPTZ it is integer arithmetic on the epoch (floored, so days before 1970 are
    right too): a CAST to DATE converts through the session time zone with ICU, about six times
    slower, and was the costliest expression of a large extract.

    Examples
    --------
    >>> import duckdb
    >>> con = duckdb.connect()
    >>> day = _utc_day("ts", "TIMESTAMP WITH TIME ZONE")
    >>> con.execute(
    ...     f"SELECT {day} FROM (SELECT TIMESTAMPTZ '1969-12-31 23:59:59.999999+00' AS ts)"
    ... ).fetchone()
    (datetime.date(1969, 12, 31),)
    """
    if duckdb_type != "TIMESTAMP WITH TIME ZONE":
        return f"CAST({expr} AS DATE)"
    us = f"epoch_us({expr})"
    return (
        f"(DATE '1970-01-01' + CAST({us} // {_DAY_US} - CAST({us} % {_DAY_US} < 0 AS BIGINT) "
        "AS INTEGER))"
    )


@contextlib.contextmanager
def _single_thread(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Run on one DuckDB thread meanwhile (the setting is the database's), then restore it."""
    (threads,) = con.execute("SELECT current_setting('threads')").fetchone()
    con.execute("SET threads = 1")
    try:
        yield
    finally:
        con.execute(f"SET threads = {int(threads)}")


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")


def _remove_empty_dirs(root: Path) -> None:
    if not root.is_dir():
        return
    for d in sorted((p for p in root.rglob("*") if p.is_dir()), reverse=True):
        with contextlib.suppress(OSError):
            d.rmdir()
