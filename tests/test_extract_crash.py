"""Crash safety: SIGKILL the extract process at several points; nothing is lost, duplicated or
half-visible.

Each kill runs ``extract`` in a subprocess that kills itself at one point (hooks installed by the
driver below, not by the package) or is killed by the test while DuckDB reads rows from
Postgres or writes them to Parquet. After each kill the data directory must read as the extract
before the run or the one it was making, per table, never a mix; the next normal run must then
hold exactly the source's rows and leave no staged or orphaned files behind.
"""

from __future__ import annotations

import datetime as dt
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pyarrow.parquet as pq
import pytest

from auterity_lab.config import Settings
from auterity_lab.extract import extract
from auterity_lab.manifest import read_manifest
from auterity_lab.privacy import Policy
from auterity_lab.schema import table
from auterity_lab.warehouse import Workbench

from .postgres_server import PgServer
from .test_extract import create_schema

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
TABLES = ["events", "workflow_runs"]
DRIVER = r"""
import os, signal, sys
import auterity_lab.extract as ex
import auterity_lab.manifest as mf
from auterity_lab.config import Settings
from auterity_lab.privacy import Policy

point, data, dsn, mode, *tables = sys.argv[1:]
full = mode == "full"

def die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

def then_die(real):
    def call(*args, **kwargs):
        real(*args, **kwargs)
        die()
    return call

def on_call(n, real):
    seen = []
    def call(*args, **kwargs):
        seen.append(1)
        if len(seen) == n:
            die()
        return real(*args, **kwargs)
    return call

if point == "files-moved":        # new files renamed into place, manifest not yet swapped
    mf.write_manifest = die
elif point == "manifest-swapped":  # manifest swapped, superseded files not yet deleted
    mf.write_manifest = then_die(mf.write_manifest)
elif point == "between-tables":    # first table published, second not started
    ex.write_extract = on_call(2, ex.write_extract)
elif point == "increment-staged":  # new rows staged under .staging, not merged
    ex.write_extract = die
ex.extract(data, tables=tables, full=full, settings=Settings(postgres_dsn=dsn),
           policy=Policy.disabled())
"""


@pytest.fixture
def source(pg_server: PgServer) -> str:
    dsn = pg_server.create_database("crash")
    create_schema(dsn, ("auterity", "relaycore"))
    _add_rows(dsn, 30_000, start="2026-01-01", days=40)
    return dsn


def _add_rows(dsn: str, n: int, *, start: str, days: float) -> None:
    """``n`` events and ``n // 10`` workflow runs spread over ``days`` from ``start``."""
    with psycopg.connect(dsn, autocommit=True) as con:
        con.execute(
            "INSERT INTO events (id, tenant_id, event_type, properties, created_at) "
            "SELECT gen_random_uuid(), 'acme', 'feature_use', '{\"n\": 1}', "
            "%(start)s::timestamptz + (i * %(days)s / %(n)s) * interval '1 day' "
            "FROM generate_series(1, %(n)s) i",
            {"start": start, "days": days, "n": n},
        )
        con.execute(
            "INSERT INTO workflow_runs (id, tenant_id, workflow_id, status, started_at, "
            "created_at) SELECT gen_random_uuid(), 'acme', 'wf', 'success', t, t FROM ("
            "SELECT %(start)s::timestamptz + (i * %(days)s / %(n)s) * interval '1 day' AS t "
            "FROM generate_series(1, %(n)s) i) s",
            {"start": start, "days": days, "n": n // 10},
        )


def _source_ids(dsn: str, name: str) -> set[str]:
    with psycopg.connect(dsn) as con:
        return {str(r[0]) for r in con.execute(f"SELECT id FROM {name}")}


def _extract_ids(data: Path, name: str) -> set[str]:
    """Ids in the files the manifest lists (read with pyarrow), checking they are unique and
    that the manifest's row counts match the files."""
    entry = read_manifest(data).tables[table(name).qualified_name]
    ids: list[str] = []
    for f in entry.files:
        t = pq.read_table(data / f.path, columns=["id"])
        assert t.num_rows == f.rows, f.path
        ids += [str(v) for v in t.column("id").to_pylist()]
    assert len(ids) == len(set(ids)) == entry.rows, f"{name}: duplicated rows"
    return set(ids)


def _snapshot(data: Path) -> dict[str, set[str]]:
    with Workbench.open(data, tenant="acme") as wb:  # a reader opens and counts every table
        for name in TABLES:
            n = wb.sql(f"SELECT count(*) AS n FROM {name}")["n"][0]
            assert n == read_manifest(data).tables[table(name).qualified_name].rows
    return {name: _extract_ids(data, name) for name in TABLES}


def _driver(point: str, data: Path, dsn: str, full: bool) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", DRIVER, point, str(data), dsn, "full" if full else "incr", *TABLES],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def _kill_during_copy(data: Path, dsn: str, *, writing: bool) -> subprocess.Popen[bytes]:
    """Start a full extract and SIGKILL it inside the COPY of the events table: while rows come
    from Postgres (its staging folder exists) or while they go to Parquet (day folders exist)."""
    proc = _driver("none", data, dsn, full=True)
    pattern = "auterity.events.*/date=*" if writing else "auterity.events.*"
    deadline = time.monotonic() + 60
    while not any((data / ".staging").glob(pattern)):
        assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
        assert time.monotonic() < deadline, "the extract never started writing"
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    return proc


def test_sigkill_at_any_point_loses_nothing_and_duplicates_nothing(
    source: str, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    settings = Settings(postgres_dsn=source)
    extract(data, tables=TABLES, settings=settings, policy=Policy.disabled()).raise_for_errors()
    newest = dt.datetime(2026, 2, 10)
    points = [
        "mid-read",
        "mid-write",
        "files-moved",
        "manifest-swapped",
        "between-tables",
        "increment-staged",
    ]
    for i, point in enumerate(points):
        # new rows: late ones (30 min behind the watermark, within the overlap) and new days
        late = newest - dt.timedelta(minutes=30)
        _add_rows(source, 300, start=late.isoformat(), days=2)
        newest += dt.timedelta(days=2)
        before = _snapshot(data)
        wanted = {name: _source_ids(source, name) for name in TABLES}
        if point.startswith("mid-"):
            proc = _kill_during_copy(data, source, writing=point == "mid-write")
        else:
            proc = _driver(point, data, source, full=i % 2 == 0)
        out = proc.communicate(timeout=120)[0].decode()
        assert proc.returncode == -signal.SIGKILL, f"{point}: {out}"
        seen = _snapshot(data)
        for name in TABLES:  # each table is the old extract or the new one, never a mix
            assert seen[name] in (before[name], wanted[name]), f"{point}: {name} is half-written"
        assert seen != wanted or point == "manifest-swapped"

        run = extract(data, tables=TABLES, settings=settings, policy=Policy.disabled())
        run.raise_for_errors()
        assert _snapshot(data) == wanted, (
            f"after {point}: the next run must hold exactly the source rows"
        )
        leftovers = [p for p in (data / ".staging").rglob("*") if p.is_file()]
        listed = {f.path for e in read_manifest(data).tables.values() for f in e.files}
        orphans = [
            p
            for p in (data / "extracts").rglob("*.parquet")
            if str(p.relative_to(data)) not in listed
        ]
        assert not leftovers and not orphans, f"after {point}: {leftovers + orphans}"
