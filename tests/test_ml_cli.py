"""``auterity-lab ml``: every command prints what the library returns, as CSV and as JSON."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from auterity_lab import ml
from auterity_lab.cli import app
from auterity_lab.warehouse import Workbench

from .test_ml_support import DATA

runner = CliRunner()
R = {"start": "2026-09-01", "end": "2026-10-01"}
RANGE = ["--start", R["start"], "--end", R["end"]]

# command line -> (library function, keyword arguments, a column to compare)
CASES = {
    "summary": (["summary", *RANGE], ml.ml_summary, R, "value"),
    "performance": (
        ["performance", *RANGE, "--model", "gpt-4o"],
        ml.model_performance,
        {**R, "model": "gpt-4o"},
        "latency_p95_ms",
    ),
    "performance-over-time": (
        ["performance-over-time", *RANGE, "--grain", "week"],
        ml.performance_over_time,
        {**R, "grain": "week"},
        "requests",
    ),
    "filters": (["filters", *RANGE], ml.filter_values, R, "requests"),
    "cost": (["cost", *RANGE], ml.cost_by_model, R, "cost_usd"),
    "cost-over-time": (["cost-over-time", *RANGE], ml.cost_over_time, R, "cost_usd"),
    "workflow-costs": (["workflow-costs", *RANGE], ml.workflow_costs, R, "cost_per_run"),
    "prices": (
        ["prices", "--on", "2026-09-15"],
        ml.prices_in_force,
        {"on": "2026-09-15"},
        "input_usd_per_1m",
    ),
    "prompts": (["prompts", *RANGE], ml.prompt_analytics, R, "quality_score"),
    "prompt-rankings": (
        ["prompt-rankings", *RANGE, "--n", "3"],
        ml.prompt_rankings,
        {**R, "n": 3},
        "quality_score",
    ),
    "prompt-versions": (
        ["prompt-versions", *RANGE],
        ml.prompt_version_comparison,
        R,
        "mean_rating",
    ),
    "ratings": (
        ["ratings", *RANGE, "--by", "model_id"],
        ml.rating_distribution,
        {**R, "by": "model_id"},
        "n",
    ),
    "feedback-rate": (["feedback-rate", *RANGE], ml.feedback_rate, R, "feedback_rate"),
    "feedback-terms": (
        ["feedback-terms", *RANGE, "--max-rating", "3"],
        ml.low_rating_terms,
        {**R, "max_rating": 3},
        "low_comments",
    ),
    "compare": (["compare", *RANGE, "--seed", "2"], ml.compare_models, {**R, "seed": 2}, "ci_low"),
    "experiments": (["experiments"], ml.list_experiments, {}, "assigned_users"),
    "suggestions": (
        ["suggestions", *RANGE, "--kind", "cache_repeated_prompts"],
        ml.optimization_suggestions,
        {**R, "kinds": ["cache_repeated_prompts"]},
        "estimated_monthly_savings_usd",
    ),
    "health": (["health", *RANGE], ml.model_health, R, "recent_requests"),
}


@pytest.fixture(scope="module")
def library(demo_dir: Path) -> dict[str, pd.DataFrame]:
    with Workbench.open(demo_dir, tenant="acme") as wb:
        return {name: fn(wb, **kw) for name, (_, fn, kw, _) in CASES.items()}


def _run(args: list[str], fmt: str) -> pd.DataFrame | list[dict]:
    res = runner.invoke(app, [*args, "--format", fmt])
    assert res.exit_code == 0, res.output
    if fmt == "json":
        return json.loads(res.stdout)
    return pd.read_csv(io.StringIO(res.stdout)) if res.stdout.strip() else pd.DataFrame()


# every command in one format (alternating, to keep the suite fast); emit() is shared, and
# test_both_formats_for_the_trickiest_columns runs both on the frames with the most types
@pytest.mark.parametrize(
    ("name", "fmt"), [(n, ("csv", "json")[i % 2]) for i, n in enumerate(CASES)]
)
def test_every_command_matches_the_library(
    name: str, fmt: str, demo_dir: Path, library: dict[str, pd.DataFrame]
) -> None:
    args, _, _, column = CASES[name]
    expected = library[name]
    got = _run(["ml", *args, "--data", str(demo_dir), "-t", "acme"], fmt)
    values = got[column].tolist() if fmt == "csv" else [r[column] for r in got]
    assert len(values) == len(expected)
    assert values == pytest.approx(
        [None if pd.isna(v) else float(v) for v in expected[column]]
        if fmt == "json"
        else expected[column].astype(float).tolist(),
        nan_ok=True,
    )


@pytest.mark.parametrize("name", ["experiments", "suggestions", "performance"])
def test_both_formats_for_the_trickiest_columns(
    name: str, demo_dir: Path, library: dict[str, pd.DataFrame]
) -> None:
    args = ["ml", *CASES[name][0], "--data", str(demo_dir), "-t", "acme"]
    expected = library[name]
    csv, js = _run(args, "csv"), _run(args, "json")
    assert len(csv) == len(js) == len(expected)
    assert list(csv.columns) == list(expected.columns) == (list(js[0]) if js else list(csv.columns))


def test_experiment_parts_and_assign(demo_dir: Path, tmp_path: Path) -> None:
    base = [
        "ml",
        "experiment",
        "prompt-v2-rollout",
        "--data",
        str(demo_dir),
        "-t",
        "acme",
        "-f",
        "json",
    ]
    with Workbench.open(demo_dir, tenant="acme") as wb:
        expected = ml.analyze_experiment(wb, key="prompt-v2-rollout")
    for part in ("effects", "variants", "srm"):
        res = runner.invoke(app, [*base, "--part", part])
        assert res.exit_code == 0, res.output
        assert len(json.loads(res.stdout)) == len(getattr(expected, part))
    bad = runner.invoke(app, [*base, "--part", "nope"])
    assert bad.exit_code == 1 and "--part must be one of" in bad.output
    users = tmp_path / "users.txt"
    users.write_text("u1\nu3\n")
    res = runner.invoke(
        app,
        [
            "ml",
            "assign",
            "demo",
            "--variant",
            "control=50",
            "--variant",
            "treatment=50",
            "--users-file",
            str(users),
            "-f",
            "json",
        ],
    )
    assert res.exit_code == 0, res.output
    assert [r["variant"] for r in json.loads(res.stdout)] == ["treatment", "control"]
    res = runner.invoke(
        app, ["ml", "assign", "demo", "--variant", "a=70", "--variant", "b=20", "u1"]
    )
    assert res.exit_code == 1 and "sum to 90" in res.output


def test_price_table_and_errors(demo_dir: Path) -> None:
    res = runner.invoke(
        app, ["ml", "prices", "--prices", str(DATA / "prices_change.yml"), "-f", "csv"]
    )
    assert res.exit_code == 0, res.output
    assert pd.read_csv(io.StringIO(res.stdout))["model"].tolist() == [
        "alpha",
        "alpha",
        "beta-*",
        "beta-large",
        "gam_*",
    ]
    res = runner.invoke(
        app,
        [
            "ml",
            "performance",
            "-d",
            str(demo_dir),
            "-t",
            "acme",
            "--start",
            "2026-10-01",
            "--end",
            "2026-09-01",
        ],
    )
    assert (
        res.exit_code == 1 and "must be after start" in res.output and "Traceback" not in res.output
    )
    res = runner.invoke(
        app, ["ml", "cost-over-time", "-d", str(demo_dir), "-t", "acme", *RANGE, "--grain", "month"]
    )
    assert res.exit_code == 1 and "grain must be one of" in res.output
