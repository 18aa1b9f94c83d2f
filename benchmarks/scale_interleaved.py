"""Fair ratios on a busy machine: our path, raw DuckDB and Postgres run the same step in turn,
round after round, so all three see the same background load (``scale_bench.py`` measures each
engine in its own block, minutes apart). Steady state only (one warm-up round, result cache off).
Besides wall time it reads CPU seconds (user + system) of each engine, which a busy machine
inflates far less than wall time: ``getrusage`` of this process for DuckDB (all its threads),
``/proc/<backend>/stat`` for Postgres, whose parallel workers are off for that reason unless
``--pg-workers`` says otherwise.

Usage::

    .venv/bin/python benchmarks/scale_interleaved.py --scale 100 --rounds 3 \\
        --step daily_view_full --step hourly_view_full

Needs the SQL recorded by a ``scale_bench.py`` run of the step (``/work/bench_data/sql/``) and
the loaded Postgres database of the scale. Prints the median seconds per engine and the ratios,
and writes ``benchmarks/results/interleaved_s<scale>.json``.

Raw DuckDB replays exactly the statements our path ran (``<step>.pkl``). When those read a
rollup (the spec's views and the Auterity overview, see :mod:`auterity_lab.rollups`), the raw
connection defines the rollup views itself, over the same day files and with the tenant as a
literal, as it does for the source tables; the rollups must be fresh (``build_rollups``).
Postgres answers the question with its row-level SQL, the spec's: the statements of
``<step>.rows.pkl`` when that file exists (the recording of the row-level path, kept before
the step moved to a rollup), else the recorded statements, which must then read no rollup.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import scale_pg  # noqa: E402
from scale_bench import BENCH_DATA, RESULTS, to_postgres  # noqa: E402
from scale_steps import STEPS  # noqa: E402


def _raw_connection(data: Path, tenant: str) -> Any:
    import duckdb

    from auterity_lab.rollups import ROLLUPS, rollup_state
    from auterity_lab.schema import PARTITION_FIELD, source_tables

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    hive = f"hive_partitioning = true, hive_types = {{'{PARTITION_FIELD}': DATE}}"
    for tbl in source_tables():
        folder = data / "extracts" / tbl.system / tbl.name
        if not list(folder.glob("*/*.parquet")):
            continue
        con.execute(
            f"CREATE VIEW {tbl.name} AS SELECT * FROM read_parquet('{folder}/*/*.parquet', "
            f"{hive}, union_by_name = true) WHERE tenant_id = '{tenant}'"
        )
    for name, rollup in ROLLUPS.items():  # the day files our path reads (fresh: checked later)
        state = rollup_state(data, name)
        if state is None or not state["partitions"]:
            continue
        files = ", ".join(f"'{data / p['path']}'" for p in state["partitions"].values())
        cols = ", ".join(n for n, _ in rollup.columns)
        con.execute(
            f"CREATE VIEW {name} AS SELECT {cols}, {PARTITION_FIELD} FROM read_parquet([{files}], "
            f"{hive}) WHERE tenant_id = '{tenant}'"
        )
    return con


def _statements(path: Path) -> tuple[list[tuple[str, Any]], set[str]]:
    """The SQL statements of a recorded step and the rollups they read.

    Exits when the log holds anything a bare connection cannot replay: a registered frame, or a
    view that is not a rollup (the rollups' views are defined by :func:`_raw_connection`).
    """
    from auterity_lab.cache import statement_reads
    from auterity_lab.rollups import ROLLUPS

    log = pickle.loads(path.read_bytes())
    statements = [(e[1], e[2]) for e in log if e[0] == "sql"]
    others = [e[:2] for e in log if e[0] != "sql" and not (e[0] == "view" and e[1] in ROLLUPS)]
    if others:
        sys.exit(f"{path.name}: cannot replay {others[:3]} on a bare connection")
    read = {r for sql, _ in statements for r in statement_reads(sql).relations}
    return statements, read & set(ROLLUPS)


def _own_cpu() -> float:
    """CPU seconds (user + system) of this process, all of DuckDB's threads included."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _pg_cpu(pid: int) -> float:
    """CPU seconds (user + system) of a Postgres backend, from ``/proc/<pid>/stat``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _main() -> None:
    import warnings

    import psycopg

    from auterity_lab.config import load_settings
    from auterity_lab.rollups import is_fresh
    from auterity_lab.warehouse import Workbench

    warnings.simplefilter("ignore")
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=int, default=100)
    parser.add_argument("--step", action="append", required=True)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tenant", default="acme")
    parser.add_argument("--pg-workers", type=int, default=0,
                        help="max_parallel_workers_per_gather (CPU is exact only with 0)")
    parser.add_argument("--suffix", default="", help="suffix of the output JSON name")
    args = parser.parse_args()
    data = BENCH_DATA / f"s{args.scale}"
    wb = Workbench.open(data, tenant=args.tenant, settings=load_settings(cache_enabled=False))
    raw = _raw_connection(data, args.tenant)
    pg = psycopg.connect(scale_pg.dsn_for(f"bench_s{args.scale}"), autocommit=True)
    pg.execute(f'SET search_path TO "t_{args.tenant}", public')
    pg.execute("SET TimeZone = 'UTC'")
    # CPU seconds of Postgres are read from its backend's /proc entry, which misses parallel
    # workers: --pg-workers 0 (the default) runs every plan in the backend alone
    pg.execute(f"SET max_parallel_workers_per_gather = {int(args.pg_workers)}")
    backend = int(pg.execute("SELECT pg_backend_pid()").fetchone()[0])
    results: dict[str, dict[str, Any]] = {}
    sql_dir = BENCH_DATA / "sql" / f"s{args.scale}"
    for name in args.step:
        statements, views = _statements(sql_dir / f"{name}.pkl")
        stale = sorted(v for v in views if not is_fresh(wb, v))
        if stale:
            sys.exit(f"{name}: rollup {', '.join(stale)} is not fresh for {data}: build_rollups")
        rows_log = sql_dir / f"{name}.rows.pkl"
        pg_statements, pg_views = (
            _statements(rows_log) if rows_log.exists() else (statements, views)
        )
        if pg_views:
            sys.exit(f"{name}: the recorded SQL reads rollups {sorted(pg_views)}, which Postgres "
                     f"lacks; record the row-level path to {rows_log.name}")
        pg_sql = [to_postgres(sql, params) for sql, params in pg_statements]
        engines = {
            "ours": lambda name=name: STEPS[name].run(wb, args.tenant),
            "raw": lambda st=statements: [raw.execute(s, p).df() for s, p in st],
            "pg": lambda q=pg_sql: [pg.execute(s).fetchall() for s in q],
        }
        times: dict[str, list[float]] = {k: [] for k in engines}
        cpu: dict[str, list[float]] = {k: [] for k in engines}
        for i in range(args.rounds + 1):
            for engine, run in engines.items():
                c = _pg_cpu(backend) if engine == "pg" else _own_cpu()
                t = time.perf_counter()
                run()
                elapsed = time.perf_counter() - t
                used = (_pg_cpu(backend) if engine == "pg" else _own_cpu()) - c
                if i > 0:
                    times[engine].append(elapsed)
                    cpu[engine].append(used)
        med = {k: statistics.median(v) for k, v in times.items()}
        med_cpu = {k: statistics.median(v) for k, v in cpu.items()}
        results[name] = {"median_s": med, "times_s": times, "median_cpu_s": med_cpu,
                         "rollups_read": sorted(views),
                         "pg_sql": rows_log.name if rows_log.exists() else f"{name}.pkl",
                         "pg_parallel_workers": args.pg_workers,
                         "pg_over_ours": med["pg"] / med["ours"],
                         "ours_over_raw": med["ours"] / med["raw"],
                         "pg_over_ours_cpu": med_cpu["pg"] / med_cpu["ours"],
                         "ours_over_raw_cpu": med_cpu["ours"] / med_cpu["raw"]}
        print(f"{name}: wall ours {med['ours']:.2f} s · raw {med['raw']:.2f} s · pg "
              f"{med['pg']:.2f} s · pg/ours {med['pg'] / med['ours']:.1f}× · ours/raw "
              f"{med['ours'] / med['raw']:.2f}× | CPU ours {med_cpu['ours']:.2f} s · raw "
              f"{med_cpu['raw']:.2f} s · pg {med_cpu['pg']:.2f} s · pg/ours "
              f"{med_cpu['pg'] / med_cpu['ours']:.1f}×", flush=True)
    out = RESULTS / f"interleaved_s{args.scale}{args.suffix}.json"
    old = json.loads(out.read_text()) if out.exists() else {}
    out.write_text(json.dumps({**old, **results}, indent=1))


if __name__ == "__main__":
    _main()
