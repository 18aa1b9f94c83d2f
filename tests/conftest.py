"""Shared fixtures: one small demo data directory per test session (per xdist worker)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from auterity_lab import rollups
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


@pytest.fixture(scope="session")
def demo_rolled(demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the demo extracts with every rollup built (read it, do not change it)."""
    target = tmp_path_factory.mktemp("demo_rolled") / "demo"
    shutil.copytree(demo_dir, target, ignore=shutil.ignore_patterns("rollups", ".*lock*"))
    rollups.build_rollups(target)
    return target


@pytest.fixture
def forms_run(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the rollup forms that answered (``rollups.query``), in order."""
    ran: list[str] = []
    original = rollups.query

    def recording(wb: Workbench, name: str, /, **params: Any) -> Any:
        ran.append(name)
        return original(wb, name, **params)

    monkeypatch.setattr(rollups, "query", recording)
    return ran
