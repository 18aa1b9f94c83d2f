"""The dashboard queries' range filter on the partition day equals the plain created_at filter.

The AI/ML and Workflow tab queries (also the Overview's Neuroweaver ones and the metric
catalog's) select ``[start, end)`` with a filter that, for whole-day bounds, folds to a test of
the partition day ``date`` alone (created_at is then not read). Each is compared here with the
same query filtered the row-level way (``created_at >= $start AND created_at < $end``, no
partition test) on the demo data and on hand-made rows at day edges:
whole days, partial first and last days, a range inside one day, an empty range, filters.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auterity_lab.ml import prompt_analytics
from auterity_lab.ml.cost import attach_costs
from auterity_lab.queries import load_query
from auterity_lab.warehouse import Workbench
from auterity_lab.workflow.sla import register_targets

from .test_ml_support import DATA, open_rows, output, uid

PRICES = DATA / "prices_change.yml"

QUERIES = {
    "ml_summary": {},
    "ml_prompts_top": {"top": 7},
    "ml_model_performance": {},
    "ml_cost_over_time": {"grain": "day"},
    "workflow_step_breakdown": {},
    "workflow_ai_workflows": {},
    "workflow_step_periods": {"period": "week"},
    "workflow_runs_summary": {},
    "workflow_runs_over_time": {"period": "day"},
    "workflow_sla": {},
    "overview_kpis_neuroweaver": {},
    "overview_daily_neuroweaver": {},
    **{
        name: {"grain": "day"}
        for name in (
            "metric_neuroweaver",
            "metric_neuroweaver_by_model",
            "metric_neuroweaver_cost",
            "metric_performance",
            "metric_performance_by_endpoint",
            "metric_relaycore",
            "metric_relaycore_by_step",
        )
    },  # fmt: skip
}
"""The queries with the folding range filter, and the other parameters they are run with."""

_FOLDING = re.compile(
    r"(?P<a>\w+\.)?date BETWEEN CAST\(\$start AS DATE\) AND CAST\(\$end AS DATE\)\s+"
    r"AND \(CAST\(\$start AS DATE\) = \$start OR (?P=a)?created_at >= \$start\)\s+"
    r"AND \((?P=a)?date < CAST\(\$end AS DATE\)\s+"
    r"OR \(CAST\(\$end AS DATE\) <> \$end AND (?P=a)?created_at < \$end\)\)"
)


def row_level_sql(name: str) -> str:
    """The query with its range filter on created_at only (no partition test)."""
    sql, n = _FOLDING.subn(
        lambda m: f"{m['a'] or ''}created_at >= $start AND {m['a'] or ''}created_at < $end",
        load_query(name).sql,
    )
    assert n >= 1, f"{name} has no folding range filter"
    return sql


def both(wb: Workbench, name: str, **params: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the query as shipped, the row-level form) for the same parameters, cache off."""
    given = QUERIES[name] | params
    bound = load_query(name).bind(given)
    reference = row_level_sql(name)
    used = {k: v for k, v in bound.items() if f"${k}" in reference}
    with wb.no_cache():
        return wb.query(name, **given), wb.sql(reference, **used)


def assert_same(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-9)


def _prepared(wb: Workbench, prices: Path | None = None) -> Workbench:
    attach_costs(wb, prices=prices)
    register_targets(wb, None)
    return wb


@pytest.fixture(scope="module")
def demo(demo_dir: Path) -> Iterator[Workbench]:
    with Workbench.open(demo_dir, tenant="acme") as bench:
        yield _prepared(bench)


DEMO_RANGES = [
    ("2026-09-06", "2026-11-01"),  # the dashboard's eight weeks: whole days
    ("2026-09-06T07:30:00", "2026-10-01"),  # partial first day
    ("2026-09-06", "2026-10-01T13:05:00"),  # partial last day
    ("2026-10-03T01:00:00", "2026-10-03T02:30:00"),  # inside one day
    ("2026-10-03", "2026-10-03"),  # empty
    ("2026-10-30", "2026-11-30"),  # beyond the data
]


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_demo_equals_the_row_level_filter(demo: Workbench, name: str) -> None:
    for start, end in DEMO_RANGES:
        got, expected = both(demo, name, start=start, end=end)
        assert_same(got, expected)
    if name.startswith("ml_"):
        got, expected = both(
            demo, name, start="2026-09-06T12:00:00", end="2026-11-01", model="gpt-4o"
        )
        assert_same(got, expected)
    elif name.startswith("workflow_"):
        got, expected = both(
            demo, name, start="2026-09-06", end="2026-10-15T06:00:00", workflow="lead-enrichment"
        )
        assert_same(got, expected)


def test_the_whole_day_filter_does_not_read_created_at(demo: Workbench) -> None:
    """What the speed comes from: a plan with whole-day bounds never names created_at."""
    query = load_query("ml_summary")

    def plan(start: str, end: str) -> str:
        params = query.bind({"start": start, "end": end})
        with demo.no_cache():
            explained = demo.sql("EXPLAIN " + query.sql, **params)
        return "\n".join(explained.iloc[:, 1])

    assert "created_at" not in plan("2026-09-06", "2026-11-01")
    assert "created_at" in plan("2026-09-06T01:00:00", "2026-11-01")


# --------------------------------------------------------------------- hand-made day edges
EDGES = [  # one format for pandas: microseconds everywhere
    "2026-01-01T23:59:59.999999",  # the last instant before the first day
    "2026-01-02T00:00:00.000000",  # first day, midnight
    "2026-01-02T00:00:00.000001",
    "2026-01-02T11:59:59.000000",
    "2026-01-02T12:00:00.000000",
    "2026-01-02T23:59:59.999999",
    "2026-01-03T00:00:00.000000",  # second day, midnight
    "2026-01-03T17:45:00.000000",
    "2026-01-04T00:00:00.000000",  # third day, midnight
    "2026-01-04T00:00:00.500000",
]


def _edge_rows() -> dict[str, list[dict[str, Any]]]:
    outputs, runs, steps = [], [], []
    for i, at in enumerate(EDGES):
        outputs.append(
            output(
                "alpha" if i % 3 else "beta",
                at,
                id=uid(1000 + i),
                user_id=uid(i % 4),
                prompt_hash=f"h{i % 3}",
                prompt=f"prompt {i % 3}",
                prompt_version="v1" if i % 2 else "v2",
                model_version="1",
                input_tokens=10 * (i + 1),
                output_tokens=5 * (i + 1),
                response_time_ms=100 + 37 * i,
                user_rating=[5, 4, None, 2, 3][i % 5],
                status="error" if i % 4 == 3 else "success",
            )
        )
        runs.append(
            {
                "id": uid(2000 + i),
                "tenant_id": "t1",
                "workflow_id": "W" if i % 2 else "V",
                "status": "failed" if i % 5 == 4 else "success",
                "trigger": "api",
                "started_at": at,
                "created_at": at,
                "duration_ms": 1000 + 100 * i,
            }
        )
        for idx, (name, kind) in enumerate((("fetch", "http"), ("call", "ai"))):
            steps.append(
                {
                    "tenant_id": "t1",
                    "run_id": uid(2000 + i),
                    "step_index": idx,
                    "step_name": name,
                    "step_type": kind,
                    "attempt": 1,
                    "status": "success",
                    "started_at": at,
                    "created_at": at,
                    "duration_ms": 200 + 10 * i + idx,
                    "prompt_output_id": uid(1000 + i) if kind == "ai" else None,
                }
            )
    return {"prompt_outputs": outputs, "workflow_runs": runs, "workflow_steps": steps}


@pytest.fixture(scope="module")
def edges(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workbench]:
    with open_rows(tmp_path_factory.mktemp("edges"), _edge_rows()) as bench:
        yield _prepared(bench, PRICES)


EDGE_RANGES = [
    ("2026-01-02", "2026-01-04"),
    ("2026-01-01", "2026-01-05"),
    ("2026-01-02T00:00:00.000001", "2026-01-03T17:45:00"),
    ("2026-01-02T12:00:00", "2026-01-02T12:00:00.000001"),
    ("2026-01-03", "2026-01-03"),
    ("2026-01-01T23:59:59.999999", "2026-01-02"),
]


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_day_edges_equal_the_row_level_filter(edges: Workbench, name: str) -> None:
    for start, end in EDGE_RANGES:
        got, expected = both(edges, name, start=start, end=end)
        assert_same(got, expected)


def test_hourly_costs_equal_the_row_level_filter(edges: Workbench) -> None:
    """The hour grain reads created_at for the bucket: whole days and partial ones alike."""
    for start, end in EDGE_RANGES:
        got, expected = both(edges, "ml_cost_over_time", start=start, end=end, grain="hour")
        assert_same(got, expected)
    got = both(edges, "ml_cost_over_time", start="2026-01-02", end="2026-01-03", grain="hour")[0]
    assert got["requests"].sum() == 5 and got["period"].dt.hour.tolist() == [0, 11, 12, 23]


def test_whole_days_count_the_rows_of_those_days(edges: Workbench) -> None:
    """Hand count: [Jan 2, Jan 4) holds the 5 + 2 outputs (and runs) stamped Jan 2 and Jan 3,
    not those of the instant before nor of Jan 4's midnight."""
    with edges.no_cache():
        summary = edges.query("ml_summary", start="2026-01-02", end="2026-01-04")
        runs = edges.query("workflow_runs_summary", start="2026-01-02", end="2026-01-04")
    assert summary.set_index("metric").loc["requests", "value"] == 7
    total = runs[(runs["workflow_id"] == "all") & (runs["trigger"] == "all")]
    assert total["runs"].tolist() == [7]


@settings(max_examples=25, deadline=None)
@given(
    st.integers(min_value=0, max_value=4 * 24 * 4),
    st.integers(min_value=0, max_value=3 * 24 * 4),
)
def test_any_quarter_hour_bounds_equal_the_row_level_filter(
    edges: Workbench, start_q: int, length_q: int
) -> None:
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=15 * start_q)
    end = start + dt.timedelta(minutes=15 * length_q)
    for name in ("ml_summary", "ml_prompts_top", "workflow_runs_summary"):
        got, expected = both(edges, name, start=start, end=end)
        assert_same(got, expected)


# --------------------------------------------------------------------- prompts: preview, top
def test_preview_is_the_least_of_the_first_80_characters(tmp_path: Path) -> None:
    """Rows of one prompt hash with different texts (a hash is not trusted to fix the text):
    the preview is min(left(prompt, 80)) over the group, as the all-prompts query has it."""
    long_a = "é" * 79 + "b" + "zzz"  # 83 characters, the 80th differs
    texts = [long_a, "é" * 79 + "a" + "yyy", "ü", None, "é" * 80]
    rows = [
        output(
            "alpha",
            "2026-01-02T10:00",
            prompt_hash="h",
            prompt_version="v1",
            prompt=t,
            response_time_ms=100 * (i + 1),
        )
        for i, t in enumerate(texts)
    ] + [output("alpha", "2026-01-02T11:00", prompt_hash="g", prompt_version="v1", prompt=None)]
    with open_rows(tmp_path, {"prompt_outputs": rows}) as bench:
        kw = {"start": "2026-01-02", "end": "2026-01-03", "prices": PRICES}
        top = prompt_analytics(bench, top=2, **kw).set_index("prompt_hash")
        everything = prompt_analytics(bench, **kw).set_index("prompt_hash")
    expected = min(t[:80] for t in texts if t is not None)
    assert top.loc["h", "prompt_preview"] == expected == everything.loc["h", "prompt_preview"]
    assert pd.isna(top.loc["g", "prompt_preview"])
    assert top.loc["h", "latency_p50_ms"] == np.percentile([100, 200, 300, 400, 500], 50)
    assert top.loc["h", "latency_p95_ms"] == pytest.approx(
        np.percentile([100, 200, 300, 400, 500], 95)
    )
