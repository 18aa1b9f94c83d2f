"""Extraction benchmark (not a test): ``auterity-lab extract`` against what else one could do.

Fills one source table with N synthetic rows (1M and 5M by default) and times, each in its own
process so that its peak memory (max RSS) is its own:

``copy``
    ``psql -c "COPY (SELECT * FROM t) TO STDOUT" > /dev/null``: the server's ceiling.
``pandas``
    ``pandas.read_sql("SELECT * FROM t", engine)`` through SQLAlchemy + psycopg: what an analyst
    would otherwise write.
``extract``
    a full ``auterity_lab.extract.extract`` of the table into day-partitioned Parquet, with the
    packaged privacy policy (``extract``), with privacy off (``extract-raw``), and with the
    policy and DuckDB's ``memory_limit`` at 512MB (``extract-512mb``: it spills to disk).

Each method runs ``--repeat`` times, interleaved; the median time, the largest peak RSS and the
median CPU time (the method's process plus the server backends it used, when the server runs on
this machine: on a saturated machine wall-clock ratios tend to the CPU ratios) are reported.
Targets (issue #3): extract at least 8x pandas.read_sql and at least 70 % of the raw
COPY rate; memory bounded (peak RSS does not grow with N).

Usage::

    .venv/bin/python benchmarks/extract_bench.py                      # throwaway server, 1M and 5M
    .venv/bin/python benchmarks/extract_bench.py --rows 1000000 --dsn "host=... dbname=bench"

Without ``--dsn`` a throwaway PostgreSQL is started like the test suite does
(``tests/postgres_server.py``). With ``--dsn`` the table is dropped and recreated there.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

if TYPE_CHECKING:
    from auterity_lab.privacy import Policy

TABLE = "performance_metrics"
METHODS = ("copy", "pandas", "extract", "extract-raw", "extract-512mb")
_FILL = Path(__file__).with_name("extract_bench_fill.sql")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 5_000_000])
    parser.add_argument("--dsn", help="an existing database (its performance_metrics is replaced)")
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--repeat", type=int, default=3, help="runs per method; the median is kept")
    parser.add_argument("--worker", choices=METHODS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(_work(args.worker, args.dsn)))
        return
    with ExitStack() as stack:
        dsn = args.dsn or stack.enter_context(_throwaway_server())
        _create(dsn)
        have = 0
        results = []
        for n in sorted(args.rows):
            print(f"filling {TABLE} to {n:,} rows ...", file=sys.stderr, flush=True)
            _fill(dsn, have, n)
            have = n
            _run("copy", dsn)  # warm the server's cache, as every method after it will have it
            runs: dict[str, list[dict]] = {m: [] for m in args.methods}
            size: list[dict] = []
            for i in range(args.repeat):  # interleaved, so load from other processes hits all alike
                for method in args.methods:
                    print(f"  {method} ({i + 1}/{args.repeat}) ...", file=sys.stderr, flush=True)
                    runs[method].append(_run(method, dsn))
            for method, measured in runs.items():
                best = sorted(measured, key=lambda r: r["seconds"])[len(measured) // 2]
                size.append(
                    {
                        "rows": n,
                        "method": method,
                        **best,
                        "peak_rss_mb": max(r["peak_rss_mb"] for r in measured),
                        "cpu": _median_cpu(measured),
                    }
                )
            _report(size)  # each size as soon as it is measured
            results += size
        if len(args.rows) > 1:
            _report(results)


# ----------------------------------------------------------------------------- the source table
def _throwaway_server():  # type: ignore[no-untyped-def]
    from tests.postgres_server import find_bindir, local_server

    bindir = find_bindir()
    if bindir is None:
        raise SystemExit("no PostgreSQL binaries (apt-get install postgresql) and no --dsn")
    return local_server(
        bindir,
        settings="-c listen_addresses=127.0.0.1 -c fsync=off "
        "-c synchronous_commit=off -c shared_buffers=512MB",
    )


def _create(dsn: str) -> None:
    import psycopg

    from auterity_lab.pgseed import schema_ddl

    with psycopg.connect(dsn, autocommit=True) as con:
        con.execute(f"DROP TABLE IF EXISTS {TABLE}")
        con.execute(schema_ddl("auterity"))
        con.execute(f"ALTER TABLE {TABLE} SET UNLOGGED")


def _fill(dsn: str, have: int, n: int) -> None:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as con:
        con.execute(_FILL.read_text(), {"first": have + 1, "last": n, "per_day": 5_000_000 / 120})
        con.execute(f"VACUUM ANALYZE {TABLE}")
        con.execute("CHECKPOINT")  # write back now, not while the methods are timed
    os.sync()


# ----------------------------------------------------------------------------- the methods
def _run(method: str, dsn: str) -> dict:
    server = _server_pid(dsn)
    before = _server_cpu(server)
    out = subprocess.run(
        [sys.executable, __file__, "--worker", method, "--dsn", dsn],
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    time.sleep(0.3)  # let the server reap the backends of the worker's connections
    after = _server_cpu(server)
    result["server_cpu"] = after - before if before is not None and after is not None else None
    return result


def _server_pid(dsn: str) -> int | None:
    """The postmaster's pid when the server runs on this machine and its files are readable."""
    import psycopg

    with psycopg.connect(dsn) as con:
        (folder,) = con.execute("SHOW data_directory").fetchone()
    try:
        return int((Path(folder) / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _server_cpu(pid: int | None) -> float | None:
    """CPU seconds of the server's exited backends (the postmaster's reaped children) so far."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def _work(method: str, dsn: str) -> dict:
    """Run one method and measure it; imports happen before the clock starts."""
    jobs = {
        "copy": _copy,
        "pandas": _pandas,
        "extract": _extract,
        "extract-raw": _extract_raw,
        "extract-512mb": _extract_low_memory,
    }
    job = jobs[method](dsn)
    cpu_before = sum(
        u.ru_utime + u.ru_stime
        for u in (
            resource.getrusage(resource.RUSAGE_SELF),
            resource.getrusage(resource.RUSAGE_CHILDREN),
        )
    )
    started = time.perf_counter()
    rows = job()
    seconds = time.perf_counter() - started
    who = resource.RUSAGE_CHILDREN if method == "copy" else resource.RUSAGE_SELF
    usage = [resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    return {
        "seconds": seconds,
        "rows_out": rows,
        "peak_rss_mb": round(resource.getrusage(who).ru_maxrss / 1024),
        "client_cpu": sum(u.ru_utime + u.ru_stime for u in usage) - cpu_before,
    }


def _copy(dsn: str) -> Callable[[], int]:
    psql = shutil.which("psql")
    if psql is None:
        raise SystemExit("psql is needed for the raw COPY baseline")

    def run() -> int:
        with open("/dev/null", "wb") as sink:
            subprocess.run(
                [psql, dsn, "-q", "-c", f"COPY (SELECT * FROM {TABLE}) TO STDOUT"],
                stdout=sink,
                check=True,
            )
        return -1

    return run


def _pandas(dsn: str) -> Callable[[], int]:
    import pandas as pd
    import psycopg
    from sqlalchemy import create_engine

    engine = create_engine("postgresql+psycopg://", creator=lambda: psycopg.connect(dsn))
    return lambda: len(pd.read_sql(f"SELECT * FROM {TABLE}", engine))


def _extract(
    dsn: str, *, policy: Policy | None = None, memory_limit: str = "2GB"
) -> Callable[[], int]:
    from auterity_lab.config import Settings
    from auterity_lab.extract import extract

    settings = Settings(postgres_dsn=dsn, duckdb_memory_limit=memory_limit)

    def run() -> int:
        with tempfile.TemporaryDirectory() as tmp:
            result = extract(tmp, tables=[TABLE], full=True, settings=settings, policy=policy)
            result.raise_for_errors()
            return result.tables[0].rows

    return run


def _extract_low_memory(dsn: str) -> Callable[[], int]:
    return _extract(dsn, memory_limit="512MB")


def _extract_raw(dsn: str) -> Callable[[], int]:
    from auterity_lab.privacy import Policy

    return _extract(dsn, policy=Policy.disabled())


# ----------------------------------------------------------------------------- the report
def _median_cpu(measured: list[dict]) -> float | None:
    """Median CPU seconds of client and server together (None when the server's is unknown)."""
    totals = sorted(
        r["client_cpu"] + r["server_cpu"] for r in measured if r.get("server_cpu") is not None
    )
    return totals[len(totals) // 2] if totals else None


def _report(results: list[dict]) -> None:
    print(
        f"\n{'rows':>10} {'method':<13} {'seconds':>8} {'rows/s':>11} {'x pandas':>9} "
        f"{'% of COPY':>10} {'peak RSS MB':>12} {'CPU s':>7} {'% of COPY CPU':>14}"
    )
    for r in results:
        same = {x["method"]: x for x in results if x["rows"] == r["rows"]}
        rate = r["rows"] / r["seconds"]
        vs_pandas = same["pandas"]["seconds"] / r["seconds"] if "pandas" in same else float("nan")
        vs_copy = 100 * same["copy"]["seconds"] / r["seconds"] if "copy" in same else float("nan")
        cpu, copy_cpu = r["cpu"], same.get("copy", {}).get("cpu")
        cpu_vs_copy = 100 * copy_cpu / cpu if cpu and copy_cpu else float("nan")
        print(
            f"{r['rows']:>10,} {r['method']:<13} {r['seconds']:>8.2f} {rate:>11,.0f} "
            f"{vs_pandas:>9.1f} {vs_copy:>10.0f} {r['peak_rss_mb']:>12,} "
            f"{cpu if cpu is not None else float('nan'):>7.2f} {cpu_vs_copy:>14.0f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
