"""A pytest plugin: one throwaway PostgreSQL server per test session (per xdist worker).

The ``pg_server`` fixture starts a real server from the Debian package's binaries
(``/usr/lib/postgresql/*/bin``, or ``pg_config --bindir``, or ``initdb`` on the PATH): ``initdb``
into a temporary directory (as the ``postgres`` user when the tests run as root, since initdb
refuses root), then ``pg_ctl start`` on a free port, listening on 127.0.0.1 and a socket in the
same directory, with trust authentication and durability switched off (it is thrown away). It
is stopped and deleted at the end of the session.

``AUTERITY_LAB_TEST_PG_DSN`` names an existing server instead (a DSN of a role that may create
databases); the fixture then only creates and drops its own databases there.

Tests ask the server for fresh databases with ``pg_server.create_database("name")``, which returns
a DSN. Without binaries and without the variable, the tests that need Postgres are skipped with
the reason.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

TEST_DSN_ENV = "AUTERITY_LAB_TEST_PG_DSN"
_SERVER_SETTINGS = (
    "-c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
    "-c full_page_writes=off -c max_connections=60 -c shared_buffers=64MB"
)


@dataclass
class PgServer:
    """A running server: ``admin_dsn`` reaches its ``postgres`` database as a superuser."""

    admin_dsn: str
    prefix: str
    created: list[str] = field(default_factory=list)

    def create_database(self, name: str) -> str:
        """Create an empty database (dropping a leftover of the same name); return its DSN."""
        db = f"{self.prefix}_{name}"
        with psycopg.connect(self.admin_dsn, autocommit=True) as con:
            con.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(db))
            )
            con.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(db)))
        if db not in self.created:
            self.created.append(db)
        return make_conninfo(self.admin_dsn, dbname=db)

    def drop_databases(self) -> None:
        with psycopg.connect(self.admin_dsn, autocommit=True) as con:
            for db in self.created:
                con.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(db))
                )
        self.created.clear()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """The session's PostgreSQL: started here, or the one in $AUTERITY_LAB_TEST_PG_DSN."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    prefix = f"alab_{worker}_{uuid.uuid4().hex[:6]}"
    existing = os.environ.get(TEST_DSN_ENV)
    if existing:
        server = PgServer(existing, prefix)
        try:
            yield server
        finally:
            server.drop_databases()
        return
    bindir = find_bindir()
    if bindir is None:
        pytest.skip(
            f"PostgreSQL binaries not found (apt-get install postgresql) and {TEST_DSN_ENV} "
            "is not set"
        )
    if os.geteuid() == 0 and not _has_user("postgres"):
        pytest.skip("running as root and there is no `postgres` user to run initdb as")
    with local_server(bindir) as admin_dsn:
        yield PgServer(admin_dsn, prefix)


def find_bindir() -> Path | None:
    """The folder of ``initdb`` and ``pg_ctl``: newest Debian package, pg_config, or the PATH."""
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4])
    )
    if candidates:
        return Path(candidates[-1]).parent
    if shutil.which("pg_config"):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=False)
        if out.returncode == 0 and (Path(out.stdout.strip()) / "initdb").is_file():
            return Path(out.stdout.strip())
    found = shutil.which("initdb")
    return Path(found).parent if found else None


@contextlib.contextmanager
def local_server(bindir: Path, *, settings: str = _SERVER_SETTINGS) -> Iterator[str]:
    """Run a throwaway server (as ``postgres`` when root); yield a superuser DSN; delete it."""
    as_root = os.geteuid() == 0
    # not under pytest's tmp_path: that is private to root, and the server runs as postgres
    base = Path(tempfile.mkdtemp(prefix="auterity-lab-pg-"))
    if as_root:
        owner = pwd.getpwnam("postgres")
        os.chown(base, owner.pw_uid, owner.pw_gid)
    data, log = base / "data", base / "server.log"

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        cmd = [str(bindir / args[0]), *args[1:]]
        if as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=120)

    try:
        init = run(
            "initdb",
            "-D",
            str(data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )
        if init.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{init.stdout}\n{init.stderr}")
        for _attempt in range(5):
            port = _free_port()
            start = run(
                "pg_ctl",
                "-D",
                str(data),
                "-l",
                str(log),
                "-w",
                "-t",
                "60",
                "-o",
                f"-p {port} -k {base} {settings}",
                "start",
            )
            if start.returncode == 0:
                break
        else:
            raise RuntimeError(f"pg_ctl start failed:\n{start.stderr}\n{log.read_text()}")
        try:
            yield f"host=127.0.0.1 port={port} user=postgres dbname=postgres"
        finally:
            run("pg_ctl", "-D", str(data), "-m", "immediate", "-w", "stop")
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def seeded_dsn(pg_server: PgServer, demo_dir: Path) -> str:
    """A database holding the session's demo data in the three systems' source tables."""
    from auterity_lab.config import Settings
    from auterity_lab.pgseed import seed_postgres

    dsn = pg_server.create_database("demo")
    seed_postgres(demo_dir, settings=Settings(postgres_dsn=dsn))
    return dsn
