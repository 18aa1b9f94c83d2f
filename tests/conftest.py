"""Shared fixtures: one small demo data directory per test session (per xdist worker)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from auterity_lab.synth import generate_demo
from auterity_lab.warehouse import Workbench

pytest_plugins = ["tests.postgres_server"]

DEMO_TENANTS = ("acme", "globex", "initech")
DEMO_KW = {"tenants": 3, "days": 120, "scale": 0.05, "seed": 7}


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Demo extracts: 3 tenants, 120 days ending 2026-11-01, about 5k sessions."""
    d = tmp_path_factory.mktemp("demo")
    generate_demo(d, **DEMO_KW)
    return d


@pytest.fixture
def wb(demo_dir: Path) -> Iterator[Workbench]:
    with Workbench.open(demo_dir, tenant="acme") as bench:
        yield bench
