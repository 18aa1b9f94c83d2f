"""The benchmark's Postgres: a long-lived local server under ``/work/bench_data/pg`` and one
database per data scale, loaded from the demo extracts with the spec's indexes and materialized
views (spec §4.3). Used by ``benchmarks/scale_bench.py``; runnable alone to (re)load a scale.

Tables are the project's source DDL (``queries/postgres/<system>.sql``) plus the extract-only
typed columns (``user_sessions.conversion_rate``, ``device``, ``country``) and the ``date``
partition column, so the very SQL of ``queries/*.sql`` runs on both engines. Indexes are built
after the rows are in (faster than maintaining them row by row). Each tenant gets a schema
``t_<tenant>`` of views ``SELECT * FROM public.<table> WHERE tenant_id = '<tenant>'``: the
tenant filter is a WHERE clause the planner inlines, and ``search_path`` picks the tenant.

The materialized views are the spec's two, with ``tenant_id`` added to the grouping (a view
shared by tenants must keep them apart) and the spec's ``AVG(events::text::jsonb->>...)``, which
fails on Postgres, written as the average of the JSON number.

Examples
--------
$ .venv/bin/python benchmarks/scale_pg.py load /work/bench_data/s10 --db bench_s10
$ .venv/bin/python benchmarks/scale_pg.py stop
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import re
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import psycopg

ROOT = Path("/work/bench_data/pg")
PORT = 55432
ADMIN_DSN = f"host=127.0.0.1 port={PORT} user=postgres dbname=postgres"
# Under 4 GB of buffers and per-sort memory in total: 2 GB shared buffers, 128 MB per sort/hash
# node (a parallel plan of 3 processes with a few nodes stays well under 2 GB).
SERVER_SETTINGS = (
    "-c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
    "-c full_page_writes=off -c max_connections=40 -c shared_buffers=2GB -c work_mem=128MB "
    "-c maintenance_work_mem=1GB -c effective_cache_size=8GB -c max_wal_size=8GB "
    "-c max_parallel_workers_per_gather=2 -c jit=off"
)
MATERIALIZED_VIEWS = {
    "daily_user_analytics": """
        CREATE MATERIALIZED VIEW public.daily_user_analytics AS
        SELECT tenant_id,
               DATE(created_at AT TIME ZONE 'UTC') AS date,
               COUNT(DISTINCT user_id) AS unique_users,
               COUNT(*) AS total_sessions,
               AVG(duration) AS avg_session_duration,
               SUM(page_views) AS total_page_views,
               AVG((events->>'conversion_rate')::decimal) AS avg_conversion_rate
        FROM public.user_sessions
        GROUP BY tenant_id, DATE(created_at AT TIME ZONE 'UTC');
        CREATE UNIQUE INDEX ON public.daily_user_analytics (tenant_id, date)""",
    "hourly_ai_performance": """
        CREATE MATERIALIZED VIEW public.hourly_ai_performance AS
        SELECT tenant_id,
               DATE_TRUNC('hour', created_at) AS hour,
               model_id,
               COUNT(*) AS request_count,
               AVG(response_time_ms) AS avg_response_time,
               AVG(user_rating) AS avg_rating,
               SUM(tokens_used) AS total_tokens,
               COUNT(*) FILTER (WHERE user_rating >= 4) AS high_rated_requests
        FROM public.prompt_outputs
        GROUP BY tenant_id, DATE_TRUNC('hour', created_at), model_id;
        CREATE UNIQUE INDEX ON public.hourly_ai_performance (tenant_id, hour, model_id)""",
}


def bindir() -> Path:
    """The newest installed PostgreSQL's binaries."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[4]))
    if not found:
        sys.exit("PostgreSQL binaries not found under /usr/lib/postgresql")
    return found[-1].parent


def _run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    cmd = [str(bindir() / args[0]), *args[1:]]
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--", *cmd]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=600)
    if check and out.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{out.stdout}\n{out.stderr}")
    return out


def ensure_server() -> str:
    """Start the server (initdb on first use); return the admin DSN. Idempotent."""
    data = ROOT / "data"
    if not (data / "PG_VERSION").exists():
        ROOT.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(ROOT, owner.pw_uid, owner.pw_gid)
        _run("initdb", "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
             "--locale=C", "--no-sync")
    if _run("pg_ctl", "-D", str(data), "status", check=False).returncode != 0:
        _run("pg_ctl", "-D", str(data), "-l", str(ROOT / "server.log"), "-w", "-t", "120",
             "-o", f"-p {PORT} -k {ROOT} {SERVER_SETTINGS}", "start")
    return ADMIN_DSN


def stop_server() -> None:
    """Stop the server (a fast shutdown); the data stays for the next run."""
    _run("pg_ctl", "-D", str(ROOT / "data"), "-m", "fast", "-w", "stop", check=False)


def version() -> str:
    """``PostgreSQL 15.x`` of the running server."""
    with psycopg.connect(ADMIN_DSN) as con:
        return str(con.execute("SHOW server_version").fetchone()[0]).split()[0]


def dsn_for(db: str) -> str:
    return f"host=127.0.0.1 port={PORT} user=postgres dbname={db}"


def loaded_info(db: str, fingerprint: str) -> dict[str, object] | None:
    """The load record of ``db`` if it holds the data of this manifest fingerprint."""
    try:
        with psycopg.connect(dsn_for(db)) as con:
            row = con.execute("SELECT info FROM bench_meta WHERE fingerprint = %s",
                              (fingerprint,)).fetchone()
    except psycopg.Error:
        return None
    return dict(row[0]) if row else None


def load(data_dir: Path, db: str, tenants: list[str], fingerprint: str) -> dict[str, object]:
    """(Re)create ``db`` from the extracts in ``data_dir``; return the timings of each phase."""
    from auterity_lab.manifest import read_manifest
    from auterity_lab.pgseed import schema_ddl
    from auterity_lab.schema import PARTITION_FIELD, SYSTEMS, source_tables
    from auterity_lab.sources import scanner_extension

    ensure_server()
    with psycopg.connect(ADMIN_DSN, autocommit=True) as con:
        con.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        con.execute(f'CREATE DATABASE "{db}" TEMPLATE template0')
    ddl = "\n".join(schema_ddl(s) for s in SYSTEMS)
    statements = [s.strip() for s in re.split(r";\s*\n", ddl) if s.strip()]
    statements = [re.sub(r"^(--[^\n]*\n)+", "", s).strip() for s in statements]
    tables_ddl = [s for s in statements if s.upper().startswith("CREATE TABLE")]
    index_ddl = [s for s in statements if "CREATE INDEX" in s.upper()]
    timings: dict[str, float] = {}
    rows: dict[str, int] = {}
    manifest = read_manifest(data_dir)
    with psycopg.connect(dsn_for(db), autocommit=True) as con:
        for stmt in tables_ddl:
            con.execute(stmt)
        for tbl in source_tables():
            extra = [c for c in tbl.columns if not c.in_source]
            for c in extra:
                con.execute(f'ALTER TABLE {tbl.name} ADD COLUMN "{c.name}" {c.postgres_type}')
            con.execute(f'ALTER TABLE {tbl.name} ADD COLUMN "{PARTITION_FIELD}" date')
            con.execute(f"ALTER TABLE {tbl.name} SET (autovacuum_enabled = false)")
    started = time.monotonic()
    duck = duckdb.connect(config={"memory_limit": "4GB", "threads": 2})
    duck.execute("SET TimeZone = 'UTC'")
    duck.execute(f"LOAD '{scanner_extension()}'")
    duck.execute(f"ATTACH '{dsn_for(db)}' AS pg (TYPE postgres)")
    for tbl in source_tables():
        entry = manifest.tables.get(tbl.qualified_name)
        if entry is None or not entry.files:
            continue
        files = [str(data_dir / f.path) for f in entry.files]
        cols = ", ".join(f'"{c}"' for c in (*tbl.column_names, PARTITION_FIELD))
        t = time.monotonic()
        duck.execute(
            f"INSERT INTO pg.public.{tbl.name} ({cols}) SELECT {cols} FROM read_parquet($f, "
            f"hive_partitioning = true, hive_types = {{'{PARTITION_FIELD}': DATE}}, "
            "union_by_name = true)",
            {"f": files},
        )
        timings[f"copy {tbl.name}"] = time.monotonic() - t
        rows[tbl.name] = entry.rows
        print(f"  copied {tbl.name}: {entry.rows:,} rows in {timings[f'copy {tbl.name}']:.1f}s",
              flush=True)
    duck.close()
    timings["copy total"] = time.monotonic() - started
    with psycopg.connect(dsn_for(db), autocommit=True) as con:
        t = time.monotonic()
        for stmt in index_ddl:
            con.execute(stmt)
        timings["indexes"] = time.monotonic() - t
        t = time.monotonic()
        con.execute("VACUUM ANALYZE")
        timings["vacuum analyze"] = time.monotonic() - t
        for tenant in tenants:
            con.execute(f'CREATE SCHEMA "t_{tenant}"')
            for tbl in source_tables():
                con.execute(
                    f'CREATE VIEW "t_{tenant}".{tbl.name} AS SELECT * FROM public.{tbl.name} '
                    f"WHERE tenant_id = '{tenant}'"
                )
        for name, mv_ddl in MATERIALIZED_VIEWS.items():
            t = time.monotonic()
            for stmt in mv_ddl.split(";"):
                con.execute(stmt)
            timings[f"create {name}"] = time.monotonic() - t
        size = con.execute("SELECT pg_database_size(current_database())").fetchone()[0]
        info = {"rows": rows, "timings": timings, "bytes": size, "loaded_at": time.time()}
        con.execute("CREATE TABLE bench_meta (fingerprint text, info jsonb)")
        con.execute("INSERT INTO bench_meta VALUES (%s, %s)", (fingerprint, json.dumps(info)))
    return info


def _main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_load = sub.add_parser("load", help="(re)load one data dir into its own database")
    p_load.add_argument("data_dir", type=Path)
    p_load.add_argument("--db", required=True)
    sub.add_parser("start", help="start the server")
    sub.add_parser("stop", help="stop the server")
    args = parser.parse_args()
    if args.command == "start":
        print(ensure_server())
    elif args.command == "stop":
        stop_server()
    else:
        from auterity_lab.manifest import read_manifest

        manifest = read_manifest(args.data_dir)
        info = load(args.data_dir, args.db, list(manifest.tenants), manifest.fingerprint(None))
        print(json.dumps(info, indent=1))


if __name__ == "__main__":
    _main()
