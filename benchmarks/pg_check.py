"""Check that the Postgres replay of a recorded step returns the same rows as DuckDB.

For each step, every recorded statement (``/work/bench_data/sql/s<scale>/<step>.pkl``, written
by ``scale_bench.py``) runs twice: as recorded in a bare DuckDB whose views read the extracts
with the tenant as a ``WHERE`` (the "raw" engine of the benchmark), and transpiled by
``scale_bench.to_postgres`` on the benchmark's Postgres (the "pg" engine, same ``search_path``).
The two results must have the same columns and the same number of rows, and the same values
after both are sorted on all columns (numbers to a relative 1e-6; timestamps compared as UTC
instants; arrays element-wise). Each statement runs once on each engine, so the Postgres time
printed is a single run, not the benchmark's median. ``--explain`` only plans each statement on
Postgres (no DuckDB, no execution): the check for scale 100. The Postgres session takes the
settings of ``$SCALE_BENCH_PG_SETTINGS`` as the benchmark does (e.g. ``enable_nestloop=off``).

Usage::

    .venv/bin/python benchmarks/pg_check.py retention_weekly funnel_3_step --scale 10
    .venv/bin/python benchmarks/pg_check.py --all --show-sql
    .venv/bin/python benchmarks/pg_check.py --all --scale 100 --explain
    SCALE_BENCH_PG_SETTINGS=enable_nestloop=off .venv/bin/python benchmarks/pg_check.py tab_business
"""

from __future__ import annotations

import argparse
import datetime as dt
import decimal
import math
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import scale_bench  # noqa: E402
import scale_pg  # noqa: E402

_REL = 1e-6


def _norm(value: Any) -> Any:
    """One comparable form for a value from either engine."""
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC) if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, list | tuple):
        return tuple(_norm(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _norm(v)) for k, v in value.items()))
    if hasattr(value, "tolist"):
        return _norm(value.tolist())
    return value


def _key(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple((v is None, "" if v is None else repr(round(v, 6)) if isinstance(v, float)
                  else repr(v)) for v in row)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, int | float) and isinstance(b, int | float) and not isinstance(a, bool):
        return math.isclose(a, b, rel_tol=_REL, abs_tol=1e-9)
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def compare(duck_rows: list[tuple[Any, ...]], pg_rows: list[tuple[Any, ...]]) -> str | None:
    """``None`` when the two results hold the same rows (in any order), else the first difference.

    Examples
    --------
    >>> compare([(1, 2.0)], [(1, 2.0000000001)]) is None
    True
    >>> compare([(1,)], [(2,)])
    'row 0 of 1 differs: duckdb (1,) postgres (2,)'
    """
    if len(duck_rows) != len(pg_rows):
        return f"{len(duck_rows)} rows on duckdb, {len(pg_rows)} on postgres"
    d = sorted((tuple(_norm(v) for v in r) for r in duck_rows), key=_key)
    p = sorted((tuple(_norm(v) for v in r) for r in pg_rows), key=_key)
    for i, (x, y) in enumerate(zip(d, p, strict=True)):
        if len(x) != len(y) or not all(_same(a, b) for a, b in zip(x, y, strict=True)):
            return f"row {i} of {len(d)} differs: duckdb {x} postgres {y}"
    return None


def _duck(data: Path, tenant: str) -> Any:
    import duckdb

    from auterity_lab.schema import PARTITION_FIELD, source_tables

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    quoted = tenant.replace("'", "''")
    con.execute(f"SET VARIABLE tenant = '{quoted}'")  # rollup views filter on it, as ours do
    for tbl in source_tables():
        if not list(Path(data, "extracts", tbl.system, tbl.name).glob("*/*.parquet")):
            continue
        files = f"{data}/extracts/{tbl.system}/{tbl.name}/*/*.parquet"
        con.execute(
            f"CREATE VIEW {tbl.name} AS SELECT * FROM read_parquet('{files}', "
            f"hive_partitioning = true, hive_types = {{'{PARTITION_FIELD}': DATE}}, "
            f"union_by_name = true) WHERE tenant_id = '{quoted}'"
        )
    return con


def check_step(step: str, scale: int, tenant: str, show_sql: bool = False,
               explain: bool = False) -> dict[str, Any]:
    """Replay one recorded step on both engines; return per-statement verdicts and PG times.

    With ``explain``, Postgres only plans each statement (``EXPLAIN``) and DuckDB is not run:
    a check that everything transpiles and plans, cheap at any scale.
    """
    import psycopg

    log = scale_bench._load_log(str(scale_bench.BENCH_DATA / "sql" / f"s{scale}" / f"{step}.pkl"))
    duck = None if explain else _duck(scale_bench.BENCH_DATA / f"s{scale}", tenant)
    report: dict[str, Any] = {"step": step, "statements": [], "pg_s": 0.0, "ok": True}
    frames: dict[str, Any] = {}
    with psycopg.connect(scale_pg.dsn_for(f"bench_s{scale}"), autocommit=True) as pg:
        scale_bench._pg_session(pg, tenant, timeout_s=600)
        for n, entry in enumerate(log):
            if entry[0] == "register":
                if duck is not None:
                    duck.register(entry[1], entry[2])
                scale_bench._pg_frame(pg, entry[1], entry[2], made=frames)
                continue
            if entry[0] == "view" and duck is not None:
                duck.execute(f"CREATE OR REPLACE TEMP VIEW {entry[1]} AS {entry[2]}")
            sql_pg = scale_bench.pg_statement(entry)
            if show_sql:
                print(f"--- {step} #{n} ({entry[0]})\n{sql_pg}\n")
            if explain and entry[0] == "sql":
                sql_pg = "EXPLAIN " + sql_pg
            t = time.perf_counter()
            try:
                cur = pg.execute(sql_pg)
                pg_rows = cur.fetchall() if cur.description is not None else []
            except psycopg.Error as exc:
                report["statements"].append((n, f"postgres: {str(exc).splitlines()[0][:300]}"))
                report["ok"] = False
                continue
            elapsed = time.perf_counter() - t
            report["pg_s"] += elapsed
            if entry[0] == "view":
                report["statements"].append((n, f"view {entry[1]} created"))
                continue
            if duck is None:
                cost = str(pg_rows[0][0]).split("cost=")[-1].split(" ")[0]
                report["statements"].append((n, f"plans (cost {cost})"))
                continue
            duck_rows = duck.execute(entry[1], entry[2]).fetchall()
            diff = compare(duck_rows, pg_rows)
            report["ok"] &= diff is None
            verdict = diff or f"same {len(pg_rows)} rows"
            report["statements"].append((n, f"{verdict} (pg {elapsed:.3f}s)"))
    if duck is not None:
        duck.close()
    return report


def _main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("steps", nargs="*")
    parser.add_argument("--all", action="store_true", help="every recorded step")
    parser.add_argument("--scale", type=int, default=10)
    parser.add_argument("--tenant", default="acme")
    parser.add_argument("--show-sql", action="store_true", help="print the Postgres SQL")
    parser.add_argument("--explain", action="store_true",
                        help="only plan on Postgres (EXPLAIN), no DuckDB: for scale 100")
    args = parser.parse_args(argv)
    steps = list(args.steps)
    if args.all:
        folder = scale_bench.BENCH_DATA / "sql" / f"s{args.scale}"
        steps = sorted(p.stem for p in folder.glob("*.pkl") if not p.stem.endswith(".rows"))
    failed = 0
    for step in steps:
        try:
            rep = check_step(step, args.scale, args.tenant, args.show_sql, args.explain)
        except Exception as exc:  # transpile errors are findings, not crashes
            print(f"{step}: FAIL {type(exc).__name__}: {str(exc).splitlines()[0][:300]}")
            failed += 1
            continue
        failed += not rep["ok"]
        what = "planned in" if args.explain else "postgres"
        print(f"{step}: {'OK' if rep['ok'] else 'FAIL'}  {what} {rep['pg_s']:.2f}s (one run)")
        for n, verdict in rep["statements"]:
            print(f"  #{n}: {verdict}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    _main()
