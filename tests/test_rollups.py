"""The user-day rollup: hand-worked rows, equality with the row-level queries, incremental
rebuilds that equal a full one, and a stale rollup that is never read."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import uuid
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auterity_lab import overview, rollups
from auterity_lab.business import stickiness
from auterity_lab.errors import QueryError
from auterity_lab.manifest import read_manifest, write_extract
from auterity_lab.schema import table
from auterity_lab.warehouse import Workbench

from .builders import build_data_dir

U1, U2, U3 = (str(uuid.UUID(int=i)) for i in (1, 2, 3))


def _session(tenant: str, user: str | None, at: str, duration: int | None, pages: int | None):
    return {
        "tenant_id": tenant,
        "user_id": user,
        "created_at": at,
        "start_time": at,
        "duration": duration,
        "page_views": pages,
    }


HAND_SESSIONS = [
    _session("t1", U1, "2026-03-01 08:00:00", 60, 1),
    _session("t1", U1, "2026-03-01 23:59:59", 30, 3),
    _session("t1", U2, "2026-03-01 10:00:00", None, None),
    _session("t1", None, "2026-03-01 11:00:00", 10, 1),
    _session("t1", U2, "2026-03-02 00:00:00", 100, 2),
    _session("t2", U3, "2026-03-01 09:00:00", 5, 1),
    _session("t1", U1, "2026-03-04 12:00:00", 20, 1),
]


@pytest.fixture
def hand_dir(tmp_path: Path) -> Path:
    users = [
        {"id": u, "tenant_id": t, "created_at": "2026-02-01", "device": d}
        for u, t, d in ((U1, "t1", "mobile"), (U2, "t1", "desktop"), (U3, "t2", "mobile"))
    ]
    return build_data_dir(tmp_path / "hand", {"users": users, "user_sessions": HAND_SESSIONS})


@pytest.fixture
def demo_copy(demo_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the demo extracts (building a rollup writes into the directory)."""
    target = tmp_path / "demo"
    shutil.copytree(demo_dir, target, ignore=shutil.ignore_patterns("rollups", ".*lock*"))
    return target


def _rollup_rows(data_dir: Path, tenant: str) -> pd.DataFrame:
    with Workbench.open(data_dir, tenant=tenant) as wb:
        assert rollups.attach_rollups(wb) == {"user_day_activity"}
        return wb.sql("SELECT * FROM user_day_activity ORDER BY date, user_id NULLS LAST")


# ------------------------------------------------------------------------------ hand-worked
def test_hand_worked_user_days(hand_dir: Path) -> None:
    built = rollups.build_rollups(hand_dir)["user_day_activity"]
    assert (built.rebuilt, built.kept, built.removed) == (3, 0, 0)
    assert built.rows == 6  # t1: U1, U2, NULL on 03-01; U2 on 03-02; U1 on 03-04; t2: U3
    got = _rollup_rows(hand_dir, "t1")
    assert got["tenant_id"].tolist() == ["t1"] * 5
    assert [None if pd.isna(v) else uuid.UUID(str(v)) for v in got["user_id"]] == [
        uuid.UUID(U1),
        uuid.UUID(U2),
        None,
        uuid.UUID(U2),
        uuid.UUID(U1),
    ]
    assert [d.date() if hasattr(d, "date") else d for d in got["date"]] == [
        dt.date(2026, 3, d) for d in (1, 1, 1, 2, 4)
    ]
    expected = {
        "sessions": [2, 1, 1, 1, 1],
        "duration_sum": [90, None, 10, 100, 20],
        "duration_count": [2, 0, 1, 1, 1],
        "page_views_sum": [4, None, 1, 2, 1],
        "page_views_count": [2, 0, 1, 1, 1],
        "bounced_sessions": [1, 0, 1, 0, 1],
    }
    for col, values in expected.items():
        assert [None if pd.isna(v) else int(v) for v in got[col]] == values, col
    # the other tenant's row is invisible to t1 and visible to t2
    assert _rollup_rows(hand_dir, "t2")["sessions"].tolist() == [1]


def test_hand_worked_overview_from_the_rollup(hand_dir: Path) -> None:
    rollups.build_rollups(hand_dir)
    with Workbench.open(hand_dir, tenant="t1") as wb:
        assert rollups.usable(wb, "user_day_activity", start="2026-03-01", end="2026-03-05")
        daily = rollups.query(wb, "overview_daily_auterity", start="2026-03-01", end="2026-03-05")
    assert daily["active_users"].tolist() == [2, 1, 0, 1]  # NULL users are not users
    assert daily["sessions"].tolist() == [4, 1, 0, 1]
    assert daily["avg_session_duration"].iloc[0] == pytest.approx((60 + 30 + 10) / 3)
    assert pd.isna(daily["avg_session_duration"].iloc[2])


def test_partial_days_never_read_the_rollup(hand_dir: Path) -> None:
    rollups.build_rollups(hand_dir)
    with Workbench.open(hand_dir, tenant="t1") as wb:
        assert not rollups.usable(
            wb, "user_day_activity", start="2026-03-01 09:00:00", end="2026-03-05"
        )
        assert not rollups.usable(
            wb, "user_day_activity", start="2026-03-01", end="2026-03-04 12:00:00"
        )
        kpis = overview.system_kpis(
            wb, system="auterity", start="2026-03-01 09:00:00", end="2026-03-05"
        ).set_index("metric")
    # sessions from 09:00 on 03-01: U1 23:59:59, U2 10:00, NULL 11:00, U2 03-02, U1 03-04
    assert kpis.loc["sessions", "value"] == 5
    assert kpis.loc["active_users", "value"] == 2


# ------------------------------------------------------------------- equal to the row queries
def test_rollup_queries_equal_the_row_queries(demo_copy: Path) -> None:
    rollups.build_rollups(demo_copy)
    cases = [
        ("acme", "2026-10-02", "2026-11-01", {"breakdown": "device"}),
        ("acme", "2026-07-01", "2026-11-02", {}),
        ("initech", "2026-10-31", "2026-11-02", {"country": ["US", "DE"], "plan": ["pro"]}),
    ]
    for tenant, start, end, scope in cases:
        with Workbench.open(demo_copy, tenant=tenant) as wb:
            assert rollups.usable(wb, "user_day_activity", start=start, end=end)
            for name in ("overview_daily_auterity", "overview_kpis_auterity"):
                pd.testing.assert_frame_equal(
                    rollups.query(wb, name, start=start, end=end),
                    wb.query(name, start=start, end=end),
                    check_exact=True,
                    obj=f"{name} {tenant} {start}..{end}",
                )
            pd.testing.assert_frame_equal(
                rollups.query(wb, "business_stickiness", start=start, end=end, **scope),
                wb.query("business_stickiness", start=start, end=end, **scope),
                check_exact=True,
                obj=f"stickiness {tenant} {start}..{end} {scope}",
            )


def test_public_functions_give_the_same_frames_with_and_without_the_rollup(
    demo_dir: Path, demo_copy: Path
) -> None:
    rollups.build_rollups(demo_copy)
    kw = {"start": "2026-09-01", "end": "2026-11-01"}
    with (
        Workbench.open(demo_dir, tenant="acme") as rows,
        Workbench.open(demo_copy, tenant="acme") as rolled,
    ):
        assert rollups.usable(rolled, "user_day_activity", **kw)
        pd.testing.assert_frame_equal(
            overview.system_daily(rolled, system="auterity", **kw),
            overview.system_daily(rows, system="auterity", **kw),
            check_exact=True,
        )
        pd.testing.assert_frame_equal(
            overview.system_kpis(rolled, system="auterity", **kw),
            overview.system_kpis(rows, system="auterity", **kw),
            check_exact=True,
        )
        pd.testing.assert_frame_equal(
            stickiness(rolled, breakdown="plan", **kw), stickiness(rows, breakdown="plan", **kw)
        )


# ------------------------------------------------------------------------ incremental builds
def _rewrite_day(data_dir: Path, day: str, extra_user: str) -> None:
    """Extract user_sessions again for ``day`` only, with one more session on it."""
    manifest = read_manifest(data_dir)
    files = [
        str(data_dir / f.path)
        for f in manifest.tables["auterity.user_sessions"].files
        if f"date={day}/" in f.path
    ]
    tbl = table("user_sessions")
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    cols = ", ".join(tbl.column_names)
    src = "read_parquet(" + repr(files) + ")" if files else None
    values = {
        "id": f"'{uuid.uuid4()}'",
        "tenant_id": "'t1'",
        "user_id": f"'{extra_user}'",
        "start_time": f"'{day} 12:00:00+00'",
        "created_at": f"'{day} 12:00:00+00'",
        "duration": "7",
        "page_views": "2",
    }
    new_row = "SELECT " + ", ".join(
        f"CAST({values.get(c.name, 'NULL')} AS {c.duckdb_type}) AS {c.name}" for c in tbl.columns
    )
    select = f"SELECT {cols} FROM ({new_row})"
    if src:
        select = f"SELECT {cols} FROM {src} UNION ALL {select}"
    write_extract(con, data_dir, tbl, select, replace_partitions="touched", run_id="again")
    con.close()


def test_incremental_rebuild_equals_a_full_rebuild(hand_dir: Path, tmp_path: Path) -> None:
    first = rollups.build_rollups(hand_dir)["user_day_activity"]
    assert first.rebuilt == 3
    again = rollups.build_rollups(hand_dir)["user_day_activity"]
    assert (again.rebuilt, again.kept) == (0, 3)  # nothing changed: nothing rebuilt

    _rewrite_day(hand_dir, "2026-03-02", U1)  # a changed day
    _rewrite_day(hand_dir, "2026-03-06", U2)  # a new day
    incremental = rollups.build_rollups(hand_dir)["user_day_activity"]
    assert (incremental.rebuilt, incremental.kept, incremental.removed) == (2, 2, 0)

    full_dir = tmp_path / "full"
    shutil.copytree(hand_dir, full_dir, ignore=shutil.ignore_patterns("rollups"))
    full = rollups.build_rollups(full_dir, full=True)["user_day_activity"]
    assert full.rebuilt == 4 and full.rows == incremental.rows == 8
    assert incremental.source_fingerprint == full.source_fingerprint
    pd.testing.assert_frame_equal(_rollup_rows(hand_dir, "t1"), _rollup_rows(full_dir, "t1"))
    # the superseded file of the rewritten day is gone, only listed files remain
    state = rollups.rollup_state(hand_dir, "user_day_activity")
    on_disk = {str(p.relative_to(hand_dir)) for p in (hand_dir / "rollups").rglob("*.parquet")}
    assert on_disk == {p["path"] for p in state["partitions"].values()}


def test_removed_days_leave_the_rollup(hand_dir: Path) -> None:
    rollups.build_rollups(hand_dir)
    manifest = read_manifest(hand_dir)
    entry = manifest.tables["auterity.user_sessions"]
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    kept = [str(hand_dir / f.path) for f in entry.files if "date=2026-03-04/" not in f.path]
    cols = ", ".join(table("user_sessions").column_names)
    write_extract(
        con, hand_dir, table("user_sessions"), f"SELECT {cols} FROM read_parquet({kept!r})"
    )
    built = rollups.build_rollups(hand_dir)["user_day_activity"]
    # a full re-extract writes new files, so its days are rebuilt; the dropped day is removed
    assert (built.rebuilt, built.kept, built.removed) == (2, 0, 1)
    assert dt.date(2026, 3, 4) not in {
        d.date() if hasattr(d, "date") else d for d in _rollup_rows(hand_dir, "t1")["date"]
    }


# ------------------------------------------------------------------------------ staleness
def test_a_stale_rollup_is_not_used(hand_dir: Path) -> None:
    rollups.build_rollups(hand_dir)
    _rewrite_day(hand_dir, "2026-03-02", U1)  # a new extract, no rebuild
    with Workbench.open(hand_dir, tenant="t1") as wb:
        assert not rollups.is_fresh(wb, "user_day_activity")
        assert not rollups.usable(wb, "user_day_activity", start="2026-03-01", end="2026-03-05")
        assert rollups.attach_rollups(wb) == frozenset()
        with pytest.raises(QueryError, match="not fresh"):
            wb.sql("SELECT count(*) FROM user_day_activity")
        daily = overview.system_daily(wb, system="auterity", start="2026-03-01", end="2026-03-05")
    assert daily["sessions"].tolist() == [4, 2, 0, 1]  # the new session counts: rows were read
    assert daily["active_users"].tolist() == [2, 2, 0, 1]


def test_a_workbench_opened_before_the_rebuild_keeps_reading_rows(hand_dir: Path) -> None:
    with Workbench.open(hand_dir, tenant="t1") as wb:
        assert not rollups.usable(wb, "user_day_activity", start="2026-03-01", end="2026-03-05")
        rollups.build_rollups(hand_dir)
        assert rollups.attach_rollups(wb) == {"user_day_activity"}  # same extracts: fresh


@pytest.mark.parametrize("damage", ["garbage", "definition", "missing_file", "unavailable_source"])
def test_damaged_rollups_are_not_fresh(hand_dir: Path, damage: str) -> None:
    rollups.build_rollups(hand_dir)
    state_path = hand_dir / "rollups" / "user_day_activity.json"
    state = json.loads(state_path.read_text())
    strict = True
    if damage == "garbage":
        state_path.write_text("{not json")
    elif damage == "definition":
        state["definition"] = "0" * 16
        state_path.write_text(json.dumps(state))
    elif damage == "missing_file":
        (hand_dir / next(iter(state["partitions"].values()))["path"]).unlink()
    else:
        extract = hand_dir / read_manifest(hand_dir).tables["auterity.user_sessions"].files[0].path
        extract.write_bytes(b"not parquet")
        strict = False
    with Workbench.open(hand_dir, tenant="t1", strict=strict) as wb:
        assert not rollups.is_fresh(wb, "user_day_activity")
    rebuilt = rollups.build_rollups(hand_dir)["user_day_activity"] if strict else None
    if rebuilt is not None:  # a rebuild repairs it
        with Workbench.open(hand_dir, tenant="t1") as wb:
            assert rollups.is_fresh(wb, "user_day_activity")


def test_unknown_names_are_clear_errors(hand_dir: Path) -> None:
    with pytest.raises(rollups.RollupError, match="unknown rollup 'nope'|unknown rollup nope"):
        rollups.build_rollups(hand_dir, names=["nope"])
    with Workbench.open(hand_dir, tenant="t1") as wb, pytest.raises(Exception, match="no rollup"):
        rollups.query(wb, "overview_weekly", start="2026-03-01", end="2026-03-02")


# ------------------------------------------------------------------------------ property
_DAY0 = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
_SESSIONS = st.lists(
    st.tuples(
        st.sampled_from([U1, U2, U3, None]),
        st.integers(min_value=0, max_value=4 * 24 * 60 - 1),  # minute within 4 days
        st.one_of(st.none(), st.integers(min_value=0, max_value=5000)),
        st.one_of(st.none(), st.integers(min_value=0, max_value=4)),
    ),
    min_size=1,
    max_size=25,
)


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(sessions=_SESSIONS)
def test_property_rollup_daily_figures_equal_the_row_level_ones(
    tmp_path_factory: pytest.TempPathFactory, sessions: list
) -> None:
    d = tmp_path_factory.mktemp("prop")
    rows = [
        _session("t1", u, (_DAY0 + dt.timedelta(minutes=m)).isoformat(), dur, pages)
        for u, m, dur, pages in sessions
    ]
    build_data_dir(d, {"user_sessions": rows})
    rollups.build_rollups(d)
    kw = {"start": "2026-02-28", "end": "2026-03-06"}
    with Workbench.open(d, tenant="t1") as wb:
        assert rollups.usable(wb, "user_day_activity", **kw)
        for name in ("overview_daily_auterity", "overview_kpis_auterity", "business_stickiness"):
            pd.testing.assert_frame_equal(
                rollups.query(wb, name, **kw), wb.query(name, **kw), check_exact=True, obj=name
            )


# ------------------------------------------------------------------------------ the cache
def _cached_daily(data_dir: Path, tenant: str) -> tuple[pd.DataFrame, dict[str, int]]:
    """The Auterity daily series twice on one workbench: the second call's cache counters."""
    with Workbench.open(data_dir, tenant=tenant) as wb:
        assert rollups.usable(wb, "user_day_activity", start="2026-03-01", end="2026-03-05")
        overview.system_daily(wb, system="auterity", start="2026-03-01", end="2026-03-05")
        before = wb.cache.stats()
        daily = overview.system_daily(wb, system="auterity", start="2026-03-01", end="2026-03-05")
        after = wb.cache.stats()
    return daily, {
        "hits": after.layers["memory"].hits - before.layers["memory"].hits,
        "uncacheable": after.uncacheable - before.uncacheable,
    }


def test_results_read_from_the_rollup_are_cached_per_tenant_and_extract(hand_dir: Path) -> None:
    rollups.build_rollups(hand_dir)
    daily, counts = _cached_daily(hand_dir, "t1")
    assert counts == {"hits": 1, "uncacheable": 0}  # was: the rollup's read_parquet never cached
    assert daily["sessions"].tolist() == [4, 1, 0, 1]
    other, _ = _cached_daily(hand_dir, "t2")
    assert other["sessions"].tolist() == [1, 0, 0, 0]  # t2's own rows, not t1's cached ones
    _rewrite_day(hand_dir, "2026-03-02", U1)  # a new extract of user_sessions ...
    rollups.build_rollups(hand_dir)  # ... and the rollup follows it
    again, counts = _cached_daily(hand_dir, "t1")
    assert counts == {"hits": 1, "uncacheable": 0}
    assert again["sessions"].tolist() == [4, 2, 0, 1]  # the new session: not the cached result
    with Workbench.open(hand_dir, tenant="t1") as wb, wb.no_cache():
        rows = wb.query("overview_daily_auterity", start="2026-03-01", end="2026-03-05")
    pd.testing.assert_frame_equal(again, rows)


def test_a_function_cached_before_the_rollup_was_attached_hits_after(hand_dir: Path) -> None:
    from auterity_lab.business import business_metrics

    rollups.build_rollups(hand_dir)
    window = {"start": "2026-03-01", "end": "2026-03-05"}
    with Workbench.open(hand_dir, tenant="t1") as wb:
        first = business_metrics(wb, **window)  # attaches the rollup as it runs
    with Workbench.open(hand_dir, tenant="t1") as wb:
        rollups.attach_rollups(wb)  # another function attached it first this time
        before = wb.cache.stats().layers["memory"]
        second = business_metrics(wb, **window)
        after = wb.cache.stats().layers["memory"]
        assert (after.hits - before.hits, after.misses - before.misses) == (1, 0)  # found whole
    pd.testing.assert_frame_equal(first, second)
