"""Resource limits: timeout that interrupts, concurrency cap, memory errors, pagination."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from auterity_lab.config import Settings
from auterity_lab.errors import QueryParameterError, QueryTimeoutError, ResourceLimitError
from auterity_lab.limits import _Deadline, check_page, page_sql, running_queries
from auterity_lab.warehouse import Workbench
from tests.builders import build_data_dir

# A cross join DuckDB needs minutes for; interrupted long before.
SLOW_SQL = (
    "SELECT count(*) AS n FROM range(200000000) a, range(1000000) b WHERE a.range + b.range = 7"
)
COUNTRIES = ["DE", "FR", "DE", None, "US", "FR", "DE", "US", None, "DE", "FR", "BR", "DE"]


@pytest.fixture(scope="module")
def small_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    users = [
        {"tenant_id": "t1", "created_at": f"2026-01-{1 + i % 5:02d}", "country": c,
         "plan": ["free", "pro"][i % 2]}
        for i, c in enumerate(COUNTRIES * 3)
    ] + [{"tenant_id": "t2", "created_at": "2026-01-01", "country": "XX", "plan": "free"}]
    return build_data_dir(tmp_path_factory.mktemp("limits"), {"users": users})


def _open(path: Path, **overrides: object) -> Workbench:
    return Workbench.open(
        path, tenant="t1", settings=Settings(data_dir=path, cache_enabled=False, **overrides)
    )


@pytest.fixture
def wb(small_dir: Path) -> Iterator[Workbench]:
    with _open(small_dir, max_page_size=50) as bench:
        yield bench


# ---------------------------------------------------------------------------------- timeout
def test_timeout_interrupts_the_query_and_the_workbench_stays_usable(small_dir: Path) -> None:
    with _open(small_dir, query_timeout_seconds=0.5) as wb:
        started = time.monotonic()
        with pytest.raises(QueryTimeoutError) as info:
            wb.sql(SLOW_SQL)
        elapsed = time.monotonic() - started
        message = str(info.value)
        assert "SQL for tenant 't1'" in message and "0.5 s" in message
        assert isinstance(info.value, ResourceLimitError)
        # interrupted, not abandoned: nothing keeps running, and the connection answers
        assert elapsed < 30, f"the interrupt took {elapsed:.1f} s"
        assert running_queries() == 0
        assert wb.sql("SELECT count(*) AS n FROM users")["n"].iloc[0] == len(COUNTRIES) * 3


def test_timeout_names_the_query(small_dir: Path) -> None:
    with _open(small_dir, query_timeout_seconds=0.3) as wb:
        wb.register("huge", pd.DataFrame({"x": range(3)}))
        with pytest.raises(QueryTimeoutError, match="SQL for tenant 't1'.*0.3 s"):
            wb.sql(SLOW_SQL + " AND $k = 1", k=1)


def test_a_disarmed_timer_never_interrupts_a_later_query() -> None:
    con = duckdb.connect()
    deadlines = [_Deadline(con, 0.3) for _ in range(20)]
    for d in deadlines:  # as run_limited does when its query finishes in time
        d.disarm()
    time.sleep(0.5)  # past every timer's due time
    assert con.execute("SELECT count(*) FROM range(3000000)").fetchone() == (3000000,)
    assert not any(d.fired for d in deadlines)
    armed = _Deadline(con, 0.05)
    time.sleep(0.3)
    assert armed.fired


# ---------------------------------------------------------------------------------- concurrency
def test_no_free_slot_is_a_clear_error_not_a_hang(small_dir: Path) -> None:
    with _open(small_dir, query_timeout_seconds=3, max_concurrent_queries=1) as busy, _open(
        small_dir, query_timeout_seconds=0.3, max_concurrent_queries=1
    ) as waiting:
        errors: list[BaseException] = []

        def hold_the_slot() -> None:
            try:
                busy.sql(SLOW_SQL)
            except QueryTimeoutError as exc:
                errors.append(exc)

        holder = threading.Thread(target=hold_the_slot)
        holder.start()
        deadline = time.monotonic() + 10
        while running_queries() == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        busy_message = r"no query slot .* max_concurrent_queries = 1"
        with pytest.raises(ResourceLimitError, match=busy_message):
            waiting.sql("SELECT 1 AS x")
        holder.join()
        assert len(errors) == 1  # the holder was itself stopped by its timeout
        assert waiting.sql("SELECT 1 AS x")["x"].iloc[0] == 1  # the slot is free again


def test_at_most_max_concurrent_queries_run_at_once(small_dir: Path) -> None:
    benches = [_open(small_dir, max_concurrent_queries=2) for _ in range(4)]
    peak = 0
    stop = threading.Event()

    def watch() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, running_queries())

    watcher = threading.Thread(target=watch)
    watcher.start()
    query = "SELECT count(*) AS n FROM range(3000000) a WHERE a.range % 7 = $r"
    results: dict[int, list[int]] = {}

    def work(i: int) -> None:
        results[i] = [int(benches[i].sql(query, r=r)["n"].iloc[0]) for r in range(4)]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    watcher.join()
    for bench in benches:
        bench.close()
    expected = [len(range(r, 3000000, 7)) for r in range(4)]
    assert results == {i: expected for i in range(4)}
    assert 1 <= peak <= 2


def test_one_workbench_is_safe_to_share_between_threads(wb: Workbench) -> None:
    sql = "SELECT country, count(*) AS n FROM users WHERE plan = $plan GROUP BY ALL ORDER BY ALL"
    expected = {p: wb.sql(sql, plan=p) for p in ("free", "pro")}
    failures: list[str] = []

    def work(plan: str) -> None:
        for _ in range(15):
            got = wb.sql(sql, plan=plan)
            if not got.equals(expected[plan]):
                failures.append(plan)

    threads = [threading.Thread(target=work, args=(p,)) for p in ("free", "pro") * 3]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []


# ---------------------------------------------------------------------------------- memory
def test_out_of_memory_names_the_limit_and_the_fix(small_dir: Path) -> None:
    with _open(small_dir, duckdb_memory_limit="20MB", duckdb_threads=1) as wb:
        with pytest.raises(ResourceLimitError, match="memory_limit is 20MB") as info:
            wb.sql(
                "SELECT range % 1000000 AS k, list(range) AS xs FROM range(20000000) "
                "GROUP BY k ORDER BY k"
            )
        assert "AUTERITY_LAB_DUCKDB_MEMORY_LIMIT" in str(info.value)
        assert wb.sql("SELECT count(*) AS n FROM users")["n"].iloc[0] == len(COUNTRIES) * 3


# ---------------------------------------------------------------------------------- pages
def test_page_requests_are_checked() -> None:
    check_page(None, None, 10)
    check_page(10, 0, 10)
    with pytest.raises(ResourceLimitError, match="max_page_size = 10"):
        check_page(11, 0, 10)
    for limit, offset, message in [
        (0, 0, "at least 1"), (5, -1, "0 or more"), (None, 3, "needs a limit"),
        (2.5, 0, "integer"), (True, 0, "integer"),
    ]:
        with pytest.raises(QueryParameterError, match=message):
            check_page(limit, offset, 10)  # type: ignore[arg-type]


def test_a_page_above_max_page_size_is_refused(wb: Workbench) -> None:
    with pytest.raises(ResourceLimitError, match="page of 51 rows"):
        wb.sql("SELECT * FROM users", limit=51)
    with pytest.raises(ResourceLimitError, match="page of 51 rows"):
        wb.query("report_data_extent", limit=51)


def test_page_order_follows_the_query_then_every_column() -> None:
    con = duckdb.connect()
    sql = page_sql(con, "SELECT range % 3 AS a, range AS b FROM range(9) ORDER BY a DESC", {})
    assert "ORDER BY 1 DESC NULLS LAST, 2 ASC NULLS LAST" in sql
    # positions, NULLS FIRST, and a key that is no output column (the order stops there)
    sql = page_sql(con, "SELECT 1 AS a, 2 AS b ORDER BY 2 NULLS FIRST, a + 1, a", {})
    assert "ORDER BY 2 ASC NULLS FIRST, 1 ASC NULLS LAST\n" in sql
    with pytest.raises(QueryParameterError, match="reserved"):
        page_sql(con, "SELECT $auterity_page_limit", {"auterity_page_limit": 1})


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@example(size=1, order="ORDER BY country")
@given(
    size=st.integers(1, 45), order=st.sampled_from(["", "ORDER BY country", "ORDER BY 2 DESC"])
)
def test_pages_concatenated_equal_the_whole_result(wb: Workbench, size: int, order: str) -> None:
    """Many rows tie on every column the query orders by, and some rows are exact duplicates."""
    sql = f"SELECT country, plan, created_at::DATE AS day FROM users {order}"
    whole = wb.sql(sql)
    pages = [wb.sql(sql, limit=size, offset=o) for o in range(0, len(whole), size)]
    assert all(len(page) == size for page in pages[:-1]) and 1 <= len(pages[-1]) <= size
    assert wb.sql(sql, limit=size, offset=len(whole)).empty
    joined = pd.concat(pages, ignore_index=True)
    assert len(joined) == len(whole)  # no row twice, none missing ...
    key = ["country", "plan", "day"]
    as_multiset = joined.fillna("~").value_counts(key).sort_index()
    assert as_multiset.equals(whole.fillna("~").value_counts(key).sort_index())  # ... same rows
    if order == "ORDER BY country":  # the query's order holds across pages (NULLs last)
        seen = joined["country"].fillna("\uffff").tolist()
        assert seen == sorted(seen)
    if order == "ORDER BY 2 DESC":
        assert joined["plan"].tolist() == sorted(joined["plan"], reverse=True)
    for o in range(0, min(len(whole), 3 * size), size):  # the same pages every time
        assert wb.sql(sql, limit=size, offset=o).equals(pages[o // size])


def test_query_pages_keep_the_tenant_scope(small_dir: Path) -> None:
    with Workbench.open(
        small_dir, tenant="t2", settings=Settings(data_dir=small_dir, cache_enabled=False)
    ) as wb:
        page = wb.sql("SELECT tenant_id, country FROM users", limit=10, offset=0)
    assert page.to_dict("records") == [{"tenant_id": "t2", "country": "XX"}]
