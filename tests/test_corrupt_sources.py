"""Bad rows in the Postgres sources: a clear failure of that table, or a documented handling.

Against the throwaway server of ``tests/postgres_server.py``. Each case first extracts a good
``events`` table, then damages the source in one way and extracts again. A failing table must
report an error naming the table and the problem, and its previous extract (files and manifest
entry) must be exactly as before; a handled case must give the documented rows.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from auterity_lab.config import Settings
from auterity_lab.extract import extract
from auterity_lab.manifest import read_manifest
from auterity_lab.pgseed import schema_ddl
from auterity_lab.privacy import Policy
from auterity_lab.schema import SYSTEMS, table
from auterity_lab.warehouse import Workbench
from tests.corpus import corpus_summary, diff_snapshots, snapshot, tally

from .postgres_server import PgServer

__all__ = ["corpus_summary"]
pytestmark = [pytest.mark.postgres]

EVENTS = table("events").qualified_name
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


def _create(pg_server: PgServer, name: str, encoding: str = "UTF8") -> str:
    """A database with the three systems' source tables (optionally not UTF-8)."""
    db = f"{pg_server.prefix}_{name}"
    with psycopg.connect(pg_server.admin_dsn, autocommit=True) as con:
        con.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(db)))
        con.execute(
            sql.SQL(
                "CREATE DATABASE {} TEMPLATE template0 ENCODING {} LC_COLLATE 'C' LC_CTYPE 'C'"
            ).format(sql.Identifier(db), sql.Literal(encoding))
        )
    pg_server.created.append(db)
    dsn = psycopg.conninfo.make_conninfo(pg_server.admin_dsn, dbname=db)
    with psycopg.connect(dsn, autocommit=True, client_encoding="utf8") as con:
        for system in SYSTEMS:
            con.execute(schema_ddl(system))
    return dsn


def _insert_events(dsn: str, *created: dt.datetime, tenant: str | None = "acme") -> list[str]:
    ids = [str(uuid.uuid4()) for _ in created]
    with psycopg.connect(dsn, autocommit=True) as con:
        for i, at in zip(ids, created, strict=True):
            con.execute(
                "INSERT INTO events (id, tenant_id, event_type, created_at) "
                "VALUES (%s, %s, 'feature_use', %s)",
                (i, tenant, at),
            )
    return ids


def _run(dsn: str, data: Path, name: str = "events", **kw: object):
    return extract(
        data, tables=[name], settings=Settings(postgres_dsn=dsn), policy=Policy.disabled(), **kw
    ).tables[0]


def _entry(data: Path, name: str = EVENTS) -> dict:
    e = read_manifest(data).tables[name]
    return {"files": e.files, "rows": e.rows, "watermark": e.watermark, "tenants": e.tenants}


def _table_files(data: Path) -> dict[str, str]:
    return {k: v for k, v in snapshot(data).items() if k.startswith("extracts/")}


@pytest.fixture
def good(pg_server: PgServer, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple]:
    """(dsn, data dir): a source with three events and their good extract."""
    dsn = _create(pg_server, request.node.name[-30:].lower().strip("[]_").replace("[", "_"))
    day = NOW - dt.timedelta(days=2)
    _insert_events(dsn, day, day + dt.timedelta(hours=1), day + dt.timedelta(days=1))
    data = tmp_path / "data"
    first = _run(dsn, data)
    assert first.status == "ok" and first.rows == 3
    yield dsn, data


# name → (SQL that damages the source, the words the table's error must contain)
FAILING = {
    "timestamp_without_time_zone": (
        "ALTER TABLE events ALTER COLUMN created_at TYPE timestamp",
        ("created_at", "timestamp without time zone", "expected timestamptz"),
    ),
    "duplicate_primary_key": (
        "ALTER TABLE events DROP CONSTRAINT events_pkey; "
        "INSERT INTO events SELECT * FROM events",
        ("primary key",),
    ),
    "null_primary_key": (
        "ALTER TABLE events DROP CONSTRAINT events_pkey; ALTER TABLE events ALTER id DROP NOT NULL;"
        "INSERT INTO events (id, tenant_id, event_type) VALUES (NULL, 'acme', 'x')",
        ("primary key",),
    ),
    "wrong_column_type": (
        "ALTER TABLE events ALTER COLUMN revenue TYPE text",
        ("revenue", "text"),
    ),
    "missing_column": (
        "ALTER TABLE events DROP COLUMN event_type",
        ("event_type", "missing"),
    ),
    "table_dropped": ("DROP TABLE events", ("no table",)),
}


@pytest.mark.usefixtures("corpus_summary")
@pytest.mark.parametrize("case", sorted(FAILING))
def test_bad_source_fails_the_table_and_keeps_the_previous_extract(case: str, good: tuple) -> None:
    dsn, data = good
    damage, words = FAILING[case]
    before_files, before_entry = _table_files(data), _entry(data)
    with psycopg.connect(dsn, autocommit=True) as con:
        con.execute(damage)
    tally("corrupt: damaged sources")
    for full in (False, True):
        result = _run(dsn, data, full=full)
        assert result.status == "failed"
        for word in words:
            assert word in result.error, result.error
        assert EVENTS in result.table
        assert not diff_snapshots(before_files, _table_files(data))
        assert _entry(data) == before_entry


def test_null_tenant_or_timestamp_in_the_source_fails_the_table(good: tuple) -> None:
    """NOT NULL dropped in the source: rows no tenant could see, or with no day to live in."""
    dsn, data = good
    before_files, before_entry = _table_files(data), _entry(data)
    with psycopg.connect(dsn, autocommit=True) as con:
        con.execute("ALTER TABLE events ALTER tenant_id DROP NOT NULL")
        con.execute("ALTER TABLE events ALTER created_at DROP NOT NULL")
    tally("corrupt: damaged sources", 2)
    _insert_events(dsn, NOW - dt.timedelta(hours=1), tenant=None)
    result = _run(dsn, data, full=True)
    assert result.status == "failed" and "tenant_id" in result.error, result
    assert not diff_snapshots(before_files, _table_files(data))
    assert _entry(data) == before_entry
    with psycopg.connect(dsn, autocommit=True) as con:
        con.execute("DELETE FROM events WHERE tenant_id IS NULL")
        con.execute(
            "INSERT INTO events (id, tenant_id, event_type, created_at) "
            "VALUES (gen_random_uuid(), 'acme', 'x', NULL)"
        )
    result = _run(dsn, data, full=True)
    assert result.status == "failed" and "created_at" in result.error, result
    assert _entry(data) == before_entry


def test_future_dated_rows_are_kept_and_do_not_hide_later_rows(good: tuple) -> None:
    """Documented handling: a future row is data (extracted as is); the watermark is capped at
    the server clock, so rows that arrive later with today's timestamps are still extracted."""
    dsn, data = good
    tally("corrupt: damaged sources")
    (future,) = _insert_events(dsn, dt.datetime(2999, 1, 1, tzinfo=dt.UTC))
    result = _run(dsn, data)
    assert result.status == "ok" and result.rows == 4
    assert dt.datetime.fromisoformat(result.watermark) <= dt.datetime.now(dt.UTC)
    (late,) = _insert_events(dsn, dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
    again = _run(dsn, data)
    assert (again.mode, again.status, again.rows) == ("incremental", "ok", 5)
    with Workbench.open(data, tenant="acme") as wb:
        ids = set(wb.sql("SELECT CAST(id AS VARCHAR) AS id FROM events")["id"])
    assert {future, late} <= ids


def test_non_utf8_text_in_a_sql_ascii_source(pg_server: PgServer, tmp_path: Path) -> None:
    """Bytes that are not UTF-8 (a SQL_ASCII database accepts anything) fail that table with a
    clear error; the previous extract stays, the other tables are extracted."""
    dsn = _create(pg_server, "sql_ascii", encoding="SQL_ASCII")
    tally("corrupt: damaged sources")
    data = tmp_path / "data"
    when = NOW - dt.timedelta(days=1)
    with psycopg.connect(dsn, autocommit=True, client_encoding="utf8") as con:
        con.execute(
            "INSERT INTO prompt_outputs (id, tenant_id, prompt, status, created_at) "
            "VALUES (gen_random_uuid(), 'acme', 'fine', 'success', %s)",
            (when,),
        )
    first = _run(dsn, data, "prompt_outputs")
    assert first.status == "ok" and first.rows == 1, first
    before_files = _table_files(data)
    before_entry = _entry(data, "neuroweaver.prompt_outputs")
    with psycopg.connect(dsn, autocommit=True, client_encoding="utf8") as con:
        con.execute(
            "INSERT INTO prompt_outputs (id, tenant_id, prompt, status, created_at) "
            "VALUES (gen_random_uuid(), 'acme', convert_from('\\xfffe41'::bytea, 'SQL_ASCII'), "
            "'success', %s)",
            (when,),
        )
    _insert_events(dsn, when)
    run = extract(
        data,
        tables=["prompt_outputs", "events"],
        settings=Settings(postgres_dsn=dsn),
        policy=Policy.disabled(),
    )
    by_table = {t.table: t for t in run.tables}
    bad, fine = by_table["neuroweaver.prompt_outputs"], by_table["auterity.events"]
    assert bad.status == "failed", bad
    assert "UTF-8" in bad.error or "utf" in bad.error.lower() or "encod" in bad.error.lower()
    assert fine.status == "ok" and fine.rows == 1
    assert _entry(data, "neuroweaver.prompt_outputs") == before_entry
    assert not diff_snapshots(
        {k: v for k, v in before_files.items() if "prompt_outputs" in k},
        {k: v for k, v in _table_files(data).items() if "prompt_outputs" in k},
    )
