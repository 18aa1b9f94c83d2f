"""``extract``, ``seed-postgres`` and ``privacy``: the Postgres sources and the privacy policy."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, Progress, ProgressColumn, Task, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from auterity_lab.cli._common import (
    DataOpt,
    console,
    data_dir,
    refresh_precomputed,
    refresh_rollups,
)

if TYPE_CHECKING:
    from auterity_lab.extract import ExtractRun, ProgressUpdate

privacy_app = typer.Typer(help="The privacy policy applied at extract.", no_args_is_help=True)

SystemOpt = Annotated[
    list[str] | None,
    typer.Option("--system", "-s", help="auterity, neuroweaver or relaycore; repeatable."),
]
PolicyOpt = Annotated[
    Path | None,
    typer.Option(
        "--policy",
        help="Privacy policy YAML (default: $AUTERITY_LAB_PRIVACY_POLICY or the packaged one).",
    ),
]


def register(app: typer.Typer) -> None:
    app.command("extract")(extract)
    app.command("seed-postgres")(seed_postgres)
    app.add_typer(privacy_app, name="privacy")


def extract(
    data: DataOpt = None,
    system: SystemOpt = None,
    table: Annotated[
        list[str] | None,
        typer.Option("--table", help="A table (events or auterity.events); repeatable."),
    ] = None,
    full: Annotated[
        bool, typer.Option("--full", help="Re-extract whole tables (replaced atomically).")
    ] = False,
    policy: PolicyOpt = None,
) -> None:
    """Extract the Postgres sources into the data directory (incremental unless --full).

    DSNs come from AUTERITY_LAB_AUTERITY_DSN, ..._NEUROWEAVER_DSN, ..._RELAYCORE_DSN, or
    AUTERITY_LAB_POSTGRES_DSN for all three. Exits with 1 if a table failed (its previous
    extract is kept).
    """
    from auterity_lab.extract import extract as run_extract
    from auterity_lab.privacy import load_policy

    chosen = load_policy(policy) if policy is not None else None
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[rows]}"),
        _RowsPerSecond(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as bar:
        tasks: dict[str, int] = {}

        def show(update: ProgressUpdate) -> None:
            if update.table not in tasks:
                tasks[update.table] = bar.add_task(update.table, total=update.total, rows="")
            total = update.rows if update.done else update.total
            if total is not None:
                total = max(total, update.rows)
            rows = f"{update.rows:,}" + (f"/{total:,} rows" if total is not None else " rows")
            bar.update(tasks[update.table], completed=update.rows, total=total, rows=rows)

        run = run_extract(
            data_dir(data), systems=system, tables=table, full=full, policy=chosen, progress=show
        )
    console.print(_summary(run))
    refresh_rollups(data_dir(data))
    refresh_precomputed(data_dir(data))
    run.raise_for_errors()


def seed_postgres(
    source: Annotated[
        Path | None,
        typer.Option(
            "--from",
            help="Data directory to load (default: the data directory; make one with `demo`).",
        ),
    ] = None,
    system: SystemOpt = None,
    replace: Annotated[
        bool, typer.Option("--replace", help="Empty tables that already hold rows.")
    ] = False,
) -> None:
    """Create the source schema (queries/postgres/) in the configured databases; load extracts."""
    from auterity_lab.pgseed import seed_postgres as seed

    with console.status("loading ...") as status:

        def step(table_name: str, rows: int) -> None:
            status.update(f"loaded {table_name} ({rows:,} rows)")

        result = seed(data_dir(source), systems=system, replace=replace, progress=step)
    console.print(
        f"[green]loaded {sum(result.rows.values()):,} rows into {len(result.rows)} tables in "
        f"{result.seconds:.1f} s ({result.rows_per_second:,.0f} rows/s)"
    )


@privacy_app.command("enforce")
def enforce(
    data: DataOpt = None,
    policy: PolicyOpt = None,
    today: Annotated[
        str | None, typer.Option(help="Count retention from this day (default: today, UTC).")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would be deleted.")] = False,
) -> None:
    """Delete day partitions older than each category's retention; record it in the manifest."""
    from auterity_lab.privacy import enforce_retention, load_policy

    results = enforce_retention(
        data_dir(data),
        policy=load_policy(policy) if policy is not None else None,
        today=dt.date.fromisoformat(today) if today else None,
        dry_run=dry_run,
    )
    out = Table(title="retention" + (" (dry run: nothing deleted)" if dry_run else ""))
    for col in ("table", "category", "days", "keeps from", "partitions", "rows", "files"):
        out.add_column(
            col, justify="right" if col in ("days", "partitions", "rows", "files") else "left"
        )
    for r in results:
        out.add_row(
            r.table,
            r.category,
            str(r.days),
            r.cutoff.isoformat(),
            str(len(r.partitions)),
            f"{r.rows:,}",
            str(r.files),
        )
    console.print(out)


@privacy_app.command("show")
def show(policy: PolicyOpt = None) -> None:
    """Print the effective privacy policy as JSON."""
    from auterity_lab.privacy import describe, load_policy

    typer.echo(json.dumps(describe(load_policy(policy)), indent=2))


@privacy_app.command("scrub")
def scrub(text: Annotated[str, typer.Argument(help="Text to scrub.")]) -> None:
    """Print TEXT with the PII the scrubber finds replaced ([EMAIL], [PHONE], ...)."""
    from auterity_lab.privacy import scrub_text

    typer.echo(scrub_text(text))


class _RowsPerSecond(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f} rows/s" if speed else "", style="cyan")


def _summary(run: ExtractRun) -> Table:
    out = Table(title=f"extract {run.run_id}: {run.seconds:.1f} s, policy {run.policy}")
    for col in (
        "table",
        "mode",
        "status",
        "read",
        "rows",
        "MB",
        "s",
        "rows/s",
        "watermark",
        "notes",
    ):
        out.add_column(
            col,
            justify="right" if col in ("read", "rows", "MB", "s", "rows/s") else "left",
            overflow="fold",
        )
    for t in run.tables:
        notes = t.error or (
            f"extra columns: {', '.join(t.extra_columns)}" if t.extra_columns else ""
        )
        out.add_row(
            t.table,
            t.mode,
            "[green]ok" if t.status == "ok" else "[red]failed",
            f"{t.rows_read:,}",
            f"{t.rows:,}",
            f"{t.bytes / 1e6:,.1f}",
            f"{t.seconds:.2f}",
            f"{t.rows_per_second:,.0f}",
            (t.watermark or "")[:19],
            notes,
        )
    return out
