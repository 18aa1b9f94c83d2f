"""Workbench: the spec's views against pandas, tenant scope, parameter binding, clear errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auterity_lab.errors import (
    DataNotFoundError,
    QueryError,
    QueryNotFoundError,
    QueryParameterError,
    UnknownTenantError,
)
from auterity_lab.manifest import read_manifest, write_extract
from auterity_lab.ml.cost import attach_costs
from auterity_lab.queries import list_queries, load_query
from auterity_lab.schema import source_tables
from auterity_lab.warehouse import Workbench
from auterity_lab.workflow.sla import register_targets

from .conftest import DEMO_TENANTS

START, END = "2026-08-01", "2026-10-15"


def _raw(demo_dir: Path, table: str, tenant: str) -> pd.DataFrame:
    """A table's rows for one tenant, read with pyarrow straight from the files on disk."""
    files = sorted((demo_dir / "extracts").glob(f"*/{table}/date=*/*.parquet"))
    frame = pd.concat([pq.read_table(f).to_pandas() for f in files], ignore_index=True)
    return frame[frame["tenant_id"] == tenant].reset_index(drop=True)


def _in_range(frame: pd.DataFrame, col: str = "created_at") -> pd.DataFrame:
    lo, hi = pd.Timestamp(START, tz="UTC"), pd.Timestamp(END, tz="UTC")
    return frame[(frame[col] >= lo) & (frame[col] < hi)]


def test_daily_user_analytics_equals_pandas(wb: Workbench, demo_dir: Path) -> None:
    s = _in_range(_raw(demo_dir, "user_sessions", "acme"))
    s = s.assign(
        date=s["created_at"].dt.tz_convert("UTC").dt.date,
        cr=s["events"].map(lambda text: json.loads(text).get("conversion_rate")).astype(float),
    )
    expected = (
        s.groupby("date")
        .agg(
            unique_users=("user_id", "nunique"),
            total_sessions=("id", "size"),
            avg_session_duration=("duration", "mean"),
            total_page_views=("page_views", "sum"),
            avg_conversion_rate=("cr", "mean"),
        )
        .reset_index()
    )
    got = wb.query("daily_user_analytics", start=START, end=END)
    assert got["date"].map(pd.Timestamp.date).tolist() == expected["date"].tolist()
    for col in ("unique_users", "total_sessions", "total_page_views"):
        assert got[col].tolist() == expected[col].tolist(), col
    for col in ("avg_session_duration", "avg_conversion_rate"):
        np.testing.assert_allclose(got[col], expected[col], rtol=1e-12, err_msg=col)
    assert len(got) == 75  # every day of the range has sessions


def test_hourly_ai_performance_equals_pandas(wb: Workbench, demo_dir: Path) -> None:
    p = _in_range(_raw(demo_dir, "prompt_outputs", "acme"))
    p = p.assign(
        hour=p["created_at"].dt.floor("h"),
        rating=p["user_rating"].astype(float),
        high=(p["user_rating"].astype(float) >= 4).astype(int),
    )
    expected = (
        p.groupby(["hour", "model_id"])
        .agg(
            request_count=("id", "size"),
            avg_response_time=("response_time_ms", "mean"),
            avg_rating=("rating", "mean"),
            total_tokens=("tokens_used", "sum"),
            high_rated_requests=("high", "sum"),
        )
        .reset_index()
    )
    got = wb.query("hourly_ai_performance", start=START, end=END)
    assert len(got) == len(expected) > 100
    assert (got["hour"] == expected["hour"]).all()
    assert got["model_id"].tolist() == expected["model_id"].tolist()
    for col in ("request_count", "total_tokens", "high_rated_requests"):
        assert got[col].tolist() == expected[col].tolist(), col
    for col in ("avg_response_time", "avg_rating"):
        np.testing.assert_allclose(got[col], expected[col], rtol=1e-12, err_msg=col)


def test_views_without_range_cover_everything(wb: Workbench, demo_dir: Path) -> None:
    daily = wb.query("daily_user_analytics")
    assert daily["total_sessions"].sum() == len(_raw(demo_dir, "user_sessions", "acme"))


# ------------------------------------------------------------------------- tenant scope
@pytest.fixture(scope="module")
def single_tenant_dirs(demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """For each tenant, a data directory holding only that tenant's rows."""
    out = {}
    con = duckdb.connect()
    manifest = read_manifest(demo_dir)
    for tenant in DEMO_TENANTS:
        d = tmp_path_factory.mktemp(f"only-{tenant}")
        for tbl in source_tables():
            files = [str(demo_dir / f.path) for f in manifest.tables[tbl.qualified_name].files]
            write_extract(
                con,
                d,
                tbl,
                "SELECT * EXCLUDE (date) FROM read_parquet($files, hive_partitioning = true) "
                "WHERE tenant_id = $tenant",
                {"files": files, "tenant": tenant},
            )
        out[tenant] = d
    return out


_EXAMPLE_PARAMS = {
    "start": "2026-07-01",
    "end": "2026-11-01",
    "steps": ["signup", "activate", "subscribe"],
    "experiment_key": "prompt-v2-rollout",
    "stopwords": ["the", "a"],
    "split": "2026-10-01",
    "on": "2026-10-01",
    "deployed_at": "2026-10-01",
}


def _default_params(name: str) -> dict[str, object]:
    params = load_query(name).params
    missing = [p.name for p in params if p.required and p.name not in _EXAMPLE_PARAMS]
    assert not missing, f"add an example value for {missing} of {name}"
    return {p.name: _EXAMPLE_PARAMS[p.name] for p in params if p.name in _EXAMPLE_PARAMS}


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    tenant=st.sampled_from(DEMO_TENANTS), table=st.sampled_from([t.name for t in source_tables()])
)
def test_views_show_only_the_tenants_rows(
    demo_dir: Path, single_tenant_dirs: dict[str, Path], tenant: str, table: str
) -> None:
    with Workbench.open(demo_dir, tenant=tenant) as wb:
        tenants = wb.sql(f"SELECT DISTINCT tenant_id FROM {table}")["tenant_id"].tolist()
        rows = wb.sql(f"SELECT * EXCLUDE (date) FROM {table} ORDER BY id")
    assert set(tenants) <= {tenant}
    expected = _raw(demo_dir, table, tenant)
    assert len(rows) == len(expected)
    with Workbench.open(single_tenant_dirs[tenant], tenant=tenant) as alone:
        pd.testing.assert_frame_equal(
            rows, alone.sql(f"SELECT * EXCLUDE (date) FROM {table} ORDER BY id")
        )


@pytest.mark.parametrize(
    ("name", "tenant"),
    [(q, DEMO_TENANTS[i % len(DEMO_TENANTS)]) for i, q in enumerate(list_queries())],
)
def test_every_query_sees_only_its_tenant(
    demo_dir: Path, single_tenant_dirs: dict[str, Path], tenant: str, name: str
) -> None:
    """A query over all tenants' extracts equals the same query over that tenant's rows alone."""
    params = _default_params(name)
    with (
        Workbench.open(demo_dir, tenant=tenant) as wb,
        Workbench.open(single_tenant_dirs[tenant], tenant=tenant) as alone,
    ):
        for bench in (wb, alone):  # the relations some queries read besides the source views
            attach_costs(bench)
            register_targets(bench)
        pd.testing.assert_frame_equal(
            _canonical(wb.query(name, **params)), _canonical(alone.query(name, **params))
        )


def _canonical(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows in a fixed order (some queries define views and leave the order open)."""
    order = frame.astype(str).sort_values(list(frame.columns)).index
    return frame.loc[order].reset_index(drop=True)


# ------------------------------------------------------------------- parameters and errors
def test_injection_through_a_parameter_stays_a_literal(wb: Workbench) -> None:
    n_users = int(wb.sql("SELECT count(*) AS n FROM users")["n"][0])
    evil = "x' OR '1'='1"
    assert wb.sql("SELECT count(*) AS n FROM users WHERE country = $c", c=evil)["n"][0] == 0
    assert wb.sql("SELECT count(*) AS n FROM users WHERE tenant_id = $t", t="globex")["n"][0] == 0
    with pytest.raises(QueryParameterError, match="start"):
        wb.query("daily_user_analytics", start="2026-01-01'; DROP VIEW users; --", end=END)
    assert int(wb.sql("SELECT count(*) AS n FROM users")["n"][0]) == n_users
    with pytest.raises(UnknownTenantError):
        Workbench.open(wb.data_dir, tenant="acme' OR '1'='1")


def test_query_errors_name_the_problem(wb: Workbench) -> None:
    with pytest.raises(QueryNotFoundError, match="no query named 'daily_users'"):
        wb.query("daily_users")
    with pytest.raises(QueryNotFoundError, match="not a query name"):
        wb.query("../etc/passwd")
    with pytest.raises(QueryParameterError, match="needs parameter 'end'"):
        wb.query("overview_kpis", start=START)
    with pytest.raises(QueryParameterError, match="has no parameter 'tenant'"):
        wb.query("overview_kpis", start=START, end=END, tenant="globex")
    with pytest.raises(QueryParameterError, match="missing c"):
        wb.sql("SELECT $c AS x")
    with pytest.raises(QueryParameterError, match="not used by the SQL: d"):
        wb.sql("SELECT 1 AS x", d=1)
    with pytest.raises(QueryError, match="SQL failed for tenant 'acme'"):
        wb.sql("SELECT * FROM no_such_table")


def test_open_errors_name_the_problem(demo_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(DataNotFoundError, match="does not exist"):
        Workbench.open(tmp_path / "missing", tenant="acme")
    with pytest.raises(DataNotFoundError, match="manifest.json does not exist"):
        Workbench.open(tmp_path, tenant="acme")
    with pytest.raises(UnknownTenantError, match="known tenants: acme, globex, initech"):
        Workbench.open(demo_dir, tenant="nobody")
    broken = tmp_path / "broken"
    shutil.copytree(demo_dir, broken)
    victim = next((broken / "extracts" / "relaycore" / "workflow_runs").rglob("*.parquet"))
    victim.unlink()
    with pytest.raises(DataNotFoundError, match="relaycore.workflow_runs: the manifest lists"):
        Workbench.open(broken, tenant="acme")


def test_polars_on_request(wb: Workbench) -> None:
    frame = wb.query("overview_kpis", start=START, end=END, frame="polars")
    assert type(frame).__module__.startswith("polars")
    assert frame.columns == ["system", "metric", "value", "unit"]


def test_naive_datetimes_are_utc(wb: Workbench) -> None:
    import datetime as dt

    a = wb.query("daily_user_analytics", start=dt.datetime(2026, 9, 1), end=dt.date(2026, 9, 8))
    b = wb.query("daily_user_analytics", start="2026-09-01T00:00:00+00:00", end="2026-09-08T00:00Z")
    pd.testing.assert_frame_equal(a, b)
    assert len(a) == 7
