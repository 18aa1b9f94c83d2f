"""User analytics: hand-worked answers on tests/data/business/business.yaml and independent pandas
computations on the demo data."""

# ruff: noqa: F811  (test functions take the fixtures imported from test_business_data)

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from auterity_lab.business import active_days, stickiness, user_activity
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


def _rows(frame: pd.DataFrame, key: str = "period") -> dict:
    return {r[key]: r for r in frame.to_dict("records")}


# ------------------------------------------------------------------------ hand-worked answers
def test_weekly_activity_by_hand(hand: Workbench) -> None:
    got = user_activity(hand, start="2026-03-02", end="2026-03-16", interval="week")
    assert got["period"].tolist() == [W1, W2] and set(got["segment"]) == {"all"}
    w1, w2 = _rows(got)[W1], _rows(got)[W2]
    # W1: u1 (300 s, 3 pages), u1 (60 s, 1), u2 (30 s, 1); u4 existed before, u1 and u2 are new
    assert (w1["total_users"], w1["new_users"], w1["active_users"], w1["sessions"]) == (3, 2, 2, 3)
    assert w1["avg_session_duration"] == pytest.approx(130.0)
    assert w1["median_session_duration"] == 60.0
    assert (w1["page_views"], w1["bounced_sessions"]) == (5, 2)
    assert w1["pages_per_session"] == pytest.approx(5 / 3)
    assert w1["bounce_rate"] == pytest.approx(2 / 3)
    assert w1["sessions_per_user"] == 1.5 and w1["duration_per_user"] == 195.0
    # W2: u1 120 s/2, u3 600/5, 100/1, 200/2, u4 400/4, u5 90/1 (u5 on the range's last day)
    assert (w2["total_users"], w2["new_users"], w2["active_users"], w2["sessions"]) == (5, 2, 4, 6)
    assert w2["avg_session_duration"] == pytest.approx(1510 / 6)
    assert w2["median_session_duration"] == 160.0
    assert (w2["page_views"], w2["bounced_sessions"]) == (15, 2)
    assert w2["bounce_rate"] == pytest.approx(1 / 3)
    assert w2["duration_per_user"] == 377.5
    assert got["complete"].tolist() == [True, True]


def test_partial_first_week_is_clipped_and_flagged(hand: Workbench) -> None:
    got = _rows(user_activity(hand, start="2026-03-03", end="2026-03-16", interval="week"))
    w1 = got[W1]
    # from 03-03: u2's session (03-03) and u1's (03-04); u1 signed up 03-02, before the range
    assert not w1["complete"] and got[W2]["complete"]
    assert (w1["sessions"], w1["active_users"], w1["new_users"], w1["total_users"]) == (2, 2, 1, 3)


def test_daily_activity_is_dense(hand: Workbench) -> None:
    got = _rows(user_activity(hand, start="2026-03-02", end="2026-03-16", interval="day"))
    assert len(got) == 14
    assert got[pd.Timestamp("2026-03-05")]["sessions"] == 0
    assert np.isnan(got[pd.Timestamp("2026-03-05")]["avg_session_duration"])
    last = got[pd.Timestamp("2026-03-15")]  # u5 signs up and visits at 23:00 on the last day
    assert (last["new_users"], last["active_users"], last["total_users"]) == (1, 1, 5)


def test_breakdown_by_device(hand: Workbench) -> None:
    got = user_activity(
        hand, start="2026-03-02", end="2026-03-16", interval="week", breakdown="device"
    )
    cells = {(r["segment"], r["period"]): r for r in got.to_dict("records")}
    assert sorted({s for s, _ in cells}) == ["desktop", "mobile", "tablet"]
    expect = {  # (total, new, active, sessions)
        ("desktop", W1): (1, 1, 1, 2),
        ("desktop", W2): (2, 1, 2, 4),
        ("mobile", W1): (2, 1, 1, 1),
        ("mobile", W2): (2, 0, 1, 1),
        ("tablet", W1): (0, 0, 0, 0),
        ("tablet", W2): (1, 1, 1, 1),
    }
    for key, values in expect.items():
        r = cells[key]
        assert (r["total_users"], r["new_users"], r["active_users"], r["sessions"]) == values, key
    assert cells[("desktop", W1)]["avg_session_duration"] == 180.0
    assert np.isnan(cells[("tablet", W1)]["avg_session_duration"])


def test_filters_combine(hand: Workbench) -> None:
    de = user_activity(hand, start="2026-03-02", end="2026-03-16", interval="range", country=["DE"])
    assert de[["total_users", "active_users", "sessions"]].iloc[0].tolist() == [3, 3, 7]
    free_organic = user_activity(
        hand, start="2026-03-02", end="2026-03-16", interval="range", plan="free", channel="organic"
    )
    assert free_organic["sessions"].iloc[0] == 4  # u3 three, u5 one
    both = user_activity(
        hand,
        start="2026-03-02",
        end="2026-03-16",
        interval="range",
        device=["desktop", "tablet"],
        country="DE",
    )
    assert both["active_users"].iloc[0] == 3


def test_stickiness_by_hand(hand: Workbench) -> None:
    got = _rows(stickiness(hand, start="2026-03-09", end="2026-03-16"), key="date")
    assert len(got) == 7
    expect = {  # dau, wau (d-6..d), mau (d-29..d)
        "2026-03-09": (1, 3, 4),  # u3 | u2, u1, u3 | + u4 (02-25)
        "2026-03-13": (1, 3, 4),  # u4 | u3, u1, u4 | u1..u4
        "2026-03-14": (0, 3, 4),
        "2026-03-15": (1, 4, 5),  # u5 | u3, u1, u4, u5 | everyone
    }
    for day, (dau, wau, mau) in expect.items():
        r = got[pd.Timestamp(day)]
        assert (r["dau"], r["wau"], r["mau"]) == (dau, wau, mau), day
        assert r["dau_mau"] == pytest.approx(dau / mau)
    assert got[pd.Timestamp("2026-03-15")]["wau_mau"] == pytest.approx(0.8)


def test_active_days_by_hand(hand: Workbench) -> None:
    days = active_days(hand, start="2026-03-02", end="2026-03-16")
    assert days["active_periods"].tolist() == list(range(1, 15))
    # u1: 03-02, 03-04, 03-10; u3: 03-09, 11, 12; u2, u4 and u5 one day each in the range
    assert days["users"].tolist()[:4] == [3, 0, 2, 0] and days["users"].sum() == 5
    assert days["share"].tolist()[:3] == pytest.approx([0.6, 0.0, 0.4])
    assert days["at_least_share"].tolist()[:4] == pytest.approx([1.0, 0.4, 0.4, 0.0])
    weeks = active_days(hand, start="2026-03-02", end="2026-03-16", interval="week")
    assert weeks["users"].tolist() == [4, 1]  # only u1 is active in both weeks


def test_empty_range_and_tenant_without_data(hand: Workbench, nothing: Workbench) -> None:
    for bench, start, end in (
        (hand, "2026-01-01", "2026-01-08"),
        (nothing, "2026-03-02", "2026-03-16"),
    ):
        for fn, query in (
            (user_activity, "business_user_activity"),
            (stickiness, "business_stickiness"),
            (active_days, "business_active_days"),
        ):
            got = fn(bench, start=start, end=end)
            assert got.empty, fn.__name__
            assert got.columns.tolist() == declared_columns(query), fn.__name__


def test_bad_parameters_name_what_is_wrong(hand: Workbench) -> None:
    with pytest.raises(QueryParameterError, match="interval must be one of"):
        user_activity(hand, start="2026-03-02", end="2026-03-16", interval="year")
    with pytest.raises(QueryParameterError, match="breakdown must be one of"):
        stickiness(hand, start="2026-03-02", end="2026-03-16", breakdown="browser")
    with pytest.raises(QueryParameterError, match="filter device is an empty list"):
        user_activity(hand, start="2026-03-02", end="2026-03-16", device=[])
    with pytest.raises(QueryParameterError, match="must be after start"):
        active_days(hand, start="2026-03-16", end="2026-03-02")


# ------------------------------------------------------------- demo data against pandas
START, END = "2026-08-05", "2026-10-20"  # a Wednesday to a Tuesday: partial edge weeks


def _bucket(ts: pd.Series, interval: str) -> pd.Series:
    day = ts.dt.tz_convert("UTC").dt.tz_localize(None).dt.normalize()
    if interval == "day":
        return day
    if interval == "week":
        return day - pd.to_timedelta(day.dt.day_of_week, unit="D")
    return day.dt.to_period("M").dt.start_time


@pytest.mark.parametrize("interval", ["day", "week", "month"])
def test_activity_equals_pandas_on_demo(wb: Workbench, demo_dir: Path, interval: str) -> None:
    s = window(raw(demo_dir, "user_sessions", "acme"), START, END)
    s = s.assign(period=_bucket(s["created_at"], interval))
    users = raw(demo_dir, "users", "acme")
    new = window(users, START, END)
    expected = s.groupby("period").agg(
        active_users=("user_id", "nunique"),
        sessions=("id", "size"),
        avg_session_duration=("duration", "mean"),
        median_session_duration=("duration", "median"),
        page_views=("page_views", "sum"),
        bounce_rate=("page_views", lambda p: (p == 1).mean()),
        total_duration=("duration", "sum"),
    )
    expected["sessions_per_user"] = expected["sessions"] / expected["active_users"]
    expected["duration_per_user"] = expected.pop("total_duration") / expected["active_users"]
    expected["new_users"] = new.groupby(_bucket(new["created_at"], interval)).size()
    expected["new_users"] = expected["new_users"].fillna(0)
    got = user_activity(wb, start=START, end=END, interval=interval).set_index("period")
    assert got.index.is_unique and set(expected.index) <= set(got.index)
    got = got.loc[expected.index]
    for col in expected.columns:
        np.testing.assert_allclose(
            got[col].to_numpy(float), expected[col].to_numpy(float), rtol=1e-9, err_msg=col
        )
    before = (users["created_at"] < pd.Timestamp(START, tz="UTC")).sum()
    assert got["total_users"].iloc[-1] == before + len(new)


def test_device_breakdown_equals_pandas_on_demo(wb: Workbench, demo_dir: Path) -> None:
    s = window(raw(demo_dir, "user_sessions", "acme"), START, END)
    users = raw(demo_dir, "users", "acme").set_index("id")
    s = s.assign(device_of_user=s["user_id"].map(users["device"]))
    expected = s.groupby("device_of_user").agg(
        active=("user_id", "nunique"), sessions=("id", "size")
    )
    got = user_activity(wb, start=START, end=END, interval="range", breakdown="device").set_index(
        "segment"
    )
    assert got.loc[expected.index, "active_users"].tolist() == expected["active"].tolist()
    assert got.loc[expected.index, "sessions"].tolist() == expected["sessions"].tolist()


def test_stickiness_equals_brute_force_on_demo(wb: Workbench, demo_dir: Path) -> None:
    s = raw(demo_dir, "user_sessions", "acme")
    s = s.assign(day=_bucket(s["created_at"], "day"))
    got = stickiness(wb, start="2026-09-01", end="2026-10-01").set_index("date")
    assert len(got) == 30
    for day, row in got.iterrows():
        for col, width in (("dau", 1), ("wau", 7), ("mau", 30)):
            inside = s[(s["day"] <= day) & (s["day"] > day - pd.Timedelta(days=width))]
            assert row[col] == inside["user_id"].nunique(), (day, col)


def test_active_days_equals_pandas_on_demo(wb: Workbench, demo_dir: Path) -> None:
    s = window(raw(demo_dir, "user_sessions", "acme"), START, END)
    per_user = s.groupby("user_id")["created_at"].apply(lambda t: _bucket(t, "week").nunique())
    expected = per_user.value_counts()
    got = active_days(wb, start=START, end=END, interval="week").set_index("active_periods")
    assert got["users"].sum() == len(per_user)
    for k, n in expected.items():
        assert got.loc[k, "users"] == n
    assert len(got) == 12  # ISO weeks touched by 2026-08-05 .. 2026-10-19
