"""Revenue, MRR, LTV and acquisition: hand-worked answers on tests/data/business/business.yaml and
independent pandas computations on the demo data."""

# ruff: noqa: F811  (test functions take the fixtures imported from test_business_data)

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from auterity_lab.business import acquisition, ltv, mrr, revenue
from auterity_lab.errors import QueryParameterError
from auterity_lab.warehouse import Workbench

from .test_business_data import (  # noqa: F401  (hand, hand_dir, nothing are fixtures)
    declared_columns,
    hand,
    hand_dir,
    nothing,
    raw,
    window,
)

W1, W2 = pd.Timestamp("2026-03-02"), pd.Timestamp("2026-03-09")
FEB, MAR = pd.Timestamp("2026-02-01"), pd.Timestamp("2026-03-01")


def _by(frame: pd.DataFrame, *keys: str) -> dict:
    return {
        tuple(r[k] for k in keys) if len(keys) > 1 else r[keys[0]]: r
        for r in frame.to_dict("records")
    }


# ------------------------------------------------------------------------ hand-worked answers
def test_weekly_revenue_by_hand(hand: Workbench) -> None:
    got = _by(revenue(hand, start="2026-03-02", end="2026-03-16", interval="week"), "period")
    cols = [
        "revenue",
        "transactions",
        "paying_users",
        "new_paying_users",
        "active_users",
        "paying_active_users",
        "arpu",
        "arppu",
        "conversion_to_paid",
    ]
    # W1: u1 subscribes (29); active u1, u2
    assert [got[W1][c] for c in cols] == [29.0, 1, 1, 1, 2, 1, 14.5, 29.0, 0.5]
    # W2: u3 subscribes (99, first payment ever), u4 renews (99, paid before); active u1, u3, u4, u5
    assert [got[W2][c] for c in cols] == [198.0, 2, 2, 1, 4, 2, 49.5, 99.0, 0.5]
    low, high = proportion_confint(2, 4, alpha=0.05, method="wilson")
    assert (
        got[W2]["conversion_to_paid_ci_low"],
        got[W2]["conversion_to_paid_ci_high"],
    ) == pytest.approx((low, high))


def test_range_revenue_and_plan_breakdown(hand: Workbench) -> None:
    whole = revenue(hand, start="2026-03-02", end="2026-03-16", interval="range").iloc[0]
    assert (
        whole["revenue"],
        whole["paying_users"],
        whole["new_paying_users"],
        whole["active_users"],
    ) == (227.0, 3, 2, 5)
    assert whole["arpu"] == pytest.approx(45.4) and whole["arppu"] == pytest.approx(227 / 3)
    assert whole["conversion_to_paid"] == pytest.approx(0.6)
    plans = _by(
        revenue(hand, start="2026-03-02", end="2026-03-16", interval="range", breakdown="plan"),
        "segment",
    )
    assert {k: (v["revenue"], v["paying_users"], v["active_users"]) for k, v in plans.items()} == {
        "free": (99.0, 1, 3),
        "pro": (29.0, 1, 1),
        "team": (99.0, 1, 1),
    }


def test_monthly_mrr_movements_by_hand(hand: Workbench) -> None:
    got = mrr(hand, start="2026-03-01", end="2026-04-01", interval="month")
    assert len(got) == 1
    m = got.iloc[0]
    # before March: u4 pays 99. March: u1 new 29 then up to 99 (expansion 70); u3 new 99, cancels
    # (churn 99), comes back at 29 (reactivation); u4 renews at 99 (no change), then at 29
    # (contraction 70)
    assert m["opening_mrr"] == 99 and m["closing_mrr"] == 157
    assert (m["new_mrr"], m["expansion_mrr"], m["reactivation_mrr"]) == (128, 70, 29)
    assert (m["contraction_mrr"], m["churned_mrr"], m["net_new_mrr"]) == (70, 99, 58)
    assert (
        m["opening_subscribers"],
        m["new_subscribers"],
        m["churned_subscribers"],
        m["closing_subscribers"],
    ) == (1, 3, 1, 3)
    assert m["complete"]


def test_weekly_mrr_carries_over(hand: Workbench) -> None:
    got = _by(mrr(hand, start="2026-03-02", end="2026-03-16", interval="week"), "period")
    assert (got[W1]["opening_mrr"], got[W1]["new_mrr"], got[W1]["closing_mrr"]) == (99, 29, 128)
    assert (
        got[W2]["opening_mrr"],
        got[W2]["new_mrr"],
        got[W2]["churned_mrr"],
        got[W2]["closing_mrr"],
    ) == (128, 99, 99, 128)
    by_plan = _by(mrr(hand, start="2026-03-01", end="2026-04-01", breakdown="plan"), "segment")
    assert {k: v["closing_mrr"] for k, v in by_plan.items()} == {"free": 29, "pro": 99, "team": 29}


def test_ltv_by_hand(hand: Workbench) -> None:
    got = _by(ltv(hand, start="2026-02-01", end="2026-04-01", interval="month"), "cohort", "period")
    assert set(got) == {(FEB, 0), (FEB, 1), (MAR, 0)}
    feb0, feb1, mar0 = got[(FEB, 0)], got[(FEB, 1)], got[(MAR, 0)]
    assert (feb0["cohort_size"], feb0["revenue"], feb0["ltv"], feb0["paying_users"]) == (
        1,
        99,
        99,
        1,
    )
    assert (feb1["revenue"], feb1["cumulative_revenue"], feb1["ltv"]) == (128, 227, 227)
    # March signups u1, u2, u3, u5: u1 pays 29 + 99, u3 99 + 29
    assert (mar0["cohort_size"], mar0["revenue"], mar0["ltv"], mar0["paying_share"]) == (
        4,
        256,
        64,
        0.5,
    )
    weekly = _by(
        ltv(hand, start="2026-03-02", end="2026-03-16", interval="week"), "cohort", "period"
    )
    assert (weekly[(W1, 1)]["cumulative_revenue"], weekly[(W1, 1)]["ltv"]) == (29, 14.5)
    assert weekly[(W2, 0)]["ltv"] == 49.5


def test_acquisition_by_hand(hand: Workbench) -> None:
    got = _by(
        acquisition(hand, start="2026-03-02", end="2026-03-16", window_days=7), "segment", "period"
    )
    organic1, organic2 = got[("organic", W1)], got[("organic", W2)]
    assert (organic1["new_users"], organic1["activated_users"], organic1["paid_users"]) == (1, 1, 1)
    assert organic1["median_days_to_activate"] == pytest.approx(0.125)  # 3 hours
    assert organic1["median_days_to_paid"] == pytest.approx(3.0)
    assert (organic2["new_users"], organic2["activation_rate"], organic2["paid_rate"]) == (
        2,
        0.5,
        0.5,
    )
    low, high = proportion_confint(1, 2, alpha=0.05, method="wilson")
    assert (
        organic2["activation_rate_ci_low"],
        organic2["activation_rate_ci_high"],
    ) == pytest.approx((low, high))
    assert (got[("paid_search", W1)]["new_users"], got[("paid_search", W1)]["paid_rate"]) == (
        1,
        0.0,
    )
    assert got[("paid_search", W2)]["new_users"] == 0 and np.isnan(
        got[("paid_search", W2)]["paid_rate"]
    )
    assert all(r["mature"] for r in got.values())  # the data runs to 03-27, past 03-16 + 7 days
    later = acquisition(hand, start="2026-03-02", end="2026-03-16", window_days=30)
    assert not later["mature"].any()


def test_acquisition_window_boundary(hand: Workbench) -> None:
    # u1 and u3 subscribe exactly three days after signing up
    three = acquisition(
        hand, start="2026-03-02", end="2026-03-16", interval="range", window_days=3, breakdown=None
    )
    two = acquisition(
        hand, start="2026-03-02", end="2026-03-16", interval="range", window_days=2, breakdown=None
    )
    assert (three["paid_users"].iloc[0], two["paid_users"].iloc[0]) == (2, 0)
    assert (three["activated_users"].iloc[0], two["activated_users"].iloc[0]) == (2, 2)


def test_empty_and_bad_input(hand: Workbench, nothing: Workbench) -> None:
    for bench, start, end in (
        (hand, "2026-01-05", "2026-01-19"),
        (nothing, "2026-03-02", "2026-03-16"),
    ):
        for fn, query in (
            (revenue, "business_revenue"),
            (mrr, "business_mrr"),
            (ltv, "business_ltv"),
            (acquisition, "business_acquisition"),
        ):
            got = fn(bench, start=start, end=end)
            assert got.empty, fn.__name__
            assert set(declared_columns(query)) <= set(got.columns), fn.__name__
    with pytest.raises(QueryParameterError, match="cancel_event must be an event type"):
        mrr(hand, start="2026-03-02", end="2026-03-16", cancel_event="")
    with pytest.raises(QueryParameterError, match="window_days must be a non-negative integer"):
        acquisition(hand, start="2026-03-02", end="2026-03-16", window_days=1.5)


# ------------------------------------------------------------- demo data against pandas
START, END = "2026-08-01", "2026-11-01"


def _month(ts: pd.Series) -> pd.Series:
    return ts.dt.tz_convert("UTC").dt.tz_localize(None).dt.to_period("M").dt.start_time


def test_revenue_equals_pandas_on_demo(wb: Workbench, demo_dir: Path) -> None:
    e = raw(demo_dir, "events", "acme").assign(revenue=lambda f: f["revenue"].astype(float))
    first_paid = e[e["revenue"] > 0].groupby("user_id")["created_at"].min()
    e = window(e[e["revenue"].notna()], START, END).assign(period=lambda f: _month(f["created_at"]))
    s = window(raw(demo_dir, "user_sessions", "acme"), START, END)
    s = s.assign(period=_month(s["created_at"]))
    got = revenue(wb, start=START, end=END, interval="month").set_index("period")
    assert len(got) == 3
    for period, row in got.iterrows():
        money = e[e["period"] == period]
        payers = set(money.loc[money["revenue"] > 0, "user_id"])
        active = set(s.loc[s["period"] == period, "user_id"])
        assert row["revenue"] == pytest.approx(money["revenue"].sum())
        assert row["paying_users"] == len(payers) and row["active_users"] == len(active)
        assert row["new_paying_users"] == sum(_month(first_paid[list(payers)]) == period)
        assert row["arpu"] == pytest.approx(money["revenue"].sum() / len(active))
        assert row["arppu"] == pytest.approx(money["revenue"].sum() / len(payers))
        assert row["conversion_to_paid"] == pytest.approx(len(payers & active) / len(active))


def test_mrr_equals_pandas_on_demo(wb: Workbench, demo_dir: Path) -> None:
    e = raw(demo_dir, "events", "acme")
    subs = e[e["event_type"].isin(["subscribe", "payment", "cancel"])].copy()
    subs["amount"] = np.where(subs["event_type"] == "cancel", 0.0, subs["revenue"].astype(float))
    subs = subs.sort_values(["created_at", "id"])
    got = mrr(wb, start=START, end=END, interval="month").set_index("period")
    for period, row in got.iterrows():
        close = min(period + pd.DateOffset(months=1), pd.Timestamp(END)).tz_localize("UTC")
        state = subs[subs["created_at"] < close].groupby("user_id")["amount"].last()
        assert row["closing_mrr"] == pytest.approx(state.sum())
        assert row["closing_subscribers"] == (state > 0).sum()
        moves = (
            row["new_mrr"]
            + row["expansion_mrr"]
            + row["reactivation_mrr"]
            - row["contraction_mrr"]
            - row["churned_mrr"]
        )
        assert row["closing_mrr"] - row["opening_mrr"] == pytest.approx(moves)
    assert got["churned_mrr"].sum() > 0 and got["new_mrr"].sum() > 0


def test_ltv_equals_pandas_on_demo(wb: Workbench, demo_dir: Path) -> None:
    users = window(raw(demo_dir, "users", "acme"), START, END).assign(
        cohort=lambda f: _month(f["created_at"])
    )
    e = window(raw(demo_dir, "events", "acme"), START, END)
    e = e[e["revenue"].notna()].merge(users[["id", "cohort"]], left_on="user_id", right_on="id")
    e["k"] = (_month(e["created_at"]).dt.year - e["cohort"].dt.year) * 12 + (
        _month(e["created_at"]).dt.month - e["cohort"].dt.month
    )
    got = ltv(wb, start=START, end=END, interval="month")
    assert len(got) == 6  # cohorts Aug, Sep, Oct with 3, 2 and 1 observable months
    for r in got.to_dict("records"):
        size = (users["cohort"] == r["cohort"]).sum()
        cum = (
            e[(e["cohort"] == r["cohort"]) & (e["k"] <= r["period"])]["revenue"].astype(float).sum()
        )
        assert r["cohort_size"] == size
        assert r["ltv"] == pytest.approx(cum / size)


def test_acquisition_equals_pandas_on_demo(wb: Workbench, demo_dir: Path) -> None:
    users = window(raw(demo_dir, "users", "acme"), START, END).set_index("id")
    e = raw(demo_dir, "events", "acme")
    got = acquisition(wb, start=START, end=END, interval="range", window_days=14)
    got = got.set_index("segment")
    assert set(got.index) == {"organic", "paid_search", "social", "referral", "email"}
    columns = (
        ("activate", "activated_users", "median_days_to_activate"),
        ("subscribe", "paid_users", "median_days_to_paid"),
    )
    for event, count_col, median_col in columns:
        first = e[e["event_type"] == event].groupby("user_id")["created_at"].min()
        days = (first.reindex(users.index) - users["created_at"]).dt.total_seconds() / 86400
        inside = days[(days >= 0) & (days <= 14)]
        channel = users["acquisition_channel"]
        for name, row in got.iterrows():
            members = channel.index[channel == name]
            converted = inside.reindex(members).dropna()
            assert row["new_users"] == len(members)
            assert row[count_col] == len(converted), (name, event)
            assert row[median_col] == pytest.approx(converted.median(), nan_ok=True), (name, event)
