"""Prompt analytics: hand-worked quality score, rankings, and version comparison vs scipy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from auterity_lab.errors import QueryParameterError
from auterity_lab.ml import prompt_analytics, prompt_rankings, prompt_version_comparison
from auterity_lab.warehouse import Workbench

from .test_ml_support import DATA, open_rows, output, raw_outputs, uid, window  # noqa: F401

PRICES = DATA / "prices_change.yml"  # alpha: 1/2 USD per 1M tokens on 2026-01-02


def _prompt(
    h: str,
    version: str,
    rating: int | None,
    *,
    status: str = "success",
    ms: int = 100,
    out: int = 10,
    user: int = 1,
) -> dict:
    return output(
        "alpha",
        "2026-01-02T12:00",
        prompt_hash=h,
        prompt=f"prompt {h}",
        prompt_version=version,
        user_rating=rating,
        status=status,
        response_time_ms=ms,
        input_tokens=100,
        output_tokens=out,
        user_id=uid(user),
    )


@pytest.fixture
def hand(tmp_path: Path) -> Workbench:
    rows = (
        [_prompt("p1", "v1", r, out=20) for r in (5, 5, 4, 4)]  # mean 4.5
        + [_prompt("p1", "v1", None, status="error")]  # error rate 1/5
        + [_prompt("p2", "v1", r) for r in (2, 3, 2)]  # mean 2.333
        + [_prompt("p3", "v2", r, ms=300) for r in (5, 4, 5, 5, 4, 5)]  # mean 4.667
        + [_prompt("p4", "v2", None)]  # unrated
    )
    return open_rows(tmp_path, {"prompt_outputs": rows})


def test_quality_score_by_hand(hand: Workbench) -> None:
    got = prompt_analytics(
        hand, start="2026-01-02", end="2026-01-03", prices=PRICES, prior_weight=2
    ).set_index("prompt_hash")
    mu = (18 + 7 + 28) / 13  # all ratings of the result
    shrunk_p1 = (18 + 2 * mu) / (4 + 2)
    assert got.loc["p1", "shrunk_rating"] == pytest.approx(shrunk_p1)
    assert got.loc["p1", "quality_score"] == pytest.approx(100 * (shrunk_p1 - 1) / 4 * (1 - 1 / 5))
    shrunk_p2 = (7 + 2 * mu) / (3 + 2)
    assert got.loc["p2", "quality_score"] == pytest.approx(100 * (shrunk_p2 - 1) / 4)
    assert got.loc["p4", "shrunk_rating"] == pytest.approx(mu)  # unrated: the prior
    p1 = got.loc["p1"]
    assert (p1["requests"], p1["errors"], p1["rated"]) == (5, 1, 4)
    assert p1["mean_rating"] == 4.5 and p1["prompt_preview"] == "prompt p1"
    # cost at alpha's price of 2026-01-02 (1 in, 2 out per 1M): 4 * (100 + 40) + (100 + 20)
    assert p1["cost_usd"] == pytest.approx((4 * (100 * 1 + 20 * 2) + (100 + 10 * 2)) / 1e6)
    assert got.index.tolist()[0] == "p3"  # most used first


def test_rankings(hand: Workbench) -> None:
    kw = {"start": "2026-01-02", "end": "2026-01-03", "prices": PRICES}
    # prior weight 2: scores p3 88.0 > p1 67.2 (its 20 % errors cost it) > p2 50.8
    got = prompt_rankings(hand, n=1, min_ratings=3, prior_weight=2, **kw)
    assert got[["ranking", "rank", "prompt_hash"]].values.tolist() == [
        ["best", 1, "p3"],
        ["worst", 1, "p2"],
    ]
    # prior weight 10 pulls p2's three ratings to the mean: p1's errors now weigh more
    got = prompt_rankings(hand, n=1, min_ratings=3, **kw)
    assert got["prompt_hash"].tolist() == ["p3", "p1"]
    # never both best and worst: three eligible prompts, n = 5 -> all best, none worst
    wide = prompt_rankings(hand, n=5, min_ratings=1, **kw)
    assert wide["ranking"].tolist() == ["best"] * 3 and wide["rank"].tolist() == [1, 2, 3]
    assert prompt_rankings(hand, start="2030-01-01", end="2030-01-02", prices=PRICES).empty


def test_version_comparison_against_scipy(hand: Workbench) -> None:
    got = prompt_version_comparison(
        hand, start="2026-01-02", end="2026-01-03", prices=PRICES, n_boot=500
    ).set_index("prompt_version")
    assert got.index.tolist() == ["v1", "v2"] and pd.isna(got.loc["v1", "compared_to"])
    v1 = np.array([5, 5, 4, 4, 2, 3, 2], float)
    v2 = np.array([5, 4, 5, 5, 4, 5], float)
    row = got.loc["v2"]
    assert row["compared_to"] == "v1"
    assert row["rating_difference"] == pytest.approx(v2.mean() - v1.mean())
    ci = stats.ttest_ind(v2, v1, equal_var=False).confidence_interval(0.95)
    assert (row["rating_ci_low"], row["rating_ci_high"]) == pytest.approx((ci.low, ci.high))
    assert row["rating_p_value"] == pytest.approx(
        stats.mannwhitneyu(v2, v1, method="asymptotic").pvalue
    )
    assert row["p95_latency_difference_ms"] == pytest.approx(300 - 100)
    assert row["output_tokens_difference"] == pytest.approx(10 - (4 * 20 + 4 * 10) / 8)


def test_demo_prompt_counts_equal_pandas(wb: Workbench, raw_outputs: pd.DataFrame) -> None:  # noqa: F811
    start, end = "2026-10-01", "2026-11-01"
    p = window(raw_outputs, start, end)
    got = prompt_analytics(wb, start=start, end=end)
    expected = p.groupby(["prompt_hash", "prompt_version"]).size()
    assert len(got) == len(expected) and got["requests"].sum() == len(p)
    top = got.iloc[0]
    assert top["requests"] == expected.max()
    g = p[(p["prompt_hash"] == top["prompt_hash"]) & (p["prompt_version"] == top["prompt_version"])]
    assert top["latency_p95_ms"] == pytest.approx(
        np.percentile(g.loc[g["status"] != "error", "response_time_ms"], 95)
    )
    assert got["quality_score"].between(0, 100).all()
    versions = prompt_version_comparison(wb, start="2026-07-04", end="2026-11-01")
    v2 = versions.set_index("prompt_version").loc["v2"]
    assert v2["compared_to"] == "v1" and v2["rating_difference"] > 0  # the planted v2 lift


def test_top_prompts_by_hand_keep_the_prior_of_all_prompts(hand: Workbench) -> None:
    kw = {"start": "2026-01-02", "end": "2026-01-03", "prices": PRICES, "prior_weight": 2}
    top = prompt_analytics(hand, top=1, **kw).set_index("prompt_hash")
    assert top.index.tolist() == ["p3"]  # 6 outputs: the most used
    mu = (18 + 7 + 28) / 13  # still the mean of every prompt's ratings, not p3's alone
    assert top.loc["p3", "shrunk_rating"] == pytest.approx((28 + 2 * mu) / (6 + 2))
    assert top.loc["p3", "latency_p95_ms"] == 300 and top.loc["p3", "requests"] == 6
    assert len(prompt_analytics(hand, top=100, **kw)) == 4  # fewer prompts than asked for
    assert prompt_analytics(hand, top=3, **kw | {"start": "2026-02-01", "end": "2026-02-02"}).empty
    with pytest.raises(QueryParameterError, match="top"):
        prompt_analytics(hand, top=0, **kw)


def test_demo_top_prompts_are_the_head_of_all_prompts(wb: Workbench) -> None:
    kw = {"start": "2026-09-01", "end": "2026-11-01"}
    with wb.no_cache():
        everything = prompt_analytics(wb, **kw)
        top = prompt_analytics(wb, top=25, **kw)
        by_model = prompt_analytics(wb, top=5, model="gpt-4o", **kw)
        all_of_model = prompt_analytics(wb, model="gpt-4o", **kw)
    head = everything.head(25).reset_index(drop=True)
    scores = ["shrunk_rating", "quality_score"]  # the prior is an exact sum there: to rounding
    pd.testing.assert_frame_equal(top.drop(columns=scores), head.drop(columns=scores))
    pd.testing.assert_frame_equal(top[scores], head[scores], check_exact=False, rtol=1e-12)
    pd.testing.assert_frame_equal(
        by_model.drop(columns=scores), all_of_model.head(5).drop(columns=scores)
    )
