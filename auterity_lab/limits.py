"""Resource limits for DuckDB queries: timeout, concurrent queries, memory and page size.

Every query the workbench runs goes through :func:`run_limited`:

* **concurrency**: at most ``max_concurrent_queries`` queries run at once in this process; a
  query that finds no free slot within the timeout raises :class:`ResourceLimitError` instead of
  waiting forever;
* **timeout**: a timer thread calls DuckDB's ``connection.interrupt()`` when
  ``query_timeout_seconds`` have passed, so the query really stops, and
  :class:`QueryTimeoutError` names the query, the tenant and the limit;
* **memory**: DuckDB's out-of-memory error becomes :class:`ResourceLimitError` naming the
  ``memory_limit`` and what to change.

Pagination (:func:`page_sql`) wraps a query so that pages come in a stable order: the query's
own ``ORDER BY`` first (when it orders by output columns), then every output column as a
tie-break. Concatenated pages therefore equal the whole result, with no row twice or missing.

Examples
--------
>>> import duckdb
>>> con = duckdb.connect()
>>> limits = QueryLimits(timeout_seconds=5.0, max_concurrent=2)
>>> run_limited(con, "SELECT 42 AS answer", {}, limits, label="demo", tenant="acme").to_pylist()
[{'answer': 42}]
>>> check_page(limit=10, offset=0, max_page_size=5)
Traceback (most recent call last):
...
auterity_lab.errors.ResourceLimitError: a page of 10 rows is larger than max_page_size = 5; ...
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import duckdb

from auterity_lab.errors import (
    QueryError,
    QueryParameterError,
    QueryTimeoutError,
    ResourceLimitError,
)

if TYPE_CHECKING:
    import pyarrow as pa

    from auterity_lab.config import Settings

PAGE_LIMIT_PARAM = "auterity_page_limit"
PAGE_OFFSET_PARAM = "auterity_page_offset"


@dataclass(frozen=True)
class QueryLimits:
    """The limits one query runs under.

    Attributes
    ----------
    timeout_seconds
        Wall time after which the query is interrupted; None: no limit. Waiting for a
        concurrency slot (or for a workbench shared by threads) is bounded by the same time.
    max_concurrent
        Queries this process runs at once.
    memory_limit
        DuckDB's ``memory_limit`` (named in the error when a query runs out of memory).
    """

    timeout_seconds: float | None = 120.0
    max_concurrent: int = 4
    memory_limit: str = "2GB"

    @classmethod
    def from_settings(cls, settings: Settings) -> QueryLimits:
        """The limits configured in ``settings``.

        Examples
        --------
        >>> from auterity_lab.config import Settings
        >>> QueryLimits.from_settings(Settings(query_timeout_seconds=3)).timeout_seconds
        3.0
        """
        return cls(
            timeout_seconds=settings.query_timeout_seconds,
            max_concurrent=settings.max_concurrent_queries,
            memory_limit=settings.duckdb_memory_limit,
        )


class _ConcurrencyGate:
    """Counts the queries running in this process; a query waits for a free slot.

    The limit is passed per acquisition (workbenches may be configured differently): a query
    runs when fewer than its own limit are running.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._running = 0

    @property
    def running(self) -> int:
        return self._running

    @contextlib.contextmanager
    def slot(self, limit: int, timeout: float | None, what: str) -> Iterator[None]:
        with self._cond:
            if not self._cond.wait_for(lambda: self._running < limit, timeout):
                raise ResourceLimitError(
                    f"{what}: no query slot became free within {timeout:g} s; "
                    f"{self._running} queries are running and max_concurrent_queries = {limit} "
                    "(raise AUTERITY_LAB_MAX_CONCURRENT_QUERIES or run fewer queries at once)"
                )
            self._running += 1
        try:
            yield
        finally:
            with self._cond:
                self._running -= 1
                self._cond.notify_all()


_GATE = _ConcurrencyGate()


def running_queries() -> int:
    """How many queries this process is running right now.

    Examples
    --------
    >>> running_queries()
    0
    """
    return _GATE.running


class _Deadline:
    """Interrupts ``con`` after ``seconds`` unless disarmed first; ``fired`` tells if it did."""

    def __init__(self, con: duckdb.DuckDBPyConnection, seconds: float | None) -> None:
        self.fired = False
        self._con = con
        self._armed = True
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        if seconds is not None:
            self._timer = threading.Timer(seconds, self._fire)
            self._timer.daemon = True
            self._timer.start()

    def _fire(self) -> None:
        # Under the lock, so an interrupt can never reach a later query on the same connection.
        with self._lock:
            if self._armed:
                self.fired = True
                self._con.interrupt()

    def disarm(self) -> None:
        with self._lock:
            self._armed = False
        if self._timer is not None:
            self._timer.cancel()


def run_limited(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    params: dict[str, Any],
    limits: QueryLimits,
    *,
    label: str,
    tenant: str,
) -> pa.Table:
    """Run ``sql`` on ``con`` under ``limits`` and return the result as an Arrow table.

    The caller must hold ``con`` exclusively (DuckDB connections are not thread-safe).

    Raises
    ------
    QueryTimeoutError
        The query ran longer than ``limits.timeout_seconds`` and was interrupted.
    ResourceLimitError
        No concurrency slot freed up in time, or DuckDB ran out of memory.
    QueryError
        Any other DuckDB error.

    Examples
    --------
    >>> import duckdb
    >>> slow = "SELECT count(*) FROM range(10000000000) a WHERE a.range % 7 = 99"
    >>> run_limited(duckdb.connect(), slow, {}, QueryLimits(timeout_seconds=0.2),
    ...             label="slow count", tenant="acme")
    Traceback (most recent call last):
    ...
    auterity_lab.errors.QueryTimeoutError: slow count for tenant 'acme' was interrupted after ...
    """
    what = f"{label} for tenant {tenant!r}"
    with _GATE.slot(limits.max_concurrent, limits.timeout_seconds, what):
        deadline = _Deadline(con, limits.timeout_seconds)
        try:
            return con.execute(sql, params).to_arrow_table()
        except duckdb.InterruptException as exc:
            if deadline.fired:
                raise QueryTimeoutError(
                    f"{what} was interrupted after the query timeout of "
                    f"{limits.timeout_seconds:g} s (query_timeout_seconds); narrow the date range "
                    "or raise AUTERITY_LAB_QUERY_TIMEOUT_SECONDS"
                ) from exc
            raise QueryError(f"{what} was interrupted") from exc
        except duckdb.OutOfMemoryException as exc:
            raise ResourceLimitError(
                f"{what} ran out of memory: DuckDB's memory_limit is {limits.memory_limit} "
                "(duckdb_memory_limit). Raise AUTERITY_LAB_DUCKDB_MEMORY_LIMIT, lower "
                "AUTERITY_LAB_DUCKDB_THREADS (each thread holds its own buffers), or narrow the "
                f"query (shorter date range, fewer columns). DuckDB said: {_first_line(exc)}"
            ) from exc
        except duckdb.Error as exc:
            raise QueryError(f"{label} failed for tenant {tenant!r}: {exc}") from exc
        finally:
            deadline.disarm()


def check_page(limit: int | None, offset: int | None, max_page_size: int) -> None:
    """Check a page request: ``limit`` rows (1..max_page_size) after ``offset`` (>= 0).

    Raises
    ------
    ResourceLimitError
        ``limit`` exceeds ``max_page_size``.
    QueryParameterError
        ``limit`` or ``offset`` is not a valid count, or ``offset`` comes without ``limit``.

    Examples
    --------
    >>> check_page(limit=100, offset=200, max_page_size=1000)
    >>> check_page(limit=None, offset=5, max_page_size=1000)
    Traceback (most recent call last):
    ...
    auterity_lab.errors.QueryParameterError: offset=5 needs a limit (the page size)
    """
    for name, value in (("limit", limit), ("offset", offset)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise QueryParameterError(f"{name} must be an integer, not {value!r}")
    if limit is None:
        if offset is not None:
            raise QueryParameterError(f"offset={offset} needs a limit (the page size)")
        return
    if limit < 1:
        raise QueryParameterError(f"limit must be at least 1, not {limit}")
    if offset is not None and offset < 0:
        raise QueryParameterError(f"offset must be 0 or more, not {offset}")
    if limit > max_page_size:
        raise ResourceLimitError(
            f"a page of {limit} rows is larger than max_page_size = {max_page_size}; ask for "
            "smaller pages (limit=..., offset=...) or raise AUTERITY_LAB_MAX_PAGE_SIZE"
        )


def page_sql(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any]) -> str:
    """Wrap ``sql`` so it returns one page in a stable, total order.

    The page is bound by the parameters :data:`PAGE_LIMIT_PARAM` and :data:`PAGE_OFFSET_PARAM`.
    The order is the query's own ``ORDER BY`` when it names output columns (by name or
    position), then every output column ascending (NULLs last) as a tie-break; rows equal in
    every column are interchangeable, so pages concatenated equal the whole result.

    Examples
    --------
    >>> import duckdb
    >>> con = duckdb.connect()
    >>> print(page_sql(con, "SELECT range AS n, range % 2 AS odd FROM range(5) ORDER BY odd", {}))
    SELECT * FROM (SELECT range AS n, range % 2 AS odd FROM range(5) ORDER BY odd) AS _page
    ORDER BY 2 ASC NULLS LAST, 1 ASC NULLS LAST
    LIMIT $auterity_page_limit OFFSET $auterity_page_offset
    """
    for name in (PAGE_LIMIT_PARAM, PAGE_OFFSET_PARAM):
        if name in params:
            raise QueryParameterError(f"parameter name {name!r} is reserved for pagination")
    body = sql.strip().rstrip(";")
    try:
        columns = [d[0] for d in con.execute(f"SELECT * FROM ({body}) LIMIT 0", params).description]
    except duckdb.Error as exc:
        raise QueryError(f"cannot paginate the query: {_first_line(exc)}") from exc
    keys = _declared_order(con, body, columns)
    ordered = {position for position, _, _ in keys}
    keys += [(i, "ASC", "NULLS LAST") for i in range(1, len(columns) + 1) if i not in ordered]
    order = ", ".join(f"{i} {direction} {nulls}" for i, direction, nulls in keys)
    return (
        f"SELECT * FROM ({body}) AS _page\nORDER BY {order}\n"
        f"LIMIT ${PAGE_LIMIT_PARAM} OFFSET ${PAGE_OFFSET_PARAM}"
    )


def _declared_order(
    con: duckdb.DuckDBPyConnection, sql: str, columns: list[str]
) -> list[tuple[int, str, str]]:
    """The query's top-level ORDER BY as (1-based output position, direction, nulls).

    Stops at the first key that is not an output column: ordering by the keys before it and
    then by all columns still gives a stable total order.
    """
    tree = json.loads(con.execute("SELECT json_serialize_sql($q)", {"q": sql}).fetchone()[0])
    if tree.get("error") or len(tree.get("statements", [])) != 1:
        return []
    keys: list[tuple[int, str, str]] = []
    for modifier in tree["statements"][0]["node"].get("modifiers", []):
        if modifier.get("type") != "ORDER_MODIFIER":
            continue
        for order in modifier["orders"]:
            position = _output_position(order["expression"], columns)
            if position is None:
                return keys
            direction = "DESC" if order["type"] == "DESCENDING" else "ASC"
            nulls = "NULLS FIRST" if "FIRST" in order["null_order"] else "NULLS LAST"
            if position not in (k[0] for k in keys):
                keys.append((position, direction, nulls))
    return keys


def _output_position(expression: dict[str, Any], columns: list[str]) -> int | None:
    if expression.get("class") == "COLUMN_REF" and len(expression["column_names"]) == 1:
        name = expression["column_names"][0]
        matches = [i for i, c in enumerate(columns, 1) if c.lower() == name.lower()]
        return matches[0] if len(matches) == 1 else None
    if expression.get("class") == "CONSTANT":
        value = expression["value"].get("value")
        if isinstance(value, int) and 1 <= value <= len(columns):
            return value
    return None


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
