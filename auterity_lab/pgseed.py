"""Load extracts (usually the demo data) into the Postgres source databases, so anyone can try
the Postgres path: ``auterity-lab demo && auterity-lab seed-postgres && auterity-lab extract``.

For each source database, in one transaction: the DDL of the systems it holds
(``queries/postgres/<system>.sql``), then every table's rows, streamed from the Parquet files
with ``COPY ... FROM STDIN`` by DuckDB's Postgres scanner (no row INSERTs). A failure rolls the
whole database back; tables that already hold rows are refused unless ``replace=True``, which
empties them inside the same transaction.

Examples
--------
>>> seed_postgres("data")                                               # doctest: +SKIP
SeedResult(rows={'auterity.users': 41210, ...}, seconds=6.1)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb

from auterity_lab.config import Settings, load_settings, packaged_dir
from auterity_lab.errors import ConfigError, ExtractError
from auterity_lab.manifest import TableEntry, read_manifest
from auterity_lab.schema import SYSTEMS, source_tables
from auterity_lab.sources import SOURCE_SCHEMA, attach, describe_dsn, redact, resolve_dsns


@dataclass(frozen=True)
class SeedResult:
    """Rows loaded per table (qualified name) and the time it took."""

    rows: dict[str, int]
    seconds: float

    @property
    def rows_per_second(self) -> float:
        """Rows loaded per second, over all tables."""
        return sum(self.rows.values()) / self.seconds if self.seconds > 0 else 0.0


def schema_ddl(system: str) -> str:
    """The DDL of one system's source tables and indexes (``queries/postgres/<system>.sql``).

    Examples
    --------
    >>> "CREATE TABLE IF NOT EXISTS workflow_runs" in schema_ddl("relaycore")
    True
    """
    if system not in SYSTEMS:
        raise ConfigError(f"unknown system {system!r}; known: {', '.join(SYSTEMS)}")
    return (packaged_dir("queries") / "postgres" / f"{system}.sql").read_text(encoding="utf-8")


def seed_postgres(
    data_dir: str | Path | None = None,
    *,
    systems: Sequence[str] | None = None,
    replace: bool = False,
    settings: Settings | None = None,
    progress: Callable[[str, int], None] | None = None,
) -> SeedResult:
    """Create the source schema in the configured databases and load the extracts of ``data_dir``.

    Parameters
    ----------
    data_dir
        A data directory with a manifest (``auterity-lab demo`` makes one); the configured one
        by default.
    systems
        Only these systems (default: all three). Systems sharing a DSN share a database.
    replace
        Empty tables that already hold rows (in the same transaction) instead of refusing.
    progress
        Called with ``(qualified table name, rows)`` after each table is loaded.

    Raises
    ------
    ConfigError
        A DSN is missing or unreachable, or a table holds rows and ``replace`` is false.
    ExtractError
        Postgres rejected the rows (the database is left as it was).
    """
    started = time.monotonic()
    settings = settings or load_settings()
    source_dir = Path(data_dir) if data_dir is not None else settings.data_dir
    manifest = read_manifest(source_dir)
    chosen = list(systems or SYSTEMS)
    by_dsn: dict[str, list[str]] = {}
    for system, dsn in resolve_dsns(chosen, settings).items():
        by_dsn.setdefault(dsn.get_secret_value(), []).append(system)
    loaded: dict[str, int] = {}
    for dsn, group in by_dsn.items():
        con = duckdb.connect()
        try:
            con.execute("SET TimeZone='UTC'")
            catalog = attach(con, {s: dsn for s in group}, read_only=False)[group[0]]
            loaded |= _seed_database(
                con, catalog, dsn, group, source_dir, manifest.tables, replace, progress
            )
        finally:
            con.close()
    return SeedResult(loaded, time.monotonic() - started)


def _seed_database(
    con: duckdb.DuckDBPyConnection,
    catalog: str,
    dsn: str,
    systems: list[str],
    source_dir: Path,
    entries: Mapping[str, TableEntry],
    replace: bool,
    progress: Callable[[str, int], None] | None,
) -> dict[str, int]:
    tables = [t for t in source_tables() if t.system in systems]
    loaded: dict[str, int] = {}
    con.execute("BEGIN")
    try:
        for system in systems:
            con.execute(f"CALL postgres_execute('{catalog}', $ddl)", {"ddl": schema_ddl(system)})
        con.execute("CALL pg_clear_cache()")
        full = {
            t.name: n
            for t in tables
            if (n := con.execute(f"SELECT count(*) FROM {_name(catalog, t.name)}").fetchone()[0])
        }
        if full and not replace:
            raise ConfigError(
                f"{describe_dsn(dsn)} already holds rows in "
                + ", ".join(f"{name} ({n:,})" for name, n in full.items())
                + "; pass replace=True (--replace) to empty them first"
            )
        if full:
            con.execute(
                f"CALL postgres_execute('{catalog}', $sql)",
                {"sql": "TRUNCATE " + ", ".join(f'{SOURCE_SCHEMA}."{name}"' for name in full)},
            )
        for tbl in tables:
            entry = entries.get(tbl.qualified_name)
            files = [str(source_dir / f.path) for f in entry.files] if entry else []
            if files:
                cols = ", ".join(f'"{c.name}"' for c in tbl.source_columns)
                con.execute(
                    f"INSERT INTO {_name(catalog, tbl.name)} ({cols}) SELECT {cols} "
                    "FROM read_parquet($files, hive_partitioning = false, union_by_name = true)",
                    {"files": files},
                )
            loaded[tbl.qualified_name] = entry.rows if entry else 0
            if progress is not None:
                progress(tbl.qualified_name, loaded[tbl.qualified_name])
        con.execute("COMMIT")
    except duckdb.Error as exc:
        con.execute("ROLLBACK")
        raise ExtractError(
            f"seeding {describe_dsn(dsn)} failed: {redact(str(exc), [dsn])}"
        ) from None
    except BaseException:
        con.execute("ROLLBACK")
        raise
    for tbl in tables:  # fresh statistics: the planner's estimates size the extract's progress bar
        con.execute(
            f"CALL postgres_execute('{catalog}', $sql)",
            {"sql": f'ANALYZE {SOURCE_SCHEMA}."{tbl.name}"'},
        )
    return loaded


def _name(catalog: str, table_name: str) -> str:
    return f'{catalog}."{SOURCE_SCHEMA}"."{table_name}"'
