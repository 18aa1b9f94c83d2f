"""Tracking writers against a real Postgres: validated, batched, all-or-nothing, ids returned."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import psycopg
import pytest

from auterity_lab.config import Settings
from auterity_lab.tracking import (
    InvalidRecordError,
    PromptOutput,
    TrackingError,
    submit_feedback,
    track_event,
    track_performance_metric,
    track_prompt_output,
)

from .postgres_server import PgServer
from .test_extract import create_schema

pytestmark = pytest.mark.postgres

EVENT = {
    "tenant_id": "acme",
    "event_type": "subscribe",
    "revenue": "29.00",
    "properties": {"plan": "pro"},
    "created_at": "2026-10-01T12:00:00+02:00",
}
METRIC = {
    "tenant_id": "acme",
    "service": "api",
    "endpoint": "/v1/runs",
    "method": "POST",
    "response_time_ms": 120,
    "status_code": 201,
    "ip_address": "2001:DB8::1",
}
OUTPUT = {
    "tenant_id": "acme",
    "model_id": "gpt-4o",
    "prompt": "Summarize",
    "output": "Done.",
    "input_tokens": 12,
    "output_tokens": 30,
    "response_time_ms": 900,
    "user_rating": 4.5,
}
FEEDBACK = {
    "tenant_id": "acme",
    "prompt_output_id": str(uuid.uuid4()),
    "rating": 5,
    "comment": "great",
}


@pytest.fixture(scope="module")
def dsn(pg_server: PgServer) -> str:
    d = pg_server.create_database("tracking")
    create_schema(d)
    return d


def count(dsn: str, name: str) -> int:
    with psycopg.connect(dsn) as con:
        return int(con.execute(f"SELECT count(*) FROM {name}").fetchone()[0])


def test_one_record_returns_its_id_and_is_stored_as_given(dsn: str) -> None:
    new = track_event(EVENT, dsn=dsn)
    assert isinstance(new, uuid.UUID)
    with psycopg.connect(dsn) as con:
        row = con.execute(
            "SELECT tenant_id, event_type, revenue, properties, created_at FROM events "
            "WHERE id = %s",
            (new,),
        ).fetchone()
    assert row == (
        "acme",
        "subscribe",
        Decimal("29.00"),
        {"plan": "pro"},
        dt.datetime(2026, 10, 1, 10, tzinfo=dt.UTC),
    )


def test_batches_return_ids_in_order(dsn: str) -> None:
    before = count(dsn, "prompt_outputs")
    ids = track_prompt_output(
        [OUTPUT, {**OUTPUT, "model_id": "openai/gpt-4o-mini", "status": "error"}],
        settings=Settings(neuroweaver_dsn=dsn),
    )
    assert len(ids) == 2 and count(dsn, "prompt_outputs") == before + 2
    with psycopg.connect(dsn) as con:
        got = con.execute(
            "SELECT id, model_id, tokens_used, prompt_hash, user_rating FROM prompt_outputs "
            "WHERE id = ANY(%s)",
            (ids,),
        ).fetchall()
    by_id = {r[0]: r[1:] for r in got}
    digest = hashlib.sha256(b"Summarize").hexdigest()
    assert by_id[ids[0]] == ("gpt-4o", 42, digest, Decimal("4.50"))
    assert by_id[ids[1]][0] == "openai/gpt-4o-mini"
    assert track_prompt_output([], dsn=dsn) == []  # an empty batch writes nothing


def test_metrics_and_feedback(dsn: str) -> None:
    mid = track_performance_metric(METRIC, dsn=dsn)
    fid = submit_feedback(FEEDBACK, dsn=dsn)
    with psycopg.connect(dsn) as con:
        assert con.execute(
            "SELECT ip_address FROM performance_metrics WHERE id = %s", (mid,)
        ).fetchone() == ("2001:db8::1",)
        assert con.execute("SELECT rating FROM feedback WHERE id = %s", (fid,)).fetchone() == (5,)
    # an open connection joins the caller's transaction
    with psycopg.connect(dsn) as con, con.transaction(force_rollback=True):
        submit_feedback(FEEDBACK, conn=con)
        assert con.execute("SELECT count(*) FROM feedback").fetchone()[0] == 2
    assert count(dsn, "feedback") == 1


@pytest.mark.parametrize(
    ("writer", "record", "message"),
    [
        (track_event, {**EVENT, "tenant_id": None}, r"tenant_id: Input should be a valid string"),
        (
            track_event,
            {k: v for k, v in EVENT.items() if k != "tenant_id"},
            "record 0: tenant_id: Field required",
        ),
        (track_event, {**EVENT, "tenant_id": "ac me"}, "is not a tenant id"),
        (
            track_event,
            {**EVENT, "revenue": "12.345"},
            "revenue: Decimal input should have no more than 2 decimal places",
        ),
        (track_event, {**EVENT, "properties": {"x": float("nan")}}, "properties must be JSON"),
        (
            track_event,
            {**EVENT, "created_at": 1760000000},
            "expected a datetime or an ISO 8601 string, not int",
        ),
        (track_event, {**EVENT, "colour": "red"}, "colour: Extra inputs are not permitted"),
        (
            track_event,
            {**EVENT, "properties": {"note": ["a\x00b"]}},
            "record 0: properties contains a NUL character, which Postgres cannot store",
        ),
        (track_prompt_output, {**OUTPUT, "prompt": "\ud800"}, "prompt contains a lone surrogate"),
        (
            track_performance_metric,
            {**METRIC, "response_time_ms": "120"},
            r"response_time_ms: Input should be a valid integer \(got '120'\)",
        ),
        (
            track_performance_metric,
            {**METRIC, "status_code": 700},
            "status_code: Input should be less than or equal to 599",
        ),
        (
            track_performance_metric,
            {**METRIC, "ip_address": "999.1.1.1"},
            "is not an IPv4 or IPv6 address",
        ),
        (track_performance_metric, {**METRIC, "method": "get"}, "method: Input should be 'GET'"),
        (track_prompt_output, {**OUTPUT, "model_id": "GPT 4o"}, "'GPT 4o' is not a model id"),
        (
            track_prompt_output,
            {**OUTPUT, "tokens_used": 7},
            r"tokens_used \(7\) is not input_tokens \+ output_tokens \(42\)",
        ),
        (
            track_prompt_output,
            {**OUTPUT, "user_rating": 5.5},
            "user_rating: Input should be less than or equal to 5",
        ),
        (
            track_prompt_output,
            {**OUTPUT, "user_rating": 0},
            "user_rating: Input should be greater than or equal to 1",
        ),
        (
            submit_feedback,
            {**FEEDBACK, "rating": 6},
            r"rating: Input should be less than or equal to 5 \(got 6\)",
        ),
        (
            submit_feedback,
            {**FEEDBACK, "rating": 0},
            "rating: Input should be greater than or equal to 1",
        ),
        (submit_feedback, {**FEEDBACK, "rating": 4.0}, "rating: Input should be a valid integer"),
        (
            submit_feedback,
            {**FEEDBACK, "prompt_output_id": "nope"},
            "prompt_output_id: Input should be a valid UUID",
        ),
    ],
)
def test_invalid_records_are_rejected_and_nothing_is_written(
    dsn: str, writer: Callable[..., Any], record: dict[str, Any], message: str
) -> None:
    name = {
        "track_event": "events",
        "track_performance_metric": "performance_metrics",
        "track_prompt_output": "prompt_outputs",
        "submit_feedback": "feedback",
    }[writer.__name__]
    good = {
        "track_event": EVENT,
        "track_performance_metric": METRIC,
        "track_prompt_output": OUTPUT,
        "submit_feedback": FEEDBACK,
    }[writer.__name__]
    before = count(dsn, name)
    with pytest.raises(InvalidRecordError, match=message):
        writer(record, dsn=dsn)
    with pytest.raises(InvalidRecordError, match="record 2: "):  # one bad record stops the batch
        writer([good, good, record], dsn=dsn)
    assert count(dsn, name) == before


def test_wrong_shapes_and_database_errors(dsn: str, pg_server: PgServer) -> None:
    with pytest.raises(
        InvalidRecordError, match="expected a record .mapping. or a list of records, not str"
    ):
        track_event("signup", dsn=dsn)
    with pytest.raises(
        InvalidRecordError, match="record 1: expected a mapping or TrackingEvent, not int"
    ):
        track_event([EVENT, 3], dsn=dsn)
    assert isinstance(track_prompt_output(PromptOutput(**OUTPUT), dsn=dsn), uuid.UUID)
    empty = pg_server.create_database("tracking_no_tables")
    with pytest.raises(
        TrackingError,
        match='submitFeedback: .* refused the records, nothing written: relation "public.feedback"',
    ):
        submit_feedback([FEEDBACK, FEEDBACK], dsn=empty)
    existing = track_event(EVENT, dsn=dsn)
    before = count(dsn, "events")
    with pytest.raises(TrackingError, match="duplicate key"):  # the batch is one transaction
        track_event([{**EVENT, "id": str(uuid.uuid4())}, {**EVENT, "id": str(existing)}], dsn=dsn)
    assert count(dsn, "events") == before
