"""The wheel ships the SQL and notebooks; the layers of the package only point one way."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_wheel_contains_queries_and_notebooks(tmp_path: Path) -> None:
    src = tmp_path / "src"
    top_level_skip = {".venv", ".git", "data", "reports", "benchmarks"}
    shutil.copytree(
        ROOT,
        src,
        ignore=lambda d, names: [
            n
            for n in names
            if (Path(d) == ROOT and n in top_level_skip)
            or n.endswith(".egg-info")
            or n == "__pycache__"
        ],
    )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path / "dist"),
            str(src),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    for sql in (ROOT / "queries").rglob("*.sql"):
        assert f"auterity_lab/queries/{sql.relative_to(ROOT / 'queries')}" in names
    for nb in (ROOT / "notebooks").rglob("*.ipynb"):
        assert f"auterity_lab/notebooks/{nb.relative_to(ROOT / 'notebooks')}" in names


def test_import_layers() -> None:
    exe = Path(sys.executable).with_name("lint-imports")
    proc = subprocess.run(
        [str(exe)], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
