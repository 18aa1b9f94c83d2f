"""The CLI, driven through typer's runner and once as a real subprocess."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from auterity_lab.cli import app
from auterity_lab.warehouse import Workbench

runner = CliRunner()


def test_query_csv_and_json_match_the_library(demo_dir: Path) -> None:
    args = [
        "query",
        "daily_user_analytics",
        "--data",
        str(demo_dir),
        "-t",
        "acme",
        "-p",
        "start=2026-09-01",
        "-p",
        "end=2026-09-08",
    ]
    csv = runner.invoke(app, [*args, "--format", "csv"])
    assert csv.exit_code == 0, csv.output
    got = pd.read_csv(io.StringIO(csv.stdout))
    with Workbench.open(demo_dir, tenant="acme") as wb:
        expected = wb.query("daily_user_analytics", start="2026-09-01", end="2026-09-08")
    assert got["total_sessions"].tolist() == expected["total_sessions"].tolist()
    js = runner.invoke(app, [*args, "--format", "json"])
    records = json.loads(js.stdout)
    assert [r["unique_users"] for r in records] == expected["unique_users"].tolist()
    assert records[0]["date"].startswith("2026-09-01")


def test_query_to_parquet_file(demo_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "kpis.parquet"
    res = runner.invoke(
        app,
        [
            "query",
            "overview_kpis",
            "-d",
            str(demo_dir),
            "-t",
            "globex",
            "-p",
            "start=2026-09-01",
            "-p",
            "end=2026-10-01",
            "-f",
            "parquet",
            "-o",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    assert pd.read_parquet(out)["metric"].iloc[0] == "active_users"


def test_errors_are_one_line_without_traceback(demo_dir: Path) -> None:
    res = runner.invoke(app, ["query", "nope", "-d", str(demo_dir), "-t", "acme"])
    assert res.exit_code == 1
    assert "QueryNotFoundError: no query named 'nope'" in res.output
    assert "Traceback" not in res.output
    res = runner.invoke(app, ["query", "overview_kpis", "-d", str(demo_dir), "-t", "zzz"])
    assert res.exit_code == 1 and "UnknownTenantError" in res.output
    res = runner.invoke(
        app, ["query", "overview_kpis", "-d", str(demo_dir), "-t", "acme", "-p", "start"]
    )
    assert res.exit_code == 1 and "is not key=value" in res.output


def test_list_and_info(demo_dir: Path) -> None:
    res = runner.invoke(app, ["query", "--list"])
    assert "daily_user_analytics([start], [end])" in res.output
    res = runner.invoke(app, ["info", "--data", str(demo_dir)], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "tenants: acme, globex, initech" in res.output
    assert "neuroweaver.prompt_outputs" in res.output


def test_demo_command_as_a_real_process(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "auterity_lab",
            "demo",
            "--data",
            str(tmp_path),
            "--tenants",
            "1",
            "--days",
            "14",
            "--scale",
            "0.01",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "rows/s" in proc.stderr
    assert (tmp_path / "manifest.json").is_file() and (tmp_path / "ground_truth.json").is_file()
    bad = subprocess.run(
        [sys.executable, "-m", "auterity_lab", "demo", "--data", str(tmp_path), "--days", "3"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert bad.returncode == 1 and "days" in bad.stderr and "Traceback" not in bad.stderr
