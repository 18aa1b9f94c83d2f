"""Every notebook runs under papermill; notebooks are committed without outputs; reports render."""

from __future__ import annotations

import json
import re
from pathlib import Path

import papermill
import pytest

from auterity_lab import overview
from auterity_lab.catalog import load_catalog
from auterity_lab.config import packaged_dir
from auterity_lab.errors import ReportError
from auterity_lab.reports import run_report
from auterity_lab.warehouse import Workbench

NOTEBOOKS = sorted(packaged_dir("notebooks").rglob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebooks_are_committed_without_outputs(path: Path) -> None:
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_has_a_parameters_cell(path: Path) -> None:
    params = papermill.inspect_notebook(str(path))
    assert {"data_dir", "tenant"} <= set(params), path.name


# a DSN with a password and an HMAC key in every notebook's environment: no output may hold them
SECRETS = {
    "AUTERITY_LAB_AUTERITY_DSN": "postgresql://analyst:Nb-S3cret-pw-42@db.internal:5432/auterity",
    "AUTERITY_LAB_HMAC_KEY": "nb-hmac-key-5e4d3c2b1a09",
}
_SECRET_VALUES = ("Nb-S3cret-pw-42", SECRETS["AUTERITY_LAB_HMAC_KEY"])


@pytest.mark.notebook
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_executes(
    path: Path, demo_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every notebook runs as the report the catalog makes of it (papermill, then HTML, tables
    and run.json), with secrets in its environment, and none of them reaches any file written."""
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    catalog = load_catalog()
    (spec,) = [s for s in catalog if s.notebook.resolve() == path.resolve()]
    run = run_report(
        spec.name,
        {"tenant": "globex"},
        tmp_path,
        data_dir=demo_dir,
        formats=["html", "csv", "json"],
        catalog=catalog,
    )
    assert run.status == "succeeded" and run.html.is_file()
    for produced in tmp_path.rglob("*"):
        if produced.is_file():
            blob = produced.read_bytes()
            assert not any(secret.encode() in blob for secret in _SECRET_VALUES), produced


@pytest.mark.notebook
def test_overview_report_html_has_charts_and_numbers(demo_dir: Path, tmp_path: Path) -> None:
    params = {
        "data_dir": str(demo_dir),
        "tenant": "initech",
        "start": "2026-09-01",
        "end": "2026-10-01",
    }
    run = run_report("overview", params, tmp_path)
    html = run.html.read_text()
    assert html.count('class="plotly-graph-div"') >= 2  # KPI cards and trends, embedded
    assert "Plotly.newPlot" in html
    assert not re.search(r"<script[^>]+src=[\"']https?://", html), (
        "charts must not need the network"
    )
    with Workbench.open(demo_dir, tenant="initech") as wb:
        sessions = overview.headline_kpis(wb, start="2026-09-01", end="2026-10-01")
    n = int(sessions.set_index("metric").loc["sessions", "value"])
    assert re.search(rf"\b{n:,}\b", html), "headline session count missing from the HTML table"
    record = json.loads((run.run_dir / "run.json").read_text())
    assert record["status"] == "succeeded" and record["parameters"]["tenant"] == "initech"
    assert record["manifest_fingerprint"]


def test_report_rejects_unknown_report_and_parameter(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="no report named 'nope'"):
        run_report("nope", {}, tmp_path)
    with pytest.raises(ReportError, match="has no parameter colour"):
        run_report("overview", {"colour": "red"}, tmp_path)
    assert not any(tmp_path.iterdir())


@pytest.mark.notebook
def test_failed_report_records_the_error(demo_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="UnknownTenantError"):
        run_report("overview", {"data_dir": str(demo_dir), "tenant": "nobody"}, tmp_path)
    (record,) = [json.loads(p.read_text()) for p in tmp_path.rglob("run.json")]
    assert record["status"] == "failed" and "nobody" in record["error"]
