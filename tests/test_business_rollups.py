"""The Business tab from rollups: the rollup forms of ``queries/rollups/business_*.sql`` equal
their row-level queries (demo data, hand-made edge cases, random data), the public functions
read them exactly when they may, and the KPIs' one stickiness call equals two."""

from __future__ import annotations

import datetime as dt
import math
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auterity_lab import business, rollups
from auterity_lab.periods import DateRange
from auterity_lab.warehouse import Workbench

from .builders import build_data_dir
from .test_rollups import _assert_same_answer

U1, U2, U3, ORPHAN = (str(uuid.UUID(int=i)) for i in (1, 2, 3, 99))
_SCOPE: dict[str, Any] = {
    "breakdown": None,
    "device": None,
    "country": None,
    "plan": None,
    "channel": None,
}


def _form_and_rows(wb: Workbench, name: str, **params: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    for rollup in ("money_events", "user_day_activity"):  # attaches them on first use
        assert rollups.usable(wb, rollup, start=params["start"], end=params["end"]), rollup
    with wb.no_cache():
        return rollups.query(wb, name, **params), wb.query(name, **params)


# the rollup forms and parameter sets the Business tab and its callers use
_FORM_CASES: list[tuple[str, dict[str, Any]]] = [
    ("business_revenue", {"interval": "range"}),
    ("business_revenue", {"interval": "week"}),
    ("business_revenue", {"interval": "day", "breakdown": "device"}),
    ("business_revenue", {"interval": "month", "country": ["DE", "US"], "plan": ["pro"]}),
    ("business_mrr", {"interval": "range"}),
    ("business_mrr", {"interval": "month", "breakdown": "plan"}),
    ("business_mrr", {"interval": "week", "subscribe_event": "payment"}),
    ("business_user_activity", {"interval": "range"}),
    ("business_user_activity", {"interval": "week"}),
    ("business_user_activity", {"interval": "day", "breakdown": "device"}),  # split medians
    ("business_user_activity", {"interval": "month", "channel": ["organic"]}),
    ("business_retention", {"interval": "week"}),
    ("business_retention", {"interval": "day", "mode": "recurring", "unbounded": True}),
    ("business_retention", {"interval": "month", "periods": 1, "breakdown": "plan"}),
]


def _params(name: str, start: str, end: str, extra: dict[str, Any]) -> dict[str, Any]:
    params: dict[str, Any] = {"start": start, "end": end, **_SCOPE, **extra}
    if name == "business_retention":
        params = {"mode": "first_time", "cohort_event": "$session", "return_event": "$session",
                  "periods": None, "unbounded": False, **params}  # fmt: skip
    return params


_FORMS = ("business_revenue", "business_mrr", "business_user_activity", "business_retention")


def test_every_business_form_declares_its_query_and_shares_its_blocks() -> None:
    import re

    from auterity_lab.queries import load_query, parse_query, queries_root
    from auterity_lab.security import RAW_TEXT_QUERIES, ROW_LEVEL_QUERIES

    for name in _FORMS:
        text = (queries_root() / "rollups" / f"{name}.sql").read_text(encoding="utf-8")
        form, rows = parse_query(name, text), load_query(name)
        same = [(p.name, p.type, p.default) for p in form.params]
        assert same == [(p.name, p.type, p.default) for p in rows.params], name
        assert name not in ROW_LEVEL_QUERIES | RAW_TEXT_QUERIES, name  # a viewer reads forms
        for block in ("scope", "periods"):  # the same users and buckets as the rows
            pattern = rf"-- {block}:begin.*?-- {block}:end"
            assert re.findall(pattern, form.sql, re.S) == re.findall(pattern, rows.sql, re.S)


# ------------------------------------------------------------------------------ demo data
@pytest.mark.parametrize(
    ("tenant", "start", "end"),
    [
        ("acme", "2026-09-06", "2026-11-01"),  # the dashboard's default eight weeks
        ("globex", "2026-07-01", "2026-11-02"),  # the whole history and past the last day
    ],
)
def test_rollup_forms_equal_the_row_queries_on_the_demo(
    demo_rolled: Path, tenant: str, start: str, end: str
) -> None:
    with Workbench.open(demo_rolled, tenant=tenant) as wb:
        for name in ("money_events", "user_day_activity"):
            assert rollups.usable(wb, name, start=start, end=end)
        for name, extra in _FORM_CASES:
            got, want = _form_and_rows(wb, name, **_params(name, start, end, extra))
            assert len(want) > 0, (name, extra)
            _assert_same_answer(got, want, f"{name} {extra} {tenant} {start}..{end}")


def test_public_functions_give_the_same_frames_with_and_without_rollups(
    demo_dir: Path, demo_rolled: Path
) -> None:
    kw = {"start": "2026-09-06", "end": "2026-11-01"}
    with (
        Workbench.open(demo_dir, tenant="acme") as rows,
        Workbench.open(demo_rolled, tenant="acme") as rolled,
        rows.no_cache(),
        rolled.no_cache(),
    ):
        assert not rollups.usable(rows, "money_events", **kw)  # never built there
        calls = {
            "business_metrics": lambda wb: business.business_metrics(wb, **kw),
            "segment_kpis": lambda wb: business.segment_kpis(wb, by="device", **kw),
            "revenue": lambda wb: business.revenue(wb, interval="week", **kw),
            "mrr": lambda wb: business.mrr(wb, interval="month", **kw),
            "user_activity": lambda wb: business.user_activity(wb, interval="week", **kw),
            "retention": lambda wb: business.retention(wb, interval="week", **kw),
        }
        for what, call in calls.items():
            _assert_same_answer(call(rolled), call(rows), what)


# ------------------------------------------------------------------------ hand-made edges
def _session(user: str | None, at: str, duration: int | None, pages: int | None = 1,
             tenant: str = "t1") -> dict:  # fmt: skip
    return {"tenant_id": tenant, "user_id": user, "start_time": at, "duration": duration,
            "page_views": pages}  # fmt: skip


def _event(user: str | None, at: str, kind: str, revenue: float | None = None,
           tenant: str = "t1") -> dict:  # fmt: skip
    return {"tenant_id": tenant, "user_id": user, "created_at": at, "event_type": kind,
            "revenue": revenue}  # fmt: skip


EDGE_USERS = [
    {"id": U1, "tenant_id": "t1", "created_at": "2026-02-20 10:00:00", "device": "mobile",
     "country": "DE", "plan": "pro", "acquisition_channel": "organic"},
    {"id": U2, "tenant_id": "t1", "created_at": "2026-03-02 23:00:00", "device": "desktop",
     "country": "US", "plan": "free"},
    {"id": U3, "tenant_id": "t2", "created_at": "2026-03-01 00:00:00", "device": "mobile"},
]  # fmt: skip
EDGE_SESSIONS = [
    _session(U1, "2026-02-25 08:00:00", 50),  # before the ranges: U1's first session ever
    _session(U1, "2026-03-02 00:00:00", 300, 3),  # on a bound exactly
    _session(U1, "2026-03-03 23:59:59", None, None),  # no duration, no page views
    _session(U2, "2026-03-02 23:30:00", 30),
    _session(U2, "2026-03-09 12:00:00", 70, 2),
    _session(None, "2026-03-04 12:00:00", 5000),  # no user: a session, not a user's
    _session(ORPHAN, "2026-03-05 12:00:00", 4000),  # a user who is not in users
    _session(U3, "2026-03-03 09:00:00", 11, tenant="t2"),  # another tenant
]
EDGE_EVENTS = [
    _event(U1, "2026-02-26 09:00:00", "subscribe", 20),  # paid before the ranges
    _event(U1, "2026-03-02 00:00:00", "payment", 25),  # expansion, on a bound
    _event(U1, "2026-03-03 10:00:00", "refund", -25),  # negative revenue
    _event(U1, "2026-03-04 10:00:00", "cancel"),  # churn
    _event(U1, "2026-03-09 10:00:00", "subscribe", 10),  # reactivation
    _event(U2, "2026-03-03 10:00:00", "payment", 0),  # zero revenue: no payer, no transaction
    _event(U2, "2026-03-05 10:00:00", "subscribe", 40),  # U2's first positive revenue
    _event(U2, "2026-03-06 10:00:00", "churn"),  # a cancel under another name
    _event(U2, "2026-03-07 10:00:00", "feature_use"),
    _event(ORPHAN, "2026-03-05 12:00:00", "payment", 99),  # not a user: never counted
    _event(U3, "2026-03-03 10:00:00", "subscribe", 7, tenant="t2"),
]


@pytest.fixture(scope="module")
def edge_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("business_edges") / "edges"
    build_data_dir(d, {"users": EDGE_USERS, "user_sessions": EDGE_SESSIONS,
                       "events": EDGE_EVENTS})  # fmt: skip
    rollups.build_rollups(d)
    return d


@pytest.fixture
def edges(edge_dir: Path) -> Iterator[Workbench]:
    with Workbench.open(edge_dir, tenant="t1") as wb:
        yield wb


def test_money_events_holds_the_revenue_rows_and_the_cancels(edges: Workbench) -> None:
    assert "money_events" in rollups.attach_rollups(edges)
    got = edges.sql(
        "SELECT event_type, CAST(revenue AS DOUBLE) AS revenue, date FROM money_events "
        "ORDER BY created_at, revenue"
    )
    assert got["event_type"].tolist() == [
        "subscribe", "payment", "refund", "payment", "cancel", "subscribe", "payment", "subscribe",
    ]  # fmt: skip
    assert got["revenue"].fillna(-1).tolist() == [20, 25, -25, 0, -1, 40, 99, 10]
    assert str(got["date"].iloc[1])[:10] == "2026-03-02"  # the UTC day of the partition
    assert "churn" not in got["event_type"].tolist()  # not kept: mrr reads the rows for it


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("2026-03-02", "2026-03-10"),
        ("2026-02-23", "2026-03-16"),  # from the very first row
        ("2026-03-03", "2026-03-04"),  # one day
        ("2026-04-01", "2026-04-15"),  # no rows at all
    ],
)
def test_rollup_forms_equal_the_row_queries_on_edge_cases(
    edges: Workbench, start: str, end: str
) -> None:
    for name, extra in _FORM_CASES:
        got, want = _form_and_rows(edges, name, **_params(name, start, end, extra))
        _assert_same_answer(got, want, f"{name} {extra} {start}..{end}")


def test_the_edge_cases_worked_by_hand(edges: Workbench) -> None:
    kw = {"start": "2026-03-02", "end": "2026-03-10", "interval": "range"}
    activity = business.user_activity(edges, **kw).iloc[0]
    # U1's two and U2's two sessions; the NULL-user and the orphan sessions are nobody's
    assert (activity["active_users"], activity["sessions"]) == (2, 4)
    assert activity["median_session_duration"] == 70  # of 300, 30, 70 (one duration unknown)
    revenue = business.revenue(edges, **kw).iloc[0]
    assert revenue["revenue"] == 25 - 25 + 0 + 40 + 10
    assert revenue["transactions"] == 4  # the zero payment is no transaction
    assert (revenue["paying_users"], revenue["new_paying_users"]) == (2, 1)  # U2 is new
    mrr = business.mrr(edges, **kw).iloc[0]
    # U1: 20 -> 25 (expansion) -> 0 (cancel) -> 10 (reactivation); U2: 0 -> 40 (new)
    assert (mrr["opening_mrr"], mrr["closing_mrr"]) == (20, 50)
    assert (mrr["expansion_mrr"], mrr["churned_mrr"], mrr["reactivation_mrr"]) == (5, 25, 10)
    renamed = business.mrr(edges, cancel_event="churn", **kw).iloc[0]
    # no "cancel" under that name: U1's 25 -> 10 is a contraction; U2's "churn" ends its 40
    assert (renamed["closing_mrr"], renamed["contraction_mrr"]) == (10, 15)
    assert renamed["churned_mrr"] == 40


# ------------------------------------------------------------------------- path selection
def test_the_rollups_answer_exactly_when_they_may(
    edge_dir: Path, tmp_path: Path, forms_run: list[str]
) -> None:
    bare = tmp_path / "bare"  # the same extracts without rollups: the rows answer
    shutil.copytree(edge_dir, bare, ignore=shutil.ignore_patterns("rollups", ".*lock*"))
    days = {"start": "2026-03-02", "end": "2026-03-10"}
    hours = {"start": "2026-03-02 09:00:00", "end": "2026-03-10"}
    calls: list[tuple[str, Any, bool]] = [
        ("revenue", lambda wb: business.revenue(wb, **days), True),
        ("revenue hours", lambda wb: business.revenue(wb, **hours), False),
        ("mrr", lambda wb: business.mrr(wb, **days), True),
        ("mrr churn", lambda wb: business.mrr(wb, cancel_event="churn", **days), False),
        ("activity", lambda wb: business.user_activity(wb, **days), True),
        ("activity split", lambda wb: business.user_activity(wb, breakdown="plan", **days), False),
        ("activity filtered", lambda wb: business.user_activity(wb, device="mobile", **days),
         False),
        ("retention", lambda wb: business.retention(wb, **days), True),
        ("retention events", lambda wb: business.retention(wb, return_event="payment", **days),
         False),
        ("retention any", lambda wb: business.retention(wb, cohort_event=None, **days), False),
    ]  # fmt: skip
    with (
        Workbench.open(edge_dir, tenant="t1") as rolled,
        Workbench.open(bare, tenant="t1") as rows,
        rolled.no_cache(),
        rows.no_cache(),
    ):
        for what, call, on_rollup in calls:
            forms_run.clear()
            got = call(rolled)
            assert bool(forms_run) == on_rollup, what
            forms_run.clear()
            want = call(rows)
            assert not forms_run, what
            _assert_same_answer(got, want, what)


def test_a_form_asked_for_another_event_is_an_error(edges: Workbench) -> None:
    params = _params("business_retention", "2026-03-02", "2026-03-10", {"interval": "week"})
    assert rollups.usable(edges, "user_day_activity", start=params["start"], end=params["end"])
    with pytest.raises(Exception, match="session cohorts and returns only"):
        rollups.query(edges, "business_retention", **{**params, "return_event": "payment"})


# --------------------------------------------------------------------- KPIs: stickiness
def _separately(wb: Workbench, start: str, end: str, **filters: Any) -> tuple[float, float]:
    """The stickiness KPI of the range and of the one before it, one stickiness call each."""
    rng = DateRange.of(start, end)
    return tuple(  # type: ignore[return-value]
        pd.to_numeric(business.stickiness(wb, **r.params(), **filters)["dau_mau"]).mean()
        for r in (rng, rng.previous())
    )


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, rel=1e-12)


@pytest.mark.parametrize(
    ("tenant", "start", "end", "filters"),
    [
        ("acme", "2026-09-06", "2026-11-01", {}),
        ("globex", "2026-10-01", "2026-10-15", {"device": "mobile"}),
        ("initech", "2026-07-02", "2026-07-09", {}),  # nothing before: previous is NaN
        ("acme", "2026-10-01 12:00:00", "2026-10-15", {}),  # not whole days: two calls
    ],
)
def test_the_kpis_stickiness_equals_two_separate_calls(
    demo_dir: Path, tenant: str, start: str, end: str, filters: dict[str, Any]
) -> None:
    with Workbench.open(demo_dir, tenant=tenant) as wb, wb.no_cache():
        kpis = business.business_metrics(wb, start=start, end=end, **filters)
        row = kpis.set_index("metric").loc["stickiness"]
        now, before = _separately(wb, start, end, **filters)
    assert _same(row["value"], now) and _same(row["previous"], before), (row, now, before)


def test_the_kpis_stickiness_of_a_previous_period_without_users(edges: Workbench) -> None:
    # U1's first session (02-25) opens the range: nobody was active in the 30 days before
    kpis = business.business_metrics(edges, start="2026-02-25", end="2026-02-27")
    row = kpis.set_index("metric").loc["stickiness"]
    now, before = _separately(edges, "2026-02-25", "2026-02-27")
    assert row["value"] == now == pytest.approx((1 / 1 + 0 / 1) / 2)  # DAU/MAU of 02-25, 02-26
    assert math.isnan(row["previous"]) and math.isnan(before)


# ------------------------------------------------------------------------------ property
_DAY0 = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
_USERS = [U1, U2, ORPHAN, None]
_SESSIONS = st.lists(
    st.tuples(
        st.sampled_from(_USERS),
        st.integers(min_value=0, max_value=6 * 24 * 60 - 1),  # minute within 6 days
        st.one_of(st.none(), st.integers(min_value=0, max_value=500)),
        st.one_of(st.none(), st.integers(min_value=0, max_value=3)),
    ),
    max_size=20,
)
_EVENTS = st.lists(
    st.tuples(
        st.sampled_from(_USERS),
        st.integers(min_value=0, max_value=6 * 24 * 60 - 1),
        st.sampled_from(["subscribe", "payment", "cancel", "feature_use", "refund"]),
        st.one_of(st.none(), st.sampled_from([-10.0, 0.0, 9.99, 20.0, 50.0])),
    ),
    max_size=20,
)


_PROPERTY_CASES = [
    ("business_revenue", {"interval": "day"}),
    ("business_mrr", {"interval": "day", "breakdown": "device"}),
    ("business_user_activity", {"interval": "range"}),
    ("business_user_activity", {"interval": "day", "breakdown": "device"}),
    ("business_retention", {"interval": "day", "mode": "recurring"}),
    ("business_retention", {"interval": "day"}),
]


@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(sessions=_SESSIONS, events=_EVENTS, lo=st.integers(0, 4), days=st.integers(1, 3))
def test_property_rollup_forms_equal_the_row_queries(
    tmp_path_factory: pytest.TempPathFactory, sessions: list, events: list, lo: int, days: int
) -> None:
    d = tmp_path_factory.mktemp("prop_business")
    at = lambda minutes: (_DAY0 + dt.timedelta(minutes=minutes)).isoformat()  # noqa: E731
    users = [{"id": u, "tenant_id": "t1", "created_at": "2026-03-02 12:00:00",
              "device": device} for u, device in ((U1, "mobile"), (U2, "desktop"))]  # fmt: skip
    build_data_dir(
        d,
        {
            "users": users,
            "user_sessions": [_session(u, at(m), dur, p) for u, m, dur, p in sessions],
            "events": [_event(u, at(m), kind, rev) for u, m, kind, rev in events],
        },
    )
    rollups.build_rollups(d)
    start = (_DAY0 + dt.timedelta(days=lo)).date().isoformat()
    end = (_DAY0 + dt.timedelta(days=lo + days)).date().isoformat()
    with Workbench.open(d, tenant="t1") as wb:
        for name, extra in _PROPERTY_CASES:
            got, want = _form_and_rows(wb, name, **_params(name, start, end, extra))
            _assert_same_answer(got, want, f"{name} {extra} {start}..{end}")
