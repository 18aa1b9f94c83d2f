"""Optimization suggestions: hand-worked savings, the planted cheaper model, no false ones."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from auterity_lab.errors import QueryParameterError
from auterity_lab.ml import optimization_suggestions
from auterity_lab.warehouse import Workbench

from .test_ml_support import big_demo, big_wb, open_rows, output, uid, window  # noqa: F401
from .test_warehouse import _raw

MAY = {"start": "2026-05-01", "end": "2026-05-31"}  # 30 days: monthly savings = range savings


def _ratings(n: int, pattern: list[int]) -> list[int]:
    return [pattern[i % len(pattern)] for i in range(n)]


@pytest.fixture
def models(tmp_path: Path) -> Workbench:
    good = [5, 4, 4, 3, 5, 4, 5, 4]  # mean 4.25
    rows = []
    for model, ratings in (
        ("gpt-4o", _ratings(200, good)),
        ("mistral-small", _ratings(200, good)),
        ("llama-3-8b", _ratings(200, [3, 2, 3, 4, 2, 3])),
    ):
        rows += [
            output(
                model,
                f"2026-05-{1 + i % 28:02d}T10:00",
                input_tokens=1000,
                output_tokens=500,
                user_rating=r,
                user_id=uid(i),
                prompt_hash=f"h{i}",
                model_version="1",
                response_time_ms=500,
            )
            for i, r in enumerate(ratings)
        ]
    return open_rows(tmp_path, {"prompt_outputs": rows})


def test_cheaper_equal_model_is_suggested_with_hand_savings(models: Workbench) -> None:
    got = optimization_suggestions(models, kinds=["cheaper_model"], **MAY)
    assert got[["model_id", "target"]].values.tolist() == [["gpt-4o", "mistral-small"]]
    row = got.iloc[0]
    # gpt-4o: 200 calls of 1000 in + 500 out; at gpt-4o 2.50/10.00, at mistral 0.20/0.60
    per_call = (1000 * (2.50 - 0.20) + 500 * (10.00 - 0.60)) / 1e6
    assert row["estimated_monthly_savings_usd"] == pytest.approx(200 * per_call)
    assert row["effect"] == pytest.approx(0.0) and row["q_value"] < 0.05
    evidence = json.loads(row["evidence"])
    assert evidence["margin_points"] == pytest.approx(0.05 * 4.25)
    assert evidence["price_candidate_usd_per_1m"] == [0.2, 0.6]
    # the worse model is never suggested, neither for gpt-4o nor for mistral-small
    assert "llama-3-8b" not in set(got["target"])
    # a wider margin does not make the worse model pass: it is 1.4 points below
    wide = optimization_suggestions(models, kinds=["cheaper_model"], margin=0.2, **MAY)
    assert "llama-3-8b" not in set(wide["target"])


def test_model_filter_and_bad_kind(models: Workbench) -> None:
    assert optimization_suggestions(models, model="mistral-small", **MAY).empty
    with pytest.raises(QueryParameterError, match="unknown suggestion kind"):
        optimization_suggestions(models, kinds=["magic"], **MAY)


def test_cap_output_tokens(tmp_path: Path) -> None:
    rows = []
    for i in range(80):
        long = i % 4 == 0  # 20 long outputs of 900 tokens, 60 short ones of 101..159 tokens
        # "Explain X": long ones all rated 4; short ones 5 (i = 2 mod 4) or 4 (odd i): 13/3
        rows.append(
            output(
                "gpt-4o",
                "2026-05-10T10:00",
                prompt_hash="verbose",
                prompt="Explain X",
                prompt_version="v1",
                input_tokens=50,
                output_tokens=900 if long else 100 + i,
                user_rating=4 if long else [5, 4][i % 2],
            )
        )
        rows.append(
            output(
                "gpt-4o",
                "2026-05-10T10:00",
                prompt_hash="worth-it",
                prompt="Write Y",
                prompt_version="v1",
                input_tokens=50,
                output_tokens=900 if long else 100 + i,
                user_rating=5 if long else [3, 4][i % 2],
            )
        )
    wb = open_rows(tmp_path, {"prompt_outputs": rows})
    got = optimization_suggestions(wb, kinds=["cap_output_tokens"], min_ratings=10, **MAY)
    assert got["target"].tolist() == ["verbose"]  # long answers to "Write Y" do earn more
    row = got.iloc[0]
    lengths = np.array([900 if i % 4 == 0 else 100 + i for i in range(80)], float)
    cap = int(np.ceil(np.quantile(lengths, 0.75)))
    excess = (lengths[lengths > cap] - cap).sum()
    assert json.loads(row["evidence"])["cap_tokens"] == cap
    assert row["estimated_monthly_savings_usd"] == pytest.approx(excess * 10.00 / 1e6)
    assert row["effect"] == pytest.approx(4 - 13 / 3)


def test_cache_repeats_within_the_ttl(tmp_path: Path) -> None:
    hourly = [
        output(
            "gpt-4o",
            f"2026-05-02T{h:02d}:00",
            prompt_hash="same",
            prompt="Daily KPIs",
            prompt_version="v3",
            input_tokens=1000,
            output_tokens=100,
            output="ok",
        )
        for h in range(15)
    ]
    every_other_day = [
        output(
            "gpt-4o",
            f"2026-05-{d:02d}T09:00",
            prompt_hash="rare",
            prompt="Weekly",
            prompt_version="v3",
            input_tokens=1000,
            output_tokens=100,
        )
        for d in range(1, 30, 2)
    ]
    failed = [
        output(
            "gpt-4o",
            "2026-05-02T03:30",
            prompt_hash="same",
            prompt="Daily KPIs",
            prompt_version="v3",
            status="error",
            input_tokens=1000,
            output_tokens=0,
        )
    ]
    wb = open_rows(tmp_path, {"prompt_outputs": hourly + every_other_day + failed})
    got = optimization_suggestions(wb, kinds=["cache_repeated_prompts"], **MAY)
    assert got["target"].tolist() == ["same"]
    row = got.iloc[0]
    per_call = (1000 * 2.50 + 100 * 10.00) / 1e6
    assert row["estimated_monthly_savings_usd"] == pytest.approx(14 * per_call)  # 14 repeats
    evidence = json.loads(row["evidence"])
    assert (evidence["calls"], evidence["repeats"], evidence["distinct_outputs"]) == (15, 14, 1)
    short = optimization_suggestions(
        wb, kinds=["cache_repeated_prompts"], cache_ttl_hours=0.5, **MAY
    )
    assert short.empty  # calls an hour apart are not repeats within 30 minutes


def test_latency_regression_by_hand(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    rows = []
    for version, day, scale in (("old", "2026-05-05", 1.0), ("new", "2026-05-20", 1.5)):
        for ms in rng.lognormal(np.log(400), 0.2, 150) * scale:
            rows.append(
                output(
                    "gpt-4o",
                    f"{day}T10:00",
                    model_version=version,
                    response_time_ms=int(ms),
                    input_tokens=10,
                    output_tokens=10,
                )
            )
            rows.append(
                output(
                    "mistral-small",
                    f"{day}T10:00",
                    model_version=version,
                    response_time_ms=int(ms / scale),
                    input_tokens=10,
                    output_tokens=10,
                )
            )
    wb = open_rows(tmp_path, {"prompt_outputs": rows})
    got = optimization_suggestions(wb, kinds=["latency_regression"], n_boot=500, **MAY)
    assert got[["model_id", "target"]].values.tolist() == [["gpt-4o", "new"]]
    assert got["estimated_monthly_savings_usd"].tolist() == [0.0]
    assert got["effect"].iloc[0] > 0 and got["ci_low"].iloc[0] > 0.1 * 400


def test_demo_planted_cheaper_model(big_wb: Workbench, big_demo: Path) -> None:  # noqa: F811
    truth = json.loads((big_demo / "ground_truth.json").read_text())
    effect = next(e for e in truth["effects"] if e["id"] == "cheaper_equal_model")
    start, end = truth["parameters"]["start"], truth["parameters"]["end"]
    got = optimization_suggestions(big_wb, start=start, end=end)
    cheaper = got[got["kind"] == "cheaper_model"].set_index("model_id")
    reference, candidate = effect["details"]["reference"], effect["details"]["cheaper"]
    assert cheaper.loc[reference, "target"] == candidate
    # hand calculation: the reference's tokens of the range at both list prices, per 30 days
    prices = truth["models"]
    p = window(_raw(big_demo, "prompt_outputs", "acme"), start, end)
    p = p[p["model_id"] == reference]

    def usd(model: str) -> float:
        return (
            p["input_tokens"].sum() * prices[model]["price_usd_per_1m_input_tokens"]
            + p["output_tokens"].sum() * prices[model]["price_usd_per_1m_output_tokens"]
        ) / 1e6

    days = (pd.Timestamp(end) - pd.Timestamp(start)).days
    expected = (usd(reference) - usd(candidate)) * 30 / days
    assert cheaper.loc[reference, "estimated_monthly_savings_usd"] == pytest.approx(
        expected, rel=1e-9
    )
    # nothing sends traffic to the clearly worse model
    worse = effect["details"]["worse"]
    assert worse not in set(got.loc[got["kind"] == "cheaper_model", "target"])
    # the planted gpt-4o latency regression is reported against the old version
    regression = got[got["kind"] == "latency_regression"]
    target = next(e for e in truth["effects"] if e["id"] == "latency_regression")["targets"][0]
    assert regression[["model_id", "target"]].values.tolist() == [
        ["gpt-4o", target["model_version_after"]]
    ]
    assert (got["estimated_monthly_savings_usd"] >= 0).all()
    assert got["evidence"].map(lambda e: isinstance(json.loads(e), dict)).all()
