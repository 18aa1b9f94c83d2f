"""Options, identity and output shared by the command modules.

When authentication is configured (``jwt_secret``, ``jwt_public_key`` or ``api_keys_file``),
every command but ``keys`` and ``serve`` needs a credential (``--token`` / ``--api-key`` or
``AUTERITY_LAB_TOKEN`` / ``AUTERITY_LAB_API_KEY``): the root callback authenticates it once and
:func:`security_context` hands the identity to the commands. Workbenches are opened with it,
so the tenant is bound and every read is checked; :func:`emit` treats a file or a
machine-readable format as an export (``data:export``, written to the audit log).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from auterity_lab.audit import AuditLog, audit_log_for
from auterity_lab.config import load_settings
from auterity_lab.errors import (
    AccessDeniedError,
    AuterityLabError,
    AuthenticationError,
    ConfigError,
)
from auterity_lab.export import export_frame, to_bytes
from auterity_lab.security import (
    SecurityContext,
    auth_configured,
    authenticate,
    authorize,
    set_current_context,
)

if TYPE_CHECKING:
    import pandas as pd

    from auterity_lab.precompute import Precomputation
    from auterity_lab.warehouse import Workbench

console = Console(stderr=True)

DataOpt = Annotated[
    Path | None,
    typer.Option(
        "--data", "-d", help="Data directory (default: $AUTERITY_LAB_DATA_DIR or ./data)."
    ),
]
TenantOpt = Annotated[str, typer.Option("--tenant", "-t", help="Tenant whose data to read.")]
ParamOpt = Annotated[
    list[str] | None, typer.Option("--param", "-p", help="A parameter as key=value; repeatable.")
]
FormatOpt = Annotated[
    str, typer.Option("--format", "-f", help="Output format: table, csv, json or parquet.")
]
OutOpt = Annotated[Path | None, typer.Option("--out", "-o", help="Write to this file, not stdout.")]
StartOpt = Annotated[str, typer.Option("--start", help="Inclusive start (ISO date/time, UTC).")]
EndOpt = Annotated[str, typer.Option("--end", help="Exclusive end (ISO date/time, UTC).")]


class _Session:
    """What one command invocation knows about its caller (reset by the root callback)."""

    context: SecurityContext | None = None
    data_dir: Path | None = None
    tenant: str | None = None


_session = _Session()


def start_session(credential: str | None, command: str | None, *, help_only: bool = False) -> None:
    """Forget the previous invocation; authenticate ``credential`` when the setup asks for it.

    Commands in :data:`NO_CREDENTIAL` run without one; those in :data:`ADMIN_COMMANDS` touch
    every tenant's data (or the source databases) and need the ``admin`` role.
    """
    end_session()
    settings = load_settings()
    if help_only or command in NO_CREDENTIAL or not auth_configured(settings):
        return
    if not credential:
        raise AuthenticationError(
            "authentication is configured: give --token or --api-key (or set "
            "AUTERITY_LAB_TOKEN / AUTERITY_LAB_API_KEY)"
        )
    _session.context = authenticate(credential, settings)
    set_current_context(_session.context)
    if command in ADMIN_COMMANDS and not _session.context.is_admin:
        _audit(settings.data_dir).record(
            f"cli.{command}", context=_session.context, outcome="denied",
            detail="needs the admin role",
        )  # fmt: skip
        raise AccessDeniedError(
            f"`{command}` reads or writes every tenant's data: it needs the admin role"
        )


def end_session() -> None:
    """Forget the caller: nothing of one invocation leaks into the next in the same process."""
    _session.context = _session.data_dir = _session.tenant = None
    set_current_context(None)


NO_CREDENTIAL = frozenset({"keys", "serve"})
"""Commands that need no credential: ``keys`` edits a file the caller must be able to write,
``serve`` authenticates each visitor itself."""
ADMIN_COMMANDS = frozenset({"demo", "info", "extract", "seed-postgres", "privacy", "live", "cache"})
"""Commands over every tenant's data or the source databases: admin only."""


def security_context() -> SecurityContext | None:
    """The caller's identity, or None when no authentication is configured."""
    return _session.context


def require(permission: str, action: str, *, target: str | None = None) -> None:
    """Check ``permission`` for the caller (if authenticated); a denial is audited."""
    ctx = _session.context
    if ctx is None:
        return
    resource, _, verb = permission.partition(":")
    try:
        authorize(ctx, resource, verb)
    except AccessDeniedError as exc:
        _audit(_session.data_dir).record(
            action, context=ctx, tenant=_session.tenant, target=target, outcome="denied",
            detail=str(exc),
        )  # fmt: skip
        raise


def data_dir(path: Path | None) -> Path:
    """The data directory from the option, else from settings."""
    return path if path is not None else load_settings().data_dir


def open_workbench(path: Path | None, tenant: str) -> Workbench:
    """Open a workbench for ``tenant`` as the caller (tenant bound, reads checked)."""
    from auterity_lab.warehouse import Workbench

    _session.data_dir, _session.tenant = data_dir(path), tenant
    return Workbench.open(_session.data_dir, tenant=tenant, context=_session.context)


def counting_progress(unit: str) -> Progress:
    """A progress bar on stderr that counts ``unit`` ("12/15 tabs") and shows the time taken."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn(f"{{task.completed}}/{{task.total}} {unit}"),
        TimeElapsedColumn(),
        console=console,
    )


def refresh_rollups(path: Path) -> None:
    """Bring the rollups of ``path`` up to date with its extracts and say what changed."""
    from auterity_lab.rollups import build_rollups

    with console.status("updating rollups ..."):
        builds = build_rollups(path)
    for b in builds.values():
        console.print(
            f"rollup {b.name}: {b.rebuilt} days rebuilt, {b.kept} kept, {b.removed} removed "
            f"({b.rows:,} rows)"
        )


def refresh_precomputed(path: Path) -> None:
    """Precompute the default dashboard view of each tenant into the result cache, unless
    ``precompute_dashboard`` or the cache is off; say how long it took and what failed."""
    settings = load_settings()
    if not (settings.precompute_dashboard and settings.cache_enabled):
        return
    try:
        run = precompute_with_progress(path)
    except AuterityLabError as exc:  # the extract itself succeeded: warn, do not fail it
        console.print(f"[yellow]the dashboard's default view was not precomputed: {exc}")
        return
    console.print(
        f"precomputed the dashboard's default view: {len(run.tabs)} tabs "
        f"({' and '.join(sorted({t.text for t in run.tabs}, reverse=True))} text) "
        f"in {run.seconds:.1f} s "
        f"(kept {run.keep_days:g} days unless an extract changes their tables)"
    )


def precompute_with_progress(path: Path, **options: Any) -> Precomputation:
    """:func:`~auterity_lab.precompute.precompute_dashboard` with a progress bar; failed
    panels are printed as warnings."""
    from auterity_lab.precompute import precompute_dashboard

    with counting_progress("tabs") as bar:
        task = bar.add_task("precomputing", total=None)

        def step(done: int, total: int, label: str) -> None:
            bar.update(task, completed=done, total=total, description=f"precomputed {label}")

        run = precompute_dashboard(path, progress=step, **options)
    for error in run.errors:
        console.print(f"[yellow]precompute: {error}")
    return run


def audit_log() -> AuditLog | None:
    """The audit log this invocation writes to, or None when nothing asks for auditing."""
    settings = load_settings()
    return audit_log_for(settings, _session.data_dir, _session.context)


def _audit(path: Path | None) -> AuditLog:
    return AuditLog.for_settings(load_settings(), path)


def parse_params(pairs: list[str] | None) -> dict[str, str]:
    """``["a=1", "b=x"]`` → ``{"a": "1", "b": "x"}``."""
    out: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"parameter {pair!r} is not key=value")
        out[key.strip()] = value
    return out


def emit(
    frame: pd.DataFrame, fmt: str, out: Path | None, *, title: str = "", export: bool = True
) -> None:
    """Print ``frame`` (rich table, or CSV/JSON/Parquet bytes) or write it to ``out``.

    A file or a machine-readable format is an export of data: it needs ``data:export`` and is
    written to the audit log (``export=False`` for listings that hold no data, e.g. the report
    catalog).
    """
    if fmt == "table":
        if out is not None:
            raise ConfigError(
                "--format table prints to the terminal; use csv, json or parquet with --out"
            )
        table = Table(title=title or None, show_lines=False)
        for col in frame.columns:
            table.add_column(str(col), overflow="fold")
        for row in frame.itertuples(index=False):
            table.add_row(*(_cell(v) for v in row))
        Console().print(table)
        return
    if fmt == "parquet" and out is None:
        raise ConfigError("parquet is binary: give --out FILE")
    if export:
        target = str(out) if out is not None else f"stdout:{fmt}"
        require("data:export", "data.export", target=target)
    log = audit_log() if export else None
    if out is not None:
        export_frame(
            frame, out, fmt, audit=log, context=_session.context, tenant=_session.tenant,
            what=title or None,
        )  # fmt: skip
        console.print(f"wrote {len(frame)} rows to {out}")
        return
    data = to_bytes(frame, fmt)
    if log is not None:
        log.record(
            "data.export", context=_session.context, tenant=_session.tenant,
            target=f"stdout:{fmt}", rows=len(frame), detail=title or None,
        )  # fmt: skip
    sys.stdout.buffer.write(data)
    if fmt == "json":
        sys.stdout.buffer.write(b"\n")
    sys.stdout.flush()


def _cell(value: object) -> str:
    if isinstance(value, float) and math.isnan(value):
        return ""
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1e6 else f"{value:,.0f}"
    return "" if value is None else str(value)
