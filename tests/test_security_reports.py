"""Reports: reports:run and the tenant are checked, runs are audited, small counts suppressed."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from auterity_lab.audit import AuditLog
from auterity_lab.catalog import ReportParameterError, load_catalog
from auterity_lab.config import Settings
from auterity_lab.errors import AccessDeniedError
from auterity_lab.reports import SUPPRESS_K_ENV, _suppressed, run_grid, run_report
from auterity_lab.security import SecurityContext, acting_as

PARAMETERS = 'tenant = "acme"\n'
BODY = """\
import pandas as pd
from auterity_lab.reports import show_table
segments = pd.DataFrame({"plan": ["free", "pro", "team", "enterprise"],
                         "users": [120, 30, 2, 9], "revenue": [0.0, 900.0, 80.0, 700.0]})
show_table("segments", segments, title="Users by plan")
show_table("latency", pd.DataFrame({"endpoint": ["/a"], "p95_ms": [3.0]}))
"""
CATALOG = """\
reports:
  shared:
    notebook: shared.ipynb
    title: Shared
    parameters:
      tenant: {type: VARCHAR, required: true}
    formats: [html, csv, json]
    retries: 0
    timeout_s: 120
  everyone:
    notebook: shared.ipynb
    title: Across tenants
    parameters: {}
    formats: [csv]
    retries: 0
    timeout_s: 120
"""


@pytest.fixture
def catalog(tmp_path: Path):
    folder = tmp_path / "catalog"
    folder.mkdir()
    nb = new_notebook()
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    params = new_code_cell(PARAMETERS)
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, new_code_cell(BODY)]
    for i, cell in enumerate(nb.cells):
        cell.id = f"c{i}"
    nbformat.write(nb, folder / "shared.ipynb")
    (folder / "reports.yml").write_text(CATALOG, encoding="utf-8")
    return load_catalog(folder / "reports.yml")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(audit_log=tmp_path / "audit.jsonl", data_dir=tmp_path / "data")


VIEWER = SecurityContext("vic", "acme", roles=frozenset({"viewer"}))
ANALYST = SecurityContext("ana", "acme", roles=frozenset({"analyst"}))


def test_permission_and_tenant_are_checked_before_anything_is_written(
    catalog, settings, tmp_path
):
    out = tmp_path / "out"
    cases = [
        (VIEWER, "shared", {"tenant": "acme"}, "reports:run"),
        (ANALYST, "shared", {"tenant": "globex"}, "bound to tenant 'acme'"),
        (ANALYST, "everyone", {}, "spans tenants"),
    ]
    for ctx, name, params, message in cases:
        with pytest.raises(AccessDeniedError, match=message):
            run_report(name, params, out, catalog=catalog, settings=settings, context=ctx)
    with acting_as(ANALYST), pytest.raises(AccessDeniedError, match="bound to tenant"):
        run_grid(
            "shared", {"tenant": ["acme", "globex"]}, out_dir=out, catalog=catalog,
            settings=settings,
        )  # fmt: skip
    assert not out.exists()
    entries = AuditLog(settings.audit_log).entries()
    assert [(e["user"], e["action"], e["outcome"]) for e in entries] == [
        ("vic", "report.run", "denied"),
        ("ana", "report.run", "denied"),
        ("ana", "report.run", "denied"),
        ("ana", "report.run", "denied"),
    ]  # the grid is refused as a whole, before its first (allowed) combination runs


@pytest.mark.parametrize("k", [1, 0, -3, True, "5"])
def test_bad_suppress_k(catalog, settings, tmp_path, k):
    with pytest.raises(ReportParameterError, match="suppress_k"):
        run_report("shared", {"tenant": "acme"}, tmp_path / "out", catalog=catalog,
                   settings=settings, suppress_k=k)  # fmt: skip
    assert not (tmp_path / "out").exists()


def test_suppressed_run_blanks_small_rows_in_every_output(catalog, settings, tmp_path):
    run = run_report(
        "shared", {"tenant": "acme"}, tmp_path / "out", catalog=catalog, settings=settings,
        suppress_k=5, context=ANALYST,
    )  # fmt: skip
    # team (2 users) is under 5; alone it could be recovered from a total, so the next
    # smallest row (enterprise, 9) is suppressed too
    csv = pd.read_csv(run.run_dir / "tables" / "segments.csv", dtype=str)
    assert csv["users"].tolist() == ["120", "30", "<5", "<5"]
    assert csv["revenue"].tolist() == ["0.0", "900.0", "<5", "<5"]
    assert csv["plan"].tolist() == ["free", "pro", "team", "enterprise"]
    records = json.loads((run.run_dir / "tables" / "segments.json").read_text())
    assert [r["users"] for r in records] == [120, 30, "<5", "<5"]
    latency = pd.read_csv(run.run_dir / "tables" / "latency.csv")
    assert latency["p95_ms"].tolist() == [3.0]  # no user count: nothing to suppress
    html = run.html.read_text()
    assert html.count("&lt;5") == 4 and ">80<" not in html and ">700<" not in html
    assert json.loads((run.run_dir / "run.json").read_text())["suppress_k"] == 5
    (entry,) = AuditLog(settings.audit_log).entries()
    assert (entry["user"], entry["action"], entry["outcome"], entry["rows"]) == (
        "ana", "report.run", "ok", 5,
    )  # fmt: skip
    assert entry["tenant"] == "acme" and "suppress_k=5" in entry["detail"]


def test_show_table_suppression_keeps_the_display_aligned(monkeypatch):
    frame = pd.DataFrame({"model": ["a", "b", "c"], "unique_users": [40, 3, 12]})
    display = pd.DataFrame({"model": ["a", "b", "c"], "unique_users": ["40", "3", "12"]})
    monkeypatch.setenv(SUPPRESS_K_ENV, "4")
    data, shown = _suppressed(frame, display)
    assert data["unique_users"].tolist() == [40, "<4", "<4"]
    assert shown["unique_users"].tolist() == ["40", "<4", "<4"]
    monkeypatch.delenv(SUPPRESS_K_ENV)
    data, shown = _suppressed(frame, display)
    assert data is frame and shown is display
