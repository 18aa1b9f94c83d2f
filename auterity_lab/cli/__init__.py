"""The ``auterity-lab`` command: a thin layer that parses arguments and calls the library.

Each module of this package adds its commands with a ``register(app)`` function; they are found
by name, so a new command group is a new file.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

import typer
import typer.core
from rich.console import Console

from auterity_lab.errors import AuterityLabError


class _Group(typer.core.TyperGroup):
    """Turns the package's own errors into a one-line message and exit code 1, no traceback."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except AuterityLabError as exc:
            Console(stderr=True).print(f"[red]Error:[/red] {type(exc).__name__}: {exc}", highlight=False)
            raise typer.Exit(1) from None


app = typer.Typer(
    cls=_Group,
    help="auterity-lab: analytics workbench for Auterity, Neuroweaver and RelayCore.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

for _info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    if not _info.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_info.name}").register(app)


def main() -> None:
    """Entry point of the console script."""
    app()
