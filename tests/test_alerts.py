"""Alert rules: validation, duration and cooldown semantics on hand-made series, and delivery to
real local servers (an HTTP server for webhook and Slack, aiosmtpd for email) with retries."""

from __future__ import annotations

import email
import http.server
import io
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from aiosmtpd.controller import Controller
from typer.testing import CliRunner

from auterity_lab import alerts
from auterity_lab.alerts import AlertConfig, AlertRule, AlertRuleError, RuleState, evaluate_rule
from auterity_lab.channels import Alert, ChannelSettings, deliver, slack_message
from auterity_lab.cli import app
from auterity_lab.errors import QueryParameterError
from auterity_lab.state import StateStore
from auterity_lab.warehouse import Workbench

from .builders import build_data_dir

HOURS = pd.date_range("2026-03-01", periods=12, freq="h", tz="UTC")


def _rule(**kw: Any) -> AlertRule:
    base = {
        "id": "r",
        "name": "Rule",
        "metric": "ai_error_rate",
        "operator": "gt",
        "threshold": 0.05,
        "severity": "high",
        "grain": "hour",
    }
    return AlertRule(**(base | kw))


def _series(values: list[float], n: list[float] | None = None) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "period": HOURS[: len(values)],
            "value": values,
            "n": n if n is not None else [50.0] * len(values),
        }
    )


# ----------------------------------------------------------------------- rules
def test_durations() -> None:
    assert [alerts.parse_duration(v) for v in (0, 90, "90s", "15m", "2h", "1d", "1w")] == [
        0,
        90,
        90,
        900,
        7200,
        86400,
        604800,
    ]
    with pytest.raises(ValueError, match="not a duration"):
        alerts.parse_duration("soon")
    assert alerts.format_duration(3600 * 6) == "6h"


def test_rule_validation_names_the_problem(tmp_path: Path) -> None:
    nested = AlertRule.model_validate(
        {
            "id": "x",
            "name": "X",
            "severity": "low",
            "condition": {"metric": "sessions", "operator": "eq", "threshold": 0, "duration": "1d"},
            "grain": "day",
        }
    )
    assert (nested.metric, nested.duration, nested.periods_needed) == ("sessions", 86400, 1)
    assert _rule(duration="150m").periods_needed == 3  # 2.5 hours: three hourly periods
    bad = tmp_path / "rules.yml"
    cases = {
        "unknown metric 'ai_errors'": [
            {
                "id": "a1",
                "name": "A",
                "metric": "ai_errors",
                "operator": "gt",
                "threshold": 1,
                "severity": "low",
            }
        ],
        "rule a2 field channels": [
            {
                "id": "a2",
                "name": "A",
                "metric": "sessions",
                "operator": "gt",
                "threshold": 1,
                "severity": "low",
                "channels": ["pager"],
            }
        ],
        "repeated: d": [
            {
                "id": "d",
                "name": "A",
                "metric": "sessions",
                "operator": "gt",
                "threshold": 1,
                "severity": "low",
            }
        ]
        * 2,
        "has no segments": [
            {
                "id": "s",
                "name": "A",
                "metric": "sessions",
                "segment": "x",
                "operator": "gt",
                "threshold": 1,
                "severity": "low",
            }
        ],
        "give a segment": [
            {
                "id": "t",
                "name": "A",
                "metric": "step_mean_duration",
                "operator": "gt",
                "threshold": 1,
                "severity": "low",
            }
        ],
        "operator": [
            {
                "id": "o",
                "name": "A",
                "metric": "sessions",
                "operator": "gte",
                "threshold": 1,
                "severity": "low",
            }
        ],
    }
    for message, rules in cases.items():
        bad.write_text(json.dumps({"rules": rules}))
        with pytest.raises(AlertRuleError, match=message):
            alerts.load_rules(bad)
    bad.write_text("rules: [")
    with pytest.raises(AlertRuleError, match="not valid YAML"):
        alerts.load_rules(bad)
    with pytest.raises(AlertRuleError, match="does not exist"):
        alerts.load_rules(tmp_path / "missing.yml")


def test_default_rules_ship_with_the_package() -> None:
    config = alerts.load_rules()
    table = alerts.rules_table(config)
    assert set(table["operator"]) <= {"gt", "lt", "eq", "ne"} and table["rule_id"].is_unique
    assert not table.set_index("rule_id").loc["ai-cost-daily", "enabled"]
    assert config.channels.slack.url_env == "AUTERITY_LAB_SLACK_WEBHOOK_URL"


# ------------------------------------------------------------ duration / cooldown
def test_duration_needs_consecutive_periods() -> None:
    rule = _rule(duration="2h", cooldown="1d")
    fired, state = evaluate_rule(rule, _series([0, 0.1, 0, 0.1, 0.1, 0.1, 0]))
    # hours 3 and 4 are the first two consecutive breaches: fires at the end of hour 4
    assert [(f.at, f.breach_started, f.value) for f in fired] == [(HOURS[5], HOURS[3], 0.1)]
    assert state == RuleState(HOURS[5], 1, "ok")  # the breach ended at hour 6


def test_zero_cooldown_fires_every_period_of_a_breach() -> None:
    fired, _ = evaluate_rule(_rule(duration="1h"), _series([0.1, 0.1, 0.1]))
    assert [f.at.hour for f in fired] == [1, 2, 3]  # the spec: cooldown 0 never holds it back


def test_cooldown_refires_while_holding_and_resets_when_clear() -> None:
    rule = _rule(duration=0, cooldown="3h")
    values = [0.1, 0.1, 0.1, 0.1, 0.1, 0, 0.1, 0.1]
    fired, state = evaluate_rule(rule, _series(values))
    # fires at 1:00, again 3 h later at 4:00; clears at 5:00; the next breach fires at once (7:00)
    assert [f.at.hour for f in fired] == [1, 4, 7]
    assert state.status == "firing" and state.trigger_count == 3


def test_operators_missing_values_and_min_n() -> None:
    eq = _rule(metric="sessions", operator="eq", threshold=0, grain="hour")
    fired, _ = evaluate_rule(eq, _series([1, 0, float("nan"), 0.0]))
    assert [f.at for f in fired] == [HOURS[2], HOURS[4]]  # NaN breaks the breach
    ne = _rule(operator="ne", threshold=0.05)
    assert len(evaluate_rule(ne, _series([0.05, 0.05 + 1e-15, 0.2]))[0]) == 1  # tolerance 1e-9
    lt = _rule(operator="lt", threshold=0.5, min_n=20, cooldown="1d")
    fired, _ = evaluate_rule(lt, _series([0.1, 0.1, 0.1], n=[5, 25, 25]))
    assert [f.period for f in fired] == [HOURS[1]]  # 5 observations do not count


def test_consecutive_checks_neither_repeat_nor_lose_firings() -> None:
    rule = _rule(duration="1h", cooldown="2h")
    values = [0, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0, 0.1, 0.1, 0.1, 0]
    whole, _ = evaluate_rule(rule, _series(values))
    frame = _series(values)
    first, state = evaluate_rule(rule, frame.iloc[:5])
    second, state = evaluate_rule(rule, frame.iloc[3:], state)  # overlapping window
    assert [f.at for f in first + second] == [f.at for f in whole]
    assert [f.at.hour for f in whole] == [2, 4, 6, 9, 11]
    assert state.trigger_count == len(whole)


def test_acknowledged_breach_is_muted_until_it_clears() -> None:
    rule = _rule(cooldown="1h")
    state = RuleState(HOURS[1], 1, "acknowledged")
    fired, after = evaluate_rule(rule, _series([0.1, 0.1, 0.1, 0, 0.1]), state)
    assert [(f.at.hour, f.notify) for f in fired] == [(2, False), (3, False), (5, True)]
    assert after.status == "firing"


# -------------------------------------------------------------------- channels
class _Recorder(http.server.BaseHTTPRequestHandler):
    received: list[tuple[str, dict[str, str], bytes]] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((self.path, dict(self.headers), body))
        self.send_response(500 if self.path == "/fail" else 200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(envelope)
        return "250 OK"


@pytest.fixture
def servers() -> Iterator[tuple[str, _Mailbox, int]]:
    _Recorder.received = []
    http_server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=http_server.serve_forever, daemon=True)
    thread.start()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        smtp_port = s.getsockname()[1]
    mailbox = _Mailbox()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    try:
        yield f"http://127.0.0.1:{http_server.server_address[1]}", mailbox, smtp_port
    finally:
        smtp.stop()
        http_server.shutdown()
        http_server.server_close()


def test_deliver_retries_with_backoff_and_records_every_channel(
    servers: tuple[str, _Mailbox, int], tmp_path: Path
) -> None:
    base, mailbox, port = servers
    settings = ChannelSettings.model_validate(
        {
            "webhook": {"url": f"{base}/fail"},
            "slack": {"url": f"{base}/slack"},
            "email": {"host": "127.0.0.1", "port": port, "recipients": ["ops@example.com"]},
            "retries": 3,
            "backoff_s": 0.5,
            "backoff_factor": 2.0,
        }
    )
    waits: list[float] = []
    store = StateStore(tmp_path)
    alert = Alert.example()
    out = deliver(
        alert,
        ["webhook", "slack", "email", "dashboard"],
        settings=settings,
        store=store,
        sleep=waits.append,
    )
    status = {d.channel: (d.status, d.attempts) for d in out}
    assert status == {
        "webhook": ("failed", 3),
        "slack": ("delivered", 1),
        "email": ("delivered", 1),
        "dashboard": ("delivered", 1),
    }
    assert waits == [0.5, 1.0]  # backoff between the three webhook attempts
    assert "HTTP 500" in next(d.error for d in out if d.channel == "webhook")
    assert [p for p, _, _ in _Recorder.received] == ["/fail"] * 3 + ["/slack"]
    slack = json.loads(_Recorder.received[-1][2])
    assert slack == slack_message(alert) and slack["text"].startswith("[HIGH]")
    assert {b["type"] for b in slack["blocks"]} == {"header", "section", "context"}
    mail = email.message_from_bytes(mailbox.messages[0].content)
    assert mail["Subject"] == "[auterity-lab] HIGH: AI error rate high (acme)"
    assert mailbox.messages[0].rcpt_tos == ["ops@example.com"]
    recorded = store.read("alert_deliveries").set_index("channel")
    assert (
        recorded.loc["webhook", "status"] == "failed" and recorded.loc["webhook", "attempts"] == 3
    )
    assert store.read("dashboard_alerts")["alert_id"].tolist() == [alert.alert_id]


def test_unconfigured_and_unknown_channels_are_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HOOK_URL", raising=False)
    settings = ChannelSettings.model_validate({"webhook": {"url_env": "HOOK_URL"}})
    out = deliver(
        Alert.example(),
        ["webhook", "email", "pager", "dashboard"],
        settings=settings,
        store=StateStore(tmp_path),
        sleep=lambda s: None,
    )
    got = {d.channel: (d.status, d.error) for d in out}
    assert got["webhook"] == ("skipped", "webhook: $HOOK_URL is not set")
    assert got["email"][0] == "skipped" and got["pager"][0] == "failed"
    assert got["dashboard"] == ("delivered", None)


# ---------------------------------------------------------------- check_alerts
def _error_calls() -> list[dict]:
    rows = []
    for hour in range(8):
        for i in range(20):
            rows.append(
                {
                    "tenant_id": "t1",
                    "model_id": "m",
                    "response_time_ms": 100,
                    "created_at": HOURS[hour] + pd.Timedelta(minutes=2 * i),
                    "status": "error" if 2 <= hour <= 4 and i < 5 else "success",
                }
            )
    return rows


def test_check_alerts_end_to_end(servers: tuple[str, _Mailbox, int], tmp_path: Path) -> None:
    base, mailbox, port = servers
    config = AlertConfig.model_validate(
        {
            "channels": {
                "webhook": {"url": f"{base}/hook"},
                "slack": {"url": f"{base}/fail"},
                "email": {"host": "127.0.0.1", "port": port, "recipients": ["a@b.c"]},
                "retries": 2,
                "backoff_s": 0.0,
            },
            "rules": [
                {
                    "id": "errors",
                    "name": "AI errors",
                    "severity": "high",
                    "grain": "hour",
                    "condition": {
                        "metric": "ai_error_rate",
                        "operator": "gt",
                        "threshold": 0.05,
                        "duration": "2h",
                    },
                    "cooldown": "1h",
                    "min_n": 20,
                    "channels": ["dashboard", "webhook", "slack", "email"],
                },
                {
                    "id": "quiet",
                    "name": "No calls",
                    "severity": "low",
                    "grain": "hour",
                    "condition": {"metric": "ai_requests", "operator": "eq", "threshold": 0},
                    "channels": ["dashboard"],
                    "enabled": False,
                },
            ],
        }
    )
    d = build_data_dir(tmp_path / "d", {"prompt_outputs": _error_calls()})
    store = StateStore(tmp_path / "state")
    with Workbench.open(d, tenant="t1") as wb:
        check = alerts.check_alerts(wb, start=HOURS[0], end=HOURS[8], rules=config, state=store)
        # hours 2-4 have 5 errors in 20 calls (25 %): two hours make the duration (fires at 4:00),
        # one more hour makes the cooldown (fires again at 5:00)
        assert [
            (a.rule_id, pd.Timestamp(a.at).hour, a.value) for a in check.alerts.itertuples()
        ] == [("errors", 4, 0.25), ("errors", 5, 0.25)]
        assert (
            check.alerts["deliveries"].tolist()
            == ["dashboard:delivered webhook:delivered slack:failed email:delivered"] * 2
        )
        hooks = [json.loads(b) for p, _, b in _Recorder.received if p == "/hook"]
        assert [h["value"] for h in hooks] == [0.25, 0.25] and hooks[0]["rule_id"] == "errors"
        assert len(mailbox.messages) == 2
        rules = check.rules.set_index("rule_id")
        assert rules.loc["quiet", "note"] == "disabled" and rules.loc["errors", "breaching"] == 3
        # the same check again fires nothing new; history lists each alert once
        again = alerts.check_alerts(wb, start=HOURS[0], end=HOURS[8], rules=config, state=store)
        assert again.alerts.empty
        history = alerts.alert_history(wb, state=store)
        assert len(history) == 2 and history["deliveries"].str.contains("slack:failed\\(2\\)").all()
        state = store.read("alert_state", tenant="t1").set_index("rule_id")
        assert state.loc["errors", "trigger_count"] == 2 and state.loc["errors", "status"] == "ok"
        with pytest.raises(QueryParameterError, match="not firing"):
            alerts.acknowledge_alert(wb, "errors", state=store)
        with pytest.raises(QueryParameterError, match="no rule nope"):
            alerts.check_alerts(wb, start=HOURS[0], end=HOURS[8], rules=config, rule_ids=["nope"])


def test_acknowledge_a_firing_rule(tmp_path: Path) -> None:
    rows = [r for r in _error_calls() if r["created_at"] < HOURS[4]]  # still failing at the end
    d = build_data_dir(tmp_path / "d", {"prompt_outputs": rows})
    config = AlertConfig.model_validate(
        {
            "rules": [
                {
                    "id": "errors",
                    "name": "AI errors",
                    "metric": "ai_error_rate",
                    "operator": "gt",
                    "threshold": 0.05,
                    "severity": "high",
                    "grain": "hour",
                    "channels": ["dashboard"],
                }
            ]
        }
    )
    store = StateStore(tmp_path / "state")
    with Workbench.open(d, tenant="t1") as wb:
        first = alerts.check_alerts(wb, start=HOURS[0], end=HOURS[4], rules=config, state=store)
        assert len(first.alerts) == 2  # hours 2 and 3, no cooldown
        assert alerts.acknowledge_alert(wb, "errors", state=store)["status"] == "acknowledged"
    assert store.read("dashboard_alerts", tenant="t1")["rule_id"].tolist() == ["errors"] * 2


def test_cli_alerts(demo_dir: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    rules = runner.invoke(app, ["alerts", "rules", "-f", "csv"])
    assert rules.exit_code == 0
    assert "ai-error-rate-high" in pd.read_csv(io.StringIO(rules.stdout))["rule_id"].tolist()
    data = tmp_path / "demo"
    import shutil

    shutil.copytree(demo_dir, data)
    res = runner.invoke(
        app,
        [
            "alerts",
            "check",
            "-d",
            str(data),
            "-t",
            "acme",
            "--start",
            "2026-09-10",
            "--end",
            "2026-10-01",
            "--part",
            "rules",
            "-f",
            "csv",
        ],
    )
    assert res.exit_code == 0, res.output
    table = pd.read_csv(io.StringIO(res.stdout))
    assert set(table["rule_id"]) == set(alerts.rules_table()["rule_id"])
    assert table.set_index("rule_id").loc["ai-error-rate-high", "periods"] == 21 * 24
