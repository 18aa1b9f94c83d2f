"""``live``: install the change-notification triggers, and watch a tenant's live events.

Examples (shell)::

    auterity-lab live install-triggers
    auterity-lab live watch -t acme --channel metric_update --channel alert --as json
"""

from __future__ import annotations

import contextlib
import json
import sys
import threading
from typing import Annotated

import typer

from auterity_lab.cli._common import DataOpt, TenantOpt, console, data_dir

live_app = typer.Typer(
    help="Live updates: Postgres triggers and a stream of events.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.add_typer(live_app, name="live")


@live_app.command("install-triggers")
def install(
    system: Annotated[
        list[str] | None,
        typer.Option("--system", "-s", help="auterity, neuroweaver or relaycore; repeatable."),
    ] = None,
) -> None:
    """Install (or refresh) the triggers that notify auterity-lab of every change to a source table.

    Needs the DSNs (AUTERITY_LAB_<SYSTEM>_DSN or AUTERITY_LAB_POSTGRES_DSN) of a role that may
    create functions and triggers.
    """
    from auterity_lab.live import install_triggers

    tables = install_triggers(systems=system)
    console.print(f"[green]live triggers on {len(tables)} tables: {', '.join(tables)}")


@live_app.command("watch")
def watch(
    tenant: TenantOpt,
    channel: Annotated[
        list[str] | None,
        typer.Option("--channel", "-c", help="An event type; repeatable (default: all)."),
    ] = None,
    data: DataOpt = None,
    poll: Annotated[
        float, typer.Option("--poll", help="Seconds between polls without push.")
    ] = 30.0,
    seconds: Annotated[
        float | None, typer.Option("--seconds", help="Stop after this long (default: Ctrl-C).")
    ] = None,
    as_: Annotated[
        str, typer.Option("--as", help="table (one line per event) or json (NDJSON).")
    ] = "table",
) -> None:
    """Print a tenant's live events as they happen (and the connection state on stderr)."""
    from auterity_lab.errors import ConfigError
    from auterity_lab.live import EVENT_TYPES, LiveFeed

    if as_ not in ("table", "json"):
        raise ConfigError(f"--as must be table or json, not {as_!r}")

    def show(event: object) -> None:
        body = event.to_dict()  # type: ignore[attr-defined]
        if as_ == "json":
            sys.stdout.write(json.dumps(body) + "\n")
        else:
            rest = ", ".join(f"{k}={v}" for k, v in body.items() if k not in ("type", "tenant"))
            sys.stdout.write(f"{body['type']}: {rest}\n")
        sys.stdout.flush()

    done = threading.Event()
    with LiveFeed(data_dir(data), poll_interval_s=poll) as feed:
        feed.on_state(lambda s: console.print(f"[dim]connection: {s.label} {s.detail}"))
        feed.subscribe(show, tenant=tenant, channels=channel or EVENT_TYPES)
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C ends the watch, not in error
            done.wait(seconds)
