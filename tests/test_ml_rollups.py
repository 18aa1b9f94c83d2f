"""Model performance and latency histograms from the prompt-output rollups: the rollup forms of
``queries/rollups/ml_*.sql`` equal their row-level queries (demo data, hand-made edge cases
worked by hand, random data), and the public functions read them exactly when they may."""

from __future__ import annotations

import datetime as dt
import math
import re
import shutil
import statistics
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auterity_lab import ml, rollups
from auterity_lab.errors import QueryError
from auterity_lab.metrics import _DAILY_ROLLUPS, metric_series
from auterity_lab.ml._rollup_forms import FORM_ROLLUPS
from auterity_lab.warehouse import Workbench

from .builders import build_data_dir
from .test_rollups import _add_row, _assert_same_answer

U1, U2, U3 = (str(uuid.UUID(int=i)) for i in (1, 2, 3))
_NO_FILTERS: dict[str, Any] = {"model": None, "model_version": None, "prompt_version": None}


# every form over the prompt-output rollups -> the rollups it reads
_ON: dict[str, tuple[str, ...]] = {
    **FORM_ROLLUPS,
    **{n: rollups.QUERY_ROLLUPS[n] for n in ("overview_kpis_neuroweaver",
                                             "overview_daily_neuroweaver")},
    "metric_neuroweaver": _DAILY_ROLLUPS["metric_neuroweaver"],
}  # fmt: skip
_BASE: dict[str, dict[str, Any]] = {
    "ml_model_performance": _NO_FILTERS,
    "ml_latency_histogram": _NO_FILTERS,
    "metric_neuroweaver": {"grain": "day"},
}


def _params(name: str, start: str, end: str, extra: dict[str, Any]) -> dict[str, Any]:
    return {"start": start, "end": end, **_BASE.get(name, {}), **extra}


def _form_and_rows(wb: Workbench, name: str, **params: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    for rollup in _ON[name]:  # attaches them on first use
        assert rollups.usable(wb, rollup, start=params["start"], end=params["end"]), rollup
    with wb.no_cache():
        got, want = rollups.query(wb, name, **params), wb.query(name, **params)
    for col in [c for c in want.columns if re.fullmatch(r".*_p\d\d(_ms|_latency)?", c)]:
        # the percentiles interpolate exactly as quantile_cont: the same doubles
        pd.testing.assert_series_equal(got[col], want[col], check_exact=True, obj=col)
    return got, want


# the forms and parameter sets the AI/ML tab and the suggestions use
_FORM_CASES: list[tuple[str, dict[str, Any]]] = [
    ("ml_model_performance", {}),
    ("ml_model_performance", {"model": "gpt"}),
    ("ml_model_performance", {"model_version": "v1"}),
    ("ml_latency_histogram", {"by": "model_id"}),
    ("ml_latency_histogram", {"by": "model_version"}),
    ("ml_latency_histogram", {"by": "model_version", "model": "gpt"}),
    ("overview_kpis_neuroweaver", {}),
    ("overview_daily_neuroweaver", {}),
    ("metric_neuroweaver", {}),
]


def test_every_ml_form_declares_its_query() -> None:
    from auterity_lab.queries import load_query, parse_query, queries_root
    from auterity_lab.security import RAW_TEXT_QUERIES, ROW_LEVEL_QUERIES

    for name, on in FORM_ROLLUPS.items():
        assert set(on) <= set(rollups.ROLLUPS), name
        text = (queries_root() / "rollups" / f"{name}.sql").read_text(encoding="utf-8")
        form, rows = parse_query(name, text), load_query(name)
        assert [(p.name, p.type, p.default) for p in form.params] == [
            (p.name, p.type, p.default) for p in rows.params
        ], name
        assert form.grain == rows.grain, name
        assert name not in ROW_LEVEL_QUERIES | RAW_TEXT_QUERIES, name


# ----------------------------------------------------------------------------- demo data
@pytest.mark.parametrize(
    ("tenant", "start", "end"),
    [
        ("acme", "2026-09-06", "2026-11-01"),  # the dashboard's default eight weeks
        ("globex", "2026-07-01", "2026-11-02"),  # the whole history and past the last day
        ("initech", "2026-10-31", "2026-11-01"),  # one day
    ],
)
def test_rollup_forms_equal_the_row_queries_on_the_demo(
    demo_rolled: Path, tenant: str, start: str, end: str
) -> None:
    with Workbench.open(demo_rolled, tenant=tenant) as wb:
        models = wb.sql(  # the busiest model version of the range
            "SELECT model_id, model_version FROM prompt_outputs "
            "WHERE created_at >= $start AND created_at < $end "
            "GROUP BY ALL ORDER BY count(*) DESC, model_id, model_version LIMIT 1",
            start=start, end=end,
        )  # fmt: skip
        for name, extra in _FORM_CASES:
            if "model" in extra:
                extra = {**extra, "model": models["model_id"].iloc[0]}
            if "model_version" in extra:
                extra = {**extra, "model_version": models["model_version"].iloc[0]}
            got, want = _form_and_rows(wb, name, **_params(name, start, end, extra))
            assert len(want) > 0, (name, extra)
            _assert_same_answer(got, want, f"{name} {extra} {tenant} {start}..{end}")


# ------------------------------------------------------------------------ hand-made edges
def _out(user: str | None, at: str, model: str | None, version: str | None, ms: int | None,
         status: str = "success", rating: float | None = None, tokens: int | None = None,
         inp: int | None = None, outp: int | None = None, prompt: str = "p1",
         tenant: str = "t1") -> dict:  # fmt: skip
    return {"tenant_id": tenant, "user_id": user, "created_at": at, "model_id": model,
            "model_version": version, "prompt_version": prompt, "response_time_ms": ms,
            "status": status, "user_rating": rating, "tokens_used": tokens,
            "input_tokens": inp, "output_tokens": outp}  # fmt: skip


EDGE_OUTPUTS = [
    _out(U1, "2026-03-01 10:00:00", "gpt", "v1", 100, rating=5.0, tokens=30, inp=10, outp=20),
    _out(U1, "2026-03-02 09:00:00", "gpt", "v1", 200, rating=4.25, tokens=30, outp=20),  # in 10
    _out(U2, "2026-03-02 10:00:00", "gpt", "v1", 300, outp=7),  # input unknown (no total)
    _out(U2, "2026-03-02 11:00:00", "gpt", "v1", 400, "error", rating=1.0),  # no latency
    _out(None, "2026-03-02 12:00:00", "gpt", "v1", 400),  # a latency, nobody's
    _out(U1, "2026-03-03 00:00:00", "gpt", "v1", None),  # a request without a latency
    _out(U3, "2026-03-01 08:00:00", "gpt", None, 50, "error"),  # a version of errors only
    _out(U1, "2026-03-02 13:00:00", None, "x", 70, rating=2.5),  # no model
    _out(U1, "2026-03-01 14:00:00", "claude", "v2", 10, rating=3.5, prompt="p2"),
    _out(U1, "2026-03-02 10:00:00", "gpt", "v1", 999, tenant="t2"),  # another tenant
]


@pytest.fixture(scope="module")
def edge_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("ml_edges") / "edges"
    build_data_dir(d, {"prompt_outputs": EDGE_OUTPUTS})
    rollups.build_rollups(d, names=list(rollups.ROLLUPS))
    return d


@pytest.fixture
def edges(edge_dir: Path) -> Iterator[Workbench]:
    with Workbench.open(edge_dir, tenant="t1") as wb:
        yield wb


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("2026-03-01", "2026-03-04"),
        ("2026-03-02", "2026-03-03"),
        ("2026-03-02", "2026-03-10"),
        ("2026-03-05", "2026-03-06"),
    ],  # fmt: skip
)
def test_rollup_forms_equal_the_row_queries_on_edge_cases(
    edges: Workbench, start: str, end: str
) -> None:
    for name, extra in _FORM_CASES:
        got, want = _form_and_rows(edges, name, **_params(name, start, end, extra))
        _assert_same_answer(got, want, f"{name} {extra} {start}..{end}")


def test_the_edge_cases_worked_by_hand(edges: Workbench) -> None:
    perf = ml.model_performance(edges, start="2026-03-01", end="2026-03-04")
    keys = [tuple(k if isinstance(k, str) else None for k in pair)
            for pair in zip(perf["model_id"], perf["model_version"], strict=True)]  # fmt: skip
    assert keys == [("claude", "v2"), ("gpt", "v1"), ("gpt", None), (None, "x")]
    gpt = perf.iloc[1]
    assert (gpt["requests"], gpt["errors"], gpt["users"]) == (6, 1, 2)  # U1, U2; not NULL
    # latencies of the requests that did not error: 100, 200, 300, 400 (n = 4)
    # p50: h = 1.5 -> 200 + 0.5 * 100; p95: h = 2.85 -> 300 + 0.85 * 100; p99: h = 2.97
    assert gpt["latency_p50_ms"] == 250
    assert gpt["latency_p95_ms"] == pytest.approx(385, abs=1e-9)
    assert gpt["latency_p99_ms"] == pytest.approx(397, abs=1e-9)
    assert gpt["latency_mean_ms"] == 250
    assert (gpt["input_tokens"], gpt["output_tokens"]) == (20, 47)  # 10 + (30 - 20); 20+20+7
    assert gpt["mean_input_tokens"] == 10  # of two known inputs
    assert gpt["rated"] == 3
    assert gpt["mean_rating"] == pytest.approx((5 + 4.25 + 1) / 3, rel=1e-12)
    assert gpt["rating_sd"] == pytest.approx(statistics.stdev([5, 4.25, 1]), rel=1e-12)
    assert (gpt["high_rated"], gpt["high_rated_share"]) == (2, 2 / 3)
    assert gpt["first_seen"] == pd.Timestamp("2026-03-01 10:00", tz="UTC")
    assert gpt["last_seen"] == pd.Timestamp("2026-03-03 00:00", tz="UTC")
    errors_only = perf.iloc[2]
    assert errors_only["error_rate"] == 1
    assert errors_only[["latency_p50_ms", "latency_mean_ms", "mean_rating"]].isna().all()
    claude = perf.iloc[0]
    assert claude["rating_sd"] != claude["rating_sd"]  # one rating: no sample sd (NaN)
    histogram = ml.compare_models(edges, start="2026-03-01", end="2026-03-04", by="model_id")
    assert len(histogram) > 0
    daily = rollups.run(edges, "overview_daily_neuroweaver", start="2026-03-01", end="2026-03-04")
    assert daily["ai_requests"].tolist() == [3, 5, 1]
    # the Overview's p95 counts errors too: 03-01 has 10, 50 (an error) and 100 ms,
    # h = 2 * 0.95 = 1.9 -> 50 + 0.9 * 50; 03-03 has no latency at all
    assert daily["ai_p95_latency"].iloc[0] == pytest.approx(95, abs=1e-9)
    assert math.isnan(daily["ai_p95_latency"].iloc[2])
    assert daily["ai_error_rate"].tolist()[::2] == [1 / 3, 0]


def test_a_form_asked_for_a_prompt_version_is_an_error(edges: Workbench) -> None:
    days = {"start": "2026-03-01", "end": "2026-03-04"}
    assert set(rollups.attach_rollups(edges)) == set(rollups.ROLLUPS)
    for name in FORM_ROLLUPS:
        with pytest.raises(QueryError, match="has no prompt versions"):
            rollups.query(edges, name, **days, **{**_NO_FILTERS, "prompt_version": "p2"})
    with pytest.raises(QueryError, match="has no prompt versions"):
        rollups.query(edges, "ml_latency_histogram", by="prompt_version", **days, **_NO_FILTERS)


# ------------------------------------------------------------------------- path selection
def test_the_rollups_answer_exactly_when_they_may(
    edge_dir: Path, tmp_path: Path, forms_run: list[str]
) -> None:
    bare = tmp_path / "bare"  # the same extracts without rollups: the rows answer
    shutil.copytree(edge_dir, bare, ignore=shutil.ignore_patterns("rollups", ".*lock*"))
    days = {"start": "2026-03-01", "end": "2026-03-04"}
    hours = {"start": "2026-03-01 09:00:00", "end": "2026-03-04"}
    calls: list[tuple[str, Any, list[str]]] = [
        ("performance", lambda wb: ml.model_performance(wb, **days), ["ml_model_performance"]),
        ("performance hours", lambda wb: ml.model_performance(wb, **hours), []),
        ("performance of a model", lambda wb: ml.model_performance(wb, model="gpt", **days),
         ["ml_model_performance"]),
        ("performance of a prompt",
         lambda wb: ml.model_performance(wb, prompt_version="p2", **days), []),
        ("compare models", lambda wb: ml.compare_models(wb, by="model_version", **days),
         ["ml_latency_histogram"]),
        ("compare prompts", lambda wb: ml.compare_models(wb, by="prompt_version", **days), []),
        ("AI metrics", lambda wb: metric_series(wb, metrics=["ai_p95_latency"], **days),
         ["metric_neuroweaver"]),
        ("AI metrics hourly",
         lambda wb: metric_series(wb, metrics=["ai_p95_latency"], grain="hour", **days), []),
    ]  # fmt: skip
    with (
        Workbench.open(edge_dir, tenant="t1") as rolled,
        Workbench.open(bare, tenant="t1") as rows,
        rolled.no_cache(),
        rows.no_cache(),
    ):
        for what, call, forms in calls:
            forms_run.clear()
            got = call(rolled)
            assert forms_run == forms, what
            forms_run.clear()
            want = call(rows)
            assert not forms_run, what
            _assert_same_answer(got, want, what)


def test_incremental_rebuild_equals_a_full_rebuild(edge_dir: Path, tmp_path: Path) -> None:
    d = tmp_path / "inc"
    shutil.copytree(edge_dir, d, ignore=shutil.ignore_patterns(".*lock*"))
    names = ["model_days", "model_user_days", "model_latency_days"]
    _add_row(d, "prompt_outputs", "2026-03-02",  # a changed day ...
             {"model_id": "'gpt'", "model_version": "'v1'", "response_time_ms": "250",
              "user_id": f"'{U3}'", "created_at": "'2026-03-02 15:00:00+00'"})  # fmt: skip
    _add_row(d, "prompt_outputs", "2026-03-07",  # ... and a new one
             {"model_id": "'gpt'", "model_version": "'v1'", "response_time_ms": "5"})  # fmt: skip
    again = rollups.build_rollups(d, names=names)
    for name in names:
        assert (again[name].rebuilt, again[name].kept) == (2, 2), name
    full = tmp_path / "full"
    shutil.copytree(d, full, ignore=shutil.ignore_patterns("rollups", ".*lock*"))
    rollups.build_rollups(full, names=names, full=True)
    days = {"start": "2026-03-01", "end": "2026-03-08"}
    with Workbench.open(d, tenant="t1") as inc, Workbench.open(full, tenant="t1") as whole:
        for name, extra in _FORM_CASES:
            params = _params(name, days["start"], days["end"], extra)
            got, want = _form_and_rows(inc, name, **params)
            _assert_same_answer(got, want, f"{name} {extra}: incremental vs rows")
            _assert_same_answer(got, _form_and_rows(whole, name, **params)[0], name)
        gpt = ml.model_performance(inc, model="gpt", model_version="v1", **{
            k: days[k] for k in ("start", "end")})  # fmt: skip
    assert (gpt["requests"].iloc[0], gpt["users"].iloc[0]) == (8, 3)  # U3's new output


# ------------------------------------------------------------------------------ property
_DAY0 = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
_OUTPUTS = st.lists(
    st.tuples(
        st.sampled_from([U1, U2, None]),
        st.integers(0, 4 * 24 * 60 - 1),  # minute of four days
        st.sampled_from(["a", "b", None]),
        st.sampled_from(["1", "2", None]),
        st.one_of(  # few latencies (ties, interpolation) or huge ones (rounding)
            st.none(), st.integers(0, 60), st.integers(0, 2**31 - 1)
        ),
        st.sampled_from(["success", "success", "error", "timeout"]),
        st.sampled_from([None, 1.0, 2.5, 4.0, 4.75, 5.0]),
        st.one_of(st.none(), st.integers(0, 100)),
        st.one_of(st.none(), st.integers(0, 50)),
    ),
    max_size=40,
)


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(outputs=_OUTPUTS, lo=st.integers(0, 3), days=st.integers(1, 3))
def test_property_rollup_forms_equal_the_row_queries(
    tmp_path_factory: pytest.TempPathFactory, outputs: list, lo: int, days: int
) -> None:
    d = tmp_path_factory.mktemp("prop_ml")
    at = lambda minutes: (_DAY0 + dt.timedelta(minutes=minutes)).isoformat()  # noqa: E731
    rows = [_out(U1, at(-3 * 24 * 60), "a", "1", 5)] + [  # before every range: t1 has data
        _out(user, at(m), model, version, ms, status, rating, tokens, inp)
        for user, m, model, version, ms, status, rating, tokens, inp in outputs
    ]
    build_data_dir(d, {"prompt_outputs": rows})
    rollups.build_rollups(d, names=["model_days", "model_user_days", "model_latency_days"])
    start = (_DAY0 + dt.timedelta(days=lo)).date().isoformat()
    end = (_DAY0 + dt.timedelta(days=lo + days)).date().isoformat()
    with Workbench.open(d, tenant="t1") as wb:
        for name, extra in _FORM_CASES:
            got, want = _form_and_rows(wb, name, **_params(name, start, end, extra))
            _assert_same_answer(got, want, f"{name} {extra} {start}..{end}")


# --------------------------------------------------------------- freshness and odd paths
def test_a_rebuild_after_a_query_is_read_without_a_new_extract(
    edge_dir: Path, tmp_path: Path, forms_run: list[str]
) -> None:
    """A dashboard that asked between an extract and the rollups' rebuild reads the rebuilt
    rollups on its next call, not the rows until the next extract."""
    d = tmp_path / "late"
    shutil.copytree(edge_dir, d, ignore=shutil.ignore_patterns(".*lock*"))
    days = {"start": "2026-03-01", "end": "2026-03-04"}
    with Workbench.open(d, tenant="t1") as wb, wb.no_cache():
        ml.model_performance(wb, **days)
        assert forms_run == ["ml_model_performance"]
        _add_row(d, "prompt_outputs", "2026-03-02", {"model_id": "'gpt'", "model_version": "'v1'"})
        forms_run.clear()
        stale = ml.model_performance(wb, **days)  # the extract is new, its rollups are not
        assert not forms_run
        rollups.build_rollups(d)
        rebuilt = ml.model_performance(wb, **days)
        assert forms_run == ["ml_model_performance"]
    assert stale["requests"].sum() == rebuilt["requests"].sum() == 10  # t1's 9 and the new


def test_a_stale_rollup_read_through_a_form_is_an_error(edge_dir: Path, tmp_path: Path) -> None:
    """Every form filters on the partition day: a stale view must fail there too, not answer
    an empty frame."""
    d = tmp_path / "stale"
    shutil.copytree(edge_dir, d, ignore=shutil.ignore_patterns(".*lock*"))
    _add_row(d, "prompt_outputs", "2026-03-02", {"model_id": "'gpt'", "model_version": "'v1'"})
    with Workbench.open(d, tenant="t1") as wb, wb.no_cache():
        assert not set(rollups.attach_rollups(wb)) & {"model_days", "model_latency_days"}
        for name, extra in _FORM_CASES:
            with pytest.raises(QueryError, match="is not fresh for this workbench"):
                rollups.query(wb, name, **_params(name, "2026-03-01", "2026-03-04", extra))


def test_a_data_directory_with_glob_characters_reads_the_rows(
    tmp_path: Path, forms_run: list[str]
) -> None:
    d = build_data_dir(tmp_path / "team[a]" / "data", {"prompt_outputs": EDGE_OUTPUTS})
    rollups.build_rollups(d)  # their day files cannot be registered for the cache
    days = {"start": "2026-03-01", "end": "2026-03-04"}
    with Workbench.open(d, tenant="t1") as wb, wb.no_cache():
        perf = ml.model_performance(wb, **days)
    assert not forms_run
    assert perf["requests"].sum() == 9  # t1's outputs


def test_percentiles_round_as_quantile_cont_does(tmp_path: Path) -> None:
    """lo + d (hi - lo) and lo (1 - d) + hi d differ in the last bit here; quantile_cont
    computes the second, and so must the forms (p95: h = 2.85 between the two largest)."""
    times = [1, 2, 271041745, 818798320]
    d = build_data_dir(tmp_path / "d", {"prompt_outputs": [
        _out(U1, f"2026-03-01 10:0{i}:00", "big", "v1", ms) for i, ms in enumerate(times)
    ]})  # fmt: skip
    rollups.build_rollups(d)
    with Workbench.open(d, tenant="t1") as wb:
        params = _params("ml_model_performance", "2026-03-01", "2026-03-02", {})
        got, want = _form_and_rows(wb, "ml_model_performance", **params)
    lo, hi, h = 271041745, 818798320, 3 * 0.95
    weight = h - math.floor(h)
    assert lo * (1 - weight) + hi * weight != lo + weight * (hi - lo)  # the case tells them apart
    assert want["latency_p95_ms"].iloc[0] == lo * (1 - weight) + hi * weight
    assert got["latency_p95_ms"].iloc[0] == want["latency_p95_ms"].iloc[0]
