"""Hand-worked data of the business tests (``tests/data/business/*.yaml``) and their loader.

The YAML files name users (``name: u1``) and refer to them (``user: u1``); the loader turns the
names into UUIDs and hands the rows to :func:`tests.builders.build_data_dir`. Other
``test_business_*`` modules import the fixtures from here.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml

from auterity_lab.queries import load_query
from auterity_lab.warehouse import Workbench

from .builders import build_data_dir

DATA = Path(__file__).parent / "data" / "business"
_TIMESTAMPS = {"created_at", "start_time", "end_time", "started_at", "finished_at"}
_NAMESPACE = uuid.UUID("6f1c3c1e-4a43-4c53-9b7e-6b1d7f0e2a10")


def user_id(name: str) -> str:
    """The UUID a YAML file's user name stands for."""
    return str(uuid.uuid5(_NAMESPACE, name))


def load_rows(name: str) -> dict[str, list[dict[str, Any]]]:
    """Rows per table of ``tests/data/business/<name>.yaml``, user names resolved."""
    raw = yaml.safe_load((DATA / f"{name}.yaml").read_text())
    tables: dict[str, list[dict[str, Any]]] = {}
    for table, rows in raw.items():
        out = []
        for row in rows:
            row = dict(row)
            if "name" in row:
                row["id"] = user_id(row.pop("name"))
            if "user" in row:
                row["user_id"] = user_id(row.pop("user"))
            for key in _TIMESTAMPS & row.keys():
                row[key] = pd.Timestamp(row[key], tz="UTC")
            out.append(row)
        tables[table] = out
    return tables


def build(factory: pytest.TempPathFactory, name: str) -> Path:
    """``<name>.yaml`` as a data directory, built once per test session (per xdist worker)."""
    target = factory.getbasetemp() / f"business-{name}"
    if not (target / "manifest.json").is_file():
        build_data_dir(target, load_rows(name))
    return target


@pytest.fixture(scope="module")
def hand_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``business.yaml`` as a data directory (tenants t1 and t2)."""
    return build(tmp_path_factory, "business")


@pytest.fixture
def hand(hand_dir: Path) -> Iterator[Workbench]:
    with Workbench.open(hand_dir, tenant="t1") as bench:
        yield bench


@pytest.fixture
def nothing(hand_dir: Path) -> Iterator[Workbench]:
    """Tenant t2: known (it has a RelayCore row) but without any Auterity data."""
    with Workbench.open(hand_dir, tenant="t2") as bench:
        yield bench


def raw(data_dir: Path, table: str, tenant: str) -> pd.DataFrame:
    """A table's rows for one tenant, read with pyarrow straight from the Parquet files."""
    return _raw(data_dir, table, tenant).copy()  # copy-on-write: callers cannot touch the cache


@functools.lru_cache(maxsize=32)
def _raw(data_dir: Path, table: str, tenant: str) -> pd.DataFrame:
    files = sorted((data_dir / "extracts").glob(f"*/{table}/date=*/*.parquet"))
    frame = pd.concat([pq.read_table(f).to_pandas() for f in files], ignore_index=True)
    frame = frame[frame["tenant_id"] == tenant].reset_index(drop=True)
    for col in ("id", "user_id"):
        if col in frame:
            frame[col] = frame[col].map(
                lambda v: (
                    None
                    if v is None
                    else str(uuid.UUID(bytes=v))
                    if isinstance(v, bytes)
                    else str(v)
                )
            )
    return frame


def window(frame: pd.DataFrame, start: str, end: str, col: str = "created_at") -> pd.DataFrame:
    t = frame[col]
    return frame[(t >= pd.Timestamp(start, tz="UTC")) & (t < pd.Timestamp(end, tz="UTC"))]


def declared_columns(query: str) -> list[str]:
    """Column names from the ``-- columns:`` header of ``queries/<query>.sql``."""
    lines = load_query(query).sql.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("-- columns:"))
    spec = lines[first].split(":", 1)[1]
    for line in lines[first + 1 :]:
        if not line.startswith("--   "):
            break
        spec += "," + line[2:]
    return [part.split()[0] for part in spec.split(",") if part.strip()]


def test_hand_data_loads_as_written(hand: Workbench, nothing: Workbench) -> None:
    counts = (
        hand.sql(
            "SELECT (SELECT count(*) FROM users) AS u, (SELECT count(*) FROM user_sessions) AS s, "
            "(SELECT count(*) FROM events) AS e, "
            "(SELECT count(*) FROM performance_metrics) AS p"
        )
        .iloc[0]
        .tolist()
    )
    assert counts == [5, 11, 18, 7]
    assert nothing.sql("SELECT count(*) AS n FROM users")["n"].iloc[0] == 0
    u1 = hand.sql(
        "SELECT CAST(id AS VARCHAR) AS id FROM users WHERE country = 'DE' AND plan = 'pro'"
    )["id"].tolist()
    assert u1 == [user_id("u1")]
