"""Live updates: typed events, the polling fallback, reconnection with backoff, and a real
Postgres where a row written by a tracking writer reaches a subscriber within seconds."""

from __future__ import annotations

import dataclasses
import datetime as dt
import queue
import time
from pathlib import Path

import psycopg
import pytest
from pydantic import SecretStr

from auterity_lab.config import Settings
from auterity_lab.errors import ConfigError, QueryParameterError
from auterity_lab.live import (
    EVENT_TYPES,
    AlertRaised,
    Backoff,
    ConnectionState,
    CorrelationUpdate,
    HealthChange,
    InsightFound,
    LiveFeed,
    MetricUpdate,
    install_triggers,
    parse_notification,
    subscribe,
)

from .builders import build_data_dir

T0 = dt.datetime(2026, 10, 1, 9, 0, tzinfo=dt.UTC)


def _outputs(n: int, tenant: str = "acme", day: dt.datetime = T0) -> list[dict]:
    return [
        {
            "tenant_id": tenant,
            "model_id": "gpt-4o",
            "response_time_ms": 400 + i,
            "status": "success",
            "created_at": day + dt.timedelta(minutes=i),
        }
        for i in range(n)
    ]


def _next(events: queue.Queue, predicate, timeout: float) -> object:
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        try:
            event = events.get(timeout=left)
        except queue.Empty:
            break
        if predicate(event):
            return event
    raise AssertionError(f"no matching event within {timeout} s")


# ----------------------------------------------------------------------------- events
def test_events_are_typed_and_frozen() -> None:
    at = dt.datetime(2026, 11, 2, tzinfo=dt.UTC)
    events = [
        MetricUpdate("acme", "neuroweaver", "ai_requests", at, 3.0, 2.0, "requests", at),
        AlertRaised(
            "acme", "a1", "ai-error-rate-high", "high", "ai_error_rate", 0.2, 0.05, "m", at
        ),
        InsightFound("acme", "i1", "anomaly", "critical", "Incident", 0.99, at),
        CorrelationUpdate(
            "acme", "ai_p95_latency", "avg_session_duration", 1, -0.4, 0.001, None, at
        ),
        HealthChange("acme", "relaycore", "degraded", "healthy", "error rate above SLO", at),
    ]
    assert [e.type for e in events] == list(EVENT_TYPES[:2]) + [
        "insight",
        "correlation_update",
        "health_change",
    ]
    assert {e.type for e in events} == set(EVENT_TYPES)
    with pytest.raises(dataclasses.FrozenInstanceError):
        events[0].value = 4.0  # type: ignore[misc]
    assert events[0].to_dict() == {
        "type": "metric_update",
        "tenant": "acme",
        "source": "neuroweaver",
        "metric": "ai_requests",
        "period": "2026-11-02T00:00:00+00:00",
        "value": 3.0,
        "previous": 2.0,
        "unit": "requests",
        "at": "2026-11-02T00:00:00+00:00",
    }
    assert events[1].to_dict()["severity"] == "high" and events[2].to_dict()["confidence"] == 0.99


def test_notifications_parse_and_merge() -> None:
    a = parse_notification(
        '{"schema": "public", "table": "workflow_runs", "op": "INSERT", "rows": 2, '
        '"tenants": ["acme"], "min_created_at": "2026-11-02T10:00:00+00:00", '
        '"max_created_at": "2026-11-02T11:00:00+00:00"}'
    )
    b = parse_notification(
        '{"schema": "public", "table": "users", "op": "UPDATE", "rows": 900, '
        '"tenants": null, "min_created_at": null, "max_created_at": null}'
    )
    assert a.tables == {"relaycore.workflow_runs"} and a.end == dt.datetime(
        2026, 11, 2, 11, tzinfo=dt.UTC
    )
    merged = a.merge(b)
    assert merged.tables == {"relaycore.workflow_runs", "auterity.users"}
    assert (
        merged.tenants is None and merged.start is None
    )  # unknown span: recompute the latest days
    assert a.merge(a) == a
    with pytest.raises(ConfigError, match="not a change notification"):
        parse_notification('{"table": "no_such_table"}')


def test_channels_are_checked() -> None:
    with pytest.raises(QueryParameterError, match="unknown channel metric_updates"):
        subscribe(print, ["metric_updates"], tenant="acme")
    with pytest.raises(QueryParameterError, match="no channel given"):
        subscribe(print, [], tenant="acme")


def test_subscribers_of_a_data_directory_share_one_feed(tmp_path: Path) -> None:
    from auterity_lab import live

    data = build_data_dir(tmp_path / "data", {"prompt_outputs": _outputs(1)})
    settings = Settings(data_dir=data)
    stop_a = subscribe(print, ["metric_update"], tenant="acme", data_dir=data, settings=settings)
    stop_b = subscribe(
        print, ["alert", "health_change"], tenant="globex", data_dir=data, settings=settings
    )
    (feed,) = [f for (path, _), f in live._FEEDS.items() if path == str(data.resolve())]
    assert feed.subscriber_count == 2 and feed.state.status == "polling"
    stop_a()
    assert feed.subscriber_count == 1 and feed.state.status == "polling"
    stop_b()  # the last one closes the feed
    assert feed.state.status == "closed" and not any(
        p == str(data.resolve()) for p, _ in live._FEEDS
    )


# ----------------------------------------------------------------------------- without Postgres
def test_polling_fallback_sends_metric_updates(tmp_path: Path) -> None:
    data = build_data_dir(tmp_path / "data", {"prompt_outputs": _outputs(3)})
    events: queue.Queue = queue.Queue()
    states: list[str] = []
    with LiveFeed(data, settings=Settings(data_dir=data), poll_interval_s=0.2) as feed:
        feed.on_state(lambda s: states.append(s.label))
        feed.subscribe(events.put, tenant="acme", channels=["metric_update"])
        assert feed.wait_until_idle(60)
        assert events.empty()  # priming is silent: only changes are events
        build_data_dir(data, {"prompt_outputs": _outputs(5)})  # a new extract: 2 more AI calls
        update = _next(events, lambda e: e.metric == "ai_requests", timeout=30)
        assert feed.state.status == "polling" and "no Postgres" in feed.state.detail
    assert (update.value, update.previous, update.source) == (5.0, 3.0, "neuroweaver")
    assert update.period == dt.datetime(2026, 10, 1, tzinfo=dt.UTC) and update.tenant == "acme"
    assert states == ["polling every 0.2 s", "closed"]


def test_reconnects_with_doubling_backoff_then_polls(tmp_path: Path) -> None:
    data = build_data_dir(tmp_path / "data", {"prompt_outputs": _outputs(1)})
    settings = Settings(data_dir=data, postgres_dsn=SecretStr("postgresql://u:pw@127.0.0.1:1/db"))
    seen: list[ConnectionState] = []
    feed = LiveFeed(data, settings=settings, backoff=Backoff(5, 0.02), poll_interval_s=60)
    feed.on_state(seen.append)
    with feed:
        deadline = time.monotonic() + 30
        while feed.state.status != "polling":
            assert time.monotonic() < deadline, [s.label for s in seen]
            time.sleep(0.02)
    retries = [s for s in seen if s.status == "reconnecting"]
    assert [s.attempt for s in retries] == [1, 2, 3, 4, 5]
    assert [s.retry_in_s for s in retries] == pytest.approx([0.02, 0.04, 0.08, 0.16, 0.32])
    assert seen[0].status == "connecting" and seen[-2].status == "polling"
    assert "gave up on postgresql://u@127.0.0.1:1/db after 5 attempts" in seen[-2].detail
    assert all("pw" not in s.detail.replace("postgresql", "") for s in seen)  # no password shown
    assert seen[-1].status == "closed"
    assert Backoff().delays() == [1.0, 2.0, 4.0, 8.0, 16.0]  # the spec's policy by default


# ----------------------------------------------------------------------------- with Postgres
@pytest.mark.postgres
def test_a_tracked_row_reaches_a_subscriber(pg_server, tmp_path: Path) -> None:  # noqa: ANN001
    from auterity_lab.extract import extract
    from auterity_lab.pgseed import schema_ddl
    from auterity_lab.privacy import Policy
    from auterity_lab.schema import SYSTEMS
    from auterity_lab.tracking import track_prompt_output

    dsn = pg_server.create_database("live")
    with psycopg.connect(dsn, autocommit=True) as con:
        for system in SYSTEMS:
            con.execute(schema_ddl(system))
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    track_prompt_output(
        [
            {
                "tenant_id": "acme",
                "model_id": "gpt-4o",
                "response_time_ms": 500,
                "created_at": now - dt.timedelta(minutes=5),
            }
        ],
        dsn=dsn,
    )
    data = tmp_path / "data"
    settings = Settings(data_dir=data, postgres_dsn=SecretStr(dsn))
    extract(data, settings=settings, policy=Policy.disabled()).raise_for_errors()
    assert "neuroweaver.prompt_outputs" in install_triggers(settings)

    events: queue.Queue = queue.Queue()
    feed = LiveFeed(data, settings=settings, policy=Policy.disabled(), backoff=Backoff(5, 0.1))
    with feed:
        feed.subscribe(events.put, tenant="acme", channels=["metric_update"])
        assert feed.wait_until_idle(60)
        deadline = time.monotonic() + 30
        while feed.state.status != "live":
            assert time.monotonic() < deadline, feed.state
            time.sleep(0.05)
        started = time.monotonic()
        track_prompt_output(
            {"tenant_id": "acme", "model_id": "mistral-small", "response_time_ms": 350}, dsn=dsn
        )
        update = _next(events, lambda e: e.metric == "ai_requests", timeout=15)
        latency = time.monotonic() - started
        assert (update.value, update.previous) == (2.0, 1.0)
        assert update.period == dt.datetime(now.year, now.month, now.day, tzinfo=dt.UTC)
        assert latency < 10, latency
        # another tenant's row is not this subscriber's business
        track_prompt_output({"tenant_id": "globex", "model_id": "gpt-4o"}, dsn=dsn)
        # the listener's connection dies: the feed reconnects and catches up
        with psycopg.connect(dsn, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = 'auterity-lab-live'"
            )
        track_prompt_output(
            {"tenant_id": "acme", "model_id": "gpt-4o", "response_time_ms": 900}, dsn=dsn
        )
        again = _next(events, lambda e: e.metric == "ai_requests", timeout=30)
        assert (again.value, again.previous) == (3.0, 2.0)
        assert all(e.tenant == "acme" for e in list(events.queue))
    assert feed.errors == []
    print(f"tracked row → metric_update in {latency:.2f} s")
