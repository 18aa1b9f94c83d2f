"""``auterity-lab report`` and ``auterity-lab live`` through typer's runner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from auterity_lab.cli import app

from .builders import build_data_dir
from .test_reports_runner import write_tiny_catalog

runner = CliRunner()


def test_report_list_shows_the_catalog() -> None:
    res = runner.invoke(app, ["report", "list", "--as", "json"])
    assert res.exit_code == 0, res.output
    reports = {r["report"]: r for r in json.loads(res.stdout)}
    digest = reports["daily_digest"]
    assert digest["schedule"] == "15 6 * * *" and digest["grid"] == "tenant=*"
    assert digest["formats"] == "html,pdf,csv,json" and digest["retries"] == 2
    assert "tenant:VARCHAR!" in digest["parameters"] and "day:DATE" in digest["parameters"]
    assert "top_insights:INTEGER=5" in digest["parameters"]
    assert (
        reports["overview"]["source"] == "notebook"
        and "start:DATE=2026-08-03" in reports["overview"]["parameters"]
    )
    table = runner.invoke(app, ["report", "list"], env={"COLUMNS": "250"})
    assert table.exit_code == 0 and "weekly_review" in table.output


def test_report_run_grid_and_history(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTERITY_LAB_REPORT_CATALOG", str(write_tiny_catalog(tmp_path / "cat")))
    out = tmp_path / "out"
    res = runner.invoke(
        app,
        [
            "report",
            "run",
            "tiny",
            "-p",
            "tenant=acme",
            "-p",
            "tenant=globex",
            "--format",
            "csv,json",
            "--out",
            str(out),
            "--as",
            "json",
        ],
    )
    assert res.exit_code == 0, res.output
    runs = json.loads(res.stdout)
    assert [r["status"] for r in runs] == ["succeeded", "succeeded"]
    assert [r["run_id"].split("-tenant=")[1] for r in runs] == ["acme", "globex"]
    assert all(r["html"] == "" for r in runs)  # only the formats asked for
    assert (out / "tiny" / runs[0]["run_id"] / "tables" / "numbers.csv").is_file()
    history = runner.invoke(app, ["report", "history", "tiny", "--out", str(out), "--as", "csv"])
    assert history.exit_code == 0 and history.stdout.count("succeeded") == 2
    bad = runner.invoke(
        app,
        ["report", "run", "tiny", "-p", "tenant=acme", "-p", "fail_times=two", "--out", str(out)],
    )
    assert (
        bad.exit_code == 1
        and "ReportParameterError" in bad.output
        and "Traceback" not in bad.output
    )
    failing = runner.invoke(  # the hourly one has no retries: one attempt, then exit 1
        app,
        ["report", "run", "tiny_hourly", "-p", "fail_times=5", "-p", f"counter={tmp_path / 'n'}",
         "--out", str(out), "--as", "json"],
    )  # fmt: skip
    assert failing.exit_code == 1
    assert json.loads(failing.stdout)[0]["error"].startswith(
        "cell 3: RuntimeError: planned failure 1"
    )
    unknown = runner.invoke(app, ["report", "history", "nope"])
    assert unknown.exit_code == 1 and "no report named 'nope'" in unknown.output


def test_all_tenants_excludes_a_tenant_parameter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTERITY_LAB_REPORT_CATALOG", str(write_tiny_catalog(tmp_path / "cat")))
    data = build_data_dir(
        tmp_path / "data", {"users": [{"tenant_id": "acme", "created_at": "2026-10-01"}]}
    )
    res = runner.invoke(
        app, ["report", "run", "tiny", "--all-tenants", "-p", "tenant=acme", "--data", str(data)]
    )
    assert res.exit_code == 1 and "--all-tenants and -p tenant=... exclude each other" in res.output


def test_live_cli(tmp_path: Path) -> None:
    data = build_data_dir(
        tmp_path / "data", {"users": [{"tenant_id": "acme", "created_at": "2026-10-01"}]}
    )
    res = runner.invoke(
        app,
        [
            "live",
            "watch",
            "-t",
            "acme",
            "--data",
            str(data),
            "--seconds",
            "0.5",
            "--as",
            "json",
            "-c",
            "metric_update",
        ],
    )
    assert res.exit_code == 0, res.output
    assert res.stdout == ""  # nothing changed in half a second: no event
    assert "polling every 30 s" in res.output
    bad = runner.invoke(
        app, ["live", "watch", "-t", "acme", "--data", str(data), "-c", "metrics", "--seconds", "0"]
    )
    assert bad.exit_code == 1 and "unknown channel metrics" in bad.output
    no_dsn = runner.invoke(app, ["live", "install-triggers"], env={"AUTERITY_LAB_POSTGRES_DSN": ""})
    assert no_dsn.exit_code == 1 and "no Postgres DSN for auterity" in no_dsn.output
