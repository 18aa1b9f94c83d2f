"""``cache``: what the shared result cache holds, and clearing it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from auterity_lab.cli._common import DataOpt, FormatOpt, data_dir, emit

if TYPE_CHECKING:
    from auterity_lab.cache import ResultCache

cache_app = typer.Typer(
    help="The result cache shared by notebooks and reports (disk, optional Redis).",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(cache_app, name="cache")


@cache_app.command("stats")
def stats(data: DataOpt = None, fmt: FormatOpt = "table") -> None:
    """Entries, bytes and expired entries per layer and tenant.

    Example: auterity-lab cache stats -d data
    """
    import pandas as pd

    rows = _cache(data).inventory()
    frame = pd.DataFrame(rows, columns=["layer", "tenant", "entries", "bytes", "expired"])
    emit(frame, fmt, None, title="result cache", export=False)


@cache_app.command("clear")
def clear(
    data: DataOpt = None,
    tenant: Annotated[
        str | None, typer.Option("--tenant", "-t", help="Clear only this tenant's entries.")
    ] = None,
    expired: Annotated[
        bool, typer.Option("--expired", help="Remove only disk entries past their TTL.")
    ] = False,
) -> None:
    """Remove cached results (all, one tenant's, or only the expired ones).

    Example: auterity-lab cache clear -d data --tenant acme
    """
    cache = _cache(data)
    if expired:
        if tenant is not None:
            raise typer.BadParameter("--expired prunes every tenant", param_hint="--tenant")
        typer.echo(f"removed {cache.prune()} expired disk entries")
        return
    removed = cache.clear(tenant)
    who = f" of tenant {tenant}" if tenant else ""
    typer.echo(
        f"removed{who}: " + ", ".join(f"{n} {layer} entries" for layer, n in removed.items())
    )


def _cache(data: Path | None) -> ResultCache:
    from auterity_lab.cache import ResultCache
    from auterity_lab.config import load_settings

    return ResultCache.for_settings(load_settings(), data_dir(data))
