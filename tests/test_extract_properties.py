"""Properties of incremental extraction: random batches go in through the tracking writers, out
through repeated incremental extracts, and the extract always equals the source exactly."""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auterity_lab.config import Settings
from auterity_lab.extract import extract
from auterity_lab.privacy import Policy
from auterity_lab.schema import table
from auterity_lab.tracking import track_event, track_prompt_output

from .postgres_server import PgServer
from .test_extract import create_schema, rows

pytestmark = pytest.mark.postgres

BASE = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
OVERLAP_MINUTES = 60
# minutes after the newest row so far; negative = arrives late, but within the overlap
# Postgres text cannot hold NUL or lone surrogates; the writers refuse them (test_tracking.py)
texts = st.text(
    alphabet=st.characters(exclude_characters="\x00", exclude_categories=["Cs"]), max_size=20
)
offsets = st.integers(min_value=-(OVERLAP_MINUTES - 10), max_value=3 * 24 * 60)
events = st.fixed_dictionaries(
    {
        "tenant_id": st.sampled_from(["acme", "globex"]),
        "event_type": st.sampled_from(["signup", "activate", "feature_use"]),
        "revenue": st.none() | st.decimals(min_value=0, max_value=10**6, places=2, allow_nan=False),
        "properties": st.none()
        | st.dictionaries(st.sampled_from(["plan", "note"]), texts, max_size=2),
        "offset": offsets,
    }
)
outputs = st.fixed_dictionaries(
    {
        "tenant_id": st.sampled_from(["acme", "globex"]),
        "model_id": st.sampled_from(["gpt-4o", "llama-3-8b"]),
        "prompt": texts,
        "user_rating": st.none() | st.decimals(min_value=1, max_value=5, places=2),
        "offset": offsets,
    }
)
batches = st.lists(
    st.tuples(st.lists(events, max_size=6), st.lists(outputs, max_size=4)), min_size=1, max_size=3
)


@pytest.fixture(scope="module")
def source(pg_server: PgServer) -> str:
    dsn = pg_server.create_database("properties")
    create_schema(dsn, ("auterity", "neuroweaver"))
    return dsn


def _stamp(
    records: list[dict[str, Any]], newest: dt.datetime
) -> tuple[list[dict[str, Any]], dt.datetime]:
    out = []
    for r in records:
        at = newest + dt.timedelta(minutes=r["offset"], microseconds=len(out))
        newest = max(newest, at)
        out.append({k: v for k, v in r.items() if k != "offset"} | {"created_at": at})
    return out, newest


def _source(dsn: str, name: str, cols: list[str]) -> pd.DataFrame:
    with psycopg.connect(dsn) as con:
        found = con.execute(f"SELECT {', '.join(cols)} FROM {name} ORDER BY id").fetchall()
    return pd.DataFrame(found, columns=cols)


def _same(data: Path, dsn: str) -> None:
    checks = {
        "events": ["id", "tenant_id", "event_type", "revenue", "properties", "created_at"],
        "prompt_outputs": ["id", "model_id", "prompt", "user_rating", "created_at"],
    }
    for name, cols in checks.items():
        want = _source(dsn, name, cols)
        got = rows(data, table(name))[cols] if len(want) else want
        assert got["id"].is_unique
        assert list(got["id"].map(str)) == list(want["id"].map(str)), name
        assert list(got["created_at"]) == list(want["created_at"]), name
        if name == "events":
            assert [
                None if pd.isna(v) else Decimal(str(v)).quantize(Decimal("0.01"))
                for v in got["revenue"]
            ] == list(want["revenue"])
            assert [None if pd.isna(v) else json.loads(v) for v in got["properties"]] == list(
                want["properties"]
            )
        else:
            assert [None if pd.isna(v) else v for v in got["prompt"]] == list(want["prompt"])


@given(batches)
@settings(max_examples=8, deadline=None)
def test_repeated_incremental_extracts_equal_the_source(source: str, batches: list) -> None:
    with psycopg.connect(source, autocommit=True) as con:
        con.execute("TRUNCATE events, prompt_outputs")
    cfg = Settings(postgres_dsn=source, extract_overlap_minutes=OVERLAP_MINUTES)
    newest = BASE
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        for new_events, new_outputs in batches:
            stamped_events, newest = _stamp(new_events, newest)
            stamped_outputs, newest = _stamp(new_outputs, newest)
            track_event(stamped_events, dsn=source)
            track_prompt_output(stamped_outputs, dsn=source)
            extract(
                data, tables=["events", "prompt_outputs"], settings=cfg, policy=Policy.disabled()
            ).raise_for_errors()
            _same(data, source)
        # idempotent: running again without new rows changes nothing
        again = extract(
            data, tables=["events", "prompt_outputs"], settings=cfg, policy=Policy.disabled()
        )
        assert all(t.mode == "incremental" for t in again.tables if t.rows)
        _same(data, source)
