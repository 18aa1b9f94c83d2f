"""Extraction from a real PostgreSQL (started by the suite): round trip, incremental, drift, DSNs.

The round trip loads the demo extracts into Postgres (``seed-postgres``), extracts them back
with privacy disabled and compares every table row by row and every query of ``queries/`` for
every tenant with the demo extracts themselves. Privacy transforms are checked in
``test_privacy.py``.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import warnings
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import psycopg
import pyarrow.parquet as pq
import pytest
from psycopg.conninfo import make_conninfo
from typer.testing import CliRunner

from auterity_lab.cli import app
from auterity_lab.config import Settings
from auterity_lab.errors import ConfigError, ExtractError, QueryError
from auterity_lab.extract import ProgressUpdate, extract, select_tables
from auterity_lab.manifest import read_manifest
from auterity_lab.pgseed import schema_ddl, seed_postgres
from auterity_lab.privacy import Policy
from auterity_lab.queries import list_queries, load_query
from auterity_lab.schema import SYSTEMS, Table, source_tables, table
from auterity_lab.sources import describe_dsn, redact, resolve_dsn
from auterity_lab.tracking import track_event
from auterity_lab.warehouse import Workbench

from .conftest import DEMO_TENANTS
from .postgres_server import PgServer

pytestmark = pytest.mark.postgres

runner = CliRunner()
PASSWORD = "Sup3r-Secret-pw"  # trust authentication ignores it; it must never be printed


def _settings(dsn: str, **kw: Any) -> Settings:
    return Settings(postgres_dsn=dsn, **kw)


def rows(data_dir: Path, tbl: Table) -> pd.DataFrame:
    """A table's extract, from the files its manifest lists, sorted by key; JSON parsed."""
    entry = read_manifest(data_dir).tables[tbl.qualified_name]
    files = [str(data_dir / f.path) for f in entry.files]
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    cols = ", ".join(tbl.column_names)
    order = ", ".join(tbl.primary_key)
    result = con.execute(
        f"SELECT {cols} FROM read_parquet($f, hive_partitioning = false, union_by_name = true) "
        f"ORDER BY {order}",
        {"f": files},
    )
    with warnings.catch_warnings():  # DuckDB 1.5.5 + pandas 3.1, as in warehouse.py
        warnings.filterwarnings("ignore", message="The inplace keyword in DataFrame.drop")
        frame = result.df()
    for col in tbl.columns:
        if col.kind == "jsonb":  # Postgres normalises jsonb text (key order, spacing)
            frame[col.name] = frame[col.name].map(
                lambda v: None if pd.isna(v) else json.dumps(json.loads(v), sort_keys=True)
            )
    return frame


def source_ids(dsn: str, name: str) -> list[str]:
    with psycopg.connect(dsn) as con:
        return sorted(str(r[0]) for r in con.execute(f"SELECT id FROM public.{name}"))


def create_schema(dsn: str, systems: tuple[str, ...] = SYSTEMS) -> None:
    with psycopg.connect(dsn, autocommit=True) as con:
        for system in systems:
            con.execute(schema_ddl(system))


# ----------------------------------------------------------------------------- round trip
@pytest.fixture(scope="module")
def plain_extract(seeded_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo data extracted back from Postgres with privacy disabled."""
    d = tmp_path_factory.mktemp("pg-plain")
    run = extract(d, settings=_settings(seeded_dsn), policy=Policy.disabled())
    run.raise_for_errors()
    assert {t.mode for t in run.tables} == {"full"}
    return d


def test_round_trip_gives_the_demo_rows_back(demo_dir: Path, plain_extract: Path) -> None:
    for tbl in source_tables():
        expected, got = rows(demo_dir, tbl), rows(plain_extract, tbl)
        assert len(got) > 0, tbl.name
        pd.testing.assert_frame_equal(got, expected, check_exact=True, obj=tbl.qualified_name)


def test_round_trip_keeps_types(demo_dir: Path, plain_extract: Path) -> None:
    got, demo = read_manifest(plain_extract), read_manifest(demo_dir)
    for tbl in source_tables():
        schema = pq.read_schema(plain_extract / got.tables[tbl.qualified_name].files[0].path)
        assert schema == pq.read_schema(demo_dir / demo.tables[tbl.qualified_name].files[0].path)
        for col in tbl.columns:  # JSON text is kept as Arrow's json extension of string
            found, expected = schema.field(col.name).type, tbl.arrow_schema().field(col.name).type
            assert found == expected or (col.kind == "jsonb" and found.storage_type == expected)
    schema = pq.read_schema(plain_extract / got.tables["neuroweaver.prompt_outputs"].files[0].path)
    assert [str(schema.field(c).type) for c in ("id", "created_at", "user_rating", "prompt")] == [
        "extension<arrow.uuid>",
        "timestamp[us, tz=UTC]",
        "decimal128(3, 2)",
        "string",
    ]
    sessions = rows(plain_extract, table("user_sessions"))
    assert sessions["events"].dropna().map(lambda t: "conversion_rate" in json.loads(t)).all()
    # the extract-only typed copy equals the key of the raw JSON it was taken from
    parsed = sessions["events"].map(lambda t: json.loads(t).get("conversion_rate"))
    assert (parsed.astype(float) == sessions["conversion_rate"]).all()


def _query_args(name: str) -> dict[str, Any] | None:
    """Arguments for a query's required parameters, or None when this test cannot guess them."""
    known: dict[str, Any] = {
        "start": "2026-07-01",
        "end": "2026-11-01",
        "on": "2026-10-01",
        "steps": ["signup", "activate", "subscribe"],
        "stopwords": ["the", "and"],
    }
    args = {}
    for p in load_query(name).params:
        if p.required:
            if p.name not in known:
                return None
            args[p.name] = known[p.name]
    return args


def test_round_trip_every_query_gives_the_same_result(demo_dir: Path, plain_extract: Path) -> None:
    """Every query for the largest tenant (the row-level test above covers every tenant)."""
    compared = 0
    for tenant in DEMO_TENANTS[:1]:
        with (
            Workbench.open(demo_dir, tenant=tenant) as demo,
            Workbench.open(plain_extract, tenant=tenant) as pg,
        ):
            for name in list_queries():
                args = _query_args(name)
                if args is None:
                    continue
                try:
                    expected = demo.query(name, **args)
                except QueryError as exc:  # needs relations a plain workbench lacks: same on both
                    with pytest.raises(QueryError):
                        pg.query(name, **args)
                    assert "failed" in str(exc)
                    continue
                # exact but for the last bits of parallel floating-point aggregates
                pd.testing.assert_frame_equal(
                    pg.query(name, **args),
                    expected,
                    check_exact=False,
                    rtol=1e-12,
                    atol=0,
                    obj=f"{name} for {tenant}",
                )
                compared += 1
    assert compared >= len(list_queries()) // 2, compared


# ----------------------------------------------------------------------------- incremental
@pytest.fixture
def empty_source(pg_server: PgServer, request: pytest.FixtureRequest) -> str:
    """A fresh database with the three systems' source tables and no rows."""
    dsn = pg_server.create_database(
        request.node.name[:40].lower().replace("[", "_").replace("]", "")
    )
    create_schema(dsn)
    return dsn


def _event(day: int, hour: float = 12.0, **kw: Any) -> dict[str, Any]:
    at = dt.datetime(2026, 10, day, tzinfo=dt.UTC) + dt.timedelta(hours=hour)
    return {"tenant_id": "acme", "event_type": "feature_use", "created_at": at, **kw}


def _files(data_dir: Path, name: str) -> dict[str, str]:
    """Day partition → file of a table's extract."""
    entry = read_manifest(data_dir).tables[table(name).qualified_name]
    return {Path(f.path).parent.name: f.path for f in entry.files}


def test_incremental_extract_adds_late_and_changed_rows_without_duplicates(
    empty_source: str, tmp_path: Path
) -> None:
    s = _settings(empty_source)
    only = {"tables": ["events"], "settings": s, "policy": Policy.disabled()}
    track_event([_event(1), _event(2), _event(2, 13)], dsn=empty_source)
    first = extract(tmp_path, **only).tables[0]
    assert (first.mode, first.rows_read, first.rows) == ("full", 3, 3)
    assert first.watermark == "2026-10-02T13:00:00+00:00"
    day1 = _files(tmp_path, "events")["date=2026-10-01"]

    # a new day, and a row that commits late but within the overlap (60 min) of the watermark
    track_event(_event(2, 12.5), dsn=empty_source)
    newest = track_event(_event(3), dsn=empty_source)
    second = extract(tmp_path, **only).tables[0]
    assert (second.mode, second.rows_read, second.rows) == ("incremental", 4, 5)  # 2 re-read, 2 new
    files = _files(tmp_path, "events")
    assert files["date=2026-10-01"] == day1  # untouched days are not rewritten
    assert set(files) == {"date=2026-10-01", "date=2026-10-02", "date=2026-10-03"}
    assert sorted(rows(tmp_path, table("events"))["id"].map(str)) == source_ids(
        empty_source, "events"
    )

    # a row changed in the source within the overlap: the newest version wins, no duplicate
    with psycopg.connect(empty_source, autocommit=True) as con:
        con.execute("UPDATE events SET event_type = 'activate' WHERE id = %s", (newest,))
    third = extract(tmp_path, **only).tables[0]
    got = rows(tmp_path, table("events"))
    assert third.rows == 5 and got["id"].is_unique
    assert got.set_index(got["id"].map(str)).loc[str(newest), "event_type"] == "activate"

    # re-running changes nothing
    before = rows(tmp_path, table("events"))
    again = extract(tmp_path, **only).tables[0]
    assert again.rows == 5
    pd.testing.assert_frame_equal(rows(tmp_path, table("events")), before)


def test_rows_older_than_the_overlap_need_a_full_extract(empty_source: str, tmp_path: Path) -> None:
    s = _settings(empty_source, extract_overlap_minutes=30)
    only = {"tables": ["events"], "settings": s, "policy": Policy.disabled()}
    track_event([_event(5), _event(6)], dsn=empty_source)
    extract(tmp_path, **only)
    track_event(_event(6, 11), dsn=empty_source)  # one hour behind the watermark: outside 30 min
    assert extract(tmp_path, **only).tables[0].rows == 2  # the documented limit of the overlap
    with psycopg.connect(empty_source, autocommit=True) as con:
        con.execute("DELETE FROM events WHERE created_at < '2026-10-06'")
    full = extract(tmp_path, full=True, **only).tables[0]  # replaces the table atomically
    assert (full.mode, full.rows) == ("full", 2)
    assert sorted(rows(tmp_path, table("events"))["id"].map(str)) == source_ids(
        empty_source, "events"
    )


def test_a_changed_policy_or_source_forces_a_full_extract(
    empty_source: str, tmp_path: Path
) -> None:
    track_event([_event(1)], dsn=empty_source)
    s = _settings(empty_source)
    assert (
        extract(tmp_path, tables=["events"], settings=s, policy=Policy.disabled()).tables[0].mode
        == "full"
    )
    assert (
        extract(tmp_path, tables=["events"], settings=s).tables[0].mode == "full"
    )  # policy changed
    assert extract(tmp_path, tables=["events"], settings=s).tables[0].mode == "incremental"
    other = make_conninfo(empty_source, application_name="x", user="postgres", host="localhost")
    assert extract(tmp_path, tables=["events"], settings=_settings(other)).tables[0].mode == "full"


# ----------------------------------------------------------------------------- schema drift
def test_schema_drift_is_carried_or_stops_only_that_table(
    empty_source: str, tmp_path: Path
) -> None:
    s = _settings(empty_source)
    track_event([_event(1), _event(2)], dsn=empty_source)
    with psycopg.connect(empty_source, autocommit=True) as con:
        con.execute(
            "INSERT INTO feedback (id, tenant_id, prompt_output_id, rating, comment, created_at) "
            "VALUES (gen_random_uuid(), 'acme', gen_random_uuid(), 4, 'ok', '2026-10-01 10:00+00')"
        )
    names = ["events", "feedback", "prompt_outputs"]
    extract(tmp_path, tables=names, settings=s, policy=Policy.disabled()).raise_for_errors()
    before = read_manifest(tmp_path).tables
    with psycopg.connect(empty_source, autocommit=True) as con:
        con.execute("ALTER TABLE events ADD COLUMN campaign text")
        con.execute("UPDATE events SET campaign = 'spring'")
        con.execute("ALTER TABLE feedback DROP COLUMN comment")
        con.execute("ALTER TABLE prompt_outputs ALTER COLUMN user_rating TYPE numeric(4,2)")
    res = runner.invoke(
        app,
        [
            "extract",
            "--data",
            str(tmp_path),
            "--table",
            "events",
            "--table",
            "feedback",
            "--table",
            "prompt_outputs",
        ],
        env={"AUTERITY_LAB_POSTGRES_DSN": empty_source, "COLUMNS": "200"},
    )
    assert res.exit_code == 1
    assert "neuroweaver.feedback: column 'comment' is missing from the source" in res.output
    assert (
        "neuroweaver.prompt_outputs: column 'user_rating' is numeric(4,2) in the source, "
        "expected numeric(3,2)"
    ) in res.output
    after = read_manifest(tmp_path)
    for name in ("neuroweaver.feedback", "neuroweaver.prompt_outputs"):
        assert after.tables[name] == before[name]  # previous extract untouched
    run = after.runs[-1]
    assert run["tables"]["auterity.events"]["extra_columns"] == ["campaign"]
    assert run["tables"]["neuroweaver.feedback"]["status"] == "failed"
    assert after.tables["auterity.events"].extra_columns == ("campaign",)
    with Workbench.open(tmp_path, tenant="acme") as wb:
        assert wb.sql("SELECT DISTINCT campaign FROM events")["campaign"].tolist() == ["spring"]


# ----------------------------------------------------------------------------- sources and secrets
def test_dsns_come_from_each_system_or_one_for_all(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AUTERITY", "NEUROWEAVER", "RELAYCORE", "POSTGRES"):
        monkeypatch.delenv(f"AUTERITY_LAB_{name}_DSN", raising=False)
    monkeypatch.setenv("AUTERITY_LAB_POSTGRES_DSN", "postgresql://u:pw@h/all")
    monkeypatch.setenv("AUTERITY_LAB_RELAYCORE_DSN", "host=rc dbname=relay")
    s = Settings()
    assert describe_dsn(resolve_dsn("auterity", s)) == "postgresql://u@h:5432/all"
    assert describe_dsn(resolve_dsn("relaycore", s)) == "postgresql://rc:5432/relay"
    with pytest.raises(
        ConfigError, match="AUTERITY_LAB_NEUROWEAVER_DSN .or AUTERITY_LAB_POSTGRES_DSN"
    ):
        resolve_dsn("neuroweaver", Settings(postgres_dsn=None))
    with pytest.raises(ConfigError, match="not a valid libpq connection string"):
        resolve_dsn("auterity", Settings(postgres_dsn="host=h password"))
    assert "pw" not in repr(s)


def test_passwords_never_appear(seeded_dsn: str, pg_server: PgServer, tmp_path: Path) -> None:
    secret_dsn = make_conninfo(seeded_dsn, password=PASSWORD)
    env = {"AUTERITY_LAB_POSTGRES_DSN": secret_dsn, "COLUMNS": "200"}
    res = runner.invoke(app, ["extract", "--data", str(tmp_path), "--system", "relaycore"], env=env)
    assert res.exit_code == 0, res.output
    assert PASSWORD not in res.output
    assert PASSWORD not in (tmp_path / "manifest.json").read_text()
    # unreachable database: DuckDB's and libpq's messages repeat the whole DSN
    dead = make_conninfo(seeded_dsn, password=PASSWORD, port="1")
    res = runner.invoke(
        app,
        ["extract", "--data", str(tmp_path)],
        env={"AUTERITY_LAB_POSTGRES_DSN": dead, "COLUMNS": "300"},
    )
    assert res.exit_code == 1
    assert "ConfigError: cannot attach postgresql://postgres@127.0.0.1:1/alab_" in res.output
    assert PASSWORD not in res.output
    url = f"postgresql://postgres:{PASSWORD}@127.0.0.1:1/x"
    with pytest.raises(ConfigError) as info:
        extract(tmp_path, settings=_settings(url))
    assert PASSWORD not in str(info.value) and "postgresql://postgres@127.0.0.1:1/x" in str(
        info.value
    )
    assert (
        redact(f"failed: {url} ({PASSWORD})", [url])
        == "failed: postgresql://postgres@127.0.0.1:1/x (***)"
    )


def test_one_database_per_system(
    pg_server: PgServer, demo_dir: Path, plain_extract: Path, tmp_path: Path
) -> None:
    dsns = {s: pg_server.create_database(f"sys_{s}") for s in ("neuroweaver", "relaycore")}
    s = Settings(
        neuroweaver_dsn=dsns["neuroweaver"], relaycore_dsn=dsns["relaycore"], postgres_dsn=None
    )
    seeded = seed_postgres(demo_dir, systems=["neuroweaver", "relaycore"], settings=s)
    assert (
        seeded.rows["relaycore.workflow_runs"]
        == read_manifest(demo_dir).tables["relaycore.workflow_runs"].rows
    )
    with psycopg.connect(dsns["relaycore"]) as con:  # each system's tables went to its database
        tables = {
            r[0] for r in con.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        }
    assert tables == {"workflow_runs", "workflow_steps"}
    run = extract(
        tmp_path, systems=["neuroweaver", "relaycore"], settings=s, policy=Policy.disabled()
    )
    run.raise_for_errors()
    for tbl in select_tables(["neuroweaver", "relaycore"]):
        pd.testing.assert_frame_equal(
            rows(tmp_path, tbl), rows(plain_extract, tbl), check_exact=True
        )


# ----------------------------------------------------------------------------- seeding, CLI, locks
def test_seed_refuses_non_empty_tables_unless_replace(seeded_dsn: str, demo_dir: Path) -> None:
    with pytest.raises(ConfigError, match=r"already holds rows in users \(1,"):
        seed_postgres(demo_dir, systems=["auterity"], settings=_settings(seeded_dsn))
    res = runner.invoke(
        app,
        ["seed-postgres", "--from", str(demo_dir), "--system", "relaycore", "--replace"],
        env={"AUTERITY_LAB_POSTGRES_DSN": seeded_dsn},
    )
    assert res.exit_code == 0, res.output
    expected = read_manifest(demo_dir).tables["relaycore.workflow_steps"].rows
    assert len(source_ids(seeded_dsn, "workflow_steps")) == expected


def test_run_is_recorded_with_progress(seeded_dsn: str, tmp_path: Path) -> None:
    updates: list[ProgressUpdate] = []
    run = extract(
        tmp_path,
        systems=["relaycore"],
        settings=_settings(seeded_dsn),
        policy=Policy.disabled(),
        progress=updates.append,
    )
    done = {u.table: u.rows for u in updates if u.done}
    assert done == {t.table: t.rows_read for t in run.tables}
    started = [u for u in updates if not u.done and u.rows == 0]
    assert {u.table for u in started} == set(done) and all(
        u.total for u in started
    )  # ANALYZEd estimate
    record = read_manifest(tmp_path).runs[-1]
    assert record["kind"] == "extract" and record["run_id"] == run.run_id
    assert record["tables"]["relaycore.workflow_runs"]["rows"] == run.tables[0].rows > 0
    assert (
        read_manifest(tmp_path).tables["relaycore.workflow_runs"].watermark["value"]
        == run.tables[0].watermark
    )


def test_only_one_extract_per_data_directory(seeded_dsn: str, tmp_path: Path) -> None:
    with open(tmp_path / ".extract.lock", "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        with pytest.raises(ExtractError, match="another extract is running"):
            extract(tmp_path, systems=["relaycore"], settings=_settings(seeded_dsn))


def test_unknown_tables_and_systems_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="unknown system 'crm'"):
        select_tables(["crm"])
    with pytest.raises(ConfigError, match="unknown table 'nope'"):
        select_tables(None, ["nope"])
    with pytest.raises(ConfigError, match="derived by the workbench"):
        select_tables(None, ["unified_insights"])
    assert [t.name for t in select_tables(None, ["auterity.events", "feedback"])] == [
        "events",
        "feedback",
    ]


def test_hash_rule_needs_a_key(empty_source: str, tmp_path: Path) -> None:
    policy = Policy.model_validate({"anonymization": {"columns": {"events.user_id": "hash"}}})
    with pytest.raises(
        ConfigError, match="hashes events.user_id, but AUTERITY_LAB_HMAC_KEY is not set"
    ):
        extract(
            tmp_path,
            tables=["events"],
            settings=_settings(empty_source, hmac_key=None),
            policy=policy,
        )
    assert not (tmp_path / "manifest.json").exists()
