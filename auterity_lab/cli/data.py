"""``demo`` and ``info``: make the demo data; describe a data directory."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from auterity_lab.cli._common import (
    DataOpt,
    console,
    counting_progress,
    data_dir,
    precompute_with_progress,
    refresh_precomputed,
    refresh_rollups,
)
from auterity_lab.manifest import read_manifest


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
    app.command("info")(info)
    app.command("precompute")(precompute)


def demo(
    data: DataOpt = None,
    tenants: Annotated[int, typer.Option(help="Number of tenants.")] = 3,
    days: Annotated[int, typer.Option(help="Days of history.")] = 120,
    scale: Annotated[float, typer.Option(help="1.0 ≈ 100k sessions and 100k AI calls.")] = 1.0,
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same bytes.")] = 7,
    end: Annotated[
        str | None, typer.Option(help="Exclusive last day (default 2026-11-01).")
    ] = None,
) -> None:
    """Write deterministic synthetic extracts of all three systems (no server needed)."""
    from auterity_lab.schema import source_tables
    from auterity_lab.synth import DEMO_END, generate_demo

    target = data_dir(data)
    end_day = dt.date.fromisoformat(end) if end else DEMO_END
    tables = source_tables()
    with counting_progress("tables") as progress:
        task = progress.add_task("demo data", total=len(tables))

        def step(table_name: str, rows: int) -> None:
            progress.update(task, advance=1, description=f"{table_name} ({rows:,} rows)")

        summary = generate_demo(
            target, tenants=tenants, days=days, scale=scale, seed=seed, end=end_day, progress=step
        )
    total = sum(summary.rows.values())
    console.print(
        f"[green]wrote {total:,} rows for tenants {', '.join(summary.tenants)} to {target} "
        f"in {summary.seconds:.1f} s ({summary.rows_per_second:,.0f} rows/s)"
    )
    refresh_rollups(target)
    refresh_precomputed(target)


def precompute(
    data: DataOpt = None,
    tenant: Annotated[
        list[str] | None, typer.Option("--tenant", "-t", help="A tenant (default: all).")
    ] = None,
    tab: Annotated[
        list[str] | None, typer.Option("--tab", help="A dashboard tab (default: all); repeatable.")
    ] = None,
    keep_days: Annotated[
        float | None,
        typer.Option(help="Days the results live (default: settings.precompute_keep_days)."),
    ] = None,
) -> None:
    """Compute each tenant's default dashboard view into the result cache (extract and demo do
    this themselves unless precompute_dashboard is off)."""
    run = precompute_with_progress(data_dir(data), tenants=tenant, tabs=tab, keep_days=keep_days)
    table = Table(title=f"precomputed in {run.seconds:.1f} s, kept {run.keep_days:g} days")
    for col in ("tenant", "tab", "text", "panels", "seconds", "failed"):
        table.add_column(col, justify="left" if col in ("tenant", "tab", "text") else "right")
    for t in run.tabs:
        row = (t.tenant, t.tab, t.text, str(t.panels), f"{t.seconds:.2f}", str(len(t.errors)))
        table.add_row(*row)
    Console(stderr=True).print(table)
    if run.errors:
        raise typer.Exit(1)


def info(data: DataOpt = None) -> None:
    """Show what a data directory holds: tables, rows, time range, tenants."""
    target = data_dir(data)
    manifest = read_manifest(target)
    table = Table(title=f"{target} (fingerprint {manifest.fingerprint()})")
    for col in ("table", "rows", "files", "from", "to", "written"):
        table.add_column(
            col, justify="right" if col in ("rows", "files") else "left", overflow="fold"
        )
    for name, entry in sorted(manifest.tables.items()):
        table.add_row(
            name,
            f"{entry.rows:,}",
            str(len(entry.files)),
            (entry.min_ts or "")[:10],
            (entry.max_ts or "")[:10],
            entry.written_at[:10],
        )
    typer.echo(f"tenants: {', '.join(manifest.tenants)}")
    Console().print(table)
