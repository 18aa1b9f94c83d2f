"""What ``benchmarks/scale_bench.py`` measures: each step through the public API, and the pandas
way (read the Parquet extracts with pandas, filter the tenant, group in pandas) for the named
queries.

A step is one dashboard question: the spec's two views (full range and a one-month slice; our
path asks them as a user does, through :func:`auterity_lab.rollups.run`, so they are read from
their rollups when those are fresh), weekly retention cohorts, the signup → activate →
subscribe funnel, model performance with p95, workflow bottlenecks (each step's share of run
time), every cross-system correlation, and the data of each dashboard tab (every panel of
:data:`auterity_lab.dashboard.TABS`, computed as the dashboard does, with one shared
:class:`~auterity_lab.dashboard.PanelContext`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from auterity_lab.synth import DEMO_END

FULL = (DEMO_END - dt.timedelta(days=120), DEMO_END)
"""The whole demo range (120 days)."""
MONTH = (dt.date(2026, 10, 1), DEMO_END)
"""The one-month slice of the spec's views."""
TAB_RANGE = (DEMO_END - dt.timedelta(weeks=8), DEMO_END)
"""The dashboard's default range: the eight weeks up to the latest day."""
FUNNEL_WINDOW_DAYS = 30


def _utc(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


@dataclass(frozen=True)
class Step:
    """One measured question: how our path computes it, and optionally the pandas way.

    ``kind`` is ``query`` (a named query: all engines), ``analysis`` (Python statistics over
    SQL results) or ``tab`` (all panels of a dashboard tab). ``view`` names the spec's
    materialized view the step reads from on Postgres, with its ``[start, end)`` slice.
    """

    name: str
    kind: str
    run: Callable[[Any, str], Any]
    pandas: Callable[[Path, str], pd.DataFrame] | None = None
    view: str | None = None
    slice: tuple[dt.date, dt.date] | None = None


# ============================================================================ our path
def _view(name: str, days: tuple[dt.date, dt.date] | None) -> Callable[[Any, str], Any]:
    # as a user asks it (the CLI's ``query``): from the view's rollup when it is fresh
    def run(wb: Any, tenant: str) -> Any:
        from auterity_lab import rollups

        if days is None:
            return rollups.run(wb, name, start=None, end=None)
        return rollups.run(wb, name, start=_utc(days[0]), end=_utc(days[1]))

    return run


def _retention(wb: Any, tenant: str) -> Any:
    from auterity_lab import business

    return business.retention(wb, start=_utc(FULL[0]), end=_utc(FULL[1]), interval="week")


def _funnel(wb: Any, tenant: str) -> Any:
    from auterity_lab import business

    return business.funnel(
        wb,
        start=_utc(FULL[0]),
        end=_utc(FULL[1]),
        steps=("signup", "activate", "subscribe"),
        window=f"{FUNNEL_WINDOW_DAYS}d",
    )


def _model_performance(wb: Any, tenant: str) -> Any:
    from auterity_lab import ml

    return ml.model_performance(wb, start=_utc(FULL[0]), end=_utc(FULL[1]))


def _bottlenecks(wb: Any, tenant: str) -> Any:
    from auterity_lab import workflow

    return workflow.step_breakdown(wb, start=_utc(FULL[0]), end=_utc(FULL[1]))


def _correlations(wb: Any, tenant: str) -> Any:
    from auterity_lab.stats import correlations

    # as the dashboard's Insights tab runs it (199 bootstrap resamples), over the whole range
    return correlations(wb, start=_utc(FULL[0]), end=_utc(FULL[1]), n_boot=199, store=False)


def _tab(key: str) -> Callable[[Any, str], Any]:
    def run(wb: Any, tenant: str) -> Any:
        from auterity_lab.dashboard import TABS, Filters, PanelContext

        ctx = PanelContext(wb, Filters(tenant=tenant, start=TAB_RANGE[0], end=TAB_RANGE[1]))
        return {panel.name: panel.compute(ctx) for panel in TABS[key].panels}

    return run


# ============================================================================ the pandas way
def _read(data_dir: Path, system: str, table: str, tenant: str, columns: list[str],
          days: tuple[dt.date, dt.date] | None = None, column: str = "created_at") -> pd.DataFrame:
    filters: list[tuple[str, str, Any]] = [("tenant_id", "=", tenant)]
    if days is not None:
        filters += [(column, ">=", pd.Timestamp(days[0], tz="UTC")),
                    (column, "<", pd.Timestamp(days[1], tz="UTC"))]
    return pd.read_parquet(data_dir / "extracts" / system / table, columns=columns,
                           filters=filters)


def _pandas_daily(days: tuple[dt.date, dt.date] | None) -> Callable[[Path, str], pd.DataFrame]:
    def run(data_dir: Path, tenant: str) -> pd.DataFrame:
        df = _read(data_dir, "auterity", "user_sessions", tenant,
                   ["user_id", "created_at", "duration", "page_views", "conversion_rate"], days)
        df["day"] = df["created_at"].dt.floor("D")
        return df.groupby("day").agg(
            unique_users=("user_id", "nunique"),
            total_sessions=("user_id", "size"),
            avg_session_duration=("duration", "mean"),
            total_page_views=("page_views", "sum"),
            avg_conversion_rate=("conversion_rate", "mean"),
        ).reset_index()

    return run


def _pandas_hourly(days: tuple[dt.date, dt.date] | None) -> Callable[[Path, str], pd.DataFrame]:
    def run(data_dir: Path, tenant: str) -> pd.DataFrame:
        df = _read(data_dir, "neuroweaver", "prompt_outputs", tenant,
                   ["created_at", "model_id", "response_time_ms", "user_rating", "tokens_used"],
                   days)
        df["hour"] = df["created_at"].dt.floor("h")
        df["rating"] = df["user_rating"].astype(float)
        df["high"] = df["rating"] >= 4
        return df.groupby(["hour", "model_id"]).agg(
            request_count=("model_id", "size"),
            avg_response_time=("response_time_ms", "mean"),
            avg_rating=("rating", "mean"),
            total_tokens=("tokens_used", "sum"),
            high_rated_requests=("high", "sum"),
        ).reset_index()

    return run


def _monday(ts: pd.Series) -> pd.Series:
    day = ts.dt.floor("D")
    return day - pd.to_timedelta(day.dt.weekday, unit="D")


def _pandas_retention(data_dir: Path, tenant: str) -> pd.DataFrame:
    """First-time weekly cohorts of session starts; returned = a session in week k."""
    df = _read(data_dir, "auterity", "user_sessions", tenant, ["user_id", "created_at"])
    start, end = pd.Timestamp(FULL[0], tz="UTC"), pd.Timestamp(FULL[1], tz="UTC")
    first = df.groupby("user_id")["created_at"].min()
    first = first[(first >= start) & (first < end)]
    cohort = _monday(first).rename("cohort")
    inside = df[(df["created_at"] >= start) & (df["created_at"] < end)]
    returns = pd.DataFrame({"user_id": inside["user_id"], "week": _monday(inside["created_at"])})
    returns = returns.drop_duplicates()
    pairs = returns.merge(cohort.reset_index(), on="user_id")
    pairs["period"] = (pairs["week"] - pairs["cohort"]).dt.days // 7
    pairs = pairs[pairs["period"] >= 0]
    retained = pairs.groupby(["cohort", "period"]).size().rename("retained").reset_index()
    sizes = cohort.value_counts().rename("cohort_size").reset_index()
    out = retained.merge(sizes, on="cohort")
    out["rate"] = out["retained"] / out["cohort_size"]
    return out.sort_values(["cohort", "period"], ignore_index=True)


def _pandas_funnel(data_dir: Path, tenant: str) -> pd.DataFrame:
    """Users whose signup in the range is followed by activate, then subscribe, in 30 days."""
    window = pd.Timedelta(days=FUNNEL_WINDOW_DAYS)
    start, end = pd.Timestamp(FULL[0], tz="UTC"), pd.Timestamp(FULL[1], tz="UTC")
    df = _read(data_dir, "auterity", "events", tenant, ["user_id", "created_at", "event_type"],
               (FULL[0], FULL[1] + dt.timedelta(days=FUNNEL_WINDOW_DAYS + 1)))
    df = df[df["event_type"].isin(["signup", "activate", "subscribe"])]
    s1 = df[(df["event_type"] == "signup") & (df["created_at"] >= start)
            & (df["created_at"] < end)]
    s1 = s1.groupby("user_id")["created_at"].min().rename("t1").reset_index()
    s2 = df[df["event_type"] == "activate"].merge(s1, on="user_id")
    s2 = s2[(s2["created_at"] > s2["t1"]) & (s2["created_at"] <= s2["t1"] + window)]
    s2 = s2.groupby(["user_id", "t1"])["created_at"].min().rename("t2").reset_index()
    s3 = df[df["event_type"] == "subscribe"].merge(s2, on="user_id")
    s3 = s3[(s3["created_at"] > s3["t2"]) & (s3["created_at"] <= s3["t1"] + window)]
    users = [len(s1), len(s2), s3["user_id"].nunique()]
    out = pd.DataFrame({"step": [1, 2, 3], "event": ["signup", "activate", "subscribe"],
                        "users": users})
    out["conversion_from_first"] = out["users"] / max(users[0], 1)
    return out


def _pandas_model_performance(data_dir: Path, tenant: str) -> pd.DataFrame:
    df = _read(data_dir, "neuroweaver", "prompt_outputs", tenant,
               ["model_id", "model_version", "status", "response_time_ms", "input_tokens",
                "output_tokens", "user_id", "user_rating"], FULL)
    df["rating"] = df["user_rating"].astype(float)
    df["is_error"] = df["status"] == "error"
    ok = df[~df["is_error"]]
    by = ["model_id", "model_version"]
    latency = ok.groupby(by)["response_time_ms"].quantile([0.5, 0.95, 0.99]).unstack()
    latency.columns = ["latency_p50_ms", "latency_p95_ms", "latency_p99_ms"]
    out = df.groupby(by).agg(
        requests=("status", "size"),
        errors=("is_error", "sum"),
        input_tokens=("input_tokens", "sum"),
        output_tokens=("output_tokens", "sum"),
        users=("user_id", "nunique"),
        rated=("rating", "count"),
        mean_rating=("rating", "mean"),
        rating_sd=("rating", "std"),
    )
    out["latency_mean_ms"] = ok.groupby(by)["response_time_ms"].mean()
    return out.join(latency).reset_index()


def _pandas_bottlenecks(data_dir: Path, tenant: str) -> pd.DataFrame:
    runs = _read(data_dir, "relaycore", "workflow_runs", tenant,
                 ["id", "workflow_id", "duration_ms"], FULL)
    steps = _read(data_dir, "relaycore", "workflow_steps", tenant,
                  ["run_id", "step_index", "step_name", "status", "duration_ms"],
                  (FULL[0], FULL[1] + dt.timedelta(days=2)))
    per_workflow = runs.groupby("workflow_id").agg(runs=("id", "size"),
                                                   run_ms=("duration_ms", "sum"))
    joined = steps.merge(runs[["id", "workflow_id"]].rename(columns={"id": "run_id"}),
                         on="run_id")
    joined["failed"] = joined["status"] == "failed"
    executions = joined.groupby(["workflow_id", "step_name", "run_id", "step_index"]).agg(
        attempts=("status", "size"), exec_ms=("duration_ms", "sum"), failed=("failed", "sum"),
    ).reset_index()
    by_step = executions.groupby(["workflow_id", "step_name"])
    out = by_step.agg(
        executions=("run_id", "size"), attempts=("attempts", "sum"),
        failed_attempts=("failed", "sum"), step_ms=("exec_ms", "sum"),
        p50_ms=("exec_ms", "median"),
    )
    out["p95_ms"] = by_step["exec_ms"].quantile(0.95)
    out = out.reset_index().merge(per_workflow.reset_index(), on="workflow_id")
    out["share_of_run_time"] = out["step_ms"] / out["run_ms"]
    out["rank"] = out.groupby("workflow_id")["step_ms"].rank(ascending=False, method="first")
    out["is_bottleneck"] = out["rank"] == 1
    return out


STEPS: dict[str, Step] = {
    s.name: s
    for s in (
        Step("daily_view_full", "query", _view("daily_user_analytics", None),
             _pandas_daily(None), "daily_user_analytics", None),
        Step("daily_view_month", "query", _view("daily_user_analytics", MONTH),
             _pandas_daily(MONTH), "daily_user_analytics", MONTH),
        Step("hourly_view_full", "query", _view("hourly_ai_performance", None),
             _pandas_hourly(None), "hourly_ai_performance", None),
        Step("hourly_view_month", "query", _view("hourly_ai_performance", MONTH),
             _pandas_hourly(MONTH), "hourly_ai_performance", MONTH),
        Step("retention_weekly", "query", _retention, _pandas_retention),
        Step("funnel_3_step", "query", _funnel, _pandas_funnel),
        Step("model_performance_p95", "query", _model_performance, _pandas_model_performance),
        Step("workflow_bottlenecks", "query", _bottlenecks, _pandas_bottlenecks),
        Step("correlations_all", "analysis", _correlations),
        *(Step(f"tab_{key}", "tab", _tab(key))
          for key in ("overview", "business", "ml", "workflow", "insights")),
    )
}
"""Step name → step, in report order."""
