"""Retention and lifecycle: hand-worked matrices on tests/data/business/business.yaml, independent
pandas implementations on the demo data."""

# ruff: noqa: F811  (test functions take the fixtures imported from test_business_data)

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from auterity_lab.business import lifecycle, retention, user_activity
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

W1, W2, W3 = (pd.Timestamp(d) for d in ("2026-03-02", "2026-03-09", "2026-03-16"))


def _cells(frame: pd.DataFrame, value: str = "retained") -> dict:
    return {(r["cohort"], r["period"]): r[value] for r in frame.to_dict("records")}


# ------------------------------------------------------------------------ hand-worked answers
def test_first_time_weekly_retention_by_hand(hand: Workbench) -> None:
    got = retention(hand, start="2026-03-02", end="2026-03-23", interval="week")
    # first sessions: u1, u2 in W1; u3, u5 in W2; u4 before the range (in no cohort).
    # W1 returns: u1 in W2, u2 in W3 (03-18); W2: nobody comes back in W3.
    assert _cells(got) == {(W1, 0): 2, (W1, 1): 1, (W1, 2): 1, (W2, 0): 2, (W2, 1): 0}
    assert _cells(got, "cohort_size") == {k: 2 for k in _cells(got)}
    assert _cells(got, "period_start") == {
        (W1, 0): W1,
        (W1, 1): W2,
        (W1, 2): W3,
        (W2, 0): W2,
        (W2, 1): W3,
    }
    assert got["complete"].all()
    half = got[(got["cohort"] == W1) & (got["period"] == 1)].iloc[0]
    assert half["rate"] == 0.5
    low, high = proportion_confint(1, 2, alpha=0.05, method="wilson")
    assert (half["rate_ci_low"], half["rate_ci_high"]) == pytest.approx((low, high), abs=1e-12)


def test_unbounded_counts_returns_on_or_after(hand: Workbench) -> None:
    got = retention(hand, start="2026-03-02", end="2026-03-23", interval="week", unbounded=True)
    # u2 comes back in W3 only, so "W2 or later" holds for both u1 and u2
    assert _cells(got) == {(W1, 0): 2, (W1, 1): 2, (W1, 2): 1, (W2, 0): 2, (W2, 1): 0}
    capped = retention(
        hand, start="2026-03-02", end="2026-03-23", interval="week", unbounded=True, periods=1
    )
    assert _cells(capped) == {(W1, 0): 2, (W1, 1): 2, (W2, 0): 2, (W2, 1): 0}


def test_user_first_seen_on_the_last_day(hand: Workbench) -> None:
    got = retention(hand, start="2026-03-02", end="2026-03-16", interval="week")
    # u5 (first session 03-15 23:00) is in the W2 cohort; its period 1 lies after end: no cell
    assert _cells(got) == {(W1, 0): 2, (W1, 1): 1, (W2, 0): 2}
    daily = retention(hand, start="2026-03-09", end="2026-03-16", interval="day")
    last = daily[daily["cohort"] == pd.Timestamp("2026-03-15")]
    assert last[["period", "cohort_size", "retained"]].values.tolist() == [[0, 1, 1]]
    u3 = daily[daily["cohort"] == W2]  # u3: 03-09, then 03-11 and 03-12
    assert u3["retained"].tolist() == [1, 0, 1, 1, 0, 0, 0]


def test_recurring_mode_and_separate_events(hand: Workbench) -> None:
    rec = retention(hand, start="2026-03-02", end="2026-03-16", interval="week", mode="recurring")
    # W1 cohort: u1, u2 (active in W1); W2 cohort: u1, u3, u4, u5
    assert _cells(rec, "cohort_size") == {(W1, 0): 2, (W1, 1): 2, (W2, 0): 4}
    assert _cells(rec) == {(W1, 0): 2, (W1, 1): 1, (W2, 0): 4}
    events = retention(
        hand,
        start="2026-03-02",
        end="2026-03-23",
        interval="week",
        cohort_event="signup",
        return_event="feature_use",
    )
    # signups in range: u1, u2 (W1), u3, u5 (W2); feature_use: u1 in W1, u2 in W3
    assert _cells(events) == {(W1, 0): 1, (W1, 1): 0, (W1, 2): 1, (W2, 0): 0, (W2, 1): 0}


def test_lifecycle_by_hand(hand: Workbench) -> None:
    got = lifecycle(hand, start="2026-03-02", end="2026-03-23", interval="week")
    table = got.pivot(index="period", columns="status", values="users")
    # W0 (history): u4. W1: u1, u2. W2: u1, u3, u4, u5. W3: u2.
    assert table.loc[W1].to_dict() == {"new": 2, "returning": 0, "resurrecting": 0, "dormant": 1}
    assert table.loc[W2].to_dict() == {"new": 2, "returning": 1, "resurrecting": 1, "dormant": 1}
    assert table.loc[W3].to_dict() == {"new": 0, "returning": 0, "resurrecting": 1, "dormant": 4}
    assert got["status"].tolist()[:4] == ["new", "returning", "resurrecting", "dormant"]
    by_device = lifecycle(
        hand, start="2026-03-09", end="2026-03-16", interval="week", breakdown="device"
    )
    cells = {(r["segment"], r["status"]): r["users"] for r in by_device.to_dict("records")}
    assert cells[("desktop", "new")] == 1 and cells[("desktop", "returning")] == 1  # u3, u1
    assert cells[("mobile", "resurrecting")] == 1 and cells[("mobile", "dormant")] == 1  # u4, u2
    assert cells[("tablet", "new")] == 1  # u5


def test_empty_and_bad_input(hand: Workbench, nothing: Workbench) -> None:
    for bench, start, end in (
        (hand, "2026-01-05", "2026-01-19"),
        (nothing, "2026-03-02", "2026-03-16"),
    ):
        got = retention(bench, start=start, end=end)
        assert got.empty
        assert got.columns.tolist() == [
            *declared_columns("business_retention"),
            "rate_ci_low",
            "rate_ci_high",
        ]
        got = lifecycle(bench, start=start, end=end)
        assert got.empty and got.columns.tolist() == declared_columns("business_lifecycle")
    with pytest.raises(QueryParameterError, match="mode must be one of first_time, recurring"):
        retention(hand, start="2026-03-02", end="2026-03-16", mode="sticky")
    with pytest.raises(QueryParameterError, match="interval must be one of day, week, month"):
        lifecycle(hand, start="2026-03-02", end="2026-03-16", interval="range")
    with pytest.raises(QueryParameterError, match="periods must be a non-negative integer"):
        retention(hand, start="2026-03-02", end="2026-03-16", periods=-1)


# ------------------------------------------------------------- demo data against pandas
START, END = "2026-08-03", "2026-10-26"  # Mondays: twelve whole weeks


def _week(ts: pd.Series) -> pd.Series:
    day = ts.dt.tz_convert("UTC").dt.tz_localize(None).dt.normalize()
    return day - pd.to_timedelta(day.dt.day_of_week, unit="D")


def _sessions(demo_dir: Path) -> pd.DataFrame:
    s = raw(demo_dir, "user_sessions", "acme")
    return s.assign(week=_week(s["created_at"]))


@pytest.mark.parametrize("mode", ["first_time", "recurring"])
@pytest.mark.parametrize("unbounded", [False, True])
def test_retention_equals_pandas_on_demo(
    wb: Workbench, demo_dir: Path, mode: str, unbounded: bool
) -> None:
    s = _sessions(demo_dir)
    inside = window(s, START, END)
    if mode == "first_time":
        first = s.groupby("user_id")["created_at"].min()
        first = first[
            (first >= pd.Timestamp(START, tz="UTC")) & (first < pd.Timestamp(END, tz="UTC"))
        ]
        members = pd.DataFrame({"user_id": first.index, "cohort": _week(first).to_numpy()})
    else:
        members = inside[["user_id", "week"]].drop_duplicates().rename(columns={"week": "cohort"})
    returns = inside[["user_id", "week"]].drop_duplicates()
    pairs = members.merge(returns, on="user_id")
    pairs["k"] = (pairs["week"] - pairs["cohort"]).dt.days // 7
    pairs = pairs[pairs["k"] >= 0]
    if unbounded:
        last = pairs.groupby(["cohort", "user_id"])["k"].max().reset_index()
        counts = {
            (c, k): int((g["k"] >= k).sum()) for c, g in last.groupby("cohort") for k in range(12)
        }
    else:
        counts = pairs.groupby(["cohort", "k"]).size().to_dict()
    sizes = members.groupby("cohort").size()
    got = retention(wb, start=START, end=END, interval="week", mode=mode, unbounded=unbounded)
    assert len(got) == sum(12 - i for i in range(len(sizes)))  # a triangle: every observable cell
    for r in got.to_dict("records"):
        assert r["cohort_size"] == sizes[r["cohort"]]
        assert r["retained"] == counts.get((r["cohort"], r["period"]), 0), (
            r["cohort"],
            r["period"],
        )
    if unbounded:  # "on or after" never rises with k
        assert (got.groupby("cohort")["rate"].diff().dropna() <= 0).all()


def test_lifecycle_equals_pandas_on_demo(wb: Workbench, demo_dir: Path) -> None:
    s = _sessions(demo_dir)
    first = _week(s.groupby("user_id")["created_at"].min())
    lookback = pd.Timestamp(START) - pd.Timedelta(days=7)
    active = s[(s["week"] >= lookback) & (s["created_at"] < pd.Timestamp(END, tz="UTC"))]
    weeks = active.groupby("week")["user_id"].apply(set)
    got = lifecycle(wb, start=START, end=END, interval="week").pivot(
        index="period", columns="status", values="users"
    )
    assert len(got) == 12
    for week, row in got.iterrows():
        now, before = weeks.get(week, set()), weeks.get(week - pd.Timedelta(days=7), set())
        new = {u for u in now if first[u] == week}
        assert row["new"] == len(new)
        assert row["returning"] == len((now - new) & before)
        assert row["resurrecting"] == len(now - new - before)
        assert row["dormant"] == len(before - now)
    activity = user_activity(wb, start=START, end=END, interval="week").set_index("period")
    total = got["new"] + got["returning"] + got["resurrecting"]
    assert total.tolist() == activity.loc[got.index, "active_users"].tolist()
    # the active users of a week are those of the next week who return, plus those going dormant
    np.testing.assert_array_equal(
        (got["returning"] + got["dormant"]).to_numpy()[1:],
        activity.loc[got.index, "active_users"].to_numpy()[:-1],
    )
