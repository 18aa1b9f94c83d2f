"""``report``: the report catalog, running reports (one or a grid), and the scheduled ones due.

Examples (shell)::

    auterity-lab report list
    auterity-lab report run daily_digest -p tenant=acme -p day=2026-10-31 --format html,pdf
    auterity-lab report run daily_digest -p tenant=acme -p tenant=globex     # a grid: one run each
    auterity-lab report run weekly_review --all-tenants --as json
    auterity-lab report due                                        # from cron, every minute
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from auterity_lab.cli._common import (
    DataOpt,
    ParamOpt,
    console,
    data_dir,
    emit,
    security_context,
)
from auterity_lab.errors import AccessDeniedError, ConfigError

if TYPE_CHECKING:
    import pandas as pd

    from auterity_lab.reports import ReportRun

report_app = typer.Typer(
    help="Reports: the catalog, runs (HTML, PDF, CSV, JSON) and the scheduled ones.",
    no_args_is_help=True,
)

ReportsDirOpt = Annotated[
    Path, typer.Option("--out", "-o", help="Folder of report runs (OUT/NAME/RUN-ID/).")
]
AsOpt = Annotated[
    str, typer.Option("--as", help="How to print the result: table, csv or json (to stdout).")
]
NowOpt = Annotated[
    str | None, typer.Option("--now", help="Pretend it is this UTC time (ISO), e.g. to catch up.")
]

RUN_COLUMNS = [
    "report",
    "run_id",
    "status",
    "duration_s",
    "attempts",
    "error",
    "html",
    "pdf",
    "run_dir",
]


def register(app: typer.Typer) -> None:
    app.add_typer(report_app, name="report")


@report_app.command("list")
def list_(as_: AsOpt = "table") -> None:
    """List the reports of the catalog: parameters (name:TYPE=default), schedule, outputs."""
    import pandas as pd

    from auterity_lab.catalog import load_catalog

    rows = []
    for spec in load_catalog():
        params = ", ".join(
            f"{p.name}:{p.type}"
            + ("!" if p.required else f"={p.default}" if p.default is not None else "")
            for p in spec.parameters.values()
        )
        rows.append(
            {
                "report": spec.name,
                "title": spec.title,
                "parameters": params,
                "schedule": spec.schedule or "",
                "grid": ", ".join(
                    f"{k}={v if isinstance(v, str) else ','.join(v)}" for k, v in spec.grid.items()
                ),
                "formats": ",".join(spec.formats),
                "channels": ",".join(spec.channels),
                "retries": spec.retries,
                "timeout_s": spec.timeout_s,
                "source": spec.source,
            }
        )
    emit(pd.DataFrame(rows), as_, None, title="reports (parameters: ! required)", export=False)


@report_app.command("run")
def run(
    name: Annotated[str, typer.Argument(help="Report name (see `report list`).")],
    param: ParamOpt = None,
    formats: Annotated[
        str | None,
        typer.Option(
            "--format",
            "-f",
            help="Outputs, comma-separated: html, pdf, csv, json (default: the catalog's).",
        ),
    ] = None,
    all_tenants: Annotated[
        bool, typer.Option("--all-tenants", help="Run once per tenant of the data directory.")
    ] = False,
    data: DataOpt = None,
    out_dir: ReportsDirOpt = Path("reports"),
    as_: AsOpt = "table",
    suppress_k: Annotated[
        int | None,
        typer.Option(
            "--suppress-k",
            help="Show table rows under K users as '<K' (for reports shared outside the team).",
        ),
    ] = None,
) -> None:
    """Run a report: OUT/NAME/RUN-ID/ gets the executed notebook, HTML, PDF, tables and run.json.

    A parameter given more than once (-p tenant=acme -p tenant=globex) runs a grid: one run per
    value, with predictable run ids (20261101T061500Z-tenant=acme). Exits with 1 if a run failed.
    """
    from auterity_lab.manifest import read_manifest
    from auterity_lab.reports import ReportFailedError, run_grid, run_report

    fixed, grid = _split_params(param)
    root = data_dir(data)
    if all_tenants:
        if "tenant" in fixed or "tenant" in grid:
            raise ConfigError("--all-tenants and -p tenant=... exclude each other")
        grid["tenant"] = list(read_manifest(root).tenants)
    chosen = [f.strip() for f in formats.split(",") if f.strip()] if formats else None
    kwargs = {"formats": chosen, "data_dir": root, "suppress_k": suppress_k}
    if grid:
        with console.status(f"running {name} for {_grid_size(grid)} combinations ..."):
            runs = run_grid(name, grid, fixed, out_dir, **kwargs)
    else:
        with console.status(f"running {name} ..."):
            try:
                runs = [run_report(name, fixed, out_dir, **kwargs)]
            except ReportFailedError as exc:
                runs = [exc.run]
    emit(_runs_frame(runs), as_, None, title=f"{name} runs", export=False)
    if any(r.status != "succeeded" for r in runs):
        raise typer.Exit(1)


@report_app.command("due")
def due(
    data: DataOpt = None,
    out_dir: ReportsDirOpt = Path("reports"),
    now: NowOpt = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show every schedule and what is due; run nothing.")
    ] = False,
    as_: AsOpt = "table",
) -> None:
    """Run every scheduled report whose cron time passed since its last successful run.

    Safe to call from cron every minute: prints nothing when nothing is due, never runs a report
    twice when calls overlap, and exits with 1 when a run failed (cron mails the output).
    """
    from auterity_lab.scheduler import run_due, schedule_status

    ctx = security_context()
    if ctx is not None and not ctx.is_admin:
        raise AccessDeniedError("`report due` runs every tenant's scheduled reports: admin only")
    root = data_dir(data)
    if dry_run:
        emit(
            _stringify(schedule_status(out_dir, now=now, data_dir=root)),
            as_,
            None,
            title="schedules",
            export=False,
        )
        return
    results = run_due(out_dir, now=now, data_dir=root)
    if not results:
        return
    import pandas as pd

    frame = pd.DataFrame(
        [
            {
                "report": r.report,
                "key": ",".join(f"{k}={v}" for k, v in r.key.items()),
                "tick": r.tick.isoformat(timespec="minutes"),
                "status": r.status,
                "run_dir": str(r.run_dir) if r.run_dir else "",
                "error": r.error or "",
            }
            for r in results
        ]
    )
    emit(frame, as_, None, title="due reports", export=False)
    if any(r.status == "failed" for r in results):
        raise typer.Exit(1)


@report_app.command("history")
def history(
    name: Annotated[str, typer.Argument(help="Report name.")],
    out_dir: ReportsDirOpt = Path("reports"),
    as_: AsOpt = "table",
) -> None:
    """List the recorded runs of a report, newest first (latest = the last good one per key)."""
    from auterity_lab.catalog import load_catalog
    from auterity_lab.reports import run_history

    load_catalog()[name]  # an unknown name is an error, not an empty list
    emit(run_history(name, out_dir), as_, None, title=f"{name} runs", export=False)


def _split_params(pairs: list[str] | None) -> tuple[dict[str, str], dict[str, list[str]]]:
    """``-p`` pairs → fixed values and grid values (keys given more than once)."""
    values: dict[str, list[str]] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"parameter {pair!r} is not key=value")
        values.setdefault(key.strip(), []).append(value)
    fixed = {k: v[0] for k, v in values.items() if len(v) == 1}
    grid = {k: list(dict.fromkeys(v)) for k, v in values.items() if len(v) > 1}
    return fixed, grid


def _grid_size(grid: dict[str, list[str]]) -> int:
    size = 1
    for values in grid.values():
        size *= len(values)
    return size


def _runs_frame(runs: list[ReportRun]) -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame(
        [
            {
                "report": r.name,
                "run_id": r.run_id,
                "status": r.status,
                "duration_s": r.duration_s,
                "attempts": len(r.attempts),
                "error": r.error or "",
                "html": str(r.html) if r.html else "",
                "pdf": str(r.pdf) if r.pdf else "",
                "run_dir": str(r.run_dir),
            }
            for r in runs
        ],
        columns=RUN_COLUMNS,
    )


def _stringify(frame: pd.DataFrame) -> pd.DataFrame:
    """Timestamps as ISO minutes, for every output format."""
    out = frame.copy()
    for col in out.columns:
        out[col] = [
            v.isoformat(timespec="minutes") if isinstance(v, dt.datetime) else v for v in out[col]
        ]
    return out
