"""Helpers shared by the tests/test_ml_*.py files (no tests here): hand-made rows, raw reads."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from auterity_lab.synth import generate_demo
from auterity_lab.warehouse import Workbench

from .builders import build_data_dir
from .test_warehouse import _raw

TENANT = "t1"
DATA = Path(__file__).parent / "data" / "ml"


def uid(n: int) -> str:
    """A readable, stable UUID for hand-written rows: ``uid(7)`` → ``...0007``."""
    return str(uuid.UUID(int=n))


def output(model: str, at: str, **kw: Any) -> dict[str, Any]:
    """One prompt_outputs row of the test tenant (status success unless given)."""
    return {"tenant_id": TENANT, "model_id": model, "created_at": at, "status": "success", **kw}


def open_rows(tmp_path: Path, rows: dict[str, list[dict[str, Any]]]) -> Workbench:
    """A workbench over a data dir built from hand-written rows of the test tenant."""
    return Workbench.open(build_data_dir(tmp_path, rows), tenant=TENANT)


@pytest.fixture
def raw_outputs(demo_dir: Path) -> Iterator[pd.DataFrame]:
    """acme's prompt outputs read straight from the Parquet files, ratings as float."""
    frame = _raw(demo_dir, "prompt_outputs", "acme")
    frame["user_rating"] = frame["user_rating"].astype(float)
    yield frame


@pytest.fixture(scope="session")
def big_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One tenant (acme) at scale 0.3: enough ratings per model for the planted effects to be
    detectable with the default thresholds (the shared demo has ~150 ratings per model)."""
    d = tmp_path_factory.mktemp("ml_big_demo")
    generate_demo(d, tenants=1, days=120, scale=0.3, seed=7)
    return d


@pytest.fixture
def big_wb(big_demo: Path) -> Iterator[Workbench]:
    with Workbench.open(big_demo, tenant="acme") as bench:
        yield bench


def window(frame: pd.DataFrame, start: str, end: str, col: str = "created_at") -> pd.DataFrame:
    t = frame[col]
    return frame[(t >= pd.Timestamp(start, tz="UTC")) & (t < pd.Timestamp(end, tz="UTC"))]
