"""Headline business metrics and per-segment KPIs: hand-worked values, agreement with the Overview
tab's independent SQL, and the planted signup trend of ground_truth.json."""

# ruff: noqa: F811  (test functions take the fixtures imported from test_business_data)

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from auterity_lab import overview
from auterity_lab.business import business_metrics, segment_kpis, user_activity
from auterity_lab.errors import QueryParameterError
from auterity_lab.warehouse import Workbench

from .test_business_data import hand, hand_dir, nothing  # noqa: F401  (fixtures)


def test_business_metrics_by_hand(hand: Workbench) -> None:
    got = business_metrics(hand, start="2026-03-09", end="2026-03-16").set_index("metric")
    assert got.index.is_unique and set(got["area"]) == {"users", "revenue", "performance"}
    expect = {  # metric: (value over 03-09..03-15, previous = 03-02..03-08)
        "total_users": (5, 3),
        "new_users": (2, 2),
        "active_users": (4, 2),
        "sessions": (6, 3),
        "avg_session_duration": (1510 / 6, 130),
        "bounce_rate": (1 / 3, 2 / 3),
        "revenue": (198, 29),
        "paying_users": (2, 1),
        "mrr": (128, 128),
        "subscribers": (2, 2),
        "requests": (0, 7),
        "p95_latency": (np.nan, 2400),
        # mean daily DAU/MAU: five days at 1/4, one at 0, 03-15 at 1/5 | 1/2, 1/3, 1/3, four 0
        "stickiness": (1.45 / 7, (0.5 + 2 / 3) / 7),
    }
    for metric, (value, previous) in expect.items():
        row = got.loc[metric]
        assert row["value"] == pytest.approx(value, nan_ok=True), metric
        assert row["previous"] == pytest.approx(previous, nan_ok=True), metric
    assert got.loc["active_users", "change"] == 1.0 and got.loc["active_users", "delta"] == 2
    assert got.loc["new_users", "change"] == 0.0 and got.loc["requests", "change"] == -1.0
    assert np.isnan(got.loc["error_rate_5xx", "value"])
    assert (
        got.loc["bounce_rate", "higher_is_better"] is False
        and got.loc["requests", "higher_is_better"] is None
    )
    mobile = business_metrics(
        hand, start="2026-03-09", end="2026-03-16", device="mobile"
    ).set_index("metric")
    assert mobile.loc["active_users", ["value", "previous"]].tolist() == [1, 1]  # u4 | u2
    assert mobile.loc["requests", "previous"] == 7  # API calls are not filtered by user attributes


def test_business_metrics_without_data_keeps_every_kpi(nothing: Workbench) -> None:
    got = business_metrics(nothing, start="2026-03-09", end="2026-03-16").set_index("metric")
    assert len(got) == 23
    assert got.loc[["active_users", "revenue", "mrr", "requests"], "value"].tolist() == [0, 0, 0, 0]
    assert got.loc[["bounce_rate", "arpu", "p95_latency"], "value"].isna().all()
    assert got["change"].isna().all()


def test_segment_kpis_by_hand(hand: Workbench) -> None:
    got = segment_kpis(hand, start="2026-03-02", end="2026-03-16", by="device")
    assert got["segment"].tolist() == ["desktop", "mobile", "tablet"]
    rows = got.set_index("segment")
    cols = [
        "active_users",
        "new_users",
        "sessions",
        "revenue",
        "paying_users",
        "closing_mrr",
        "closing_subscribers",
    ]
    assert rows.loc["desktop", cols].tolist() == [2, 2, 6, 128, 2, 29, 1]
    assert rows.loc["mobile", cols].tolist() == [2, 1, 2, 99, 1, 99, 1]
    assert rows.loc["tablet", cols].tolist() == [1, 1, 1, 0, 0, 0, 0]
    assert rows["share_of_active_users"].tolist() == pytest.approx([0.4, 0.4, 0.2])
    assert rows["share_of_revenue"].tolist() == pytest.approx([128 / 227, 99 / 227, 0.0])
    assert rows.loc["desktop", "arpu"] == 64.0
    with pytest.raises(QueryParameterError, match="by must be one of"):
        segment_kpis(hand, start="2026-03-02", end="2026-03-16", by="browser")


def test_headline_numbers_agree_with_the_overview_tab(wb: Workbench) -> None:
    ours = business_metrics(wb, start="2026-09-01", end="2026-10-01").set_index("metric")
    theirs = overview.headline_kpis(wb, start="2026-09-01", end="2026-10-01").set_index("metric")
    for metric in ("active_users", "new_users", "sessions", "avg_session_duration", "revenue"):
        assert ours.loc[metric, "value"] == pytest.approx(theirs.loc[metric, "value"]), metric
        assert ours.loc[metric, "previous"] == pytest.approx(theirs.loc[metric, "previous"]), metric


@pytest.mark.parametrize("by", ["device", "country", "plan", "channel"])
def test_segments_partition_the_users_on_demo(wb: Workbench, by: str) -> None:
    parts = segment_kpis(wb, start="2026-09-01", end="2026-10-01", by=by)
    whole = business_metrics(wb, start="2026-09-01", end="2026-10-01").set_index("metric")["value"]
    assert parts["segment"].is_unique and len(parts) > 1
    for column, metric in (
        ("active_users", "active_users"),
        ("new_users", "new_users"),
        ("sessions", "sessions"),
        ("revenue", "revenue"),
        ("closing_mrr", "mrr"),
    ):
        assert parts[column].sum() == pytest.approx(whole[metric]), column
    assert parts["share_of_active_users"].sum() == pytest.approx(1.0)


def test_planted_signup_trend_is_recovered(demo_dir: Path) -> None:
    truth = json.loads((demo_dir / "ground_truth.json").read_text())
    trend = next(e for e in truth["effects"] if e["id"] == "trend")
    for tenant in trend["tenants"]:
        with Workbench.open(demo_dir, tenant=tenant) as bench:
            daily = user_activity(bench, start=trend["start"], end=trend["end"], interval="day")
        design = pd.DataFrame(
            {
                "const": 1.0,
                "day": np.arange(len(daily), dtype=float),
                "weekend": (daily["period"].dt.day_of_week >= 5).astype(float),
            }
        )
        fit = sm.GLM(daily["new_users"].astype(float), design, family=sm.families.Poisson()).fit()
        low, high = fit.conf_int().loc["day"]
        assert low < trend["magnitude"] < high, tenant  # 95 % CI of the daily log growth
        assert low > 0, tenant  # growth is detected, not just consistent with it
