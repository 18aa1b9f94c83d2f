"""Funnels: hand-worked answers on tests/data/business/funnel.yaml (window boundary, repeated and
out-of-order steps, re-entry, first touch) and a brute-force implementation on the demo data."""

# ruff: noqa: F811  (test functions take the fixtures imported from test_business_data)

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from auterity_lab.business import Step, funnel
from auterity_lab.business.funnels import parse_window
from auterity_lab.errors import QueryParameterError
from auterity_lab.warehouse import Workbench

from .test_business_data import build, declared_columns, hand_dir, raw  # noqa: F401  (hand_dir)

START, END = "2026-03-02", "2026-03-09"
STEPS = ["signup", "activate", "subscribe"]


@pytest.fixture(scope="module")
def funnel_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(tmp_path_factory, "funnel")


@pytest.fixture
def fb(funnel_dir: Path) -> Iterator[Workbench]:
    with Workbench.open(funnel_dir, tenant="t1") as bench:
        yield bench


def _users(frame: pd.DataFrame) -> dict[str, list[int]]:
    return {seg: part["users"].tolist() for seg, part in frame.groupby("segment", sort=True)}


# ------------------------------------------------------------------------ hand-worked answers
def test_ordered_funnel_by_hand(fb: Workbench) -> None:
    got = funnel(fb, start=START, end=END, steps=STEPS, window="1d")
    # entries: f1, f2, f3, f4, f7 (f5 never signs up, f6 signed up before the range)
    # step 2: all five (f4 activates after end, inside the window)
    # step 3: f1 (subscribe exactly at the window's end counts), f7 (second entry);
    #         not f2 (1 µs too late) nor f3 (subscribed before activating)
    assert _users(got) == {"all": [5, 5, 2]}
    assert got["event"].tolist() == STEPS and got["label"].tolist() == STEPS
    assert got["conversion_from_first"].tolist() == [1.0, 1.0, 0.4]
    assert got["conversion_from_previous"].tolist() == [1.0, 1.0, 0.4]
    assert got["dropped"].tolist()[1:] == [0, 3] and pd.isna(got["dropped"].iloc[0])
    assert got["drop_off_rate"].tolist()[1:] == [0.0, 0.6]
    low, high = proportion_confint(2, 5, alpha=0.05, method="wilson")
    last = got.iloc[2]
    assert (
        last["conversion_from_first_ci_low"],
        last["conversion_from_first_ci_high"],
    ) == pytest.approx((low, high))
    # step 2 after step 1: f1 2 h, f2 1 h, f3 2 h, f4 2 h, f7 30 min (its best attempt: 03-06)
    assert got["median_seconds_from_previous"].iloc[1] == 7200.0
    assert got["p90_seconds_from_previous"].iloc[1] == 7200.0
    # step 3 after step 2: f1 22 h, f7 22.5 h; after step 1: f1 24 h, f7 23 h
    assert got["median_seconds_from_previous"].iloc[2] == pytest.approx(80100.0)
    assert got["p90_seconds_from_previous"].iloc[2] == pytest.approx(79200 + 0.9 * 1800)
    assert got["median_seconds_from_first"].iloc[2] == pytest.approx(84600.0)
    assert got["p90_seconds_from_first"].iloc[2] == pytest.approx(82800 + 0.9 * 3600)
    assert got["median_seconds_from_first"].iloc[0] == 0.0
    assert np.isnan(got["median_seconds_from_previous"].iloc[0])


def test_window_boundary_is_inclusive(fb: Workbench) -> None:
    one_day = funnel(fb, start=START, end=END, steps=STEPS, window=dt.timedelta(days=1))
    a_bit_more = funnel(
        fb, start=START, end=END, steps=STEPS, window=dt.timedelta(days=1, seconds=1)
    )
    shorter = funnel(
        fb, start=START, end=END, steps=STEPS, window=dt.timedelta(hours=23, minutes=59)
    )
    assert one_day["users"].tolist() == [5, 5, 2]
    assert a_bit_more["users"].tolist() == [5, 5, 3]  # now f2's subscribe (1 µs late) is inside
    assert shorter["users"].tolist() == [5, 5, 1]  # f1's subscribe (exactly 1 day) drops out


def test_strict_and_any_order(fb: Workbench) -> None:
    strict = funnel(fb, start=START, end=END, steps=STEPS, window="1d", order="strict")
    # each step must be the next event: f3's signup is followed by subscribe, not activate
    assert strict["users"].tolist() == [5, 4, 2]
    anyorder = funnel(fb, start=START, end=END, steps=STEPS, window="1d", order="any")
    # entries are any step's event in range: f5 and f6 (activate) join with one step;
    # f3's out-of-order steps now count: 3 steps for f1, f3, f7
    assert anyorder["users"].tolist() == [7, 5, 3]
    assert anyorder["label"].tolist() == ["any 1 of 3", "any 2 of 3", "any 3 of 3"]


def test_repeated_steps_need_distinct_events(fb: Workbench) -> None:
    twice = funnel(fb, start=START, end=END, steps=["signup", "activate", "activate"], window="2d")
    assert twice["users"].tolist() == [5, 5, 1]  # only f7 activates twice within 2 days
    anyorder = funnel(
        fb, start=START, end=END, steps=["activate", "activate"], window="2d", order="any"
    )
    # entries: activate events in range (f1, f2, f3, f5, f6, f7; f4's is after end)
    assert anyorder["users"].tolist() == [6, 1]


def test_step_property_filters(fb: Workbench) -> None:
    team = funnel(
        fb, start=START, end=END, steps=["signup", Step("subscribe", {"plan": "team"})], window="1d"
    )
    assert team["users"].tolist() == [5, 2]  # f3 and f7 subscribe to team; f1 and f2 to pro
    assert team["label"].tolist() == ["signup", "subscribe (plan=team)"]
    parsed = funnel(
        fb,
        start=START,
        end=END,
        steps=[Step.parse("signup channel=organic"), "activate"],
        window="1d",
    )
    assert parsed["users"].tolist() == [2, 2]  # f1, f2


def test_breakdowns_first_touch_and_user_attributes(fb: Workbench) -> None:
    by_channel = funnel(
        fb, start=START, end=END, steps=STEPS, window="1d", breakdown_property="channel"
    )
    # f7 converts through its second signup (email) but is attributed to its first (paid_search)
    assert _users(by_channel) == {
        "email": [1, 1, 0],
        "organic": [2, 2, 1],
        "paid_search": [1, 1, 1],
        "social": [1, 1, 0],
    }
    by_device = funnel(fb, start=START, end=END, steps=STEPS, window="1d", breakdown="device")
    assert _users(by_device) == {"desktop": [2, 2, 1], "mobile": [2, 2, 0], "tablet": [1, 1, 1]}
    desktop = funnel(fb, start=START, end=END, steps=STEPS, window="1d", device="desktop")
    assert desktop["users"].tolist() == [2, 2, 1]


def test_empty_range_tenant_and_bad_input(fb: Workbench) -> None:
    columns = declared_columns("business_funnel")
    columns.insert(columns.index("event") + 1, "label")
    for name in ("conversion_from_first", "conversion_from_previous"):
        at = columns.index(name) + 1
        columns[at:at] = [f"{name}_ci_low", f"{name}_ci_high"]
    for order in ("ordered", "strict", "any"):
        got = funnel(fb, start="2026-04-01", end="2026-04-08", steps=STEPS, order=order)
        assert got.empty and got.columns.tolist() == columns, order
    with pytest.raises(QueryParameterError, match="at least two steps"):
        funnel(fb, start=START, end=END, steps=["signup"])
    with pytest.raises(QueryParameterError, match="not the text"):
        funnel(fb, start=START, end=END, steps="signup")
    with pytest.raises(QueryParameterError, match="not both"):
        funnel(
            fb, start=START, end=END, steps=STEPS, breakdown="device", breakdown_property="channel"
        )
    with pytest.raises(QueryParameterError, match="order must be one of ordered, strict, any"):
        funnel(fb, start=START, end=END, steps=STEPS, order="random")
    with pytest.raises(QueryParameterError, match="not a duration"):
        parse_window("two days")
    with pytest.raises(QueryParameterError, match="must be positive"):
        parse_window(dt.timedelta(0))
    with pytest.raises(QueryParameterError, match="is not key=value"):
        Step.parse("subscribe plan")
    assert parse_window("2w") == dt.timedelta(days=14)


def test_tenant_without_data(hand_dir: Path) -> None:
    with Workbench.open(hand_dir, tenant="t2") as bench:
        assert funnel(bench, start=START, end=END, steps=STEPS).empty


# ------------------------------------------------------------- demo data against brute force
DEMO_START, DEMO_END = "2026-08-01", "2026-10-01"


def _events(demo_dir: Path) -> pd.DataFrame:
    e = raw(demo_dir, "events", "acme")
    return e[e["created_at"] < pd.Timestamp(DEMO_END, tz="UTC") + pd.Timedelta(days=60)]


def _ordered(events: pd.DataFrame, steps: list[str], window: pd.Timedelta) -> dict[str, int]:
    """Furthest step per user: every entry tried, each later step the earliest one after."""
    lo, hi = pd.Timestamp(DEMO_START, tz="UTC"), pd.Timestamp(DEMO_END, tz="UTC")
    reached = {}
    for user, ev in events[events["event_type"].isin(steps)].groupby("user_id"):
        ev = ev.sort_values("created_at")
        times = {s: ev.loc[ev["event_type"] == s, "created_at"].tolist() for s in set(steps)}
        best = 0
        for entry in times[steps[0]]:
            if not lo <= entry < hi:
                continue
            t, k = entry, 1
            for s in steps[1:]:
                nxt = [x for x in times[s] if t < x <= entry + window]
                if not nxt:
                    break
                t, k = nxt[0], k + 1
            best = max(best, k)
        if best:
            reached[user] = best
    return reached


@pytest.mark.parametrize(
    ("steps", "days"),
    [
        (["signup", "activate", "subscribe", "payment"], 45),
        (["feature_use", "feature_use", "subscribe"], 7),
    ],
)
def test_ordered_funnel_equals_brute_force_on_demo(
    wb: Workbench, demo_dir: Path, steps: list[str], days: int
) -> None:
    reached = _ordered(_events(demo_dir), steps, pd.Timedelta(days=days))
    expected = [sum(k >= i for k in reached.values()) for i in range(1, len(steps) + 1)]
    got = funnel(wb, start=DEMO_START, end=DEMO_END, steps=steps, window=f"{days}d")
    assert got["users"].tolist() == expected
    assert expected[-1] > 0  # the demo converts somebody: the comparison is not vacuous


@pytest.mark.parametrize(
    ("steps", "days"),
    [(["signup", "activate"], 7), (["feature_use", "feature_use", "feature_use"], 1)],
)
def test_strict_funnel_equals_brute_force_on_demo(
    wb: Workbench, demo_dir: Path, steps: list[str], days: int
) -> None:
    lo, hi = pd.Timestamp(DEMO_START, tz="UTC"), pd.Timestamp(DEMO_END, tz="UTC")
    window = pd.Timedelta(days=days)
    e = _events(demo_dir)
    reached = {}
    for user, ev in e[e["created_at"] >= lo].groupby("user_id"):
        ev = ev.sort_values(["created_at", "id"])
        kinds, times = ev["event_type"].tolist(), ev["created_at"].tolist()
        best = 0
        for i, (kind, entry) in enumerate(zip(kinds, times, strict=True)):
            if kind != steps[0] or not lo <= entry < hi:
                continue
            k = 1  # each further step must be the user's very next event
            while (
                k < len(steps)
                and i + k < len(kinds)
                and kinds[i + k] == steps[k]
                and times[i + k - 1] < times[i + k] <= entry + window
            ):
                k += 1
            best = max(best, k)
        if best:
            reached[user] = best
    expected = [sum(k >= i for k in reached.values()) for i in range(1, len(steps) + 1)]
    got = funnel(wb, start=DEMO_START, end=DEMO_END, steps=steps, window=f"{days}d", order="strict")
    assert got["users"].tolist() == expected and expected[-1] > 0


def test_times_and_first_touch_equal_pandas_on_demo(wb: Workbench, demo_dir: Path) -> None:
    e = _events(demo_dir)
    lo, hi = pd.Timestamp(DEMO_START, tz="UTC"), pd.Timestamp(DEMO_END, tz="UTC")
    signup = e[(e["event_type"] == "signup") & (e["created_at"] >= lo) & (e["created_at"] < hi)]
    # demo users sign up and activate once, so each user's chain is unique
    first = signup.set_index("user_id")["created_at"]
    act = e[e["event_type"] == "activate"].set_index("user_id")["created_at"].reindex(first.index)
    delay = (act - first).dt.total_seconds()
    delay = delay[(delay > 0) & (delay <= 30 * 86400)]
    got = funnel(wb, start=DEMO_START, end=DEMO_END, steps=["signup", "activate"], window="30d")
    assert got["users"].tolist() == [len(first), len(delay)]
    assert got["median_seconds_from_previous"].iloc[1] == pytest.approx(delay.median())
    assert got["p90_seconds_from_previous"].iloc[1] == pytest.approx(np.quantile(delay, 0.9))
    channel = signup.set_index("user_id")["properties"].map(lambda p: json.loads(p)["channel"])
    by_channel = funnel(
        wb,
        start=DEMO_START,
        end=DEMO_END,
        steps=["signup", "activate"],
        window="30d",
        breakdown_property="channel",
    )
    step2 = by_channel[by_channel["step"] == 2].set_index("segment")["users"]
    expected = channel[delay.index].value_counts()
    assert step2.loc[expected.index].tolist() == expected.tolist()


def test_any_order_equals_brute_force_on_demo(wb: Workbench, demo_dir: Path) -> None:
    steps, window = ["activate", "subscribe", "payment"], pd.Timedelta(days=40)
    e = _events(demo_dir)
    e = e[e["event_type"].isin(steps)]
    lo, hi = pd.Timestamp(DEMO_START, tz="UTC"), pd.Timestamp(DEMO_END, tz="UTC")
    reached = {}
    for user, ev in e[e["created_at"] >= lo].groupby("user_id"):
        best = 0
        for t0 in ev.loc[ev["created_at"] < hi, "created_at"]:
            inside = ev[(ev["created_at"] >= t0) & (ev["created_at"] <= t0 + window)]
            best = max(best, inside["event_type"].nunique())
        if best:
            reached[user] = best
    expected = [sum(k >= i for k in reached.values()) for i in (1, 2, 3)]
    got = funnel(wb, start=DEMO_START, end=DEMO_END, steps=steps, window="40d", order="any")
    assert got["users"].tolist() == expected and expected[2] > 0
