"""``keys``: create, list and revoke API keys (only salted hashes are stored).

Examples (shell)::

    auterity-lab keys create --user svc-digest --tenant acme --role viewer
    auterity-lab keys list
    auterity-lab keys revoke 3f9a0c1d2e4b
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from auterity_lab.cli._common import FormatOpt, console, emit
from auterity_lab.config import load_settings
from auterity_lab.errors import ConfigError

keys_app = typer.Typer(
    help="API keys: create (the key is shown once), list, revoke.", no_args_is_help=True
)

FileOpt = Annotated[
    Path | None,
    typer.Option("--file", help="The keys file (default: the api_keys_file setting)."),
]


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")


@keys_app.command("create")
def create(
    user: Annotated[str, typer.Option("--user", help="Who the key stands for.")],
    tenant: Annotated[str, typer.Option("--tenant", "-t", help="The one tenant it may read.")],
    role: Annotated[
        list[str] | None, typer.Option("--role", help="A role (repeatable): viewer, analyst, ...")
    ] = None,
    permission: Annotated[
        list[str] | None, typer.Option("--permission", help="An extra permission (repeatable).")
    ] = None,
    file: FileOpt = None,
) -> None:
    """Create a key; print it once (stdout). Only its salted scrypt hash is written."""
    from auterity_lab.security import create_api_key

    path = _keys_file(file)
    key, record = create_api_key(
        path, user_id=user, tenant_id=tenant, roles=role or [], permissions=permission or []
    )
    console.print(
        f"created key {record.key_id} for {user} (tenant {tenant}, roles "
        f"{', '.join(record.roles) or 'none'}) in {path}; it is shown only now:"
    )
    typer.echo(key)


@keys_app.command("list")
def list_(file: FileOpt = None, fmt: FormatOpt = "table") -> None:
    """List the keys: id, user, tenant, roles, permissions, created, revoked (no hashes)."""
    import pandas as pd

    from auterity_lab.security import read_api_keys

    rows = [
        {
            "id": r.key_id,
            "user": r.user_id,
            "tenant": r.tenant_id,
            "roles": ", ".join(r.roles),
            "permissions": ", ".join(r.permissions),
            "created_at": r.created_at,
            "revoked": r.revoked,
        }
        for r in read_api_keys(_keys_file(file))
    ]
    columns = ["id", "user", "tenant", "roles", "permissions", "created_at", "revoked"]
    emit(pd.DataFrame(rows, columns=columns), fmt, None, title="API keys", export=False)


@keys_app.command("revoke")
def revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (from `keys list`).")],
    file: FileOpt = None,
) -> None:
    """Revoke a key: it stays listed, and is refused from now on."""
    from auterity_lab.security import revoke_api_key

    record = revoke_api_key(_keys_file(file), key_id)
    console.print(f"revoked key {record.key_id} of {record.user_id} (tenant {record.tenant_id})")


def _keys_file(file: Path | None) -> Path:
    path = file if file is not None else load_settings().api_keys_file
    if path is None:
        raise ConfigError(
            "no keys file: pass --file or set api_keys_file (AUTERITY_LAB_API_KEYS_FILE)"
        )
    return Path(path)
