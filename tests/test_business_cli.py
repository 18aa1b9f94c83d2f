"""``auterity-lab business ...``: every command prints what the library returns, as CSV or JSON."""

# ruff: noqa: F811  (test functions take the fixtures imported from test_business_data)

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from auterity_lab import business
from auterity_lab.cli import app
from auterity_lab.warehouse import Workbench

from .test_business_data import hand_dir  # noqa: F401  (fixture)

runner = CliRunner()
RANGE = ["--start", "2026-03-02", "--end", "2026-03-16"]
KW = {"start": "2026-03-02", "end": "2026-03-16"}

# command line -> the library call it must equal
CASES = [
    (
        ["users", *RANGE, "-i", "week", "-b", "device"],
        business.user_activity,
        {**KW, "interval": "week", "breakdown": "device"},
    ),
    (["stickiness", *RANGE, "--country", "DE"], business.stickiness, {**KW, "country": ["DE"]}),
    (["active-days", *RANGE], business.active_days, KW),
    (["acquisition", *RANGE, "--window-days", "7"], business.acquisition, {**KW, "window_days": 7}),
    (
        ["retention", *RANGE, "--unbounded", "--cohort-event", "signup", "--return-event", "any"],
        business.retention,
        {**KW, "unbounded": True, "cohort_event": "signup", "return_event": None},
    ),
    (
        ["lifecycle", *RANGE, "--device", "mobile", "--device", "desktop"],
        business.lifecycle,
        {**KW, "device": ["mobile", "desktop"]},
    ),
    (
        ["funnel", *RANGE, "-s", "signup", "-s", "subscribe plan=team", "--window", "7d"],
        business.funnel,
        {**KW, "steps": ["signup", business.Step("subscribe", {"plan": "team"})], "window": "7d"},
    ),
    (
        ["revenue", *RANGE, "-i", "range", "-b", "plan"],
        business.revenue,
        {**KW, "interval": "range", "breakdown": "plan"},
    ),
    (
        ["mrr", "--start", "2026-03-01", "--end", "2026-04-01"],
        business.mrr,
        {"start": "2026-03-01", "end": "2026-04-01"},
    ),
    (
        ["ltv", "--start", "2026-02-01", "--end", "2026-04-01"],
        business.ltv,
        {"start": "2026-02-01", "end": "2026-04-01"},
    ),
    (
        ["performance", *RANGE, "-i", "day", "--level", "service"],
        business.system_performance,
        {**KW, "interval": "day", "level": "service"},
    ),
    (["summary", *RANGE, "--plan", "free"], business.business_metrics, {**KW, "plan": ["free"]}),
    (["segments", *RANGE, "--by", "channel"], business.segment_kpis, {**KW, "by": "channel"}),
    (["dimensions"], business.dimension_values, {}),
]


@pytest.mark.parametrize(("args", "fn", "kwargs"), CASES, ids=[c[0][0] for c in CASES])
def test_csv_equals_the_library(hand_dir: Path, args: list[str], fn, kwargs: dict) -> None:
    res = runner.invoke(app, ["business", *args, "-d", str(hand_dir), "-t", "t1", "-f", "csv"])
    assert res.exit_code == 0, res.output
    got = pd.read_csv(io.StringIO(res.stdout))
    with Workbench.open(hand_dir, tenant="t1") as wb:
        expected = fn(wb, **kwargs)
    assert got.columns.tolist() == expected.columns.tolist()
    assert len(got) == len(expected) > 0
    numeric = expected.select_dtypes("number").columns
    pd.testing.assert_frame_equal(
        got[numeric].astype(float), expected[numeric].astype(float), check_exact=False, rtol=1e-9
    )


def test_json_and_table_output(hand_dir: Path) -> None:
    args = ["business", "retention", *RANGE, "-d", str(hand_dir), "-t", "t1"]
    records = json.loads(runner.invoke(app, [*args, "-f", "json"]).stdout)
    assert [(r["period"], r["retained"]) for r in records] == [(0, 2), (1, 1), (0, 2)]
    assert records[0]["cohort"].startswith("2026-03-02")
    table = runner.invoke(app, [*args, "-f", "table"], env={"COLUMNS": "250"})
    assert table.exit_code == 0 and "retention (t1)" in table.stdout


def test_errors_are_one_line(hand_dir: Path) -> None:
    res = runner.invoke(
        app, ["business", "users", *RANGE, "-d", str(hand_dir), "-t", "t1", "-b", "browser"]
    )
    assert res.exit_code == 1 and "QueryParameterError: breakdown must be one of" in res.output
    assert "Traceback" not in res.output
    res = runner.invoke(
        app, ["business", "funnel", *RANGE, "-d", str(hand_dir), "-t", "t1", "-s", "signup"]
    )
    assert res.exit_code == 1 and "at least two steps" in res.output
