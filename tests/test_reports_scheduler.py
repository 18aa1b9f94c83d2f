"""``report due``: what is due when, one run per tick and grid combination, failures not replayed,
dead runs retried, overlapping calls never running a report twice, and the CLI for cron."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from auterity_lab.catalog import load_catalog
from auterity_lab.cli import app
from auterity_lab.scheduler import due_runs, run_due, schedule_status

from .builders import build_data_dir
from .test_reports_runner import write_tiny_catalog

UTC = dt.UTC


def _t(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path, Path]:
    """(catalog file, data dir with tenants acme and globex, output folder)."""
    catalog = write_tiny_catalog(tmp_path / "catalog")
    monkeypatch.setenv("AUTERITY_LAB_REPORT_CATALOG", str(catalog))
    data = build_data_dir(
        tmp_path / "data",
        {
            "users": [
                {"tenant_id": "acme", "created_at": "2026-10-01T10:00:00Z"},
                {"tenant_id": "globex", "created_at": "2026-10-01T11:00:00Z"},
            ]
        },
    )
    return catalog, data, tmp_path / "out"


def _keys(runs: list) -> list[tuple[str, str, dt.datetime]]:
    return [(r.report, ",".join(f"{k}={v}" for k, v in r.key.items()), r.tick) for r in runs]


def test_ticks_grid_and_catch_up(setup: tuple[Path, Path, Path]) -> None:
    catalog, data, out = setup
    cat = load_catalog(catalog)
    # 06:00 daily for every tenant; 0 * * * * for tiny_hourly (no grid)
    assert _keys(due_runs(out, now="2026-11-02T05:59:59", data_dir=data, catalog=cat)) == [
        ("tiny", "tenant=acme", _t("2026-11-01T06:00")),
        ("tiny", "tenant=globex", _t("2026-11-01T06:00")),
        ("tiny_hourly", "", _t("2026-11-02T05:00")),
    ]
    # exactly on the tick, the tick itself is due (not the one before)
    on_tick = due_runs(out, now="2026-11-02T06:00:00", data_dir=data, catalog=cat)
    assert {r.tick for r in on_tick} == {_t("2026-11-02T06:00")}
    # scheduled runs get the tick as their reference time, for the default day
    digest = [
        r
        for r in due_runs(out, now="2026-11-02T06:20", data_dir=data)
        if r.report == "daily_digest"
    ]
    assert digest == [] or digest[0].parameters["as_of"] == "2026-11-02T06:15:00+00:00"
    status = schedule_status(out, now="2026-11-02T06:20", data_dir=data, catalog=cat)
    assert status["due"].all() and status.loc[0, "next_tick"] == _t("2026-11-03T06:00")


def test_due_runs_once_per_tick(setup: tuple[Path, Path, Path]) -> None:
    catalog, data, out = setup
    cat = load_catalog(catalog)
    told: list[str] = []
    first = run_due(
        out,
        now="2026-11-02T06:30",
        data_dir=data,
        catalog=cat,
        notify=lambda run, spec: told.append(run.run_id),
    )
    assert [(r.report, r.key.get("tenant"), r.status) for r in first] == [
        ("tiny", "acme", "succeeded"),
        ("tiny", "globex", "succeeded"),
        ("tiny_hourly", None, "succeeded"),
    ]
    assert first[0].run_dir.name == "20261102T060000Z-tenant=acme"  # named after the tick
    assert first[2].run_dir.name == "20261102T060000Z"
    # nothing is due again until the next tick
    assert due_runs(out, now="2026-11-02T06:59", data_dir=data, catalog=cat) == []
    nxt = due_runs(out, now="2026-11-02T07:00", data_dir=data, catalog=cat)
    assert _keys(nxt) == [("tiny_hourly", "", _t("2026-11-02T07:00"))]
    state = json.loads((out / ".schedule" / "state.json").read_text())
    assert state["tiny|tenant=acme"]["last_success_run"] == "20261102T060000Z-tenant=acme"
    assert state["tiny|tenant=acme"]["last_status"] == "succeeded"
    assert told == []  # nothing failed, nobody was told


def test_a_failed_tick_is_not_replayed(setup: tuple[Path, Path, Path], tmp_path: Path) -> None:
    catalog, data, out = setup
    broken = write_tiny_catalog(
        tmp_path / "broken",
        extra="""\
  always_fails:
    notebook: tiny.ipynb
    parameters:
      tenant: {type: VARCHAR, default: acme}
      fail_times: {type: INTEGER, default: 99}
      counter: {type: VARCHAR, default: COUNTER}
    schedule: "*/10 * * * *"
    formats: [csv]
""".replace("COUNTER", str(tmp_path / "count")),
    )
    cat = load_catalog(broken)
    cat = type(cat)({"always_fails": cat["always_fails"]}, cat.path)
    told: list[str] = []
    results = run_due(
        out,
        now="2026-11-02T06:05",
        data_dir=data,
        catalog=cat,
        notify=lambda run, spec: told.append(run.error),
    )
    assert [r.status for r in results] == ["failed"] and len(told) == 1
    assert "planned failure 1" in told[0]
    assert due_runs(out, now="2026-11-02T06:09", data_dir=data, catalog=cat) == []
    assert _keys(due_runs(out, now="2026-11-02T06:10", data_dir=data, catalog=cat)) == [
        ("always_fails", "", _t("2026-11-02T06:10"))
    ]


def test_a_run_whose_process_died_is_due_again(setup: tuple[Path, Path, Path]) -> None:
    catalog, data, out = setup
    cat = load_catalog(catalog)
    (out / ".schedule").mkdir(parents=True)
    (out / ".schedule" / "state.json").write_text(
        json.dumps(
            {
                "tiny|tenant=acme": {
                    "last_status": "running",
                    "last_attempt_tick": "2026-11-02T06:00:00+00:00",
                },
                "tiny|tenant=globex": {
                    "last_status": "failed",
                    "last_attempt_tick": "2026-11-02T06:00:00+00:00",
                },
                "tiny_hourly": {
                    "last_status": "succeeded",
                    "last_success_tick": "2026-11-02T06:00:00+00:00",
                },
            }
        )
    )
    assert _keys(due_runs(out, now="2026-11-02T06:30", data_dir=data, catalog=cat)) == [
        ("tiny", "tenant=acme", _t("2026-11-02T06:00"))
    ]


def test_overlapping_calls_never_run_a_report_twice(
    setup: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    catalog, data, out = setup
    slow = write_tiny_catalog(
        tmp_path / "slow",
        extra="""\
  slow:
    notebook: tiny.ipynb
    parameters:
      tenant: {type: VARCHAR, default: acme}
      sleep_s: {type: DOUBLE, default: 4}
    schedule: "0 6 * * *"
    formats: [csv]
""",
    )
    cat = load_catalog(slow)
    only_slow = type(cat)({"slow": cat["slow"]}, cat.path)
    # the first call is another process, as two cron invocations would be
    code = (
        "from auterity_lab.catalog import load_catalog; "
        "from auterity_lab.scheduler import run_due; "
        f"cat = load_catalog({str(slow)!r}); cat = type(cat)({{'slow': cat['slow']}}, cat.path); "
        f"print([r.status for r in run_due({str(out)!r}, now='2026-11-02T06:30', "
        f"data_dir={str(data)!r}, catalog=cat)])"
    )
    first = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    lock = out / ".schedule" / "locks" / "slow.lock"
    deadline = time.monotonic() + 60
    while not (
        lock.exists()
        and due_runs(out, now="2026-11-02T06:30", data_dir=data, catalog=only_slow) == []
    ):
        assert first.poll() is None, first.communicate()
        assert time.monotonic() < deadline, "the first call never took the lock"
        time.sleep(0.05)
    second = run_due(out, now="2026-11-02T06:30", data_dir=data, catalog=only_slow)
    stdout, stderr = first.communicate(timeout=120)
    assert first.returncode == 0, stderr
    assert stdout.strip() == "['succeeded']"
    assert second == []  # overlapping: it saw the lock and ran nothing
    runs = [p for p in (out / "slow").iterdir() if not p.is_symlink()]
    assert len(runs) == 1
    assert due_runs(out, now="2026-11-02T06:31", data_dir=data, catalog=only_slow) == []


def test_cli_due_is_quiet_when_nothing_is_due(setup: tuple[Path, Path, Path]) -> None:
    catalog, data, out = setup
    runner = CliRunner()
    args = ["report", "due", "--data", str(data), "--out", str(out)]
    dry = runner.invoke(app, [*args, "--dry-run", "--now", "2026-11-02T06:30", "--as", "json"])
    assert dry.exit_code == 0, dry.output
    rows = json.loads(dry.stdout)
    assert [(r["report"], r["key"], r["due"]) for r in rows] == [
        ("tiny", "tenant=acme", True),
        ("tiny", "tenant=globex", True),
        ("tiny_hourly", "", True),
    ]
    state = {"tiny|tenant=acme": {}, "tiny|tenant=globex": {}, "tiny_hourly": {}}
    for entry in state.values():
        entry.update(last_status="succeeded", last_success_tick="2026-11-02T06:00:00+00:00")
    (out / ".schedule").mkdir(parents=True)
    (out / ".schedule" / "state.json").write_text(json.dumps(state))
    quiet = runner.invoke(app, [*args, "--now", "2026-11-02T06:30"])
    assert quiet.exit_code == 0 and quiet.output == ""
