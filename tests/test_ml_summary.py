"""The ML headline (getMLAnalytics) against pandas on the demo, and its edge cases."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from auterity_lab.ml import ml_summary

from .test_ml_support import DATA, open_rows, output, raw_outputs, window  # noqa: F401


def _expected(p: pd.DataFrame, prices: dict) -> dict[str, float]:
    ok = p[p["status"] != "error"]
    rated = p["user_rating"].dropna()
    cost = (
        p["input_tokens"] * p["model_id"].map(lambda m: prices[m]["price_usd_per_1m_input_tokens"])
        + p["output_tokens"]
        * p["model_id"].map(lambda m: prices[m]["price_usd_per_1m_output_tokens"])
    ) / 1e6
    with_user = p["user_id"].notna()
    return {
        "requests": len(p),
        "users": p["user_id"].nunique(),
        "models": p["model_id"].nunique(),
        "error_rate": (p["status"] == "error").mean(),
        "latency_p50_ms": np.percentile(ok["response_time_ms"], 50),
        "latency_p95_ms": np.percentile(ok["response_time_ms"], 95),
        "mean_rating": rated.mean(),
        "high_rated_share": (rated >= 4).mean(),
        "feedback_rate": len(rated) / len(p),
        "input_tokens": p["input_tokens"].sum(),
        "output_tokens": p["output_tokens"].sum(),
        "cost_usd": cost.sum(),
        "unpriced_requests": 0,
        "cost_per_request": cost.mean(),
        "cost_per_user": cost[with_user].sum() / p["user_id"].nunique(),
        "cost_per_high_rated_answer": cost.sum() / (rated >= 4).sum(),
    }


def test_summary_and_previous_period_equal_pandas(
    wb,
    demo_dir: Path,
    raw_outputs: pd.DataFrame,  # noqa: F811
) -> None:  # noqa: F811
    prices = json.loads((demo_dir / "ground_truth.json").read_text())["models"]
    got = ml_summary(wb, start="2026-10-01", end="2026-10-31").set_index("metric")
    now = _expected(window(raw_outputs, "2026-10-01", "2026-10-31"), prices)
    before = _expected(window(raw_outputs, "2026-09-01", "2026-10-01"), prices)
    assert list(got.index) == list(now)
    for metric, value in now.items():
        assert got.loc[metric, "value"] == pytest.approx(value, rel=1e-9), metric
        assert got.loc[metric, "previous"] == pytest.approx(before[metric], rel=1e-9), metric
    assert got.loc["requests", "change"] == pytest.approx(now["requests"] / before["requests"] - 1)
    assert np.isnan(got.loc["unpriced_requests", "change"])  # 0 before: no relative change
    assert got.loc["error_rate", "higher_is_better"] is False
    assert got.loc["requests", "higher_is_better"] is None


def test_unpriced_and_empty(tmp_path: Path) -> None:
    wb = open_rows(
        tmp_path,
        {
            "prompt_outputs": [
                output("omega", "2026-01-02T10:00", input_tokens=10, output_tokens=10)
            ]
        },
    )
    got = ml_summary(
        wb, start="2026-01-02", end="2026-01-03", prices=DATA / "prices_change.yml"
    ).set_index("metric")
    assert got.loc["requests", "value"] == 1 and got.loc["unpriced_requests", "value"] == 1
    assert np.isnan(got.loc["cost_usd", "value"])  # unpriced: never $0
    assert got.loc["cost_usd", "previous"] == 0  # no outputs before: nothing was spent
    empty = ml_summary(wb, start="2030-01-01", end="2030-01-02").set_index("metric")
    assert empty.loc["requests", "value"] == 0 and np.isnan(empty.loc["mean_rating", "value"])
