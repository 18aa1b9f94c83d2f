"""``serve``: the dashboard as a web app for people who are not data scientists.

Examples (shell)::

    AUTERITY_LAB_JWT_SECRET=... auterity-lab serve --data-dir data --port 8866
    # then open http://127.0.0.1:8866/?token=<JWT or API key>
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated

import typer

from auterity_lab.cli._common import console, data_dir
from auterity_lab.errors import ConfigError

DataDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        "--data",
        "-d",
        help="Data directory (default: $AUTERITY_LAB_DATA_DIR or ./data).",
    ),
]


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)


def serve(
    data: DataDirOpt = None,
    port: Annotated[int, typer.Option("--port", help="TCP port to listen on.")] = 8866,
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on (default: this machine only).")
    ] = "127.0.0.1",
) -> None:
    """Serve the dashboard (Voila) with JWT / API-key authentication, each visitor's tenant bound
    from the credential and a per-identity rate limit.

    Needs AUTERITY_LAB_JWT_SECRET, AUTERITY_LAB_JWT_PUBLIC_KEY or AUTERITY_LAB_API_KEYS_FILE.
    Visitors send `Authorization: Bearer <token>` or `X-API-Key: <key>`, or open
    `/?token=<token>` once (it becomes an HttpOnly session cookie). Stop with Ctrl-C.
    """
    try:
        from auterity_lab.serve import serve as run
    except ImportError as exc:  # Voila is the optional `serve` extra
        raise ConfigError(
            f"auterity-lab serve needs Voila ({exc.name} is missing): "
            "pip install 'auterity-lab[serve]'"
        ) from exc

    if not _is_loopback(host):
        console.print(
            f"[yellow]warning:[/yellow] listening on {host}: credentials travel in clear text "
            "unless a TLS proxy is in front"
        )
    console.print(f"serving the dashboard on http://{host}:{port}/ (Ctrl-C stops)")
    run(data_dir(data), host=host, port=port)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
