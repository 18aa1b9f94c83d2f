"""The Postgres source systems: which DSN each one uses, and how to say it without the password.

Each system reads ``AUTERITY_LAB_<SYSTEM>_DSN`` (``auterity``, ``neuroweaver``, ``relaycore``);
``AUTERITY_LAB_POSTGRES_DSN`` serves every system whose own DSN is not set, so one database
can hold all three. DSNs are libpq strings, as URLs (``postgresql://u:pw@host/db``) or as
``key=value`` pairs.

Passwords never leave this module in clear: :func:`describe_dsn` names a source without its
password, and :func:`redact` removes DSNs and passwords from any text (DuckDB and libpq put the
whole connection string into their error messages).

Examples
--------
>>> describe_dsn("postgresql://ana:s3cret@db.internal:6432/auterity?sslmode=require")
'postgresql://ana@db.internal:6432/auterity'
>>> redact("could not connect to host=db password=s3cret", ["host=db password=s3cret"])
'could not connect to postgresql://db:5432/'
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from pydantic import SecretStr

from auterity_lab.config import Settings, load_settings
from auterity_lab.errors import ConfigError

if TYPE_CHECKING:
    import duckdb
    import psycopg

SYSTEM_DSN_ENV: dict[str, str] = {
    "auterity": "AUTERITY_LAB_AUTERITY_DSN",
    "neuroweaver": "AUTERITY_LAB_NEUROWEAVER_DSN",
    "relaycore": "AUTERITY_LAB_RELAYCORE_DSN",
}
"""The environment variable that holds each system's DSN."""

COMMON_DSN_ENV = "AUTERITY_LAB_POSTGRES_DSN"
SOURCE_SCHEMA = "public"
"""The Postgres schema that holds the source tables in every system's database."""

_SECRET_KEYS = ("password", "sslpassword")


def resolve_dsn(system: str, settings: Settings | None = None) -> SecretStr:
    """The DSN of ``system``: its own setting, else the common ``postgres_dsn``.

    Raises
    ------
    ConfigError
        The system is unknown, or neither DSN is set.

    Examples
    --------
    >>> s = Settings(postgres_dsn="postgresql://u:pw@h/all", relaycore_dsn="postgresql://u@h/rc")
    >>> describe_dsn(resolve_dsn("auterity", s)), describe_dsn(resolve_dsn("relaycore", s))
    ('postgresql://u@h:5432/all', 'postgresql://u@h:5432/rc')
    """
    if system not in SYSTEM_DSN_ENV:
        raise ConfigError(f"unknown system {system!r}; known: {', '.join(SYSTEM_DSN_ENV)}")
    settings = settings or load_settings()
    dsn = getattr(settings, f"{system}_dsn") or settings.postgres_dsn
    if dsn is None or not dsn.get_secret_value().strip():
        raise ConfigError(
            f"no Postgres DSN for {system}: set {SYSTEM_DSN_ENV[system]} (or {COMMON_DSN_ENV} "
            "for all three systems) in the environment or the config file"
        )
    _parse(dsn.get_secret_value(), system)
    return dsn


def resolve_dsns(systems: Iterable[str], settings: Settings | None = None) -> dict[str, SecretStr]:
    """:func:`resolve_dsn` for each system, in order; fails on the first one without a DSN."""
    settings = settings or load_settings()
    return {system: resolve_dsn(system, settings) for system in systems}


def describe_dsn(dsn: str | SecretStr) -> str:
    """``postgresql://user@host:port/dbname``: which database, never the password.

    Equal descriptions mean the same database, so a manifest can record where an extract
    came from and notice when the source changes.

    Examples
    --------
    >>> describe_dsn("host=/run/pg dbname=relay user=etl password=x")
    'postgresql://etl@/run/pg:5432/relay'
    """
    parts = _parse(_text(dsn))
    user = f"{parts['user']}@" if parts.get("user") else ""
    host = parts.get("host") or "localhost"
    return f"postgresql://{user}{host}:{parts.get('port') or 5432}/{parts.get('dbname') or ''}"


def redact(text: str, dsns: Iterable[str | SecretStr]) -> str:
    """``text`` with each DSN in ``dsns`` replaced by its description, each password by ``***``.

    Examples
    --------
    >>> redact('IO Error: "postgresql://u:pw9@h/db": refused; pw9', ["postgresql://u:pw9@h/db"])
    'IO Error: "postgresql://u@h:5432/db": refused; ***'
    """
    for dsn in dsns:
        raw = _text(dsn)
        text = text.replace(raw, describe_dsn(raw)) if raw else text
        for secret in _secrets(raw):
            text = text.replace(secret, "***").replace(quote(secret, safe=""), "***")
    return text


def with_application_name(dsn: str | SecretStr, name: str) -> str:
    """The DSN as ``key=value`` pairs with ``application_name`` set (to find our sessions)."""
    from psycopg.conninfo import make_conninfo

    return make_conninfo(_text(dsn), application_name=name)


def connect(dsn: str | SecretStr, *, autocommit: bool = False) -> psycopg.Connection:
    """A psycopg connection; a failure raises :class:`ConfigError` without the password.

    Examples
    --------
    >>> connect("postgresql://u:pw@127.0.0.1:1/db")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    auterity_lab.errors.ConfigError: cannot connect to postgresql://u@127.0.0.1:1/db: ...
    """
    import psycopg

    raw = _text(dsn)
    try:
        # UTF8 even from a SQL_ASCII database, whose text psycopg would otherwise return as bytes
        return psycopg.connect(
            raw, autocommit=autocommit, connect_timeout=10, client_encoding="UTF8"
        )
    except psycopg.Error as exc:
        message = redact(str(exc).strip(), [raw])
        raise ConfigError(f"cannot connect to {describe_dsn(raw)}: {message}") from None


def scanner_extension() -> Path:
    """Path of DuckDB's Postgres scanner shipped by the ``duckdb-extension-postgres-scanner`` wheel.

    Loading it from the wheel never touches the internet (DuckDB's ``INSTALL`` would).

    Examples
    --------
    >>> scanner_extension().name
    'postgres_scanner.duckdb_extension'
    """
    import duckdb

    try:
        import duckdb_extension_postgres_scanner as pkg
    except ImportError as exc:
        raise ConfigError(
            "the Postgres scanner is not installed: pip install "
            f"duckdb-extension-postgres-scanner=={duckdb.__version__}"
        ) from exc
    path = (
        Path(pkg.__file__).parent
        / "extensions"
        / f"v{duckdb.__version__}"
        / "postgres_scanner.duckdb_extension"
    )
    if not path.is_file():
        raise ConfigError(
            f"the installed Postgres scanner has no build for DuckDB {duckdb.__version__} "
            f"({path} is missing); install duckdb-extension-postgres-scanner=={duckdb.__version__}"
        )
    return path


def attach(
    con: duckdb.DuckDBPyConnection,
    dsns: Mapping[str, str | SecretStr],
    *,
    read_only: bool = True,
) -> dict[str, str]:
    """Load the scanner and ATTACH each distinct DSN once; map each system to its catalog name.

    Systems that share a DSN share one attached catalog (``src0``, ``src1``, ...).

    Raises
    ------
    ConfigError
        A database cannot be reached (the message names it without its password).

    Examples
    --------
    >>> attach(con, {"auterity": dsn, "neuroweaver": dsn})  # doctest: +SKIP
    {'auterity': 'src0', 'neuroweaver': 'src0'}
    """
    import duckdb

    con.execute(f"LOAD '{_sql_literal(str(scanner_extension()))}'")
    catalogs: dict[str, str] = {}
    by_dsn: dict[str, str] = {}
    mode = ", READ_ONLY" if read_only else ""
    for system, dsn in dsns.items():
        raw = _text(dsn)
        if raw not in by_dsn:
            name = f"src{len(by_dsn)}"
            try:
                con.execute(f"ATTACH '{_sql_literal(raw)}' AS {name} (TYPE postgres{mode})")
            except duckdb.Error as exc:
                message = redact(str(exc).strip(), [raw])
                raise ConfigError(f"cannot attach {describe_dsn(raw)}: {message}") from None
            by_dsn[raw] = name
        catalogs[system] = by_dsn[raw]
    return catalogs


def _text(dsn: str | SecretStr) -> str:
    return dsn.get_secret_value() if isinstance(dsn, SecretStr) else dsn


def _parse(dsn: str, system: str | None = None) -> dict[str, str]:
    from psycopg.conninfo import conninfo_to_dict

    try:
        return {k: str(v) for k, v in conninfo_to_dict(dsn).items() if v is not None}
    except Exception as exc:  # psycopg raises ProgrammingError; the message may echo the DSN
        where = f" of {system}" if system else ""
        raise ConfigError(
            f"the DSN{where} is not a valid libpq connection string ({type(exc).__name__}); "
            "expected postgresql://user:password@host:port/dbname or key=value pairs"
        ) from None


def _secrets(dsn: str) -> list[str]:
    try:
        parts = _parse(dsn)
    except ConfigError:
        return []
    found = [parts[k] for k in _SECRET_KEYS if parts.get(k)]
    # a URL keeps the password percent-encoded: the raw text may differ from the parsed value
    m = re.match(r"^postgres(?:ql)?://[^:/@]*:([^@]*)@", dsn)
    if m and m[1]:
        found.append(m[1])
    return sorted(set(found), key=len, reverse=True)


def _sql_literal(text: str) -> str:
    return text.replace("'", "''")
