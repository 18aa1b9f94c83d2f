"""The rollups (user-day activity and the spec's two views): hand-worked rows, equality with the
row-level queries, incremental rebuilds that equal a full one, a stale rollup that is never
read, and ``rollups.run`` choosing the rollup exactly when the bounds allow it."""

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
from auterity_lab.errors import QueryError, QueryParameterError
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
        assert rollups.attach_rollups(wb) == set(rollups.ROLLUPS)
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
    _add_row(
        data_dir,
        "user_sessions",
        day,
        {
            "user_id": f"'{extra_user}'",
            "start_time": f"'{day} 12:00:00+00'",
            "duration": "7",
            "page_views": "2",
        },
    )


def _add_row(data_dir: Path, name: str, day: str, given: dict[str, str]) -> None:
    """Extract table ``name`` again for ``day`` only, with one more row (SQL literals) on it."""
    tbl = table(name)
    manifest = read_manifest(data_dir)
    files = [
        str(data_dir / f.path)
        for f in manifest.tables[tbl.qualified_name].files
        if f"date={day}/" in f.path
    ]
    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    cols = ", ".join(tbl.column_names)
    src = "read_parquet(" + repr(files) + ")" if files else None
    values = {
        "id": f"'{uuid.uuid4()}'",
        "tenant_id": "'t1'",
        "created_at": f"'{day} 12:00:00+00'",
        "status": "'success'",
        **given,
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
    folder = hand_dir / "rollups" / "user_day_activity"
    on_disk = {str(p.relative_to(hand_dir)) for p in folder.rglob("*.parquet")}
    assert on_disk == {p["path"] for p in state["partitions"].values()}


def _money_rows(data_dir: Path) -> pd.DataFrame:
    with Workbench.open(data_dir, tenant="t1") as wb:
        assert "money_events" in rollups.attach_rollups(wb)
        return wb.sql("SELECT * FROM money_events ORDER BY created_at, id")


def test_money_events_incremental_rebuild_equals_a_full_rebuild(tmp_path: Path) -> None:
    def event(day: str, kind: str, revenue: float | None, user: str = U1) -> dict:
        return {"tenant_id": "t1", "user_id": user, "created_at": f"{day} 10:00:00",
                "event_type": kind, "revenue": revenue}  # fmt: skip

    events = [event("2026-03-01", "subscribe", 20.0), event("2026-03-01", "feature_use", None),
              event("2026-03-02", "cancel", None), event("2026-03-03", "feature_use", None),
              event("2026-03-03", "refund", -5.0, U2)]  # fmt: skip
    d = build_data_dir(tmp_path / "money", {"events": events})
    first = rollups.build_rollups(d, names=["money_events"])["money_events"]
    assert (first.rebuilt, first.rows) == (3, 3)  # the feature uses are not kept
    _add_row(d, "events", "2026-03-02", {"user_id": f"'{U2}'", "event_type": "'payment'",
                                          "revenue": "12.5"})  # fmt: skip
    _add_row(d, "events", "2026-03-05", {"user_id": f"'{U1}'", "event_type": "'cancel'"})
    again = rollups.build_rollups(d, names=["money_events"])["money_events"]
    assert (again.rebuilt, again.kept, again.rows) == (2, 2, 5)
    full_dir = tmp_path / "full"
    shutil.copytree(d, full_dir, ignore=shutil.ignore_patterns("rollups"))
    rollups.build_rollups(full_dir, names=["money_events"], full=True)
    pd.testing.assert_frame_equal(_money_rows(d), _money_rows(full_dir))
    assert _money_rows(d)["event_type"].tolist() == [
        "subscribe", "cancel", "payment", "refund", "cancel"
    ]  # fmt: skip


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
        # prompt_outputs and events did not change: only their rollups are still fresh
        from_other_tables = {n for n, r in rollups.ROLLUPS.items() if r.source != "user_sessions"}
        assert "hourly_ai_performance" in from_other_tables
        assert rollups.attach_rollups(wb) == from_other_tables
        with pytest.raises(QueryError, match="not fresh"):
            wb.sql("SELECT count(*) FROM user_day_activity")
        daily = overview.system_daily(wb, system="auterity", start="2026-03-01", end="2026-03-05")
    assert daily["sessions"].tolist() == [4, 2, 0, 1]  # the new session counts: rows were read
    assert daily["active_users"].tolist() == [2, 2, 0, 1]


def test_a_workbench_opened_before_the_rebuild_keeps_reading_rows(hand_dir: Path) -> None:
    with Workbench.open(hand_dir, tenant="t1") as wb:
        assert not rollups.usable(wb, "user_day_activity", start="2026-03-01", end="2026-03-05")
        rollups.build_rollups(hand_dir)
        assert rollups.attach_rollups(wb) == set(rollups.ROLLUPS)  # same extracts: fresh


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


# ====================================================================== the spec's two views
def _view_session(
    tenant: str, user: str | None, at: str, duration: int | None, pages: int | None,
    conversion: float | None,
) -> dict:  # fmt: skip
    # conversion_rate is the typed copy of events.conversion_rate (a key that may be missing)
    events = {} if conversion is None else {"conversion_rate": conversion}
    return {**_session(tenant, user, at, duration, pages), "events": events}


VIEW_SESSIONS = [
    _view_session("t1", U1, "2026-03-01 08:00:00", 60, 1, 0.5),
    _view_session("t1", U1, "2026-03-01 23:59:59", 30, 3, None),
    _view_session("t1", U2, "2026-03-01 10:00:00", None, None, 0.1),
    _view_session("t1", None, "2026-03-01 11:00:00", 10, 1, None),
    _view_session("t1", U2, "2026-03-02 00:00:00", 100, 2, None),
    _view_session("t2", U3, "2026-03-01 09:00:00", 5, 1, 1.0),
]


def _output(
    tenant: str, at: str, model: str | None, ms: int, rating: float | None, tokens: int | None,
    status: str = "success",
) -> dict:  # fmt: skip
    return {
        "tenant_id": tenant,
        "user_id": U1,
        "created_at": at,
        "model_id": model,
        "response_time_ms": ms,
        "user_rating": rating,
        "tokens_used": tokens,
        "status": status,
    }


VIEW_OUTPUTS = [
    _output("t1", "2026-03-01 10:05:00", "gpt", 100, 5.0, 10),
    _output("t1", "2026-03-01 10:59:59", "gpt", 300, None, 20),
    _output("t1", "2026-03-01 10:30:00", "claude", 50, 3.5, None),
    _output("t1", "2026-03-01 11:00:00", "gpt", 200, 4.0, 5, "error"),
    _output("t1", "2026-03-01 10:15:00", None, 70, 4.0, 7),
    _output("t1", "2026-03-01 23:30:00", "gpt", 10, 1.0, 1),
    _output("t1", "2026-03-02 00:00:00", "gpt", 20, 4.5, 2),
    _output("t2", "2026-03-01 10:10:00", "gpt", 999, 5.0, 100),
]


@pytest.fixture
def views_dir(tmp_path: Path) -> Path:
    return build_data_dir(
        tmp_path / "views", {"user_sessions": VIEW_SESSIONS, "prompt_outputs": VIEW_OUTPUTS}
    )


def _values(frame: pd.DataFrame) -> list[list]:
    """Rows as plain Python values (NULL as None, floats rounded to 12 digits)."""
    return [
        [None if pd.isna(v) else round(v, 12) if isinstance(v, float) else v for v in row]
        for row in frame.itertuples(index=False)
    ]


def _day(d: int) -> pd.Timestamp:
    return pd.Timestamp(2026, 3, d)


def _hour(d: int, h: int) -> pd.Timestamp:
    return pd.Timestamp(2026, 3, d, h, tz="UTC")


DAILY_T1 = [  # date, unique_users, total_sessions, avg_duration, page_views, avg_conversion
    [_day(1), 2, 4, round((60 + 30 + 10) / 3, 12), 5, 0.3],  # NULL user: a session, not a user
    [_day(2), 1, 1, 100.0, 2, None],
]
HOURLY_T1 = [  # hour, model, requests, avg_ms, avg_rating, tokens, high_rated (>= 4)
    [_hour(1, 10), "claude", 1, 50.0, 3.5, None, 0],
    [_hour(1, 10), "gpt", 2, 200.0, 5.0, 30, 1],
    [_hour(1, 10), None, 1, 70.0, 4.0, 7, 1],  # a NULL model is its own group, last
    [_hour(1, 11), "gpt", 1, 200.0, 4.0, 5, 1],  # errors are requests too
    [_hour(1, 23), "gpt", 1, 10.0, 1.0, 1, 0],
    [_hour(2, 0), "gpt", 1, 20.0, 4.5, 2, 1],
]


def _as_dates(rows: list[list]) -> list[list]:
    return [[pd.Timestamp(r[0]), *r[1:]] for r in rows]


def test_hand_worked_daily_user_analytics(views_dir: Path) -> None:
    built = rollups.build_rollups(views_dir, names=["daily_user_analytics"])
    assert (built["daily_user_analytics"].rebuilt, built["daily_user_analytics"].rows) == (2, 3)
    with Workbench.open(views_dir, tenant="t1") as wb:
        assert "daily_user_analytics" in rollups.attach_rollups(wb)
        stored = wb.sql("SELECT * EXCLUDE (tenant_id) FROM daily_user_analytics ORDER BY date")
        assert rollups.usable(wb, "daily_user_analytics", start=None, end=None)
        answer = rollups.run(wb, "daily_user_analytics", start=None, end=None)
        rows = wb.query("daily_user_analytics", start=None, end=None)
    # the stored rows are the answer rows, one per day file
    assert _as_dates(_values(stored[answer.columns])) == DAILY_T1
    assert _as_dates(_values(answer)) == DAILY_T1
    assert _as_dates(_values(rows)) == DAILY_T1
    with Workbench.open(views_dir, tenant="t2") as wb:
        t2 = rollups.run(wb, "daily_user_analytics", start="2026-03-01", end="2026-03-02")
    assert _as_dates(_values(t2)) == [[_day(1), 1, 1, 5.0, 1, 1.0]]


def test_hand_worked_hourly_ai_performance(views_dir: Path) -> None:
    built = rollups.build_rollups(views_dir, names=["hourly_ai_performance"])
    assert built["hourly_ai_performance"].rows == 7  # 6 groups of t1, 1 of t2
    with Workbench.open(views_dir, tenant="t1") as wb:
        answer = rollups.run(wb, "hourly_ai_performance", start=None, end=None)
        rows = wb.query("hourly_ai_performance", start=None, end=None)
        late = rollups.run(
            wb, "hourly_ai_performance", start="2026-03-01 11:00", end="2026-03-02 01:00"
        )
    assert _values(answer) == HOURLY_T1
    assert _values(rows) == HOURLY_T1
    assert _values(late) == HOURLY_T1[3:]


def test_bounds_must_fall_on_the_rollups_unit(views_dir: Path) -> None:
    rollups.build_rollups(views_dir)
    cases = [  # (rollup, start, end, usable)
        ("daily_user_analytics", None, None, True),
        ("daily_user_analytics", "2026-03-01", None, True),
        ("daily_user_analytics", None, "2026-03-02", True),
        ("daily_user_analytics", "2026-03-01 09:00", "2026-03-02", False),
        ("daily_user_analytics", "2026-03-01", "2026-03-01 23:59:59", False),
        ("daily_user_analytics", "2026-03-01T05:30:00+05:30", None, True),  # UTC midnight
        ("daily_user_analytics", "2026-03-01T00:00:00+01:00", None, False),  # 23:00 UTC
        ("hourly_ai_performance", None, None, True),
        ("hourly_ai_performance", "2026-03-01 10:00", "2026-03-01 12:00", True),
        ("hourly_ai_performance", "2026-03-01 10:30", None, False),
        ("hourly_ai_performance", None, "2026-03-01 10:00:00.5", False),
        ("hourly_ai_performance", "2026-03-01T10:30:00+05:30", None, True),  # 05:00 UTC
        ("hourly_ai_performance", "2026-03-01T10:00:00+05:30", None, False),  # 04:30 UTC
        ("user_day_activity", "2026-03-01", "2026-03-01 12:00", False),
        ("user_day_activity", "2026-03-01", "2026-03-02", True),
    ]
    with Workbench.open(views_dir, tenant="t1") as wb:
        got = [(n, s, e, rollups.usable(wb, n, start=s, end=e)) for n, s, e, _ in cases]
    assert got == cases
    with pytest.raises(rollups.RollupError, match="unknown rollup 'daily'"):
        rollups.usable(wb, "daily", start=None, end=None)
    with pytest.raises(rollups.RollupError, match="unit must be one of"):
        rollups.Rollup("weekly", "user_sessions", "SELECT 1", (), unit="week")


def _tamper(data_dir: Path, name: str, day: str, column: str, value: int) -> None:
    """Overwrite a BIGINT column of a rollup's day file in place (the state still says fresh)."""
    state = rollups.rollup_state(data_dir, name)
    path = data_dir / state["partitions"][day]["path"]
    tmp = path.with_suffix(".tampered")
    con = duckdb.connect()
    con.execute(
        f"COPY (SELECT * REPLACE (CAST({value} AS BIGINT) AS {column}) "
        f"FROM read_parquet('{path}')) TO '{tmp}' (FORMAT parquet)"
    )
    con.close()
    tmp.replace(path)


def test_run_reads_the_rollup_exactly_when_the_bounds_allow(views_dir: Path) -> None:
    """A doctored rollup file shows which path answered: the rollup, or the rows."""
    rollups.build_rollups(views_dir)
    _tamper(views_dir, "daily_user_analytics", "2026-03-01", "total_sessions", 999)
    _tamper(views_dir, "hourly_ai_performance", "2026-03-01", "request_count", 777)
    with Workbench.open(views_dir, tenant="t1") as wb:
        whole = rollups.run(wb, "daily_user_analytics", start="2026-03-01", end="2026-03-03")
        part = rollups.run(wb, "daily_user_analytics", start="2026-03-01 09:00", end="2026-03-03")
        hour = rollups.run(wb, "hourly_ai_performance", start="2026-03-01 10:00", end=None)
        half = rollups.run(wb, "hourly_ai_performance", start="2026-03-01 10:30", end=None)
        other = rollups.run(wb, "ml_model_performance", start="2026-03-01", end="2026-03-03")
    assert whole["total_sessions"].tolist() == [999, 1]  # read from the rollup
    # from 09:00 on 03-01: U1 23:59:59, U2 10:00, NULL 11:00 (the rows, not the rollup)
    assert part["total_sessions"].tolist() == [3, 1]
    assert part["unique_users"].tolist() == [2, 1]
    assert hour["request_count"].tolist()[:5] == [777] * 5  # every 03-01 row of the file
    # from 10:30: claude 10:30 and gpt 10:59:59 in hour 10, the rest as before
    assert _values(half)[:2] == [[_hour(1, 10), "claude", 1, 50.0, 3.5, None, 0],
                                 [_hour(1, 10), "gpt", 1, 300.0, None, 20, 0]]  # fmt: skip
    assert other["requests"].sum() == 7  # a query without a rollup runs on the rows


def test_pages_and_frames_from_the_rollup_equal_the_row_level_ones(views_dir: Path) -> None:
    rollups.build_rollups(views_dir)
    with Workbench.open(views_dir, tenant="t1") as wb:
        for limit, offset in ((2, 0), (2, 2), (4, 5), (1, None)):
            page = rollups.run(
                wb, "hourly_ai_performance", start=None, end=None, limit=limit, offset=offset
            )
            rows = wb.query(
                "hourly_ai_performance", start=None, end=None, limit=limit, offset=offset
            )
            pd.testing.assert_frame_equal(page, rows)
        polars = rollups.run(wb, "daily_user_analytics", frame="polars", start=None, end=None)
        assert polars.equals(wb.query("daily_user_analytics", frame="polars"))
        uncached = rollups.run(wb, "daily_user_analytics", cache=False)
        pd.testing.assert_frame_equal(uncached, wb.query("daily_user_analytics"))
        with pytest.raises(QueryParameterError, match="has no parameter 'model'"):
            rollups.run(wb, "daily_user_analytics", model="gpt")
        with pytest.raises(QueryParameterError, match="not a valid TIMESTAMPTZ"):
            rollups.run(wb, "hourly_ai_performance", start="soon")


def test_a_viewer_gets_the_rollup_and_pages_from_the_rows(views_dir: Path) -> None:
    from auterity_lab.security import SecurityContext

    rollups.build_rollups(views_dir)
    _tamper(views_dir, "daily_user_analytics", "2026-03-01", "total_sessions", 999)
    viewer = SecurityContext("vic", "t1", roles=frozenset({"viewer"}))
    with Workbench.open(views_dir, tenant="t1", context=viewer) as wb:
        assert rollups.run(wb, "daily_user_analytics")["total_sessions"].tolist() == [999, 1]
        page = rollups.run(wb, "daily_user_analytics", limit=1, offset=0)
    assert page["total_sessions"].tolist() == [4]  # a viewer's page: the checked row query


def test_every_rollup_form_matches_its_query() -> None:
    from auterity_lab.queries import load_query, parse_query, queries_root
    from auterity_lab.security import RAW_TEXT_QUERIES, ROW_LEVEL_QUERIES

    for name, on in rollups.QUERY_ROLLUPS.items():
        assert on and set(on) <= set(rollups.ROLLUPS), name
        text = (queries_root() / "rollups" / f"{name}.sql").read_text(encoding="utf-8")
        form, rows = parse_query(name, text), load_query(name)
        same = [(p.name, p.type, p.default) for p in form.params]
        assert same == [(p.name, p.type, p.default) for p in rows.params], name
        # a viewer reads the form without the query's permission check: it must need none
        assert name not in ROW_LEVEL_QUERIES | RAW_TEXT_QUERIES, name


def _assert_same_answer(got: pd.DataFrame, want: pd.DataFrame, what: str) -> None:
    """Same columns, dtypes and rows; floats to a relative 1e-12, everything else exact."""
    assert got.columns.tolist() == want.columns.tolist(), what
    assert got.dtypes.tolist() == want.dtypes.tolist(), what
    assert len(got) == len(want), what
    for col in got.columns:
        exact = not pd.api.types.is_float_dtype(got[col])
        pd.testing.assert_series_equal(
            got[col], want[col], check_exact=exact, rtol=1e-12, obj=f"{what}: {col}"
        )


def test_the_views_from_rollups_equal_the_row_level_queries(demo_copy: Path) -> None:
    rollups.build_rollups(demo_copy, names=["daily_user_analytics", "hourly_ai_performance"])
    cases = [
        ("acme", None, None),
        ("acme", "2026-10-01", "2026-11-01"),
        ("globex", "2026-09-15 06:00", "2026-10-02 18:00"),  # hours, not days
        ("initech", None, "2026-08-01"),
        ("initech", "2026-10-31", "2026-12-01"),  # past the last day
    ]
    for tenant, start, end in cases:
        with Workbench.open(demo_copy, tenant=tenant) as wb:
            for name in ("daily_user_analytics", "hourly_ai_performance"):
                (rollup,) = rollups.QUERY_ROLLUPS[name]
                on_rollup = rollups.usable(wb, rollup, start=start, end=end)
                assert on_rollup == (name == "hourly_ai_performance" or "06:00" not in str(start))
                got = rollups.run(wb, name, start=start, end=end)
                want = wb.query(name, start=start, end=end)
                assert len(want) > 0
                _assert_same_answer(got, want, f"{name} {tenant} {start}..{end}")


def _view_rows(data_dir: Path, name: str, tenant: str) -> pd.DataFrame:
    with Workbench.open(data_dir, tenant=tenant) as wb:
        assert name in rollups.attach_rollups(wb)
        return wb.sql(f"SELECT * FROM {name} ORDER BY ALL")


def test_incremental_view_rollups_equal_a_full_rebuild(views_dir: Path, tmp_path: Path) -> None:
    names = ["daily_user_analytics", "hourly_ai_performance"]
    first = rollups.build_rollups(views_dir, names=names)
    assert [first[n].rebuilt for n in names] == [2, 2]
    _rewrite_day(views_dir, "2026-03-02", U1)  # a changed day of sessions
    _add_row(views_dir, "prompt_outputs", "2026-03-01",  # a changed day of outputs ...
             {"model_id": "'gpt'", "response_time_ms": "40", "user_rating": "4.5",
              "tokens_used": "3", "created_at": "'2026-03-01 10:45:00+00'"})  # fmt: skip
    _add_row(views_dir, "prompt_outputs", "2026-03-05",  # ... and a new one
             {"model_id": "'claude'", "response_time_ms": "9"})  # fmt: skip
    again = rollups.build_rollups(views_dir, names=names)
    assert (again["daily_user_analytics"].rebuilt, again["daily_user_analytics"].kept) == (1, 1)
    assert (again["hourly_ai_performance"].rebuilt, again["hourly_ai_performance"].kept) == (2, 1)
    full_dir = tmp_path / "full"
    shutil.copytree(views_dir, full_dir, ignore=shutil.ignore_patterns("rollups"))
    rollups.build_rollups(full_dir, names=names, full=True)
    for name in names:
        for tenant in ("t1", "t2"):
            pd.testing.assert_frame_equal(
                _view_rows(views_dir, name, tenant), _view_rows(full_dir, name, tenant)
            )
    with Workbench.open(views_dir, tenant="t1") as wb:
        hourly = rollups.run(wb, "hourly_ai_performance", start="2026-03-01 10:00",
                             end="2026-03-01 11:00").set_index("model_id", drop=False)  # fmt: skip
        daily = rollups.run(wb, "daily_user_analytics", start="2026-03-02", end="2026-03-03")
    # hour 10 of gpt now holds 3 requests: 100, 300 and the new 40 ms
    assert hourly.loc["gpt", "request_count"] == 3
    assert hourly.loc["gpt", "avg_response_time"] == pytest.approx(440 / 3)
    assert hourly.loc["gpt", "high_rated_requests"] == 2
    assert daily["total_sessions"].tolist() == [2]  # U2's and the new one of U1
    assert daily["unique_users"].tolist() == [2]


def test_the_cli_answers_from_the_rollup_and_pages(views_dir: Path) -> None:
    from typer.testing import CliRunner

    from auterity_lab.cli import app

    rollups.build_rollups(views_dir)
    _tamper(views_dir, "daily_user_analytics", "2026-03-01", "total_sessions", 999)
    base = ["query", "daily_user_analytics", "-d", str(views_dir), "-t", "t1", "-f", "json"]
    runner = CliRunner()
    whole = runner.invoke(app, base)
    assert whole.exit_code == 0, whole.output
    assert [r["total_sessions"] for r in json.loads(whole.stdout)] == [999, 1]
    page = runner.invoke(app, [*base, "--limit", "1", "--offset", "1"])
    assert page.exit_code == 0, page.output
    assert [r["total_sessions"] for r in json.loads(page.stdout)] == [1]
    partial = runner.invoke(app, [*base, "-p", "start=2026-03-01 09:00"])
    assert [r["total_sessions"] for r in json.loads(partial.stdout)] == [3, 1]
    bad = runner.invoke(app, [*base, "--offset", "1"])
    assert bad.exit_code != 0 and "needs a limit" in bad.output


_OUTPUTS = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=3 * 24 * 60 - 1),  # minute within 3 days
        st.sampled_from(["gpt", "claude", None]),
        st.integers(min_value=1, max_value=5000),
        st.one_of(st.none(), st.sampled_from([1.0, 2.5, 3.99, 4.0, 5.0])),
        st.one_of(st.none(), st.integers(min_value=0, max_value=900)),
    ),
    min_size=1,
    max_size=25,
)
_BOUND = st.one_of(st.none(), st.integers(min_value=-2, max_value=3 * 24 + 2))  # an hour


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(sessions=_SESSIONS, outputs=_OUTPUTS, lo=_BOUND, hi=_BOUND)
def test_property_the_views_from_rollups_equal_the_row_level_ones(
    tmp_path_factory: pytest.TempPathFactory, sessions: list, outputs: list, lo: int | None,
    hi: int | None,
) -> None:  # fmt: skip
    d = tmp_path_factory.mktemp("prop_views")
    at = lambda minutes: (_DAY0 + dt.timedelta(minutes=minutes)).isoformat()  # noqa: E731
    build_data_dir(
        d,
        {
            "user_sessions": [_session("t1", u, at(m), dur, p) for u, m, dur, p in sessions],
            "prompt_outputs": [_output("t1", at(m), *rest) for m, *rest in outputs],
        },
    )
    rollups.build_rollups(d, names=["daily_user_analytics", "hourly_ai_performance"])
    hours = {k: None if v is None else _DAY0 + dt.timedelta(hours=v) for k, v in
             (("start", lo), ("end", hi))}  # fmt: skip
    days = {k: None if v is None else v.replace(hour=0) for k, v in hours.items()}
    with Workbench.open(d, tenant="t1") as wb:
        for name, kw in (("hourly_ai_performance", hours), ("daily_user_analytics", days)):
            assert rollups.usable(wb, name, **kw)
            _assert_same_answer(rollups.run(wb, name, **kw), wb.query(name, **kw), name)
