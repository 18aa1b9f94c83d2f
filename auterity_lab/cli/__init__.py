"""The ``auterity-lab`` command: a thin layer that parses arguments and calls the library.

Each module of this package adds its commands with a ``register(app)`` function; they are found
by name, so a new command group is a new file.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Annotated, Any

import typer
import typer.core
from rich.console import Console

from auterity_lab.errors import AuterityLabError

_HELP_ONLY = "auterity_lab.help_only"


class _Group(typer.core.TyperGroup):
    """Turns the package's own errors into a one-line message and exit code 1, no traceback."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        # help needs no credential: remember it before click hands the rest to the command
        ctx.meta[_HELP_ONLY] = "--help" in args
        return super().parse_args(ctx, args)

    def invoke(self, ctx: Any) -> Any:
        from auterity_lab.cli._common import end_session

        try:
            return super().invoke(ctx)
        except AuterityLabError as exc:
            Console(stderr=True).print(
                f"[red]Error:[/red] {type(exc).__name__}: {exc}", highlight=False
            )
            raise typer.Exit(1) from None
        finally:
            end_session()  # the identity lasts one invocation, never into the next


app = typer.Typer(
    cls=_Group,
    help="auterity-lab: analytics workbench for Auterity, Neuroweaver and RelayCore.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)



@app.callback()
def _identity(
    ctx: typer.Context,
    token: Annotated[
        str | None,
        typer.Option(
            "--token", envvar="AUTERITY_LAB_TOKEN", show_envvar=True,
            help="A signed JWT (needed when authentication is configured).",
        ),
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key", envvar="AUTERITY_LAB_API_KEY", show_envvar=True,
            help="An API key (alk_...), instead of a token.",
        ),
    ] = None,
) -> None:
    """auterity-lab: analytics workbench for Auterity, Neuroweaver and RelayCore."""
    from auterity_lab.cli._common import start_session
    from auterity_lab.errors import ConfigError

    if token and api_key:
        raise ConfigError("give --token or --api-key, not both")
    if ctx.resilient_parsing:
        return
    start_session(
        token or api_key, ctx.invoked_subcommand, help_only=ctx.meta.get(_HELP_ONLY, False)
    )


for _info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    if not _info.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_info.name}").register(app)


def main() -> None:
    """Entry point of the console script."""
    app()
