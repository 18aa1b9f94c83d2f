"""Where alerts go: the dashboard (stored), a webhook, Slack, email.

Each channel is a function in :data:`SENDERS` that delivers one :class:`Alert` or raises.
:func:`deliver` sends an alert to each of its channels in turn, retrying a failing one with
exponential backoff (``retries`` attempts, waiting ``backoff_s``, then ``backoff_s *
backoff_factor``, ...), and records every outcome in the state table ``alert_deliveries``: a
channel that fails, or is not configured, is recorded and never stops the other channels.

* ``dashboard``: the alert is stored in the state table ``dashboard_alerts`` (the Insights tab
  reads it).
* ``webhook``: HTTP POST of the alert as JSON (:meth:`Alert.payload`).
* ``slack``: HTTP POST to a Slack incoming webhook, in its JSON shape (``text`` plus
  ``blocks``).
* ``email``: a plain-text message through SMTP (``smtplib``), optionally with STARTTLS/SSL and
  a login.

URLs of webhooks and passwords are secrets: the configuration names the environment variables
holding them (``url_env``, ``password_env``), and errors never quote them.

Examples
--------
>>> slack_message(Alert.example())["text"]
'[HIGH] AI error rate high: ai_error_rate = 0.12 (gt 0.05) for tenant acme'
"""

from __future__ import annotations

import json
import os
import smtplib
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from email.message import EmailMessage
from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from auterity_lab.errors import AuterityLabError
from auterity_lab.state import StateStore, to_json

CHANNELS: tuple[str, ...] = ("dashboard", "webhook", "slack", "email")
"""Channel names a rule may list."""

DELIVERY_COLUMNS = ("alert_id", "tenant", "channel", "status", "attempts", "error", "delivered_at")
"""Fields of :class:`Delivery`, in order."""


class ChannelError(AuterityLabError):
    """A channel could not deliver an alert (the message says why, without secrets)."""


class ChannelNotConfiguredError(ChannelError):
    """A rule sends to a channel that has no configuration (URL, SMTP host, recipients)."""


# ============================================================================ the alert
@dataclass(frozen=True)
class Alert:
    """One firing of a rule: what crossed which threshold, when, for whom."""

    alert_id: str
    tenant: str
    rule_id: str
    rule_name: str
    metric: str
    segment: str
    severity: str
    operator: str
    threshold: float
    value: float
    period: pd.Timestamp
    breach_started: pd.Timestamp
    message: str
    channels: tuple[str, ...]
    fired_at: pd.Timestamp

    def payload(self) -> dict[str, Any]:
        """The alert as a JSON-ready dict (timestamps in ISO 8601)."""
        out = asdict(self)
        out["channels"] = list(self.channels)
        for key in ("period", "breach_started", "fired_at"):
            out[key] = pd.Timestamp(out[key]).isoformat()
        return out

    @classmethod
    def example(cls) -> Alert:
        """A sample alert (for documentation and channel tests)."""
        at = pd.Timestamp("2026-09-17 10:00", tz="UTC")
        return cls(
            "a1",
            "acme",
            "ai-error-rate",
            "AI error rate high",
            "ai_error_rate",
            "",
            "high",
            "gt",
            0.05,
            0.12,
            at,
            at,
            "ai_error_rate = 0.12 (gt 0.05)",
            ("dashboard",),
            at,
        )


@dataclass(frozen=True)
class Delivery:
    """The outcome of sending one alert to one channel."""

    alert_id: str
    tenant: str
    channel: str
    status: str  # delivered | failed | skipped
    attempts: int
    error: str | None
    delivered_at: pd.Timestamp


# ======================================================================== configuration
class _Http(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(None, description="Endpoint; prefer url_env for secret URLs.")
    url_env: str | None = Field(None, description="Environment variable holding the URL.")
    timeout_s: float = Field(5.0, gt=0)

    def resolved_url(self, channel: str) -> str:
        url = os.environ.get(self.url_env) if self.url_env else None
        url = url or self.url
        if not url:
            where = f"${self.url_env} is not set" if self.url_env else "no url"
            raise ChannelNotConfiguredError(f"{channel}: {where}")
        return url


class WebhookConfig(_Http):
    """A webhook: POST of the alert's JSON payload."""

    headers: dict[str, str] = Field(default_factory=dict)


class SlackConfig(_Http):
    """A Slack incoming webhook (its URL is a secret: use ``url_env``)."""


class EmailConfig(BaseModel):
    """An SMTP server and who receives the alerts."""

    model_config = ConfigDict(extra="forbid")

    host: str | None = None
    port: int = Field(25, ge=1, le=65535)
    sender: str = "auterity-lab@localhost"
    recipients: list[str] = Field(default_factory=list)
    username: str | None = None
    password_env: str | None = Field(None, description="Environment variable with the password.")
    starttls: bool = False
    use_ssl: bool = False
    timeout_s: float = Field(10.0, gt=0)


class ChannelSettings(BaseModel):
    """Configuration of every channel plus the retry policy."""

    model_config = ConfigDict(extra="forbid")

    webhook: WebhookConfig = Field(default_factory=WebhookConfig)
    slack: SlackConfig = Field(default_factory=SlackConfig)
    email: EmailConfig = Field(default_factory=EmailConfig)
    retries: int = Field(3, ge=1, le=10, description="Attempts per channel.")
    backoff_s: float = Field(0.5, ge=0, description="Wait before the second attempt.")
    backoff_factor: float = Field(2.0, ge=1, description="Growth of the wait per attempt.")


# ============================================================================= senders
def slack_message(alert: Alert) -> dict[str, Any]:
    """The Slack incoming-webhook body of an alert: ``text`` (fallback) and ``blocks``."""
    seg = f" [{alert.segment}]" if alert.segment else ""
    text = (
        f"[{alert.severity.upper()}] {alert.rule_name}: {alert.metric}{seg} = "
        f"{alert.value:.4g} ({alert.operator} {alert.threshold:.4g}) for tenant {alert.tenant}"
    )
    return {
        "text": text,
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": f"{alert.rule_name}"[:150]}},
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"*{alert.severity.upper()}* {alert.message}"},
            },
            {
                "type": "context",
                "elements": [
                    {
                        "type": "mrkdwn",
                        "text": f"tenant `{alert.tenant}` · rule `{alert.rule_id}` · period "
                        f"{pd.Timestamp(alert.period).isoformat()} · breach since "
                        f"{pd.Timestamp(alert.breach_started).isoformat()}",
                    }
                ],
            },
        ],
    }


def _post_json(
    url: str,
    body: dict[str, Any],
    *,
    timeout_s: float,
    channel: str,
    headers: dict[str, str] | None = None,
) -> None:
    data = json.dumps(body, default=str).encode()
    request = urllib.request.Request(
        url,
        data=data,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "auterity-lab",
            **(headers or {}),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310
            status = response.status
    except urllib.error.HTTPError as exc:
        raise ChannelError(f"{channel}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ChannelError(f"{channel}: request failed ({type(exc).__name__}: {reason})") from None
    if not 200 <= status < 300:
        raise ChannelError(f"{channel}: HTTP {status}")


def _send_dashboard(alert: Alert, settings: ChannelSettings, store: StateStore) -> None:
    store.upsert(
        "dashboard_alerts",
        pd.DataFrame(
            [
                {
                    "alert_id": alert.alert_id,
                    "tenant_id": alert.tenant,
                    "rule_id": alert.rule_id,
                    "severity": alert.severity,
                    "message": alert.message,
                    "payload": to_json(alert.payload()),
                    "stored_at": pd.Timestamp.now(tz="UTC"),
                }
            ]
        ),
    )


def _send_webhook(alert: Alert, settings: ChannelSettings, store: StateStore) -> None:
    cfg = settings.webhook
    _post_json(
        cfg.resolved_url("webhook"),
        alert.payload(),
        timeout_s=cfg.timeout_s,
        channel="webhook",
        headers=cfg.headers,
    )


def _send_slack(alert: Alert, settings: ChannelSettings, store: StateStore) -> None:
    cfg = settings.slack
    _post_json(
        cfg.resolved_url("slack"), slack_message(alert), timeout_s=cfg.timeout_s, channel="slack"
    )


def email_message(alert: Alert, cfg: EmailConfig) -> EmailMessage:
    """The email of an alert: subject with severity, rule and tenant; the payload as text."""
    msg = EmailMessage()
    msg["Subject"] = f"[auterity-lab] {alert.severity.upper()}: {alert.rule_name} ({alert.tenant})"
    msg["From"] = cfg.sender
    msg["To"] = ", ".join(cfg.recipients)
    lines = [alert.message, ""] + [
        f"{k}: {v}" for k, v in alert.payload().items() if k != "message"
    ]
    msg.set_content("\n".join(lines))
    return msg


def _send_email(alert: Alert, settings: ChannelSettings, store: StateStore) -> None:
    cfg = settings.email
    if not cfg.host or not cfg.recipients:
        raise ChannelNotConfiguredError("email: no SMTP host or no recipients configured")
    password = os.environ.get(cfg.password_env) if cfg.password_env else None
    if cfg.password_env and password is None:
        raise ChannelNotConfiguredError(f"email: ${cfg.password_env} is not set")
    smtp_cls = smtplib.SMTP_SSL if cfg.use_ssl else smtplib.SMTP
    try:
        with smtp_cls(cfg.host, cfg.port, timeout=cfg.timeout_s) as smtp:
            if cfg.starttls and not cfg.use_ssl:
                smtp.starttls(context=ssl.create_default_context())
            if cfg.username:
                smtp.login(cfg.username, password or "")
            smtp.send_message(email_message(alert, cfg))
    except (smtplib.SMTPException, OSError) as exc:
        raise ChannelError(f"email: {type(exc).__name__}: {exc}") from None


Sender = Callable[[Alert, ChannelSettings, StateStore], None]
SENDERS: dict[str, Sender] = {
    "dashboard": _send_dashboard,
    "webhook": _send_webhook,
    "slack": _send_slack,
    "email": _send_email,
}
"""Channel name → the function that delivers an alert there (raising on failure)."""


# ============================================================================ delivery
def deliver(
    alert: Alert,
    channels: Iterable[str],
    *,
    settings: ChannelSettings,
    store: StateStore,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Delivery]:
    """Send ``alert`` to each channel, retrying with backoff; record and return every outcome.

    A channel without configuration is ``skipped`` at once; one that keeps failing is
    ``failed`` after ``settings.retries`` attempts; an unknown channel name is ``failed``. No
    exception escapes for a channel's failure.

    Examples
    --------
    >>> deliver(Alert.example(), ["dashboard"], settings=ChannelSettings(),
    ...         store=StateStore(tmp))[0].status                             # doctest: +SKIP
    'delivered'
    """
    out = []
    for channel in dict.fromkeys(channels):
        attempts, status, error = 0, "failed", None
        sender = SENDERS.get(channel)
        if sender is None:
            error = f"unknown channel {channel!r}; known: {', '.join(CHANNELS)}"
        else:
            wait = settings.backoff_s
            while attempts < settings.retries:
                attempts += 1
                try:
                    sender(alert, settings, store)
                except ChannelNotConfiguredError as exc:
                    status, error = "skipped", str(exc)
                    break
                except (ChannelError, OSError, ValueError) as exc:
                    error = str(exc) if isinstance(exc, ChannelError) else f"{channel}: {exc}"
                    if attempts < settings.retries:
                        sleep(wait)
                        wait *= settings.backoff_factor
                    continue
                status, error = "delivered", None
                break
        out.append(
            Delivery(
                alert.alert_id,
                alert.tenant,
                channel,
                status,
                attempts,
                error,
                pd.Timestamp.now(tz="UTC"),
            )
        )
    if out:
        store.upsert(
            "alert_deliveries",
            pd.DataFrame(
                [
                    {
                        "alert_id": d.alert_id,
                        "tenant_id": d.tenant,
                        "channel": d.channel,
                        "status": d.status,
                        "attempts": d.attempts,
                        "error": d.error,
                        "delivered_at": d.delivered_at,
                    }
                    for d in out
                ]
            ),
        )
    return out
