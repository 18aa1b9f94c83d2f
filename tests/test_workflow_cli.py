"""The ``workflow`` CLI commands: one per public function, options = its parameters, same frames."""

from __future__ import annotations

import inspect
import io
import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from auterity_lab import workflow
from auterity_lab.cli import app
from auterity_lab.cli.workflow import _COMMANDS
from auterity_lab.warehouse import Workbench

runner = CliRunner()
BASE = ["-t", "acme", "--start", "2026-09-01", "--end", "2026-10-01"]


def test_every_public_function_has_a_command_with_its_parameters() -> None:
    public = {
        name
        for name in workflow.__all__
        if callable(getattr(workflow, name))
        and not isinstance(getattr(workflow, name), type)
        and name != "load_sla_config"
    }
    assert {fn for fn, _, _ in _COMMANDS.values()} == public
    for command, (fn, options, _) in _COMMANDS.items():
        params = inspect.signature(getattr(workflow, fn)).parameters
        keyword = {
            p.name: p.default for p in params.values() if p.kind is inspect.Parameter.KEYWORD_ONLY
        }
        assert (
            keyword.pop("start") is inspect.Parameter.empty
            and keyword.pop("end") is inspect.Parameter.empty
        )
        assert keyword == options, command


@pytest.mark.parametrize(
    ("command", "function", "extra"),
    [
        ("runs", "run_summary", {}),
        ("bottlenecks", "bottlenecks", {}),
        ("sla-trends", "sla_over_time", {"period": "week"}),
    ],
)
def test_csv_and_json_equal_the_library(
    demo_dir: Path, command: str, function: str, extra: dict[str, str]
) -> None:
    options = [f"--{k.replace('_', '-')}={v}" for k, v in extra.items()]
    args = ["workflow", command, "-d", str(demo_dir), *BASE, *options]
    with Workbench.open(demo_dir, tenant="acme") as wb:
        expected = getattr(workflow, function)(wb, start="2026-09-01", end="2026-10-01", **extra)
    csv = runner.invoke(app, [*args, "--format", "csv"])
    assert csv.exit_code == 0, csv.output
    got = pd.read_csv(io.StringIO(csv.stdout))
    assert got.columns.tolist() == expected.columns.tolist()
    assert len(got) == len(expected)
    numeric = expected.select_dtypes("number").columns
    pd.testing.assert_frame_equal(
        got[numeric], expected[numeric].reset_index(drop=True), check_dtype=False
    )
    js = runner.invoke(app, [*args, "--format", "json"])
    assert len(json.loads(js.stdout)) == len(expected)


def test_workflow_filter_and_errors(demo_dir: Path) -> None:
    res = runner.invoke(
        app,
        [
            "workflow",
            "shifts",
            "-d",
            str(demo_dir),
            *BASE,
            "-w",
            "lead-enrichment",
            "--min-days",
            "3",
            "-f",
            "csv",
        ],
    )
    assert res.exit_code == 0, res.output
    assert set(pd.read_csv(io.StringIO(res.stdout))["workflow_id"]) == {"lead-enrichment"}
    res = runner.invoke(app, ["workflow", "trends", "-d", str(demo_dir), *BASE, "--period", "hour"])
    assert (
        res.exit_code == 1
        and "QueryParameterError: period must be one of day, week, month" in res.output
    )
    res = runner.invoke(
        app, ["workflow", "sla", "-d", str(demo_dir), *BASE, "--targets", "/nope.yaml"]
    )
    assert res.exit_code == 1 and "SLA file /nope.yaml does not exist" in res.output
