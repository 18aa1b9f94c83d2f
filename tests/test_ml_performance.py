"""Model performance: hand-worked percentiles and ratings; the demo against pandas."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from auterity_lab.errors import QueryParameterError
from auterity_lab.ml import model_performance, performance_over_time
from auterity_lab.warehouse import Workbench

from .test_ml_support import open_rows, output, raw_outputs, uid, window  # noqa: F401


@pytest.fixture
def hand(tmp_path: Path) -> Workbench:
    day = "2026-03-02T{:02d}:00"
    rows = [
        # model a, version 1: five successful calls, latencies 100 200 300 400 1000
        output(
            "a",
            day.format(9),
            model_version="1",
            response_time_ms=100,
            input_tokens=10,
            output_tokens=5,
            user_rating=5,
            user_id=uid(1),
            prompt_version="v1",
        ),
        output(
            "a",
            day.format(9),
            model_version="1",
            response_time_ms=200,
            input_tokens=20,
            output_tokens=5,
            user_rating=4,
            user_id=uid(1),
            prompt_version="v1",
        ),
        output(
            "a",
            day.format(10),
            model_version="1",
            response_time_ms=300,
            input_tokens=30,
            output_tokens=5,
            user_rating=3,
            user_id=uid(2),
            prompt_version="v2",
        ),
        output(
            "a",
            day.format(10),
            model_version="1",
            response_time_ms=400,
            tokens_used=50,
            output_tokens=10,
            user_id=uid(2),
            prompt_version="v2",
        ),
        output(
            "a",
            day.format(11),
            model_version="1",
            response_time_ms=1000,
            input_tokens=40,
            output_tokens=10,
            user_id=uid(3),
            prompt_version="v2",
        ),
        # an error: counts as a request, not in latency
        output(
            "a",
            day.format(11),
            model_version="1",
            response_time_ms=50_000,
            status="error",
            input_tokens=40,
            output_tokens=0,
            user_id=uid(3),
            prompt_version="v2",
        ),
        # model a, version 2: one call
        output(
            "a",
            day.format(12),
            model_version="2",
            response_time_ms=700,
            input_tokens=1,
            output_tokens=1,
            user_rating=2,
        ),
        # model b outside the range
        output("b", "2026-03-03T00:00", model_version="1", response_time_ms=5),
    ]
    return open_rows(tmp_path, {"prompt_outputs": rows})


def test_percentiles_errors_tokens_and_ratings_by_hand(hand: Workbench) -> None:
    got = model_performance(hand, start="2026-03-02", end="2026-03-03")
    assert got[["model_id", "model_version"]].values.tolist() == [["a", "1"], ["a", "2"]]
    v1 = got.iloc[0]
    assert (v1["requests"], v1["errors"]) == (6, 1)
    assert v1["error_rate"] == pytest.approx(1 / 6)
    # quantile_cont over 100, 200, 300, 400, 1000: positions q * 4
    assert v1["latency_p50_ms"] == 300
    assert v1["latency_p95_ms"] == pytest.approx(400 + 0.8 * 600)  # 880
    assert v1["latency_p99_ms"] == pytest.approx(400 + 0.96 * 600)  # 976
    assert v1["latency_mean_ms"] == pytest.approx(400)
    # input tokens: 10 + 20 + 30 + (50 - 10) + 40 + 40 = 180; output 5+5+5+10+10+0 = 35
    assert (v1["input_tokens"], v1["output_tokens"]) == (180, 35)
    assert v1["users"] == 3
    # ratings 5, 4, 3: mean 4, sd 1, t(0.975, 2) = 4.302653
    assert (v1["rated"], v1["mean_rating"], v1["rating_sd"]) == (3, 4.0, 1.0)
    assert v1["rating_ci_low"] == pytest.approx(4 - 4.302653 / np.sqrt(3), abs=1e-6)
    assert v1["rating_ci_high"] == pytest.approx(4 + 4.302653 / np.sqrt(3), abs=1e-6)
    assert (v1["high_rated"], v1["high_rated_share"]) == (2, pytest.approx(2 / 3))
    assert v1["feedback_rate"] == pytest.approx(3 / 6)
    v2 = got.iloc[1]
    assert v2["rated"] == 1 and np.isnan(v2["rating_ci_low"]) and v2["latency_p95_ms"] == 700


def test_filters(hand: Workbench) -> None:
    kw = {"start": "2026-03-02", "end": "2026-03-04"}
    assert model_performance(hand, model="b", **kw)["requests"].tolist() == [1]
    assert model_performance(hand, model_version="2", **kw)["requests"].tolist() == [1]
    v2 = model_performance(hand, prompt_version="v2", **kw)
    assert v2["requests"].tolist() == [4] and v2["latency_p50_ms"].tolist() == [400]
    with pytest.raises(QueryParameterError, match="model must be a non-empty string"):
        model_performance(hand, model="", **kw)
    with pytest.raises(QueryParameterError, match="confidence must be a number in"):
        model_performance(hand, confidence=95, **kw)


def test_over_time_hourly(hand: Workbench) -> None:
    got = performance_over_time(hand, start="2026-03-02", end="2026-03-03", grain="hour")
    assert got["period"].dt.hour.tolist() == [9, 10, 11, 12]
    assert got["requests"].tolist() == [2, 2, 2, 1]
    assert got["latency_p50_ms"].tolist() == [150, 350, 1000, 700]
    assert got["error_rate"].tolist() == [0, 0, 0.5, 0]
    assert got.loc[0, "mean_rating"] == 4.5 and np.isnan(got.loc[2, "mean_rating"])
    with pytest.raises(QueryParameterError, match="grain must be one of"):
        performance_over_time(hand, start="2026-03-02", end="2026-03-03", grain="minute")


def test_empty_range_has_the_columns(hand: Workbench) -> None:
    got = model_performance(hand, start="2030-01-01", end="2030-01-02")
    assert got.empty and {"latency_p95_ms", "rating_ci_low"} <= set(got.columns)
    assert performance_over_time(hand, start="2030-01-01", end="2030-01-02").empty


def test_demo_equals_pandas(wb: Workbench, raw_outputs: pd.DataFrame) -> None:  # noqa: F811
    start, end = "2026-09-01", "2026-10-15"
    p = window(raw_outputs, start, end)
    got = model_performance(wb, start=start, end=end).set_index(["model_id", "model_version"])
    assert len(got) == p.groupby(["model_id", "model_version"]).ngroups
    for key, g in p.groupby(["model_id", "model_version"]):
        ok = g[g["status"] != "error"]
        rated = g["user_rating"].dropna()
        row = got.loc[key]
        assert row["requests"] == len(g)
        assert row["error_rate"] == pytest.approx((g["status"] == "error").mean())
        for q in (50, 95, 99):
            assert row[f"latency_p{q}_ms"] == pytest.approx(
                np.percentile(ok["response_time_ms"], q)
            )
        assert row["output_tokens"] == g["output_tokens"].sum()
        assert row["mean_rating"] == pytest.approx(rated.mean())
        ci = stats.t.interval(
            0.95, len(rated) - 1, rated.mean(), rated.std(ddof=1) / np.sqrt(len(rated))
        )
        assert (row["rating_ci_low"], row["rating_ci_high"]) == pytest.approx(ci)
        assert row["high_rated_share"] == pytest.approx((rated >= 4).mean())
    daily = performance_over_time(wb, start=start, end=end)
    assert daily["requests"].sum() == len(p)
