"""``query``: run a SQL file of ``queries/`` for one tenant (from its rollup when one answers)."""

from __future__ import annotations

from typing import Annotated

import typer

from auterity_lab.cli._common import (
    DataOpt,
    FormatOpt,
    OutOpt,
    ParamOpt,
    emit,
    open_workbench,
    parse_params,
)
from auterity_lab.queries import list_queries, load_query
from auterity_lab.rollups import run


def register(app: typer.Typer) -> None:
    app.command("query")(query)


def query(
    name: Annotated[str | None, typer.Argument(help="Query name (a file in queries/).")] = None,
    data: DataOpt = None,
    tenant: Annotated[str | None, typer.Option("--tenant", "-t", help="Tenant to read.")] = None,
    param: ParamOpt = None,
    fmt: FormatOpt = "table",
    out: OutOpt = None,
    limit: Annotated[
        int | None, typer.Option("--limit", help="Return one page of this many rows.")
    ] = None,
    offset: Annotated[
        int | None, typer.Option("--offset", help="Skip this many rows first (needs --limit).")
    ] = None,
    list_: Annotated[
        bool, typer.Option("--list", help="List the queries and their parameters.")
    ] = False,
) -> None:
    """Run queries/NAME.sql for a tenant with -p key=value parameters.

    A query with a rollup form (the spec's two views, the Auterity overview) is answered from
    the rollup when it is fresh and the range is whole days (hours for the hourly view): the
    same rows, faster. --limit/--offset return one page in a stable order.

    Example: auterity-lab query daily_user_analytics -t acme -p start=2026-10-01 -p end=2026-11-01
    """
    if list_ or name is None:
        for qname in list_queries():
            q = load_query(qname)
            params = ", ".join(p.name if p.required else f"[{p.name}]" for p in q.params)
            typer.echo(f"{qname}({params})  {q.purpose}")
        return
    if tenant is None:
        raise typer.BadParameter("--tenant is required", param_hint="--tenant")
    with open_workbench(data, tenant) as wb:
        frame = run(wb, name, limit=limit, offset=offset, **parse_params(param))
    emit(frame, fmt, out, title=name)
