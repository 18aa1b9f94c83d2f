"""The state store: schema-typed Parquet files, atomic replacement, a lock that loses no
concurrent write, the insight lifecycle, upserts by stable key."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from auterity_lab.errors import QueryParameterError
from auterity_lab.state import (
    ACTIONS,
    InsightNotFoundError,
    InvalidTransitionError,
    StateError,
    StateStore,
    stable_id,
)


def _insight(key: str, severity: str = "low", title: str | None = None) -> dict:
    return {
        "insight_key": key,
        "insight_type": "trend",
        "title": title or f"title {key}",
        "description": "d",
        "severity": severity,
        "affected_systems": ["auterity"],
        "metrics": {"series": ["sessions"], "evidence": {"p_value": 0.01, "ci": [1, float("nan")]}},
        "recommendations": ["look"],
    }


def test_empty_store_reads_typed_empty_tables(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state")
    for name in (
        "system_correlations",
        "unified_insights",
        "alert_state",
        "alert_log",
        "alert_deliveries",
        "dashboard_alerts",
    ):
        assert store.read(name).empty
    assert not (tmp_path / "state").exists()  # reading creates nothing
    with pytest.raises(StateError, match="unknown state table 'nope'"):
        store.read("nope")


def test_saving_no_rows_to_an_empty_store_writes_a_typed_empty_table(tmp_path: Path) -> None:
    # a correlation run over a range too short for any pair stores nothing, and says so cleanly
    store = StateStore(tmp_path / "state")
    empty = store.read("system_correlations")
    assert store.upsert("system_correlations", empty).empty
    again = store.read("system_correlations")
    assert again.empty and list(again.columns) == list(empty.columns)


def test_save_insights_upserts_by_key_and_keeps_status(tmp_path: Path) -> None:
    store = StateStore.for_data_dir(tmp_path)
    first = store.save_insights("acme", pd.DataFrame([_insight("a"), _insight("b", "high")]))
    assert first["id"].tolist() == [
        stable_id("insight", "acme", "a"),
        stable_id("insight", "acme", "b"),
    ]
    assert set(first["status"]) == {"active"}
    store.set_insight_status("acme", "a", "dismiss")
    store.save_insights("globex", pd.DataFrame([_insight("a")]))  # same key, other tenant
    again = store.save_insights("acme", pd.DataFrame([_insight("a", "critical", "new title")]))
    rows = store.read("unified_insights", tenant="acme").set_index("insight_key")
    assert len(rows) == 2 and len(store.read("unified_insights")) == 3
    assert rows.loc["a", "status"] == "dismissed"  # a dismissed insight stays dismissed
    assert rows.loc["a", "title"] == "new title" and rows.loc["a", "severity"] == "critical"
    assert rows.loc["a", "id"] == first.set_index("insight_key").loc["a", "id"] == again["id"][0]
    assert rows.loc["a", "created_at"] < rows.loc["a", "updated_at"]
    decoded = store.insights("acme")
    assert decoded["insight_key"].tolist() == ["a", "b"]  # critical before high
    assert decoded.loc[0, "metrics"]["evidence"]["ci"] == [1, None]  # NaN is stored as null
    with pytest.raises(QueryParameterError, match="status must be one of"):
        store.insights("acme", status="open")


def test_ids_are_stable_across_stores(tmp_path: Path) -> None:
    one = StateStore(tmp_path / "a").save_insights("acme", pd.DataFrame([_insight("k")]))
    two = StateStore(tmp_path / "b").save_insights("acme", pd.DataFrame([_insight("k")]))
    other = StateStore(tmp_path / "c").save_insights("globex", pd.DataFrame([_insight("k")]))
    assert one["id"][0] == two["id"][0] != other["id"][0]


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ([], {"acknowledge", "resolve", "dismiss"}),
        (["acknowledge"], {"acknowledge", "resolve", "dismiss"}),
        (["resolve"], {"resolve"}),
        (["dismiss"], {"dismiss"}),
        (["acknowledge", "resolve"], {"resolve"}),
        (["acknowledge", "dismiss"], {"dismiss"}),
    ],
)
def test_lifecycle_transitions(tmp_path: Path, path: list[str], allowed: set[str]) -> None:
    """active → acknowledged → resolved | dismissed; resolved and dismissed are final; repeating
    the action that led to the current status is a no-op."""
    for action in ACTIONS:
        store = StateStore(tmp_path / action)
        store.save_insights("acme", pd.DataFrame([_insight("k")]))
        for step in path:
            store.set_insight_status("acme", "k", step)
        if action in allowed:
            assert store.set_insight_status("acme", "k", action)["status"] == ACTIONS[action]
        else:
            with pytest.raises(InvalidTransitionError):
                store.set_insight_status("acme", "k", action)


def test_status_by_id_unknown_insight_and_action(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    saved = store.save_insights("acme", pd.DataFrame([_insight("k")]))
    assert (
        store.set_insight_status("acme", saved["id"][0], "acknowledge")["status"] == "acknowledged"
    )
    with pytest.raises(InsightNotFoundError, match="tenant 'globex' has no insight"):
        store.set_insight_status("globex", "k", "resolve")
    with pytest.raises(QueryParameterError, match="action must be one of"):
        store.set_insight_status("acme", "k", "snooze")


def test_files_follow_the_schema_and_are_replaced_atomically(tmp_path: Path) -> None:
    store = StateStore(tmp_path)
    store.save_insights("acme", pd.DataFrame([_insight("k")]))
    store.save_correlations(
        pd.DataFrame(
            [
                {
                    "id": stable_id("c", 1),
                    "tenant_id": "acme",
                    "correlation_type": "lagged",
                    "systems": json.dumps(["auterity", "neuroweaver"]),
                    "correlation_value": -0.42419,
                    "confidence": 0.98765,
                    "business_value": 1234.567,
                    "metadata": "{}",
                    "calculated_at": pd.Timestamp("2026-11-01", tz="UTC"),
                }
            ]
        )
    )
    con = duckdb.connect()
    described = con.execute(
        f"DESCRIBE SELECT * FROM read_parquet('{tmp_path}/system_correlations.parquet')"
    ).fetchall()
    types = {r[0]: r[1] for r in described}
    assert types["id"] == "UUID" and types["correlation_value"] == "DECIMAL(5,4)"
    assert types["business_value"] == "DECIMAL(10,2)"
    row = store.read("system_correlations").iloc[0]
    assert (row["correlation_value"], row["confidence"], row["business_value"]) == (
        -0.4242,
        0.9877,
        1234.57,
    )
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []
    # a row that does not fit the schema fails before anything is replaced
    before = (tmp_path / "system_correlations.parquet").read_bytes()
    with pytest.raises(StateError, match="do not fit its schema"):
        store.upsert(
            "system_correlations",
            pd.DataFrame([{**store.read("system_correlations").iloc[0], "id": "not-a-uuid"}]),
        )
    assert (tmp_path / "system_correlations.parquet").read_bytes() == before


def _writer(root: str, tenant: str, count: int) -> None:
    store = StateStore(root)
    for i in range(count):
        store.save_insights(tenant, pd.DataFrame([_insight(f"{tenant}-{i}")]))


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), t, 15)) for t in ("acme", "globex")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    rows = StateStore(tmp_path).read("unified_insights")
    assert len(rows) == 30 and rows["insight_key"].is_unique
