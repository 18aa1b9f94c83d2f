"""The CLI with authentication configured: credentials, tenant binding, exports, keys, audit."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from auterity_lab.audit import AuditLog
from auterity_lab.cli import app
from auterity_lab.config import Settings
from auterity_lab.security import current_context, issue_token

SECRET = "cli-test-secret-0123456789-abcdefghij"
QUERY = ["query", "daily_user_analytics", "-t", "acme", "-p", "start=2026-10-01",
         "-p", "end=2026-10-08"]  # fmt: skip

runner = CliRunner()


@pytest.fixture
def secured(monkeypatch, tmp_path: Path) -> Path:
    """Authentication on (HS256), audit log in tmp, no cache: returns the audit log path."""
    log = tmp_path / "audit.jsonl"
    monkeypatch.setenv("AUTERITY_LAB_JWT_SECRET", SECRET)
    monkeypatch.setenv("AUTERITY_LAB_AUDIT_LOG", str(log))
    monkeypatch.setenv("AUTERITY_LAB_CACHE_ENABLED", "false")
    for name in ("AUTERITY_LAB_TOKEN", "AUTERITY_LAB_API_KEY", "AUTERITY_LAB_API_KEYS_FILE"):
        monkeypatch.delenv(name, raising=False)
    return log


def _token(role: str, tenant: str = "acme", **kw) -> str:
    return issue_token(
        user_id=f"{role}-user", tenant_id=tenant, roles=[role],
        settings=Settings(jwt_secret=SECRET), **kw,
    )  # fmt: skip


def _run(args: list[str], demo_dir: Path, token: str | None = None):
    head = ["--token", token] if token else []
    return runner.invoke(app, [*head, *args, "-d", str(demo_dir)])


def _entries(log: Path) -> list[dict]:
    return AuditLog(log).entries() if log.exists() else []


def test_a_credential_is_required(secured, demo_dir):
    res = _run(QUERY, demo_dir)
    assert res.exit_code == 1 and "AuthenticationError" in res.output and "--token" in res.output
    expired = _token("viewer", expires_in=pytest.importorskip("datetime").timedelta(hours=-1))
    res = _run(QUERY, demo_dir, expired)
    assert res.exit_code == 1 and "token has expired" in res.output
    assert expired[-12:] not in res.output


def test_help_needs_no_credential_but_a_command_does(secured, demo_dir):
    res = runner.invoke(app, ["query", "--help"])
    assert res.exit_code == 0 and "Usage" in res.output
    res = runner.invoke(app, ["query", "--list"])
    assert res.exit_code == 1 and "AuthenticationError" in res.output


def test_viewer_sees_its_tenant_on_screen_only(secured, demo_dir):
    viewer = _token("viewer")
    res = _run(QUERY, demo_dir, viewer)
    assert res.exit_code == 0, res.output
    assert "daily_user_analytics" in res.stdout
    res = _run([*QUERY[:3], "globex", *QUERY[4:]], demo_dir, viewer)
    assert res.exit_code == 1 and "AccessDeniedError" in res.output and "globex" in res.output
    res = _run([*QUERY, "-f", "csv"], demo_dir, viewer)
    assert res.exit_code == 1 and "data:export" in res.output
    got = [(e["action"], e["outcome"]) for e in _entries(secured)]
    assert got == [("workbench.open", "denied"), ("data.export", "denied")]
    assert current_context() is None  # the identity did not outlive the invocation


def test_analyst_export_is_audited_with_its_row_count(secured, demo_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("AUTERITY_LAB_TOKEN", _token("analyst"))  # the env var works too
    out = tmp_path / "daily.csv"
    res = runner.invoke(app, [*QUERY, "-d", str(demo_dir), "-f", "csv", "-o", str(out)])
    assert res.exit_code == 0, res.output
    rows = len(pd.read_csv(out))
    res = runner.invoke(app, [*QUERY, "-d", str(demo_dir), "-f", "json"])
    assert len(json.loads(res.stdout)) == rows
    exports = [e for e in _entries(secured) if e["action"] == "data.export"]
    assert [(e["user"], e["tenant"], e["rows"], e["target"]) for e in exports] == [
        ("analyst-user", "acme", rows, str(out)),
        ("analyst-user", "acme", rows, "stdout:json"),
    ]
    assert AuditLog(secured).verify().ok


def test_admin_commands(secured, demo_dir):
    res = runner.invoke(app, ["--token", _token("analyst"), "info", "-d", str(demo_dir)])
    assert res.exit_code == 1 and "admin role" in res.output
    res = runner.invoke(app, ["--token", _token("admin"), "info", "-d", str(demo_dir)])
    assert res.exit_code == 0 and "tenants: acme, globex, initech" in res.output


def test_insight_status_change_needs_insights_write(secured, demo_dir):
    res = _run(["insights", "acknowledge", "trend:x", "-t", "acme"], demo_dir, _token("analyst"))
    assert res.exit_code == 1 and "insights:write" in res.output
    (entry,) = _entries(secured)
    assert (entry["action"], entry["outcome"], entry["target"]) == (
        "insight.acknowledge", "denied", "trend:x",
    )  # fmt: skip


def test_keys_and_api_key_login(secured, demo_dir, tmp_path, monkeypatch):
    keys = tmp_path / "keys.yml"
    res = runner.invoke(
        app, ["keys", "create", "--user", "svc", "--tenant", "acme", "--role", "viewer",
              "--file", str(keys)],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    key = res.stdout.strip().splitlines()[-1]
    assert key.startswith("alk_") and key not in keys.read_text()
    monkeypatch.setenv("AUTERITY_LAB_API_KEYS_FILE", str(keys))
    listed = runner.invoke(app, ["keys", "list", "-f", "json"])
    (row,) = json.loads(listed.stdout)
    assert (row["user"], row["tenant"], row["revoked"]) == ("svc", "acme", False)
    assert key.split("_", 2)[2] not in listed.stdout  # the secret (it may hold "_" itself)
    res = runner.invoke(app, ["--api-key", key, *QUERY, "-d", str(demo_dir)])
    assert res.exit_code == 0, res.output
    assert runner.invoke(app, ["keys", "revoke", row["id"]]).exit_code == 0
    res = runner.invoke(app, ["--api-key", key, *QUERY, "-d", str(demo_dir)])
    assert res.exit_code == 1 and "revoked" in res.output


def test_audit_show_and_verify(secured, demo_dir):
    viewer, admin = _token("viewer"), _token("admin")
    _run([*QUERY, "-f", "csv"], demo_dir, viewer)  # one denial to show
    res = runner.invoke(app, ["--token", viewer, "audit", "show", "-d", str(demo_dir)])
    assert res.exit_code == 1 and "audit:read" in res.output
    res = runner.invoke(app, ["--token", admin, "audit", "show", "-d", str(demo_dir), "-f", "csv"])
    assert res.exit_code == 0, res.output
    shown = pd.read_csv(io.StringIO(res.stdout))
    assert shown["outcome"].tolist() == ["denied", "denied"]  # the export, then audit show
    res = runner.invoke(app, ["--token", admin, "audit", "verify", "-d", str(demo_dir)])
    assert res.exit_code == 0 and "chain intact" in res.output
    lines = secured.read_text().splitlines()
    secured.write_text("\n".join(lines[1:]) + "\n")
    res = runner.invoke(app, ["--token", admin, "audit", "verify", "-d", str(demo_dir)])
    assert res.exit_code == 1 and "chain broken" in " ".join(res.output.split())
