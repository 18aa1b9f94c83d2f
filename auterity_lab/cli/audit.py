"""``audit``: show and verify the audit log (needs ``audit:read`` when authenticated).

Examples (shell)::

    auterity-lab audit show --action data.export --limit 20
    auterity-lab audit verify
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from auterity_lab.cli._common import (
    DataOpt,
    FormatOpt,
    OutOpt,
    console,
    data_dir,
    emit,
    require,
    security_context,
)
from auterity_lab.errors import AuterityLabError

if TYPE_CHECKING:
    from auterity_lab.audit import AuditLog

audit_app = typer.Typer(
    help="The audit log: show entries, verify the hash chain.", no_args_is_help=True
)

COLUMNS = ["seq", "ts", "user", "tenant", "action", "target", "rows", "outcome", "detail"]


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")


@audit_app.command("show")
def show(
    data: DataOpt = None,
    tenant: Annotated[str | None, typer.Option("--tenant", "-t", help="Only this tenant.")] = None,
    user: Annotated[str | None, typer.Option("--user", help="Only this user.")] = None,
    action: Annotated[str | None, typer.Option("--action", help="Only this action.")] = None,
    outcome: Annotated[
        str | None, typer.Option("--outcome", help="Only ok, denied or error.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="The newest N entries.", min=1)] = 50,
    fmt: FormatOpt = "table",
    out: OutOpt = None,
) -> None:
    """Show the newest entries (an identity that is not admin sees only its tenant's)."""
    import pandas as pd

    log = _log(data)
    ctx = security_context()
    if ctx is not None and not ctx.is_admin:
        tenant = ctx.tenant_id
    entries = [
        e
        for e in log.entries()
        if (tenant is None or e.get("tenant") == tenant)
        and (user is None or e.get("user") == user)
        and (action is None or e.get("action") == action)
        and (outcome is None or e.get("outcome") == outcome)
    ][-limit:]
    frame = pd.DataFrame(entries, columns=COLUMNS)
    emit(frame, fmt, out, title=f"Audit log {log.path}", export=False)


@audit_app.command("verify")
def verify(data: DataOpt = None) -> None:
    """Check the hash chain; exit 1 naming the first changed, inserted or deleted line."""
    log = _log(data)
    result = log.verify()
    if result.ok:
        console.print(f"[green]audit log {log.path}: {result.lines} entries, chain intact")
        return
    where = f" at line {result.line}" if result.line else ""
    raise AuditChainBrokenError(f"audit log {log.path}: {result.problem}{where}")


class AuditChainBrokenError(AuterityLabError):
    """``audit verify`` found the chain broken."""


def _log(data: Path | None) -> AuditLog:
    from auterity_lab.audit import AuditLog
    from auterity_lab.config import load_settings

    require("audit:read", "audit.read")
    return AuditLog.for_settings(load_settings(), data_dir(data))
