"""AI attribution of workflow runs: hand-worked calls, tokens, costs (unpriced is not $0); demo."""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from auterity_lab.warehouse import Workbench
from auterity_lab.workflow import (
    ai_cost_by_run,
    ai_cost_by_step,
    ai_cost_by_workflow,
    ai_step_latency,
)

from .builders import build_data_dir
from .test_warehouse import _raw

START, END = "2026-03-01", "2026-03-09"
PRICES = {
    "prices": [
        {
            "model": "m-a",
            "effective_from": "2026-01-01",
            "input_usd_per_1m": 1.0,
            "output_usd_per_1m": 2.0,
        }
    ]
}


def _id(n: int) -> str:
    return str(uuid.UUID(int=n))


def _step(
    run: int,
    idx: int,
    name: str,
    kind: str,
    attempt: int,
    status: str,
    ms: int,
    po: int | None = None,
) -> dict[str, object]:
    return {
        "tenant_id": "t1",
        "run_id": _id(run),
        "step_index": idx,
        "step_name": name,
        "step_type": kind,
        "attempt": attempt,
        "status": status,
        "duration_ms": ms,
        "prompt_output_id": _id(po) if po else None,
        "started_at": "2026-03-02T10:00:00Z",
    }


def _output(
    n: int, model: str, tokens_in: int, tokens_out: int, status: str = "success"
) -> dict[str, object]:
    return {
        "id": _id(n),
        "tenant_id": "t1",
        "model_id": model,
        "input_tokens": tokens_in,
        "output_tokens": tokens_out,
        "tokens_used": tokens_in + tokens_out,
        "status": status,
        "response_time_ms": 100,
        "created_at": "2026-03-02T10:00:00Z",
    }


ROWS = {
    "workflow_runs": [
        {
            "id": _id(1),
            "tenant_id": "t1",
            "workflow_id": "W1",
            "status": "success",
            "started_at": "2026-03-02T10:00:00Z",
            "duration_ms": 1000,
        },
        {
            "id": _id(2),
            "tenant_id": "t1",
            "workflow_id": "W1",
            "status": "failed",
            "started_at": "2026-03-03T10:00:00Z",
            "duration_ms": 500,
        },
        {
            "id": _id(3),
            "tenant_id": "t1",
            "workflow_id": "W2",
            "status": "success",
            "started_at": "2026-03-04T10:00:00Z",
            "duration_ms": 200,
        },
    ],
    "workflow_steps": [
        _step(1, 0, "fetch", "http", 1, "success", 100),
        _step(1, 1, "ask", "ai", 1, "failed", 300, po=101),  # the call errored
        _step(1, 1, "ask", "ai", 2, "success", 400, po=102),
        _step(1, 2, "summarize", "ai", 1, "success", 150, po=103),  # a model without a price
        _step(2, 0, "fetch", "http", 1, "success", 100),
        _step(2, 1, "ask", "ai", 1, "success", 200, po=109),  # references a missing output
        _step(2, 2, "summarize", "ai", 1, "cancelled", 50),  # cancelled before its call
        _step(3, 0, "crunch", "transform", 1, "success", 200),
    ],
    "prompt_outputs": [
        _output(101, "m-a", 1000, 0, status="error"),
        _output(102, "m-a", 1000, 500),
        _output(103, "mystery-model", 100, 100),
    ],
}


@pytest.fixture(scope="module")
def hand(tmp_path_factory: pytest.TempPathFactory) -> Workbench:
    d = tmp_path_factory.mktemp("ai")
    build_data_dir(d, ROWS)
    (d / "prices.yml").write_text(yaml.safe_dump(PRICES))
    with Workbench.open(d, tenant="t1") as wb:
        yield wb


def _prices(wb: Workbench) -> Path:
    return wb.data_dir / "prices.yml"


def test_per_run_hand_worked(hand: Workbench) -> None:
    got = ai_cost_by_run(hand, start=START, end=END, prices=_prices(hand)).set_index("run_id")
    r1, r2, r3 = (got.loc[uuid.UUID(_id(n))] for n in (1, 2, 3))
    assert (r1["ai_steps"], r1["ai_calls"], r1["failed_ai_calls"], r1["unlinked_calls"]) == (
        3,
        3,
        1,
        0,
    )
    assert (r1["input_tokens"], r1["output_tokens"], r1["tokens"]) == (2100, 600, 2700)
    # priced: 1000 in (error) = $0.001; 1000 in + 500 out = $0.002; mystery-model is unpriced
    assert r1["cost_usd"] == pytest.approx(0.003)
    assert (r1["unpriced_calls"], r1["cost_complete"]) == (1, False)
    assert (r1["ai_ms"], r1["ai_share"]) == (850, 0.85)
    assert (r2["ai_calls"], r2["unlinked_calls"], r2["ai_steps_without_call"]) == (0, 1, 1)
    assert np.isnan(r2["cost_usd"]) and not r2["cost_complete"]  # an unknown cost, not $0
    assert (r3["ai_steps"], r3["cost_usd"], r3["cost_complete"], r3["ai_ms"]) == (0, 0.0, True, 0.0)


def test_per_workflow_hand_worked(hand: Workbench) -> None:
    got = ai_cost_by_workflow(hand, start=START, end=END, prices=_prices(hand)).set_index(
        "workflow_id"
    )
    assert got.index.tolist() == ["W1", "W2", "all"]
    w1 = got.loc["W1"]
    assert (w1["runs"], w1["successful_runs"], w1["runs_with_ai"], w1["ai_calls"]) == (2, 1, 2, 3)
    assert (w1["failed_ai_calls"], w1["unlinked_calls"], w1["unpriced_calls"]) == (1, 1, 1)
    assert w1["cost_usd"] == pytest.approx(0.003) and not w1["cost_complete"]
    assert w1["cost_per_run"] == pytest.approx(0.0015)
    assert w1["cost_per_successful_run"] == pytest.approx(0.003)
    assert (w1["tokens_per_run"], w1["calls_per_run"]) == (1350, 1.5)
    assert w1["ai_share_of_run_time"] == pytest.approx(1100 / 1500)
    w2 = got.loc["W2"]
    assert (
        w2["runs_with_ai"],
        w2["cost_usd"],
        w2["cost_complete"],
        w2["ai_share_of_run_time"],
    ) == (0, 0.0, True, 0.0)
    assert got.loc["all", "runs"] == 3 and got.loc["all", "cost_usd"] == pytest.approx(0.003)


def test_per_step_and_model_hand_worked(hand: Workbench) -> None:
    got = ai_cost_by_step(hand, start=START, end=END, prices=_prices(hand))
    rows = {
        (r.step_name, r.model_id if isinstance(r.model_id, str) else None): r
        for r in got.itertuples(index=False)
    }
    ask = rows[("ask", "m-a")]
    assert (ask.ai_steps, ask.ai_calls, ask.failed_ai_calls, ask.tokens) == (2, 2, 1, 2500)
    assert ask.cost_usd == pytest.approx(0.003) and ask.cost_per_call == pytest.approx(0.0015)
    assert ask.p50_ms == 400  # successful attempts only
    dangling = rows[("ask", None)]
    assert (dangling.unlinked_calls, dangling.cost_complete) == (1, False) and np.isnan(
        dangling.cost_usd
    )
    mystery = rows[("summarize", "mystery-model")]
    assert (
        mystery.unpriced_calls == 1
        and np.isnan(mystery.cost_usd)
        and np.isnan(mystery.cost_per_call)
    )
    cancelled = rows[("summarize", None)]
    assert (cancelled.ai_steps, cancelled.ai_calls, cancelled.cost_usd) == (1, 0, 0.0)


def test_ai_vs_other_latency_hand_worked(hand: Workbench) -> None:
    got = ai_step_latency(hand, start=START, end=END).set_index(["workflow_id", "kind"])
    ai = got.loc[("W1", "ai")]
    assert (ai["attempts"], ai["ok_attempts"], ai["p50_ms"], ai["total_ms"]) == (5, 3, 200, 1100)
    assert ai["share_of_step_time"] == pytest.approx(1100 / 1300)
    assert got.loc[("W2", "other"), "share_of_step_time"] == 1.0
    assert got.loc[("all", "ai"), "share_of_step_time"] == pytest.approx(1100 / 1500)
    assert got.loc[("all", "other"), "attempts"] == 3


def test_no_runs_is_empty(hand: Workbench) -> None:
    for fn in (ai_cost_by_run, ai_cost_by_workflow, ai_cost_by_step, ai_step_latency):
        empty = fn(hand, start="2030-01-01", end="2030-01-02")
        assert empty.empty and len(empty.columns) >= 10, fn.__name__


def test_demo_cost_per_workflow_equals_pandas(wb: Workbench, demo_dir: Path) -> None:
    """Price every linked call from the shipped price table by hand and sum per workflow."""
    prices = yaml.safe_load((Path(__file__).parents[1] / "auterity_lab/ml/prices.yml").read_text())
    table = pd.DataFrame(prices["prices"]).assign(
        effective_from=lambda f: pd.to_datetime(f["effective_from"]).dt.date
    )
    runs = _raw(demo_dir, "workflow_runs", "acme")
    steps = _raw(demo_dir, "workflow_steps", "acme").merge(
        runs[["id", "workflow_id"]].rename(columns={"id": "run_id"}), on="run_id"
    )
    outputs = _raw(demo_dir, "prompt_outputs", "acme")
    linked = steps.dropna(subset=["prompt_output_id"]).merge(
        outputs, left_on="prompt_output_id", right_on="id", suffixes=("", "_po")
    )

    def cost(row: pd.Series) -> float:
        entries = table[
            (table["model"] == row["model_id"])
            & (table["effective_from"] <= row["created_at_po"].date())
        ]
        price = entries.sort_values("effective_from").iloc[-1]
        return (
            row["input_tokens"] * price["input_usd_per_1m"]
            + row["output_tokens"] * price["output_usd_per_1m"]
        ) / 1e6

    linked["cost"] = linked.apply(cost, axis=1)
    expected = linked.groupby("workflow_id").agg(
        cost=("cost", "sum"), calls=("cost", "size"), tokens=("tokens_used", "sum")
    )
    got = ai_cost_by_workflow(wb, start="2026-07-01", end="2026-11-01").set_index("workflow_id")
    for wf, row in expected.iterrows():
        assert got.loc[wf, "cost_usd"] == pytest.approx(row["cost"], rel=1e-9)
        assert got.loc[wf, "ai_calls"] == row["calls"]
        assert got.loc[wf, "tokens"] == row["tokens"]
    assert got["cost_complete"].all()
    per_run = ai_cost_by_run(wb, start="2026-07-01", end="2026-11-01")
    assert per_run["cost_usd"].sum() == pytest.approx(got.loc["all", "cost_usd"])
    assert len(per_run) == len(runs)
