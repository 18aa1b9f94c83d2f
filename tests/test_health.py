"""System health: hand-worked freshness, error and latency checks; the demo's outage; SLO config."""

from __future__ import annotations

import datetime as dt
import json
import math
import uuid
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats
from typer.testing import CliRunner

from auterity_lab.cli import app
from auterity_lab.errors import ConfigError
from auterity_lab.health import load_slos, newest_row, system_health
from auterity_lab.warehouse import Workbench

from .builders import build_data_dir
from .conftest import DEMO_TENANTS

AS_OF = dt.datetime(2026, 3, 10, tzinfo=dt.UTC)


def _hours_before(end: dt.datetime, hours: int, step: int = 1) -> list[str]:
    return [(end - dt.timedelta(hours=h)).isoformat() for h in range(0, hours, step)]


def _rows() -> dict[str, list[dict[str, object]]]:
    window = dt.datetime(2026, 3, 9, 23, 30, tzinfo=dt.UTC)
    metrics = [
        {
            "tenant_id": "t1",
            "created_at": (window - dt.timedelta(minutes=10 * i)).isoformat(),
            "status_code": 503 if i < 10 else 200,
            "response_time_ms": 5000 if 10 <= i < 30 else 120,
        }
        for i in range(100)  # all within the last 24 h: 10 server errors, 20 slow
    ]
    metrics.append(
        {
            "tenant_id": "t1",
            "created_at": "2026-03-10T05:00:00Z",
            "status_code": 500,
            "response_time_ms": 9000,
        }
    )  # after as_of: ignored
    sessions = [
        {"tenant_id": "t1", "start_time": t, "duration": 60}
        for t in _hours_before(dt.datetime(2026, 3, 9, 23, tzinfo=dt.UTC), 168)
    ]
    events = [
        {"tenant_id": "t1", "created_at": t, "event_type": "signup"}
        for t in ("2026-03-04T00:00:00Z", "2026-03-07T00:00:00Z", "2026-03-09T04:00:00Z")
    ]
    outputs = [
        {"tenant_id": "t1", "created_at": t, "status": "success", "response_time_ms": 100}
        for t in _hours_before(dt.datetime(2026, 3, 7, tzinfo=dt.UTC), 168)
    ]
    runs = [
        {
            "id": str(uuid.UUID(int=i + 1)),
            "tenant_id": "t1",
            "workflow_id": "W",
            "status": "success",
            "started_at": t,
            "duration_ms": 100,
        }
        for i, t in enumerate(_hours_before(dt.datetime(2026, 3, 9, 22, tzinfo=dt.UTC), 168, 2))
    ]
    return {
        "performance_metrics": metrics,
        "user_sessions": sessions,
        "events": events,
        "prompt_outputs": outputs,
        "workflow_runs": runs,
    }


@pytest.fixture(scope="module")
def hand(tmp_path_factory: pytest.TempPathFactory) -> Workbench:
    d = build_data_dir(tmp_path_factory.mktemp("health"), _rows())
    with Workbench.open(d, tenant="t1", strict=False) as wb:
        yield wb


def _check(health: object, system: str, check: str, subject: str | None = None) -> pd.Series:
    c = health.checks
    rows = c[(c["system"] == system) & (c["check"] == check)]
    if subject is not None:
        rows = rows[rows["subject"] == subject]
    (row,) = rows.to_dict("records")
    return pd.Series(row)


def test_hand_worked_statuses(hand: Workbench) -> None:
    h = system_health(hand, as_of=AS_OF)
    assert h.systems.set_index("system")["status"].to_dict() == {
        "auterity": "degraded",
        "neuroweaver": "down",
        "relaycore": "healthy",
    }
    assert h.status == "degraded" and h.window_start == AS_OF - dt.timedelta(hours=24)
    errors = _check(h, "auterity", "error_rate")
    assert (errors["status"], errors["n"], errors["value"]) == ("degraded", 100, 0.10)
    assert errors["p_value"] == pytest.approx(stats.binom.sf(9, 100, 0.02))  # P(X >= 10)
    slow = _check(h, "auterity", "latency")
    assert (slow["status"], slow["value"], slow["threshold"]) == ("degraded", 0.20, 0.05)
    stale = _check(h, "neuroweaver", "freshness", "prompt_outputs")
    assert stale["status"] == "down" and stale["value"] == pytest.approx(72.0)
    assert "72.0 h old" in stale["reason"]
    assert _check(h, "neuroweaver", "activity", "prompt_outputs")["status"] == "quiet"
    assert _check(h, "relaycore", "freshness", "workflow_runs")["value"] == pytest.approx(2.0)
    neuro = h.systems.set_index("system").loc["neuroweaver"]
    assert neuro["extracted_through"] == dt.datetime(2026, 3, 7, tzinfo=dt.UTC)
    assert neuro["data_age_hours"] == pytest.approx(72.0)
    assert _check(h, "relaycore", "sla", "W")["status"] == "ok"
    row = h.systems.set_index("system").loc["auterity"]
    assert row["requests"] == 100 and row["error_rate"] == 0.10  # the row after as_of is ignored
    assert "error rate of performance_metrics is 10.0% (10 of 100)" in row["reasons"]
    assert any(
        r.startswith("neuroweaver: newest extracted prompt_outputs row is 72.0 h old")
        for r in h.reasons
    )


def test_tenant_activity_informs_but_does_not_decide(hand: Workbench) -> None:
    slos = {"systems": {"auterity": {"tables": ["user_sessions", "events"]}}}
    h = system_health(hand, as_of=AS_OF, slos=slos)
    # the events extract ends 20 h before as_of: the pipeline check fails on age alone ...
    assert _check(h, "auterity", "freshness", "events")["status"] == "degraded"
    # ... while the tenant's silence is plausible: the same 20 h of the 7 days before held
    # 2 of its 3 events, so P(no event) = exp(-2 / 7)
    events = _check(h, "auterity", "activity", "events")
    assert (events["status"], events["n"]) == ("ok", 2)
    assert events["p_value"] == pytest.approx(math.exp(-2 / 7))
    assert "plausible" in events["reason"]
    later = system_health(hand, as_of=AS_OF + dt.timedelta(hours=12))
    fresh = _check(later, "relaycore", "freshness", "workflow_runs")
    assert fresh["status"] == "degraded" and fresh["value"] == pytest.approx(14.0)
    # a run every 2 h: 7 runs in each of the 7 earlier windows of the same 14 h, none now
    quiet = _check(later, "relaycore", "activity", "workflow_runs")
    assert (quiet["status"], quiet["n"]) == ("quiet", 49)
    assert quiet["p_value"] == pytest.approx(math.exp(-7))
    assert later.of("relaycore") == "degraded"  # decided by freshness, not by activity
    assert not any("activity" in r or "quiet" in r for r in later.reasons)


def test_extract_age_and_determinism(hand: Workbench) -> None:
    written = dt.datetime.fromisoformat(hand.manifest.tables["relaycore.workflow_runs"].written_at)
    past = system_health(hand, as_of=AS_OF)
    assert (
        "extracted after as_of"
        in _check(past, "relaycore", "extract_age", "workflow_runs")["reason"]
    )
    late = system_health(hand, as_of=written + dt.timedelta(hours=30))
    age = _check(late, "relaycore", "extract_age", "workflow_runs")
    assert age["status"] == "degraded" and age["value"] == pytest.approx(30, abs=0.01)
    again = system_health(hand, as_of=AS_OF)
    pd.testing.assert_frame_equal(past.checks, again.checks)
    pd.testing.assert_frame_equal(past.systems, again.systems)


def test_unreadable_table_is_down_and_named(demo_dir: Path, tmp_path: Path) -> None:
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(demo_dir, broken)
    manifest = json.loads((broken / "manifest.json").read_text())
    (broken / manifest["tables"]["relaycore.workflow_runs"]["files"][0]["path"]).write_bytes(
        b"nope"
    )
    with Workbench.open(broken, tenant="acme", strict=False) as wb:
        h = system_health(wb, as_of="2026-11-01")
    assert h.of("relaycore") == "down" and h.of("auterity") == "healthy"
    check = _check(h, "relaycore", "readable", "relaycore.workflow_runs")
    assert check["status"] == "down" and "unreadable extract" in check["reason"]


@pytest.mark.parametrize("tenant", DEMO_TENANTS)
def test_demo_outage_day(demo_dir: Path, tenant: str) -> None:
    truth = json.loads((demo_dir / "ground_truth.json").read_text())
    (outage,) = [e for e in truth["effects"] if e["kind"] == "outage"]
    with Workbench.open(demo_dir, tenant=tenant, strict=False) as wb:
        during = system_health(wb, as_of=outage["end"])  # the 24 h window is the outage day
        if tenant not in outage["tenants"]:
            assert during.status == "healthy"
            return
        before = system_health(wb, as_of=outage["start"])
        latest = system_health(wb, as_of=truth["parameters"]["end"])
    assert before.status == "healthy" and latest.status == "healthy"
    assert during.status == "degraded"
    for system in ("auterity", "neuroweaver"):
        assert _check(during, system, "error_rate")["status"] == "degraded"


def test_slo_config() -> None:
    slos = load_slos({"window_hours": 6, "systems": {"neuroweaver": {"latency_ms": 5000}}})
    assert slos.window_hours == 6 and slos.systems["neuroweaver"].latency_ms == 5000
    assert slos.systems["neuroweaver"].error_rate == 0.03  # untouched defaults stay
    with pytest.raises(
        ConfigError, match=r"freshness: Value error, down_after_hours must not be below"
    ):
        load_slos({"freshness": {"degraded_after_hours": 10, "down_after_hours": 5}})
    with pytest.raises(ConfigError, match="users is not a table of relaycore"):
        load_slos({"systems": {"relaycore": {"tables": ["users"]}}})
    with pytest.raises(ConfigError, match="colour"):
        load_slos({"colour": "red"})


def test_health_cli(demo_dir: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(
        app,
        ["health", "-d", str(demo_dir), "-t", "acme", "--as-of", "2026-09-18", "--format", "json"],
    )
    assert res.exit_code == 0, res.output
    rows = {r["system"]: r for r in json.loads(res.stdout)}
    assert rows["auterity"]["status"] == "degraded" and rows["relaycore"]["status"] == "healthy"
    res = runner.invoke(
        app,
        [
            "health",
            "-d",
            str(demo_dir),
            "-t",
            "acme",
            "--as-of",
            "2026-09-18",
            "--checks",
            "--format",
            "csv",
        ],
    )
    checks = pd.read_csv(__import__("io").StringIO(res.stdout))
    assert set(checks.columns) >= {"system", "check", "status", "p_value", "reason"}


# ---------------------------------------------------------------- newest_row
def _sessions_at(tenant: str, times: list[dt.datetime]) -> list[dict[str, object]]:
    return [{"tenant_id": tenant, "start_time": t.isoformat(), "duration": 1} for t in times]


@pytest.fixture(scope="module")
def spans(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """t1 active to the extract's last day; t2 quiet for its last ten days; t3 without rows."""
    day = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)
    t1 = [day + dt.timedelta(days=d, hours=h) for d in range(20) for h in (0, 5)]
    t2 = [day + dt.timedelta(days=d) for d in range(10)] + [day - dt.timedelta(days=40)]
    rows = {"user_sessions": _sessions_at("t1", t1) + _sessions_at("t2", t2)}
    rows["users"] = [{"tenant_id": "t3", "created_at": "2026-03-01T00:00:00Z"}]
    return build_data_dir(tmp_path_factory.mktemp("spans"), rows)


@pytest.mark.parametrize(
    ("tenant", "as_of", "expected"),
    [
        ("t1", None, "2026-03-20T17:00:00"),  # the newest day partition
        ("t1", "2026-03-10T16:59:59Z", "2026-03-10T12:00:00"),  # as_of inside a day
        ("t1", "2026-03-10T17:00:00Z", "2026-03-10T17:00:00"),  # at or before: inclusive
        ("t1", "2026-03-01T11:00:00Z", None),  # before every row
        ("t2", None, "2026-03-10T12:00:00"),  # quiet for ten days: found by the full search
        ("t2", "2026-02-15T00:00:00Z", "2026-01-20T12:00:00"),  # 40 days before its next row
        ("t3", None, None),  # no sessions at all
    ],
)
def test_newest_row_hand_worked(
    spans: Path, tenant: str, as_of: str | None, expected: str | None
) -> None:
    with Workbench.open(spans, tenant=tenant) as wb:
        got = newest_row(wb, "user_sessions", as_of=as_of)
    assert got == (None if expected is None else dt.datetime.fromisoformat(expected + "+00:00"))


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    offsets=st.lists(st.integers(0, 30 * 24), min_size=1, max_size=12),
    tenants=st.lists(st.sampled_from(["a", "b"]), min_size=12, max_size=12),
    as_of_hours=st.one_of(st.none(), st.integers(-24, 32 * 24)),
)
def test_newest_row_equals_the_max_of_every_row(
    tmp_path: Path, offsets: list[int], tenants: list[str], as_of_hours: int | None
) -> None:
    """Whatever the tenants' gaps, the recent-partitions-first search gives the plain max."""
    origin = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    times = [origin + dt.timedelta(hours=h, minutes=7) for h in offsets]
    owners = tenants[: len(times)]
    rows = [
        {"tenant_id": who, "start_time": t.isoformat(), "duration": 1}
        for who, t in zip(owners, times, strict=True)
    ]
    known = [{"tenant_id": who, "created_at": "2025-12-01T00:00:00Z"} for who in ("a", "b")]
    d = build_data_dir(tmp_path / str(uuid.uuid4()), {"user_sessions": rows, "users": known})
    as_of = None if as_of_hours is None else origin + dt.timedelta(hours=as_of_hours)
    with Workbench.open(d, tenant="a") as wb:
        got = newest_row(wb, "user_sessions", as_of=as_of)
    mine = [t for who, t in zip(owners, times, strict=True) if who == "a"]
    mine = [t for t in mine if as_of is None or t <= as_of]
    assert got == (max(mine) if mine else None)


def test_newest_row_follows_an_extract_published_while_the_workbench_is_open(
    tmp_path: Path,
) -> None:
    day = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)
    first = [day + dt.timedelta(days=d) for d in range(5)]
    d = build_data_dir(tmp_path / "d", {"user_sessions": _sessions_at("t1", first)})
    with Workbench.open(d, tenant="t1") as wb:
        assert newest_row(wb, "user_sessions") == first[-1]
        later = [day + dt.timedelta(days=d, hours=3) for d in range(9)]  # a new extract
        build_data_dir(d, {"user_sessions": _sessions_at("t1", later)})
        assert newest_row(wb, "user_sessions") == later[-1]
