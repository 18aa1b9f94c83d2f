"""The result cache: hits, exact invalidation, TTLs, corrupt entries, tenants, Redis."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import logging
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auterity_lab import cache as cache_module
from auterity_lab.cache import (
    CorruptEntryError,
    ResultCache,
    cached,
    canonical_params,
    decode_entry,
    encode_entry,
    statement_reads,
)
from auterity_lab.config import Settings
from auterity_lab.errors import ConfigError
from auterity_lab.manifest import read_manifest, write_extract
from auterity_lab.schema import table
from auterity_lab.warehouse import Workbench
from tests.builders import build_data_dir

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
USERS_SQL = "SELECT country, count(*) AS n FROM users GROUP BY ALL ORDER BY ALL"
EVENTS_SQL = "SELECT event_type, count(*) AS n FROM events GROUP BY ALL ORDER BY ALL"
OUTPUTS_SQL = "SELECT model_id, count(*) AS n FROM prompt_outputs GROUP BY ALL ORDER BY ALL"


def _rows(tenant: str, n: int, country: str) -> list[dict[str, object]]:
    return [{"tenant_id": tenant, "created_at": "2026-03-01", "country": country}] * n


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return build_data_dir(
        tmp_path / "data",
        {
            "users": _rows("t1", 3, "DE") + _rows("t1", 2, "FR") + _rows("t2", 4, "US"),
            "events": [
                {"tenant_id": t, "created_at": "2026-03-02", "event_type": e}
                for t, e in [("t1", "login"), ("t1", "login"), ("t1", "purchase"), ("t2", "x")]
            ],
            "prompt_outputs": [
                {"tenant_id": t, "created_at": "2026-03-03", "model_id": m}
                for t, m in [("t1", "gpt"), ("t1", "claude"), ("t2", "gpt")]
            ],
        },
    )


def _settings(path: Path, **overrides: object) -> Settings:
    return Settings(data_dir=path, **overrides)


def _open(path: Path, tenant: str = "t1", **overrides: object) -> Workbench:
    return Workbench.open(path, tenant=tenant, settings=_settings(path, **overrides))


def _stats(wb: Workbench) -> dict[str, dict[str, int]]:
    assert wb.cache is not None
    return wb.cache.stats().as_dict()["layers"]


def _delta(before: dict, after: dict, layer: str, what: str) -> int:
    return after[layer][what] - before[layer][what]


def _current_rows(path: Path, qualified: str) -> duckdb.DuckDBPyConnection:
    """A connection holding the extracted rows of ``qualified`` as the table ``cur``."""
    files = [str(path / f.path) for f in read_manifest(path).tables[qualified].files]
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(
        "CREATE TABLE cur AS "
        "SELECT * EXCLUDE (date) FROM read_parquet($f, hive_partitioning = true)",
        {"f": files},
    )
    return con


def _append_user(path: Path, tenant: str, country: str) -> None:
    """A new extract of users only: the current rows plus one."""
    con = _current_rows(path, "auterity.users")
    write_extract(
        con, path, table("users"),
        "SELECT * FROM cur UNION ALL SELECT * REPLACE (uuid() AS id, $tenant AS tenant_id, "
        "$country AS country) FROM (SELECT * FROM cur LIMIT 1)",
        {"tenant": tenant, "country": country},
    )  # fmt: skip


# ---------------------------------------------------------------------------------- parts
def test_statement_reads_follows_ctes_subqueries_and_unions() -> None:
    reads = statement_reads(
        "WITH a AS (SELECT id FROM users), b AS (SELECT * FROM a) "
        "SELECT * FROM b WHERE id IN (SELECT user_id FROM events) "
        "UNION ALL SELECT id FROM prompt_outputs WHERE EXISTS (SELECT 1 FROM feedback)"
    )
    assert reads.cacheable
    assert reads.relations == {"users", "events", "prompt_outputs", "feedback"}


@pytest.mark.parametrize(
    ("sql", "reason"),
    [
        ("SELECT random() AS r FROM users", "random"),
        ("SELECT * FROM read_parquet('x.parquet')", "read_parquet"),
        ("SELECT * FROM duckdb_views()", "duckdb_views"),
        ("SELECT * FROM information_schema.tables", "information_schema"),
        ("PIVOT users ON country USING count(*)", "not a plain SELECT"),
    ],
)
def test_statement_reads_refuses_what_it_cannot_track(sql: str, reason: str) -> None:
    reads = statement_reads(sql)
    assert not reads.cacheable and reason in reads.reason


@settings(deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=5), st.integers() | st.text(max_size=5)))
def test_canonical_params_ignore_order(params: dict[str, object]) -> None:
    assert canonical_params(params) == canonical_params(dict(reversed(list(params.items()))))


def test_canonical_params_keep_types_apart() -> None:
    keys = {
        canonical_params({"d": v})
        for v in ["2026-01-01", dt.date(2026, 1, 1), dt.datetime(2026, 1, 1), 1, 1.5, "1", True]
    }
    assert len(keys) == 7
    with pytest.raises(TypeError):
        canonical_params({"f": object()})


@dataclasses.dataclass(frozen=True)
class Summary:
    """A dataclass of frames and plain values, as an analytics function returns."""

    frame: pd.DataFrame
    total: float
    day: dt.date
    labels: tuple[str, ...]
    extra: dict[str, object]


_plain = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=5)
    | st.floats()
    | st.dates()
    | st.datetimes(timezones=st.just(dt.UTC)),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(deadline=None)
@given(value=_plain)
def test_plain_values_round_trip(value: object) -> None:
    back = decode_entry(encode_entry("k", "t1", "f", value, time.time() + 60)).value
    assert _same(back, value)


def _same(a: object, b: object) -> bool:
    """Equal types and values, recursively, with NaN equal to NaN."""
    if isinstance(a, float) and a != a:
        return isinstance(b, float) and b != b
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def test_dataclass_of_frames_round_trips() -> None:
    times = pd.to_datetime(["2026-01-01", "2026-01-02"], utc=True)
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", None], "t": times})
    value = Summary(frame, 2.5, dt.date(2026, 1, 1), ("p", "q"), {"n": 3, "nested": [1.0, None]})
    back = decode_entry(encode_entry("k", "t1", "f", value, time.time() + 60)).value
    assert isinstance(back, Summary)
    pd.testing.assert_frame_equal(back.frame, frame)
    assert (back.total, back.day, back.labels, back.extra) == (
        2.5, dt.date(2026, 1, 1), ("p", "q"), {"n": 3, "nested": [1.0, None]}
    )  # fmt: skip


_BLOB = encode_entry("k", "t1", "q", pa.table({"x": [1, 2, 3], "s": ["a", "b", None]}), 1e12)


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_any_damaged_byte_is_detected(data: st.DataObject) -> None:
    blob = _BLOB
    position = data.draw(st.integers(0, len(blob) - 1))
    flip = data.draw(st.integers(1, 255))
    damaged = blob[:position] + bytes([blob[position] ^ flip]) + blob[position + 1 :]
    with pytest.raises(CorruptEntryError):
        decode_entry(damaged)
    with pytest.raises(CorruptEntryError):
        decode_entry(blob[: data.draw(st.integers(0, len(blob) - 1))])  # truncated


def test_unknown_ttl_kind_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="unknown cache kind 'hourly'"):
        cached("hourly", tables=["auterity.users"])
    with pytest.raises(ConfigError, match="unknown tables auterity.nope"):
        cached("insights", tables=["auterity.nope"])


# ---------------------------------------------------------------------------------- workbench
def test_hit_and_miss_return_the_same_frames(data_dir: Path) -> None:
    with _open(data_dir) as wb:
        before = _stats(wb)
        first = wb.sql(USERS_SQL)
        second = wb.sql(USERS_SQL)
        after = _stats(wb)
        with wb.no_cache():
            fresh = wb.sql(USERS_SQL)
        assert _stats(wb) == after  # bypassed: no lookups, no writes
        polars_hit = wb.sql(USERS_SQL, frame="polars")
    pd.testing.assert_frame_equal(first, second)
    pd.testing.assert_frame_equal(first, fresh)
    assert first.to_dict("records") == [{"country": "DE", "n": 3}, {"country": "FR", "n": 2}]
    assert polars_hit.to_dicts() == first.to_dict("records")
    assert _delta(before, after, "memory", "misses") == 1
    assert _delta(before, after, "memory", "hits") == 1
    assert _delta(before, after, "disk", "writes") == 1


def test_named_queries_are_cached_with_their_parameters(data_dir: Path) -> None:
    with _open(data_dir) as wb:
        a = wb.query("report_data_extent")
        before = _stats(wb)
        b = wb.query("report_data_extent")
        page = wb.query("report_data_extent", limit=1, offset=1)
        after = _stats(wb)
    pd.testing.assert_frame_equal(a, b)
    assert len(page) == 1
    assert _delta(before, after, "memory", "hits") == 1  # the page is a different result
    assert _delta(before, after, "memory", "misses") == 1


def test_the_disk_layer_is_shared_and_fills_memory(data_dir: Path) -> None:
    with _open(data_dir) as wb:
        expected = wb.sql(EVENTS_SQL)
    # another process on the same machine: its own memory layer, the same cache dir
    with _open(data_dir, cache_memory_entries=9) as wb:
        other = wb.cache
        assert other is not None and other.disk is not None
        assert other.disk.root == (data_dir / "cache").resolve()
        got = wb.sql(EVENTS_SQL)
        again = wb.sql(EVENTS_SQL)
    pd.testing.assert_frame_equal(got, expected)
    pd.testing.assert_frame_equal(again, expected)
    layers = other.stats().as_dict()["layers"]
    assert layers["disk"]["hits"] == 1 and layers["memory"]["hits"] == 1
    assert layers["memory"]["writes"] == 1  # the disk hit filled memory


def test_a_new_extract_invalidates_exactly_the_results_that_read_it(data_dir: Path) -> None:
    with _open(data_dir) as wb:
        wb.create_view("user_countries", "SELECT DISTINCT country FROM users")
        old = {sql: wb.sql(sql) for sql in (USERS_SQL, EVENTS_SQL, OUTPUTS_SQL)}
        old_view = wb.sql("SELECT count(*) AS n FROM user_countries")
    _append_user(data_dir, "t1", "BR")
    with _open(data_dir) as wb:  # the new manifest
        wb.create_view("user_countries", "SELECT DISTINCT country FROM users")
        before = _stats(wb)
        new = {sql: wb.sql(sql) for sql in (USERS_SQL, EVENTS_SQL, OUTPUTS_SQL)}
        new_view = wb.sql("SELECT count(*) AS n FROM user_countries")
        after = _stats(wb)
    assert _delta(before, after, "memory", "hits") == 2  # events and prompt outputs
    assert _delta(before, after, "memory", "misses") == 2  # users, and the view over users
    assert new[USERS_SQL].to_dict("records") == [
        {"country": "BR", "n": 1}, {"country": "DE", "n": 3}, {"country": "FR", "n": 2}
    ]  # fmt: skip
    pd.testing.assert_frame_equal(new[EVENTS_SQL], old[EVENTS_SQL])
    pd.testing.assert_frame_equal(new[OUTPUTS_SQL], old[OUTPUTS_SQL])
    assert (old_view["n"].iloc[0], new_view["n"].iloc[0]) == (2, 3)


def test_same_file_names_and_sizes_in_another_data_dir_are_not_confused(tmp_path: Path) -> None:
    """tests/builders.py writes every extract with run id "test": equal paths, sizes and rows."""
    dirs = [build_data_dir(tmp_path / c, {"users": _rows("t1", 2, c)}) for c in ("AA", "BB")]
    got = []
    for d in dirs:  # each data dir has its own cache (DATA_DIR/cache and its memory layer)
        with _open(d) as wb:
            got.append(wb.sql("SELECT DISTINCT country FROM users")["country"].tolist())
    assert got == [["AA"], ["BB"]]


def test_a_cache_dir_shared_by_look_alike_data_dirs(tmp_path: Path) -> None:
    dirs = [build_data_dir(tmp_path / c, {"users": _rows("t1", 2, c)}) for c in ("AA", "BB")]
    got = []
    for d in dirs:
        with _open(d, cache_dir=tmp_path / "shared-cache") as wb:
            got.append(wb.sql("SELECT DISTINCT country FROM users")["country"].tolist())
    assert got == [["AA"], ["BB"]]


def test_ttl_expiry(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(cache_module.DEFAULT_TTL_SECONDS, "user_analytics", 1.5)
    with _open(data_dir) as wb:
        wb.sql(USERS_SQL)
        before = _stats(wb)
        wb.sql(USERS_SQL)
        hit = _stats(wb)
        time.sleep(2.0)
        wb.sql(USERS_SQL)
        expired = _stats(wb)
    assert _delta(before, hit, "memory", "hits") == 1
    assert _delta(hit, expired, "memory", "misses") == 1
    assert _delta(hit, expired, "disk", "misses") == 1  # expired on disk too: recomputed
    assert _delta(hit, expired, "disk", "writes") == 1


def test_a_corrupt_disk_entry_is_ignored_logged_and_rebuilt(
    data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with _open(data_dir) as wb:
        expected = wb.sql(USERS_SQL)
        assert wb.cache is not None and wb.cache.disk is not None
        (entry,) = wb.cache.disk.files("t1")
        blob = entry.read_bytes()
        entry.write_bytes(blob[:-10] + b"garbage!!!")
        wb.cache.memory.clear(None)
        before = _stats(wb)
        with caplog.at_level(logging.WARNING, logger="auterity_lab.cache"):
            got = wb.sql(USERS_SQL)
        after = _stats(wb)
    pd.testing.assert_frame_equal(got, expected)
    assert "corrupt disk cache entry" in caplog.text
    assert _delta(before, after, "disk", "errors") == 1
    assert _delta(before, after, "disk", "writes") == 1
    assert decode_entry(entry.read_bytes()).tenant == "t1"  # rebuilt, readable


def test_an_entry_of_another_tenant_is_never_served(data_dir: Path) -> None:
    with _open(data_dir, tenant="t2") as wb2:
        t2_rows = wb2.sql(USERS_SQL)
    with _open(data_dir, tenant="t1") as wb1:
        assert wb1.cache is not None and wb1.cache.disk is not None
        # plant t2's entry under every key t1 could ask for: copy it into t1's folder
        (t2_entry,) = wb1.cache.disk.files("t2")
        wb1.cache.memory.clear(None)
        planted = wb1.cache.disk.root / "t1" / t2_entry.name
        planted.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(t2_entry, planted)
        got = wb1.sql(USERS_SQL)
    assert got.to_dict("records") == [{"country": "DE", "n": 3}, {"country": "FR", "n": 2}]
    assert t2_rows.to_dict("records") == [{"country": "US", "n": 4}]


@pytest.fixture(scope="module")
def two_tenants(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_data_dir(
        tmp_path_factory.mktemp("tenants"),
        {"users": _rows("t1", 3, "DE") + _rows("t2", 4, "US") + _rows("t2", 1, "DE")},
    )


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(calls=st.lists(st.tuples(st.sampled_from(["t1", "t2"]), st.integers(0, 2)), max_size=12))
def test_a_tenant_only_ever_gets_its_own_results(
    two_tenants: Path, calls: list[tuple[str, int]]
) -> None:
    """Both tenants share one cache; whatever the order of calls, each sees only its rows."""
    path = two_tenants
    sqls = [USERS_SQL, "SELECT count(*) AS n FROM users", "SELECT * FROM users ORDER BY ALL"]
    benches = {t: _open(path, tenant=t) for t in ("t1", "t2")}
    try:
        truth = {}
        for t, bench in benches.items():
            with bench.no_cache():
                truth[t] = [bench.sql(s) for s in sqls]
        for tenant, i in calls:
            got = benches[tenant].sql(sqls[i])
            pd.testing.assert_frame_equal(got, truth[tenant][i])
            assert set(benches[tenant].sql("SELECT tenant_id FROM users")["tenant_id"]) == {tenant}
    finally:
        for bench in benches.values():
            bench.close()


def test_results_that_cannot_be_tracked_are_not_cached(data_dir: Path) -> None:
    with _open(data_dir) as wb:
        before = wb.cache.stats() if wb.cache else None
        for _ in range(2):
            wb.sql("SELECT count(*) AS n FROM duckdb_views()")
            wb.sql("SELECT random() < 2 AS r FROM users")
        after = wb.cache.stats() if wb.cache else None
    assert before is not None and after is not None
    assert after.uncacheable - before.uncacheable == 4
    assert after.layers["memory"].hits == before.layers["memory"].hits


def test_a_registered_frame_is_part_of_the_key(data_dir: Path) -> None:
    with _open(data_dir) as wb:
        wb.register("targets", pd.DataFrame({"country": ["DE"]}))
        sql = "SELECT count(*) AS n FROM users JOIN targets USING (country)"
        first = wb.sql(sql)["n"].iloc[0]
        wb.register("targets", pd.DataFrame({"country": ["DE", "FR"]}))
        second = wb.sql(sql)["n"].iloc[0]
    assert (first, second) == (3, 5)


def test_a_disabled_cache_stores_nothing(data_dir: Path) -> None:
    with _open(data_dir, cache_enabled=False) as wb:
        assert wb.cache is None
        wb.sql(USERS_SQL)
    assert not (data_dir / "cache").exists()


# ---------------------------------------------------------------------------------- functions
CALLS: list[str] = []


@cached("user_analytics", tables=["auterity.users"])
def countries(wb: Workbench, /, *, min_n: int = 0) -> Summary:
    CALLS.append(wb.tenant)
    wb.register("min_counts", pd.DataFrame({"min_n": [min_n]}))
    frame = wb.sql(
        "SELECT country, count(*) AS n FROM users GROUP BY ALL "
        "HAVING count(*) >= (SELECT min_n FROM min_counts) ORDER BY ALL"
    )
    day = dt.date(2026, 3, 1)
    return Summary(frame, float(frame["n"].sum()), day, tuple(frame["country"]), {})


@cached("user_analytics", tables=["auterity.users"])
def reads_too_much(wb: Workbench, /) -> pd.DataFrame:
    CALLS.append("too much")
    return wb.sql(EVENTS_SQL)


def test_a_cached_function_hits_and_follows_its_tables(data_dir: Path) -> None:
    CALLS.clear()
    with _open(data_dir) as wb:
        first = countries(wb, min_n=3)
        again = countries(wb, min_n=3)  # it registered a frame: the key of that state hits
        other = countries(wb, min_n=0)
    with _open(data_dir) as wb:  # a fresh workbench: the state the first call started from
        fresh_session = countries(wb, min_n=3)
    assert CALLS == ["t1", "t1"]
    assert first.labels == again.labels == fresh_session.labels == ("DE",)
    assert other.labels == ("DE", "FR") and other.total == 5.0
    pd.testing.assert_frame_equal(first.frame, again.frame)
    _append_user(data_dir, "t1", "DE")
    with _open(data_dir) as wb:
        after_extract = countries(wb, min_n=3)
    assert CALLS == ["t1", "t1", "t1"] and after_extract.total == 4.0


def test_a_function_reading_an_undeclared_table_is_not_cached(
    data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    CALLS.clear()
    with _open(data_dir) as wb, caplog.at_level(logging.ERROR, logger="auterity_lab.cache"):
        reads_too_much(wb)
        reads_too_much(wb)
    assert CALLS == ["too much", "too much"]
    assert "read undeclared tables auterity.events" in caplog.text


# ---------------------------------------------------------------------------------- redis
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    if not Path(REDIS_SERVER).exists():
        pytest.skip(f"redis-server not installed ({REDIS_SERVER}); .ci/run installs it")
    import redis

    port = _free_port()
    proc = subprocess.Popen(
        [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + 20
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise
            time.sleep(0.05)
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def test_redis_layer_serves_the_team_with_ttl(data_dir: Path, redis_url: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    with _open(data_dir, cache_redis_url=redis_url) as wb:
        expected = wb.sql(OUTPUTS_SQL)
        keys = client.keys("auterity_lab:cache:t1:*")
        assert len(keys) == 1
        assert 0 < client.ttl(keys[0]) <= cache_module.DEFAULT_TTL_SECONDS["user_analytics"]
        assert wb.cache is not None and wb.cache.disk is not None
        wb.cache.memory.clear(None)
        wb.cache.disk.clear(None)  # a teammate's machine: only Redis has it
        before = _stats(wb)
        got = wb.sql(OUTPUTS_SQL)
        after = _stats(wb)
        assert len(wb.cache.disk.files("t1")) == 1  # the Redis hit filled the disk
        assert wb.cache.clear("t1")["redis"] == 1
    pd.testing.assert_frame_equal(got, expected)
    assert _delta(before, after, "redis", "hits") == 1
    assert _delta(before, after, "disk", "misses") == 1


def test_a_corrupt_redis_entry_is_rebuilt(data_dir: Path, redis_url: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    with _open(data_dir, cache_redis_url=redis_url) as wb:
        expected = wb.sql(OUTPUTS_SQL)
        (key,) = client.keys("auterity_lab:cache:t1:*")
        client.set(key, b"ALCACHE1 not really an entry", ex=60)
        assert wb.cache is not None and wb.cache.disk is not None
        wb.cache.memory.clear(None)
        wb.cache.disk.clear(None)
        before = _stats(wb)
        got = wb.sql(OUTPUTS_SQL)
        after = _stats(wb)
    pd.testing.assert_frame_equal(got, expected)
    assert _delta(before, after, "redis", "errors") == 1
    assert decode_entry(client.get(key)).tenant == "t1"


def test_redis_down_degrades_to_memory_and_disk(
    data_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    dead = f"redis://127.0.0.1:{_free_port()}/0"  # nothing listens there
    with _open(data_dir, cache_redis_url=dead) as wb, caplog.at_level(logging.WARNING):
        first = wb.sql(USERS_SQL)
        second = wb.sql(USERS_SQL)
        layers = _stats(wb)
    pd.testing.assert_frame_equal(first, second)
    assert "redis cache layer unavailable" in caplog.text
    assert layers["redis"]["errors"] >= 1 and layers["memory"]["hits"] >= 1


# ---------------------------------------------------------------------------------- CLI
def test_cli_cache_stats_and_clear(data_dir: Path) -> None:
    from typer.testing import CliRunner

    from auterity_lab.cli import app

    with _open(data_dir) as wb:
        wb.sql(USERS_SQL)
        wb.sql(EVENTS_SQL)
    with _open(data_dir, tenant="t2") as wb:
        wb.sql(USERS_SQL)
    runner = CliRunner()
    shown = runner.invoke(app, ["cache", "stats", "-d", str(data_dir), "-f", "csv"])
    assert shown.exit_code == 0, shown.output
    rows = pd.read_csv(io.StringIO(shown.stdout))
    assert rows[["layer", "tenant", "entries", "expired"]].to_dict("records") == [
        {"layer": "disk", "tenant": "t1", "entries": 2, "expired": 0},
        {"layer": "disk", "tenant": "t2", "entries": 1, "expired": 0},
    ]
    cleared = runner.invoke(app, ["cache", "clear", "-d", str(data_dir), "--tenant", "t1"])
    assert cleared.exit_code == 0 and "2 disk entries" in cleared.stdout
    pruned = runner.invoke(app, ["cache", "clear", "-d", str(data_dir), "--expired"])
    assert pruned.exit_code == 0 and "removed 0 expired" in pruned.stdout
    assert [p.parent.name for p in (data_dir / "cache").glob("*/*.entry")] == ["t2"]


# ---------------------------------------------------------------------------------- tab functions
@pytest.mark.parametrize("function", ["daily", "headline_kpis"])
def test_caching_a_tab_function_changes_nothing_but_speed(demo_dir: Path, function: str) -> None:
    """The tab-performance engineer decorates overview/business/ml/workflow functions like this."""
    from auterity_lab import overview
    from auterity_lab.schema import source_tables

    plain = getattr(overview, function)
    decorated = cached("user_analytics", tables=[t.qualified_name for t in source_tables()])(plain)
    window = {"start": "2026-09-01", "end": "2026-11-01"}
    with Workbench.open(demo_dir, tenant="globex") as wb:
        with wb.no_cache():
            expected = plain(wb, **window)
        before = _stats(wb)
        miss = decorated(wb, **window)
        hit = decorated(wb, **window)
        after = _stats(wb)
    pd.testing.assert_frame_equal(miss, expected)
    pd.testing.assert_frame_equal(hit, expected)
    assert _delta(before, after, "memory", "hits") == 1  # the second call, whole


def test_the_memory_layer_is_bounded_by_entries_and_bytes(tmp_path: Path) -> None:
    small = ResultCache(disk_dir=None, memory_entries=3)
    for i in range(5):
        small.put(f"k{i}", "t1", "q", pa.table({"x": [i]}), ttl=60)
    small.get("k2", "t1")  # recently used: survives the next eviction
    small.put("k5", "t1", "q", pa.table({"x": [5]}), ttl=60)
    assert [k for k in (f"k{i}" for i in range(6)) if small.get(k, "t1") is not None] == [
        "k2", "k4", "k5"
    ]  # fmt: skip
    tiny = ResultCache(disk_dir=None, memory_entries=100)
    tiny.memory = cache_module._MemoryLayer(100, max_bytes=3000)
    big = pa.table({"x": list(range(200))})  # about 2 kB encoded
    for i in range(3):
        tiny.put(f"b{i}", "t1", "q", big, ttl=60)
    assert [tiny.get(f"b{i}", "t1") is not None for i in range(3)] == [False, False, True]


# ---------------------------------------------------------------------------------- derived files
def test_registered_derived_files_count_as_reads_of_their_sources(tmp_path: Path) -> None:
    day = tmp_path / "rollups" / "r" / "date=2026-03-01" / "0123abcd.parquet"
    other = tmp_path / "elsewhere.parquet"
    sql = f"SELECT count(*) FROM read_parquet(['{day}'], hive_partitioning = true)"
    assert not statement_reads(sql).cacheable  # not registered (yet): a file may change
    cache_module.register_derived_files([day], sources=["user_sessions"])
    reads = statement_reads(sql)
    assert reads.cacheable and reads.relations == {"user_sessions"}
    both = f"SELECT * FROM read_parquet(['{day}', '{other}']) JOIN users USING (id)"
    assert not statement_reads(both).cacheable and str(other) in statement_reads(both).reason
    dynamic = "SELECT * FROM read_parquet(getvariable('files'))"
    assert "literal file list" in statement_reads(dynamic).reason
    with pytest.raises(ConfigError, match="without globs"):
        cache_module.register_derived_files([tmp_path / "*.parquet"], sources=["users"])
    with pytest.raises(ConfigError, match="source tables"):
        cache_module.register_derived_files([other], sources=["user_day_activity"])


@cached("user_analytics", tables=["auterity.users"], relations=["min_counts"])
def countries_reading_one_relation(wb: Workbench, /) -> pd.DataFrame:
    CALLS.append("one relation")
    return wb.sql(
        "SELECT country, count(*) AS n FROM users GROUP BY ALL "
        "HAVING count(*) >= (SELECT min_n FROM min_counts) ORDER BY ALL"
    )


def test_only_the_declared_relations_enter_a_functions_key(data_dir: Path) -> None:
    CALLS.clear()
    with _open(data_dir) as wb:
        wb.register("min_counts", pd.DataFrame({"min_n": [3]}))
        first = countries_reading_one_relation(wb)
    with _open(data_dir) as wb:  # same relation, plus unrelated ones registered before
        wb.register("min_counts", pd.DataFrame({"min_n": [3]}))
        wb.register("something_else", pd.DataFrame({"x": [1]}))
        wb.create_view("another_view", "SELECT 1 AS y")
        again = countries_reading_one_relation(wb)
        assert CALLS == ["one relation"]  # a hit: the unrelated relations are not in the key
        wb.register("min_counts", pd.DataFrame({"min_n": [0]}))  # the declared one changes
        changed = countries_reading_one_relation(wb)
    assert CALLS == ["one relation", "one relation"]
    pd.testing.assert_frame_equal(first, again)
    assert first["country"].tolist() == ["DE"] and changed["country"].tolist() == ["DE", "FR"]


def test_an_equivalent_view_does_not_split_a_functions_key(data_dir: Path) -> None:
    CALLS.clear()
    with _open(data_dir) as wb:
        countries(wb, min_n=3)
    cache_module.register_equivalent_view("users_again")
    with _open(data_dir) as wb:
        wb.create_view("users_again", "SELECT * FROM users")  # answers as users does
        countries(wb, min_n=3)
        wb.create_view("not_equivalent", "SELECT 1 AS x")
        countries(wb, min_n=3)
    assert CALLS == ["t1", "t1"]  # only the view that is not declared equivalent split the key


# ---------------------------------------------------------------------------------- tab functions
def _tab_functions() -> dict[str, tuple[object, dict[str, object]]]:
    from auterity_lab import business, ml, workflow

    return {
        "user_activity": (business.user_activity, {"interval": "week"}),
        "revenue": (business.revenue, {"interval": "week"}),
        "system_performance": (business.system_performance, {"level": "service"}),
        "run_summary": (workflow.run_summary, {}),
        "step_breakdown": (workflow.step_breakdown, {}),
        "sla_breaches": (workflow.sla_breaches, {}),
        "ai_cost_by_workflow": (workflow.ai_cost_by_workflow, {}),
        "ml_summary": (ml.ml_summary, {}),
        "cost_over_time": (ml.cost_over_time, {"grain": "week"}),
        "prompt_analytics_top": (ml.prompt_analytics, {"top": 5}),
    }


@pytest.mark.parametrize("name", list(_tab_functions()))
def test_newly_cached_tab_functions_hit_whole_and_keep_tenants_apart(
    demo_dir: Path, tmp_path: Path, name: str
) -> None:
    function, extra = _tab_functions()[name]
    kw = {"start": "2026-09-06", "end": "2026-11-01", **extra}
    settings = _settings(demo_dir, cache_dir=tmp_path / "cache")
    expected = {}
    for tenant in ("acme", "globex"):
        with Workbench.open(demo_dir, tenant=tenant, settings=settings) as wb, wb.no_cache():
            expected[tenant] = function(wb, **kw)
    assert not expected["acme"].equals(expected["globex"])  # so a mix-up would show
    for tenant in ("acme", "globex"):
        with Workbench.open(demo_dir, tenant=tenant, settings=settings) as wb:
            miss = function(wb, **kw)
            before = _stats(wb)
            hit = function(wb, **kw)
            after = _stats(wb)
        pd.testing.assert_frame_equal(miss, expected[tenant])
        pd.testing.assert_frame_equal(hit, expected[tenant])
        assert _delta(before, after, "memory", "hits") == 1  # the whole function, one lookup
        assert _delta(before, after, "memory", "misses") == 0
    with Workbench.open(demo_dir, tenant="globex", settings=settings) as wb:  # a new process
        wb.cache.memory.clear(None)
        before = _stats(wb)
        from_disk = function(wb, **kw)
        assert _delta(before, _stats(wb), "disk", "hits") == 1
    pd.testing.assert_frame_equal(from_disk, expected["globex"])


def _drop_failed_runs(path: Path) -> None:
    """A new extract of workflow_runs only: the current rows without the failed runs."""
    con = _current_rows(path, "relaycore.workflow_runs")
    write_extract(con, path, table("workflow_runs"), "SELECT * FROM cur WHERE status <> 'failed'")


def test_a_new_extract_invalidates_cached_workflow_functions(
    demo_dir: Path, tmp_path: Path
) -> None:
    from auterity_lab import workflow

    data = tmp_path / "demo"
    shutil.copytree(demo_dir, data, ignore=shutil.ignore_patterns("cache", "rollups", ".*lock*"))
    window = {"start": "2026-09-06", "end": "2026-11-01"}
    with _open(data, tenant="acme") as wb:
        before = workflow.run_summary(wb, **window)
        sla_before = workflow.sla_breaches(wb, **window)
    _drop_failed_runs(data)
    with _open(data, tenant="acme") as wb:
        after = workflow.run_summary(wb, **window)
        sla_after = workflow.sla_breaches(wb, **window)
        with wb.no_cache():
            pd.testing.assert_frame_equal(after, workflow.run_summary(wb, **window))
            pd.testing.assert_frame_equal(sla_after, workflow.sla_breaches(wb, **window))
    assert before["failed"].sum() > 0 and after["failed"].sum() == 0
    assert sla_after["runs"].sum() < sla_before["runs"].sum()


@settings(deadline=None, max_examples=40, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.integers(-(2**40), 2**40), st.booleans(), st.text(max_size=12), st.floats()),
        max_size=60,
    )
)
def test_the_size_checked_before_encoding_never_exceeds_the_encoded_size(rows: list) -> None:
    frame = pd.DataFrame(rows, columns=["i", "b", "s", "f"]).astype({"b": bool})
    value = {"a": frame, "b": [pa.Table.from_pandas(frame, preserve_index=False)]}
    assert cache_module._frame_bytes(value) <= len(encode_entry("k", "t", "q", value, 0.0))


def test_a_result_too_big_to_cache_is_refused_before_encoding(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    frame = pd.DataFrame({"x": range(1000)})  # 8 kB of int64
    store = ResultCache(disk_dir=None, memory_entries=8)
    monkeypatch.setattr(cache_module, "MAX_ENTRY_BYTES", 4000)
    monkeypatch.setattr(cache_module, "encode_entry", None)  # would raise if it were called
    assert store.put("k", "t1", "q", frame, ttl=60) is frame
    assert store.get("k", "t1") is None and store.stats().uncacheable == 1


def test_code_version_follows_the_sql_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a cached function's key holds code_version(): editing a query it runs must change it
    (tmp_path / "q.sql").write_text("SELECT 1")
    monkeypatch.setattr(cache_module, "packaged_dir", lambda name: tmp_path)
    before = cache_module.code_version.__wrapped__()
    assert cache_module.code_version.__wrapped__() == before
    (tmp_path / "q.sql").write_text("SELECT 2")
    assert cache_module.code_version.__wrapped__() != before


@pytest.mark.parametrize("first", ["data_scientist", "viewer"])
def test_cached_functions_never_answer_masked_text_with_raw_text_or_back(
    demo_dir: Path, tmp_path: Path, first: str
) -> None:
    """A viewer (text masked) and a data scientist (raw text) share one cache: each gets what a
    computation without the cache gives them, whoever asked first."""
    from auterity_lab import ml
    from auterity_lab.security import SecurityContext

    settings = Settings(data_dir=demo_dir, cache_dir=tmp_path / "cache")
    kw = {"start": "2026-10-01", "end": "2026-11-01", "top": 5}
    roles = [first, "viewer" if first == "data_scientist" else "data_scientist"]
    got, fresh = {}, {}
    for role in roles:
        ctx = SecurityContext(f"u-{role}", "acme", roles=frozenset({role}))
        with Workbench.open(demo_dir, tenant="acme", settings=settings, context=ctx) as wb:
            got[role] = ml.prompt_analytics(wb, **kw)
            with wb.no_cache():
                fresh[role] = ml.prompt_analytics(wb, **kw)
    assert got["viewer"]["prompt_preview"].str.startswith("[redacted").all()
    assert not got["data_scientist"]["prompt_preview"].str.startswith("[redacted").any()
    for role in roles:
        pd.testing.assert_frame_equal(got[role], fresh[role])


@cached("ml_performance", tables=["neuroweaver.prompt_outputs"], relations=[])
def _first_prompt(wb: Workbench, /) -> pd.DataFrame:
    return wb.library_sql("SELECT min(prompt) AS prompt FROM prompt_outputs")


@cached("user_analytics", tables=["auterity.user_sessions"], relations=[])
def _prompt_beside_sessions(wb: Workbench, /) -> pd.DataFrame:
    """Declares only user_sessions, but a cached function it calls reads prompt outputs."""
    sessions = wb.library_sql("SELECT count(*) AS n FROM user_sessions")["n"].iloc[0]
    return _first_prompt(wb).assign(sessions=sessions)


def test_a_cached_function_answering_from_the_cache_still_counts_its_reads(
    demo_dir: Path, tmp_path: Path
) -> None:
    """The inner function's hit counts as a read of prompt_outputs for the outer one: the outer
    result (undeclared table) is never stored, so a viewer never gets the raw prompt from it."""
    from auterity_lab.security import SecurityContext

    settings = Settings(data_dir=demo_dir, cache_dir=tmp_path / "cache")
    with Workbench.open(demo_dir, tenant="acme", settings=settings) as raw:
        for _ in range(3):  # computed, then the inner one is a hit
            _prompt_beside_sessions(raw)
        assert raw.cache.stats().uncacheable == 3  # type: ignore[union-attr]
    viewer = SecurityContext("v", "acme", roles=frozenset({"viewer"}))
    with Workbench.open(demo_dir, tenant="acme", settings=settings, context=viewer) as wb:
        got = _prompt_beside_sessions(wb)["prompt"].iloc[0]
    assert got.startswith("[redacted")
