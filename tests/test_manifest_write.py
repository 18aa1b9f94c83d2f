"""Tests of ``manifest.write_extract``: partition days, sort order, entries, and rewrites that
never touch the live files before the manifest swap.

Expected values are computed here independently: partition days in Python, order and counts by
reading every file back in its physical order (``file_row_number``) on a separate connection.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import auterity_lab.manifest as manifest_module
from auterity_lab.manifest import (
    read_manifest,
    remove_partitions,
    sweep_orphans,
    write_extract,
)
from auterity_lab.schema import table

EVENTS = table("events")
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
# many rows, three days, three tenants, ids and times in no particular order
ROWS_SQL = """
SELECT {cols} FROM (
    SELECT uuid_v4 AS id, ['acme', 'globex', 'initech'][1 + (hash(i) % 3)::INT] AS tenant_id,
           TIMESTAMPTZ '{start}' + to_microseconds((hash(i * 7) % {span})::BIGINT) AS created_at,
           'feature_use' AS event_type, i
    FROM (SELECT range AS i, gen_random_uuid() AS uuid_v4 FROM range({n}))
)
"""


def _select(n: int, *, start: str = "2026-03-01 00:00:00+00", days: int = 3) -> str:
    cols = ", ".join(
        c.name if c.name in {"id", "tenant_id", "created_at", "event_type"} else
        f"CAST(NULL AS {c.duckdb_type}) AS {c.name}"
        for c in EVENTS.columns
    )  # fmt: skip
    return ROWS_SQL.format(cols=cols, start=start, span=days * 86_400_000_000, n=n)


def _connect(threads: int = 4) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(config={"threads": threads, "preserve_insertion_order": False})
    con.execute("SET TimeZone='UTC'")
    return con


def _read(data_dir: Path, path: str) -> list[tuple]:
    """A file's rows in physical order, read on one thread."""
    con = duckdb.connect(config={"threads": 1})
    con.execute("SET TimeZone='UTC'")
    return con.execute(
        "SELECT tenant_id, created_at, id FROM read_parquet($p, file_row_number = true) "
        "ORDER BY file_row_number",
        {"p": str(data_dir / path)},
    ).fetchall()


def _copy_source(con: duckdb.DuckDBPyConnection, n: int, **kwargs: object) -> str:
    """Materialise the random rows once, so two writes see identical rows."""
    con.execute(f"CREATE OR REPLACE TABLE src AS {_select(n, **kwargs)}")
    return "SELECT * FROM src"


# ----------------------------------------------------------------------------- partition day
# years 1000 to 9000 (Python's dates end at 1 and 9999)
@given(st.lists(st.integers(-(3 * 10**16), 22 * 10**16), min_size=1, max_size=50))
@settings(max_examples=40, deadline=None)
def test_partition_day_is_the_utc_day(micros: list[int]) -> None:
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    day = manifest_module._utc_day("ts", "TIMESTAMP WITH TIME ZONE")
    got = con.execute(
        f"SELECT {day} FROM (SELECT make_timestamptz(unnest($us)) AS ts)", {"us": micros}
    ).fetchall()
    assert [g for (g,) in got] == [(EPOCH + dt.timedelta(microseconds=u)).date() for u in micros]


def test_files_land_in_their_utc_day(tmp_path: Path) -> None:
    con = _connect()
    # rows one microsecond either side of midnight, and before 1970
    edges = [
        "2026-03-01 23:59:59.999999+00", "2026-03-02 00:00:00+00",
        "1969-12-31 23:59:59.999999+00", "2026-03-01 23:30:00-02",
    ]  # fmt: skip
    sql = _select(1).replace("FROM range(1)", f"FROM range({len(edges)})")
    con.execute(f"CREATE TABLE src AS {sql}")
    for i, ts in enumerate(edges):
        con.execute(
            "UPDATE src SET created_at = CAST($ts AS TIMESTAMPTZ) "
            "WHERE id = (SELECT id FROM src ORDER BY id LIMIT 1 OFFSET $i)",
            {"ts": ts, "i": i},
        )
    write_extract(con, tmp_path, EVENTS, "SELECT * FROM src", run_id="r", sort=False)
    entry = read_manifest(tmp_path).tables["auterity.events"]
    days = sorted(Path(f.path).parent.name for f in entry.files)
    assert days == ["date=1969-12-31", "date=2026-03-01", "date=2026-03-02"]
    per_day = {Path(f.path).parent.name: f.rows for f in entry.files}
    assert per_day == {"date=1969-12-31": 1, "date=2026-03-01": 1, "date=2026-03-02": 2}
    assert entry.min_ts == "1969-12-31T23:59:59.999999+00:00"
    assert entry.max_ts == "2026-03-02T01:30:00.000000+00:00"


# ----------------------------------------------------------------------------- order
def test_sorted_write_is_really_sorted_on_many_threads(tmp_path: Path) -> None:
    con = _connect(threads=4)
    select = _copy_source(con, 200_000)  # from about 150,000 rows DuckDB's threads interleave
    entry = write_extract(con, tmp_path, EVENTS, select, run_id="r")
    assert con.execute("SELECT current_setting('threads')").fetchone() == (4,)
    assert len(entry.files) >= 3
    for f in entry.files:
        found = _read(tmp_path, f.path)
        assert len(found) == f.rows
        assert found == sorted(found), f.path


def test_unsorted_write_holds_the_same_rows(tmp_path: Path) -> None:
    con = _connect(threads=4)
    select = _copy_source(con, 30_000)
    sorted_entry = write_extract(con, tmp_path / "sorted", EVENTS, select, run_id="r")
    entry = write_extract(con, tmp_path / "unsorted", EVENTS, select, run_id="r", sort=False)
    per_day = {}
    for e, root in ((sorted_entry, tmp_path / "sorted"), (entry, tmp_path / "unsorted")):
        per_day[root.name] = {
            Path(f.path).parent.name: sorted(_read(root, f.path)) for f in e.files
        }
    assert per_day["sorted"] == per_day["unsorted"]
    want_rows, lo, hi, tenants = con.execute(
        "SELECT count(*), strftime(min(created_at), '%Y-%m-%dT%H:%M:%S.%f+00:00'), "
        "strftime(max(created_at), '%Y-%m-%dT%H:%M:%S.%f+00:00'), "
        "list(DISTINCT tenant_id ORDER BY tenant_id) FROM src"
    ).fetchone()
    for e, root in ((sorted_entry, tmp_path / "sorted"), (entry, tmp_path / "unsorted")):
        assert (e.rows, e.min_ts, e.max_ts, list(e.tenants)) == (want_rows, lo, hi, tenants)
        for f in e.files:
            assert f.bytes == (root / f.path).stat().st_size
            assert f.rows == len(_read(root, f.path))


# ----------------------------------------------------------------------------- entries
def test_touched_and_removed_partitions_keep_an_exact_entry(tmp_path: Path) -> None:
    con = _connect()
    con.execute(f"CREATE TABLE src AS {_select(3000, days=3)}")
    write_extract(con, tmp_path, EVENTS, "SELECT * FROM src", run_id="r1", sort=False)
    # replace the middle day with a tenant of its own; the other days are kept as they were
    con.execute(
        "CREATE TABLE day2 AS SELECT * REPLACE ('umbrella' AS tenant_id) FROM src "
        "WHERE created_at >= TIMESTAMPTZ '2026-03-02 00:00:00+00' "
        "AND created_at < TIMESTAMPTZ '2026-03-03 00:00:00+00' AND tenant_id = 'acme'"
    )
    entry = write_extract(
        con, tmp_path, EVENTS, "SELECT * FROM day2", run_id="r2", replace_partitions="touched",
        sort=False,
    )  # fmt: skip
    con.execute(
        "CREATE TABLE want AS SELECT * FROM src WHERE created_at < TIMESTAMPTZ "
        "'2026-03-02 00:00:00+00' OR created_at >= TIMESTAMPTZ '2026-03-03 00:00:00+00' "
        "UNION ALL SELECT * FROM day2"
    )
    fmt = "'%Y-%m-%dT%H:%M:%S.%f+00:00'"
    want = con.execute(
        f"SELECT count(*), strftime(min(created_at), {fmt}), strftime(max(created_at), {fmt}), "
        "list(DISTINCT tenant_id ORDER BY tenant_id) FROM want"
    ).fetchone()
    assert (entry.rows, entry.min_ts, entry.max_ts, list(entry.tenants)) == want
    assert "umbrella" in entry.tenants
    # dropping the first day: the range now starts on the second, from the kept files' stats
    remove_partitions(con, tmp_path, EVENTS, [dt.date(2026, 3, 1)])
    after = read_manifest(tmp_path).tables["auterity.events"]
    want = con.execute(
        f"SELECT count(*), strftime(min(created_at), {fmt}), strftime(max(created_at), {fmt}) "
        "FROM want WHERE created_at >= TIMESTAMPTZ '2026-03-02 00:00:00+00'"
    ).fetchone()
    assert (after.rows, after.min_ts, after.max_ts) == want


# ----------------------------------------------------------------------------- rewrites
def _listed_state(data_dir: Path) -> dict[str, tuple[int, int, list[tuple]]]:
    entry = read_manifest(data_dir).tables["auterity.events"]
    return {
        f.path: (f.rows, (data_dir / f.path).stat().st_size, _read(data_dir, f.path))
        for f in entry.files
    }


def test_rewrite_with_the_same_run_id_never_touches_live_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    con = _connect()
    con.execute(f"CREATE TABLE old AS {_select(2000)}")
    con.execute(f"CREATE TABLE new AS {_select(1500)}")
    write_extract(con, tmp_path, EVENTS, "SELECT * FROM old", run_id="demo")
    before = _listed_state(tmp_path)
    assert all(Path(p).name == "demo-0.parquet" for p in before)
    assert {rows for rows, size, _ in before.values()} != {0}

    # a writer that dies after moving its files into place, before the manifest swap
    def die(*args: object, **kwargs: object) -> None:
        raise RuntimeError("killed before the manifest swap")

    monkeypatch.setattr(manifest_module, "write_manifest", die)
    with pytest.raises(RuntimeError, match="killed"):
        write_extract(con, tmp_path, EVENTS, "SELECT * FROM new", run_id="demo")
    monkeypatch.undo()
    # every listed file is still exactly what the manifest says: same rows, size and contents
    assert _listed_state(tmp_path) == before
    assert sum(f[0] for f in before.values()) == 2000

    entry = write_extract(con, tmp_path, EVENTS, "SELECT * FROM new", run_id="demo")
    assert entry.rows == 1500
    assert not set(before) & {f.path for f in entry.files}
    assert all(not (tmp_path / p).exists() for p in before)
    got = sorted(row for f in entry.files for row in _read(tmp_path, f.path))
    want = con.execute("SELECT tenant_id, created_at, id FROM new ORDER BY ALL").fetchall()
    assert got == want
    # the dead writer's files are orphans: the sweep removes them and nothing listed
    swept = sweep_orphans(tmp_path, ["auterity.events"])
    assert swept and all(".1.parquet" in p.name for p in swept)
    on_disk = {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*.parquet")}
    assert on_disk == {f.path for f in entry.files}
    # and with the orphans gone, the next rewrite takes the free plain names again
    again = write_extract(con, tmp_path, EVENTS, "SELECT * FROM old", run_id="demo")
    assert {Path(f.path).name for f in again.files} == {"demo-0.parquet"}


def test_span_of_files_without_statistics_is_read_from_the_values(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    times = [dt.datetime(2026, 3, d, 5, tzinfo=dt.UTC) for d in (4, 1, 9)]
    frame = pa.table({"created_at": pa.array(times, pa.timestamp("us", tz="UTC"))})
    pq.write_table(frame, tmp_path / "with.parquet")
    pq.write_table(frame, tmp_path / "without.parquet", write_statistics=False)
    con = _connect()
    for name in ("with", "without"):
        span = manifest_module._parquet_span(con, [str(tmp_path / f"{name}.parquet")], "created_at")
        assert span == (min(times), max(times)), name
    empty = pa.table({"created_at": pa.array([None], pa.timestamp("us", tz="UTC"))})
    pq.write_table(empty, tmp_path / "nulls.parquet")
    assert (
        manifest_module._parquet_span(con, [str(tmp_path / "nulls.parquet")], "created_at") is None
    )
