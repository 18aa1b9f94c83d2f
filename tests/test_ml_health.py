"""Model health: each rule on hand-made traffic, and the demo's planted outage."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from auterity_lab.errors import QueryParameterError
from auterity_lab.ml import model_health
from auterity_lab.warehouse import Workbench

from .test_ml_support import big_demo, big_wb, open_rows, output  # noqa: F401

BASE_DAYS = range(1, 8)  # baseline: 2026-06-01 .. 2026-06-07; recent: 2026-06-08


def _traffic(model: str, day: int, n: int, *, errors: int = 0, ms: int = 500) -> list[dict]:
    return [
        output(
            model,
            f"2026-06-{day:02d}T{h % 24:02d}:{h // 24:02d}",
            status="error" if h < errors else "success",
            response_time_ms=ms + h,
        )
        for h in range(n)
    ]


@pytest.fixture
def hand(tmp_path: Path) -> Workbench:
    rows = []
    for model in ("ok", "flaky", "broken", "silent", "slow"):
        for day in BASE_DAYS:
            rows += _traffic(model, day, 20, errors=1 if day == 3 else 0)
    rows += _traffic("ok", 8, 20)
    rows += _traffic("flaky", 8, 20, errors=6)
    rows += _traffic("broken", 8, 10, errors=8)
    rows += _traffic("slow", 8, 20, ms=1500)
    rows += _traffic("new", 7, 5) + _traffic("new", 8, 5)
    return open_rows(tmp_path, {"prompt_outputs": rows})


def test_each_rule(hand: Workbench) -> None:
    got = model_health(hand, start="2026-06-01", end="2026-06-09").set_index("model_id")
    assert got["status"].to_dict() == {
        "broken": "down",
        "silent": "down",
        "flaky": "degraded",
        "slow": "degraded",
        "new": "unknown",
        "ok": "healthy",
    }
    assert got.index.tolist()[:2] == ["broken", "silent"]  # worst first
    assert "80% of 10 recent requests failed" in got.loc["broken", "reason"]
    assert got.loc["silent", "expected_requests"] == pytest.approx(140 / 7)
    assert "no recent request" in got.loc["silent", "reason"]
    flaky = got.loc["flaky"]
    assert flaky["recent_error_rate"] == pytest.approx(6 / 20)
    assert flaky["baseline_error_rate"] == pytest.approx(1 / 140)
    # one-sided exact binomial test against the smoothed baseline rate (1 + 1) / (140 + 2)
    ref = stats.binomtest(6, 20, 2 / 142, alternative="greater").pvalue
    assert flaky["error_p_value"] == pytest.approx(ref)
    slow = got.loc["slow"]
    assert slow["slow_share"] == 1.0 and slow["latency_ratio"] > 2
    assert slow["latency_p_value"] == pytest.approx(
        stats.binomtest(20, 20, 0.05, alternative="greater").pvalue
    )
    assert "slower than the baseline p95" in slow["reason"]
    base = np.array([500 + h for h in range(20)] * 7, float)[1:]  # day 3's error is not timed
    assert slow["baseline_p95_ms"] == pytest.approx(np.percentile(base, 95))
    assert "only 5 baseline requests" in got.loc["new", "reason"]


def test_parameters(hand: Workbench) -> None:
    with pytest.raises(QueryParameterError, match="leaves no baseline"):
        model_health(hand, start="2026-06-08", end="2026-06-09", recent_hours=48)
    one = model_health(hand, start="2026-06-01", end="2026-06-09", model="flaky")
    assert one["model_id"].tolist() == ["flaky"]
    assert model_health(hand, start="2030-01-01", end="2030-01-09").empty


def test_demo_outage_day(big_wb: Workbench, big_demo: Path) -> None:  # noqa: F811
    outage = next(
        e
        for e in json.loads((big_demo / "ground_truth.json").read_text())["effects"]
        if e["id"] == "outage"
    )
    day = np.datetime64(outage["start"])
    during = model_health(big_wb, start=str(day - 7), end=outage["end"]).set_index("model_id")
    before = model_health(big_wb, start=str(day - 8), end=str(day))
    assert (before["status"] == "healthy").all()
    hit = during[during["status"].isin(["degraded", "down"])]
    assert len(hit) >= len(during) / 2 and "gpt-4o" in hit.index
    assert hit["reason"].str.contains("error rate").all()
    assert (hit["recent_error_rate"] > 0.1).all()
