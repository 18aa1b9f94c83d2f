"""Unified analytics: every section, and partial failure when one system's extracts break."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import shutil
import uuid
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from auterity_lab import overview
from auterity_lab.cli import app
from auterity_lab.errors import ManifestError, QueryError
from auterity_lab.health import SystemHealth
from auterity_lab.schema import table
from auterity_lab.synth import generate_demo
from auterity_lab.unified import NOT_COMPUTED, UnifiedAnalyticsError, unified_analytics
from auterity_lab.warehouse import Workbench

from .builders import build_data_dir

START, END = "2026-10-01", "2026-11-01"
SMALL_START, SMALL_END = "2026-10-18", "2026-11-01"
# the table each system's break hits, and a column its section reads
BREAK = {
    "auterity": ("user_sessions", "duration"),
    "neuroweaver": ("prompt_outputs", "response_time_ms"),
    "relaycore": ("workflow_runs", "duration_ms"),
}


@pytest.fixture(scope="module")
def intact(demo_dir: Path):
    with Workbench.open(demo_dir, tenant="acme", strict=False) as wb:
        return unified_analytics(wb, start=START, end=END)


@pytest.fixture(scope="module")
def small_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A two-week, one-tenant demo: few files, so breaking copies of it is cheap."""
    d = tmp_path_factory.mktemp("small")
    generate_demo(d, tenants=1, days=14, scale=0.05, seed=3)
    return d


@pytest.fixture(scope="module")
def small_intact(small_demo: Path):
    with Workbench.open(small_demo, tenant="acme", strict=False) as wb:
        return unified_analytics(wb, start=SMALL_START, end=SMALL_END)


def _linked_copy(demo_dir: Path, target: Path) -> Path:
    """A copy of the demo whose files are hard links: cheap; files are replaced, never edited."""
    shutil.copytree(demo_dir, target, copy_function=os.link)
    return target


def _break(data: Path, system: str, kind: str) -> str:
    name, column = BREAK[system]
    files = json.loads((data / "manifest.json").read_text())["tables"][table(name).qualified_name][
        "files"
    ]
    victim = data / files[len(files) // 2]["path"]
    frame = pq.read_table(victim)
    victim.unlink()  # a hard link: unlink first so the demo's file stays intact
    if kind == "corrupt":
        victim.write_bytes(b"PAR1 this is not parquet")
    elif kind == "column":
        pq.write_table(frame.drop_columns([column]), victim)
    return {
        "delete": "missing",
        "corrupt": "unreadable extract",
        "column": f"column {column} missing",
    }[kind]


def test_all_sections_when_intact(intact, demo_dir: Path) -> None:
    ua = intact
    assert ua.sections()["status"].tolist() == [
        "ok",
        "ok",
        "ok",
        NOT_COMPUTED,
        NOT_COMPUTED,
        "healthy",
    ]
    assert ua.as_of == dt.datetime(2026, 11, 1, tzinfo=dt.UTC)  # the range's end, in the past
    assert isinstance(ua.health, SystemHealth) and ua.health.as_of == ua.as_of
    with Workbench.open(demo_dir, tenant="acme") as wb:
        pd.testing.assert_frame_equal(ua.kpis(), overview.headline_kpis(wb, start=START, end=END))
        pd.testing.assert_frame_equal(ua.daily(), overview.daily(wb, start=START, end=END))
        assert ua.manifest_fingerprint == wb.fingerprint()
    assert set(ua.relaycore.details) == {"workflows", "bottlenecks", "sla", "ai_cost"}
    assert (ua.relaycore.details["workflows"]["trigger"] == "all").all()
    for pending, derived in (
        (ua.correlations, "system_correlations"),
        (ua.insights, "unified_insights"),
    ):
        assert pending.status == NOT_COMPUTED and "insights engine" in pending.reason
        assert pending.frame.empty and list(pending.frame.columns) == list(
            table(derived).column_names
        )
    assert ua.tenant == "acme" and ua.package_version


def test_without_details_everything_else_is_the_same(intact, demo_dir: Path) -> None:
    with Workbench.open(demo_dir, tenant="acme", strict=False) as wb:
        lean = unified_analytics(wb, start=START, end=END, details=False)
    assert lean.relaycore.details == {}
    assert len(lean.relaycore.notes) == 4
    assert all("not requested" in n for n in lean.relaycore.notes)
    pd.testing.assert_frame_equal(lean.kpis(), intact.kpis())
    pd.testing.assert_frame_equal(lean.daily(), intact.daily())
    pd.testing.assert_frame_equal(lean.health.systems, intact.health.systems)
    pd.testing.assert_frame_equal(lean.sections(), intact.sections())


@pytest.mark.parametrize("kind", ["delete", "corrupt", "column"])
@pytest.mark.parametrize("system", list(BREAK))
def test_each_kind_of_break_makes_exactly_that_table_unavailable(
    small_demo: Path, tmp_path: Path, system: str, kind: str
) -> None:
    data = _linked_copy(small_demo, tmp_path / "data")
    said = _break(data, system, kind)
    with Workbench.open(data, tenant="acme", strict=False) as wb:
        qualified = table(BREAK[system][0]).qualified_name
        assert list(wb.unavailable) == [qualified] and said in wb.unavailable[qualified]
        with pytest.raises(QueryError, match=f"table {qualified} is unavailable"):
            wb.sql(f"SELECT count(*) AS n FROM {BREAK[system][0]}")


# each system broken in turn, each with a different kind of break
@pytest.mark.parametrize(
    ("system", "kind"),
    [("auterity", "delete"), ("neuroweaver", "corrupt"), ("relaycore", "column")],
)
def test_one_broken_system_leaves_the_others(
    small_demo: Path, tmp_path: Path, small_intact, system: str, kind: str
) -> None:
    data = _linked_copy(small_demo, tmp_path / "data")
    said = _break(data, system, kind)
    with Workbench.open(data, tenant="acme", strict=False) as wb:
        ua = unified_analytics(wb, start=SMALL_START, end=SMALL_END)
    broken = ua.system(system)
    assert broken.status == "unavailable" and not broken.available
    assert table(BREAK[system][0]).qualified_name in broken.reason and said in broken.reason
    assert broken.kpis.empty and list(broken.kpis.columns) == overview.KPI_COLUMNS
    assert list(broken.daily.columns) == ["date", *overview.DAILY_COLUMNS[system]]
    assert ua.health.of(system) == "down"
    for other in set(BREAK) - {system}:
        assert ua.system(other).available
        pd.testing.assert_frame_equal(ua.system(other).kpis, small_intact.system(other).kpis)
        assert ua.health.of(other) == small_intact.health.of(other)
    daily = ua.daily()
    assert daily[overview.DAILY_COLUMNS[system]].isna().all().all() and len(daily) == 14
    if system == "neuroweaver":  # relaycore's AI cost needs the prompt outputs
        assert "ai_cost" not in ua.relaycore.details
        assert any(
            n.startswith("ai_cost not computed: table neuroweaver.prompt_outputs")
            for n in ua.relaycore.notes
        )


def test_strict_workbench(small_demo: Path, tmp_path: Path) -> None:
    """Strict: a corrupt file stops the open with a clear error; a failing query is caught."""
    data = _linked_copy(small_demo, tmp_path / "data")
    _break(data, "relaycore", "corrupt")
    with pytest.raises(
        ManifestError, match="relaycore.workflow_runs: an extract file cannot be read"
    ):
        Workbench.open(data, tenant="acme")
    hand = build_data_dir(
        tmp_path / "hand",
        {
            "user_sessions": [
                {"tenant_id": "t1", "start_time": "2026-03-02T10:00:00Z", "duration": 5}
            ],
            "workflow_runs": [
                {"tenant_id": "t1", "started_at": "2026-03-02T10:00:00Z", "duration_ms": 9}
            ],
        },
    )
    files = json.loads((hand / "manifest.json").read_text())["tables"]["relaycore.workflow_runs"][
        "files"
    ]
    for f in files:  # the column is gone from every file: the open succeeds, the query fails
        pq.write_table(
            pq.read_table(hand / f["path"]).drop_columns(["duration_ms"]), hand / f["path"]
        )
    with Workbench.open(hand, tenant="t1") as wb:
        assert wb.unavailable == {}
        ua = unified_analytics(
            wb, start="2026-03-01", end="2026-03-03", as_of="2026-03-02T12:00:00Z"
        )
    assert ua.auterity.available
    assert not ua.relaycore.available and "failed for tenant 't1'" in ua.relaycore.reason
    assert "duration_ms" in ua.relaycore.reason


def test_every_system_broken_raises(small_demo: Path, tmp_path: Path) -> None:
    data = _linked_copy(small_demo, tmp_path / "data")
    for system in BREAK:
        _break(data, system, "corrupt")
    with (
        Workbench.open(data, tenant="acme", strict=False) as wb,
        pytest.raises(
            UnifiedAnalyticsError, match="auterity: table auterity.user_sessions is unavailable"
        ),
    ):
        unified_analytics(wb, start=SMALL_START, end=SMALL_END)


def test_a_stale_system_is_unavailable(tmp_path: Path) -> None:
    """RelayCore's rows stop five days before as_of while the other systems keep coming."""
    end = dt.datetime(2026, 3, 20, tzinfo=dt.UTC)
    hours = [end - dt.timedelta(hours=h + 1) for h in range(24 * 14)]
    rows = {
        "user_sessions": [{"tenant_id": "t1", "start_time": t, "duration": 30} for t in hours],
        "prompt_outputs": [
            {"tenant_id": "t1", "created_at": t, "status": "success", "response_time_ms": 200}
            for t in hours
        ],
        "workflow_runs": [
            {
                "id": str(uuid.UUID(int=i + 1)),
                "tenant_id": "t1",
                "workflow_id": "W",
                "status": "success",
                "started_at": t,
                "duration_ms": 100,
            }
            for i, t in enumerate(hours)
            if t < end - dt.timedelta(days=5)
        ],
    }
    d = build_data_dir(tmp_path / "data", rows)
    with Workbench.open(d, tenant="t1", strict=False) as wb:
        ua = unified_analytics(wb, start="2026-03-13", end=end)
    assert ua.auterity.available and ua.neuroweaver.available
    assert ua.relaycore.status == "unavailable"
    assert ua.relaycore.reason == (
        "stale extract: newest extracted workflow_runs row is 121.0 h old (> 48 h)"
    )
    assert ua.health.of("relaycore") == "down"
    assert ua.kpis()["system"].unique().tolist() == ["auterity", "neuroweaver"]


def test_unified_cli(demo_dir: Path) -> None:
    runner = CliRunner()
    base = ["unified", "-d", str(demo_dir), "-t", "globex", "--start", START, "--end", END]
    res = runner.invoke(app, [*base, "--part", "bottlenecks", "--format", "csv"])
    assert res.exit_code == 0, res.output
    bottlenecks = pd.read_csv(io.StringIO(res.stdout)).set_index("workflow_id")
    assert bottlenecks.loc["lead-enrichment", "bottleneck_step"] == "crm_lookup"
    res = runner.invoke(app, [*base, "--part", "nope"])
    assert res.exit_code == 1 and "--part must be one of" in res.output


def test_a_range_reaching_the_present_is_assessed_to_the_minute_and_cached(
    small_demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from auterity_lab import unified
    from auterity_lab.config import Settings

    settings = Settings(data_dir=small_demo, cache_dir=tmp_path / "cache")
    clock = [dt.datetime(2026, 10, 31, 15, 7, 12, 345678, tzinfo=dt.UTC)]
    monkeypatch.setattr(unified, "_now", lambda: clock[0])
    kw = {"start": SMALL_START, "end": "2026-11-02", "details": False}  # ends in the "future"
    with Workbench.open(small_demo, tenant="acme", strict=False, settings=settings) as wb:
        first = unified_analytics(wb, **kw)
        clock[0] += dt.timedelta(seconds=40)  # 15:07:52: the same minute
        before = wb.cache.stats().layers["memory"].hits
        second = unified_analytics(wb, **kw)
        assert wb.cache.stats().layers["memory"].hits == before + 1  # one whole-result hit
        clock[0] += dt.timedelta(seconds=10)  # 15:08:02: the next minute, assessed anew
        third = unified_analytics(wb, **kw)
        with wb.no_cache():
            direct = unified_analytics(
                wb, **kw, as_of=dt.datetime(2026, 10, 31, 15, 8, tzinfo=dt.UTC)
            )
    assert first.as_of == second.as_of == dt.datetime(2026, 10, 31, 15, 7, tzinfo=dt.UTC)
    assert third.as_of == dt.datetime(2026, 10, 31, 15, 8, tzinfo=dt.UTC)
    # the demo's rows end 2026-11-01: the newest row's age grows by exactly the minute
    ages = [u.health.systems.set_index("system")["quiet_hours"] for u in (first, third)]
    assert (ages[1] - ages[0]).to_numpy() == pytest.approx([1 / 60] * 3, abs=1e-9)
    pd.testing.assert_frame_equal(third.health.systems, direct.health.systems)
    pd.testing.assert_frame_equal(first.daily(), third.daily())


def test_changed_objectives_in_the_environment_are_not_answered_from_the_cache(
    small_demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from auterity_lab.config import Settings

    settings = Settings(data_dir=small_demo, cache_dir=tmp_path / "cache")
    monkeypatch.delenv("AUTERITY_LAB_HEALTH_SLOS", raising=False)
    monkeypatch.delenv("AUTERITY_LAB_WORKFLOW_SLA", raising=False)

    def thresholds(wb: Workbench) -> dict[str, float]:
        checks = unified_analytics(wb, start=SMALL_START, end=SMALL_END).health.checks
        rows = checks[checks["check"].isin(["error_rate"])].set_index("system")["threshold"]
        return rows.to_dict()

    slos = tmp_path / "slos.yml"
    slos.write_text("systems:\n  auterity:\n    error_rate: 0.07\n", encoding="utf-8")
    sla = tmp_path / "sla.yml"
    sla.write_text("default: {target_ms: 1, objective: 0.5}\n", encoding="utf-8")
    with Workbench.open(small_demo, tenant="acme", strict=False, settings=settings) as wb:
        default = thresholds(wb)
        default_sla = unified_analytics(wb, start=SMALL_START, end=SMALL_END).relaycore
        monkeypatch.setenv("AUTERITY_LAB_HEALTH_SLOS", str(slos))
        monkeypatch.setenv("AUTERITY_LAB_WORKFLOW_SLA", str(sla))
        changed = thresholds(wb)
        changed_sla = unified_analytics(wb, start=SMALL_START, end=SMALL_END).relaycore
    assert default["auterity"] == pytest.approx(0.02)
    assert changed["auterity"] == pytest.approx(0.07)
    assert changed["neuroweaver"] == default["neuroweaver"]
    assert not default_sla.details["sla"].equals(changed_sla.details["sla"])
