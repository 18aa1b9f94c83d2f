"""Speed at scale: our path (DuckDB over Parquet through the public API) against the same SQL on
Postgres (and the spec's materialized views), raw DuckDB and pandas, at demo scales 10 and 100
(about 1M and 10M sessions and prompt outputs).

Usage::

    .venv/bin/python benchmarks/scale_bench.py --scale 10 --scale 100
    .venv/bin/python benchmarks/scale_bench.py --scale 100 --only tab_ --engines ours

Every measurement runs in its own subprocess (so its peak RSS is its own, and "cold" is a fresh
process), one at a time:

* **ours** — a fresh process opens ``Workbench.open(data_dir, tenant=...)`` with the result
  cache disabled and runs the step through the library: the first call is *cold* (fresh process
  and workbench; the OS page cache is warm, since earlier runs read the same files), the next
  ``--repeats`` calls are *steady* (no result cache). ``--cold-processes`` (3) such processes;
  cold is the median of their first calls; the first process also records the SQL and measures
  steady and warm. *Warm* opens a second workbench with the result cache on (a fresh cache
  directory), fills it with one call and times ``--warm-repeats`` more (only when
  ``auterity_lab.cache`` exists). Peak memory: the largest ``ru_maxrss`` of those
  processes (interpreter and imports included).
* **raw** — the very SQL statements our path ran (recorded during its first call, with their
  parameters and any registered frames), replayed in a bare ``duckdb.connect()`` whose views read
  the same Parquet files by glob with the tenant as a literal ``WHERE``: one warm-up, then the
  median of ``--repeats``. ours / raw is our overhead (Python work of the library included).
* **pg** — the same statements transpiled DuckDB → Postgres by sqlglot (parameters inlined as
  typed literals), run with ``search_path`` set to the tenant's schema of ``WHERE tenant_id =``
  views: one warm-up, then the median of ``--repeats`` (a single run when one takes over 20 s;
  ``statement_timeout`` ``--pg-timeout``). A statement that does not transpile or fails makes the
  step "n/a" with the reason. For the spec's two views also: reading the refreshed materialized
  view for the tenant (and slice), and ``REFRESH MATERIALIZED VIEW`` (whole view, all tenants).
* **pandas** — ``pd.read_parquet`` of the needed columns with the tenant (and range) as a
  pyarrow filter, then ``groupby``: the median of ``--repeats`` (no warm-up).

Results: a rich table per scale, PASS/MISS against the targets at scale 100, and JSON in
``benchmarks/results/scale_<UTC date>.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import os
import pickle
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import scale_pg  # noqa: E402
from scale_steps import STEPS  # noqa: E402

BENCH_DATA = Path("/work/bench_data")
RESULTS = HERE / "results"
TARGET_SCALE = 100
TARGETS = {
    "pg_over_ours_min": 10.0,
    "ours_over_raw_max": 1.3,
    "tab_cold_s": 1.0,
    "tab_warm_s": 0.050,
    "peak_mib": 2048.0,
}
_SLOW_S = 20.0
_ERRORS = ("ours_error", "raw_error", "pg_error", "pg_view_error", "pandas_error")


# ============================================================================ workers
def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _median(xs: list[float]) -> float | None:
    return statistics.median(xs) if xs else None


def _record(log: list[tuple[Any, ...]]) -> None:
    """Log every statement, registered frame and view a Workbench runs (this process only)."""
    from auterity_lab.warehouse import Workbench

    run, register, create_view = Workbench._run, Workbench.register, Workbench.create_view

    def _run(self: Any, sql: str, params: dict[str, Any], *rest: Any, **kw: Any) -> Any:
        log.append(("sql", sql, dict(params)))
        return run(self, sql, params, *rest, **kw)

    def _register(self: Any, name: str, frame: Any) -> None:
        log.append(("register", name, frame))
        register(self, name, frame)

    def _create_view(self: Any, name: str, select_sql: str) -> None:
        log.append(("view", name, select_sql))
        create_view(self, name, select_sql)

    Workbench._run, Workbench.register = _run, _register  # type: ignore[method-assign]
    Workbench.create_view = _create_view  # type: ignore[method-assign]


def _rows(result: Any) -> int:
    if isinstance(result, dict):
        return sum(_rows(v) for v in result.values())
    for attr in ("pairs", "frame"):
        if hasattr(result, attr):
            return _rows(getattr(result, attr))
    return len(result) if hasattr(result, "__len__") else 1


def _worker_ours(args: argparse.Namespace) -> dict[str, Any]:
    from auterity_lab.config import load_settings
    from auterity_lab.warehouse import Workbench

    step = STEPS[args.step]
    log: list[tuple[Any, ...]] = []
    if args.record:
        _record(log)
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="scale-bench-cache-") as cache_dir:
        off = load_settings(cache_enabled=False, cache_dir=Path(cache_dir) / "off")
        t = time.perf_counter()
        wb = Workbench.open(args.data, tenant=args.tenant, settings=off)
        out["open_s"] = time.perf_counter() - t
        out["rss_open_mib"] = _rss_mib()
        t = time.perf_counter()
        result = step.run(wb, args.tenant)
        out["cold_s"] = time.perf_counter() - t
        out["rows"] = _rows(result)
        if args.record:
            tmp = Path(args.record).with_suffix(".tmp")
            tmp.write_bytes(pickle.dumps(log))
            tmp.replace(args.record)
        steady = []
        for _ in range(0 if args.cold_only else args.repeats):
            t = time.perf_counter()
            step.run(wb, args.tenant)
            steady.append(time.perf_counter() - t)
        wb.close()
        out["steady_s"] = steady
        if _cache_available() and not args.cold_only:
            on = load_settings(cache_enabled=True, cache_dir=Path(cache_dir) / "on")
            wb = Workbench.open(args.data, tenant=args.tenant, settings=on)
            step.run(wb, args.tenant)
            warm = []
            for _ in range(args.warm_repeats):
                t = time.perf_counter()
                step.run(wb, args.tenant)
                warm.append(time.perf_counter() - t)
            wb.close()
            out["warm_s"] = warm
    out["peak_mib"] = _rss_mib()
    return out


def _cache_available() -> bool:
    return importlib.util.find_spec("auterity_lab.cache") is not None


def _load_log(path: str) -> list[tuple[Any, ...]]:
    with open(path, "rb") as fh:
        return list(pickle.load(fh))


def _worker_raw(args: argparse.Namespace) -> dict[str, Any]:
    import duckdb

    from auterity_lab.schema import PARTITION_FIELD, source_tables

    log = _load_log(args.record)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    tenant = args.tenant.replace("'", "''")
    con.execute(f"SET VARIABLE tenant = '{tenant}'")  # rollup views filter on getvariable('tenant')
    for tbl in source_tables():
        files = f"{args.data}/extracts/{tbl.system}/{tbl.name}/*/*.parquet"
        if not list(Path(args.data, "extracts", tbl.system, tbl.name).glob("*/*.parquet")):
            continue
        con.execute(
            f"CREATE VIEW {tbl.name} AS SELECT * FROM read_parquet('{files}', "
            f"hive_partitioning = true, hive_types = {{'{PARTITION_FIELD}': DATE}}, "
            f"union_by_name = true) WHERE tenant_id = '{tenant}'"
        )

    def replay() -> None:
        for entry in log:
            if entry[0] == "sql":
                con.execute(entry[1], entry[2]).df()
            elif entry[0] == "register":
                con.register(entry[1], entry[2])
            else:
                con.execute(f"CREATE OR REPLACE TEMP VIEW {entry[1]} AS {entry[2]}")

    replay()  # warm-up
    times = []
    for _ in range(args.repeats):
        t = time.perf_counter()
        replay()
        times.append(time.perf_counter() - t)
    return {"times_s": times, "statements": sum(e[0] == "sql" for e in log),
            "peak_mib": _rss_mib()}


def _pg_literal(value: Any) -> Any:
    import decimal

    from sqlglot import exp

    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, int | float | decimal.Decimal):
        return exp.Literal.number(value)
    if isinstance(value, dt.datetime):
        stamp = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return exp.cast(exp.Literal.string(stamp.isoformat()), "TIMESTAMPTZ")
    if isinstance(value, dt.date):
        return exp.cast(exp.Literal.string(value.isoformat()), "DATE")
    if isinstance(value, dt.timedelta):
        return exp.Interval(this=exp.Literal.string(f"{value.total_seconds()} seconds"))
    if isinstance(value, list | tuple):
        return exp.Array(expressions=[_pg_literal(v) for v in value])
    return exp.Literal.string(str(value))


def to_postgres(sql: str, params: dict[str, Any]) -> str:
    """DuckDB SQL with ``$name`` parameters → Postgres SQL with the values inlined.

    Each rewrite keeps the statement's meaning (the rows it returns); where DuckDB and Postgres
    spell a construct differently, the comment at the rewrite says why they agree.
    """
    import sqlglot
    from sqlglot import exp

    tree = sqlglot.parse_one(sql, read="duckdb")

    def inline(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Placeholder) and node.name in params:
            return _pg_literal(params[node.name])
        return node

    # parameters first, so that the rewrites below see literals inside their arguments
    tree = tree.transform(inline)
    # children before parents (reverse breadth-first), so a rewrite copies rewritten arguments
    for node in reversed(list(tree.walk())):
        new = _pg_rewrite(node, tree)
        if new is not node and node is tree:
            tree = new
        elif new is not node:
            node.replace(new)
    names = {cte.alias for cte in tree.find_all(exp.CTE)}
    for cte in list(tree.find_all(exp.CTE)):
        _pg_recursive_aggregates(cte)
        if _table_rows_only(cte, names):
            # Postgres materializes a CTE read twice and then plans on no statistics (retention
            # chose nested loops over 1-row estimates and ran > 600 s); a CTE that only
            # filters, projects or unions tables is inlined, so the planner sees the tables'
            # statistics and each use scans them again (CTEs over CTEs keep the default)
            cte.set("materialized", False)
    return tree.sql(dialect="postgres")


def _table_rows_only(cte: Any, cte_names: set[str]) -> bool:
    """A CTE reading only tables (no other CTE, not itself), without aggregation, DISTINCT or
    window at its top level."""
    from sqlglot import exp

    def plain(body: Any) -> bool:
        if isinstance(body, exp.Union):
            return plain(body.this) and plain(body.expression)
        return isinstance(body, exp.Select) and not (
            body.args.get("distinct") or body.args.get("group")
            or any(e.find(exp.AggFunc, exp.Window) for e in body.expressions))

    reads_cte = any(t.name in cte_names and not t.db for t in cte.this.find_all(exp.Table))
    return not reads_cte and plain(cte.this)


def _pg_rewrite(node: Any, root: Any) -> Any:
    """One DuckDB-only expression → its Postgres equivalent (``node`` unchanged if none)."""
    import sqlglot
    from sqlglot import exp

    # DuckDB's error('...') guards branches that valid parameters never take (a bad grain,
    # a stale rollup); Postgres has no such function, and the branch's value is irrelevant
    if isinstance(node, exp.Anonymous) and str(node.this).lower() == "error":
        return exp.Null()
    if isinstance(node, exp.Mode) and node.this is not None:
        # DuckDB's mode(x) is Postgres' ordered-set aggregate mode() WITHIN GROUP
        return exp.WithinGroup(
            this=exp.Anonymous(this="mode", expressions=[]),
            expression=exp.Order(expressions=[exp.Ordered(this=node.this.copy())]),
        )
    if isinstance(node, exp.Anonymous) and str(node.this).lower() == "to_seconds":
        return exp.Mul(this=exp.Paren(this=node.expressions[0].copy()),
                       expression=exp.Interval(this=exp.Literal.string("1 second")))
    if isinstance(node, exp.AnyValue):
        # any_value is Postgres 16+; the minimum is one of the values, which is all it promises
        return exp.Min(this=node.this.copy())
    if isinstance(node, exp.GenerateSeries) and node.args.get("is_end_exclusive"):
        return _pg_range(node)
    if isinstance(node, exp.ArgMax | exp.ArgMin):
        return _pg_arg_extreme(node, root)
    if (isinstance(node, exp.Anonymous) and str(node.this).lower() == "duckdb_views"
            and isinstance(node.parent, exp.Table)):
        # a catalog probe (does a view exist?): the same columns from Postgres' catalog
        catalog = sqlglot.parse_one(
            "SELECT viewname AS view_name, schemaname AS schema_name, definition AS sql, "
            "schemaname LIKE 'pg_temp%' AS temporary FROM pg_catalog.pg_views", read="postgres")
        alias = node.parent.args.get("alias") or exp.TableAlias(this=exp.to_identifier("_views"))
        node.parent.replace(exp.Subquery(this=catalog, alias=alias))
        return node
    if (isinstance(node, exp.JSONExtractScalar)
            and not isinstance(node.expression, exp.Literal | exp.JSONPath)):
        # a path built at run time: DuckDB's JSONPath subset ($."key", $.a[0]) is valid SQL/JSON
        # path syntax; #>> '{}' gives the text of the value found (NULL when none), as
        # json_extract_string does
        jsonpath = exp.DataType.build("jsonpath", udt=True)
        found = exp.Anonymous(this="jsonb_path_query_first", expressions=[
            exp.cast(node.this.copy(), "JSONB"), exp.cast(node.expression.copy(), jsonpath)])
        return exp.JSONBExtractScalar(this=found, expression=exp.Literal.string("{}"))
    return node


def _pg_range(node: Any) -> Any:
    """DuckDB's ``range(a, b, step)`` (end excluded) as a table: Postgres' ``generate_series``
    includes the end, and the only value it adds is the end itself (when on the grid)."""
    from sqlglot import exp

    if not isinstance(node.parent, exp.Table):
        raise ValueError("range() outside FROM has no Postgres form here")
    series = exp.GenerateSeries(start=node.args["start"].copy(), end=node.args["end"].copy(),
                                step=node.args.get("step") and node.args["step"].copy())
    value = exp.to_identifier("_range_value")
    inner = (
        exp.select(exp.column(value))
        .from_(exp.Table(this=series, alias=exp.TableAlias(this=exp.to_identifier("_range"),
                                                            columns=[value])))
        .where(exp.NEQ(this=exp.column(value), expression=node.args["end"].copy()))
    )
    table = node.parent
    alias = table.args.get("alias") or exp.TableAlias(this=exp.to_identifier("range"))
    if not alias.columns:  # DuckDB names range()'s column "range"
        alias.set("columns", [exp.to_identifier("range")])
    table.replace(exp.Subquery(this=inner, alias=alias))
    return node


def _pg_arg_extreme(node: Any, root: Any) -> Any:
    """DuckDB's ``arg_max(a, b)`` / ``arg_min(a, b)``: ``a`` at the row of the largest / smallest
    ``b``, rows with a NULL ``a`` or ``b`` skipped (ties: any of them, on both engines)."""
    from sqlglot import exp

    value, key = node.this.copy(), node.expression.copy()
    ordered = exp.Ordered(this=key, desc=isinstance(node, exp.ArgMax), nulls_first=False)
    agg = exp.Filter(
        this=exp.ArrayAgg(this=exp.Order(this=value, expressions=[ordered])),
        expression=exp.Where(this=exp.and_(exp.Not(this=exp.Is(this=value.copy(),
                                                                  expression=exp.Null())),
                                           exp.Not(this=exp.Is(this=key.copy(),
                                                               expression=exp.Null())))),
    )
    if not _is_array(node.this, root):
        # sqlglot's subscripts are 0-based in the tree; Postgres' [1] is the first element
        return exp.Bracket(this=exp.Paren(this=agg), expressions=[exp.Literal.number(0)])
    # array_agg of lists is a 2-D array (Postgres raises if a group's lists differ in length,
    # it never answers wrongly): take its first row as a slice and flatten it back to a list
    first = exp.Bracket(this=exp.Paren(this=agg), expressions=[
        exp.Slice(this=exp.Literal.number(1), expression=exp.Literal.number(1))])
    return exp.Array(expressions=[exp.select(exp.Explode(this=first))])


def _is_array(expr: Any, root: Any, depth: int = 0) -> bool:
    """Whether ``expr`` is a list, following column references into the CTEs that make them."""
    from sqlglot import exp

    if isinstance(expr, exp.Alias):
        return _is_array(expr.this, root, depth)
    if isinstance(expr, exp.Array | exp.ArrayAppend | exp.ArrayConcat | exp.ArrayAgg):
        return True
    if isinstance(expr, exp.Cast):
        return expr.to.is_type(exp.DataType.Type.ARRAY)
    if not isinstance(expr, exp.Column) or not expr.table or depth > 8:
        return False
    select = expr.find_ancestor(exp.Select)
    tables = [] if select is None else [
        t for part in (select.args.get("from_"), *select.args.get("joins", []))
        if part is not None for t in part.find_all(exp.Table) if t.alias_or_name == expr.table]
    ctes = {c.alias: c for c in root.find_all(exp.CTE)}
    cte = ctes.get(tables[0].name) if tables else None
    if cte is None:
        return False
    body = cte.this
    while isinstance(body, exp.SetOperation):
        body = body.this  # the anchor's columns name and type the whole union
    if not isinstance(body, exp.Select):
        return False
    declared = [c.name for c in cte.args["alias"].columns]
    if expr.name in declared and declared.index(expr.name) < len(body.expressions):
        return _is_array(body.expressions[declared.index(expr.name)], root, depth + 1)
    return any(_is_array(e, root, depth + 1) for e in body.expressions
               if e.alias_or_name == expr.name)


def _pg_recursive_aggregates(cte: Any) -> None:
    """Postgres forbids aggregates in a recursive term that reads the CTE directly, but allows
    them over a CTE inside the term reading it: the same rows (this iteration's working table)."""
    from sqlglot import exp

    body = cte.this
    if not isinstance(body, exp.Union) or not isinstance(body.expression, exp.Select):
        return
    term, name = body.expression, cte.alias
    refs = [t for t in term.find_all(exp.Table) if t.name == name and not t.db]
    if not refs or term.find(exp.AggFunc) is None:
        return
    inner = f"_rec_{name}"
    for ref in refs:
        alias = ref.alias_or_name
        ref.replace(exp.Table(this=exp.to_identifier(inner),
                              alias=exp.TableAlias(this=exp.to_identifier(alias))))
    term.set("with_", exp.With(expressions=[exp.CTE(
        this=exp.select("*").from_(name), alias=exp.TableAlias(this=exp.to_identifier(inner)))]))
    body.set("expression", exp.Subquery(this=term))


def _pg_type(dtype: Any, values: Any = ()) -> str:
    import pandas as pd

    present = [v for v in values if v is not None and not pd.isna(v)]
    if pd.api.types.is_object_dtype(dtype) and present:
        # pandas keeps datetime.date (and mixed-zone datetimes) as object
        if all(isinstance(v, dt.datetime) for v in present):
            return "timestamptz"
        if all(isinstance(v, dt.date) for v in present):
            return "date"

    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_integer_dtype(dtype):
        return "bigint"
    if pd.api.types.is_float_dtype(dtype):
        return "double precision"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "timestamptz"
    return "text"


def _worker_pg(args: argparse.Namespace) -> dict[str, Any]:
    import psycopg

    log = _load_log(args.record)
    out: dict[str, Any] = {"statements": sum(e[0] == "sql" for e in log)}
    plan: list[tuple[str, Any]] = []
    for entry in log:
        try:
            if entry[0] == "register":
                plan.append(("frame", (entry[1], entry[2])))
            else:
                plan.append(("sql", pg_statement(entry)))
        except Exception as exc:  # sqlglot raises several types; the reason is the result
            out["error"] = f"transpile: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
            return out
    with psycopg.connect(scale_pg.dsn_for(args.db), autocommit=True) as con:
        _pg_session(con, args.tenant, args.pg_timeout)
        frames_made: dict[str, Any] = {}
        statement_s: list[float] = []  # each statement's time in the last replay

        def replay() -> None:
            statement_s.clear()
            for kind, item in plan:
                if kind == "sql":
                    t = time.perf_counter()
                    cur = con.execute(item)
                    if cur.description is not None:
                        cur.fetchall()
                    statement_s.append(round(time.perf_counter() - t, 4))
                else:
                    _pg_frame(con, *item, made=frames_made)

        times: list[float] = []
        try:
            for i in range(args.repeats + 1):
                t = time.perf_counter()
                replay()
                elapsed = time.perf_counter() - t
                if i > 0 or elapsed > _SLOW_S:
                    times.append(elapsed)
                if elapsed > _SLOW_S:
                    break
        except psycopg.Error as exc:
            kind = "timeout" if isinstance(exc, psycopg.errors.QueryCanceled) else "error"
            out["error"] = f"{kind}: {str(exc).splitlines()[0][:200]}"
            out["timeout_s"] = args.pg_timeout if kind == "timeout" else None
        out["times_s"] = times
        out["statement_s"] = list(statement_s)
    out["peak_mib"] = _rss_mib()
    return out


def pg_statement(entry: tuple[Any, ...]) -> str:
    """The Postgres statement of a recorded ``("sql", text, params)`` or
    ``("view", name, select_sql)`` entry."""
    if entry[0] == "sql":
        return to_postgres(entry[1], entry[2])
    return f"CREATE OR REPLACE TEMP VIEW {entry[1]} AS " + _pg_view_body(entry[1], entry[2])


def _pg_view_body(name: str, select_sql: str) -> str:
    """The Postgres body of a view our path created.

    A view over ``read_parquet`` of a rollup's day files (auterity_lab.rollups) reads data that
    Postgres does not hold: its faithful equivalent is the rollup's own aggregation over the
    source table, per day, computed when read (Postgres does the row-level work the question
    needs, no precomputed shortcut). Other views transpile as they are.
    """
    import sqlglot
    from sqlglot import exp

    from auterity_lab.rollups import ROLLUPS
    from auterity_lab.schema import PARTITION_FIELD

    tree = sqlglot.parse_one(select_sql, read="duckdb")
    reads_files = any(isinstance(f, exp.ReadParquet) or (isinstance(f, exp.Anonymous)
                      and str(f.this).lower() == "read_parquet") for f in tree.walk())
    if not reads_files:
        return to_postgres(select_sql, {})
    if name not in ROLLUPS:
        raise ValueError(f"view {name} reads Parquet files Postgres does not hold")
    rollup = ROLLUPS[name]
    agg = sqlglot.parse_one(rollup.aggregate_sql, read="duckdb")
    for tbl in agg.find_all(exp.Table):
        if tbl.name == "day_rows":
            tbl.replace(exp.to_table(rollup.source))
    day = exp.column(PARTITION_FIELD)
    agg.set("order", None)
    agg.select(day, copy=False)  # a DISTINCT or a row-for-row rollup needs no more
    if agg.args.get("group"):
        agg.group_by(day, copy=False)
    cols = ", ".join([n for n, _ in rollup.columns] + [PARTITION_FIELD])
    return f"SELECT {cols} FROM ({to_postgres(agg.sql(dialect='duckdb'), {})}) AS _rollup"


PG_SETTINGS_ENV = "SCALE_BENCH_PG_SETTINGS"
"""Extra Postgres settings for the "pg" engine's session, ``name=value`` separated by commas
(e.g. ``enable_nestloop=off`` to see how much of a time is a misestimated plan); unset: the
server's defaults, which is what the benchmark reports."""


def _pg_session(con: Any, tenant: str, timeout_s: float) -> None:
    """The tenant's schema of views first on the path, UTC, the statement timeout, and any
    settings of ``$SCALE_BENCH_PG_SETTINGS``."""
    con.execute(f'SET search_path TO "t_{tenant}", public')
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"SET statement_timeout = '{int(timeout_s)}s'")
    for setting in filter(None, os.environ.get(PG_SETTINGS_ENV, "").split(",")):
        name, _, value = setting.strip().partition("=")
        con.execute("SELECT set_config(%s, %s, false)", (name, value))


def _pg_frame(con: Any, name: str, frame: Any, made: dict[str, Any] | None = None) -> None:
    """The registered frame as a temp table; with ``made`` (name → frame already loaded),
    only when it is new or differs from the one loaded under that name."""
    import pandas as pd

    frame = frame.to_pandas() if not isinstance(frame, pd.DataFrame) else frame
    if made is not None:
        if name in made and made[name].equals(frame):
            return
        made[name] = frame
    con.execute(f'DROP TABLE IF EXISTS pg_temp."{name}"')
    cols = ", ".join(f'"{c}" {_pg_type(frame[c].dtype, frame[c])}' for c in frame.columns)
    con.execute(f'CREATE TEMP TABLE "{name}" ({cols})')
    with con.cursor().copy(f'COPY "{name}" FROM STDIN') as copy:
        for row in frame.itertuples(index=False):
            copy.write_row([None if pd.isna(v) else v for v in row])


def _worker_pg_view(args: argparse.Namespace) -> dict[str, Any]:
    import psycopg

    step = STEPS[args.step]
    assert step.view is not None
    key = "date" if step.view == "daily_user_analytics" else "hour"
    where = "tenant_id = %(tenant)s"
    params: dict[str, Any] = {"tenant": args.tenant}
    if step.slice is not None:
        where += f" AND {key} >= %(start)s AND {key} < %(end)s"
        params |= {"start": step.slice[0], "end": step.slice[1]}
        if key == "hour":
            params = {**params, **{k: dt.datetime.combine(params[k], dt.time(), tzinfo=dt.UTC)
                                   for k in ("start", "end")}}
    order = "date" if key == "date" else "hour, model_id"
    read_sql = f"SELECT * FROM public.{step.view} WHERE {where} ORDER BY {order}"
    out: dict[str, Any] = {}
    with psycopg.connect(scale_pg.dsn_for(args.db), autocommit=True) as con:
        con.execute("SET TimeZone = 'UTC'")
        refresh = []
        for _ in range(args.refresh_repeats):
            t = time.perf_counter()
            con.execute(f"REFRESH MATERIALIZED VIEW public.{step.view}")
            refresh.append(time.perf_counter() - t)
        out["refresh_s"] = refresh
        con.execute(read_sql, params).fetchall()
        times = []
        for _ in range(args.repeats):
            t = time.perf_counter()
            out["rows"] = len(con.execute(read_sql, params).fetchall())
            times.append(time.perf_counter() - t)
        out["times_s"] = times
    out["peak_mib"] = _rss_mib()
    return out


def _worker_pandas(args: argparse.Namespace) -> dict[str, Any]:
    step = STEPS[args.step]
    assert step.pandas is not None
    times = []
    rows = 0
    for _ in range(args.repeats):
        t = time.perf_counter()
        rows = len(step.pandas(Path(args.data), args.tenant))
        times.append(time.perf_counter() - t)
    return {"times_s": times, "rows": rows, "peak_mib": _rss_mib()}


_WORKERS = {
    "ours": _worker_ours,
    "raw": _worker_raw,
    "pg": _worker_pg,
    "pg_view": _worker_pg_view,
    "pandas": _worker_pandas,
}


# ============================================================================ orchestration
def _spawn(mode: str, step: str, scale: int, args: argparse.Namespace, **extra: Any
           ) -> dict[str, Any]:
    data = BENCH_DATA / f"s{scale}"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", mode, "--step", step,
           "--data", str(data), "--db", f"bench_s{scale}", "--tenant", args.tenant,
           "--repeats", str(args.repeats), "--warm-repeats", str(args.warm_repeats),
           "--pg-timeout", str(args.pg_timeout),
           "--refresh-repeats", str(args.refresh_repeats)]
    for k, v in extra.items():
        cmd += [f"--{k.replace('_', '-')}", str(v)]
    with tempfile.NamedTemporaryFile(suffix=".json") as fh:
        cmd += ["--out", fh.name]
        t = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False,
                              env={**os.environ, "PYTHONWARNINGS": "ignore"})
        wall = time.perf_counter() - t
        if proc.returncode != 0:
            tail = (proc.stderr.strip().splitlines() or ["?"])[-1]
            return {"error": f"worker failed: {tail[:300]}", "wall_s": wall}
        result = json.loads(Path(fh.name).read_text())
    result["wall_s"] = wall
    return result


def _measure_step(name: str, scale: int, args: argparse.Namespace, sql_dir: Path,
                  pg_ready: bool) -> dict[str, Any]:
    step = STEPS[name]
    record = sql_dir / f"{name}.pkl"
    row: dict[str, Any] = {"step": name, "kind": step.kind, "scale": scale,
                           "load_before": os.getloadavg()[0]}
    engines = set(args.engines)
    needs_record = bool(engines & {"raw", "pg"}) and not record.exists()
    if "ours" in engines or needs_record:
        # the first process also records the SQL and measures steady and warm; the others
        # measure only a cold call
        runs = [_spawn("ours", name, scale, args, record=record if i == 0 else "",
                       cold_only=int(i > 0))
                for i in range(args.cold_processes)]
        bad = [r["error"] for r in runs if "error" in r]
        row["ours_error"] = bad[0] if bad else None
        if not bad:
            row["ours_cold_s"] = _median([r["cold_s"] for r in runs])
            row["ours_s"] = _median([t for r in runs for t in r["steady_s"]])
            row["ours_warm_s"] = _median([t for r in runs for t in r.get("warm_s", [])])
            row["open_s"] = _median([r["open_s"] for r in runs])
            row["peak_mib"] = max(r["peak_mib"] for r in runs)
            row["rss_open_mib"] = max(r["rss_open_mib"] for r in runs)
            row["rows"] = runs[0]["rows"]
    if "raw" in engines and record.exists():
        raw = _spawn("raw", name, scale, args, record=record)
        row["raw_s"] = _median(raw.get("times_s", []))
        row["statements"] = raw.get("statements")
        row["raw_error"] = raw.get("error")
    if "pg" in engines and pg_ready and record.exists():
        pg = _spawn("pg", name, scale, args, record=record)
        row["pg_s"] = _median(pg.get("times_s", []))
        row["pg_error"] = pg.get("error")
        row["pg_timeout_s"] = pg.get("timeout_s")
        if step.view is not None:
            mv = _spawn("pg_view", name, scale, args)
            row["pg_view_s"] = _median(mv.get("times_s", []))
            row["pg_refresh_s"] = _median(mv.get("refresh_s", []))
            row["pg_view_error"] = mv.get("error")
    if "pandas" in engines and step.pandas is not None:
        pd_run = _spawn("pandas", name, scale, args)
        row["pandas_s"] = _median(pd_run.get("times_s", []))
        row["pandas_peak_mib"] = pd_run.get("peak_mib")
        row["pandas_error"] = pd_run.get("error")
    _ratios(row)
    row["load_after"] = os.getloadavg()[0]
    return row


def _ratios(row: dict[str, Any]) -> None:
    for key in ("pg_over_ours", "pg_over_ours_at_least", "ours_over_raw", "pandas_over_ours",
                "pg_view_over_ours"):
        row.pop(key, None)
    ours = row.get("ours_s")
    if not ours:
        return
    if row.get("pg_s"):
        row["pg_over_ours"] = row["pg_s"] / ours
    elif row.get("pg_timeout_s"):
        row["pg_over_ours_at_least"] = row["pg_timeout_s"] / ours
    if row.get("raw_s"):
        row["ours_over_raw"] = ours / row["raw_s"]
    if row.get("pandas_s"):
        row["pandas_over_ours"] = row["pandas_s"] / ours
    if row.get("pg_view_s"):
        row["pg_view_over_ours"] = row["pg_view_s"] / ours


def _verdicts(row: dict[str, Any]) -> dict[str, str]:
    """PASS/MISS per target that applies to the row (targets are for scale 100)."""
    out: dict[str, str] = {}
    if row["kind"] in ("query", "analysis"):
        if "pg_over_ours" in row:
            out["pg≥10×"] = _pass(row["pg_over_ours"] >= TARGETS["pg_over_ours_min"])
        elif "pg_over_ours_at_least" in row:
            out["pg≥10×"] = _pass(row["pg_over_ours_at_least"] >= TARGETS["pg_over_ours_min"])
        if "ours_over_raw" in row:
            out["≤1.3×raw"] = _pass(row["ours_over_raw"] <= TARGETS["ours_over_raw_max"])
    if row["kind"] == "tab":
        if row.get("ours_cold_s") is not None:
            out["cold<1s"] = _pass(row["ours_cold_s"] < TARGETS["tab_cold_s"])
        out["warm<50ms"] = (
            _pass(row["ours_warm_s"] < TARGETS["tab_warm_s"])
            if row.get("ours_warm_s") is not None else "n/a"
        )
    if row.get("peak_mib") is not None:
        out["mem<2GiB"] = _pass(row["peak_mib"] < TARGETS["peak_mib"])
    return out


def _pass(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def _fmt_s(v: Any) -> str:
    if v is None:
        return "n/a"
    if v < 0.01:
        return f"{v * 1000:.1f} ms"
    return f"{v * 1000:.0f} ms" if v < 1 else f"{v:.2f} s"


def _fmt_x(v: Any, at_least: bool = False) -> str:
    return "" if v is None else (("≥" if at_least else "") + f"{v:.1f}×")


def _table(rows: list[dict[str, Any]], scale: int) -> Any:
    from rich.table import Table

    table = Table(title=f"scale {scale}", show_lines=False)
    for col in ("step", "ours cold", "ours", "warm", "raw duckdb", "postgres", "pg mat. view",
                "pg refresh", "pandas", "pg/ours", "ours/raw", "pandas/ours", "peak MiB",
                "targets"):
        table.add_column(col, justify="left" if col in ("step", "targets") else "right")
    for r in rows:
        pg = _fmt_s(r.get("pg_s")) if r.get("pg_s") else (
            f">{r['pg_timeout_s']:.0f} s" if r.get("pg_timeout_s") else
            ("error" if r.get("pg_error") else "n/a"))
        verdicts = r.get("verdicts", {})
        table.add_row(
            r["step"], _fmt_s(r.get("ours_cold_s")), _fmt_s(r.get("ours_s")),
            _fmt_s(r.get("ours_warm_s")), _fmt_s(r.get("raw_s")), pg,
            _fmt_s(r.get("pg_view_s")) if r.get("pg_view_s") else "",
            _fmt_s(r.get("pg_refresh_s")) if r.get("pg_refresh_s") else "",
            _fmt_s(r.get("pandas_s")) if r.get("pandas_s") else "",
            _fmt_x(r.get("pg_over_ours")) or _fmt_x(r.get("pg_over_ours_at_least"), True),
            _fmt_x(r.get("ours_over_raw")), _fmt_x(r.get("pandas_over_ours")),
            f"{r['peak_mib']:.0f}" if r.get("peak_mib") else "",
            " ".join(f"{k}:{v}" for k, v in verdicts.items()),
        )
    return table


def _environment() -> dict[str, Any]:
    import platform

    import duckdb
    import pandas
    import pyarrow
    import sqlglot

    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    env = {
        "cores": os.cpu_count(),
        "ram_gib": round(mem, 1),
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "pandas": pandas.__version__,
        "pyarrow": pyarrow.__version__,
        "sqlglot": sqlglot.__version__,
        "postgres_settings": scale_pg.SERVER_SETTINGS,
        "cache_module": _cache_available(),
    }
    try:
        env["postgres"] = scale_pg.version()
    except Exception as exc:  # the server may be down: recorded, not fatal
        env["postgres"] = f"unavailable ({type(exc).__name__})"
    return env


def _prepare_scale(scale: int, args: argparse.Namespace) -> tuple[dict[str, Any], bool]:
    from auterity_lab.manifest import read_manifest
    from auterity_lab.synth import generate_demo

    data = BENCH_DATA / f"s{scale}"
    if not (data / "manifest.json").exists():
        if not args.generate:
            sys.exit(f"{data} has no demo data; pass --generate to make it")
        generate_demo(data, scale=scale)
        (BENCH_DATA / f"READY_s{scale}").touch()
    manifest = read_manifest(data)
    info: dict[str, Any] = {"rows": {k: e.rows for k, e in manifest.tables.items()}}
    fingerprint = manifest.fingerprint(None)
    if importlib.util.find_spec("auterity_lab.rollups") is not None:
        from auterity_lab.rollups import build_rollups

        started = time.perf_counter()
        build_rollups(data)  # incremental: only day partitions whose extract changed
        info["rollups_build_s"] = time.perf_counter() - started
    pg_ready = False
    if "pg" in args.engines:
        scale_pg.ensure_server()
        loaded = scale_pg.loaded_info(f"bench_s{scale}", fingerprint)
        if loaded is None and args.load_postgres:
            loaded = scale_pg.load(data, f"bench_s{scale}", list(manifest.tenants), fingerprint)
        if loaded is not None:
            info["postgres_load"] = loaded
            pg_ready = True
    return info, pg_ready


def markdown(report: dict[str, Any]) -> str:
    """The results of a JSON report as Markdown tables, one per scale (for the README)."""
    lines = []
    head = ("| step | ours cold | ours | warm | raw DuckDB | Postgres | PG mat. view (refresh) "
            "| pandas | PG / ours | ours / raw | pandas / ours | peak MiB | targets |")
    for scale, info in report["scales"].items():
        lines += [f"**scale {scale}**", "", head, "|" + "---|" * 13]
        for r in info["steps"]:
            pg = _fmt_s(r.get("pg_s")) if r.get("pg_s") else (
                f"> {r['pg_timeout_s']:.0f} s" if r.get("pg_timeout_s") else
                ("error ²" if r.get("pg_error") else "n/a"))
            mv = (f"{_fmt_s(r.get('pg_view_s'))} ({_fmt_s(r.get('pg_refresh_s'))})"
                  if r.get("pg_view_s") else "")
            lines.append("| " + " | ".join((
                r["step"], _fmt_s(r.get("ours_cold_s")), _fmt_s(r.get("ours_s")),
                _fmt_s(r.get("ours_warm_s")), _fmt_s(r.get("raw_s")), pg, mv,
                _fmt_s(r.get("pandas_s")) if r.get("pandas_s") else "",
                _fmt_x(r.get("pg_over_ours")) or _fmt_x(r.get("pg_over_ours_at_least"), True),
                _fmt_x(r.get("ours_over_raw")), _fmt_x(r.get("pandas_over_ours")),
                f"{r['peak_mib']:.0f}" if r.get("peak_mib") else "",
                " ".join(f"{k} {v}" for k, v in r.get("verdicts", {}).items()),
            )) + " |")
        lines.append("")
    return "\n".join(lines)


def _merged(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """``old`` updated by ``new``: per scale and step, the fields measured this time win."""
    merged = {**old, **{k: v for k, v in new.items() if k != "scales"}}
    merged["runs"] = [*old.get("runs", [old.get("started_at")]), new["started_at"]]
    for scale, info in new["scales"].items():
        before = old.get("scales", {}).get(scale, {})
        steps = {r["step"]: r for r in before.get("steps", [])}
        for row in info["steps"]:
            steps[row["step"]] = {**steps.get(row["step"], {}), **row}
            _ratios(steps[row["step"]])
            if int(scale) == TARGET_SCALE:
                steps[row["step"]]["verdicts"] = _verdicts(steps[row["step"]])
        order = list(STEPS)
        merged.setdefault("scales", {})[scale] = {
            **before, **info,
            "steps": sorted(steps.values(), key=lambda r: order.index(r["step"])),
        }
    return merged


def _main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Speed at scale: ours vs Postgres, DuckDB, "
                                                 "pandas.")
    parser.add_argument("--scale", type=int, action="append",
                        help="demo scale (10 ≈ 1M sessions, 100 ≈ 10M); repeatable")
    parser.add_argument("--only", action="append", default=[],
                        help="only steps whose name starts with this; repeatable")
    parser.add_argument("--engines", nargs="+", default=["ours", "raw", "pg", "pandas"],
                        choices=["ours", "raw", "pg", "pandas"])
    parser.add_argument("--tenant", default="acme")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cold-processes", type=int, default=3)
    parser.add_argument("--warm-repeats", type=int, default=3)
    parser.add_argument("--refresh-repeats", type=int, default=1)
    parser.add_argument("--pg-timeout", type=float, default=300.0)
    parser.add_argument("--generate", action="store_true", help="generate missing demo data")
    parser.add_argument("--load-postgres", action="store_true",
                        help="load a scale into Postgres when its database is missing or stale")
    parser.add_argument("--output", type=Path, default=None, help="JSON path")
    parser.add_argument("--merge", action="store_true",
                        help="update the steps measured now in an existing JSON, keep the rest")
    # worker mode (internal)
    parser.add_argument("--worker", choices=sorted(_WORKERS), help=argparse.SUPPRESS)
    for name in ("--step", "--data", "--db", "--record", "--out"):
        parser.add_argument(name, help=argparse.SUPPRESS)
    parser.add_argument("--cold-only", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--render", type=Path, help="print a JSON report as Markdown and exit")
    parser.add_argument("--combine", type=Path, action="append", default=[],
                        help="merge these JSON reports (later ones win per step) into --output")
    args = parser.parse_args(argv)
    if args.combine:
        combined: dict[str, Any] = {}
        for path in args.combine:
            part = json.loads(path.read_text())
            combined = _merged(combined, part) if combined else part
        (args.output or RESULTS / "scale_combined.json").write_text(
            json.dumps(combined, indent=1, default=str))
        return
    if args.render:
        print(markdown(json.loads(args.render.read_text())))
        return
    if args.worker:
        result = _WORKERS[args.worker](args)
        Path(args.out).write_text(json.dumps(result, default=str))
        return

    from rich.console import Console

    console = Console(width=230)
    scales = args.scale or [10, TARGET_SCALE]
    names = [n for n in STEPS if not args.only or any(n.startswith(p) for p in args.only)]
    report: dict[str, Any] = {
        "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "environment": _environment(),
        "tenant": args.tenant,
        "repeats": args.repeats,
        "cold_processes": args.cold_processes,
        "targets": TARGETS,
        "scales": {},
    }
    console.print(report["environment"])
    out = args.output or RESULTS / f"scale_{dt.datetime.now(dt.UTC):%Y-%m-%d}.json"
    for scale in scales:
        info, pg_ready = _prepare_scale(scale, args)
        sql_dir = BENCH_DATA / "sql" / f"s{scale}"
        sql_dir.mkdir(parents=True, exist_ok=True)
        rows = []
        for name in names:
            console.print(f"[dim]scale {scale}: {name} …[/dim]")
            row = _measure_step(name, scale, args, sql_dir, pg_ready)
            row["verdicts"] = _verdicts(row) if scale == TARGET_SCALE else {}
            rows.append(row)
            console.print(
                f"  cold {_fmt_s(row.get('ours_cold_s'))} · steady {_fmt_s(row.get('ours_s'))}"
                f" · warm {_fmt_s(row.get('ours_warm_s'))} · raw {_fmt_s(row.get('raw_s'))}"
                f" · pg {_fmt_s(row.get('pg_s'))} · pandas {_fmt_s(row.get('pandas_s'))}"
                f" · peak {row.get('peak_mib') or 0:.0f} MiB"
                + "".join(f" · {k}: {row[k]}" for k in _ERRORS if row.get(k))
            )
            info["steps"] = rows
            report["scales"][str(scale)] = info
            _save(report, out, args.merge)
        console.print(_table(rows, scale))
        for r in rows:
            for key in _ERRORS:
                if r.get(key):
                    console.print(f"  {r['step']}: {key}: {r[key]}")
    report["finished_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    _save(report, out, args.merge)
    console.print(f"wrote {out}")


def _save(report: dict[str, Any], out: Path, merge: bool) -> None:
    """Write the report (merged into the file's earlier one with ``merge``); atomic rename."""
    out.parent.mkdir(parents=True, exist_ok=True)
    if merge:
        if not hasattr(_save, "base"):
            _save.base = json.loads(out.read_text()) if out.exists() else {}  # type: ignore
        report = _merged(_save.base, report) if _save.base else report  # type: ignore
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(report, indent=1, default=str))
    tmp.replace(out)


if __name__ == "__main__":
    _main()
